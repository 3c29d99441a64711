/* client.c — `relayguard probe`: the relay battery over the wire against any SMTP server, at
 * three depths: RCPT accepted, message accepted after DATA, and (with --catch) the message
 * delivered to the probe's own catcher. The server may close the session after some refusals
 * (error limits): the probe reconnects and goes on. Bounded per reply (--timeout), in total
 * (--max-time) and for deliveries (--catch-wait). */
#include "probe_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct run {
	const struct probe_options *o;
	struct probe_conn c;
	struct probe_catcher *catcher;
	struct probe_target tgt;
	char name[256], lit[80], catch_dom[300];
	char runid[PROBE_RUNID_LEN + 1];
	struct probe_result res[PROBE_MAX_TESTS];
	size_t n;
	long long waited_ms; /* how long the catcher was waited for */
	const char *fatal;   /* why nothing can be tested (STARTTLS not offered), or NULL */
};

static void run_make_id(struct run *r)
{
	unsigned char b[6];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		unsigned long v = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
		memcpy(b, &v, sizeof(b) < sizeof(v) ? sizeof(b) : sizeof(v));
	}
	snprintf(r->runid, sizeof(r->runid), "rgprobe-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5]);
}

/* The verdict of a refusal at MAIL or RCPT. */
static enum probe_verdict refused(int code)
{
	return code == 530 ? PROBE_AUTH_NEEDED : PROBE_REFUSED;
}

/* The test message: RFC 5322 header, the token in Subject, Message-ID and body. */
static int test_message(const struct run *r, size_t i, char *msg, size_t len)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
	int n = snprintf(msg, len,
			 "From: <probe@" PROBE_EXT_DEFAULT ">\r\nDate: %s\r\n"
			 "Message-ID: <%s-%02zu@probe.relayguard.invalid>\r\n"
			 "Subject: relayguard relay test %s %s-%02zu\r\n\r\n"
			 "A relay test by relayguard probe (%s).\r\n"
			 "If this arrived, %s relays mail. Token: %s-%02zu\r\n.\r\n",
			 date, r->runid, i, probe_battery[i].id, r->runid, i, probe_battery[i].why,
			 r->o->host, r->runid, i);
	return n > 0 && (size_t)n < len ? n : -1;
}

/* One battery test on an open session. Returns -1 when the connection failed under it. */
static int run_test(struct run *r, size_t i, struct probe_result *res)
{
	const struct probe_test *t = &probe_battery[i];
	struct probe_conn *c = &r->c;
	char from[600], line[700], msg[1536];
	if (probe_expand(t->from, &r->tgt, from, sizeof(from)) < 0 ||
	    probe_expand(t->rcpt, &r->tgt, res->rcpt_path, sizeof(res->rcpt_path)) < 0)
		return -1;
	res->catchable = r->catcher && probe_test_uses_ext(t);
	if (probe_conn_cmd(c, "RSET") < 0)
		return -1;
	snprintf(line, sizeof(line), "MAIL FROM:%s", from);
	if ((res->mail = probe_conn_cmd(c, line)) < 0)
		return -1;
	if (res->mail / 100 != 2)
		return res->verdict = refused(res->mail), 0;
	snprintf(line, sizeof(line), "RCPT TO:%s", res->rcpt_path);
	if ((res->rcpt = probe_conn_cmd(c, line)) < 0)
		return -1;
	if (res->rcpt / 100 != 2)
		return res->verdict = refused(res->rcpt), 0;
	res->verdict = PROBE_ACCEPTS_RCPT;
	if (r->o->rcpt_only) /* no message: the RSET of the next test ends the transaction */
		return 0;
	if ((res->data = probe_conn_cmd(c, "DATA")) < 0)
		return -1;
	if (res->data != 354)
		return 0;
	int n = test_message(r, i, msg, sizeof(msg));
	probe_conn_transcript(c, "->", "(test message)", 14);
	if (n < 0 || probe_conn_send(c, msg, (size_t)n) < 0 || (res->end = probe_conn_reply(c)) < 0)
		return -1;
	if (res->end / 100 == 2)
		res->verdict = PROBE_OPEN;
	return 0;
}

/* Run test i, reconnecting once if the server closed the session (error limits). */
static void run_one(struct run *r, size_t i)
{
	struct probe_result *res = &r->res[i];
	struct probe_conn *c = &r->c;
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(res, 0, sizeof(*res));
		res->verdict = PROBE_ERROR;
		if (c->fd < 0) {
			int rc =
			    probe_conn_open(c, r->name, sizeof(r->name), r->lit, sizeof(r->lit));
			if (rc != PROBE_CONN_OK) {
				probe_conn_close(c);
				snprintf(res->note, sizeof(res->note),
					 "cannot open a session: %.70s%s%.60s", c->err,
					 c->last[0] ? " (last: " : "", c->last);
				if (rc == PROBE_CONN_NO_STARTTLS) {
					r->fatal = "STARTTLS not offered";
					return;
				}
				continue;
			}
		}
		r->tgt.dom = r->name;
		r->tgt.ip = r->lit;
		if (run_test(r, i, res) == 0)
			return;
		probe_conn_close(c);
		res->verdict = PROBE_ERROR;
		snprintf(res->note, sizeof(res->note), "connection lost or %.40s (last: %.80s)",
			 c->err[0] ? c->err : "failed", c->last);
	}
}

static void run_mark_delivered(struct run *r, uint64_t want)
{
	uint64_t caught = probe_catcher_caught(r->catcher);
	for (size_t i = 0; i < r->n; i++) {
		struct probe_result *res = &r->res[i];
		if (caught & ((uint64_t)1 << i)) {
			if (res->verdict != PROBE_OPEN)
				snprintf(res->note, sizeof(res->note),
					 "delivered although its reply was lost");
			res->verdict = PROBE_OPEN;
			res->delivered = 1;
		} else if (want & ((uint64_t)1 << i)) {
			snprintf(res->note, sizeof(res->note),
				 "not delivered to the catcher within %.1fs",
				 (double)r->waited_ms / 1000);
		}
	}
}

/* Whether the recipient names the catcher's domain itself; the other catchable forms reach the
 * catcher only if the server rewrites them there (percent hack, source route, quoting). */
static int run_rcpt_direct(const struct run *r, const struct probe_result *res)
{
	size_t pl = strlen(res->rcpt_path), dl = strlen(r->catch_dom);
	return pl > dl + 2 && res->rcpt_path[pl - dl - 2] == '@' &&
	       !strncasecmp(res->rcpt_path + pl - dl - 1, r->catch_dom, dl);
}

/* After the battery: wait until the catcher has every message the server accepted for a
 * catcher address, or --catch-wait ran out, or every direct one arrived and the catcher has
 * been quiet for PROBE_CATCH_QUIET_MS (the indirect forms the server did not rewrite to the
 * catcher never come). Then mark the depth each test reached. */
static void run_catch_wait(struct run *r)
{
	uint64_t want = 0, direct = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->res[i].verdict == PROBE_OPEN && r->res[i].catchable) {
			want |= (uint64_t)1 << i;
			direct |= run_rcpt_direct(r, &r->res[i]) ? (uint64_t)1 << i : 0;
		}
	long long start = probe_now_ms(), deadline = start + (long long)r->o->catch_wait * 1000;
	for (long long now;
	     (want & ~probe_catcher_caught(r->catcher)) && (now = probe_now_ms()) < deadline;) {
		long long last = probe_catcher_last(r->catcher);
		if (!(direct & ~probe_catcher_caught(r->catcher)) &&
		    now - (last > start ? last : start) >= PROBE_CATCH_QUIET_MS)
			break;
		probe_catcher_wait(r->catcher, -1,
				   deadline - now < 100 ? (int)(deadline - now) : 100);
	}
	r->waited_ms = probe_now_ms() - start;
	run_mark_delivered(r, want);
}

static void run_battery(struct run *r)
{
	long long start = probe_now_ms();
	for (size_t i = 0; i < r->n; i++) {
		if (r->fatal) {
			memset(&r->res[i], 0, sizeof(r->res[i]));
			r->res[i].verdict = PROBE_ERROR;
			snprintf(r->res[i].note, sizeof(r->res[i].note), "not run: %s", r->fatal);
		} else if (probe_now_ms() - start >= (long long)r->o->max_time * 1000) {
			memset(&r->res[i], 0, sizeof(r->res[i]));
			r->res[i].verdict = PROBE_ERROR;
			snprintf(r->res[i].note, sizeof(r->res[i].note),
				 "time limit of %us reached", r->o->max_time);
		} else {
			run_one(r, i);
			if (i == 0 && r->o->stop_unreachable && !r->c.local[0] && !r->fatal)
				r->fatal = r->res[0].note; /* "cannot open a session: …" */
		}
		/* between tests too, so a relay that delivers at once finds the catcher */
		if (r->catcher)
			probe_catcher_wait(r->catcher, -1, 0);
	}
	if (r->c.fd >= 0)
		probe_conn_cmd(&r->c, "QUIT");
	probe_conn_free(&r->c);
}

/* Count the verdicts into the summary; its status is the exit status of `probe`. */
static void run_summarise(const struct run *r, struct probe_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	sum->tests = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->res[i];
		sum->open += res->verdict == PROBE_OPEN;
		sum->accepts_rcpt += res->verdict == PROBE_ACCEPTS_RCPT;
		sum->errors += res->verdict == PROBE_ERROR;
		sum->auth_needed += res->verdict == PROBE_AUTH_NEEDED;
		sum->delivered += res->delivered;
		if (!sum->first[0] &&
		    (res->verdict == PROBE_OPEN || res->verdict == PROBE_ACCEPTS_RCPT))
			snprintf(sum->first, sizeof(sum->first), "%s", probe_battery[i].id);
		if (!sum->error[0] && res->verdict == PROBE_ERROR)
			snprintf(sum->error, sizeof(sum->error), "%s", res->note);
	}
	if (r->fatal)
		snprintf(sum->error, sizeof(sum->error), "%s", r->fatal);
	snprintf(sum->name, sizeof(sum->name), "%s", r->name);
	snprintf(sum->tls, sizeof(sum->tls), "%s", r->c.tls);
	snprintf(sum->local, sizeof(sum->local), "%s", r->c.local);
	sum->connected = r->c.local[0] != '\0';
	snprintf(sum->overall, sizeof(sum->overall), "%s",
		 r->fatal || sum->errors == r->n ? "could not test"
		 : sum->open			 ? "OPEN RELAY"
		 : sum->errors			 ? "incomplete (some tests could not run)"
		 : sum->auth_needed		 ? "closed, auth required"
						 : "closed");
	sum->status = r->fatal ? 2 : sum->open ? 1 : sum->errors ? 2 : 0;
}

static int run_report(struct run *r)
{
	struct probe_summary sum;
	run_summarise(r, &sum);
	struct probe_report rep = {
	    r->o,   r->name, r->c.tls,	  r->fatal, r->catcher ? r->catch_dom : NULL,
	    r->res, r->n,    sum.overall, sum.open, sum.delivered};
	if (r->o->json)
		probe_report_json(&rep);
	else
		probe_report_table(&rep);
	return sum.status;
}

/* A run set up: its ID, and the catcher when asked for. NULL with err set on failure. */
static struct run *run_new(const struct probe_options *o, char *err, size_t errlen)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->o = o;
	r->c.fd = -1;
	r->c.o = o;
	r->n = probe_battery_len < PROBE_MAX_TESTS ? probe_battery_len : PROBE_MAX_TESTS;
	run_make_id(r);
	if (o->catch_addr) {
		r->catcher = probe_catcher_open(o->catch_addr, o->catch_port, r->runid, o->verbose,
						err, errlen);
		if (!r->catcher) {
			free(r);
			return NULL;
		}
		snprintf(r->catch_dom, sizeof(r->catch_dom), "%s", o->catch_domain);
		r->tgt.ext = r->catch_dom;
		r->c.catcher = r->catcher;
	}
	return r;
}

static void run_execute(struct run *r)
{
	run_battery(r);
	if (r->catcher)
		run_catch_wait(r);
}

static void run_free(struct run *r)
{
	probe_catcher_close(r->catcher);
	free(r);
}

int probe_run(const struct probe_options *o)
{
	char err[200];
	/* a server that closes while we write (a TLS record, a pipelined command) must give EPIPE
	 * and a verdict, not kill the probe before its report is printed */
	signal(SIGPIPE, SIG_IGN);
	struct run *r = run_new(o, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "relayguard probe: %s\n", err);
		return 2;
	}
	run_execute(r);
	int rc = run_report(r);
	run_free(r);
	return rc;
}

static void run_details(const struct run *r, struct probe_details *d)
{
	d->n = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const struct probe_result *res = &r->res[i];
		struct probe_test_outcome *t = &d->tests[i];
		t->id = probe_battery[i].id;
		t->verdict = res->verdict;
		t->depth = res->delivered			? PROBE_DEPTH_DELIVERED
			   : res->verdict == PROBE_OPEN		? PROBE_DEPTH_DATA
			   : res->verdict == PROBE_ACCEPTS_RCPT ? PROBE_DEPTH_RCPT
								: PROBE_DEPTH_NONE;
		t->mail = res->mail, t->rcpt = res->rcpt, t->data = res->data, t->end = res->end;
	}
}

int probe_run_detailed(const struct probe_options *o, struct probe_summary *out,
		       struct probe_details *d)
{
	char err[200];
	if (d) {
		d->n = 0;
		d->transcript_len = 0;
		d->transcript[0] = '\0';
		d->truncated = 0;
	}
	struct run *r = run_new(o, err, sizeof(err));
	if (!r) {
		memset(out, 0, sizeof(*out));
		snprintf(out->error, sizeof(out->error), "%s", err);
		snprintf(out->overall, sizeof(out->overall), "could not test");
		return out->status = 2;
	}
	r->c.capture = d;
	run_execute(r);
	run_summarise(r, out);
	if (d)
		run_details(r, d);
	run_free(r);
	return out->status;
}

int probe_run_quiet(const struct probe_options *o, struct probe_summary *out)
{
	return probe_run_detailed(o, out, NULL);
}
