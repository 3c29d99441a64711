/* local.c — local delivery: a Maildir delivery per recipient on the worker pool, then one
 * fsync of new/ for every batch of deliveries into the same Maildir, then the done record
 * (through the scheduler, which owes a DSN first when NOTIFY=SUCCESS asked for one).
 * A failed attempt is retried after `delivery local-retry`; the message stays in the spool. */
#include "server_int.h"

#include "../deliver/deliver.h"
#include "../util/util.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct delivery {
	struct server *srv;
	struct conf *conf; /* the config it started under (a reference): the worker reads its
			      mail_root and hostname while a reload may switch srv->conf */
	struct spool_msg *msg;
	size_t idx;
	int status;
	unsigned attempts;
	char err[256];
	struct event *retry;
	struct delivery *prev, *next; /* in srv->deferred, or in a dirsync batch */
};

/* The deliveries into one Maildir that wait for (or are covered by) an fsync of its new/. */
struct dirsync {
	struct server *srv;
	struct dirsync *next;
	struct conf *conf; /* a reference: its mail_root is where user's Maildir is */
	char *user;
	struct delivery *waiting; /* renamed, not yet covered by a sync */
	struct delivery *batch;	  /* covered by the sync running now */
	int running, status;
	char err[256];
};

static void delivery_submit(struct delivery *d);

/* Maildir file name "<time>.Q<qid>R<idx>.<host>": unique, and the same on every attempt, so a
 * redelivery after a crash can see that the first one happened. */
static void delivery_name(const struct delivery *d, char *buf, size_t len)
{
	char host[256];
	size_t o = 0;
	for (const char *h = d->conf->hostname; *h && o + 1 < sizeof(host); h++)
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
	/* after a crash or a failed attempt the file may already be there */
	int check = m->recovered || d->attempts > 0;
	d->status = maildir_deliver(d->conf->mail_root, r->user, name, prefix, (size_t)n, &body,
				    check, d->err, sizeof(d->err));
}

static void list_push(struct delivery **head, struct delivery *d)
{
	d->prev = NULL;
	d->next = *head;
	if (d->next)
		d->next->prev = d;
	*head = d;
}

static void list_remove(struct delivery **head, struct delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		*head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
}

static void delivery_free(struct delivery *d)
{
	if (d->retry)
		event_free(d->retry);
	conf_unref(d->conf);
	free(d);
}

static void delivery_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery *d = arg;
	(void)fd, (void)what;
	list_remove(&d->srv->deferred, d);
	event_free(d->retry);
	d->retry = NULL;
	delivery_submit(d);
}

static void delivery_failed(struct delivery *d, const char *err)
{
	unsigned retry = d->srv->conf->delivery.local_retry;
	struct timeval tv = {retry, 0};
	const struct spool_rcpt *r = &d->msg->env.rcpts[d->idx];
	d->srv->metrics.deferred++;
	d->attempts++;
	char qt[1200 * 4];
	log_msg(LOG_WARN, "deliver: maildir failed, will retry",
		"qid=%s to=%s user=%s error=\"%s\" attempt=%u retry=%ds", d->msg->qid,
		log_quote_path(r->addr, qt, sizeof(qt)), r->user, err, d->attempts, retry);
	struct server *srv = d->srv;
	struct spool_msg *msg = d->msg;
	d->retry = evtimer_new(d->srv->base, delivery_retry_cb, d);
	if (!d->retry) {
		log_msg(LOG_ERR,
			"deliver: cannot schedule retry (message stays queued until restart)",
			"qid=%s", d->msg->qid);
		delivery_free(d);
	} else {
		list_push(&d->srv->deferred, d);
		evtimer_add(d->retry, &tv);
	}
	sched_busy(srv, msg, -1); /* last: a pending queue delete may run now */
}

static void delivery_finished(struct delivery *d)
{
	const struct spool_rcpt *r = &d->msg->env.rcpts[d->idx];
	d->srv->metrics.delivered[METRICS_MAILDIR]++;
	char qt[1200 * 4];
	log_msg(LOG_INFO, "deliver: delivered", "qid=%s to=%s user=%s method=maildir%s",
		d->msg->qid, log_quote_path(r->addr, qt, sizeof(qt)), r->user,
		d->msg->recovered ? " recovered=yes" : "");
	struct server *srv = d->srv;
	struct spool_msg *msg = d->msg;
	size_t idx = d->idx;
	delivery_free(d);
	if (!sched_local_delivered(srv, msg, idx))
		sched_busy(srv, msg, -1);
}

/* ---- group fsync of new/ ---- */

static void dirsync_work(void *arg)
{
	struct dirsync *ds = arg;
	ds->status = maildir_sync(ds->conf->mail_root, ds->user, ds->err, sizeof(ds->err));
}

static void dirsync_done(void *arg);

static void dirsync_start(struct dirsync *ds)
{
	ds->batch = ds->waiting;
	ds->waiting = NULL;
	ds->running = 1;
	ds->srv->dirsync_calls++;
	if (workq_submit(ds->srv->workq, dirsync_work, dirsync_done, ds) < 0) {
		ds->status = -1;
		snprintf(ds->err, sizeof(ds->err), "out of memory");
		dirsync_done(ds);
	}
}

static void dirsync_free(struct dirsync *ds)
{
	struct dirsync **p = &ds->srv->dirsyncs;
	while (*p != ds)
		p = &(*p)->next;
	*p = ds->next;
	conf_unref(ds->conf);
	free(ds->user);
	free(ds);
}

static void dirsync_done(void *arg)
{
	struct dirsync *ds = arg;
	struct delivery *batch = ds->batch;
	ds->batch = NULL;
	ds->running = 0;
	while (batch) {
		struct delivery *d = batch;
		batch = d->next;
		if (ds->status == 0)
			delivery_finished(d);
		else
			delivery_failed(d, ds->err);
	}
	if (ds->waiting)
		dirsync_start(ds);
	else
		dirsync_free(ds);
}

/* A delivery renamed its file into new/: it is done once new/ is fsync'd. */
static void dirsync_add(struct delivery *d)
{
	struct server *srv = d->srv;
	const char *user = d->msg->env.rcpts[d->idx].user;
	struct dirsync *ds = srv->dirsyncs;
	while (ds &&
	       (strcmp(ds->user, user) != 0 || strcmp(ds->conf->mail_root, d->conf->mail_root)))
		ds = ds->next;
	if (!ds) {
		ds = calloc(1, sizeof(*ds));
		if (ds && !(ds->user = strdup(user))) {
			free(ds);
			ds = NULL;
		}
		if (!ds) {
			delivery_failed(d, "out of memory");
			return;
		}
		ds->srv = srv;
		ds->conf = conf_ref(d->conf);
		ds->next = srv->dirsyncs;
		srv->dirsyncs = ds;
	}
	list_push(&ds->waiting, d);
	if (!ds->running)
		dirsync_start(ds);
}

/* Back in the loop thread after delivery_work. */
static void delivery_done(void *arg)
{
	struct delivery *d = arg;
	if (d->status < 0)
		delivery_failed(d, d->err);
	else
		dirsync_add(d);
}

static void delivery_submit(struct delivery *d)
{
	sched_busy(d->srv, d->msg, +1);
	if (workq_submit(d->srv->workq, delivery_work, delivery_done, d) < 0)
		delivery_failed(d, "out of memory");
}

/* Deliver msg's local recipients to their Maildirs (the scheduler calls this once per
 * message, when it is queued or released from hold). */
void local_start(struct server *srv, struct spool_msg *msg)
{
	for (size_t i = 0; i < msg->env.n_rcpts; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[i];
		if (r->done || !r->user)
			continue;
		struct delivery *d = calloc(1, sizeof(*d));
		if (!d) {
			log_msg(LOG_ERR,
				"deliver: out of memory (message stays queued until restart)",
				"qid=%s", msg->qid);
			continue;
		}
		d->srv = srv;
		d->conf = conf_ref(srv->conf);
		d->msg = msg;
		d->idx = i;
		delivery_submit(d);
	}
}

void local_cancel(struct server *srv, struct spool_msg *msg)
{
	for (struct delivery *d = srv->deferred, *next; d; d = next) {
		next = d->next;
		if (d->msg != msg)
			continue;
		list_remove(&srv->deferred, d);
		delivery_free(d);
	}
}

static void free_list(struct delivery *d)
{
	while (d) {
		struct delivery *next = d->next;
		delivery_free(d);
		d = next;
	}
}

/* After the worker pool stopped and its completions ran: free what waits for a timer or for
 * a new/ fsync that will not run now. Their messages stay in the spool: without a done
 * record they are delivered again (idempotently) at the next start. */
void local_shutdown(struct server *srv)
{
	free_list(srv->deferred);
	srv->deferred = NULL;
	while (srv->dirsyncs) {
		struct dirsync *ds = srv->dirsyncs;
		srv->dirsyncs = ds->next;
		free_list(ds->waiting);
		free_list(ds->batch);
		conf_unref(ds->conf);
		free(ds->user);
		free(ds);
	}
}
