/* metrics.h — the server's counters (plain fields, owned by struct server, touched only by the
 * loop thread) and their rendering in the Prometheus text format 0.0.4. Pure: no I/O. */
#ifndef RG_METRICS_H
#define RG_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* RCPT verdicts are counted per rule ID in a table of at most METRICS_RULES_MAX IDs; later IDs,
 * and IDs of METRICS_RULE_ID_MAX bytes or more, are counted under rule="other". */
#define METRICS_RULES_MAX 256
#define METRICS_RULE_ID_MAX 256
#define METRICS_RULE_OTHER "other"
#define METRICS_SENDER_RULES_MAX 16 /* MAIL verdicts: the sender rules have fixed IDs */

enum metrics_verdict { METRICS_ACCEPT, METRICS_REJECT, METRICS_VERDICTS };

/* Delivery methods: label method="maildir" | "lmtp" | "smtp". */
enum metrics_method { METRICS_MAILDIR, METRICS_LMTP, METRICS_SMTP, METRICS_METHODS };

/* Why a session was turned away before its first command: label reason=... */
enum metrics_refusal {
	METRICS_REFUSED_MAX_SESSIONS, /* "max-sessions": limit max-sessions reached */
	METRICS_REFUSED_PREGREET,     /* "pregreet": talked before the greeting */
	METRICS_REFUSED_PER_IP,	      /* "max-sessions-per-ip": that client has too many open */
	METRICS_REFUSED_QUEUE,	      /* "queue-refuse": limit queue-refuse messages queued */
	METRICS_REFUSALS,
};

/* Rate-limit rules (label rule="ratelimit:..."): a verdict that refused, per rule. */
enum metrics_ratelimit {
	METRICS_RL_IP_CONNECTIONS,  /* ratelimit:ip-connections */
	METRICS_RL_IP_MESSAGES,	    /* ratelimit:ip-messages */
	METRICS_RL_IP_RECIPIENTS,   /* ratelimit:ip-recipients */
	METRICS_RL_USER_MSGS_HOUR,  /* ratelimit:user-messages-hour */
	METRICS_RL_USER_MSGS_DAY,   /* ratelimit:user-messages-day */
	METRICS_RL_USER_RCPTS_HOUR, /* ratelimit:user-recipients-hour */
	METRICS_RL_USER_RCPTS_DAY,  /* ratelimit:user-recipients-day */
	METRICS_RL_CIRCUIT_BREAKER, /* ratelimit:circuit-breaker (the trip itself) */
	METRICS_RL_ACCOUNT_TRIPPED, /* ratelimit:account-tripped (MAIL/RCPT/AUTH of a tripped login)
				     */
	METRICS_RL_RULES,
};
/* "ratelimit:ip-connections", ... (the rule IDs in logs and metrics). */
extern const char *const metrics_ratelimit_rules[METRICS_RL_RULES];
/* Per DNS list (src/dnsbl), by zone: at most METRICS_DNSBL_MAX zones (later ones uncounted). */
#define METRICS_DNSBL_MAX 64
struct metrics_dnsbl {
	char zone[256];
	uint64_t lookups;     /* DNS lookups of client addresses (cache hits not counted) */
	uint64_t listed;      /* answers that listed the client */
	uint64_t errors;      /* error answers, SERVFAIL, timeouts: never a listing */
	uint64_t healthy;     /* gauge: 1 = in use, 0 = suspended by its health test */
	uint64_t suspensions; /* times the health test suspended it */
};

#define METRICS_SELF_LISTED_MAX 64 /* lists with a self_listed gauge */
struct metrics_self_listed {
	char zone[256];
	int listed;
};
#define METRICS_BOUNCE_DEST_MAX 64 /* destinations counted by name */
struct metrics_bounce_dest {
	char destination[256];
	uint64_t n;
};

struct metrics_rule {
	char id[METRICS_RULE_ID_MAX];
	uint64_t n[METRICS_VERDICTS];
};

#define METRICS_SELF_AUDIT_MAX 64 /* listeners with a self-audit gauge */
struct metrics_self_audit {
	char listener[64]; /* the listen address as written */
	int open;	   /* 1: the last run found it relaying for an outside client */
};

/* Every field is a counter since start unless marked as a gauge. Zero-initialise. */
struct metrics {
	/* smtp (src/smtp) */
	uint64_t sessions_total;		      /* connections accepted */
	uint64_t sessions_active;		      /* gauge: sessions open now */
	uint64_t sessions_rejected[METRICS_REFUSALS]; /* turned away, by reason */
	uint64_t tls_handshakes;		      /* TLS handshakes completed (server side) */
	uint64_t tls_handshakes_failed;		      /* failed or timed out */
	uint64_t auth_ok, auth_failed;		      /* SMTP AUTH: 235, 535 */
	uint64_t auth_blocked; /* AUTH refused (454) to an address the failed-AUTH guard blocks */
	/* the queue: messages made durable (a "250 queued"), recovered ones not counted */
	uint64_t messages_received;
	uint64_t bytes_received; /* their stored size, Received: header included */
	/* delivery, per recipient */
	uint64_t delivered[METRICS_METHODS]; /* delivered, by method */
	uint64_t deferred;		     /* attempts that failed temporarily (will retry) */
	uint64_t bounced;		     /* failed permanently (5xx) */
	uint64_t expired;		     /* given up after delivery lifetime */
	uint64_t dsn_sent;		     /* DSNs (bounces, delay warnings) queued to senders */
	/* RCPT verdicts by rule ID: rules[0..n_rules), then other */
	struct metrics_rule rules[METRICS_RULES_MAX];
	size_t n_rules;
	uint64_t rules_other[METRICS_VERDICTS];
	/* MAIL FROM verdicts of the sender rules by rule ID (a handful of fixed IDs), then other */
	struct metrics_rule senders[METRICS_SENDER_RULES_MAX];
	size_t n_senders;
	uint64_t senders_other[METRICS_VERDICTS];
	/* the self-audit (src/server/self_audit.c): runs finished, the end of the last one (epoch
	 * seconds, 0 before the first) and, per listener it could test, whether it was open */
	uint64_t self_audit_runs;
	int64_t self_audit_last_run;
	struct metrics_self_audit self_audit[METRICS_SELF_AUDIT_MAX];
	size_t n_self_audit;
	/* abuse controls (src/abuse): greylisting at RCPT, and the store's failures */
	uint64_t greylist_deferred;    /* 451 4.7.1 Greylisted */
	uint64_t greylist_passed;      /* accepted: the triplet passed now or before */
	uint64_t greylist_whitelisted; /* accepted: the client network is auto-whitelisted */
	uint64_t abuse_store_errors;   /* store requests that failed (greylisting failed open) */
	/* rate limits and the circuit breaker (src/smtp/ratelimit.c) */
	uint64_t ratelimit_rejected[METRICS_RL_RULES]; /* refusals, per rule */
	uint64_t ratelimit_store_errors;	       /* checks the store could not answer */
	uint64_t circuit_breaker_trips;		       /* logins tripped by this server */
	/* DNS lists by zone (src/dnsbl) */
	struct metrics_dnsbl dnsbl[METRICS_DNSBL_MAX];
	size_t n_dnsbl;
	/* the self-check (src/server/self_check.c): per list, whether the last run found one of
	 * the server's outbound addresses listed (gauge); runs; lookups that failed */
	struct metrics_self_listed self_listed[METRICS_SELF_LISTED_MAX];
	size_t n_self_listed;
	uint64_t self_check_runs;
	uint64_t self_check_errors;
	/* remote replies naming a blocklist, per destination domain (later ones: other) */
	struct metrics_bounce_dest blocklisted_bounces[METRICS_BOUNCE_DEST_MAX];
	size_t n_blocklisted_bounces;
	uint64_t blocklisted_bounces_other;
	/* back-pressure (src/smtp/session.c): the banner delay given to the latest new session */
	uint64_t backpressure_delay_ms;
};

/* The queue as seen at scrape time (computed by the caller). */
struct metrics_queue {
	uint64_t messages;   /* messages queued */
	uint64_t recipients; /* recipients not yet done */
	uint64_t held;	     /* messages on hold */
	uint64_t oldest_age; /* seconds since the oldest queued message arrived; 0 when empty */
};

/* Count one RCPT verdict for rule_id (copied into the table when new). */
void metrics_count_rcpt(struct metrics *m, const char *rule_id, enum metrics_verdict v);

/* Count one MAIL FROM verdict of the sender rules, the same way. */
void metrics_count_sender(struct metrics *m, const char *rule_id, enum metrics_verdict v);

/* The counters of a DNS list zone (created, healthy = 1, when new), or NULL when the table is
 * full. */
struct metrics_dnsbl *metrics_dnsbl_slot(struct metrics *m, const char *zone);

/* The self-check's gauge of zone set to listed (the slot made when new; nothing when the table
 * is full). */
void metrics_set_self_listed(struct metrics *m, const char *zone, int listed);
/* Count one remote reply naming a blocklist for destination (under "other" when the table is
 * full). */
void metrics_count_blocklisted_bounce(struct metrics *m, const char *destination);

/* Write s as the inside of a Prometheus label value into out: backslash, double quote and
 * newline escaped (\\ \" \n), other control bytes, DEL and bytes >= 0x80 as '_', so the output
 * is always ASCII. Truncated to fit, never in the middle of an escape; always NUL-terminated
 * (outlen > 0). Returns out. */
const char *metrics_escape_label(const char *s, char *out, size_t outlen);

/* Render m and q (HELP and TYPE lines, names relayguard_*). snprintf contract: writes at most
 * len bytes including the NUL (buf may be NULL when len is 0) and returns the length of the
 * whole text, so a caller can measure first, then allocate and render. */
size_t metrics_format(const struct metrics *m, const struct metrics_queue *q, char *buf,
		      size_t len);

/* Writing the text format, for every exporter (metrics_format; src/blocklist's DNS server):
 * an output with the snprintf contract, pos counts everything, buf gets what fits. */
struct metrics_out {
	char *buf;
	size_t len, pos;
};
__attribute__((format(printf, 2, 3))) void metrics_out_printf(struct metrics_out *o,
							      const char *fmt, ...);
/* "# HELP relayguard_NAME help" and "# TYPE relayguard_NAME type". */
void metrics_out_family(struct metrics_out *o, const char *name, const char *type,
			const char *help);
/* One sample with one label: relayguard_NAME{LABEL="VALUE"} v. */
void metrics_out_sample(struct metrics_out *o, const char *name, const char *label,
			const char *value, uint64_t v);
/* The family and its one unlabelled sample. */
void metrics_out_single(struct metrics_out *o, const char *name, const char *type, const char *help,
			uint64_t v);

#endif
