/* scan.h — `relayguard scan`: the relay battery (src/probe) against many hosts at once, with
 * bounded concurrency, a global connection rate limit, an opt-out list and the refusal of
 * reserved ranges; results into the blocklist store (src/blocklist). Delisting on request after
 * a clean rescan, and scheduled rescans of listed hosts. */
#ifndef RG_SCAN_H
#define RG_SCAN_H

#include "../blocklist/blocklist.h"
#include "../conf/conf.h"
#include "../probe/probe.h"

#include <stddef.h>
#include <stdint.h>

/* ---- the delisting contract (the web page calls it) ---- */
enum scan_delist_status {
	SCAN_DELISTED,
	SCAN_STILL_OPEN,
	SCAN_NOT_LISTED,
	SCAN_RATE_LIMITED,
	SCAN_UNTESTED
};
struct scan_delist_result {
	enum scan_delist_status status;
	char detail[512]; /* one line for a human: what happened and why */
	char *evidence;	  /* JSON of the new scan (malloc'd, caller frees) or NULL */
};
/* A delisting request for ip (text) by requester (an address or "cli"): rate-limited per
   ip (conf), rescans the host with the whole battery on the configured ports; delists
   only if every test is refused, else keeps it listed with the new evidence. Blocking
   (seconds), safe on any thread; opens its own store connection. 0, or -1 with err. */
int scan_request_delist(const struct conf *c, const char *ip, const char *requester,
			struct scan_delist_result *out, char *err, size_t errlen);
const char *scan_delist_status_name(enum scan_delist_status s);

/* ---- targets (pure but for host names) ---- */
#define SCAN_MAX_HOSTS 65536 /* default cap on the expanded target list (--max-hosts) */

struct scan_addrs {
	uint8_t (*a)[16]; /* IPv4 as IPv4-mapped */
	size_t n, cap;
};
/* Append every address of net; -1 with err when the list would exceed max. Pure. */
int scan_cidr_expand(const struct cidr *net, struct scan_addrs *l, size_t max, char *err,
		     size_t errlen);
/* One target: an IP, a CIDR (IPv4 or IPv6), or a host name (every address it resolves to). */
int scan_target_add(struct scan_addrs *l, const char *target, size_t max, char *err, size_t errlen);
void scan_addrs_free(struct scan_addrs *l);
/* The RFC 6890 special-purpose prefix holding addr ("10.0.0.0/8"), or NULL. Pure. */
const char *scan_reserved(const uint8_t addr[16]);
/* An opt-out list: one IP or CIDR per line, '#' comments, blank lines. Appends to *set.
 * Pure. 0, or -1 with err naming the line. */
int scan_optout_parse(const char *text, size_t len, struct cidr **set, size_t *n, char *err,
		      size_t errlen);
int scan_optout_load(const char *path, struct cidr **set, size_t *n, char *err, size_t errlen);
/* "25,587,465" into ports (at most max). Pure. 0 or -1. */
int scan_ports_parse(const char *s, uint16_t *ports, size_t max, size_t *n);

/* ---- one host ---- */
enum scan_outcome { SCAN_OUTCOME_OPEN, SCAN_OUTCOME_CLEAN, SCAN_OUTCOME_UNTESTABLE };

struct scan_settings {
	const uint16_t *ports; /* 465: implicit TLS; others: STARTTLS when offered */
	size_t n_ports;
	unsigned timeout;      /* seconds per reply */
	unsigned host_timeout; /* seconds for one port's battery */
	const char *source;    /* connect from, or NULL */
	void (*before_connect)(void *arg);
	void *connect_arg;
};

struct scan_port_result {
	uint16_t port;
	struct probe_summary sum;
	struct probe_details *d; /* malloc'd */
};

struct scan_host_result {
	uint8_t addr[16];
	char ip[64];
	enum scan_outcome outcome;
	int refused_all; /* every test of every reachable port refused (or auth needed) */
	struct scan_port_result ports[CONF_SCAN_PORTS_MAX];
	size_t n_ports;
	int64_t time;
	char scanner[64]; /* the address the scan came from */
};

/* Run the battery on every port of addr. Blocking, thread-safe. 0, or -1 (memory). */
int scan_host(const struct scan_settings *s, const uint8_t addr[16], struct scan_host_result *r);
void scan_host_free(struct scan_host_result *r);
/* The host's result as one JSON object (no newline), malloc'd or NULL. */
char *scan_host_json(const struct scan_host_result *r, const char *action);
/* Into the store: open → listed with evidence (who); clean → recorded clean, and a listed
 * entry first listed at least expire_after seconds ago → expired; untestable → nothing.
 * *action gets what was done ("listed", "clean", "expired", "none"). 0 or -1 with err. */
int scan_host_store(struct blocklist *b, const struct scan_host_result *r, const char *who,
		    int64_t expire_after, const char **action, char *err, size_t errlen);
/* The settings of c (scan-ports, scan-timeout, scan-source). */
void scan_settings_from_conf(const struct conf *c, struct scan_settings *s);

/* ---- commands ---- */
/* `relayguard scan`, `relayguard list request-delist`, and `relayguard dnsbl` with its
 * scheduled rescans (scan-rescan yes): the exit status, or -1 when argv is none of these. */
int scan_main(int argc, char **argv, const char *default_conf);

#endif
