/* scan_int.h — between the files of the scanner: evidence from a host's result, the worker
 * pool with its connection rate limit, and the commands. */
#ifndef RG_SCAN_INT_H
#define RG_SCAN_INT_H

#include "scan.h"

#include <pthread.h>

/* The evidence of the first port with a test of verdict v (borrowing r). */
struct scan_evidence {
	struct blocklist_evidence ev;
	const char *ids[PROBE_MAX_TESTS];
	char head[160];
	char *transcript; /* "port N[, TLS …]\n" + the port's transcript, malloc'd */
	uint16_t port;
};
int scan_evidence_make(const struct scan_host_result *r, enum probe_verdict v,
		       struct scan_evidence *e);
void scan_evidence_free(struct scan_evidence *e);
/* List r's host with the evidence of verdict v (PROBE_OPEN, or PROBE_ACCEPTS_RCPT to keep a
 * host that is not proven closed listed). 0 or -1. */
int scan_list_open(struct blocklist *b, const struct scan_host_result *r, enum probe_verdict v,
		   const char *who, const char *why, char *err, size_t errlen);
void scan_host_net(const struct scan_host_result *r, struct cidr *net);

/* ---- the global connection rate limit: a token bucket of one token, refilled at rate/s ---- */
struct scan_bucket {
	pthread_mutex_t mu;
	double rate;	     /* connections per second; 0 = unlimited */
	long long next_ns;   /* when the next token is due (CLOCK_MONOTONIC) */
	unsigned long taken; /* connections so far */
};
void scan_bucket_init(struct scan_bucket *k, double rate);
void scan_bucket_take(void *bucket); /* blocks until a token; a probe before_connect hook */
void scan_bucket_destroy(struct scan_bucket *k);

/* ---- the worker pool ---- */
struct scan_pool {
	const struct scan_settings *set;
	const uint8_t (*addrs)[16];
	size_t n;
	unsigned concurrency;
	/* called for each host, serialised (under the pool's lock); r is freed after */
	void (*on_result)(void *arg, struct scan_host_result *r);
	void *arg;
	/* internal */
	pthread_mutex_t mu;
	size_t next;
};
/* Scan every address with at most concurrency threads. 0, or -1 when no thread started. */
int scan_pool_run(struct scan_pool *p);

/* ---- one scan run (run.c): the filters, the pool, the store, the output ---- */
struct scan_opts {
	const struct conf *c;
	struct scan_settings set;
	unsigned concurrency;
	double rate;	      /* connections/s, 0 = unlimited */
	int64_t min_interval; /* skip a host scanned more recently (0: never skip) */
	int allow_reserved;   /* --allow-reserved or scan-allow-reserved yes */
	struct cidr *opt_out; /* --opt-out FILE and scan-opt-out, merged */
	size_t n_opt_out;
	int json, dry_run;
	int quiet;	 /* print nothing but the summary on stderr (the dnsbl thread) */
	const char *who; /* history "who" of the changes */
};

struct scan_stats {
	size_t targets, scanned, open, clean, untestable, skipped, expired, listed, errors;
	unsigned long connections;
	double seconds;
};

/* Scan l (filters first). 0, or -1 when the store cannot be opened (err). */
int scan_run(const struct scan_opts *o, const struct scan_addrs *l, struct scan_stats *st,
	     char *err, size_t errlen);
/* The listed host entries last scanned interval seconds ago or more, into l. 0 or -1. */
int scan_listed_due(const struct conf *c, int64_t interval, struct scan_addrs *l, char *err,
		    size_t errlen);

/* the commands (cli.c), dispatched by scan_main */
int scan_cli_scan(int argc, char **argv, const char *default_conf);
int scan_cli_request_delist(int argc, char **argv, const char *default_conf);

#endif
