/* abuse.h — abuse-control state and greylisting (RFC 6647).
 *
 * The store: one asynchronous interface (an ops table) for short-lived keyed state — greylist
 * triplets and whitelisted networks now, rate counters and bans later — with two backends:
 * SQLite (WAL; its blocking calls on a thread of its own) by default, Redis (hiredis on the
 * event loop) when several servers share the state. A request's callback runs exactly once,
 * later, in the event loop thread: never from inside the call that made the request, errors
 * included. Values are short strings; every entry has an expiry.
 *
 * Time: every request carries `now` (seconds, the abuse clock: time(NULL) + clock-offset), so
 * expiry and greylist timings move together when a test moves the clock. */
#ifndef RG_ABUSE_H
#define RG_ABUSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../addr/addr.h"
#include "../conf/conf.h"
#include "../util/metrics.h"

struct event_base;

#define ABUSE_KEY_MAX 1100    /* a key, NUL included (a triplet: network, sender, recipient) */
#define ABUSE_VALUE_MAX 128   /* a value, NUL included */
#define ABUSE_LIST_MAX 100000 /* entries one list request returns at most */

enum abuse_op {
	ABUSE_GET,  /* key → value */
	ABUSE_PUT,  /* key = value for ttl, if the current value is `expect` (compare-and-set) */
	ABUSE_INCR, /* key += delta; a new key (or one without expiry) gets ttl; → the new count */
	ABUSE_DEL,  /* remove key */
	ABUSE_LIST, /* every entry whose key starts with key (at most `max`) */
};

enum abuse_status {
	ABUSE_OK,
	ABUSE_NOT_FOUND, /* GET: no such key (or expired) */
	ABUSE_CONFLICT,	 /* PUT: the current value was not `expect` */
	ABUSE_ERROR,	 /* the store failed or is unreachable (reply.error says why) */
};

/* A PUT's condition. */
enum abuse_expect { ABUSE_EXPECT_ANY, ABUSE_EXPECT_ABSENT, ABUSE_EXPECT_VALUE };

struct abuse_req {
	enum abuse_op op;
	char key[ABUSE_KEY_MAX]; /* the key, or the prefix of a LIST */
	char value[ABUSE_VALUE_MAX];
	enum abuse_expect expect;
	char expect_value[ABUSE_VALUE_MAX]; /* ABUSE_EXPECT_VALUE */
	int64_t delta;			    /* INCR */
	unsigned ttl;			    /* PUT, INCR: seconds */
	size_t max;			    /* LIST */
	int64_t now;			    /* the abuse clock */
};

struct abuse_entry {
	char key[ABUSE_KEY_MAX];
	char value[ABUSE_VALUE_MAX];
	int64_t expires; /* abuse clock seconds */
};

struct abuse_reply {
	enum abuse_status status;
	char value[ABUSE_VALUE_MAX]; /* GET */
	int64_t count;		     /* INCR */
	struct abuse_entry *entries; /* LIST: owned by the store, valid during the callback */
	size_t n_entries;
	char error[200]; /* ABUSE_ERROR */
};

typedef void (*abuse_cb)(void *arg, const struct abuse_reply *r);

struct abuse_store_ops {
	/* Start req (copied: the caller may free it on return); cb(arg, reply) runs once, later,
	 * in the loop thread. Never fails synchronously. */
	void (*submit)(void *impl, const struct abuse_req *req, abuse_cb cb, void *arg);
	/* Finish requests under way (their callbacks run with ABUSE_ERROR or their result),
	 * then free. */
	void (*destroy)(void *impl);
};

struct abuse_store {
	const struct abuse_store_ops *ops;
	void *impl;
	struct event_base *base;
	char name[96]; /* "sqlite var/db/abuse.db", "redis 127.0.0.1:6379" (for logs) */
};

/* Open the store conf->abuse_store names, on base (create: see abuse_sqlite_open). SQLite: the file
 * (and its directory) is created, WAL, schema. Redis: the connection starts now and is retried with
 * backoff; an unreachable Redis is not an error here (requests fail until it is back). Returns a
 * store (abuse_store_free) or NULL with err set. */
struct abuse_store *abuse_store_open(const struct conf *conf, int create, struct event_base *base,
				     char *err, size_t errlen);
void abuse_store_free(struct abuse_store *st);
/* Whether conf uses the store: greylisting, or a rate limit kept in it (every ratelimit row but
 * ip-sessions, which is counted in the process). The server opens the store only then (at
 * start, or at the first reload that needs it). */
int abuse_store_needed(const struct conf *conf);

/* The backends (abuse_store_open picks one). */
/* create 0 (the CLI): a missing database is an error (errno ENOENT), not made by root. */
struct abuse_store *abuse_sqlite_open(const char *path, int create, struct event_base *base,
				      char *err, size_t errlen);
struct abuse_store *abuse_redis_open(const char *where, const char *prefix, struct event_base *base,
				     char *err, size_t errlen);

/* Shorthands: fill a request and submit it. */
void abuse_get(struct abuse_store *st, const char *key, int64_t now, abuse_cb cb, void *arg);
void abuse_put(struct abuse_store *st, const char *key, const char *value, unsigned ttl,
	       enum abuse_expect expect, const char *expect_value, int64_t now, abuse_cb cb,
	       void *arg);
void abuse_incr(struct abuse_store *st, const char *key, int64_t delta, unsigned ttl, int64_t now,
		abuse_cb cb, void *arg);
void abuse_del(struct abuse_store *st, const char *key, int64_t now, abuse_cb cb, void *arg);
void abuse_list(struct abuse_store *st, const char *prefix, size_t max, int64_t now, abuse_cb cb,
		void *arg);

/* A key field ("LOGIN", "SENDER", "RCPT", "IP") as it goes into a key: '%' → "%25", '|' → "%7C",
 * so no field holds the separator (key.c). 0, or -1 when out (outlen) is too small. */
int abuse_key_escape(const char *in, char *out, size_t outlen);
/* The inverse, in place (for display). */
void abuse_key_unescape(char *s);

/* Run cb(arg, reply) from the loop soon (a backend's synchronous failure path). 0 or -1. */
int abuse_defer_reply(struct event_base *base, const struct abuse_reply *r, abuse_cb cb, void *arg);

/* The abuse clock: time(NULL) + conf->clock_offset. */
int64_t abuse_now(const struct conf *conf);

/* ---- greylisting: the pure part (greylist.c) ---- */

/* Keys: every greylist key of a client network starts with "gl:NET|" (abuse show/unban).
 * SENDER and RCPT are escaped (abuse_key_escape).
 *   gl:NET|t|SENDER|RCPT  a triplet: "FIRST PASSED" (times; PASSED 0 until it passed)
 *   gl:NET|p              the network's passes (a counter, for auto-whitelisting)
 *   gl:NET|w              the network is whitelisted: "SINCE" */
#define GREYLIST_NET_MAX 64

/* The client network of addr (16-byte mapped form): "192.0.2.0/24", "2001:db8::/64" with the
 * configured prefix lengths. */
void greylist_net(const uint8_t addr[16], unsigned bits4, unsigned bits6, char *out, size_t outlen);
/* The envelope sender as greylisting sees it: lower-case; BATV "prvs=TAG=local" and
 * "msprvsN=TAG=local" reduced to "local"; "+ext" cut; SRS addresses left as they are; the
 * null sender is "". -1 when it does not fit. */
int greylist_sender(const struct addr_path *from, char *out, size_t outlen);
/* The recipient: lower-case "local@domain". -1 when it does not fit. */
int greylist_rcpt(const struct addr_path *rcpt, char *out, size_t outlen);
/* "gl:NET|t|SENDER|RCPT", "gl:NET|p", "gl:NET|w", "gl:NET|" (the prefix). -1 if too long. */
int greylist_key_triplet(const char *net, const char *sender, const char *rcpt, char *out,
			 size_t outlen);
void greylist_key_net(const char *net, char kind, char *out, size_t outlen);

struct greylist_settings {
	unsigned delay, window, lifetime, auto_whitelist;
};
void greylist_settings_from_conf(const struct conf *c, struct greylist_settings *gs);

struct greylist_record {
	int64_t first;	/* the first attempt (of the current window) */
	int64_t passed; /* when it first passed; 0 = not yet */
};
/* "FIRST PASSED" ⇄ record. Parse: 0, or -1 for anything else (treated as no record). */
int greylist_record_parse(const char *s, struct greylist_record *r);
void greylist_record_format(const struct greylist_record *r, char *out, size_t outlen);

enum greylist_result {
	GREYLIST_NEW,	/* first attempt (or after the window): 451, record created */
	GREYLIST_EARLY, /* retried before the delay: 451 */
	GREYLIST_PASS,	/* retried within the window: accepted, record now passed */
	GREYLIST_KNOWN, /* a triplet that passed before: accepted, lifetime renewed */
};
struct greylist_decision {
	enum greylist_result result;
	int defer;		    /* 451 */
	int write;		    /* rec is written (with ttl); else nothing changes */
	unsigned retry_in;	    /* seconds until a retry is accepted (defer only) */
	struct greylist_record rec; /* the record to write */
	unsigned ttl;		    /* for this long */
	int count_pass;		    /* count a pass for auto-whitelisting */
};
/* The decision, a pure function of the record (NULL: none), now and the settings. */
struct greylist_decision greylist_decide(const struct greylist_record *rec, int64_t now,
					 const struct greylist_settings *gs);

/* ---- greylisting: the check against the store (greylist_check.c) ---- */

enum greylist_verdict {
	GREYLIST_VERDICT_DEFER,	      /* 451 4.7.1 Greylisted (rule "greylist") */
	GREYLIST_VERDICT_PASS,	      /* the triplet passed now or before */
	GREYLIST_VERDICT_WHITELISTED, /* the network is auto-whitelisted */
	GREYLIST_VERDICT_STORE_ERROR, /* the store failed: fail open (accepted), logged */
};
struct greylist_outcome {
	enum greylist_verdict verdict;
	enum greylist_result result; /* DEFER/PASS: which case */
	unsigned retry_in;	     /* DEFER */
	int now_whitelisted;	     /* this pass made the network whitelisted */
	char error[256];	     /* STORE_ERROR */
};
typedef void (*greylist_cb)(void *arg, const struct greylist_outcome *o);

/* Check one triplet against the store; cb(arg, outcome) runs once, later, in the loop. The
 * strings are copied. Returns 0, or -1 out of memory (cb will not run). */
int greylist_check(struct abuse_store *st, const struct greylist_settings *gs, const char *net,
		   const char *sender, const char *rcpt, int64_t now, greylist_cb cb, void *arg);

/* ---- rate limits and the circuit breaker: the pure part (ratelimit.c) ----
 *
 * Fixed windows: a counter's key names its window ("...|WINDOW|START", START = now rounded down
 * to a multiple of WINDOW) and expires when the window ends, so every server sharing the store
 * counts into the same key and nothing needs cleaning. IP, LOGIN and RCPT are escaped
 * (abuse_key_escape: no '|' inside a field). Keys:
 *   rl:ip:IP|conn|W|START          connections of a client IP
 *   rl:ip:IP|msg|W|START           MAIL commands          rl:ip:IP|rcpt|W|START   RCPT commands
 *   rl:u:LOGIN|msg|W|START         relayed messages of a login
 *   rl:u:LOGIN|rcpt|W|START        distinct relayed recipients (…|START|RCPT: one marker each)
 *   rl:u:LOGIN|cb|W|START          the circuit breaker's distinct relayed recipients (+ markers)
 *   rl:u:LOGIN|tripped             the login is tripped: "SINCE COUNT" (until user unlock) */
enum ratelimit_stage { RATELIMIT_CONNECT, RATELIMIT_MAIL, RATELIMIT_RCPT, RATELIMIT_AUTH };
enum ratelimit_kind {
	RATELIMIT_COUNT,    /* INCR key; over limit when the count passes it */
	RATELIMIT_DISTINCT, /* a new marker (PUT if absent), then INCR key; a known marker passes */
	RATELIMIT_TRIP_FLAG, /* GET key: present = the login is tripped */
};
struct ratelimit_subject {
	const char *ip;	   /* the client IP as text */
	const char *login; /* the AUTH identity, "" when not authenticated */
	int exempt;	   /* trusted network or auth-allowlist: no per-IP limit applies */
	int null_sender;   /* MAIL FROM:<> (a bounce): not counted as a message */
	int relayed;	   /* RCPT: relayed (not to a local mailbox) */
	int first_relayed; /* RCPT: the transaction's first relayed recipient */
	const char *rcpt;  /* RCPT: the recipient, lower-case */
};
struct ratelimit_check {
	enum ratelimit_kind kind;
	enum metrics_ratelimit rule;
	char key[ABUSE_KEY_MAX];
	char mark[ABUSE_KEY_MAX]; /* DISTINCT: the recipient's marker */
	unsigned limit;
	unsigned window;
	unsigned ttl; /* seconds until the window ends (at least 1) */
	int trip;     /* over the limit trips the circuit breaker */
};
#define RATELIMIT_CHECKS_MAX 8
#define RATELIMIT_TRIP_TTL (400u * 86400u) /* a trip lasts until user unlock (or this) */

/* The start of now's window and the seconds left in it (>= 1). */
int64_t ratelimit_window_start(int64_t now, unsigned window);
unsigned ratelimit_window_ttl(int64_t now, unsigned window);
/* "rl:u:LOGIN|tripped"; "rl:u:LOGIN|" and "rl:ip:IP|" (the prefixes of show/unban). 0, or -1
 * when the key does not fit in out. */
int ratelimit_key_trip(const char *login, char *out, size_t outlen);
int ratelimit_prefix_user(const char *login, char *out, size_t outlen);
int ratelimit_prefix_ip(const char *ip, char *out, size_t outlen);
/* The checks that apply to sub at stage, in the order they run (the circuit breaker first,
 * so it counts recipients the other limits refuse). Returns how many (<= RATELIMIT_CHECKS_MAX);
 * a check whose key would not fit is left out. */
size_t ratelimit_plan(const struct conf_ratelimit *rl, enum ratelimit_stage stage,
		      const struct ratelimit_subject *sub, int64_t now,
		      struct ratelimit_check out[RATELIMIT_CHECKS_MAX]);

/* ---- rate limits: the checks against the store (ratelimit_check.c) ---- */
enum ratelimit_verdict {
	RATELIMIT_PASS,
	RATELIMIT_LIMITED, /* checks[index] is over its limit */
	RATELIMIT_TRIPPED, /* the login was tripped before (checks[index] is the TRIPPED one) */
	RATELIMIT_TRIP,	   /* checks[index] tripped the circuit breaker now (trip key written) */
	RATELIMIT_STORE_ERROR, /* the store failed (error says why) */
};
struct ratelimit_outcome {
	enum ratelimit_verdict verdict;
	size_t index;
	int64_t count; /* LIMITED, TRIP: the count that passed the limit */
	char error[256];
};
typedef void (*ratelimit_cb)(void *arg, const struct ratelimit_outcome *o);
/* Run the checks in order, stopping at the first that refuses; cb runs once, later, in the loop.
 * A refused DISTINCT recipient is taken back out of the count (so a retry is judged again).
 * Returns 0, or -1 out of memory (cb will not run). */
int ratelimit_run(struct abuse_store *st, const struct ratelimit_check *checks, size_t n,
		  int64_t now, ratelimit_cb cb, void *arg);

/* `relayguard abuse list|show IP|LOGIN|unban IP|LOGIN [-c FILE] [--json]` (cli.c). */
int abuse_cli(int argc, char **argv, const char *default_conf);
/* `relayguard user unlock LOGIN`: remove the login's trip and rate counters. 0 or 1. */
int abuse_user_unlock(const char *login, const char *conf_path);

#endif
