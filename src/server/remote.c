/* remote.c — delivery of relayed recipients (SMTP, via MX or a static route) and of local
 * recipients when local-delivery is LMTP. One *job* is one message's recipients for one domain;
 * it waits in its *destination* (the next hop) for a free session slot, resolves the next hop,
 * runs one attempt with the SMTP/LMTP client, and then each recipient is delivered (done
 * record), failed (DSN, done record) or deferred (retry with exponential backoff and jitter,
 * until delivery lifetime, then failed as expired). */
#include "sched_int.h"

#include "../deliver/deliver.h"
#include "../dns/dns.h"
#include "../queue/dsn.h"
#include "../util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REMOTE_MAX_TARGETS 10 /* addresses tried per attempt (MX hosts × addresses) */
#define DNS_TRIES 2	      /* c-ares doubles the timeout per try */

enum job_state { JOB_WAITING, JOB_READY, JOB_RESOLVING, JOB_SENDING };

struct job {
	struct server *srv;
	struct conf *conf; /* pinned for the attempt */
	struct spool_msg *msg;
	struct dest *dest;
	enum job_state state;
	char domain[256]; /* recipients' domain (or "" for LMTP) */
	size_t *idx;	  /* recipient indexes in msg */
	size_t n;
	unsigned attempts;
	int64_t next_try;
	char last_error[600]; /* why the last attempt deferred */
	struct event *timer;
	struct dns_query *q;
	struct deliver_session *sess;
	struct deliver_target targets[REMOTE_MAX_TARGETS];
	size_t n_targets;
	struct deliver_rcpt *rcpts;
	struct deliver_msg dm;
	struct deliver_client_conf cc;
	struct job *prev, *next; /* in its destination's ready list, or srv's waiting list */
	struct job *mnext;	 /* the message's jobs */
};

/* A next hop: pacing and concurrency are counted here. */
struct dest {
	char key[320];
	unsigned active;
	struct job *ready, *ready_tail;
	int64_t last_start_ms;
	struct event *pace;
	struct server *srv;
	struct dest *next;
};

static void dest_run(struct dest *d);
static void job_start(struct job *j);

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- destinations ---- */

static struct dest *dest_get(struct server *srv, const char *key)
{
	struct dest *d;
	for (d = srv->remote.dests; d; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	if (!(d = calloc(1, sizeof(*d))))
		return NULL;
	util_strlcpy(d->key, key, sizeof(d->key));
	d->srv = srv;
	d->next = srv->remote.dests;
	srv->remote.dests = d;
	return d;
}

static void dest_unlink(struct dest *d, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		d->ready = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		d->ready_tail = j->prev;
	j->next = j->prev = NULL;
}

static void dest_pace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	dest_run(arg);
}

/* Start ready jobs while the total and per-destination limits and the pacing allow. */
static void dest_run(struct dest *d)
{
	struct server *srv = d->srv;
	const struct conf_delivery *cd = &srv->conf->delivery;
	while (d->ready && d->active < cd->destination_concurrency &&
	       srv->remote.active < cd->concurrency) {
		int64_t wait =
		    d->last_start_ms + (int64_t)cd->destination_rate_delay * 1000 - now_ms();
		if (cd->destination_rate_delay && d->last_start_ms && wait > 0) {
			struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
			if (!d->pace)
				d->pace = evtimer_new(srv->base, dest_pace_cb, d);
			if (d->pace && !evtimer_pending(d->pace, NULL))
				evtimer_add(d->pace, &tv);
			return;
		}
		struct job *j = d->ready;
		dest_unlink(d, j);
		if (j->msg->held) { /* put on hold while it waited: it waits for the release */
			j->state = JOB_WAITING;
			continue;
		}
		d->active++;
		srv->remote.active++;
		d->last_start_ms = now_ms();
		job_start(j);
	}
}

/* Jobs became ready or a slot was freed: start what the limits allow, from the event loop
 * (never from inside a caller that still uses a job or a message). */
static void remote_kick(struct server *srv)
{
	event_active(srv->remote.kick, EV_TIMEOUT, 0);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd, (void)what;
	for (struct dest *d = srv->remote.dests;
	     d && srv->remote.active < srv->conf->delivery.concurrency; d = d->next)
		if (d->ready)
			dest_run(d);
}

static void dest_enqueue(struct job *j)
{
	struct dest *d = j->dest;
	j->state = JOB_READY;
	j->next = NULL;
	j->prev = d->ready_tail;
	if (d->ready_tail)
		d->ready_tail->next = j;
	else
		d->ready = j;
	d->ready_tail = j;
	remote_kick(j->srv);
}

static void log_rcpt(const char *what, const struct spool_msg *msg, size_t idx, const char *extra)
{
	char qt[1200 * 4];
	log_msg(LOG_INFO, what, "qid=%s to=%s %s", msg->qid,
		log_quote_path(msg->env.rcpts[idx].addr, qt, sizeof(qt)), extra);
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
	struct msgstate *ms = j->msg->owner;
	if (j->state == JOB_READY)
		dest_unlink(j->dest, j);
	for (struct job **p = &ms->jobs; *p; p = &(*p)->mnext)
		if (*p == j) {
			*p = j->mnext;
			break;
		}
	if (j->timer)
		event_free(j->timer);
	conf_unref(j->conf); /* an attempt cut short at shutdown */
	free(j->idx);
	free(j->rcpts);
	free(j);
}

/* The delay before attempt n+1 (n >= 1 failed attempts): retry-min doubled per attempt up to
 * retry-max, then ±20% jitter so a batch deferred together does not retry together. */
static unsigned backoff_seconds(const struct conf_delivery *cd, unsigned attempts, uint32_t rnd)
{
	uint64_t d = cd->retry_min;
	for (unsigned i = 1; i < attempts && d < cd->retry_max; i++)
		d *= 2;
	if (d > cd->retry_max)
		d = cd->retry_max;
	uint64_t span = d * 2 / 5; /* 40% */
	uint64_t j = span ? d - span / 2 + rnd % (span + 1) : d;
	return (unsigned)(j ? j : 1);
}

static void job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	(void)fd, (void)what;
	if (!j->msg->held)
		dest_enqueue(j);
}

static void job_wait(struct job *j)
{
	const struct conf_delivery *cd = &j->srv->conf->delivery;
	unsigned delay = backoff_seconds(cd, j->attempts, (uint32_t)random());
	struct timeval tv = {delay, 0};
	j->state = JOB_WAITING;
	j->next_try = (int64_t)time(NULL) + delay;
	if (!j->timer)
		j->timer = evtimer_new(j->srv->base, job_timer_cb, j);
	if (j->timer)
		evtimer_add(j->timer, &tv);
	else
		log_msg(LOG_ERR, "deliver: cannot schedule retry (retried after restart)", "qid=%s",
			j->msg->qid);
}

/* One recipient's result of an attempt. Returns 1 when msg is gone. */
static int job_rcpt_result(struct job *j, size_t i, int code, const char *enh, const char *text,
			   const char *remote, int expired, int peer_dsn)
{
	struct server *srv = j->srv;
	struct spool_msg *msg = j->msg;
	struct notice n = {.idx = j->idx[i]};
	char extra[1400];
	util_strlcpy(n.remote, remote ? remote : "", sizeof(n.remote));
	snprintf(n.diag, sizeof(n.diag), "%d%s%s%s%s", code, enh[0] ? " " : "", enh,
		 text[0] ? " " : "", text);
	if (code / 100 == 2) {
		srv->metrics.delivered[j->cc.lmtp ? METRICS_LMTP : METRICS_SMTP]++;
		snprintf(extra, sizeof(extra), "method=%s relay=%s reply=\"%s\"",
			 j->cc.lmtp ? "lmtp" : "smtp", n.remote, n.diag);
		log_rcpt("deliver: delivered", msg, n.idx, extra);
		if (!j->cc.lmtp && peer_dsn)
			return sched_rcpt_done(srv, msg, n.idx); /* the next hop took over NOTIFY */
		n.action = j->cc.lmtp ? DSN_DELIVERED : DSN_RELAYED;
		util_strlcpy(n.status, "2.0.0", sizeof(n.status));
		return notice_add(srv, msg, &n);
	}
	if (code / 100 == 5 || expired) {
		int perm = code / 100 == 5;
		perm ? srv->metrics.bounced++ : srv->metrics.expired++;
		if (perm && !j->cc.lmtp)
			self_check_note_bounce(srv, j->domain, n.remote, code, enh, text);
		n.action = DSN_FAILED;
		util_strlcpy(n.status, perm ? (enh[0] ? enh : "5.0.0") : "4.4.7", sizeof(n.status));
		if (!perm) {
			char last[600];
			util_strlcpy(last, n.diag, sizeof(last));
			snprintf(n.diag, sizeof(n.diag),
				 "delivery time expired; last error: %.500s", code ? last : text);
		}
		snprintf(extra, sizeof(extra), "relay=%s status=%s reply=\"%s\"", n.remote,
			 n.status, n.diag);
		log_rcpt(perm ? "deliver: failed (bounce)" : "deliver: expired (bounce)", msg,
			 n.idx, extra);
		return notice_add(srv, msg, &n);
	}
	srv->metrics.deferred++;
	util_strlcpy(j->last_error, code ? n.diag : text, sizeof(j->last_error));
	snprintf(extra, sizeof(extra), "relay=%s attempt=%u reply=\"%s\"", n.remote, j->attempts,
		 j->last_error);
	log_rcpt("deliver: deferred", msg, n.idx, extra);
	return 0;
}

/* Recipients stay queued: the delay DSN once past delivery delay-warning, then the retry. */
static void job_deferred(struct job *j, int64_t now)
{
	struct spool_msg *msg = j->msg;
	struct msgstate *ms = msg->owner;
	unsigned warn = j->srv->conf->delivery.delay_warning;
	if (warn && !ms->delay_warned && now - msg->env.time >= (int64_t)warn) {
		ms->delay_warned = 1;
		for (size_t i = 0; i < j->n; i++) {
			struct notice n = {.idx = j->idx[i], .action = DSN_DELAYED};
			util_strlcpy(n.status, "4.4.7", sizeof(n.status));
			snprintf(n.diag, sizeof(n.diag),
				 "not delivered for %" PRId64 " minutes; still trying",
				 (now - msg->env.time) / 60);
			notice_add(j->srv, msg, &n); /* DELAYED never finishes a recipient */
		}
	}
	job_wait(j);
}

/* The attempt ended: code/enh/text stand for every recipient the server did not answer. */
static void job_finish(struct job *j, int code, const char *enh, const char *text,
		       const char *remote, int peer_dsn)
{
	struct server *srv = j->srv;
	struct spool_msg *msg = j->msg;
	struct msgstate *ms = msg->owner;
	const struct conf_delivery *cd = &srv->conf->delivery;
	int64_t now = (int64_t)time(NULL);
	int expired = now - msg->env.time >= (int64_t)cd->lifetime;
	size_t keep = 0;
	int gone = 0;
	j->attempts++;
	j->dest->active--;
	srv->remote.active--;
	conf_unref(j->conf);
	j->conf = NULL;
	for (size_t i = 0; i < j->n && !gone; i++) {
		const struct deliver_rcpt *r = j->rcpts ? &j->rcpts[i] : NULL;
		int c = r && r->code ? r->code : code;
		if (c / 100 != 2 && c / 100 != 5 && !expired)
			j->idx[keep++] = j->idx[i];
		gone =
		    r && r->code
			? job_rcpt_result(j, i, r->code, r->enh, r->text, remote, expired, peer_dsn)
			: job_rcpt_result(j, i, code, enh, text, remote, expired, peer_dsn);
	}
	free(j->rcpts);
	j->rcpts = NULL;
	if (gone) {
		if (j->timer)
			event_free(j->timer);
		free(j->idx);
		free(j);
	} else {
		j->n = keep;
		ms->inflight--;
		if (keep == 0)
			job_free(j);
		else
			job_deferred(j, now);
		sched_msg_idle(srv, msg);
	}
	remote_kick(srv);
}

static void job_sent(void *arg, const struct deliver_result *res)
{
	struct job *j = arg;
	j->sess = NULL;
	int code = res->code ? res->code : 0;
	if (res->status == DELIVER_PERMFAIL && code / 100 != 5)
		code = 554;
	job_finish(j, code, res->enh, res->text, res->host, (res->ext & DELIVER_EXT_DSN) != 0);
}

/* Is sa one of our own listeners? (mail that would loop back to us) */
static int is_self(const struct conf *c, const struct sockaddr_storage *sa, socklen_t len)
{
	for (size_t i = 0; i < c->n_listens; i++)
		if (c->listens[i].addrlen == len && memcmp(&c->listens[i].addr, sa, len) == 0)
			return 1;
	return 0;
}

static void job_deliver(struct job *j)
{
	struct spool_msg *msg = j->msg;
	const struct conf *c = j->conf;
	j->rcpts = calloc(j->n, sizeof(*j->rcpts));
	if (!j->rcpts) {
		job_finish(j, 0, "", "out of memory", "", 0);
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[j->idx[i]];
		j->rcpts[i].addr = r->addr;
		j->rcpts[i].notify = r->notify;
		j->rcpts[i].orcpt = r->orcpt;
	}
	j->dm = (struct deliver_msg){msg->env.from,	msg->env.envid,
				     msg->env.ret,	msg->env.eight_bit,
				     msg->env.smtputf8, {msg->fd, msg->body_off, msg->body_len},
				     j->rcpts,		j->n,
				     msg->qid};
	j->cc = (struct deliver_client_conf){
	    c->hostname,
	    c->delivery_tls == CONF_TLS_CLIENT_MAY ? j->srv->remote.tls : NULL,
	    j->cc.lmtp,
	    c->delivery.connect_timeout,
	    c->delivery.command_timeout,
	    c->delivery.data_timeout,
	    j->cc.lmtp ? NULL : conf_outbound_addr(c, AF_INET),
	    j->cc.lmtp ? NULL : conf_outbound_addr(c, AF_INET6)};
	j->state = JOB_SENDING;
	j->sess =
	    deliver_smtp_start(j->srv->base, &j->cc, j->targets, j->n_targets, &j->dm, job_sent, j);
	if (!j->sess)
		job_finish(j, 0, "", "out of memory", "", 0);
}

static void job_resolved(void *arg, const struct dns_mx_result *res)
{
	struct job *j = arg;
	int looped = 0;
	j->q = NULL;
	j->n_targets = 0;
	for (size_t h = 0; res->status == DNS_OK && h < res->n_hosts; h++)
		for (size_t a = 0; a < res->hosts[h].n_addrs; a++) {
			const struct dns_host *dh = &res->hosts[h];
			if (is_self(j->conf, &dh->addrs[a], dh->addrlens[a])) {
				looped = 1;
				continue;
			}
			if (j->n_targets == REMOTE_MAX_TARGETS)
				break;
			struct deliver_target *t = &j->targets[j->n_targets++];
			memcpy(&t->addr, &dh->addrs[a], dh->addrlens[a]);
			t->addrlen = dh->addrlens[a];
			util_strlcpy(t->host, dh->name, sizeof(t->host));
		}
	char text[600];
	if (res->status == DNS_NOTFOUND || res->status == DNS_NULLMX) {
		int nullmx = res->status == DNS_NULLMX;
		snprintf(text, sizeof(text), "%s: %s", j->domain,
			 nullmx ? "domain does not accept mail (null MX)" : res->error);
		job_finish(j, nullmx ? 556 : 550, nullmx ? "5.1.10" : "5.1.2", text, "", 0);
	} else if (res->status == DNS_TEMPFAIL || (j->n_targets == 0 && !looped)) {
		snprintf(text, sizeof(text), "%s: DNS lookup failed: %s", j->domain,
			 res->error[0] ? res->error : "no address");
		job_finish(j, 451, "4.4.3", text, "", 0);
	} else if (j->n_targets == 0) {
		snprintf(text, sizeof(text), "mail for %s loops back to myself", j->domain);
		job_finish(j, 554, "5.4.6", text, "", 0);
	} else {
		job_deliver(j);
	}
}

/* "unix:/path" of local-delivery lmtp: no resolver needed. */
static int lmtp_unix_target(const char *spec, struct deliver_target *t)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&t->addr;
	if (strncmp(spec, "unix:", 5) != 0)
		return -1;
	memset(t, 0, sizeof(*t));
	sun->sun_family = AF_UNIX;
	util_strlcpy(sun->sun_path, spec + 5, sizeof(sun->sun_path));
	t->addrlen = sizeof(*sun);
	util_strlcpy(t->host, spec, sizeof(t->host));
	return 0;
}

/* A slot is ours: find the next hop's addresses, then deliver. */
static void job_start(struct job *j)
{
	struct server *srv = j->srv;
	j->conf = conf_ref(srv->conf); /* a reload during the attempt does not free it */
	j->state = JOB_RESOLVING;
	((struct msgstate *)j->msg->owner)->inflight++;
	if (j->cc.lmtp && lmtp_unix_target(j->conf->lmtp_target, &j->targets[0]) == 0) {
		j->n_targets = 1;
		job_deliver(j);
		return;
	}
	const struct conf_route *rt = j->cc.lmtp ? NULL : conf_find_route(j->conf, j->domain);
	char host[256];
	uint16_t port = (uint16_t)j->conf->delivery.port;
	if (j->cc.lmtp)
		conf_split_host_port(j->conf->lmtp_target, host, sizeof(host), &port);
	else if (rt) {
		util_strlcpy(host, rt->host, sizeof(host));
		port = rt->port;
	}
	j->q = j->cc.lmtp || rt ? dns_resolve_host(srv->remote.dns, host, port, job_resolved, j)
				: dns_resolve_mx(srv->remote.dns, j->domain, port, job_resolved, j);
	if (!j->q)
		job_finish(j, 0, "", "out of memory", "", 0);
}

/* ---- the scheduler's entry points ---- */

static void msg_delete_now(struct server *srv, struct spool_msg *msg)
{
	struct msgstate *ms = msg->owner;
	while (ms && ms->jobs)
		job_free(ms->jobs);
	local_cancel(srv, msg);
	msgstate_free(msg);
	char qid[SPOOL_QID_LEN + 1];
	memcpy(qid, msg->qid, sizeof(qid));
	int rc = spool_msg_delete(srv->spool, msg);
	log_msg(rc ? LOG_ERR : LOG_INFO, rc ? "queue: delete failed" : "queue: deleted",
		"qid=%s%s%s", qid, rc ? " error=" : "", rc ? strerror(-rc) : "");
}

/* Nothing runs for msg any more: carry out a pending delete, or send the notices it owes. */
void sched_msg_idle(struct server *srv, struct spool_msg *msg)
{
	struct msgstate *ms = msg->owner;
	if (!ms || ms->inflight)
		return;
	if (ms->delete_pending)
		msg_delete_now(srv, msg);
	else if (ms->n_notices && !msg->held)
		notice_flush(srv, msg);
}

static struct job *job_new(struct server *srv, struct spool_msg *msg, const char *domain, int lmtp)
{
	struct msgstate *ms = msgstate_get(srv, msg);
	struct job *j = ms ? calloc(1, sizeof(*j)) : NULL;
	if (!j || !(j->idx = calloc(msg->env.n_rcpts, sizeof(*j->idx)))) {
		free(j);
		return NULL;
	}
	j->srv = srv;
	j->msg = msg;
	j->cc.lmtp = lmtp;
	util_strlcpy(j->domain, domain, sizeof(j->domain));
	char key[320];
	if (lmtp)
		snprintf(key, sizeof(key), "lmtp:%s", srv->conf->lmtp_target);
	else
		util_strlcpy(key, domain, sizeof(key));
	if (!(j->dest = dest_get(srv, key))) {
		free(j->idx);
		free(j);
		return NULL;
	}
	j->mnext = ms->jobs;
	ms->jobs = j;
	return j;
}

/* The recipients of msg that go out by SMTP (relayed) or LMTP (local, with local-delivery
 * lmtp), grouped into one job per domain. */
static int make_jobs(struct server *srv, struct spool_msg *msg)
{
	int lmtp = srv->conf->local_delivery == CONF_LOCAL_LMTP;
	for (size_t i = 0; i < msg->env.n_rcpts; i++) {
		const struct spool_rcpt *r = &msg->env.rcpts[i];
		if (r->done || (r->user && !lmtp))
			continue;
		const char *at = strrchr(r->addr, '@');
		const char *domain = r->user ? "" : at ? at + 1 : "";
		struct msgstate *ms = msgstate_get(srv, msg);
		struct job *j = ms ? ms->jobs : NULL;
		while (j && (strcmp(j->domain, domain) != 0 || j->cc.lmtp != !!r->user))
			j = j->mnext;
		if (!j && !(j = job_new(srv, msg, domain, r->user != NULL)))
			return -1;
		j->idx[j->n++] = i;
	}
	return 0;
}

void sched_on_queued(void *arg, struct spool_msg *msg)
{
	struct server *srv = arg;
	if (!msgstate_get(srv, msg) || make_jobs(srv, msg) < 0) {
		log_msg(LOG_ERR, "deliver: out of memory (message stays queued until restart)",
			"qid=%s", msg->qid);
		return;
	}
	if (msg->held) {
		log_msg(LOG_INFO, "queue: on hold", "qid=%s", msg->qid);
		return;
	}
	sched_release(srv, msg);
}

/* Start what waits: local deliveries not started yet, and every waiting job (at once). */
void sched_release(struct server *srv, struct spool_msg *msg)
{
	struct msgstate *ms = msg->owner;
	if (!ms->local_started && srv->conf->local_delivery == CONF_LOCAL_MAILDIR) {
		ms->local_started = 1;
		local_start(srv, msg); /* asynchronous: msg stays */
	}
	for (struct job *j = ms->jobs; j; j = j->mnext)
		if (j->state == JOB_WAITING) {
			if (j->timer)
				evtimer_del(j->timer);
			dest_enqueue(j);
		}
}

void sched_flush(struct server *srv, struct spool_msg *msg)
{
	if (msg && !msg->held && msg->owner) {
		sched_release(srv, msg);
		return;
	}
	for (struct spool_msg *m = spool_first(srv->spool), *next; !msg && m; m = next) {
		next = m->next;
		if (!m->held && m->owner)
			sched_release(srv, m);
	}
}

int sched_hold(struct server *srv, struct spool_msg *msg, int held)
{
	int rc = spool_msg_hold(srv->spool, msg, held);
	if (rc == 0 && !held && msg->owner)
		sched_release(srv, msg);
	return rc;
}

int sched_delete(struct server *srv, struct spool_msg *msg)
{
	struct msgstate *ms = msgstate_get(srv, msg);
	if (ms && ms->inflight) {
		ms->delete_pending = 1; /* after the attempts under way */
		return 1;
	}
	msg_delete_now(srv, msg);
	return 0;
}

void sched_busy(struct server *srv, struct spool_msg *msg, int delta)
{
	struct msgstate *ms = msgstate_get(srv, msg);
	if (!ms)
		return;
	ms->inflight = (unsigned)((int)ms->inflight + delta);
	if (delta < 0)
		sched_msg_idle(srv, msg);
}

int sched_local_delivered(struct server *srv, struct spool_msg *msg, size_t idx)
{
	struct notice n = {.idx = idx, .action = DSN_DELIVERED};
	util_strlcpy(n.status, "2.0.0", sizeof(n.status));
	return notice_add(srv, msg, &n);
}

int sched_init(struct server *srv, char *err, size_t errlen)
{
	const struct conf *c = srv->conf;
	if (dns_resolver_new(srv->base, (const char *const *)c->dns_servers, c->n_dns_servers,
			     c->delivery.dns_timeout * 1000, DNS_TRIES, &srv->remote.dns, err,
			     errlen) < 0)
		return -1;
	srv->remote.tls = deliver_tls_client_ctx(err, errlen);
	srv->remote.kick = event_new(srv->base, -1, 0, kick_cb, srv);
	if (!srv->remote.kick)
		snprintf(err, errlen, "cannot register the delivery event");
	return srv->remote.tls && srv->remote.kick ? 0 : -1;
}

void sched_shutdown(struct server *srv)
{
	for (struct spool_msg *m = srv->spool ? spool_first(srv->spool) : NULL; m; m = m->next) {
		struct msgstate *ms = m->owner;
		while (ms && ms->jobs) {
			struct job *j = ms->jobs;
			if (j->q)
				dns_query_cancel(j->q);
			if (j->sess)
				deliver_smtp_cancel(j->sess);
			job_free(j);
		}
		msgstate_free(m);
	}
	while (srv->remote.dests) {
		struct dest *d = srv->remote.dests;
		srv->remote.dests = d->next;
		if (d->pace)
			event_free(d->pace);
		free(d);
	}
	if (srv->remote.kick)
		event_free(srv->remote.kick);
	if (srv->remote.dns)
		dns_resolver_free(srv->remote.dns);
	if (srv->remote.tls)
		SSL_CTX_free(srv->remote.tls);
}

void sched_rcpt_info(const struct spool_msg *msg, size_t idx, struct sched_rcpt_info *out)
{
	static const char *const states[] = {"deferred", "waiting", "connecting", "sending"};
	const struct msgstate *ms = msg->owner;
	memset(out, 0, sizeof(*out));
	out->state = msg->env.rcpts[idx].done ? "done" : msg->held ? "held" : "local";
	out->last_error = "";
	for (const struct job *j = ms ? ms->jobs : NULL; j; j = j->mnext)
		for (size_t i = 0; i < j->n; i++)
			if (j->idx[i] == idx) {
				out->state = msg->held ? "held" : states[j->state];
				out->attempts = j->attempts;
				out->next_try = j->state == JOB_WAITING ? j->next_try : 0;
				out->last_error = j->last_error;
				out->relay = j->dest->key;
			}
}
