/* ratelimit.c — rate limits and the compromised-account circuit breaker in the session: the
 * checks of ratelimit_plan run at the abuse store while the session waits with reading off,
 * at connect (connections per IP; concurrent sessions are counted here, in-process), MAIL
 * (messages per IP; a tripped login), RCPT (recipients per IP; per login the relayed messages
 * and distinct relayed recipients, and the circuit breaker) and AUTH (a tripped login). A limit
 * refuses, it never delays; every verdict is logged and counted with its rule ID. */
#include "session_int.h"

#include "../abuse/abuse.h"
#include "../util/util.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct smtp_ratelimit {
	struct smtp_session *s; /* NULL once the session is gone while the check runs */
	enum ratelimit_stage stage;
	struct ratelimit_check checks[RATELIMIT_CHECKS_MAX];
	size_t n;
	char login[256];       /* AUTH: the login being granted; else the session's */
	struct addr_path rcpt; /* RCPT: what the accept needs afterwards */
	char to[ADDR_PATH_MAX * 4];
	struct policy_verdict v;
	unsigned notify;
	char orcpt[SMTP_ORCPT_MAX + 1];
};

static int client_exempt(const struct smtp_session *s)
{
	const struct conf *c = s->conf;
	return cidr_set_contains(c->trusted, c->n_trusted, s->client.addr) ||
	       cidr_set_contains(c->auth_allowlist, c->n_auth_allowlist, s->client.addr);
}

void smtp_ratelimit_detach(struct smtp_session *s)
{
	if (s->ratelimit)
		s->ratelimit->s = NULL; /* on_checked frees it */
	s->ratelimit = NULL;
}

static void log_refusal(struct smtp_session *s, const struct smtp_ratelimit *r,
			const struct ratelimit_check *c, const struct ratelimit_outcome *o,
			const char *reply)
{
	char ql[sizeof(r->login) * 4], qr[300], qt[ADDR_PATH_MAX * 4 * 4];
	log_msg(LOG_WARN, "ratelimit: refused",
		"session=%llu client=%s login=%s to=%s rule=%s count=%lld limit=%u window=%u "
		"reply=%s",
		(unsigned long long)s->id, s->ip,
		log_quote(r->login, strlen(r->login), ql, sizeof(ql)),
		log_quote_path(r->to, qt, sizeof(qt)), metrics_ratelimit_rules[c->rule],
		(long long)o->count, c->limit, c->window,
		log_quote(reply, strlen(reply), qr, sizeof(qr)));
	s->ctx->metrics->ratelimit_rejected[c->rule]++;
}

/* The text of a refusal by rule (the one place the replies live). */
static void refusal_reply(const struct smtp_session *s, const struct ratelimit_check *c, char *out,
			  size_t len)
{
	switch (c->rule) {
	case METRICS_RL_IP_CONNECTIONS:
		snprintf(out, len,
			 "421 4.7.0 %s Too many connections from your address, try again later",
			 s->conf->hostname);
		break;
	case METRICS_RL_IP_MESSAGES:
		snprintf(out, len,
			 "450 4.7.1 Too many messages from your address, try again later");
		break;
	case METRICS_RL_IP_RECIPIENTS:
		snprintf(out, len,
			 "450 4.7.1 Too many recipients from your address, try again later");
		break;
	case METRICS_RL_USER_MSGS_HOUR:
	case METRICS_RL_USER_MSGS_DAY:
		snprintf(out, len,
			 "450 4.7.1 Message limit of your account reached (%u per %us), "
			 "try again later",
			 c->limit, c->window);
		break;
	case METRICS_RL_USER_RCPTS_HOUR:
	case METRICS_RL_USER_RCPTS_DAY:
		snprintf(out, len,
			 "450 4.7.1 Recipient limit of your account reached (%u per %us), "
			 "try again later",
			 c->limit, c->window);
		break;
	default: /* the circuit breaker, now or before */
		snprintf(out, len,
			 "421 4.7.0 %s Account locked after unusual sending; contact the "
			 "postmaster",
			 s->conf->hostname);
		break;
	}
}

static void trip_alert(struct smtp_session *s, const struct smtp_ratelimit *r,
		       const struct ratelimit_check *c, const struct ratelimit_outcome *o)
{
	char ql[sizeof(r->login) * 4], qe[600];
	log_msg(
	    LOG_ERR,
	    "ratelimit: ALERT: circuit breaker tripped: outbound mail of the login "
	    "held, AUTH refused until relayguard user unlock",
	    "session=%llu client=%s login=%s rule=ratelimit:circuit-breaker count=%lld limit=%u "
	    "window=%u store_error=%s",
	    (unsigned long long)s->id, s->ip, log_quote(r->login, strlen(r->login), ql, sizeof(ql)),
	    (long long)o->count, c->limit, c->window,
	    log_quote(o->error, strlen(o->error), qe, sizeof(qe)));
	s->ctx->metrics->circuit_breaker_trips++;
	if (s->ctx->on_trip)
		s->ctx->on_trip(s->ctx->trip_arg, r->login);
}

/* The checks passed (or the store failed and ratelimit-on-store-error is accept). */
static void proceed(struct smtp_session *s, struct smtp_ratelimit *r)
{
	switch (r->stage) {
	case RATELIMIT_CONNECT:
		smtp_session_greet(s);
		break;
	case RATELIMIT_MAIL:
		smtp_reply(s, "250 2.1.0 Ok");
		break;
	case RATELIMIT_RCPT:
		if (r->v.result == POLICY_ACCEPT_RELAY && s->login[0])
			s->tx->user_msg_counted = 1;
		smtp_rcpt_continue(s, &r->rcpt, r->to, &r->v, r->notify, r->orcpt);
		break;
	case RATELIMIT_AUTH:
		smtp_auth_finish(s, SMTP_AUTH_GRANT);
		break;
	}
}

/* Refuse what the stage was about with reply (421 closes the session). */
static void refuse(struct smtp_session *s, struct smtp_ratelimit *r, const char *rule,
		   const char *reply)
{
	if (r->stage == RATELIMIT_RCPT) {
		struct policy_verdict v = {POLICY_REJECT, rule, reply, NULL};
		smtp_rcpt_verdict(s, r->to, &v);
	}
	if (r->stage == RATELIMIT_MAIL ||
	    (r->stage == RATELIMIT_RCPT && reply[0] == '4' && reply[1] == '2' && reply[2] == '1')) {
		smtp_tx_free(s->tx); /* a locked account's transaction is dropped whole */
		s->tx = NULL;
	}
	if (r->stage == RATELIMIT_AUTH)
		smtp_auth_finish(s, SMTP_AUTH_LOCKED);
	else if (!strncmp(reply, "421", 3))
		smtp_close(s, "%s", reply);
	else
		smtp_reply(s, "%s", reply);
}

static void on_store_error(struct smtp_session *s, struct smtp_ratelimit *r,
			   const struct ratelimit_outcome *o)
{
	char qe[600];
	int tempfail = s->conf->ratelimit.tempfail_on_store_error;
	log_msg(LOG_WARN,
		tempfail ? "ratelimit: store error, refusing" : "ratelimit: store error, accepting",
		"session=%llu client=%s rule=ratelimit:store-error store=\"%s\" error=%s",
		(unsigned long long)s->id, s->ip, s->ctx->abuse->name,
		log_quote(o->error, strlen(o->error), qe, sizeof(qe)));
	s->ctx->metrics->ratelimit_store_errors++;
	if (!tempfail) {
		proceed(s, r);
		return;
	}
	static const char *const replies[] = {
	    "421 4.3.0 Rate limit check failed, try again later",
	    "451 4.3.0 Rate limit check failed, try again later",
	    "451 4.3.0 Rate limit check failed, try again later",
	    "454 4.7.0 Temporary authentication failure, try again later",
	};
	if (r->stage == RATELIMIT_AUTH) {
		smtp_auth_finish(s, SMTP_AUTH_TEMPFAIL);
		return;
	}
	refuse(s, r, "ratelimit:store-error", replies[r->stage]);
}

static void on_checked(void *arg, const struct ratelimit_outcome *o)
{
	struct smtp_ratelimit *r = arg;
	struct smtp_session *s = r->s;
	if (!s || s->state != SMTP_STATE_LIMIT_WAIT) { /* gone, or closing meanwhile */
		if (s)
			s->ratelimit = NULL;
		free(r);
		return;
	}
	s->ratelimit = NULL;
	s->state = SMTP_STATE_COMMAND;
	const struct ratelimit_check *c = &r->checks[o->index < r->n ? o->index : 0];
	char reply[300];
	if (o->verdict == RATELIMIT_PASS) {
		proceed(s, r);
	} else if (o->verdict == RATELIMIT_STORE_ERROR) {
		on_store_error(s, r, o);
	} else {
		refusal_reply(s, c, reply, sizeof(reply));
		if (o->verdict == RATELIMIT_TRIP)
			trip_alert(s, r, c, o);
		log_refusal(s, r, c, o, r->stage == RATELIMIT_AUTH ? "535 5.7.8" : reply);
		refuse(s, r, metrics_ratelimit_rules[c->rule], reply);
	}
	free(r);
	if (s->state == SMTP_STATE_COMMAND || s->state == SMTP_STATE_GREETING)
		smtp_session_resume(s);
}

/* Start the planned checks; 1 waiting, 0 nothing to check (or the check could not start:
 * the store error rule decides). */
static int start(struct smtp_session *s, struct smtp_ratelimit *r,
		 const struct ratelimit_subject *sub)
{
	r->s = s;
	if (!s->ctx->abuse)
		r->n = 0;
	else
		r->n = ratelimit_plan(&s->conf->ratelimit, r->stage, sub, abuse_now(s->conf),
				      r->checks);
	if (r->n == 0 ||
	    ratelimit_run(s->ctx->abuse, r->checks, r->n, abuse_now(s->conf), on_checked, r) < 0) {
		free(r);
		return 0;
	}
	s->ratelimit = r;
	s->state = SMTP_STATE_LIMIT_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	return 1;
}

static struct smtp_ratelimit *rl_new(struct smtp_session *s, enum ratelimit_stage stage,
				     const char *login)
{
	struct smtp_ratelimit *r = calloc(1, sizeof(*r));
	if (r) {
		r->stage = stage;
		util_strlcpy(r->login, login ? login : s->login, sizeof(r->login));
	}
	return r;
}

int smtp_ratelimit_connect(struct smtp_session *s)
{
	/* concurrent sessions per client (ratelimit ip-sessions = limit max-sessions-per-ip) are
	 * counted in memory by the session itself (session.c, smtp_peers) */
	int exempt = client_exempt(s);
	struct smtp_ratelimit *r = rl_new(s, RATELIMIT_CONNECT, "");
	struct ratelimit_subject sub = {.ip = s->ip, .login = "", .exempt = exempt};
	return r ? start(s, r, &sub) : 0;
}

int smtp_ratelimit_mail(struct smtp_session *s)
{
	struct smtp_ratelimit *r = rl_new(s, RATELIMIT_MAIL, NULL);
	struct ratelimit_subject sub = {.ip = s->ip,
					.login = s->login,
					.exempt = client_exempt(s),
					.null_sender = s->tx->from.null};
	return r ? start(s, r, &sub) : 0;
}

int smtp_ratelimit_rcpt(struct smtp_session *s, const struct addr_path *rcpt, const char *to,
			const struct policy_verdict *v, unsigned notify, const char *orcpt)
{
	char norm[ADDR_PATH_MAX * 4];
	struct smtp_ratelimit *r = rl_new(s, RATELIMIT_RCPT, NULL);
	if (!r)
		return 0;
	if (greylist_rcpt(rcpt, norm, sizeof(norm)) < 0)
		util_strlcpy(norm, to, sizeof(norm));
	r->rcpt = *rcpt;
	util_strlcpy(r->to, to, sizeof(r->to));
	r->v = *v;
	r->notify = notify;
	util_strlcpy(r->orcpt, orcpt, sizeof(r->orcpt));
	int relayed = v->result == POLICY_ACCEPT_RELAY;
	struct ratelimit_subject sub = {.ip = s->ip,
					.login = s->login,
					.exempt = client_exempt(s),
					.null_sender = s->tx->from.null,
					.relayed = relayed,
					.first_relayed = relayed && !s->tx->user_msg_counted,
					.rcpt = norm};
	return start(s, r, &sub);
}

int smtp_ratelimit_auth(struct smtp_session *s, const char *login)
{
	struct smtp_ratelimit *r = rl_new(s, RATELIMIT_AUTH, login);
	struct ratelimit_subject sub = {.ip = s->ip, .login = login, .exempt = client_exempt(s)};
	return r ? start(s, r, &sub) : 0;
}
