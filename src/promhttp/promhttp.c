/* promhttp.c — the scrape endpoint of promhttp.h: libmicrohttpd with external epoll, glued to a
 * libevent loop. */
#include "promhttp.h"

#include "../conf/conf.h"
#include "../util/util.h"

#include <event2/event.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMHTTP_PATH "/metrics"
#define PROMHTTP_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROMHTTP_BACKLOG 16
#define PROMHTTP_MAX_CONNECTIONS 8  /* scrapers at once; more are refused at accept */
#define PROMHTTP_TIMEOUT 10	    /* seconds a connection may stay idle */
#define PROMHTTP_MEMORY (32 * 1024) /* per connection: request line and headers */

struct promhttp {
	struct event_base *base;
	struct MHD_Daemon *daemon;
	struct event *ev_io, *ev_timer;
	int closed; /* a connection closed during the last MHD_run */
	promhttp_render_fn render;
	void *arg;
	char log_what[64]; /* "WHO: http", for libmicrohttpd's messages */
};

/* ---- the requests ---- */

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

static enum MHD_Result scrape(struct promhttp *h, struct MHD_Connection *conn)
{
	size_t n = 0;
	char *body = h->render(h->arg, &n);
	if (!body)
		return MHD_NO;
	struct MHD_Response *r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
	if (!r)
		free(body);
	return reply(conn, MHD_HTTP_OK, r, PROMHTTP_CONTENT_TYPE);
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
	if (strcmp(url, PROMHTTP_PATH) != 0)
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
static void http_schedule(struct promhttp *h)
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
	struct promhttp *h = arg;
	(void)fd, (void)what;
	MHD_run(h->daemon);
	http_schedule(h);
}

static void http_notify(void *arg, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	struct promhttp *h = arg;
	(void)conn, (void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		h->closed = 1;
}

static void http_log(void *arg, const char *fmt, va_list ap)
{
	log_library(((struct promhttp *)arg)->log_what, fmt, ap);
}

/* The daemon takes the listening socket: MHD_stop_daemon closes it. (A failed start ends the
 * program, so the socket's fate inside a failed MHD_start_daemon does not matter.) */
static struct MHD_Daemon *daemon_start(struct promhttp *h, int fd)
{
	return MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, http_access, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, (void *)h, MHD_OPTION_LISTEN_SOCKET,
	    (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)PROMHTTP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)PROMHTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PROMHTTP_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, http_notify, (void *)h, MHD_OPTION_END);
}

static int http_events(struct promhttp *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return -1;
	h->ev_io = event_new(h->base, info->epoll_fd, EV_READ | EV_PERSIST, http_run_cb, h);
	h->ev_timer = evtimer_new(h->base, http_run_cb, h);
	if (!h->ev_io || !h->ev_timer || event_add(h->ev_io, NULL) < 0)
		return -1;
	http_schedule(h);
	return 0;
}

struct promhttp *promhttp_start(struct event_base *base, const struct conf_listen *cl,
				const char *directive, const char *who, promhttp_render_fn render,
				void *arg, char *err, size_t errlen)
{
	struct promhttp *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "%s %s: out of memory", directive, cl->text);
		return NULL;
	}
	*h = (struct promhttp){.base = base, .render = render, .arg = arg};
	snprintf(h->log_what, sizeof(h->log_what), "%s: http", who);
	int fd = util_tcp_listen((const struct sockaddr *)&cl->addr, cl->addrlen, 1,
				 PROMHTTP_BACKLOG, directive, cl->text, err, errlen);
	if (fd < 0) {
		free(h);
		return NULL;
	}
	if (!(h->daemon = daemon_start(h, fd))) {
		snprintf(err, errlen, "%s %s: cannot start the HTTP server", directive, cl->text);
		promhttp_stop(h);
		return NULL;
	}
	if (http_events(h) < 0) {
		snprintf(err, errlen, "%s %s: cannot watch the HTTP server", directive, cl->text);
		promhttp_stop(h);
		return NULL;
	}
	char what[80];
	snprintf(what, sizeof(what), "%s: listening", who);
	log_msg(LOG_INFO, what, "listen=%s path=%s", cl->text, PROMHTTP_PATH);
	return h;
}

void promhttp_stop(struct promhttp *h)
{
	if (!h)
		return;
	if (h->ev_io)
		event_free(h->ev_io);
	if (h->ev_timer)
		event_free(h->ev_timer);
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	free(h);
}
