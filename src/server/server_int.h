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
};

/* local.c: delivery of local recipients */
void local_on_queued(void *arg, struct spool_msg *msg);
void local_shutdown(struct server *srv);

/* metrics_http.c: GET /metrics on metrics-listen, served from the event loop (libmicrohttpd
 * without a thread). start: 0 (also when metrics-listen is absent), or -1 with err set. */
int metrics_http_start(struct server *srv, char *err, size_t errlen);
void metrics_http_stop(struct server *srv);

#endif
