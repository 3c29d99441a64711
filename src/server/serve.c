/* serve.c — the server context and its event loop. All mutable state of a running server is in
 * struct server; nothing is global. */
#include "server.h"

#include "../conf/conf.h"
#include "../deliver/deliver.h"
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

#define LOCAL_RETRY_SECONDS 60 /* a failed Maildir delivery (disk full, permissions) */

struct delivery;

struct server {
	struct conf *conf;
	struct event_base *base;
	struct spool *spool;
	struct workq *workq;
	struct smtp_ctx smtp;
	struct event *ev_spool, *ev_workq, *ev_term, *ev_int;
	struct delivery *deferred; /* waiting for their retry timer */
	unsigned long delivered, failed;
};

struct delivery {
	struct server *srv;
	struct spool_msg *msg;
	size_t idx;
	int status;
	char err[256];
	struct event *retry;
	struct delivery *prev, *next; /* in srv->deferred while waiting */
};

/* Maildir file name "<time>.Q<qid>R<idx>.<host>": unique, and the same on every attempt, so a
 * redelivery after a crash can see that the first one happened. */
static void delivery_name(const struct delivery *d, char *buf, size_t len)
{
	char host[256];
	size_t o = 0;
	for (const char *h = d->srv->conf->hostname; *h && o + 1 < sizeof(host); h++)
		host[o++] = (*h == '/' || *h == ':') ? '_' : *h;
	host[o] = '\0';
	snprintf(buf, len, "%" PRId64 ".Q%sR%zu.%s", d->msg->env.time, d->msg->qid, d->idx, host);
}

/* Runs on a worker thread: touches only d, the immutable config and the message's body. */
static void delivery_work(void *arg)
{
	struct delivery *d = arg;
	const struct spool_msg *m = d->msg;
	const struct spool_rcpt *r = &m->env.rcpts[d->idx];
	char name[512], prefix[2048];
	int n = snprintf(prefix, sizeof(prefix), "Return-Path: <%s>\nDelivered-To: %s\n",
			 m->env.from, r->addr);
	struct deliver_body body = {m->fd, m->body_off, m->body_len};
	delivery_name(d, name, sizeof(name));
	if (n < 0 || (size_t)n >= sizeof(prefix)) {
		snprintf(d->err, sizeof(d->err), "header too long");
		d->status = -1;
		return;
	}
	d->status = maildir_deliver(d->srv->conf->mail_root, r->user, name, prefix, (size_t)n,
				    &body, m->recovered, d->err, sizeof(d->err));
}

static void delivery_submit(struct delivery *d);

static void delivery_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	(void)fd;
	(void)what;
	if (d->prev)
		d->prev->next = d->next;
	else
		d->srv->deferred = d->next;
	if (d->next)
		d->next->prev = d->prev;
	event_free(d->retry);
	d->retry = NULL;
	delivery_submit(d);
}

static void delivery_defer(struct delivery *d)
{
	struct timeval tv = {LOCAL_RETRY_SECONDS, 0};
	d->retry = evtimer_new(d->srv->base, delivery_retry_cb, d);
	if (!d->retry) {
		log_msg(LOG_ERR, "deliver: cannot schedule retry (message stays queued)",
			"qid=%s", d->msg->qid);
		free(d);
		return;
	}
	d->prev = NULL;
	d->next = d->srv->deferred;
	if (d->next)
		d->next->prev = d;
	d->srv->deferred = d;
	evtimer_add(d->retry, &tv);
}

/* Back in the loop thread. */
static void delivery_done(void *arg)
{
	struct delivery *d = arg;
	struct server *srv = d->srv;
	const struct spool_rcpt *r = &d->msg->env.rcpts[d->idx];
	if (d->status < 0) {
		srv->failed++;
		log_msg(LOG_WARN, "deliver: maildir failed, will retry",
			"qid=%s to=<%s> user=%s error=\"%s\" retry=%ds", d->msg->qid, r->addr,
			r->user, d->err, LOCAL_RETRY_SECONDS);
		delivery_defer(d);
		return;
	}
	srv->delivered++;
	log_msg(LOG_INFO, "deliver: delivered", "qid=%s to=<%s> user=%s method=maildir%s",
		d->msg->qid, r->addr, r->user, d->msg->recovered ? " recovered=yes" : "");
	spool_rcpt_done(srv->spool, d->msg, d->idx);
	free(d);
}

static void delivery_submit(struct delivery *d)
{
	if (workq_submit(d->srv->workq, delivery_work, delivery_done, d) < 0) {
		d->status = -1;
		snprintf(d->err, sizeof(d->err), "out of memory");
		delivery_defer(d);
	}
}

/* The spool made a message durable (or found it at start): deliver its local recipients;
 * relayed ones stay queued until remote delivery exists. */
static void on_queued(void *arg, struct spool_msg *msg)
{
	struct server *srv = arg;
	for (size_t i = 0; i < msg->env.n_rcpts; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[i];
		if (r->done)
			continue;
		if (!r->user) {
			log_msg(LOG_INFO, "queue: held for relay (remote delivery not available)",
				"qid=%s to=<%s> rule=%s", msg->qid, r->addr, r->rule);
			continue;
		}
		struct delivery *d = calloc(1, sizeof(*d));
		if (!d) {
			log_msg(LOG_ERR, "deliver: out of memory (message stays queued)", "qid=%s",
				msg->qid);
			continue;
		}
		d->srv = srv;
		d->msg = msg;
		d->idx = i;
		delivery_submit(d);
	}
}

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
	srv->ev_spool = event_new(srv->base, spool_notify_fd(srv->spool), EV_READ | EV_PERSIST,
				  spool_cb, srv);
	srv->ev_workq = event_new(srv->base, workq_notify_fd(srv->workq), EV_READ | EV_PERSIST,
				  workq_cb, srv);
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
	while (srv->deferred) {
		struct delivery *d = srv->deferred;
		srv->deferred = d->next;
		event_free(d->retry);
		free(d);
	}
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
	if (spool_open(c->spool_dir, c->spool_segment_size, on_queued, srv, &srv->spool, err,
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
	log_msg(LOG_INFO, "server: stopped", "delivered=%lu failed_attempts=%lu", srv.delivered,
		srv.failed);
	server_free(&srv);
	return 0;
}
