/* store.c — the abuse store's front: the backend chosen by abuse-store, the request
 * shorthands, and the deferred reply every backend uses for its synchronous failures. */
#include "abuse.h"

#include "../util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct abuse_store *abuse_store_open(const struct conf *conf, int create, struct event_base *base,
				     char *err, size_t errlen)
{
	const struct conf_abuse_store *a = &conf->abuse_store;
	if (a->backend == CONF_ABUSE_REDIS)
		return abuse_redis_open(a->redis, a->prefix, base, err, errlen);
	return abuse_sqlite_open(a->path, create, base, err, errlen);
}

int abuse_store_needed(const struct conf *conf)
{
	const struct conf_ratelimit *rl = &conf->ratelimit;
	unsigned stored = rl->ip_connections.count | rl->ip_messages.count |
			  rl->ip_recipients.count | rl->user_messages[0].count |
			  rl->user_messages[1].count | rl->user_recipients[0].count |
			  rl->user_recipients[1].count | rl->circuit_breaker.count;
	return conf->greylist.enabled || stored != 0;
}

void abuse_store_free(struct abuse_store *st)
{
	if (st)
		st->ops->destroy(st->impl); /* frees st too */
}

int64_t abuse_now(const struct conf *conf)
{
	return (int64_t)time(NULL) + (int64_t)conf->clock_offset;
}

static void submit_key(struct abuse_store *st, struct abuse_req *r, const char *key, abuse_cb cb,
		       void *arg)
{
	if (strlen(key) >= sizeof(r->key)) {
		struct abuse_reply e = {.status = ABUSE_ERROR};
		snprintf(e.error, sizeof(e.error), "key too long");
		if (abuse_defer_reply(st->base, &e, cb, arg) < 0)
			cb(arg, &e); /* out of memory: the one synchronous answer */
		free(r);
		return;
	}
	util_strlcpy(r->key, key, sizeof(r->key));
	st->ops->submit(st->impl, r, cb, arg);
	free(r);
}

/* The request is large (keys, values): on the heap, not on the caller's stack. */
static struct abuse_req *req_new(enum abuse_op op, int64_t now)
{
	struct abuse_req *r = calloc(1, sizeof(*r));
	if (r) {
		r->op = op;
		r->now = now;
	}
	return r;
}

static void fail_oom(struct abuse_store *st, abuse_cb cb, void *arg)
{
	struct abuse_reply e = {.status = ABUSE_ERROR};
	snprintf(e.error, sizeof(e.error), "out of memory");
	if (abuse_defer_reply(st->base, &e, cb, arg) < 0)
		cb(arg, &e);
}

void abuse_get(struct abuse_store *st, const char *key, int64_t now, abuse_cb cb, void *arg)
{
	struct abuse_req *r = req_new(ABUSE_GET, now);
	if (!r) {
		fail_oom(st, cb, arg);
		return;
	}
	submit_key(st, r, key, cb, arg);
}

void abuse_put(struct abuse_store *st, const char *key, const char *value, unsigned ttl,
	       enum abuse_expect expect, const char *expect_value, int64_t now, abuse_cb cb,
	       void *arg)
{
	struct abuse_req *r = req_new(ABUSE_PUT, now);
	if (!r) {
		fail_oom(st, cb, arg);
		return;
	}
	util_strlcpy(r->value, value, sizeof(r->value));
	r->expect = expect;
	if (expect_value)
		util_strlcpy(r->expect_value, expect_value, sizeof(r->expect_value));
	r->ttl = ttl;
	submit_key(st, r, key, cb, arg);
}

void abuse_incr(struct abuse_store *st, const char *key, int64_t delta, unsigned ttl, int64_t now,
		abuse_cb cb, void *arg)
{
	struct abuse_req *r = req_new(ABUSE_INCR, now);
	if (!r) {
		fail_oom(st, cb, arg);
		return;
	}
	r->delta = delta;
	r->ttl = ttl;
	submit_key(st, r, key, cb, arg);
}

void abuse_del(struct abuse_store *st, const char *key, int64_t now, abuse_cb cb, void *arg)
{
	struct abuse_req *r = req_new(ABUSE_DEL, now);
	if (!r) {
		fail_oom(st, cb, arg);
		return;
	}
	submit_key(st, r, key, cb, arg);
}

void abuse_list(struct abuse_store *st, const char *prefix, size_t max, int64_t now, abuse_cb cb,
		void *arg)
{
	struct abuse_req *r = req_new(ABUSE_LIST, now);
	if (!r) {
		fail_oom(st, cb, arg);
		return;
	}
	r->max = max > ABUSE_LIST_MAX ? ABUSE_LIST_MAX : max;
	submit_key(st, r, prefix, cb, arg);
}

struct deferred {
	struct abuse_reply r;
	abuse_cb cb;
	void *arg;
};

static void deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deferred *d = arg;
	(void)fd, (void)what;
	d->cb(d->arg, &d->r);
	free(d);
}

int abuse_defer_reply(struct event_base *base, const struct abuse_reply *r, abuse_cb cb, void *arg)
{
	struct deferred *d = malloc(sizeof(*d));
	struct timeval zero = {0, 0};
	if (!d)
		return -1;
	d->r = *r;
	d->r.entries = NULL;
	d->r.n_entries = 0;
	d->cb = cb;
	d->arg = arg;
	if (event_base_once(base, -1, EV_TIMEOUT, deferred_cb, d, &zero) < 0) {
		free(d);
		return -1;
	}
	return 0;
}
