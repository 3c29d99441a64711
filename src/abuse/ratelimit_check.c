/* ratelimit_check.c — a plan of rate-limit checks run against the abuse store, one request at
 * a time in the loop: counters are INCR with the window's TTL (atomic in both backends, so
 * servers sharing Redis share the counts), distinct recipients a marker put only if absent. */
#include "abuse.h"

#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rl_run {
	struct abuse_store *st;
	struct ratelimit_check checks[RATELIMIT_CHECKS_MAX];
	size_t n, i;
	int64_t now;
	struct ratelimit_outcome out;
	ratelimit_cb cb;
	void *arg;
};

static void step(struct rl_run *r);

static void finish(struct rl_run *r, enum ratelimit_verdict v)
{
	r->out.verdict = v;
	r->out.index = r->i;
	r->cb(r->arg, &r->out);
	free(r);
}

static void store_error(struct rl_run *r, const char *what, const struct abuse_reply *rep)
{
	snprintf(r->out.error, sizeof(r->out.error), "%.40s: %.200s", what, rep->error);
	finish(r, RATELIMIT_STORE_ERROR);
}

static void ignore_reply(void *arg, const struct abuse_reply *rep)
{
	(void)arg, (void)rep;
}

static void on_tripped_written(void *arg, const struct abuse_reply *rep)
{
	struct rl_run *r = arg;
	if (rep->status == ABUSE_ERROR) /* the trip stands in this server (mail held, logged) */
		snprintf(r->out.error, sizeof(r->out.error), "trip write: %.200s", rep->error);
	finish(r, RATELIMIT_TRIP);
}

static void on_count(void *arg, const struct abuse_reply *rep)
{
	struct rl_run *r = arg;
	const struct ratelimit_check *c = &r->checks[r->i];
	char value[64];
	if (rep->status != ABUSE_OK) {
		store_error(r, "ratelimit count", rep);
		return;
	}
	if (rep->count <= (int64_t)c->limit) {
		r->i++;
		step(r);
		return;
	}
	r->out.count = rep->count;
	if (c->trip) {
		snprintf(value, sizeof(value), "%lld %lld", (long long)r->now,
			 (long long)rep->count);
		char key[ABUSE_KEY_MAX];
		util_strlcpy(key, r->checks[0].key, sizeof(key));
		for (size_t k = 0; k < r->n; k++) /* the plan's TRIPPED check names the trip key */
			if (r->checks[k].kind == RATELIMIT_TRIP_FLAG)
				util_strlcpy(key, r->checks[k].key, sizeof(key));
		abuse_put(r->st, key, value, RATELIMIT_TRIP_TTL, ABUSE_EXPECT_ANY, NULL, r->now,
			  on_tripped_written, r);
		return;
	}
	if (c->kind == RATELIMIT_DISTINCT) { /* not counted after all: a retry is judged again */
		abuse_del(r->st, c->mark, r->now, ignore_reply, NULL);
		abuse_incr(r->st, c->key, -1, c->ttl, r->now, ignore_reply, NULL);
	}
	finish(r, RATELIMIT_LIMITED);
}

static void on_mark(void *arg, const struct abuse_reply *rep)
{
	struct rl_run *r = arg;
	const struct ratelimit_check *c = &r->checks[r->i];
	if (rep->status == ABUSE_CONFLICT) { /* counted already in this window */
		r->i++;
		step(r);
		return;
	}
	if (rep->status != ABUSE_OK) {
		store_error(r, "ratelimit recipient", rep);
		return;
	}
	abuse_incr(r->st, c->key, 1, c->ttl, r->now, on_count, r);
}

static void on_tripped(void *arg, const struct abuse_reply *rep)
{
	struct rl_run *r = arg;
	if (rep->status == ABUSE_ERROR) {
		store_error(r, "ratelimit trip read", rep);
		return;
	}
	if (rep->status == ABUSE_OK) {
		r->out.count = strtoll(rep->value, NULL, 10);
		finish(r, RATELIMIT_TRIPPED);
		return;
	}
	r->i++;
	step(r);
}

static void step(struct rl_run *r)
{
	if (r->i >= r->n) {
		finish(r, RATELIMIT_PASS);
		return;
	}
	const struct ratelimit_check *c = &r->checks[r->i];
	switch (c->kind) {
	case RATELIMIT_TRIP_FLAG:
		abuse_get(r->st, c->key, r->now, on_tripped, r);
		break;
	case RATELIMIT_DISTINCT:
		abuse_put(r->st, c->mark, "1", c->ttl, ABUSE_EXPECT_ABSENT, NULL, r->now, on_mark,
			  r);
		break;
	default:
		abuse_incr(r->st, c->key, 1, c->ttl, r->now, on_count, r);
		break;
	}
}

int ratelimit_run(struct abuse_store *st, const struct ratelimit_check *checks, size_t n,
		  int64_t now, ratelimit_cb cb, void *arg)
{
	struct rl_run *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->st = st;
	r->n = n > RATELIMIT_CHECKS_MAX ? RATELIMIT_CHECKS_MAX : n;
	memcpy(r->checks, checks, r->n * sizeof(*checks));
	r->now = now;
	r->cb = cb;
	r->arg = arg;
	step(r);
	return 0;
}
