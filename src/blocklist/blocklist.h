/* blocklist.h — the blocklist store (SQLite, WAL), its in-memory index, the RFC 5782 query
 * handler and `relayguard list` / `relayguard dnsbl`. The scanner, delisting flow and web page
 * write and read the store through this header only. */
#ifndef RG_BLOCKLIST_H
#define RG_BLOCKLIST_H

#include "../util/util.h"

#include <stddef.h>
#include <stdint.h>

#define BLOCKLIST_CODE_OPEN_RELAY 2 /* 127.0.0.2: open relay (the scanner, default) */
#define BLOCKLIST_CODE_MIN 2
#define BLOCKLIST_CODE_MAX 254
#define BLOCKLIST_TXT_MAX 256 /* one DNS character-string (255) + NUL */
#define BLOCKLIST_WHO_MAX 128
#define BLOCKLIST_NET_MAX 64 /* "ffff:...:ffff/128" */

enum blocklist_state { BLOCKLIST_LISTED, BLOCKLIST_DELISTED, BLOCKLIST_EXPIRED };

/* What a scan found (all borrowed for the duration of the call). */
struct blocklist_evidence {
	const char *const *tests; /* ids of the battery tests that relayed */
	size_t n_tests;
	unsigned depth;		/* how far the relay went (RCPT accepted, DATA accepted, …) */
	const char *transcript; /* the SMTP dialogue */
	int64_t time;		/* when the scan ran (unix seconds) */
	const char *scanner;	/* the scanner's source address */
};

struct blocklist_entry {
	struct cidr net;
	char net_text[BLOCKLIST_NET_MAX]; /* canonical, "192.0.2.1/32" */
	unsigned code;			  /* the answer is 127.0.0.code */
	char txt[BLOCKLIST_TXT_MAX];	  /* the reason, as served in TXT */
	int64_t first_seen, last_seen;	  /* first and latest listing */
	int64_t last_clean;		  /* latest clean scan of the network, 0 = never */
	enum blocklist_state state;
	char *evidence; /* JSON object or NULL; owned, freed by blocklist_entry_clear */
};

struct blocklist_change {
	int64_t time;
	enum blocklist_state state;
	char who[BLOCKLIST_WHO_MAX];
	char why[BLOCKLIST_TXT_MAX];
};

struct blocklist; /* one SQLite connection: use it from one thread at a time */

/* Open (creating it and its directory when missing, WAL, schema version checked) the store at
 * path. 0 and *out (blocklist_close), or -1 with err. */
int blocklist_open(const char *path, struct blocklist **out, char *err, size_t errlen);
void blocklist_close(struct blocklist *b);

/* List net (or update its listing: code, txt, last_seen; evidence replaced when ev is given)
 * and record the change (who, why) in its history. code in BLOCKLIST_CODE_MIN..MAX, txt
 * non-empty. 0 or -1 with err. */
int blocklist_list(struct blocklist *b, const struct cidr *net, unsigned code, const char *txt,
		   const struct blocklist_evidence *ev, const char *who, const char *why,
		   int64_t now, char *err, size_t errlen);
/* Take net off the list: state (BLOCKLIST_DELISTED or BLOCKLIST_EXPIRED) with history.
 * 0, 1 when net is not listed (nothing changed), -1 with err. */
int blocklist_delist(struct blocklist *b, const struct cidr *net, enum blocklist_state state,
		     const char *who, const char *why, int64_t now, char *err, size_t errlen);
/* A scan found addr clean: remembered (scans table; last_clean of its entry, if any). */
int blocklist_record_clean(struct blocklist *b, const uint8_t addr[16], const char *scanner,
			   int64_t now, char *err, size_t errlen);
/* The latest clean scan of addr (0 = never). 0 or -1. */
int blocklist_last_clean(struct blocklist *b, const uint8_t addr[16], int64_t *when);

/* The latest scan of addr that gave a result: its clean scan or the last listing of its host
 * entry, whichever is later (0 = never). 0 or -1. */
int blocklist_last_scan(struct blocklist *b, const uint8_t addr[16], int64_t *when);
/* A delisting request for addr by requester (table delist_requests): allowed, and recorded,
 * when none was allowed in the last interval seconds: 0; 1 when rate-limited (*next: when the
 * next one is allowed); -1 with err. */
int blocklist_delist_request(struct blocklist *b, const uint8_t addr[16], const char *requester,
			     int64_t now, int64_t interval, int64_t *next, char *err,
			     size_t errlen);

/* The entry for exactly net (any state): 0 and *e (blocklist_entry_clear), 1 none, -1 error. */
int blocklist_get(struct blocklist *b, const struct cidr *net, struct blocklist_entry *e);
/* The most specific *listed* entry containing addr: same returns. */
int blocklist_lookup(struct blocklist *b, const uint8_t addr[16], struct blocklist_entry *e);
void blocklist_entry_clear(struct blocklist_entry *e);

/* Every entry (listed_only: state listed), in no particular order; fn returns non-zero to
 * stop (that value is returned). e is valid during the call only. 0, stop value, or -1. */
typedef int (*blocklist_entry_fn)(void *arg, const struct blocklist_entry *e);
int blocklist_foreach(struct blocklist *b, int listed_only, blocklist_entry_fn fn, void *arg);
/* The history of net, oldest first. */
typedef int (*blocklist_change_fn)(void *arg, const struct blocklist_change *c);
int blocklist_history(struct blocklist *b, const struct cidr *net, blocklist_change_fn fn,
		      void *arg);
/* PRAGMA data_version: changes when another connection committed. 0 or -1. */
int blocklist_data_version(struct blocklist *b, int64_t *v);

const char *blocklist_state_name(enum blocklist_state s);

/* ---- the in-memory index the DNS server answers from (no SQLite on the query path) ---- */
struct blocklist_index;
/* An empty index holding only the RFC 5782 test entry (127.0.0.2 = ::ffff:7f00:2). */
struct blocklist_index *blocklist_index_new(void);
/* Add a prefix (copied). 0 or -1 (allocation). Call blocklist_index_finish before lookups. */
int blocklist_index_add(struct blocklist_index *x, const struct cidr *net, unsigned code,
			const char *txt);
/* Build the lookup table (again after more adds). 0, or -1 (allocation: lookups find nothing). */
int blocklist_index_finish(struct blocklist_index *x);
/* Build from every listed entry of the store. NULL on error (err set). */
struct blocklist_index *blocklist_index_load(struct blocklist *b, char *err, size_t errlen);
/* The most specific prefix holding addr: 1 with *code and *txt (owned by x), or 0; O(number of
 * distinct prefix lengths), not of the number of entries. Never lists
 * the RFC 5782 "not listed" test address 127.0.0.1. Pure, thread-safe on a finished index. */
int blocklist_index_lookup(const struct blocklist_index *x, const uint8_t addr[16], unsigned *code,
			   const char **txt);
size_t blocklist_index_size(const struct blocklist_index *x);
void blocklist_index_free(struct blocklist_index *x);

/* ---- names and queries (pure) ---- */
/* The address a DNSBL query name relative to the zone stands for: "2.0.0.127" (reversed IPv4
 * octets) or 32 reversed hex nibbles. Case-insensitive, no trailing dot. 0 or -1. */
int blocklist_name_parse(const char *rel, uint8_t addr[16]);
/* The reversed name of addr (IPv4-mapped → 4 octets, else 32 nibbles) into out. */
void blocklist_name_format(const uint8_t addr[16], char *out, size_t outlen);

/* The zone's names in wire form, built once by blocklist_zone_prepare: the query path copies
 * them (SOA MNAME+RNAME, NS) instead of converting text per answer. */
struct blocklist_zone_wire {
	uint8_t apex[255], ns[255], soa_names[510];
	size_t apex_len, apex_labels, ns_len, soa_names_len;
};

struct blocklist_zone {
	const char *zone;	/* "bl.example.org", lower case, no trailing dot */
	const char *ns;		/* the name server of the apex NS and SOA MNAME */
	const char *hostmaster; /* SOA RNAME, "hostmaster.bl.example.org" */
	const char *url;	/* TXT evidence link prefix (the IP is appended), or NULL */
	uint32_t ttl;		/* of answers, and the SOA minimum (negative answers) */
	uint32_t serial;	/* SOA serial (may change between answers) */
	struct blocklist_zone_wire wire; /* blocklist_zone_prepare */
};
/* Fill z->wire from zone, ns and hostmaster (call again if they change). 0, or -1 when a name
 * is not a valid DNS name (the query handler then drops everything). */
int blocklist_zone_prepare(struct blocklist_zone *z);
#define BLOCKLIST_UDP_MAX 512	/* a UDP answer without EDNS */
#define BLOCKLIST_EDNS_MAX 1232 /* the largest UDP answer we send with EDNS (DNS flag day) */
#define BLOCKLIST_MSG_MAX 65535 /* a TCP message */
/* Answer the DNS message in[0..len) into out (cap bytes, at least BLOCKLIST_MSG_MAX for tcp)
 * for the prepared zone z. tcp: no size limit beyond 65535; else TC when the answer exceeds
 * 512 (or the EDNS size, at most BLOCKLIST_EDNS_MAX). Malformed queries get FORMERR (header
 * only), other opcodes NOTIMPL. Returns the answer's length, or 0 to drop (shorter than a
 * header, a response, z not prepared). Pure: no allocation, no I/O (src/blocklist/wire.c). */
size_t blocklist_query_answer(const struct blocklist_zone *z, const struct blocklist_index *x,
			      const uint8_t *in, size_t len, uint8_t *out, size_t cap, int tcp);

/* ---- response-rate limiting (rrl.c): per client network; pure, the clock is an argument ---- */
#define BLOCKLIST_RRL_SLOTS 16384 /* networks tracked at once: a fixed table, never grows */
struct blocklist_rrl_conf {
	unsigned rate;	    /* answers per second per network (one second of burst); 0 = off */
	unsigned slip;	    /* every slip-th limited answer is sent truncated (TC); 0 = never */
	unsigned v4_prefix; /* the client network: IPv4 /v4_prefix, */
	unsigned v6_prefix; /* IPv6 /v6_prefix */
};
enum blocklist_rrl_verdict { BLOCKLIST_RRL_SEND, BLOCKLIST_RRL_DROP, BLOCKLIST_RRL_SLIP };
struct blocklist_rrl_stats {
	uint64_t sent, dropped, slipped;
	uint64_t evicted; /* buckets replaced by another network (a full table: many sources) */
};
struct blocklist_rrl;
/* seed keys the table's hash (random in the server). NULL when out of memory. */
struct blocklist_rrl *blocklist_rrl_new(const struct blocklist_rrl_conf *c, uint64_t seed);
/* May an answer go to addr (16 bytes, IPv4-mapped) at now_ms (a monotonic clock)? */
enum blocklist_rrl_verdict blocklist_rrl_check(struct blocklist_rrl *r, const uint8_t addr[16],
					       uint64_t now_ms);
void blocklist_rrl_stats(const struct blocklist_rrl *r, struct blocklist_rrl_stats *out);
void blocklist_rrl_free(struct blocklist_rrl *r);
/* The truncated form (TC, no records) of the answer ans[0..len) in place: its new length, or 0
 * when ans is no answer the handler wrote. */
size_t blocklist_answer_truncate(uint8_t *ans, size_t len);

/* ---- the DNS server's counters (blocklist-metrics-listen) ---- */
enum blocklist_transport { BLOCKLIST_UDP, BLOCKLIST_TCP, BLOCKLIST_TRANSPORTS };
struct blocklist_dns_metrics {
	uint64_t queries[BLOCKLIST_TRANSPORTS]; /* messages read */
	uint64_t ignored;		      /* read but not answered: no query (too short, QR) */
	uint64_t rcodes[16];		      /* answers made, by RCODE (before the limiter) */
	uint64_t tcp_refused;		      /* connections closed at once: too many open */
	uint64_t tcp_open;		      /* gauge */
	uint64_t index_loads, index_failures; /* index (re)builds from the store */
	uint64_t entries;		      /* gauge: entries in the index */
	uint64_t serial;		      /* gauge: the zone's SOA serial */
	int rrl_on;			      /* blocklist-rate-limit is on: rrl is meaningful */
	struct blocklist_rrl_stats rrl;
};
/* m in the Prometheus text format (relayguard_blocklist_*) into buf, snprintf-style: the length
 * of the whole text (buf gets what fits, NUL-terminated when len > 0). Pure. */
size_t blocklist_metrics_format(const struct blocklist_dns_metrics *m, char *buf, size_t len);

/* ---- exports (written to PATH.tmp, fsync, rename) ---- */
/* rbldnsd data: an ip4set file (path) and an ip6trie file (path6); the test entries included. */
int blocklist_export_rbldnsd(struct blocklist *b, const char *path, const char *path6,
			     const char *url, char *err, size_t errlen);
/* A BIND master file for z (SOA, NS, test entries, every listed prefix; prefixes not on an
 * octet/nibble boundary expand to wildcards). */
int blocklist_export_bind(struct blocklist *b, const struct blocklist_zone *z, const char *path,
			  char *err, size_t errlen);
/* The TXT text served for a listed addr: "REASON; URL<ip>" (or REASON alone without url). */
void blocklist_txt_compose(const char *reason, const char *url, const char *ip, char *out,
			   size_t outlen);

/* ---- commands ---- */
struct conf;
struct conf_listen;
/* What runs beside the DNS server (the scanner's rescan thread): started is called once the
 * sockets are bound and, started as root, root is dropped (src/privdrop: the store given to
 * the `user`), before the loop runs; 0, or -1 with err set to stop the server. */
struct blocklist_dnsbl_hook {
	int (*started)(void *arg, char *err, size_t errlen);
	void *arg;
};
/* Serve c's blocklist-zone from the store at db_path on l until SIGINT/SIGTERM; hook may be
 * NULL. Started as root: runs as c->run_user once l is bound. 0 or -1 (err). */
int blocklist_dnsbl_run(const struct conf *c, const char *db_path, const struct conf_listen *l,
			const struct blocklist_dnsbl_hook *hook, char *err, size_t errlen);
int blocklist_list_cli(int argc, char **argv, const char *default_conf);
/* `relayguard dnsbl [-c FILE]`; hook as for blocklist_dnsbl_run (NULL: none). */
int blocklist_dnsbl_cli(int argc, char **argv, const char *default_conf,
			const struct blocklist_dnsbl_hook *hook);

#endif
