/* check.c — the lookups of one client: every list in parallel at connect time (the A record,
 * then the TXT reason of a listing), each bounded by its list's timeout, answers cached. The
 * session asks for the verdict at RCPT and waits only while a lookup still runs. */
#include "dnsbl_int.h"

#include "../util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dnsbl_lookup {
	struct dnsbl_check *c;
	size_t i;
	struct dns_query *q;
	struct event *timer;
	int txt_phase; /* listed: the TXT reason is being asked */
	uint32_t ttl;
	char name[DNSBL_NAME_MAX];
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
static void lookup_finish(struct dnsbl_lookup *k)
{
	struct dnsbl_check *c = k->c;
	struct dnsbl_outcome *o = &c->o[k->i];
	struct dnsbl_list *l = dnsbl_engine_find(c->e, o->list->zone);
	if (k->timer)
		evtimer_del(k->timer);
	o->state = DNSBL_S_DONE;
	log_answer(c, o, 0);
	if (l)
		dnsbl_cache_put(&c->e->cache, l->id, c->addr, o->answer, o->code, o->txt, k->ttl,
				time(NULL));
	if (--c->pending == 0 && c->done)
		c->done(c->arg); /* last: c may be freed by it */
}

static void lookup_error(struct dnsbl_lookup *k, const char *why)
{
	struct dnsbl_check *c = k->c;
	struct dnsbl_outcome *o = &c->o[k->i];
	struct dnsbl_list *l = dnsbl_engine_find(c->e, o->list->zone);
	log_msg(LOG_WARN, "dnsbl: lookup error, not a listing",
		"session=%llu client=%s list=%s error=\"%s\"", (unsigned long long)c->session,
		c->ip, o->list->zone, why);
	o->answer = DNSBL_ERROR;
	if (l && l->m)
		l->m->errors++;
	if (l)
		dnsbl_list_note_error(l);
	lookup_finish(k);
}

static void on_txt(void *arg, const struct dns_rr_result *res)
{
	struct dnsbl_lookup *k = arg;
	k->q = NULL;
	if (res->status == DNS_OK)
		dnsbl_txt_clean(res->txt, k->c->o[k->i].txt, sizeof(k->c->o[k->i].txt));
	lookup_finish(k);
}

static void on_a(void *arg, const struct dns_rr_result *res)
{
	struct dnsbl_lookup *k = arg;
	struct dnsbl_check *c = k->c;
	struct dnsbl_outcome *o = &c->o[k->i];
	char why[160];
	k->q = NULL;
	o->answer =
	    dnsbl_classify(res, o->list->codes, o->list->n_codes, &o->code, why, sizeof(why));
	k->ttl = res->ttl;
	if (o->answer == DNSBL_ERROR) {
		lookup_error(k, why);
		return;
	}
	if (o->answer == DNSBL_LISTED) {
		struct dnsbl_list *l = dnsbl_engine_find(c->e, o->list->zone);
		if (l && l->m)
			l->m->listed++;
		k->txt_phase = 1;
		if ((k->q = dns_resolve_rr(c->e->dns, k->name, DNS_RR_TXT, on_txt, k)))
			return;
	}
	lookup_finish(k);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_lookup *k = arg;
	char why[64];
	(void)fd, (void)what;
	dns_query_cancel(k->q);
	k->q = NULL;
	if (k->txt_phase) { /* listed; only the reason is missing */
		lookup_finish(k);
		return;
	}
	snprintf(why, sizeof(why), "timeout after %us", k->c->o[k->i].list->timeout);
	lookup_error(k, why);
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
	struct timeval tv = {(time_t)o->list->timeout, 0};
	k->c = c;
	k->i = i;
	if (dnsbl_query_name(c->addr, o->list->zone, k->name, sizeof(k->name)) < 0 ||
	    !(k->timer = evtimer_new(c->e->base, on_timeout, k)) ||
	    evtimer_add(k->timer, &tv) < 0 ||
	    !(k->q = dns_resolve_rr(c->e->dns, k->name, DNS_RR_A, on_a, k))) {
		if (k->timer)
			evtimer_del(k->timer);
		return -1;
	}
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
		if (c->lk[i].q)
			dns_query_cancel(c->lk[i].q);
		if (c->lk[i].timer)
			event_free(c->lk[i].timer);
	}
	free(c->lk);
	free(c->o);
	free(c);
}
