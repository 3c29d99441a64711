/* self_audit.c — the server probes itself: every `self-audit` interval, the relay battery of
 * `relayguard probe` (src/probe, the live probe) runs against each of the server's own
 * listeners from an outside-looking source address, on a thread of its own (the probe is
 * blocking), one run at a time. One log line per listener, an ALERT line when one relays, and
 * the metrics relayguard_self_audit_*.
 *
 * The probe stops at RCPT (probe_options.rcpt_only): relayguard decides relaying at RCPT, and an
 * open server must not queue test messages to itself every day. A 2xx to a test's RCPT is a
 * relayed test. */
#include "server_int.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SELF_AUDIT_REPLY_TIMEOUT 5 /* seconds per reply: our own server answers at once */
#define SELF_AUDIT_MAX_TIME 30	   /* seconds per listener */

struct sa_target {
	char listen[64];		 /* the listener as written */
	char host[INET6_ADDRSTRLEN + 2]; /* what is probed: its address, loopback for wildcards */
	char port[8];
	char source[INET6_ADDRSTRLEN]; /* the address the probe connects from */
	enum probe_tls tls;
	char skip[160]; /* why it is not probed, or "" */
	struct probe_summary sum;
};

struct sa_run {
	struct server *srv;
	time_t started, finished;
	size_t n;
	struct sa_target t[]; /* n of them */
};

struct self_audit {
	struct workq *q; /* one thread: one run at a time */
	struct event *ev_q, *ev_timer;
	unsigned interval; /* the one the timer was armed with, 0 = off */
	struct sa_run *running, *last;
};

/* ---- the source address: outside every network the config trusts or names in a rule ---- */

static int addr_named(const struct conf *c, const char *ip)
{
	struct cidr a;
	if (cidr_parse(ip, &a) < 0)
		return 1;
	if (cidr_set_contains(c->trusted, c->n_trusted, a.addr))
		return 1;
	for (size_t i = 0; i < c->n_rules; i++)
		if (c->rules[i].from == CONF_FROM_NETS &&
		    cidr_set_contains(c->rules[i].nets, c->rules[i].n_nets, a.addr))
			return 1;
	return 0;
}

/* The source for probing host: self-audit-source of its family; else, for an IPv4 loopback
 * host, the first of 127.0.0.2..254 outside; else host itself (the kernel's choice when a
 * host connects to its own address). "" and why in skip when there is none outside. */
static void target_source(const struct conf *c, struct sa_target *t, int v6)
{
	const char *given = v6 ? c->self_audit_source6 : c->self_audit_source4;
	if (given) {
		snprintf(t->source, sizeof(t->source), "%s", given);
		return;
	}
	if (!v6 && strncmp(t->host, "127.", 4) == 0) {
		for (int i = 2; i <= 254; i++) {
			snprintf(t->source, sizeof(t->source), "127.0.0.%d", i);
			if (!addr_named(c, t->source))
				return;
		}
	} else if (!addr_named(c, t->host)) {
		snprintf(t->source, sizeof(t->source), "%s", t->host);
		return;
	}
	t->source[0] = '\0';
	snprintf(t->skip, sizeof(t->skip),
		 "no %s source address outside the trusted networks: set self-audit-source",
		 v6 ? "IPv6" : "IPv4");
}

static void target_fill(const struct server *srv, const struct conf_listen *l, struct sa_target *t)
{
	const struct conf *c = srv->conf;
	int v6 = l->addr.ss_family == AF_INET6;
	uint16_t port = v6 ? ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port)
			   : ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
	snprintf(t->listen, sizeof(t->listen), "%s", l->text);
	util_sockaddr_ip((const struct sockaddr *)&l->addr, t->host, sizeof(t->host));
	if (!strcmp(t->host, "0.0.0.0") || !strcmp(t->host, "::"))
		snprintf(t->host, sizeof(t->host), "%s", v6 ? "::1" : "127.0.0.1");
	snprintf(t->port, sizeof(t->port), "%u", (unsigned)port);
	t->tls = l->tls_implicit     ? PROBE_TLS_IMPLICIT
		 : srv->smtp.tls_ctx ? PROBE_TLS_STARTTLS_AUTO
				     : PROBE_TLS_NONE;
	target_source(c, t, v6);
}

/* ---- the run: targets made on the loop thread, probed on the audit thread ---- */

static void run_work(void *arg)
{
	struct sa_run *r = arg;
	for (size_t i = 0; i < r->n; i++) {
		struct sa_target *t = &r->t[i];
		if (t->skip[0])
			continue;
		struct probe_options o = {.host = t->host,
					  .port = t->port,
					  .source = t->source,
					  .timeout = SELF_AUDIT_REPLY_TIMEOUT,
					  .max_time = SELF_AUDIT_MAX_TIME,
					  .tls = t->tls,
					  .rcpt_only = 1};
		probe_run_quiet(&o, &t->sum);
	}
	r->finished = time(NULL);
}

static size_t target_relayed(const struct sa_target *t)
{
	return t->sum.open + t->sum.accepts_rcpt;
}

static void target_log(const struct sa_target *t)
{
	char tls[120], err[300];
	log_quote(t->sum.tls[0] ? t->sum.tls : "none", strlen(t->sum.tls[0] ? t->sum.tls : "none"),
		  tls, sizeof(tls));
	if (t->skip[0] || t->sum.errors == t->sum.tests) {
		const char *why = t->skip[0] ? t->skip : t->sum.error;
		log_msg(LOG_WARN, "self-audit: listener not tested",
			"listen=%s source=%s reason=%s", t->listen, t->source[0] ? t->source : "-",
			log_quote(why, strlen(why), err, sizeof(err)));
	} else if (target_relayed(t)) {
		log_msg(LOG_ERR,
			"self-audit: ALERT: OPEN RELAY: the listener relays for an outside client",
			"listen=%s target=%s:%s source=%s tls=%s tests=%zu relayed=%zu first=%s",
			t->listen, t->host, t->port, t->source, tls, t->sum.tests,
			target_relayed(t), t->sum.first);
	} else {
		char verdict[80];
		log_msg(LOG_INFO, "self-audit: listener closed",
			"listen=%s target=%s:%s source=%s tls=%s verdict=%s tests=%zu relayed=0 "
			"errors=%zu",
			t->listen, t->host, t->port, t->source, tls,
			log_quote(t->sum.overall, strlen(t->sum.overall), verdict, sizeof(verdict)),
			t->sum.tests, t->sum.errors);
	}
}

/* Back on the loop: log, set the metrics, keep the run for `status`. */
static void run_done(void *arg)
{
	struct sa_run *r = arg;
	struct server *srv = r->srv;
	struct self_audit *a = srv->self_audit;
	struct metrics *m = &srv->metrics;
	size_t open = 0;
	m->n_self_audit = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct sa_target *t = &r->t[i];
		target_log(t);
		open += target_relayed(t) > 0;
		if (t->skip[0] || t->sum.errors == t->sum.tests ||
		    m->n_self_audit == METRICS_SELF_AUDIT_MAX)
			continue;
		struct metrics_self_audit *g = &m->self_audit[m->n_self_audit++];
		snprintf(g->listener, sizeof(g->listener), "%s", t->listen);
		g->open = target_relayed(t) > 0;
	}
	m->self_audit_runs++;
	m->self_audit_last_run = (int64_t)r->finished;
	log_msg(LOG_INFO, "self-audit: run finished", "listeners=%zu open=%zu seconds=%lld", r->n,
		open, (long long)(r->finished - r->started));
	free(a->last);
	a->last = r;
	a->running = NULL;
}

static int run_begin(struct server *srv)
{
	struct self_audit *a = srv->self_audit;
	const struct conf *c = srv->conf;
	if (a->running)
		return 1;
	struct sa_run *r = calloc(1, sizeof(*r) + c->n_listens * sizeof(r->t[0]));
	if (!r) {
		log_msg(LOG_ERR, "self-audit: out of memory", NULL);
		return -1;
	}
	r->srv = srv;
	r->started = time(NULL);
	r->n = c->n_listens;
	for (size_t i = 0; i < r->n; i++)
		target_fill(srv, &c->listens[i], &r->t[i]);
	if (workq_submit(a->q, run_work, run_done, r) < 0) {
		log_msg(LOG_ERR, "self-audit: cannot start a run", NULL);
		free(r);
		return -1;
	}
	a->running = r;
	log_msg(LOG_INFO, "self-audit: run started", "listeners=%zu", r->n);
	return 0;
}

/* ---- the timer ---- */

static void timer_arm(struct self_audit *a, unsigned seconds)
{
	struct timeval tv = {(time_t)seconds, 0};
	evtimer_del(a->ev_timer);
	if (seconds)
		evtimer_add(a->ev_timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	(void)fd, (void)what;
	if (srv->stopping)
		return;
	if (run_begin(srv) == 1)
		log_msg(LOG_INFO, "self-audit: the previous run is still going, skipped", NULL);
	timer_arm(srv->self_audit, srv->self_audit->interval);
}

static void q_cb(evutil_socket_t fd, short what, void *arg)
{
	struct self_audit *a = arg;
	(void)fd, (void)what;
	workq_run_completions(a->q);
}

static unsigned first_delay(unsigned interval)
{
	return interval < SELF_AUDIT_FIRST_DELAY ? interval : SELF_AUDIT_FIRST_DELAY;
}

int self_audit_start(struct server *srv, char *err, size_t errlen)
{
	struct self_audit *a = calloc(1, sizeof(*a));
	if (!a || !(a->q = workq_create(1))) {
		free(a);
		snprintf(err, errlen, "cannot start the self-audit thread");
		return -1;
	}
	srv->self_audit = a;
	a->ev_q = event_new(srv->base, workq_notify_fd(a->q), EV_READ | EV_PERSIST, q_cb, a);
	a->ev_timer = evtimer_new(srv->base, timer_cb, srv);
	if (!a->ev_q || !a->ev_timer || event_add(a->ev_q, NULL) < 0) {
		snprintf(err, errlen, "cannot register the self-audit events");
		return -1;
	}
	a->interval = srv->conf->self_audit;
	timer_arm(a, first_delay(a->interval));
	if (a->interval)
		log_msg(LOG_INFO, "self-audit: scheduled", "interval=%us first_in=%us", a->interval,
			first_delay(a->interval));
	return 0;
}

void self_audit_conf_changed(struct server *srv)
{
	struct self_audit *a = srv->self_audit;
	if (!a || a->interval == srv->conf->self_audit)
		return;
	a->interval = srv->conf->self_audit;
	timer_arm(a, first_delay(a->interval));
	log_msg(LOG_INFO, "self-audit: interval changed", "interval=%us", a->interval);
}

int self_audit_now(struct server *srv)
{
	if (!srv->self_audit || srv->stopping)
		return -1;
	return run_begin(srv);
}

void self_audit_status(const struct server *srv, struct evbuffer *b)
{
	const struct self_audit *a = srv->self_audit;
	if (!a)
		return;
	if (a->interval)
		evbuffer_add_printf(b, "self-audit every %us\n", a->interval);
	else
		evbuffer_add_printf(b, "self-audit off\n");
	if (a->running)
		evbuffer_add_printf(b, "self-audit-running since %lld\n",
				    (long long)a->running->started);
	if (!a->last)
		return;
	evbuffer_add_printf(b, "self-audit-last %lld\n", (long long)a->last->finished);
	for (size_t i = 0; i < a->last->n; i++) {
		const struct sa_target *t = &a->last->t[i];
		const char *v = t->skip[0] || t->sum.errors == t->sum.tests ? "not-tested"
				: target_relayed(t)			    ? "OPEN"
									    : "closed";
		evbuffer_add_printf(b, "self-audit-listener %s %s relayed=%zu tests=%zu\n",
				    t->listen, v, target_relayed(t), t->sum.tests);
	}
}

void self_audit_stop(struct server *srv)
{
	struct self_audit *a = srv->self_audit;
	if (!a)
		return;
	if (a->q) {
		workq_stop(a->q); /* a run under way ends: the listeners are closed */
		workq_run_completions(a->q);
		workq_destroy(a->q);
	}
	if (a->ev_q)
		event_free(a->ev_q);
	if (a->ev_timer)
		event_free(a->ev_timer);
	free(a->last);
	free(a);
	srv->self_audit = NULL;
}
