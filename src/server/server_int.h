/* server_int.h — the running server's context, shared by the files of src/server. */
#ifndef RG_SERVER_INT_H
#define RG_SERVER_INT_H

#include "server.h"

#include "../conf/conf.h"
#include "../queue/queue.h"
#include "../smtp/smtp.h"
#include "../util/metrics.h"
#include "../util/workq.h"

#include <stddef.h>

struct delivery;
struct dirsync;
struct metrics_http;
struct dest;
struct dns_resolver;
typedef struct ssl_ctx_st SSL_CTX;

/* Outbound delivery (remote.c). */
struct remote {
	struct dns_resolver *dns;
	SSL_CTX *tls;	    /* client context for opportunistic STARTTLS */
	struct dest *dests; /* next hops seen so far */
	unsigned active;    /* sessions running, all destinations */
	struct event *kick; /* runs the destinations' ready jobs from the loop */
};

struct server {
	struct conf *conf;
	struct event_base *base;
	struct spool *spool;
	struct workq *workq;
	struct smtp_ctx smtp;
	struct event *ev_spool, *ev_workq, *ev_term, *ev_int;
	struct event *ev_open_relay; /* hourly warning while open-relay-override is in force */
	size_t open_relay_tests;     /* battery tests an outside client could relay */
	struct delivery *deferred;   /* waiting for their retry timer */
	struct dirsync *dirsyncs;    /* Maildirs with renames waiting for their new/ fsync */
	unsigned long delivered, failed, dirsync_calls;
	struct metrics metrics;	   /* counters for the metrics endpoint (loop thread only) */
	struct metrics_http *http; /* the metrics-listen endpoint, or NULL */
	struct remote remote;
};

/* remote.c: the scheduler. The spool's on_queued callback; outbound SMTP/LMTP jobs, retries,
 * expiry and DSNs; and what `queue` commands do to a message. */
void sched_on_queued(void *arg, struct spool_msg *msg);
int sched_init(struct server *srv, char *err, size_t errlen);
void sched_shutdown(struct server *srv);
/* Start msg's waiting deliveries now (queue flush / release); msg NULL: every message. */
void sched_flush(struct server *srv, struct spool_msg *msg);
void sched_release(struct server *srv, struct spool_msg *msg);
/* queue hold / release: durable; 0 or -errno. */
int sched_hold(struct server *srv, struct spool_msg *msg, int held);
/* queue delete: 0 deleted, 1 deleted once the attempts under way end. */
int sched_delete(struct server *srv, struct spool_msg *msg);
/* Local delivery tells the scheduler a delivery of msg started (+1) or ended (-1). */
void sched_busy(struct server *srv, struct spool_msg *msg, int delta);
/* A local recipient was delivered: done, or a "delivered" DSN first when NOTIFY=SUCCESS asked
 * for one. Returns 1 when msg is gone. */
int sched_local_delivered(struct server *srv, struct spool_msg *msg, size_t idx);

/* Where a recipient stands, for `queue list/show`. Strings live as long as msg's state. */
struct sched_rcpt_info {
	const char *state; /* done, held, local (Maildir), deferred, waiting, connecting, sending */
	unsigned attempts; /* remote attempts so far (this run) */
	int64_t next_try;  /* deferred: epoch seconds of the next attempt */
	const char *last_error; /* the reply or error of the last deferred attempt, or "" */
	const char *relay;	/* the next hop (domain or LMTP target), or NULL */
};
void sched_rcpt_info(const struct spool_msg *msg, size_t idx, struct sched_rcpt_info *out);

/* local.c: Maildir delivery of local recipients */
void local_start(struct server *srv, struct spool_msg *msg);
/* Forget msg's deliveries that wait for a retry (queue delete). */
void local_cancel(struct server *srv, struct spool_msg *msg);
void local_shutdown(struct server *srv);

/* metrics_http.c: GET /metrics on metrics-listen, served from the event loop (libmicrohttpd
 * without a thread). start: 0 (also when metrics-listen is absent), or -1 with err set. */
int metrics_http_start(struct server *srv, char *err, size_t errlen);
void metrics_http_stop(struct server *srv);

#endif
