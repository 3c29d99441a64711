/* greylist_check.c — one greylist check against the abuse store: the network's whitelist
 * entry, then the triplet, decided by greylist_decide and written back with compare-and-set
 * (two servers updating one triplet at once: the loser reads again), then the network's pass
 * count for auto-whitelisting. Every step is a store request answered in the loop. */
#include "abuse.h"

#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GREYLIST_CAS_TRIES 3   /* compare-and-set conflicts before giving up (fail open) */
#define GREYLIST_REFRESH 86400 /* a whitelisted network's entry is renewed once a day */

struct gl_check {
	struct abuse_store *st;
	struct greylist_settings gs;
	int64_t now;
	char tkey[ABUSE_KEY_MAX], wkey[ABUSE_KEY_MAX], pkey[ABUSE_KEY_MAX];
	char old[ABUSE_VALUE_MAX]; /* the triplet's value as read, for the compare-and-set */
	int had_record;
	unsigned tries;
	struct greylist_decision d;
	struct greylist_outcome out;
	greylist_cb cb;
	void *arg;
};

static void finish(struct gl_check *c)
{
	c->cb(c->arg, &c->out);
	free(c);
}

static void store_error(struct gl_check *c, const char *what, const struct abuse_reply *r)
{
	c->out.verdict = GREYLIST_VERDICT_STORE_ERROR;
	snprintf(c->out.error, sizeof(c->out.error), "%.40s: %.200s", what,
		 r && r->status == ABUSE_ERROR ? r->error : "too many concurrent updates");
	finish(c);
}

/* The triplet's verdict stands whatever happens to the pass count. */
static void finish_decided(struct gl_check *c)
{
	c->out.verdict = c->d.defer ? GREYLIST_VERDICT_DEFER : GREYLIST_VERDICT_PASS;
	c->out.result = c->d.result;
	c->out.retry_in = c->d.retry_in;
	finish(c);
}

static void ignore_reply(void *arg, const struct abuse_reply *r)
{
	(void)arg, (void)r;
}

static void on_whitelisted(void *arg, const struct abuse_reply *r)
{
	struct gl_check *c = arg;
	c->out.now_whitelisted = r->status == ABUSE_OK;
	finish_decided(c);
}

static void on_count(void *arg, const struct abuse_reply *r)
{
	struct gl_check *c = arg;
	char since[32];
	if (r->status != ABUSE_OK || r->count < (int64_t)c->gs.auto_whitelist) {
		finish_decided(c);
		return;
	}
	snprintf(since, sizeof(since), "%lld", (long long)c->now);
	abuse_put(c->st, c->wkey, since, c->gs.lifetime, ABUSE_EXPECT_ANY, NULL, c->now,
		  on_whitelisted, c);
}

static void read_triplet(struct gl_check *c);

static void on_written(void *arg, const struct abuse_reply *r)
{
	struct gl_check *c = arg;
	if (r->status == ABUSE_CONFLICT && ++c->tries < GREYLIST_CAS_TRIES) {
		read_triplet(c);
		return;
	}
	if (r->status != ABUSE_OK) {
		store_error(c, "greylist update", r);
		return;
	}
	if (!c->d.count_pass || c->gs.auto_whitelist == 0) {
		finish_decided(c);
		return;
	}
	abuse_incr(c->st, c->pkey, 1, c->gs.lifetime, c->now, on_count, c);
}

static void on_triplet(void *arg, const struct abuse_reply *r)
{
	struct gl_check *c = arg;
	struct greylist_record rec;
	char value[ABUSE_VALUE_MAX];
	if (r->status == ABUSE_ERROR) {
		store_error(c, "greylist read", r);
		return;
	}
	c->had_record = r->status == ABUSE_OK;
	util_strlcpy(c->old, c->had_record ? r->value : "", sizeof(c->old));
	int valid = c->had_record && greylist_record_parse(r->value, &rec) == 0;
	c->d = greylist_decide(valid ? &rec : NULL, c->now, &c->gs);
	if (!c->d.write) {
		finish_decided(c);
		return;
	}
	greylist_record_format(&c->d.rec, value, sizeof(value));
	abuse_put(c->st, c->tkey, value, c->d.ttl,
		  c->had_record ? ABUSE_EXPECT_VALUE : ABUSE_EXPECT_ABSENT, c->old, c->now,
		  on_written, c);
}

static void read_triplet(struct gl_check *c)
{
	abuse_get(c->st, c->tkey, c->now, on_triplet, c);
}

static void on_white(void *arg, const struct abuse_reply *r)
{
	struct gl_check *c = arg;
	char since[32];
	if (r->status == ABUSE_ERROR) {
		store_error(c, "greylist whitelist read", r);
		return;
	}
	if (r->status == ABUSE_NOT_FOUND) {
		read_triplet(c);
		return;
	}
	if (c->now - strtoll(r->value, NULL, 10) > GREYLIST_REFRESH) { /* still in use: renew */
		snprintf(since, sizeof(since), "%lld", (long long)c->now);
		abuse_put(c->st, c->wkey, since, c->gs.lifetime, ABUSE_EXPECT_ANY, NULL, c->now,
			  ignore_reply, NULL);
	}
	c->out.verdict = GREYLIST_VERDICT_WHITELISTED;
	finish(c);
}

int greylist_check(struct abuse_store *st, const struct greylist_settings *gs, const char *net,
		   const char *sender, const char *rcpt, int64_t now, greylist_cb cb, void *arg)
{
	struct gl_check *c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->st = st;
	c->gs = *gs;
	c->now = now;
	c->cb = cb;
	c->arg = arg;
	if (greylist_key_triplet(net, sender, rcpt, c->tkey, sizeof(c->tkey)) < 0) {
		free(c);
		return -1;
	}
	greylist_key_net(net, 'w', c->wkey, sizeof(c->wkey));
	greylist_key_net(net, 'p', c->pkey, sizeof(c->pkey));
	if (gs->auto_whitelist)
		abuse_get(st, c->wkey, now, on_white, c);
	else
		read_triplet(c);
	return 0;
}
