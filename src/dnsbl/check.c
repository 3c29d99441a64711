/* check.c — the lookups of one client: every list in parallel at connect time (ask.c: the A
 * record, then the TXT reason of a listing, bounded by the list's timeout), answers cached. The
 * session asks for the verdict at RCPT and waits only while a lookup still runs. */
#include "dnsbl_int.h"

#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dnsbl_lookup {
	struct dnsbl_check *c;
	size_t i;
	struct dnsbl_ask *ask; /* running, or NULL */
};

struct dnsbl_check {
	struct dnsbl_engine *e;
	const struct conf *conf;
	uint8_t addr[16];
	int family;
	char ip[64];
	uint64_t session;
	void (*done)(void *arg);
	void *arg;
	size_t n, pending;
	struct dnsbl_outcome *o;
	struct dnsbl_lookup *lk;
};

static void log_answer(const struct dnsbl_check *c, const struct dnsbl_outcome *o, int cached)
{
	char q[DNSBL_TXT_MAX * 2 + 8];
	if (o->answer != DNSBL_LISTED)
		return;
	log_msg(LOG_INFO, "dnsbl: client listed",
		"session=%llu client=%s list=%s weight=%d code=%u.%u.%u.%u txt=%s cached=%s",
		(unsigned long long)c->session, c->ip, o->list->zone, o->list->weight,
		o->code >> 24, (o->code >> 16) & 0xff, (o->code >> 8) & 0xff, o->code & 0xff,
		log_quote(o->txt, strlen(o->txt), q, sizeof(q)), cached ? "yes" : "no");
}

/* The lookup of list i is over (answer set in its outcome). */
static void lookup_finish(struct dnsbl_lookup *k, uint32_t ttl)
{
	struct dnsbl_check *c = k->c;
	struct dnsbl_outcome *o = &c->o[k->i];
	struct dnsbl_list *l = dnsbl_engine_find(c->e, o->list->zone);
	o->state = DNSBL_S_DONE;
	log_answer(c, o, 0);
	if (l)
		dnsbl_cache_put(&c->e->cache, l->id, c->addr, o->answer, o->code, o->txt, ttl,
				time(NULL));
	if (--c->pending == 0 && c->done)
		c->done(c->arg); /* last: c may be freed by it */
}

static void on_answer(void *arg, const struct dnsbl_ask_result *r)
{
	struct dnsbl_lookup *k = arg;
	struct dnsbl_check *c = k->c;
	struct dnsbl_outcome *o = &c->o[k->i];
	struct dnsbl_list *l = dnsbl_engine_find(c->e, o->list->zone);
	k->ask = NULL;
	o->answer = r->answer;
	o->code = r->code;
	util_strlcpy(o->txt, r->txt, sizeof(o->txt));
	if (r->answer == DNSBL_ERROR) {
		log_msg(LOG_WARN, "dnsbl: lookup error, not a listing",
			"session=%llu client=%s list=%s error=\"%s\"",
			(unsigned long long)c->session, c->ip, o->list->zone, r->why);
		if (l && l->m)
			l->m->errors++;
		if (l)
			dnsbl_list_note_error(l);
	} else if (r->answer == DNSBL_LISTED && l && l->m) {
		l->m->listed++;
	}
	lookup_finish(k, r->ttl);
}

/* From the cache, or a lookup started: 1 when one runs now, 0 when answered, -1 on error. */
static int lookup_start(struct dnsbl_check *c, size_t i)
{
	struct dnsbl_outcome *o = &c->o[i];
	struct dnsbl_lookup *k = &c->lk[i];
	struct dnsbl_list *l = dnsbl_engine_find(c->e, o->list->zone);
	if ((c->family == DNSBL_FAMILY_V6 && !o->list->ipv6) ||
	    (l && !dnsbl_list_usable(l, c->family))) {
		o->state = DNSBL_S_SKIPPED;
		return 0;
	}
	const struct dnsbl_cache_entry *hit =
	    l ? dnsbl_cache_get(&c->e->cache, l->id, c->addr, time(NULL)) : NULL;
	if (hit) {
		o->state = DNSBL_S_DONE;
		o->answer = hit->answer;
		o->code = hit->code;
		util_strlcpy(o->txt, hit->txt, sizeof(o->txt));
		log_answer(c, o, 1);
		return 0;
	}
	k->c = c;
	k->i = i;
	k->ask = dnsbl_ask_start(c->e->base, c->e->dns, c->addr, o->list->zone, o->list->codes,
				 o->list->n_codes, o->list->timeout, on_answer, k);
	if (!k->ask)
		return -1;
	if (l && l->m)
		l->m->lookups++;
	return 1;
}

struct dnsbl_check *dnsbl_check_start(struct dnsbl_engine *e, const struct conf *conf,
				      const uint8_t addr[16], const char *ip, uint64_t session,
				      void (*done)(void *arg), void *arg)
{
	if (!e || conf->n_dnsbls == 0)
		return NULL;
	struct dnsbl_check *c = calloc(1, sizeof(*c));
	if (!c || !(c->o = calloc(conf->n_dnsbls, sizeof(*c->o))) ||
	    !(c->lk = calloc(conf->n_dnsbls, sizeof(*c->lk)))) {
		dnsbl_check_free(c);
		return NULL;
	}
	c->e = e;
	c->conf = conf;
	memcpy(c->addr, addr, 16);
	c->family = dnsbl_addr_is_v4(addr) ? DNSBL_FAMILY_V4 : DNSBL_FAMILY_V6;
	util_strlcpy(c->ip, ip, sizeof(c->ip));
	c->session = session;
	c->n = conf->n_dnsbls;
	for (size_t i = 0; i < c->n; i++) {
		c->o[i].list = &conf->dnsbls[i];
		int rc = lookup_start(c, i);
		if (rc < 0) {
			c->o[i].state = DNSBL_S_SKIPPED;
			log_msg(LOG_ERR, "dnsbl: cannot start a lookup", "session=%llu list=%s",
				(unsigned long long)session, conf->dnsbls[i].zone);
		}
		c->pending += rc > 0;
	}
	c->done = done; /* set last: nothing above calls it */
	c->arg = arg;
	return c;
}

int dnsbl_check_pending(const struct dnsbl_check *c)
{
	return c && c->pending > 0;
}

void dnsbl_check_verdict(struct dnsbl_check *c, struct dnsbl_verdict *v)
{
	for (size_t i = 0; i < c->n; i++) { /* suspended since the lookup: its word is void */
		struct dnsbl_list *l = dnsbl_engine_find(c->e, c->o[i].list->zone);
		c->o[i].suspended = l && !dnsbl_list_usable(l, c->family);
	}
	dnsbl_score(c->o, c->n, c->conf->dnsbl_threshold, c->conf->dnsbl_action, c->ip, v);
}

void dnsbl_check_free(struct dnsbl_check *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->lk && i < c->n; i++) {
		dnsbl_ask_cancel(c->lk[i].ask);
	}
	free(c->lk);
	free(c->o);
	free(c);
}
