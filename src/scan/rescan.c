/* rescan.c — scheduled rescans of listed hosts inside `relayguard dnsbl` (scan-rescan yes: a
 * thread runs `scan --rescan-listed` every scan-rescan-interval), and the dispatch of the
 * scanner's commands. */
#include "scan_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rescan_thread {
	const struct conf *c;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int running; /* the thread was started: rescan_stop joins it */
	pthread_t t;
};

/* One pass: every listed host entry due for a rescan. */
static void rescan_once(const struct conf *c)
{
	struct scan_addrs l = {0};
	struct scan_opts o = {0};
	struct scan_stats st;
	char err[512];
	o.c = c;
	scan_settings_from_conf(c, &o.set);
	o.concurrency = 16;
	o.rate = 10;
	o.allow_reserved = c->scan_allow_reserved;
	o.quiet = 1;
	o.who = "scan:rescan";
	if ((c->scan_opt_out &&
	     scan_optout_load(c->scan_opt_out, &o.opt_out, &o.n_opt_out, err, sizeof(err)) < 0) ||
	    scan_listed_due(c, c->scan_rescan_interval, &l, err, sizeof(err)) < 0 ||
	    (l.n && scan_run(&o, &l, &st, err, sizeof(err)) < 0))
		fprintf(stderr, "dnsbl: rescan: %s\n", err);
	else if (l.n)
		fprintf(stderr,
			"dnsbl: rescan: %zu listed hosts rescanned: %zu open, %zu clean (%zu "
			"expired), %zu untestable, %zu skipped\n",
			st.scanned, st.open, st.clean, st.expired, st.untestable, st.skipped);
	scan_addrs_free(&l);
	free(o.opt_out);
}

static void *rescan_loop(void *arg)
{
	struct rescan_thread *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		/* 0 (every listed host always due) still waits a second between passes */
		ts.tv_sec += (time_t)(r->c->scan_rescan_interval ? r->c->scan_rescan_interval : 1);
		int rc = 0;
		while (!r->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		rescan_once(r->c);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Start the thread with SIGINT/SIGTERM blocked in it (the DNS server's loop takes them). */
static int rescan_start(struct rescan_thread *r, const struct conf *c)
{
	sigset_t block, old;
	r->c = c;
	r->stop = 0;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	signal(SIGPIPE, SIG_IGN);
	int rc = pthread_create(&r->t, NULL, rescan_loop, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

static void rescan_stop(struct rescan_thread *r)
{
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->t, NULL); /* a pass under way ends within its probe timeouts */
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}

/* The DNS server's hook: the thread starts once root is dropped, so what it writes to the
 * store is the service user's. */
static int rescan_started(void *arg, char *err, size_t errlen)
{
	struct rescan_thread *r = arg;
	if (rescan_start(r, r->c) < 0) {
		snprintf(err, errlen, "cannot start the rescan thread");
		return -1;
	}
	r->running = 1;
	fprintf(stderr, "dnsbl: rescanning listed hosts every %us (scan-rescan yes)\n",
		r->c->scan_rescan_interval);
	return 0;
}

/* `relayguard dnsbl [-c FILE]`, with the rescan thread when scan-rescan yes. */
static int dnsbl_cli(int argc, char **argv, const char *default_conf)
{
	const char *path = argc == 2 && !strcmp(argv[0], "-c") ? argv[1] : default_conf;
	struct conf *c = NULL;
	struct rescan_thread r = {0};
	char err[512];
	if (conf_load(path, &c, err, sizeof(err)) < 0 || !c->scan_rescan) {
		conf_free(c); /* blocklist_dnsbl_cli reports the error itself */
		return blocklist_dnsbl_cli(argc, argv, default_conf, NULL);
	}
	r.c = c;
	struct blocklist_dnsbl_hook hook = {rescan_started, &r};
	int rc = blocklist_dnsbl_cli(argc, argv, default_conf, &hook);
	if (r.running)
		rescan_stop(&r);
	conf_free(c);
	return rc;
}

int scan_main(int argc, char **argv, const char *default_conf)
{
	if (argc >= 2 && !strcmp(argv[1], "scan"))
		return scan_cli_scan(argc - 2, argv + 2, default_conf);
	if (argc >= 3 && !strcmp(argv[1], "list") && !strcmp(argv[2], "request-delist"))
		return scan_cli_request_delist(argc - 3, argv + 3, default_conf);
	if (argc >= 2 && !strcmp(argv[1], "dnsbl"))
		return dnsbl_cli(argc - 2, argv + 2, default_conf);
	return -1;
}
