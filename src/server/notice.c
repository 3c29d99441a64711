/* notice.c — the notices (DSNs) a message owes: collected per recipient while deliveries run,
 * then sent once the message is idle as one RFC 3464 report per action (dsn_format), queued
 * through the spool with the null sender; the recipients are marked done only when the report
 * is durable. Also the message's scheduler state (struct msgstate). */
#include "sched_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct msgstate *msgstate_get(struct server *srv, struct spool_msg *msg)
{
	struct msgstate *ms = msg->owner;
	if (!ms && (ms = calloc(1, sizeof(*ms)))) {
		ms->srv = srv;
		msg->owner = ms;
	}
	return ms;
}

void msgstate_free(struct spool_msg *msg)
{
	struct msgstate *ms = msg->owner;
	if (!ms)
		return;
	if (ms->retry)
		event_free(ms->retry);
	free(ms->notices);
	free(ms);
	msg->owner = NULL;
}

/* Record a recipient as done; the owner state goes with the last one (the spool frees msg).
 * Returns 1 when msg is gone. */
int sched_rcpt_done(struct server *srv, struct spool_msg *msg, size_t idx)
{
	if (msg->env.rcpts[idx].done)
		return 0;
	int last = msg->pending == 1;
	if (last)
		msgstate_free(msg);
	spool_rcpt_done(srv->spool, msg, idx);
	return last;
}

/* ---- DSNs ---- */

static const char *dsn_action_name(enum dsn_action a)
{
	static const char *const names[] = {"failed", "delayed", "delivered", "relayed",
					    "expanded"};
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown";
}

struct dsn_commit {
	struct server *srv;
	struct spool_msg *msg;
	enum dsn_action action;
	struct notice *notices; /* taken from the message; given back if the commit fails */
	size_t n;
};

/* The original message for the DSN: whole up to bounce-size-limit (and unless RET=HDRS), else
 * its header only. */
static int read_original(const struct server *srv, const struct spool_msg *msg, char **out,
			 size_t *len, int *headers_only)
{
	uint64_t limit = srv->conf->delivery.bounce_size_limit;
	*headers_only = msg->env.ret == 2 || msg->body_len > limit;
	uint64_t want =
	    *headers_only ? (msg->body_len < 65536 ? msg->body_len : 65536) : msg->body_len;
	char *buf = malloc(want + 1);
	if (!buf)
		return -ENOMEM;
	uint64_t got = 0;
	while (got < want) {
		ssize_t r = pread(msg->fd, buf + got, want - got, (off_t)(msg->body_off + got));
		if (r <= 0) {
			free(buf);
			return r < 0 ? -errno : -EIO;
		}
		got += (uint64_t)r;
	}
	*len = *headers_only ? dsn_header_len(buf, got) : got;
	*out = buf;
	return 0;
}

/* Where the DSN to sender goes: a local user (*user set), relayed (*user NULL), or nowhere
 * (-1: a local address without a mailbox). */
static int dsn_route(const struct conf *c, const char *sender, const char **user)
{
	char local[256];
	const char *at = strrchr(sender, '@');
	*user = NULL;
	if (!at || (size_t)(at - sender) >= sizeof(local))
		return at ? 0 : -1;
	if (!conf_is_local_domain(c, at + 1))
		return 0;
	for (size_t i = 0; sender + i < at; i++)
		local[i] =
		    (char)((sender[i] >= 'A' && sender[i] <= 'Z') ? sender[i] + 32 : sender[i]);
	local[at - sender] = '\0';
	const struct conf_mailbox *m = conf_find_mailbox(c, local, at + 1);
	if (!m)
		return -1;
	*user = m->user;
	return 0;
}

static void notices_give_back(struct msgstate *ms, struct notice *n, size_t count)
{
	struct notice *a = realloc(ms->notices, (ms->n_notices + count) * sizeof(*a));
	if (!a)
		return; /* the recipients stay pending: retried, and noticed again, after restart */
	memcpy(a + ms->n_notices, n, count * sizeof(*a));
	ms->notices = a;
	ms->n_notices += count;
}

static void dsn_retry_cb(evutil_socket_t fd, short what, void *arg);

static void dsn_committed(void *arg, int status, const char *qid)
{
	struct dsn_commit *dc = arg;
	struct spool_msg *msg = dc->msg;
	struct msgstate *ms = msg->owner;
	ms->inflight--;
	if (status < 0) {
		log_msg(LOG_ERR, "dsn: cannot queue the notice, will retry", "qid=%s error=\"%s\"",
			msg->qid, strerror(-status));
		notices_give_back(ms, dc->notices, dc->n);
		struct timeval tv = {60, 0};
		if (!ms->retry)
			ms->retry = evtimer_new(dc->srv->base, dsn_retry_cb, msg);
		if (ms->retry)
			evtimer_add(ms->retry, &tv);
	} else {
		log_msg(LOG_INFO, "dsn: queued", "qid=%s dsn_qid=%s action=%s recipients=%zu",
			msg->qid, qid, dsn_action_name(dc->action), dc->n);
		dc->srv->metrics.dsn_sent++;
	}
	struct server *srv = dc->srv;
	int gone = 0;
	for (size_t i = 0; status == 0 && !gone && i < dc->n; i++)
		if (dc->action != DSN_DELAYED)
			gone = sched_rcpt_done(srv, msg, dc->notices[i].idx);
	free(dc->notices);
	free(dc);
	if (!gone)
		sched_msg_idle(srv, msg);
}

static void dsn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spool_msg *msg = arg;
	(void)fd, (void)what;
	struct msgstate *ms = msg->owner;
	sched_msg_idle(ms->srv, msg);
}

/* Stage and commit the DSN text to the sender; the commit callback finishes the recipients. */
static int dsn_commit(struct server *srv, struct spool_msg *msg, enum dsn_action action,
		      struct notice *nt, size_t n, const char *user, const char *text, size_t len)
{
	struct spool_env env = {0};
	struct dsn_commit *dc = calloc(1, sizeof(*dc));
	struct spool_stage *st = spool_stage_new(srv->spool);
	int err = ENOMEM;
	env.qid = spool_qid_new(srv->spool);
	env.time = (int64_t)time(NULL);
	env.eight_bit = msg->env.eight_bit; /* the original may be returned inside */
	if (!dc || !st || !(dc->notices = malloc(n * sizeof(*nt))) || !(env.from = strdup("")) ||
	    !(env.helo = strdup(srv->conf->hostname)) || !(env.client = strdup("127.0.0.1")) ||
	    spool_env_add_rcpt(&env, msg->env.from, user, "dsn") < 0 ||
	    spool_stage_write(st, text, len) < 0)
		goto fail;
	memcpy(dc->notices, nt, n * sizeof(*nt));
	dc->n = n;
	dc->srv = srv;
	dc->msg = msg;
	dc->action = action;
	if (!spool_commit(srv->spool, &env, st, dsn_committed, dc, &err)) {
		st = NULL; /* consumed */
		goto fail;
	}
	((struct msgstate *)msg->owner)->inflight++;
	return 0;
fail:
	log_msg(LOG_ERR, "dsn: cannot queue the notice", "qid=%s error=\"%s\"", msg->qid,
		strerror(err));
	if (st)
		spool_stage_free(st);
	spool_env_clear(&env);
	if (dc)
		free(dc->notices);
	free(dc);
	return -1;
}

/* Queue one DSN for notices nt[0..n) (all of one action). Returns 0 (queued or dropped: the
 * notices are consumed) or -1 (nothing queued; the caller keeps them). */
static int dsn_send(struct server *srv, struct spool_msg *msg, enum dsn_action action,
		    struct notice *nt, size_t n)
{
	const struct conf *c = srv->conf;
	const char *user;
	if (dsn_route(c, msg->env.from, &user) < 0) {
		log_msg(LOG_WARN, "dsn: the sender has no local mailbox, notice dropped",
			"qid=%s action=%s", msg->qid, dsn_action_name(action));
		return 1;
	}
	struct dsn_rcpt *dr = calloc(n, sizeof(*dr));
	char *orig = NULL, *text = NULL;
	size_t olen = 0, tlen = 0;
	int hdrs = 0, rc = -1;
	int64_t now = (int64_t)time(NULL);
	if (!dr || read_original(srv, msg, &orig, &olen, &hdrs) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[nt[i].idx];
		dr[i] = (struct dsn_rcpt){r->addr,
					  r->orcpt,
					  action,
					  nt[i].status,
					  nt[i].remote[0] ? nt[i].remote : NULL,
					  nt[i].diag[0] ? nt[i].diag : NULL,
					  now,
					  msg->env.time + (int64_t)c->delivery.lifetime};
	}
	struct dsn_report rep = {
	    c->hostname, msg->env.from, msg->env.envid, msg->env.time, now, msg->qid, dr,
	    n,		 orig,		olen,		hdrs};
	if (dsn_format(&rep, &text, &tlen) < 0)
		goto out;
	rc = dsn_commit(srv, msg, action, nt, n, user, text, tlen);
out:
	if (rc < 0)
		log_msg(LOG_ERR, "dsn: cannot build the notice", "qid=%s action=%s", msg->qid,
			dsn_action_name(action));
	free(dr);
	free(orig);
	free(text);
	return rc;
}

/* A recipient reached a state the sender may be told about: queue a notice (sent once the
 * message has no attempt in flight), or, when no DSN is owed, finish it now (not DELAYED).
 * Returns 1 when msg is gone. */
int notice_add(struct server *srv, struct spool_msg *msg, const struct notice *n)
{
	const struct spool_rcpt *r = &msg->env.rcpts[n->idx];
	struct msgstate *ms = msgstate_get(srv, msg);
	if (msg->env.from[0] == '\0' || !dsn_wanted(r->notify, n->action) || !ms)
		return n->action == DSN_DELAYED ? 0 : sched_rcpt_done(srv, msg, n->idx);
	notices_give_back(ms, (struct notice *)n, 1);
	return 0;
}

/* Send the notices that wait, one DSN per action. */
void notice_flush(struct server *srv, struct spool_msg *msg)
{
	static const enum dsn_action order[] = {DSN_FAILED, DSN_DELAYED, DSN_DELIVERED,
						DSN_RELAYED};
	struct msgstate *ms = msg->owner;
	struct notice *all = ms->notices;
	size_t n_all = ms->n_notices;
	ms->notices = NULL;
	ms->n_notices = 0;
	struct notice *group = malloc((n_all ? n_all : 1) * sizeof(*group));
	if (!group) {
		ms->notices = all; /* kept for the next try */
		ms->n_notices = n_all;
		return;
	}
	int gone = 0;
	for (size_t a = 0; a < sizeof(order) / sizeof(order[0]) && !gone; a++) {
		size_t n = 0;
		for (size_t i = 0; i < n_all; i++)
			if (all[i].action == order[a])
				group[n++] = all[i];
		if (n == 0)
			continue;
		int rc = dsn_send(srv, msg, order[a], group, n);
		if (rc < 0)
			notices_give_back(ms, group, n);
		for (size_t i = 0; rc > 0 && i < n && !gone; i++)
			if (order[a] != DSN_DELAYED)
				gone = sched_rcpt_done(srv, msg, group[i].idx);
	}
	free(group);
	free(all);
}
