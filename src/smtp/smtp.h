/* smtp.h — the SMTP server: listeners and sessions (RFC 5321, 1870, 2920, 3463, 6152, 6531).
 * A session parses with the pure functions of parse.h, asks policy_check_rcpt about every
 * recipient and hands complete messages to the spool. */
#ifndef RG_SMTP_H
#define RG_SMTP_H

#include <stdint.h>

#include "../auth/guard.h"
#include "../conf/conf.h"
#include "../dnsbl/dnsbl.h"
#include "../queue/queue.h"
#include "../util/metrics.h"

struct event_base;
struct smtp_session;
struct abuse_store;
typedef struct ssl_ctx_st SSL_CTX;

/* What sessions share; owned by the server, outlives every session. */
struct smtp_ctx {
	/* The current config, for new sessions; the server's reference keeps it alive, and each
	 * session takes its own (conf_ref) at start, so a reload only affects later sessions. */
	struct conf *conf;
	struct event_base *base;
	struct spool *spool;
	struct metrics *metrics; /* the server's counters; sessions and RCPT verdicts */
	unsigned n_sessions;
	/* the most sessions open since freed memory was last given back, and the timer that gives
	 * it back once the load has passed (smtp_trim_due) */
	unsigned peak_sessions;
	struct event *trim_ev;
	uint64_t next_session_id;
	struct smtp_session *sessions; /* all live sessions, for shutdown */
	struct smtp_listener *listeners;
	/* graceful stop (smtp_drain): called once the last session is gone */
	int draining;
	void (*on_drained)(void *arg);
	void *drained_arg;
	/* the server certificate (tls_server_ctx_new), NULL without tls-certificate: STARTTLS is
	 * offered only with one. Owned by the server, replaced at reload; each session takes its
	 * own reference at start (SSL_CTX_up_ref), like the config. */
	SSL_CTX *tls_ctx;
	/* SMTP AUTH (smtp_auth_init): GNU SASL over the credential store, the worker threads that
	 * run its steps (PBKDF2, SQLite: never on the loop), and the failed-AUTH guard */
	struct auth_sasl *sasl; /* NULL: AUTH is not offered */
	struct workq *auth_workq;
	struct event *auth_ev; /* the pool's completions, run in the loop */
	struct auth_guard guard;
	/* the abuse-control state (src/abuse): greylisting; opened by serve, NULL = none */
	struct abuse_store *abuse;
	/* the circuit breaker tripped login (this server saw it cross the trip level): the server
	 * puts the login's queued outbound mail on hold. NULL = nothing to do. */
	void (*on_trip)(void *arg, const char *login);
	void *trip_arg;
	/* DNS lists (src/dnsbl): every session of an untrusted client starts its lookups at
	 * connect; NULL: none are made */
	struct dnsbl_engine *dnsbl;
	/* live sessions per client (limit max-sessions-per-ip), made at the first session, freed
	 * by smtp_shutdown */
	struct smtp_peers *peers;
};

/* Start SMTP AUTH for ctx->conf (base, conf and metrics set): GNU SASL over the store at
 * auth-database (opened at the first AUTH, so a store made later is found), its worker pool and
 * the in-process failed-AUTH guard. 0, or -1 with err set. */
int smtp_auth_init(struct smtp_ctx *ctx, char *err, size_t errlen);
/* After smtp_shutdown: let running steps finish (their sessions are gone), free it all. */
void smtp_auth_shutdown(struct smtp_ctx *ctx);

/* Bind every "listen" of ctx->conf and start accepting. 0, or -1 with err set. */
int smtp_listen(struct smtp_ctx *ctx, char *err, size_t errlen);

/* Reload: make the listeners match the "listen" lines of conf. The new addresses are bound
 * first; if one fails, nothing changes (-1, err set). Then listeners whose address is gone are
 * closed; unchanged ones keep their socket (and take the new role). Counts in *added and
 * *removed. Call before ctx->conf is switched to conf; conf is only read, not kept. */
int smtp_listen_update(struct smtp_ctx *ctx, const struct conf *conf, unsigned *added,
		       unsigned *removed, char *err, size_t errlen);

/* Graceful stop (SIGTERM): close the listeners; idle sessions get "421 4.3.2 Service shutting
 * down" and close; a session inside a transaction may finish it, and the reply to its next
 * command after that is the 421. on_drained(drained_arg) runs once no session is left (at once
 * if there is none); smtp_shutdown then cuts whatever is left when the grace ends. */
void smtp_drain(struct smtp_ctx *ctx);

/* Stop accepting and close every session (shutdown, or the end of the grace). */
void smtp_shutdown(struct smtp_ctx *ctx);

#endif
