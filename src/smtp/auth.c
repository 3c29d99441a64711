/* auth.c — SMTP AUTH (RFC 4954): the command and its 334 challenges, each SASL step run on the
 * AUTH worker pool (PBKDF2 and SQLite never block the loop; a pool of its own, so deliveries and
 * AUTH do not starve each other), and what a failure costs: a growing delay before the 535, a
 * limit per session, and the per-IP guard that blocks an address across connections. */
#include "session_int.h"

#include "../auth/auth.h"
#include "../auth/guard.h"
#include "../auth/sasl.h"
#include "../util/base64.h"
#include "../util/util.h"
#include "../util/workq.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SMTP_AUTH_THREADS 2	 /* PBKDF2 is CPU: a couple of threads, apart from deliveries */
#define SMTP_AUTH_DELAY_STEPS 10 /* the Nth failure waits N x auth-failure-delay, N up to 10 */
#define SMTP_AUTH_DATA_MAX (SMTP_AUTH_LINE_MAX / 4 * 3)
#define SMTP_AUTH_MECH_MAX 20 /* RFC 4422 3.1: a mechanism name is 1..20 characters */

struct smtp_auth {
	struct smtp_session *s; /* NULL once the session is gone while a step runs */
	struct auth_sasl_exchange *x;
	unsigned char in[SMTP_AUTH_DATA_MAX]; /* the client's decoded response, for the worker */
	size_t in_len;
	unsigned char *out; /* the worker's answer: the next challenge or the final data */
	size_t out_len;
	enum auth_sasl_result result;
	int running; /* a step is on the worker */
	int final;   /* success data went out as a 334: the client's empty line completes it */
	struct event *delay; /* the failure delay before the 535 */
};

static void auth_free(struct smtp_auth *a)
{
	if (a->delay)
		event_free(a->delay);
	auth_sasl_finish(a->x);
	free(a->out);
	explicit_bzero(a->in, sizeof(a->in));
	free(a);
}

/* The exchange is over: back to commands. */
static void auth_end(struct smtp_session *s)
{
	struct smtp_auth *a = s->auth;
	s->auth = NULL;
	if (a)
		auth_free(a);
	s->state = SMTP_STATE_COMMAND;
}

void smtp_auth_detach(struct smtp_session *s)
{
	struct smtp_auth *a = s->auth;
	s->auth = NULL;
	if (a && a->running)
		a->s = NULL; /* step_done frees it */
	else if (a)
		auth_free(a);
}

static int session_secure(const struct smtp_session *s)
{
	return s->tls != NULL || s->listener.tls_implicit;
}

int smtp_auth_offered(const struct smtp_session *s)
{
	return s->listener.auth && session_secure(s) && !s->login[0] && s->ctx->sasl;
}

static void auth_cbind(const struct smtp_session *s, struct auth_sasl_cbind *cb)
{
	memset(cb, 0, sizeof(*cb));
	if (!s->tls)
		return;
	if (tls_channel_binding(s->tls, "tls-exporter", cb->exporter, sizeof(cb->exporter),
				&cb->exporter_len) < 0)
		cb->exporter_len = 0;
	if (tls_channel_binding(s->tls, "tls-unique", cb->unique, sizeof(cb->unique),
				&cb->unique_len) < 0)
		cb->unique_len = 0;
}

static int auth_plus(const struct auth_sasl_cbind *cb)
{
	return cb->exporter_len > 0 || cb->unique_len > 0;
}

const char *smtp_auth_mechs(const struct smtp_session *s)
{
	struct auth_sasl_cbind cb;
	auth_cbind(s, &cb);
	return auth_plus(&cb) ? AUTH_SASL_MECHS_PLUS : AUTH_SASL_MECHS;
}

/* Trusted networks and auth-allowlist are never counted nor blocked. */
static int auth_exempt(const struct smtp_session *s)
{
	const struct conf *c = s->conf;
	return cidr_set_contains(c->trusted, c->n_trusted, s->client.addr) ||
	       cidr_set_contains(c->auth_allowlist, c->n_auth_allowlist, s->client.addr);
}

static const struct auth_guard_limits *guard_limits(const struct smtp_session *s,
						    struct auth_guard_limits *l)
{
	l->ip_failures = s->conf->limits.auth_ip_failures;
	l->block_time = s->conf->limits.auth_block_time;
	return l;
}

static void auth_log(struct smtp_session *s, enum log_level lvl, const char *msg)
{
	char ql[AUTH_LOGIN_MAX * 4 + 8];
	const char *login = s->auth && s->auth->x ? auth_sasl_login(s->auth->x) : s->login;
	const char *mech = s->auth && s->auth->x ? auth_sasl_mech(s->auth->x) : "";
	log_msg(lvl, msg, "session=%llu client=%s login=%s mech=%s failures=%u",
		(unsigned long long)s->id, s->ip, log_quote(login, strlen(login), ql, sizeof(ql)),
		mech, s->auth_failures);
}

/* After a step or a delay (called from the loop, not from input processing): read again. */
static void auth_resume(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_COMMAND || s->state == SMTP_STATE_AUTH)
		smtp_session_resume(s);
}

/* The credentials were right; a login the circuit breaker tripped is still refused
 * (smtp_ratelimit_auth answers later, through smtp_auth_finish). */
static void auth_temp_error(struct smtp_session *s, const char *why);

static void auth_success(struct smtp_session *s)
{
	char login[sizeof(s->login)];
	util_strlcpy(login, auth_sasl_login(s->auth->x), sizeof(login));
	if (smtp_ratelimit_auth(s, login) == 0)
		smtp_auth_finish(s, SMTP_AUTH_GRANT);
}

void smtp_auth_finish(struct smtp_session *s, enum smtp_auth_outcome outcome)
{
	if (!s->auth || !s->auth->x) { /* cannot happen: the exchange waits for this */
		auth_end(s);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure, try again later");
		return;
	}
	if (outcome == SMTP_AUTH_LOCKED) {
		auth_log(s, LOG_WARN, "smtp: auth refused, account locked by the circuit breaker");
		auth_end(s);
		smtp_reply(s, "535 5.7.8 Account locked after unusual sending; contact the "
			      "postmaster");
		return;
	}
	if (outcome == SMTP_AUTH_TEMPFAIL) {
		auth_temp_error(s, "ratelimit-store");
		return;
	}
	util_strlcpy(s->login, auth_sasl_login(s->auth->x), sizeof(s->login));
	s->client.authenticated = 1;
	s->ctx->metrics->auth_ok++;
	if (!auth_exempt(s))
		auth_guard_succeeded(&s->ctx->guard, s->client.addr, time(NULL));
	auth_log(s, LOG_INFO, "smtp: auth ok");
	auth_end(s);
	smtp_reply(s, "235 2.7.0 Authentication successful");
}

static void failure_reply(struct smtp_session *s)
{
	auth_end(s);
	smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
	if (s->auth_failures >= s->conf->limits.auth_session_failures) {
		log_msg(LOG_WARN, "smtp: too many failed auth",
			"session=%llu client=%s failures=%u", (unsigned long long)s->id, s->ip,
			s->auth_failures);
		smtp_close(s, "421 4.7.0 %s Too many failed authentications, closing connection",
			   s->conf->hostname);
	}
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	failure_reply(arg);
	auth_resume(arg);
}

static void auth_failure(struct smtp_session *s)
{
	struct smtp_auth *a = s->auth;
	struct auth_guard_limits l;
	unsigned n = ++s->auth_failures;
	s->ctx->metrics->auth_failed++;
	auth_log(s, LOG_WARN, "smtp: auth failed");
	if (!auth_exempt(s) &&
	    auth_guard_failed(&s->ctx->guard, guard_limits(s, &l), s->client.addr, time(NULL)) ==
		AUTH_GUARD_NEW_BLOCK)
		log_msg(LOG_WARN, "smtp: auth blocked client", "client=%s failures=%u block=%us",
			s->ip, l.ip_failures, l.block_time);
	unsigned steps = n < SMTP_AUTH_DELAY_STEPS ? n : SMTP_AUTH_DELAY_STEPS;
	struct timeval tv = {(time_t)(steps * s->conf->limits.auth_failure_delay), 0};
	if (tv.tv_sec == 0) {
		failure_reply(s);
		return;
	}
	s->state = SMTP_STATE_AUTH_WAIT; /* input stays unread until the 535 */
	bufferevent_disable(s->bev, EV_READ);
	a->delay = evtimer_new(s->ctx->base, delay_cb, s);
	if (!a->delay || evtimer_add(a->delay, &tv) < 0) {
		failure_reply(s); /* no timer: answer now */
		if (s->state == SMTP_STATE_COMMAND)
			bufferevent_enable(s->bev, EV_READ);
	}
}

static void auth_temp_error(struct smtp_session *s, const char *why)
{
	log_msg(LOG_WARN, "smtp: auth unavailable", "session=%llu client=%s reason=%s",
		(unsigned long long)s->id, s->ip, why);
	auth_end(s);
	smtp_reply(s, "454 4.7.0 Temporary authentication failure, try again later");
}

static int send_challenge(struct smtp_session *s, const unsigned char *data, size_t len)
{
	size_t cap = UTIL_BASE64_LEN(len) + 1;
	char *b64 = malloc(cap);
	if (!b64 || util_base64_encode(data, len, b64, cap) < 0) {
		free(b64);
		return -1;
	}
	smtp_reply(s, "334 %s", b64);
	free(b64);
	s->state = SMTP_STATE_AUTH;
	return 0;
}

static void step_work(void *arg)
{
	struct smtp_auth *a = arg;
	a->result = auth_sasl_step(a->x, a->in, a->in_len, &a->out, &a->out_len);
	explicit_bzero(a->in, a->in_len); /* a PLAIN response holds the password */
}

static void step_done(void *arg)
{
	struct smtp_auth *a = arg;
	struct smtp_session *s = a->s;
	a->running = 0;
	if (!s || s->state != SMTP_STATE_AUTH_WAIT) { /* gone, or closing meanwhile */
		if (s)
			s->auth = NULL;
		auth_free(a);
		return;
	}
	int sent = 0;
	switch (a->result) {
	case AUTH_SASL_MORE:
		sent = send_challenge(s, a->out, a->out_len) == 0;
		break;
	case AUTH_SASL_OK:
		if (a->out_len == 0) {
			auth_success(s);
			auth_resume(s);
			return;
		}
		sent =
		    send_challenge(s, a->out, a->out_len) == 0; /* RFC 4954 4: data with success */
		a->final = 1;
		break;
	case AUTH_SASL_FAIL:
		auth_failure(s);
		auth_resume(s); /* unless a delay runs */
		return;
	case AUTH_SASL_TEMP_ERROR:
		auth_temp_error(s, "credential-store");
		auth_resume(s);
		return;
	}
	free(a->out);
	a->out = NULL;
	if (!sent)
		auth_temp_error(s, "out-of-memory");
	auth_resume(s);
}

/* Hand a->in to the worker; the session waits without reading. */
static void auth_submit(struct smtp_session *s)
{
	struct smtp_auth *a = s->auth;
	s->state = SMTP_STATE_AUTH_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	a->running = 1;
	if (workq_submit(s->ctx->auth_workq, step_work, step_done, a) < 0) {
		a->running = 0;
		auth_temp_error(s, "out-of-memory");
		bufferevent_enable(s->bev, EV_READ);
	}
}

/* "=" is an empty response (RFC 4954 4); anything else must be strict base64. 0 or -1. */
static int auth_decode(struct smtp_auth *a, const char *b64, size_t len)
{
	if (len == 1 && b64[0] == '=') {
		a->in_len = 0;
		return 0;
	}
	long n = util_base64_decode(b64, len, a->in, sizeof(a->in));
	if (n < 0)
		return -1;
	a->in_len = (size_t)n;
	return 0;
}

static int auth_blocked(struct smtp_session *s)
{
	if (auth_exempt(s) ||
	    auth_guard_blocked(&s->ctx->guard, s->client.addr, time(NULL), NULL) == AUTH_GUARD_OK)
		return 0;
	s->ctx->metrics->auth_blocked++;
	smtp_reply(s, "454 4.7.0 Too many failed authentications from your address, try again "
		      "later");
	return 1;
}

void smtp_auth_command(struct smtp_session *s, const char *arg, size_t len)
{
	char mech[SMTP_AUTH_MECH_MAX + 1];
	const char *sp = memchr(arg, ' ', len);
	size_t mlen = sp ? (size_t)(sp - arg) : len;
	struct auth_sasl_cbind cb;
	if (mlen == 0 || mlen > SMTP_AUTH_MECH_MAX) {
		smtp_error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	memcpy(mech, arg, mlen);
	mech[mlen] = '\0';
	auth_cbind(s, &cb);
	if (!auth_sasl_mech_offered(mech, auth_plus(&cb))) {
		smtp_error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (auth_blocked(s))
		return;
	struct smtp_auth *a = calloc(1, sizeof(*a));
	if (!a || (sp && auth_decode(a, sp + 1, len - mlen - 1) < 0)) {
		if (a)
			smtp_error(s, "501 5.5.2 Invalid base64 data");
		else
			smtp_reply(s,
				   "454 4.7.0 Temporary authentication failure, try again later");
		free(a);
		return;
	}
	a->s = s;
	if (auth_sasl_start(s->ctx->sasl, mech, &cb, &a->x) < 0) {
		free(a);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure, try again later");
		return;
	}
	s->auth = a;
	auth_submit(s);
}

void smtp_auth_response(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_auth *a = s->auth;
	if (len == 1 && line[0] == '*') {
		auth_end(s);
		smtp_error(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	if (a->final) { /* the client read our final data (SCRAM v=) and has nothing to add */
		if (len == 0)
			auth_success(s);
		else
			auth_failure(s);
		return;
	}
	long n = util_base64_decode(line, len, a->in, sizeof(a->in));
	if (n < 0) {
		auth_end(s);
		smtp_error(s, "501 5.5.2 Invalid base64 data");
		return;
	}
	a->in_len = (size_t)n;
	auth_submit(s);
}

static void auth_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_ctx *ctx = arg;
	(void)fd, (void)what;
	workq_run_completions(ctx->auth_workq);
}

int smtp_auth_init(struct smtp_ctx *ctx, char *err, size_t errlen)
{
	if (!(ctx->sasl = auth_sasl_new(ctx->conf->auth_database, err, errlen)))
		return -1;
	if (auth_guard_memory_new(&ctx->guard, ctx->conf->limits.auth_guard_size) < 0 ||
	    !(ctx->auth_workq = workq_create(SMTP_AUTH_THREADS)) ||
	    !(ctx->auth_ev = event_new(ctx->base, workq_notify_fd(ctx->auth_workq),
				       EV_READ | EV_PERSIST, auth_ev_cb, ctx)) ||
	    event_add(ctx->auth_ev, NULL) < 0) {
		snprintf(err, errlen, "cannot start the AUTH threads");
		return -1;
	}
	return 0;
}

void smtp_auth_shutdown(struct smtp_ctx *ctx)
{
	if (ctx->auth_workq) {
		workq_stop(ctx->auth_workq); /* steps under way finish; their sessions are gone */
		workq_run_completions(ctx->auth_workq);
		workq_destroy(ctx->auth_workq);
		ctx->auth_workq = NULL;
	}
	if (ctx->auth_ev)
		event_free(ctx->auth_ev);
	ctx->auth_ev = NULL;
	auth_guard_free(&ctx->guard);
	auth_sasl_free(ctx->sasl);
	ctx->sasl = NULL;
}
