/* serve.c — the server context and its event loop. All mutable state of a running server is in
 * struct server; nothing is global. */
#include "server_int.h"

#include "../changelog/changelog.h"

#include "../conf/conf.h"
#include "../queue/queue.h"
#include "../smtp/smtp.h"
#include "../tls/tls.h"
#include "../util/util.h"
#include "../util/workq.h"
#include "../probe/probe.h"
#include "../abuse/abuse.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

static void stop_now(struct server *srv, const char *why)
{
	log_msg(LOG_INFO, "server: stopping now", "reason=%s sessions=%u", why,
		srv->smtp.n_sessions);
	event_base_loopbreak(srv->base);
}

static void drained_cb(void *arg)
{
	struct server *srv = arg;
	log_msg(LOG_INFO, "server: every session ended", NULL);
	event_base_loopbreak(srv->base);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	stop_now(arg, "shutdown-grace-over");
}

/* SIGTERM/SIGINT: stop accepting at once and let sessions inside a transaction finish it
 * within limit shutdown-grace; a second signal stops at once. */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	(void)what;
	if (srv->stopping) {
		stop_now(srv, "second-signal");
		return;
	}
	srv->stopping = 1;
	unsigned grace = srv->conf->limits.shutdown_grace;
	log_msg(LOG_INFO, "server: stopping", "signal=%d sessions=%u grace=%us", (int)sig,
		srv->smtp.n_sessions, grace);
	control_stop_accepting(srv->control);
	struct timeval tv = {(time_t)grace, 0};
	srv->ev_grace = evtimer_new(srv->base, grace_cb, srv);
	if (!srv->ev_grace || evtimer_add(srv->ev_grace, &tv) < 0) {
		stop_now(srv, "no-timer");
		return;
	}
	srv->smtp.on_drained = drained_cb;
	srv->smtp.drained_arg = srv;
	smtp_drain(&srv->smtp);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	log_msg(LOG_INFO, "server: SIGHUP: reloading the configuration", NULL);
	server_reload(arg, NULL, NULL);
}

/* A message became durable (or was found at start): count what was received, deliver. */
/* The circuit breaker tripped login: every queued message it submitted goes on hold (durably,
 * like queue hold), so nothing more of it leaves until an admin looks (queue release). */
static void on_trip(void *arg, const char *login)
{
	struct server *srv = arg;
	unsigned held = 0, failed = 0;
	for (struct spool_msg *m = spool_first(srv->spool); m; m = m->next) {
		if (m->held || !m->env.auth || strcmp(m->env.auth, login) != 0)
			continue;
		if (sched_hold(srv, m, 1) < 0) {
			failed++;
			continue;
		}
		held++;
		log_msg(LOG_INFO, "queue: held", "qid=%s rule=ratelimit:circuit-breaker", m->qid);
	}
	log_msg(failed ? LOG_ERR : LOG_WARN, "ratelimit: circuit breaker: queued mail held",
		"rule=ratelimit:circuit-breaker held=%u failed=%u", held, failed);
}

static void on_queued(void *arg, struct spool_msg *msg)
{
	struct server *srv = arg;
	if (!msg->recovered) {
		srv->metrics.messages_received++;
		srv->metrics.bytes_received += msg->body_len;
	}
	sched_on_queued(srv, msg);
}

static int server_events(struct server *srv)
{
	srv->ev_spool =
	    event_new(srv->base, spool_notify_fd(srv->spool), EV_READ | EV_PERSIST, spool_cb, srv);
	srv->ev_workq =
	    event_new(srv->base, workq_notify_fd(srv->workq), EV_READ | EV_PERSIST, workq_cb, srv);
	srv->ev_term = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->ev_int = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	srv->ev_hup = evsignal_new(srv->base, SIGHUP, hup_cb, srv);
	if (!srv->ev_spool || !srv->ev_workq || !srv->ev_term || !srv->ev_int || !srv->ev_hup)
		return -1;
	event_add(srv->ev_spool, NULL);
	event_add(srv->ev_workq, NULL);
	event_add(srv->ev_term, NULL);
	event_add(srv->ev_int, NULL);
	event_add(srv->ev_hup, NULL);
	return 0;
}

#define OPEN_RELAY_WARN_SECONDS 3600

struct relay_findings {
	size_t n;
	struct audit_finding first;
};

static void count_relays(void *arg, const struct audit_finding *f)
{
	struct relay_findings *r = arg;
	if (f->relays && r->n++ == 0)
		r->first = *f;
}

size_t server_audit_relays(const struct conf *c, struct audit_finding *first)
{
	struct relay_findings r = {0};
	audit_config(c, count_relays, &r);
	*first = r.first;
	return r.n;
}

void server_open_relay_error(const struct conf *c, const char *action, size_t n,
			     const struct audit_finding *first, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "%s: refusing to %s an open relay: %s: %s (and %zu more); see "
		 "'relayguard check -c %s', or add 'open-relay-override REASON' to run it anyway",
		 c->path, action, first->where, first->what, n - 1, c->path);
}

static void warn_open_relay(const struct server *srv)
{
	log_msg(LOG_WARN,
		"server: OPEN RELAY: outside clients can relay through this configuration",
		"config=%s relay_tests=%zu override=\"%s\"", srv->conf->path, srv->open_relay_tests,
		srv->conf->open_relay_override);
}

static void open_relay_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	warn_open_relay(arg);
}

int server_open_relay_timer(struct server *srv, char *err, size_t errlen)
{
	if (srv->open_relay_tests == 0) {
		if (srv->ev_open_relay)
			event_free(srv->ev_open_relay);
		srv->ev_open_relay = NULL;
		return 0;
	}
	struct timeval hour = {OPEN_RELAY_WARN_SECONDS, 0};
	if (!srv->ev_open_relay &&
	    (!(srv->ev_open_relay = event_new(srv->base, -1, EV_PERSIST, open_relay_cb, srv)) ||
	     event_add(srv->ev_open_relay, &hour) < 0)) {
		snprintf(err, errlen, "cannot register the open-relay warning timer");
		return -1;
	}
	warn_open_relay(srv);
	return 0;
}

/* The same audit as `relayguard check`: a config under which an unauthenticated outside client
 * can relay is refused, unless the admin named a reason with open-relay-override; then it is
 * announced at start and every hour. */
static int audit_gate(struct server *srv, char *err, size_t errlen)
{
	struct audit_finding first;
	const struct conf *c = srv->conf;
	srv->open_relay_tests = server_audit_relays(c, &first);
	if (srv->open_relay_tests > 0 && !c->open_relay_override) {
		server_open_relay_error(c, "start", srv->open_relay_tests, &first, err, errlen);
		return -1;
	}
	return server_open_relay_timer(srv, err, errlen);
}

static void server_free(struct server *srv)
{
	srv->stopping = 1; /* a reload finishing below is not applied */
	metrics_http_stop(srv);
	smtp_shutdown(&srv->smtp);
	self_audit_stop(srv); /* after the listeners closed: a run under way ends quickly */
	self_check_stop(srv);
	smtp_auth_shutdown(&srv->smtp);
	abuse_store_free(srv->smtp.abuse); /* checks under way end (their sessions are gone) */
	srv->smtp.abuse = NULL;
	dnsbl_engine_free(srv->smtp.dnsbl); /* after the sessions, whose checks used it */
	SSL_CTX_free(srv->smtp.tls_ctx);    /* the sessions, gone now, held their own references */
	if (srv->workq) {
		workq_stop(srv->workq); /* deliveries under way finish and are recorded */
		workq_run_completions(srv->workq);
		workq_destroy(srv->workq);
	}
	local_shutdown(srv);
	server_reload_shutdown(srv);
	control_close(srv->control);
	sched_shutdown(srv);
	spool_close(srv->spool);
	struct event *evs[] = {srv->ev_spool, srv->ev_workq,	  srv->ev_term, srv->ev_int,
			       srv->ev_hup,   srv->ev_open_relay, srv->ev_grace};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (srv->base)
		event_base_free(srv->base);
	conf_unref(srv->conf);
}

/* Everything that may need root: the directories made for the service user, every socket
 * bound (the TLS context, whose key only root may read, is built just before). No thread runs
 * yet and no client byte is read before the drop. */
static int server_start_root(struct server *srv, char *err, size_t errlen)
{
	const struct conf *c = srv->conf;
	if (privsep_prepare(&srv->privsep, c, err, errlen) < 0 ||
	    control_open(srv, err, errlen) < 0 ||
	    privdrop_chown(&srv->privsep, c->control_socket, err, errlen) < 0)
		return -1;
	srv->smtp.conf = srv->conf;
	srv->smtp.base = srv->base;
	srv->smtp.metrics = &srv->metrics;
	if (smtp_listen(&srv->smtp, err, errlen) < 0 || metrics_http_start(srv, err, errlen) < 0)
		return -1;
	return privsep_drop(&srv->privsep, c, err, errlen);
}

/* Descriptors besides the SMTP sessions: listeners, the spool, logs, the control and metrics
 * sockets, DNS, the stores, TLS files. */
#define SERVE_FD_RESERVE 256

/* Raise RLIMIT_NOFILE to what limit max-sessions and delivery concurrency need: the soft limit
 * up to the hard one, and (as root, before the drop) the hard one too. At start and on every
 * reload (after the drop only the soft limit can move). Short of the need, one log line with
 * the numbers; the server still runs (sessions past the limit get accept errors, logged by the
 * listener). */
void server_raise_fd_limit(const struct conf *c)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)c->limits.max_sessions + c->delivery.concurrency + SERVE_FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	struct rlimit want = {
	    need, rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? need : rl.rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
		log_msg(LOG_INFO, "server: file descriptor limit raised",
			"soft=%llu hard=%llu need=%llu", (unsigned long long)want.rlim_cur,
			(unsigned long long)want.rlim_max, (unsigned long long)need);
		return;
	}
	want = (struct rlimit){rl.rlim_max, rl.rlim_max};
	if (rl.rlim_cur < rl.rlim_max && setrlimit(RLIMIT_NOFILE, &want) == 0)
		rl.rlim_cur = rl.rlim_max;
	log_msg(LOG_WARN, "server: file descriptor limit below what max-sessions needs",
		"soft=%llu hard=%llu need=%llu max_sessions=%u", (unsigned long long)rl.rlim_cur,
		(unsigned long long)rl.rlim_max, (unsigned long long)need, c->limits.max_sessions);
}

static int server_start(struct server *srv, const char *conf_path, char *err, size_t errlen)
{
	struct changelog_who who; /* who started the server: taken before the drop */
	changelog_who_self(&who);
	if (conf_load(conf_path, &srv->conf, err, errlen) < 0)
		return -1;
	const struct conf *c = srv->conf;
	server_raise_fd_limit(c);
	srv->started = srv->conf_loaded = time(NULL);
	srv->base = event_base_new();
	if (!srv->base) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	if (audit_gate(srv, err, errlen) < 0 ||
	    server_tls_ctx(c, &srv->smtp.tls_ctx, err, errlen) < 0 ||
	    server_start_root(srv, err, errlen) < 0)
		return -1;
	if (sched_init(srv, err, errlen) < 0 ||
	    dnsbl_engine_new(srv->base, c, &srv->metrics, &srv->smtp.dnsbl, err, errlen) < 0)
		return -1;
	srv->workq = workq_create(c->delivery_workers);
	if (!srv->workq) {
		snprintf(err, errlen, "cannot start the delivery threads");
		return -1;
	}
	if (spool_open(c->spool_dir, c->spool_segment_size, on_queued, srv, &srv->spool, err,
		       errlen) < 0)
		return -1;
	srv->smtp.spool = srv->spool;
	spool_set_stage_budget(srv->spool, (size_t)c->limits.stage_memory);
	if (server_events(srv) < 0) {
		snprintf(err, errlen, "cannot register events");
		return -1;
	}
	/* the AUTH threads start after the drop, like every other thread */
	if (smtp_auth_init(&srv->smtp, err, errlen) < 0 || self_audit_start(srv, err, errlen) < 0 ||
	    self_check_start(srv, err, errlen) < 0)
		return -1;
	/* the abuse-control state (greylisting, rate limits), as the service user like every file
	 * after the drop, only when used (else a reload that needs it opens it); a Redis store
	 * that is down now is retried, not a start error */
	if (abuse_store_needed(c) &&
	    !(srv->smtp.abuse = abuse_store_open(c, 1, srv->base, err, errlen)))
		return -1;
	srv->smtp.on_trip = on_trip;
	srv->smtp.trip_arg = srv;
	long pending = spool_recover(srv->spool, err, errlen);
	if (pending < 0)
		return -1;
	/* before the loop runs (no session waits on this I/O) and before "started" (a watcher
	 * then finds the record) */
	unsigned long id;
	server_record_conf(c, "start", &who, &id);
	log_msg(LOG_INFO, "server: started", "config=%s hostname=%s spool=%s recovered=%ld pid=%ld",
		c->path, c->hostname, c->spool_dir, pending, (long)getpid());
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
	const struct metrics *m = &srv.metrics;
	uint64_t delivered = 0;
	for (size_t i = 0; i < METRICS_METHODS; i++)
		delivered += m->delivered[i];
	log_msg(LOG_INFO, "server: stopped",
		"queued=%" PRIu64 " spool_fdatasyncs=%" PRIu64 " delivered=%" PRIu64
		" failed_attempts=%" PRIu64 " maildir_dir_fsyncs=%lu",
		commits, syncs, delivered, m->deferred, srv.dirsync_calls);
	server_free(&srv);
	return 0;
}
