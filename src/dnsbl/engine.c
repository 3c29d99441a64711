/* engine.c — the DNS lists as the running server knows them: the resolver, the answer cache,
 * and the RFC 5782 §5 health test of every list (127.0.0.2 must be listed, 127.0.0.1 must not;
 * ::FFFF:7F00:2 and ::FFFF:7F00:1 for IPv6), at start, periodically and after error answers.
 * A list that fails is suspended (an alert line, a metric) until a later test passes. */
#include "dnsbl_int.h"

#include "../util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNSBL_DNS_TRY_MS 1000 /* c-ares' first try; the list's timeout bounds the whole */
#define DNSBL_DNS_TRIES 3
#define DNSBL_ERROR_RETEST 30 /* s: an error answer triggers a test at most this often */

/* The four probes of a test: per family, the entry that must be listed and the one that must
 * not. */
enum { P_V4_LISTED, P_V4_CLEAN, P_V6_LISTED, P_V6_CLEAN, N_PROBES };
static const uint8_t probe_addr[N_PROBES][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},
    /* ::FFFF:7F00:2 asked as an IPv6 name (32 nibbles), not as 2.0.0.127 */
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0, 0, 2},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0, 0, 1},
};
static const char *const probe_text[N_PROBES] = {"127.0.0.2", "127.0.0.1", "::FFFF:7F00:2",
						 "::FFFF:7F00:1"};

struct dnsbl_probe {
	struct dnsbl_test *t;
	struct dns_query *q;
	int used, done;
	enum dnsbl_answer answer;
	char why[128];
};

struct dnsbl_test {
	struct dnsbl_list *l;
	struct dnsbl_probe p[N_PROBES];
	unsigned pending;
	struct event *timer;
};

static const char *const family_name[2] = {"ipv4", "ipv6"};

static unsigned retest_delay(const struct dnsbl_list *l)
{
	const struct dnsbl_engine *e = l->e;
	int bad = l->health[0] == DNSBL_H_SUSPENDED || l->health[1] == DNSBL_H_SUSPENDED;
	unsigned d = bad ? e->health_interval / 10 : e->health_interval;
	return d ? d : 1;
}

static void schedule_test(struct dnsbl_list *l, unsigned seconds)
{
	struct timeval tv = {(time_t)seconds, 0};
	evtimer_add(l->timer, &tv);
}

static void test_free(struct dnsbl_test *t)
{
	for (int i = 0; i < N_PROBES; i++)
		if (t->p[i].q)
			dns_query_cancel(t->p[i].q);
	if (t->timer)
		event_free(t->timer);
	free(t);
}

/* The verdict of one family: "" when healthy, else the reason. */
static void judge(const struct dnsbl_test *t, int fam, char *why, size_t len)
{
	const struct dnsbl_probe *listed = &t->p[fam ? P_V6_LISTED : P_V4_LISTED];
	const struct dnsbl_probe *clean = &t->p[fam ? P_V6_CLEAN : P_V4_CLEAN];
	const char *lt = probe_text[fam ? P_V6_LISTED : P_V4_LISTED];
	const char *ct = probe_text[fam ? P_V6_CLEAN : P_V4_CLEAN];
	why[0] = '\0';
	if (clean->answer == DNSBL_LISTED)
		snprintf(why, len, "lists %s (it lists everything)", ct);
	else if (clean->answer == DNSBL_ERROR)
		snprintf(why, len, "test entry %s: %s", ct, clean->why);
	else if (listed->answer == DNSBL_ERROR)
		snprintf(why, len, "test entry %s: %s", lt, listed->why);
	else if (listed->answer != DNSBL_LISTED)
		snprintf(why, len, "test entry %s is not listed", lt);
}

static void apply_health(struct dnsbl_list *l, int fam, const char *why)
{
	enum dnsbl_health old = l->health[fam];
	l->health[fam] = why[0] ? DNSBL_H_SUSPENDED : DNSBL_H_OK;
	if (why[0] && old != DNSBL_H_SUSPENDED) {
		log_msg(LOG_ERR, "dnsbl: ALERT list suspended", "list=%s family=%s reason=\"%s\"",
			l->zone, family_name[fam], why);
		if (l->m)
			l->m->suspensions++;
	} else if (!why[0] && old == DNSBL_H_SUSPENDED) {
		log_msg(LOG_WARN, "dnsbl: list re-enabled", "list=%s family=%s", l->zone,
			family_name[fam]);
	} else if (!why[0] && old == DNSBL_H_UNKNOWN) {
		log_msg(LOG_INFO, "dnsbl: list healthy", "list=%s family=%s", l->zone,
			family_name[fam]);
	}
}

static void test_end(struct dnsbl_test *t)
{
	struct dnsbl_list *l = t->l;
	char why[300];
	for (int fam = 0; fam < 2; fam++) {
		if (!t->p[fam ? P_V6_LISTED : P_V4_LISTED].used)
			continue;
		judge(t, fam, why, sizeof(why));
		apply_health(l, fam, why);
	}
	if (l->m)
		l->m->healthy =
		    l->health[0] != DNSBL_H_SUSPENDED && l->health[1] != DNSBL_H_SUSPENDED;
	l->test = NULL;
	test_free(t);
	schedule_test(l, retest_delay(l));
}

static void on_probe(void *arg, const struct dns_rr_result *res)
{
	struct dnsbl_probe *p = arg;
	struct dnsbl_test *t = p->t;
	uint32_t code;
	p->q = NULL;
	p->done = 1;
	p->answer = dnsbl_classify(res, NULL, 0, &code, p->why, sizeof(p->why));
	if (--t->pending == 0)
		test_end(t);
}

static void on_test_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_test *t = arg;
	(void)fd, (void)what;
	for (int i = 0; i < N_PROBES; i++)
		if (t->p[i].used && !t->p[i].done) {
			dns_query_cancel(t->p[i].q);
			t->p[i].q = NULL;
			t->p[i].done = 1;
			t->p[i].answer = DNSBL_ERROR;
			snprintf(t->p[i].why, sizeof(t->p[i].why), "timeout after %us",
				 t->l->timeout);
		}
	test_end(t);
}

static void test_start(struct dnsbl_list *l)
{
	struct dnsbl_engine *e = l->e;
	struct dnsbl_test *t = calloc(1, sizeof(*t));
	struct timeval tv = {(time_t)l->timeout, 0};
	l->last_test = time(NULL);
	if (!t || !(t->timer = evtimer_new(e->base, on_test_timeout, t))) {
		free(t);
		log_msg(LOG_ERR, "dnsbl: cannot start a health test", "list=%s", l->zone);
		schedule_test(l, retest_delay(l));
		return;
	}
	t->l = l;
	l->test = t;
	int n = l->ipv6 ? N_PROBES : P_V6_LISTED;
	for (int i = 0; i < n; i++) {
		char name[DNSBL_NAME_MAX];
		struct dnsbl_probe *p = &t->p[i];
		p->t = t;
		p->used = 1;
		int v6 = i >= P_V6_LISTED;
		if ((v6 ? dnsbl_query_name6(probe_addr[i], l->zone, name, sizeof(name))
			: dnsbl_query_name(probe_addr[i], l->zone, name, sizeof(name))) < 0 ||
		    !(p->q = dns_resolve_rr(e->dns, name, DNS_RR_A, on_probe, p))) {
			p->done = 1;
			p->answer = DNSBL_ERROR;
			snprintf(p->why, sizeof(p->why), "cannot start the lookup");
			continue;
		}
		t->pending++;
	}
	if (t->pending == 0) {
		test_end(t);
		return;
	}
	evtimer_add(t->timer, &tv);
}

static void on_test_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_list *l = arg;
	(void)fd, (void)what;
	if (!l->test)
		test_start(l);
}

void dnsbl_list_note_error(struct dnsbl_list *l)
{
	if (l->test || time(NULL) - l->last_test < DNSBL_ERROR_RETEST)
		return;
	evtimer_del(l->timer);
	schedule_test(l, 0);
}

int dnsbl_list_usable(const struct dnsbl_list *l, int family)
{
	return l->health[family] != DNSBL_H_SUSPENDED;
}

struct dnsbl_list *dnsbl_engine_find(struct dnsbl_engine *e, const char *zone)
{
	for (struct dnsbl_list *l = e->lists; l; l = l->next)
		if (!strcmp(l->zone, zone))
			return l;
	return NULL;
}

static void list_free(struct dnsbl_list *l)
{
	if (l->test)
		test_free(l->test);
	if (l->timer)
		event_free(l->timer);
	free(l);
}

/* A new list, its first test started from the loop at once. */
static struct dnsbl_list *list_new(struct dnsbl_engine *e, const struct conf_dnsbl *c)
{
	struct dnsbl_list *l = calloc(1, sizeof(*l));
	if (!l || !(l->timer = evtimer_new(e->base, on_test_timer, l))) {
		free(l);
		return NULL;
	}
	l->e = e;
	util_strlcpy(l->zone, c->zone, sizeof(l->zone));
	l->id = ++e->next_id;
	l->m = metrics_dnsbl_slot(e->metrics, c->zone);
	schedule_test(l, 0);
	return l;
}

void dnsbl_engine_update(struct dnsbl_engine *e, const struct conf *conf)
{
	struct dnsbl_list *keep = NULL;
	e->health_interval = conf->dnsbl_health_interval;
	for (size_t i = 0; i < conf->n_dnsbls; i++) {
		const struct conf_dnsbl *c = &conf->dnsbls[i];
		struct dnsbl_list **pp = &e->lists, *l = NULL;
		for (; *pp; pp = &(*pp)->next)
			if (!strcmp((*pp)->zone, c->zone)) {
				l = *pp;
				*pp = l->next;
				break;
			}
		if (!l && !(l = list_new(e, c))) {
			log_msg(LOG_ERR, "dnsbl: out of memory: list not used", "list=%s", c->zone);
			continue;
		}
		l->timeout = c->timeout;
		l->ipv6 = c->ipv6;
		if (!c->ipv6)
			l->health[DNSBL_FAMILY_V6] = DNSBL_H_UNKNOWN;
		l->next = keep;
		keep = l;
	}
	while (e->lists) { /* zones no longer configured */
		struct dnsbl_list *l = e->lists;
		e->lists = l->next;
		list_free(l);
	}
	e->lists = keep;
}

int dnsbl_engine_new(struct event_base *base, const struct conf *conf, struct metrics *metrics,
		     struct dnsbl_engine **out, char *err, size_t errlen)
{
	struct dnsbl_engine *e = calloc(1, sizeof(*e));
	*out = NULL;
	if (!e || dnsbl_cache_init(&e->cache, conf->dnsbl_cache_size) < 0) {
		snprintf(err, errlen, "out of memory (dnsbl-cache-size %u)",
			 conf->dnsbl_cache_size);
		free(e);
		return -1;
	}
	e->base = base;
	e->metrics = metrics;
	if (dns_resolver_new(base, (const char *const *)conf->dns_servers, conf->n_dns_servers,
			     DNSBL_DNS_TRY_MS, DNSBL_DNS_TRIES, &e->dns, err, errlen) < 0) {
		dnsbl_cache_free(&e->cache);
		free(e);
		return -1;
	}
	dnsbl_engine_update(e, conf);
	*out = e;
	return 0;
}

void dnsbl_engine_free(struct dnsbl_engine *e)
{
	if (!e)
		return;
	while (e->lists) {
		struct dnsbl_list *l = e->lists;
		e->lists = l->next;
		list_free(l);
	}
	dns_resolver_free(e->dns);
	dnsbl_cache_free(&e->cache);
	free(e);
}
