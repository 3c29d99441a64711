/* ratelimit.c — rate limits' pure part: fixed-window arithmetic, the keys, and which limits
 * apply to whom at which stage of a session. No I/O. */
#include "abuse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int64_t ratelimit_window_start(int64_t now, unsigned window)
{
	if (window == 0)
		return now;
	int64_t w = (int64_t)window, r = now % w;
	return now - (r < 0 ? r + w : r);
}

unsigned ratelimit_window_ttl(int64_t now, unsigned window)
{
	if (window == 0)
		return 1;
	return (unsigned)(ratelimit_window_start(now, window) + (int64_t)window - now);
}

/* "HEADFIELD|TAIL" with FIELD escaped. 0 or -1 (does not fit). */
static int key_make(const char *head, const char *field, const char *tail, char *out, size_t outlen)
{
	char esc[ABUSE_KEY_MAX];
	if (abuse_key_escape(field, esc, sizeof(esc)) < 0)
		return -1;
	int n = snprintf(out, outlen, "%s%s|%s", head, esc, tail);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int ratelimit_key_trip(const char *login, char *out, size_t outlen)
{
	return key_make("rl:u:", login, "tripped", out, outlen);
}

int ratelimit_prefix_user(const char *login, char *out, size_t outlen)
{
	return key_make("rl:u:", login, "", out, outlen);
}

int ratelimit_prefix_ip(const char *ip, char *out, size_t outlen)
{
	return key_make("rl:ip:", ip, "", out, outlen);
}

struct plan {
	struct ratelimit_check *out;
	size_t n;
	int64_t now;
};

/* Add one check of a rate that is on: key "PREFIXWHAT|W|START" (and the recipient's marker). */
static void plan_add(struct plan *p, enum ratelimit_kind kind, enum metrics_ratelimit rule,
		     const struct conf_rate *r, const char *prefix, const char *what,
		     const char *rcpt, int trip)
{
	if (r->count == 0 || p->n >= RATELIMIT_CHECKS_MAX)
		return;
	struct ratelimit_check *c = &p->out[p->n];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->rule = rule;
	c->limit = r->count;
	c->window = r->window;
	c->ttl = ratelimit_window_ttl(p->now, r->window);
	c->trip = trip;
	int64_t start = ratelimit_window_start(p->now, r->window);
	int n =
	    snprintf(c->key, sizeof(c->key), "%s%s|%u|%" PRId64, prefix, what, r->window, start);
	if (n < 0 || (size_t)n >= sizeof(c->key))
		return;
	if (kind == RATELIMIT_DISTINCT) { /* "KEY|RCPT" */
		char esc[ABUSE_KEY_MAX];
		if (abuse_key_escape(rcpt ? rcpt : "", esc, sizeof(esc)) < 0)
			return;
		n = snprintf(c->mark, sizeof(c->mark), "%s|%s", c->key, esc);
		if (n < 0 || (size_t)n >= sizeof(c->mark))
			return;
	}
	p->n++;
}

static void plan_tripped(struct plan *p, const char *login)
{
	struct ratelimit_check *c = &p->out[p->n++];
	memset(c, 0, sizeof(*c));
	c->kind = RATELIMIT_TRIP_FLAG;
	c->rule = METRICS_RL_ACCOUNT_TRIPPED;
	if (ratelimit_key_trip(login, c->key, sizeof(c->key)) < 0)
		p->n--; /* cannot happen: the plan checked the login's length */
}

static void plan_user_rcpt(struct plan *p, const struct conf_ratelimit *rl,
			   const struct ratelimit_subject *sub, const char *up)
{
	static const enum metrics_ratelimit msgs[2] = {METRICS_RL_USER_MSGS_HOUR,
						       METRICS_RL_USER_MSGS_DAY};
	static const enum metrics_ratelimit rcpts[2] = {METRICS_RL_USER_RCPTS_HOUR,
							METRICS_RL_USER_RCPTS_DAY};
	plan_add(p, RATELIMIT_DISTINCT, METRICS_RL_CIRCUIT_BREAKER, &rl->circuit_breaker, up, "cb",
		 sub->rcpt, 1);
	for (int i = 0; i < 2 && sub->first_relayed && !sub->null_sender; i++)
		plan_add(p, RATELIMIT_COUNT, msgs[i], &rl->user_messages[i], up, i ? "msgd" : "msg",
			 NULL, 0);
	for (int i = 0; i < 2; i++)
		plan_add(p, RATELIMIT_DISTINCT, rcpts[i], &rl->user_recipients[i], up,
			 i ? "rcptd" : "rcpt", sub->rcpt, 0);
}

size_t ratelimit_plan(const struct conf_ratelimit *rl, enum ratelimit_stage stage,
		      const struct ratelimit_subject *sub, int64_t now,
		      struct ratelimit_check out[RATELIMIT_CHECKS_MAX])
{
	struct plan p = {out, 0, now};
	char ip[ABUSE_KEY_MAX], up[ABUSE_KEY_MAX];
	int user = sub->login && sub->login[0];
	int ip_ok = ratelimit_prefix_ip(sub->ip ? sub->ip : "", ip, sizeof(ip)) == 0;
	/* no key fits: a login this long cannot be limited (AUTH caps it at 255) */
	if (user && (ratelimit_prefix_user(sub->login, up, sizeof(up)) < 0 ||
		     strlen(up) + 16 >= ABUSE_KEY_MAX / 2))
		user = 0;
	if (!ip_ok) /* an IP never is this long */
		return 0;
	switch (stage) {
	case RATELIMIT_CONNECT:
		if (!sub->exempt)
			plan_add(&p, RATELIMIT_COUNT, METRICS_RL_IP_CONNECTIONS,
				 &rl->ip_connections, ip, "conn", NULL, 0);
		break;
	case RATELIMIT_AUTH:
		if (user)
			plan_tripped(&p, sub->login);
		break;
	case RATELIMIT_MAIL:
		if (user)
			plan_tripped(&p, sub->login);
		else if (!sub->exempt && !sub->null_sender)
			plan_add(&p, RATELIMIT_COUNT, METRICS_RL_IP_MESSAGES, &rl->ip_messages, ip,
				 "msg", NULL, 0);
		break;
	case RATELIMIT_RCPT:
		if (user && sub->relayed) {
			plan_tripped(&p, sub->login);
			plan_user_rcpt(&p, rl, sub, up);
		} else if (!user && !sub->exempt) {
			plan_add(&p, RATELIMIT_COUNT, METRICS_RL_IP_RECIPIENTS, &rl->ip_recipients,
				 ip, "rcpt", NULL, 0);
		}
		break;
	}
	return p.n;
}
