/* metrics_http.c — the metrics endpoint: GET /metrics in the Prometheus text format on the
 * metrics-listen address. HTTP is libmicrohttpd's, run inside the server's event loop with no
 * thread of its own: its epoll fd is watched by libevent, its timeouts by a libevent timer. */
#include "server_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define METRICS_PATH "/metrics"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_HTTP_BACKLOG 16
#define METRICS_HTTP_MAX_CONNECTIONS 8	/* scrapers at once; more are refused at accept */
#define METRICS_HTTP_TIMEOUT 10		/* seconds a connection may stay idle */
#define METRICS_HTTP_MEMORY (32 * 1024) /* per connection: request line and headers */

struct metrics_http {
	struct server *srv;
	struct MHD_Daemon *daemon;
	struct event *ev_io, *ev_timer;
	int closed; /* a connection closed during the last MHD_run */
};

/* ---- the scrape ---- */

struct queue_scan {
	struct metrics_queue q;
	int64_t oldest; /* arrival time of the oldest message, when q.messages > 0 */
};

static void queue_count(void *arg, const struct spool_msg *m)
{
	struct queue_scan *s = arg;
	if (s->q.messages == 0 || m->env.time < s->oldest)
		s->oldest = m->env.time;
	s->q.messages++;
	s->q.recipients += m->pending;
	s->q.held += m->held != 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r,
			     const char *type)
{
	if (!r)
		return MHD_NO; /* out of memory: MHD closes the connection */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result scrape(struct metrics_http *h, struct MHD_Connection *conn)
{
	struct queue_scan scan = {0};
	spool_foreach(h->srv->spool, queue_count, &scan);
	int64_t now = (int64_t)time(NULL);
	if (scan.q.messages > 0 && now > scan.oldest)
		scan.q.oldest_age = (uint64_t)(now - scan.oldest);
	size_t n = metrics_format(&h->srv->metrics, &scan.q, NULL, 0);
	char *body = malloc(n + 1);
	if (!body)
		return MHD_NO;
	metrics_format(&h->srv->metrics, &scan.q, body, n + 1);
	struct MHD_Response *r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
	if (!r)
		free(body);
	return reply(conn, MHD_HTTP_OK, r, METRICS_CONTENT_TYPE);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text,
				  const char *allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r && allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return reply(conn, status, r, "text/plain; charset=utf-8");
}

/* Every request: /metrics by GET (or HEAD), 404 for another path, 405 for another method. A
 * request body is never read: the reply is queued at once and MHD closes the connection. */
static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	(void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
	if (strcmp(url, METRICS_PATH) != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 not found: try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
				  "GET, HEAD");
	return scrape(cls, conn);
}

/* ---- the event loop glue ---- */

/* Re-arm the timer: when MHD asks for it, and at once after a connection closed. At the
 * connection limit MHD takes its listening socket out of its epoll set and puts it back only
 * at the start of its next run, so without that extra run a client waiting in the listen queue
 * would never be accepted (nothing else makes the epoll fd readable). */
static void http_schedule(struct metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	if (!h->closed && MHD_get_timeout(h->daemon, &ms) != MHD_YES) {
		evtimer_del(h->ev_timer);
		return;
	}
	h->closed = 0;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(h->ev_timer, &tv);
}

/* The epoll fd is readable or a timeout is due: let MHD do its work, then re-arm the timer
 * (MHD's timeout is 0 when it still has ready connections it did not get to). */
static void http_run_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http *h = arg;
	(void)fd, (void)what;
	MHD_run(h->daemon);
	http_schedule(h);
}

static void http_notify(void *arg, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	struct metrics_http *h = arg;
	(void)conn, (void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		h->closed = 1;
}

static void http_log(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	log_library("metrics: http", fmt, ap);
}

static int open_socket(const struct conf_listen *cl, char *err, size_t errlen)
{
	return util_tcp_listen((const struct sockaddr *)&cl->addr, cl->addrlen, 1,
			       METRICS_HTTP_BACKLOG, "metrics-listen", cl->text, err, errlen);
}

/* The daemon takes the listening socket: MHD_stop_daemon closes it. (A failed start ends the
 * server, so the socket's fate inside a failed MHD_start_daemon does not matter.) */
static struct MHD_Daemon *daemon_start(struct metrics_http *h, int fd)
{
	return MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, http_access, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, (void *)NULL, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, http_notify, (void *)h, MHD_OPTION_END);
}

static int http_events(struct metrics_http *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return -1;
	struct event_base *base = h->srv->base;
	h->ev_io = event_new(base, info->epoll_fd, EV_READ | EV_PERSIST, http_run_cb, h);
	h->ev_timer = evtimer_new(base, http_run_cb, h);
	if (!h->ev_io || !h->ev_timer || event_add(h->ev_io, NULL) < 0)
		return -1;
	http_schedule(h);
	return 0;
}

int metrics_http_start(struct server *srv, char *err, size_t errlen)
{
	const struct conf_listen *cl = srv->conf->metrics_listen;
	if (!cl)
		return 0;
	struct metrics_http *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "metrics-listen %s: out of memory", cl->text);
		return -1;
	}
	h->srv = srv;
	srv->http = h;
	int fd = open_socket(cl, err, errlen);
	if (fd < 0)
		return -1;
	h->daemon = daemon_start(h, fd);
	if (!h->daemon) {
		snprintf(err, errlen, "metrics-listen %s: cannot start the HTTP server", cl->text);
		return -1;
	}
	if (http_events(h) < 0) {
		snprintf(err, errlen, "metrics-listen %s: cannot watch the HTTP server", cl->text);
		return -1;
	}
	log_msg(LOG_INFO, "metrics: listening", "listen=%s path=%s", cl->text, METRICS_PATH);
	return 0;
}

void metrics_http_stop(struct server *srv)
{
	struct metrics_http *h = srv->http;
	if (!h)
		return;
	if (h->ev_io)
		event_free(h->ev_io);
	if (h->ev_timer)
		event_free(h->ev_timer);
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	free(h);
	srv->http = NULL;
}
