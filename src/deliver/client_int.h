/* client_int.h — the outbound SMTP/LMTP session, shared by client.c (connections, targets,
 * timeouts, I/O), client_proto.c (the dialogue) and client_tls.c (STARTTLS). */
#ifndef RG_DELIVER_CLIENT_INT_H
#define RG_DELIVER_CLIENT_INT_H

#include "deliver.h"

#include <event2/bufferevent.h>
#include <event2/event.h>

#define DELIVER_BODY_CHUNK 65536 /* bytes read from the spool per pread */
/* Refill the body once the output buffer has drained below this. */
#define DELIVER_BODY_LOW_WATER (DELIVER_BODY_CHUNK / 2)

/* Where the session is; the stage names in client.c follow this order. */
enum client_state {
	CS_START,    /* not connected yet (a zero timer starts the first target) */
	CS_CONNECT,  /* TCP connect in progress */
	CS_GREETING, /* waiting for 220 */
	CS_EHLO,     /* EHLO or LHLO sent */
	CS_HELO,     /* HELO sent after EHLO got 5xx */
	CS_STARTTLS, /* STARTTLS sent */
	CS_TLS,	     /* TLS handshake */
	CS_MAIL,     /* MAIL sent: from here on, stay with this host */
	CS_RCPT,     /* waiting for RCPT replies */
	CS_DATA,     /* DATA sent, waiting for 354 */
	CS_BODY,     /* streaming the body */
	CS_DOT,	     /* final dot sent, waiting for the reply (LMTP: one per accepted rcpt) */
	CS_QUIT,     /* outcome known; QUIT sent, skipping outstanding replies */
	CS_DONE,     /* closed; a zero timer calls done */
};

struct deliver_session {
	struct event_base *base;
	const struct deliver_client_conf *cc;
	const struct deliver_target *targets;
	size_t n_targets, ti; /* ti: the target in use (or next to try) */
	struct deliver_msg *msg;
	deliver_done_fn done;
	void *arg;

	struct bufferevent *bev; /* the connection (a TLS filter over the socket once TLS is on) */
	struct event *timer;	 /* the deadline of the current step; also the zero timer */
	enum client_state state;
	unsigned conn_gen;	  /* bumped whenever a connection closes: stale callbacks stop */
	int tls_on;		  /* this connection is encrypted */
	struct deliver_ehlo ehlo; /* what this server offered */

	unsigned pending;	 /* replies still to come for commands sent */
	size_t rcpt_i;		 /* the recipient whose RCPT (or LMTP final) reply comes next */
	size_t n_accepted;	 /* recipients whose RCPT got 2xx */
	unsigned char *accepted; /* per recipient */

	struct deliver_encoder enc;
	uint64_t body_done; /* body bytes read from the spool so far */
	char *chunk;	    /* DELIVER_BODY_CHUNK bytes */

	struct deliver_result res;
};

/* client.c */
/* Arm the deadline of the current step (seconds). */
void client_deadline(struct deliver_session *s, unsigned seconds);
/* Queue one command line (CR LF added) on the connection. */
void client_send(struct deliver_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Record why the attempt (or this host) failed: a reply, or a local error text. */
void client_note_reply(struct deliver_session *s, const struct deliver_reply *r);
void client_note(struct deliver_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Before MAIL: this host failed (the reason noted); close it and go on with the next target. */
void client_next_target(struct deliver_session *s);
/* The attempt's outcome is known: say QUIT (replies still pending are read and skipped), or
 * close at once when the connection is unusable (quit == 0). */
void client_outcome(struct deliver_session *s, enum deliver_status st, int quit);
/* A local error (text): before MAIL the next target, in the transaction TEMPFAIL; once the
 * outcome is known (QUIT) just the end, the outcome's reason kept. */
void client_fail(struct deliver_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Connection callbacks on a new bufferevent (after the TLS filter was put on). */
void client_set_callbacks(struct deliver_session *s);
/* The name of the step a state belongs to, for "timeout after RCPT". */
const char *client_stage(enum client_state st);

/* client_proto.c */
/* Handle one complete reply (for EHLO, s->ehlo is already parsed from it). */
void client_on_reply(struct deliver_session *s, const struct deliver_reply *r);
/* The connection is ready for more body bytes. */
void client_body_fill(struct deliver_session *s);
/* Say EHLO (LHLO) — after the greeting, and again once TLS is on. */
void client_send_ehlo(struct deliver_session *s);

/* client_tls.c */
/* STARTTLS got 220: put a TLS client filter over the connection and start the handshake.
 * Returns 0, or -1 with the reason in err. */
int client_tls_start(struct deliver_session *s, char *err, size_t errlen);
/* The handshake finished: record version and cipher in res.tls. */
void client_tls_record(struct deliver_session *s);
/* The reason of a failed handshake, from OpenSSL's error queue of this connection. */
void client_tls_error(struct deliver_session *s, char *err, size_t errlen);

#endif
