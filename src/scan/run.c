/* run.c — one scan run: targets filtered (reserved ranges, opt-out list, --min-interval), the
 * worker pool under the global connection rate limit, each host's result into the store, a
 * line per host (human or JSON), progress on a terminal and the summary. */
#include "scan_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct run_ctx {
	const struct scan_opts *o;
	struct blocklist *b; /* used under the pool's lock only */
	struct scan_stats *st;
	size_t total, done;
	long long start_ms, progress_ms;
	int tty;
};

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ip_text(const uint8_t a[16], char *out, size_t len)
{
	struct cidr h;
	memcpy(h.addr, a, 16);
	h.prefix = 128;
	cidr_format(&h, out, len);
	out[strcspn(out, "/")] = '\0';
}

/* Why addr is not scanned, into why (empty: scan it). */
static void run_filter(struct run_ctx *x, const uint8_t a[16], char *why, size_t len)
{
	const struct scan_opts *o = x->o;
	const char *res = o->allow_reserved ? NULL : scan_reserved(a);
	int64_t last = 0;
	why[0] = '\0';
	if (res)
		snprintf(why, len, "reserved range %s (--allow-reserved)", res);
	else if (cidr_set_contains(o->opt_out, o->n_opt_out, a))
		snprintf(why, len, "opt-out list");
	else if (o->min_interval > 0 && blocklist_last_scan(x->b, a, &last) == 0 && last > 0 &&
		 (int64_t)time(NULL) - last < o->min_interval)
		snprintf(why, len, "scanned %llds ago (--min-interval %llds)",
			 (long long)((int64_t)time(NULL) - last), (long long)o->min_interval);
}

static void print_skip(const struct run_ctx *x, const char *ip, const char *result, const char *why)
{
	if (x->o->quiet)
		return;
	if (x->o->json) {
		printf("{\"ip\":\"%s\",\"result\":\"%s\",\"why\":", ip, result);
		util_json_print(stdout, why);
		printf("}\n");
	} else
		printf("%s: %s%s%s\n", ip, result, why[0] ? ": " : "", why);
	fflush(stdout);
}

static void print_host(const struct run_ctx *x, const struct scan_host_result *r,
		       const char *action)
{
	if (x->o->quiet)
		return;
	if (x->o->json) {
		char *j = scan_host_json(r, action);
		if (j)
			printf("%s\n", j);
		free(j);
		fflush(stdout);
		return;
	}
	printf("%s: %s", r->ip,
	       r->outcome == SCAN_OUTCOME_OPEN	  ? "OPEN RELAY"
	       : r->outcome == SCAN_OUTCOME_CLEAN ? "clean"
						  : "untestable");
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct probe_summary *s = &r->ports[i].sum;
		printf("%sport %u: %s", i ? "; " : " (", (unsigned)r->ports[i].port, s->overall);
		if (s->open)
			printf(", %zu tests relayed, first %s", s->open, s->first);
		else if (s->accepts_rcpt)
			printf(", accepts RCPT in %zu tests (DATA refused)", s->accepts_rcpt);
		else if (!s->connected)
			printf(", %.80s", s->error);
	}
	printf(") -> %s\n", action);
	fflush(stdout);
}

static void progress(struct run_ctx *x, int last)
{
	long long now = mono_ms();
	if (!x->tty || x->o->quiet || (!last && now - x->progress_ms < 250))
		return;
	x->progress_ms = now;
	double secs = (double)(now - x->start_ms) / 1000, rate = secs > 0 ? x->done / secs : 0;
	double eta = rate > 0 ? (double)(x->total - x->done) / rate : 0;
	fprintf(stderr, "\r[%zu/%zu] open %zu, %.1f hosts/s, ETA %.0fs   %s", x->done, x->total,
		x->st->open, rate, eta, last ? "\n" : "");
}

static void on_result(void *arg, struct scan_host_result *r)
{
	struct run_ctx *x = arg;
	char err[512];
	const char *action = "none";
	x->done++;
	x->st->scanned++;
	x->st->open += r->outcome == SCAN_OUTCOME_OPEN;
	x->st->clean += r->outcome == SCAN_OUTCOME_CLEAN;
	x->st->untestable += r->outcome == SCAN_OUTCOME_UNTESTABLE;
	if (scan_host_store(x->b, r, x->o->who, x->o->c->blocklist_expire_after, &action, err,
			    sizeof(err)) < 0) {
		x->st->errors++;
		action = "store-error";
		fprintf(stderr, "scan: %s\n", err);
	}
	x->st->listed += !strcmp(action, "listed");
	x->st->expired += !strcmp(action, "expired");
	print_host(x, r, action);
	progress(x, 0);
}

/* The addresses that pass the filters, into todo (the others are reported). */
static int run_select(struct run_ctx *x, const struct scan_addrs *l, struct scan_addrs *todo)
{
	char why[160], ip[64];
	for (size_t i = 0; i < l->n; i++) {
		run_filter(x, l->a[i], why, sizeof(why));
		ip_text(l->a[i], ip, sizeof(ip));
		if (why[0]) {
			x->st->skipped++;
			print_skip(x, ip, "skipped", why);
		} else if (x->o->dry_run) {
			print_skip(x, ip, "would-scan", "");
		} else {
			struct cidr one = {{0}, 128};
			memcpy(one.addr, l->a[i], 16);
			char e[128];
			if (scan_cidr_expand(&one, todo, SIZE_MAX, e, sizeof(e)) < 0)
				return -1;
		}
	}
	return 0;
}

int scan_run(const struct scan_opts *o, const struct scan_addrs *l, struct scan_stats *st,
	     char *err, size_t errlen)
{
	struct run_ctx x = {o, NULL, st, 0, 0, mono_ms(), 0, isatty(2)};
	struct scan_addrs todo = {0};
	struct scan_bucket bucket;
	struct scan_settings set = o->set;
	memset(st, 0, sizeof(*st));
	st->targets = l->n;
	if (blocklist_open(conf_blocklist_db(o->c), &x.b, err, errlen) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	if (run_select(&x, l, &todo) < 0) {
		snprintf(err, errlen, "out of memory");
		blocklist_close(x.b);
		return -1;
	}
	scan_bucket_init(&bucket, o->rate);
	set.before_connect = scan_bucket_take;
	set.connect_arg = &bucket;
	x.total = todo.n;
	struct scan_pool p = {&set, (const uint8_t(*)[16])todo.a, todo.n, o->concurrency, on_result,
			      &x};
	int rc = todo.n ? scan_pool_run(&p) : 0;
	if (rc < 0)
		snprintf(err, errlen, "cannot start the scanner's threads");
	if (todo.n)
		progress(&x, 1);
	st->connections = bucket.taken;
	st->seconds = (double)(mono_ms() - x.start_ms) / 1000;
	scan_bucket_destroy(&bucket);
	scan_addrs_free(&todo);
	blocklist_close(x.b);
	return rc;
}

struct due_ctx {
	int64_t before;
	struct scan_addrs *l;
	int failed;
};

static int due_entry(void *arg, const struct blocklist_entry *e)
{
	struct due_ctx *d = arg;
	int64_t last = e->last_seen > e->last_clean ? e->last_seen : e->last_clean;
	if (e->net.prefix != 128 || last > d->before)
		return 0;
	char err[64];
	if (scan_cidr_expand(&e->net, d->l, SIZE_MAX, err, sizeof(err)) < 0)
		return d->failed = 1;
	return 0;
}

int scan_listed_due(const struct conf *c, int64_t interval, struct scan_addrs *l, char *err,
		    size_t errlen)
{
	struct blocklist *b;
	if (blocklist_open(conf_blocklist_db(c), &b, err, errlen) < 0)
		return -1;
	struct due_ctx d = {(int64_t)time(NULL) - interval, l, 0};
	int rc = blocklist_foreach(b, 1, due_entry, &d);
	blocklist_close(b);
	if (rc != 0 || d.failed)
		snprintf(err, errlen, "cannot read the listed entries of the store");
	return rc != 0 || d.failed ? -1 : 0;
}
