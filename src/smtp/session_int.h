/* session_int.h — the SMTP session and its transaction, shared by the files of src/smtp. */
#ifndef RG_SMTP_SESSION_INT_H
#define RG_SMTP_SESSION_INT_H

#include "smtp.h"
#include "parse.h"
#include "peers.h"
#include "pressure.h"
#include "../addr/addr.h"
#include "../policy/policy.h"
#include "../tls/tls.h"

#include <netinet/in.h>
#include <stddef.h>
#include <time.h>

struct evbuffer;

#define SMTP_OUT_MAX (64 * 1024)    /* replies queued for a client that does not read */
#define SMTP_DATA_CHUNK (16 * 1024) /* DATA bytes handled per step */
/* A command line past the limit is dropped up to its LF; one that has not ended after this
 * many bytes is a client sending garbage without end: 500 and close, instead of reading on. */
#define SMTP_DISCARD_MAX (1024 * 1024)

enum smtp_state {
	SMTP_STATE_GREETING, /* greeting-delay running: the client must not talk yet */
	SMTP_STATE_COMMAND,
	SMTP_STATE_DATA,
	SMTP_STATE_COMMIT,     /* waiting for the spool; input is not read */
	SMTP_STATE_CLOSING,    /* final reply queued; freed once it is written */
	SMTP_STATE_STARTTLS,   /* "220 Ready to start TLS" queued; TLS starts once it is written */
	SMTP_STATE_AUTH,       /* a 334 challenge is out: the next line is the client's response */
	SMTP_STATE_AUTH_WAIT,  /* an AUTH step on the worker, or a failure delay: input not read */
	SMTP_STATE_RCPT_WAIT,  /* a RCPT's greylist check at the abuse store: input not read */
	SMTP_STATE_LIMIT_WAIT, /* a rate-limit check at the abuse store (connect, MAIL, RCPT,
				  AUTH): input not read */
	SMTP_STATE_DNSBL_WAIT, /* a RCPT waits for the DNS list lookups: input not read, the RCPT
				  line stays in the input and is handled again after them */
};

/* Client lines up to this many octets are read (RFC 4954 4: AUTH lines of 12288 octets, the
 * initial response included); any other command longer than limit line-length still gets
 * 500 5.5.6. */
#define SMTP_AUTH_LINE_MAX 12288

/* The transaction: born at MAIL, dies at RSET, EHLO or the end of DATA. */
struct smtp_tx {
	struct addr_path from;
	struct smtp_mail_params params;
	struct spool_env env; /* recipients accepted so far */
	struct spool_stage *stage;
	struct smtp_data data;
	char first_rcpt[ADDR_PATH_MAX * 4];
	int utf8_addr;	      /* some address needed SMTPUTF8 */
	unsigned rcpt_tries;  /* RCPT commands seen, accepted or not */
	int user_msg_counted; /* a relayed RCPT passed: the message counts for user-messages-* */
	int stage_failed;     /* writing the body to the stage failed (disk full?) */
	char dnsbl_tag[DNSBL_REPLY_MAX + 32]; /* dnsbl-action tag: the X-relayguard-DNSBL value */
};

struct smtp_session {
	struct smtp_ctx *ctx;
	struct conf *conf; /* the config the session started with (a reference): a reload does
			      not change the rules under a client in the middle of a dialogue */
	struct bufferevent *bev;
	struct smtp_session *prev, *next;
	uint64_t id;
	char ip[INET6_ADDRSTRLEN];
	struct policy_client client;
	char login[256]; /* the SMTP AUTH identity, "" when not authenticated */
	char helo[256];
	int esmtp;
	enum smtp_state state;
	int discarding; /* dropping the rest of a too-long line */
	unsigned errors;
	struct smtp_tx *tx;
	struct spool_commit *commit;
	struct event *greet;	     /* greeting-delay timer */
	SSL *tls;		     /* the TLS connection (owned by bev), NULL = plaintext */
	struct conf_listen listener; /* a copy of the listener the session came in on */
	char tls_info[128];	     /* "TLSv1.3 TLS_AES_256_GCM_SHA384" once established, or "" */
	SSL_CTX *tls_ctx; /* the certificate the session started with (a reference), or NULL */
	struct smtp_auth *auth; /* the AUTH exchange under way, or NULL */
	unsigned auth_failures; /* failed AUTH commands in this session */
	/* Set when a DNS allow-list (DNSWL: a dnsbl with a negative weight) lists the client
	 * (rcpt_dnsbl, at each RCPT): greylisting never applies to it. */
	int dnswl_listed;
	struct smtp_greylist *greylist;	  /* the RCPT's greylist check under way, or NULL */
	struct smtp_ratelimit *ratelimit; /* the rate-limit check under way, or NULL */
	struct dnsbl_check *dnsbl;	  /* the DNS list lookups of the client, or NULL */
	/* the last verdict (its strings back a RCPT reply); allocated at the first RCPT that
	 * consults the lists (1.3 KB most sessions never need), freed with the session */
	struct dnsbl_verdict *dnsbl_v;
	int peer_counted; /* counted in ctx->peers (to be removed at free) */
	/* when the command line now arriving began (the loop's clock, seconds; 0 = none): a line
	 * must end within limit command-timeout, however slowly its bytes trickle in (the
	 * bufferevent's timeout alone is reset by every byte: slowloris) */
	time_t line_since;
	size_t discarded; /* bytes of the too-long line dropped so far */
};

/* session.c */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Count an error reply; past the limit, say 421 and close. Returns -1 if now closing. */
int smtp_error(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtp_close(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<addr>" as one log value (quoted when needed, so client text cannot forge fields). */
const char *smtp_log_addr(const struct addr_path *a, char *buf, size_t len);
void smtp_session_start(struct smtp_ctx *ctx, int fd, const struct sockaddr *peer,
			const struct sockaddr *local, const struct conf_listen *listener);
void smtp_session_free(struct smtp_session *s);
/* Callbacks, input bound and timeout on s->bev, reading and writing on (a new bufferevent:
 * at start, or the TLS one after STARTTLS). */
void smtp_session_attach(struct smtp_session *s);
/* Graceful stop: an idle session gets 421 and closes; one inside a transaction goes on. */
void smtp_session_drain(struct smtp_session *s);
/* The end of the shutdown grace: 421 if it can be written at once, then free. */
void smtp_session_cut(struct smtp_session *s);
void smtp_tx_free(struct smtp_tx *tx);

/* Switch the idle timeout between command (data = 0) and DATA (data = 1) values. */
void smtp_session_set_data_timeout(struct smtp_session *s, int data);
/* Read and process input again after the spool answered a commit. */
void smtp_session_resume(struct smtp_session *s);

/* tls.c (session side) */
/* STARTTLS may be given: a certificate is configured and the session is not in TLS yet. The
 * one predicate for the EHLO keyword and the command. */
int smtp_tls_offered(const struct smtp_session *s);
/* After "220 Ready to start TLS" was written: drop the plaintext input, go on inside TLS. */
void smtp_tls_switch(struct smtp_session *s);
/* An implicit-TLS listener: wrap the new connection before the banner. 0 or -1. */
int smtp_tls_wrap_new(struct smtp_session *s, int fd);
/* The bufferevent's events while TLS is being negotiated or after: handshake done (logs),
 * failed (logs, 1 = the caller frees the session). */
int smtp_tls_event(struct smtp_session *s, short what);
/* Graceful end of a TLS connection (close_notify, non-blocking, best effort). */
void smtp_tls_close(struct smtp_session *s);
/* Shutdown cut: what out holds, encrypted straight to the socket (non-blocking, best effort). */
void smtp_tls_send_now(struct smtp_session *s, struct evbuffer *out);

/* auth.c: SMTP AUTH (RFC 4954) */
/* AUTH may be given: the listener offers it, the session is under TLS, not yet authenticated,
 * and SASL is up. The one predicate for the EHLO keyword and the command. */
int smtp_auth_offered(const struct smtp_session *s);
/* The EHLO keyword's mechanism list for this session ("SCRAM-SHA-256-PLUS SCRAM-SHA-256 ..."). */
const char *smtp_auth_mechs(const struct smtp_session *s);
/* AUTH mech [initial-response]: the command (state checks done by the caller). */
void smtp_auth_command(struct smtp_session *s, const char *arg, size_t len);
/* A line in SMTP_STATE_AUTH: the client's response to a 334. */
void smtp_auth_response(struct smtp_session *s, const char *line, size_t len);
/* The session is being freed: a step running on the worker finishes on its own. */
void smtp_auth_detach(struct smtp_session *s);

/* The client is never judged by DNS lists: authenticated, or in a trusted network. */
int smtp_dnsbl_exempt(const struct smtp_session *s);

/* commands.c */
void smtp_command(struct smtp_session *s, const char *line, size_t len);
/* Log and count one RCPT verdict (rule ID, accept or reject). */
void smtp_rcpt_verdict(struct smtp_session *s, const char *to, const struct policy_verdict *v);
/* An accepted recipient: log, count, add to the envelope, reply v->reply. */
void smtp_rcpt_accept(struct smtp_session *s, const char *to, const struct policy_verdict *v,
		      unsigned notify, const char *orcpt, int utf8);

/* greylist.c: greylisting at RCPT (RFC 6647) */
/* Greylisting is on, the store is open, and the session is not exempt (authenticated,
 * trusted network, DNSWL-listed). */
int smtp_greylist_applies(const struct smtp_session *s);
/* Check the triplet; the session waits (SMTP_STATE_RCPT_WAIT) and the answer — 451, or the
 * accept of v — comes from the store's callback. 0, or -1 when the check could not start
 * (the caller accepts: greylisting fails open). */
int smtp_greylist_start(struct smtp_session *s, const struct addr_path *rcpt, const char *to,
			const struct policy_verdict *v, unsigned notify, const char *orcpt);
/* The session is being freed: a check under way finishes on its own. */
void smtp_greylist_detach(struct smtp_session *s);

/* ratelimit.c: rate limits and the circuit breaker (docs/operations.md "Rate limits") */
/* Each returns 1 when a check at the abuse store started (the session waits in
 * SMTP_STATE_LIMIT_WAIT and the answer comes later: the greeting, "250 2.1.0 Ok", the RCPT's
 * greylisting or accept, the AUTH's 235), 0 when nothing is to check (the caller goes on), and
 * smtp_ratelimit_connect -1 when it refused the session (closing). */
int smtp_ratelimit_connect(struct smtp_session *s);
int smtp_ratelimit_mail(struct smtp_session *s);
int smtp_ratelimit_rcpt(struct smtp_session *s, const struct addr_path *rcpt, const char *to,
			const struct policy_verdict *v, unsigned notify, const char *orcpt);
int smtp_ratelimit_auth(struct smtp_session *s, const char *login);
/* The session is being freed: a check under way finishes on its own. */
void smtp_ratelimit_detach(struct smtp_session *s);
/* session.c: the banner (or the greeting-delay timer), after the connect checks */
void smtp_session_greet(struct smtp_session *s);
/* auth.c: the end of an AUTH whose credentials were right, after the circuit breaker's check:
 * 235 and s->login set, 535 5.7.8 (the login is tripped), or 454 4.7.0 (the store failed and
 * ratelimit-on-store-error is tempfail). */
enum smtp_auth_outcome { SMTP_AUTH_GRANT, SMTP_AUTH_LOCKED, SMTP_AUTH_TEMPFAIL };
void smtp_auth_finish(struct smtp_session *s, enum smtp_auth_outcome outcome);
/* commands.c: after the RCPT's rate limits passed: greylisting, then the accept */
void smtp_rcpt_continue(struct smtp_session *s, const struct addr_path *rcpt, const char *to,
			const struct policy_verdict *v, unsigned notify, const char *orcpt);

/* data.c (session side) */
void smtp_data_begin(struct smtp_session *s);
void smtp_data_input(struct smtp_session *s);

#endif
