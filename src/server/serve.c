/* serve.c — the server context and its event loop. All mutable state of a running server is in
 * struct server; nothing is global. */
#include "server_int.h"

#include "../conf/conf.h"
#include "../queue/queue.h"
#include "../smtp/smtp.h"
#include "../util/util.h"
#include "../util/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void spool_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd, (void)what;
	spool_run_completions(srv->spool);
}

static void workq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd, (void)what;
	workq_run_completions(srv->workq);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	(void)what;
	log_msg(LOG_INFO, "server: stopping", "signal=%d", (int)sig);
	event_base_loopbreak(srv->base);
}

static int server_events(struct server *srv)
{
	srv->ev_spool =
	    event_new(srv->base, spool_notify_fd(srv->spool), EV_READ | EV_PERSIST, spool_cb, srv);
	srv->ev_workq =
	    event_new(srv->base, workq_notify_fd(srv->workq), EV_READ | EV_PERSIST, workq_cb, srv);
	srv->ev_term = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->ev_int = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	if (!srv->ev_spool || !srv->ev_workq || !srv->ev_term || !srv->ev_int)
		return -1;
	event_add(srv->ev_spool, NULL);
	event_add(srv->ev_workq, NULL);
	event_add(srv->ev_term, NULL);
	event_add(srv->ev_int, NULL);
	return 0;
}

static void server_free(struct server *srv)
{
	smtp_shutdown(&srv->smtp);
	if (srv->workq) {
		workq_stop(srv->workq); /* deliveries under way finish and are recorded */
		workq_run_completions(srv->workq);
		workq_destroy(srv->workq);
	}
	local_shutdown(srv);
	spool_close(srv->spool);
	struct event *evs[] = {srv->ev_spool, srv->ev_workq, srv->ev_term, srv->ev_int};
	for (size_t i = 0; i < 4; i++)
		if (evs[i])
			event_free(evs[i]);
	if (srv->base)
		event_base_free(srv->base);
	conf_free(srv->conf);
}

static int server_start(struct server *srv, const char *conf_path, char *err, size_t errlen)
{
	if (conf_load(conf_path, &srv->conf, err, errlen) < 0)
		return -1;
	const struct conf *c = srv->conf;
	srv->base = event_base_new();
	srv->workq = workq_create(c->delivery_workers);
	if (!srv->base || !srv->workq) {
		snprintf(err, errlen, "cannot create the event loop or delivery threads");
		return -1;
	}
	if (spool_open(c->spool_dir, c->spool_segment_size, local_on_queued, srv, &srv->spool, err,
		       errlen) < 0)
		return -1;
	if (server_events(srv) < 0) {
		snprintf(err, errlen, "cannot register events");
		return -1;
	}
	srv->smtp.conf = c;
	srv->smtp.base = srv->base;
	srv->smtp.spool = srv->spool;
	if (smtp_listen(&srv->smtp, err, errlen) < 0)
		return -1;
	long pending = spool_recover(srv->spool, err, errlen);
	if (pending < 0)
		return -1;
	log_msg(LOG_INFO, "server: started", "config=%s hostname=%s spool=%s recovered=%ld",
		c->path, c->hostname, c->spool_dir, pending);
	return 0;
}

int server_run(const char *conf_path)
{
	struct server srv;
	char err[1024];
	memset(&srv, 0, sizeof(srv));
	signal(SIGPIPE, SIG_IGN);
	if (server_start(&srv, conf_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		server_free(&srv);
		return 1;
	}
	event_base_dispatch(srv.base);
	uint64_t commits, syncs;
	spool_stats(srv.spool, &commits, &syncs);
	log_msg(LOG_INFO, "server: stopped",
		"queued=%" PRIu64 " spool_fdatasyncs=%" PRIu64 " delivered=%lu failed_attempts=%lu "
		"maildir_dir_fsyncs=%lu",
		commits, syncs, srv.delivered, srv.failed, srv.dirsync_calls);
	server_free(&srv);
	return 0;
}
