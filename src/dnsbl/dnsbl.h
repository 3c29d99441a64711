/* dnsbl.h — the DNSBL/DNSWL client (RFC 5782): the client's address looked up in every
 * configured list at connect time, answers classified (error answers are never a listing),
 * weighted into one verdict at RCPT time; list health tested per RFC 5782 §5.
 * The pure parts (query names, classification, scoring, the cache) come first; the engine
 * below them runs the lookups on c-ares in the libevent loop (src/dns). */
#ifndef RG_DNSBL_H
#define RG_DNSBL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../conf/conf.h"
#include "../dns/dns.h"
#include "../util/metrics.h"

struct event_base;

#define DNSBL_TXT_MAX 200   /* a TXT reason as it may appear in a reply (cleaned, cut) */
#define DNSBL_TTL_MIN 60    /* cached answers live at least this long (s) ... */
#define DNSBL_TTL_MAX 3600  /* ... and at most this long */
#define DNSBL_REPLY_MAX 511 /* a reply line: 510 octets + CRLF (RFC 5321 4.5.3.1.5), + NUL */
#define DNSBL_RULE_MAX 264  /* "dnsbl:" + a zone */
#define DNSBL_NAME_MAX 256  /* a query name: 64 nibble octets + a zone of at most 200 */

/* ---- pure ---- */

/* The query name of addr (16 bytes, IPv4-mapped for IPv4) in zone: IPv4 reversed octets
 * ("2.0.0.127.zone"), IPv6 32 reversed nibbles. 0, or -1 when it does not fit. */
int dnsbl_query_name(const uint8_t addr[16], const char *zone, char *out, size_t outlen);

/* The IPv6 form (32 nibbles) whatever addr holds: the IPv6 health test asks ::FFFF:7F00:2. */
int dnsbl_query_name6(const uint8_t addr[16], const char *zone, char *out, size_t outlen);

/* 1 when addr is IPv4-mapped. */
int dnsbl_addr_is_v4(const uint8_t addr[16]);

enum dnsbl_answer {
	DNSBL_NOT_LISTED, /* NXDOMAIN/NODATA, or codes that the list's filter does not take */
	DNSBL_LISTED,	  /* a 127.0.0.0/8 code the filter takes */
	DNSBL_ERROR,	  /* SERVFAIL, timeout, an answer outside 127.0.0.0/8 or in the error
			     range 127.255.255.0/24: never a listing */
};

/* Classify the A answer of a lookup in list. codes may be NULL/0 (any non-error code lists).
 * *code gets the first code that lists (or the offending one on error); why (may be NULL) a
 * short reason for logs on error. */
enum dnsbl_answer dnsbl_classify(const struct dns_rr_result *res,
				 const struct conf_dnsbl_codes *codes, size_t n_codes,
				 uint32_t *code, char *why, size_t whylen);

/* A TXT record as it may appear in an SMTP reply and a log: printable ASCII only (others
 * become '?'), runs of spaces folded, cut at DNSBL_TXT_MAX - 1 bytes. */
void dnsbl_txt_clean(const char *in, char *out, size_t outlen);

/* What one list said about the client, as the verdict sees it. */
enum dnsbl_state {
	DNSBL_S_PENDING, /* lookup running */
	DNSBL_S_DONE,	 /* answer in .answer */
	DNSBL_S_SKIPPED, /* not asked: the list does not do IPv6, or is suspended */
};
struct dnsbl_outcome {
	const struct conf_dnsbl *list; /* borrowed from the session's conf */
	enum dnsbl_state state;
	enum dnsbl_answer answer;
	uint32_t code;
	char txt[DNSBL_TXT_MAX]; /* cleaned, "" when none */
	int suspended; /* the list is suspended for this family now: not used in the score */
};

struct dnsbl_verdict {
	int score;		      /* sum of the weights of the lists that list the client */
	int acts;		      /* score >= threshold */
	int n_listed;		      /* lists (positive or negative weight) that list the client */
	int allow_listed;	      /* a list with a negative weight (a DNSWL) lists the client */
	char rule_id[DNSBL_RULE_MAX]; /* "dnsbl:ZONE" of the first positive list that lists */
	char lists[DNSBL_REPLY_MAX];  /* "zone1,zone2" of the positive lists that list */
	char reply[DNSBL_REPLY_MAX];  /* the reply for action (reject 554 5.7.1, defer 450 4.7.1);
					 "" for tag */
};

/* Score the outcomes (pending ones count as not listed) and build the reply for action,
 * naming the client ip, the listing lists and the first TXT reason. Pure. */
void dnsbl_score(const struct dnsbl_outcome *o, size_t n, int threshold,
		 enum conf_dnsbl_action action, const char *ip, struct dnsbl_verdict *v);

/* ---- the answer cache (pure: the caller gives the time) ---- */

/* A bounded cache of answers per (list id, address): 4-way sets, an entry replaced when it
 * expired or, in a full set, the one expiring first. Errors are never cached. */
struct dnsbl_cache_entry {
	uint32_t list_id; /* 0 = free */
	uint8_t addr[16];
	time_t expires;
	enum dnsbl_answer answer;
	uint32_t code;
	char txt[DNSBL_TXT_MAX];
};
struct dnsbl_cache {
	struct dnsbl_cache_entry *e;
	size_t n_sets; /* 4 entries each */
};
#define DNSBL_CACHE_WAYS 4

/* Room for about capacity entries (0: a cache that holds nothing). 0 or -1 (ENOMEM). */
int dnsbl_cache_init(struct dnsbl_cache *c, size_t capacity);
void dnsbl_cache_free(struct dnsbl_cache *c);
/* The live entry for (list_id, addr) at now, or NULL. */
const struct dnsbl_cache_entry *dnsbl_cache_get(const struct dnsbl_cache *c, uint32_t list_id,
						const uint8_t addr[16], time_t now);
/* Store an answer (not DNSBL_ERROR) for ttl seconds, clamped to DNSBL_TTL_MIN..MAX. */
void dnsbl_cache_put(struct dnsbl_cache *c, uint32_t list_id, const uint8_t addr[16],
		     enum dnsbl_answer answer, uint32_t code, const char *txt, uint32_t ttl,
		     time_t now);

/* ---- the engine (event loop thread only) ---- */

struct dnsbl_engine;
struct dnsbl_check;

/* An engine for conf's lists: its own resolver on conf's dns-server (restart-only, like the
 * delivery resolver), the cache, and the health tests (at once, then every
 * dnsbl-health-interval). metrics must outlive the engine. 0, or -1 with err set. */
int dnsbl_engine_new(struct event_base *base, const struct conf *conf, struct metrics *metrics,
		     struct dnsbl_engine **out, char *err, size_t errlen);
/* Reload: follow conf's lists (new ones tested at once; removed ones forgotten; kept ones keep
 * their health state and cache), threshold and intervals. conf is only read. */
void dnsbl_engine_update(struct dnsbl_engine *e, const struct conf *conf);
/* Cancels every test; checks still open must have been freed. NULL is ignored. */
void dnsbl_engine_free(struct dnsbl_engine *e);

/* Start the lookups of addr (IPv4-mapped for IPv4; ip its text for logs) in every list of
 * conf, in parallel. done(arg) runs once, from the loop, when the last one finished (never
 * from inside this call); conf must outlive the check. NULL on ENOMEM or when conf has no
 * lists. Free with dnsbl_check_free (cancels what still runs; done is not called then). */
struct dnsbl_check *dnsbl_check_start(struct dnsbl_engine *e, const struct conf *conf,
				      const uint8_t addr[16], const char *ip, uint64_t session,
				      void (*done)(void *arg), void *arg);
/* 1 while a lookup of c still runs. */
int dnsbl_check_pending(const struct dnsbl_check *c);
/* The verdict from what is known now (suspended lists not counted). */
void dnsbl_check_verdict(struct dnsbl_check *c, struct dnsbl_verdict *v);
void dnsbl_check_free(struct dnsbl_check *c);

/* ---- one list, one address: the A record, then the TXT reason of a listing ---- */

struct dnsbl_ask;
struct dnsbl_ask_result {
	enum dnsbl_answer answer;
	uint32_t code;		 /* the listing code, or the offending one of an error answer */
	uint32_t ttl;		 /* of the A answer */
	char txt[DNSBL_TXT_MAX]; /* cleaned TXT reason of a listing, "" when none */
	char why[160];		 /* DNSBL_ERROR: "timeout after 5s", "error answer ...", ... */
};
/* r is valid during the call only; the ask is already freed when fn runs. */
typedef void (*dnsbl_ask_fn)(void *arg, const struct dnsbl_ask_result *r);

/* Look addr (16 bytes, IPv4-mapped for IPv4) up in zone on dns, the whole (A, then TXT when
 * listed) bounded by timeout seconds; answers classified by dnsbl_classify with codes (may be
 * NULL/0). fn runs once, from the loop (never from inside this call), unless the ask is
 * cancelled first. NULL on ENOMEM or a name that does not fit (fn never runs then). */
struct dnsbl_ask *dnsbl_ask_start(struct event_base *base, struct dns_resolver *dns,
				  const uint8_t addr[16], const char *zone,
				  const struct conf_dnsbl_codes *codes, size_t n_codes,
				  unsigned timeout, dnsbl_ask_fn fn, void *arg);
/* fn will not run. Only before fn ran. */
void dnsbl_ask_cancel(struct dnsbl_ask *a);

/* ---- known lists: the lists file (etc/dnsbl-lists) and the config's lists (pure) ---- */

enum dnsbl_kind { DNSBL_KIND_BLOCK, DNSBL_KIND_ALLOW };
struct dnsbl_meaning {
	uint32_t lo, hi; /* a code range, host order */
	char *text;
};
/* One list as `lookup` and the self-check know it. */
struct dnsbl_zone {
	char *zone; /* normalised */
	enum dnsbl_kind kind;
	struct dnsbl_meaning *meanings; /* what its return codes mean, where it documents them */
	size_t n_meanings;
	char *delist;			      /* the delisting URL, or NULL */
	const struct conf_dnsbl_codes *codes; /* the config's codes filter (borrowed), or NULL */
	size_t n_codes;
	unsigned timeout; /* seconds; 0 = the caller's default */
	int ipv6;	  /* asked about IPv6 addresses */
	char origin[64];  /* "lists" or "config" line: "etc/dnsbl-lists:12", "conf:7" */
};
struct dnsbl_zones {
	struct dnsbl_zone *z;
	size_t n;
};

#define DNSBL_LISTS_MAX 256   /* zones in a lists file */
#define DNSBL_LISTS_LINE 4096 /* bytes in one line of it */

/* Parse a lists file ("ZONE block|allow [CODE[-CODE]=MEANING]... [delist=URL] [ipv6=no]", a
 * MEANING "double-quoted" when it has spaces, # comments) into z (appended; zones already in
 * z are errors). name is used in errors: "name:line: problem". Pure. 0, or -1 with err. */
int dnsbl_zones_parse(const char *text, size_t len, const char *name, struct dnsbl_zones *z,
		      char *err, size_t errlen);
/* The config's dnsbl lines into z: a zone already there (from the lists file) takes the
 * config's codes filter, timeout, ipv6 and kind (negative weight: allow), keeping its
 * meanings and delisting URL; others are appended. c must outlive z. 0, or -1 (ENOMEM). */
int dnsbl_zones_add_conf(struct dnsbl_zones *z, const struct conf *c);
void dnsbl_zones_free(struct dnsbl_zones *z);
/* The zone entry named zone, or NULL. */
const struct dnsbl_zone *dnsbl_zones_find(const struct dnsbl_zones *z, const char *zone);
/* What code means in z, or NULL when the list documents nothing for it. */
const char *dnsbl_zone_meaning(const struct dnsbl_zone *z, uint32_t code);

/* Does a delivery reply name a blocklist? code 5xx (or enh 5.7.1; never an enh 5.1.x
 * addressing reply) and text naming one (the words blocklist, blacklist, listed but not "not
 * listed", spamhaus, dnsbl, rbl, or a zone of zones, which may be NULL). Pure. 1 and what
 * (the word or zone found), or 0. */
int dnsbl_bounce_match(int code, const char *enh, const char *text, const struct dnsbl_zones *zones,
		       char *what, size_t whatlen);

/* ---- many lists, many addresses, in parallel (lookup, self-check) ---- */

enum dnsbl_item_state { DNSBL_I_PENDING, DNSBL_I_DONE, DNSBL_I_SKIPPED };
struct dnsbl_item {
	uint8_t addr[16];	       /* caller: the address, IPv4-mapped for IPv4 */
	char ip[64];		       /* caller: its text */
	const struct dnsbl_zone *zone; /* caller: the list (borrowed) */
	enum dnsbl_item_state state;   /* SKIPPED: an IPv6 address and a list without ipv6 */
	struct dnsbl_ask_result r;
};

struct dnsbl_batch;
/* Start every item's lookup at once (timeout: for zones without one). done(arg) runs once from
 * the loop when all are answered (never from inside this call). items must outlive the batch.
 * NULL on ENOMEM. */
struct dnsbl_batch *dnsbl_batch_start(struct event_base *base, struct dns_resolver *dns,
				      struct dnsbl_item *items, size_t n, unsigned timeout,
				      void (*done)(void *arg), void *arg);
/* Cancel what still runs (done will not run). NULL is ignored. */
void dnsbl_batch_free(struct dnsbl_batch *b);

/* The exit status of `relayguard lookup`: 1 when a block list lists an address, else 2 when a
 * lookup failed, else 0. Pure. */
int dnsbl_items_exit_code(const struct dnsbl_item *items, size_t n);
/* One item as a line (no newline): text for people or one JSON object. Pure. */
void dnsbl_item_format(const struct dnsbl_item *it, int json, struct util_buf *out);

/* `relayguard lookup IP|HOST [-c FILE] [--lists FILE] [--json] [--timeout S]`: exit status as
 * dnsbl_items_exit_code, 3 on usage and setup errors. */
int dnsbl_lookup_cli(int argc, char **argv, const char *default_conf);
/* Read and parse a lists file (dnsbl_zones_parse). 0, or -1 with err. */
int dnsbl_zones_load(const char *path, struct dnsbl_zones *z, char *err, size_t errlen);

#endif
