/* self_check.c — the server asks "am I listed?" about itself: at start and every
 * self-check-interval, each outbound address (outbound-address, else the listeners' addresses
 * that are not loopback, private or wildcard) is looked up in the config's DNS lists and the
 * self-check-lists file, all at once (src/dnsbl batch). A listing in a block list is an ALERT
 * line (list, code, meaning, TXT, delisting URL) and relayguard_self_listed{list} 1; errors
 * are logged and counted, never alerts. Remote rejections that name a blocklist raise the same
 * kind of alert, once per destination and interval. */
#include "server_int.h"

#include "../dnsbl/dnsbl.h"
#include "../util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF_CHECK_TIMEOUT 10 /* s per lookup for lists without a timeout of their own */
#define SELF_CHECK_DNS_TRY_MS 1000
#define SELF_CHECK_DNS_TRIES 3
#define SELF_CHECK_MAX_ADDRS 16	  /* outbound addresses checked */
#define SELF_CHECK_ALERT_DESTS 64 /* destinations whose last bounce alert is remembered */

struct sc_run {
	struct conf *conf; /* pinned: the zones borrow its codes */
	struct dnsbl_zones zones;
	struct dnsbl_item *items;
	size_t n_items, n_addrs;
	struct dnsbl_batch *batch;
};

struct sc_alerted {
	char destination[256];
	time_t at;
};

struct self_check {
	struct server *srv;
	struct dns_resolver *dns;
	struct event *timer;
	unsigned interval;	  /* the one the timer runs with, 0 = off */
	struct dnsbl_zones known; /* the current lists: zones and delisting URLs for bounces */
	struct sc_run *run;	  /* under way, or NULL */
	struct sc_alerted alerted[SELF_CHECK_ALERT_DESTS];
	size_t n_alerted;
};

/* ---- which addresses ---- */

static int addr_is_public(const uint8_t a[16])
{
	static const char *const not_public[] = {
	    "0.0.0.0/8",      "10.0.0.0/8",    "100.64.0.0/10",	 "127.0.0.0/8",
	    "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "::/128",
	    "::1/128",	      "fc00::/7",      "fe80::/10"};
	for (size_t i = 0; i < sizeof(not_public) / sizeof(not_public[0]); i++) {
		struct cidr c;
		if (cidr_parse(not_public[i], &c) == 0 && cidr_contains(&c, a))
			return 0;
	}
	return 1;
}

static size_t add_addr(uint8_t addrs[][16], char ips[][64], size_t n, const uint8_t a[16],
		       const char *ip)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(addrs[i], a, 16))
			return n;
	if (n >= SELF_CHECK_MAX_ADDRS)
		return n;
	memcpy(addrs[n], a, 16);
	util_strlcpy(ips[n], ip, 64);
	return n + 1;
}

/* outbound-address as written (loopback too: the admin names what is checked), else the
 * listeners' public addresses. */
static size_t outbound_addrs(const struct conf *c, uint8_t addrs[][16], char ips[][64])
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_outbound_addrs; i++) {
		struct cidr x;
		if (cidr_parse(c->outbound_addrs[i], &x) == 0)
			n = add_addr(addrs, ips, n, x.addr, c->outbound_addrs[i]);
	}
	if (c->n_outbound_addrs)
		return n;
	for (size_t i = 0; i < c->n_listens; i++) {
		uint8_t a[16];
		char ip[64];
		const struct sockaddr *sa = (const struct sockaddr *)&c->listens[i].addr;
		if (cidr_addr_from_sockaddr(sa, a) < 0 || !addr_is_public(a))
			continue;
		util_sockaddr_ip(sa, ip, sizeof(ip));
		n = add_addr(addrs, ips, n, a, ip);
	}
	return n;
}

/* ---- the lists ---- */

/* The config's lists plus the self-check-lists file into z. 0, or -1 with err. */
static int zones_build(const struct conf *c, struct dnsbl_zones *z, char *err, size_t errlen)
{
	if (c->self_check_lists && dnsbl_zones_load(c->self_check_lists, z, err, errlen) < 0) {
		dnsbl_zones_free(z);
		return -1;
	}
	if (dnsbl_zones_add_conf(z, c) < 0) {
		dnsbl_zones_free(z);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- a run ---- */

static void run_free(struct sc_run *r)
{
	if (!r)
		return;
	dnsbl_batch_free(r->batch);
	dnsbl_zones_free(&r->zones);
	free(r->items);
	conf_unref(r->conf);
	free(r);
}

static void log_listed(const struct dnsbl_item *it)
{
	char code[16], q1[2 * DNSBL_TXT_MAX], q2[600];
	uint32_t c = it->r.code;
	const char *meaning = dnsbl_zone_meaning(it->zone, c);
	snprintf(code, sizeof(code), "%u.%u.%u.%u", c >> 24, (c >> 16) & 0xff, (c >> 8) & 0xff,
		 c & 0xff);
	log_msg(LOG_ERR, "self-check: ALERT outbound address listed",
		"rule=self-check:listed address=%s list=%s code=%s meaning=%s txt=%s delist=%s",
		it->ip, it->zone->zone, code,
		log_quote(meaning ? meaning : "-", strlen(meaning ? meaning : "-"), q2, sizeof(q2)),
		log_quote(it->r.txt, strlen(it->r.txt), q1, sizeof(q1)),
		it->zone->delist ? it->zone->delist : "-");
}

static void on_run_done(void *arg)
{
	struct self_check *s = arg;
	struct sc_run *r = s->run;
	struct metrics *m = &s->srv->metrics;
	size_t listed = 0, errors = 0;
	for (size_t l = 0; l < r->zones.n; l++) {
		const struct dnsbl_zone *z = &r->zones.z[l];
		int hit = 0;
		for (size_t a = 0; a < r->n_addrs; a++) {
			const struct dnsbl_item *it = &r->items[a * r->zones.n + l];
			if (it->state != DNSBL_I_DONE)
				continue;
			if (it->r.answer == DNSBL_ERROR) {
				errors++;
				m->self_check_errors++;
				log_msg(LOG_WARN, "self-check: lookup error, not a listing",
					"address=%s list=%s error=\"%s\"", it->ip, z->zone,
					it->r.why);
			} else if (it->r.answer == DNSBL_LISTED && z->kind == DNSBL_KIND_BLOCK) {
				hit = 1;
				log_listed(it);
			}
		}
		listed += hit;
		if (z->kind == DNSBL_KIND_BLOCK)
			metrics_set_self_listed(m, z->zone, hit);
	}
	m->self_check_runs++;
	log_msg(listed ? LOG_ERR : LOG_INFO, "self-check: done",
		"addresses=%zu lists=%zu listed=%zu errors=%zu", r->n_addrs, r->zones.n, listed,
		errors);
	s->run = NULL;
	run_free(r); /* the batch is freed after its done returned: done is its last act */
}

static void run_start(struct self_check *s)
{
	uint8_t addrs[SELF_CHECK_MAX_ADDRS][16];
	char ips[SELF_CHECK_MAX_ADDRS][64], err[512];
	struct sc_run *r = calloc(1, sizeof(*r));
	if (!r) {
		log_msg(LOG_ERR, "self-check: out of memory", NULL);
		return;
	}
	r->conf = conf_ref(s->srv->conf);
	r->n_addrs = outbound_addrs(r->conf, addrs, ips);
	if (zones_build(r->conf, &r->zones, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "self-check: lists not usable", "error=\"%s\"", err);
		run_free(r);
		return;
	}
	if (r->n_addrs == 0 || r->zones.n == 0) {
		log_msg(LOG_INFO, "self-check: nothing to check",
			r->n_addrs ? "reason=\"no dnsbl line and no self-check-lists\""
				   : "reason=\"no public listener address; name them with "
				     "outbound-address\"");
		run_free(r);
		return;
	}
	r->n_items = r->n_addrs * r->zones.n;
	if (!(r->items = calloc(r->n_items, sizeof(*r->items)))) {
		run_free(r);
		return;
	}
	for (size_t a = 0; a < r->n_addrs; a++)
		for (size_t l = 0; l < r->zones.n; l++) {
			struct dnsbl_item *it = &r->items[a * r->zones.n + l];
			memcpy(it->addr, addrs[a], 16);
			util_strlcpy(it->ip, ips[a], sizeof(it->ip));
			it->zone = &r->zones.z[l];
		}
	s->run = r;
	r->batch = dnsbl_batch_start(s->srv->base, s->dns, r->items, r->n_items, SELF_CHECK_TIMEOUT,
				     on_run_done, s);
	if (!r->batch) {
		log_msg(LOG_ERR, "self-check: cannot start the lookups", NULL);
		s->run = NULL;
		run_free(r);
	}
}

/* ---- the timer, the lists in use, bounces ---- */

static void timer_arm(struct self_check *s, unsigned seconds)
{
	struct timeval tv = {(time_t)seconds, 0};
	evtimer_del(s->timer);
	if (s->interval)
		evtimer_add(s->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct self_check *s = arg;
	(void)fd, (void)what;
	if (!s->run && !s->srv->stopping)
		run_start(s);
	timer_arm(s, s->interval);
}

/* The known lists follow the config; their codes filters are not kept (the config they
 * point into may go at a reload): known serves names and delisting URLs only. */
static int known_update(struct self_check *s, char *err, size_t errlen)
{
	struct dnsbl_zones z = {0};
	if (zones_build(s->srv->conf, &z, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < z.n; i++) {
		z.z[i].codes = NULL;
		z.z[i].n_codes = 0;
	}
	dnsbl_zones_free(&s->known);
	s->known = z;
	return 0;
}

int self_check_start(struct server *srv, char *err, size_t errlen)
{
	const struct conf *c = srv->conf;
	struct self_check *s = calloc(1, sizeof(*s));
	if (!s || !(s->timer = evtimer_new(srv->base, on_timer, s))) {
		free(s);
		snprintf(err, errlen, "self-check: out of memory");
		return -1;
	}
	s->srv = srv;
	srv->self_check = s;
	if (known_update(s, err, errlen) < 0 ||
	    dns_resolver_new(srv->base, (const char *const *)c->dns_servers, c->n_dns_servers,
			     SELF_CHECK_DNS_TRY_MS, SELF_CHECK_DNS_TRIES, &s->dns, err, errlen) < 0)
		return -1; /* self_check_stop frees it */
	s->interval = c->self_check_interval;
	timer_arm(s, 0);
	return 0;
}

void self_check_conf_changed(struct server *srv)
{
	struct self_check *s = srv->self_check;
	char err[512];
	if (!s)
		return;
	if (known_update(s, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "self-check: keeping the old lists", "error=\"%s\"", err);
	if (s->interval != srv->conf->self_check_interval) {
		s->interval = srv->conf->self_check_interval;
		timer_arm(s, s->interval);
	}
}

int self_check_now(struct server *srv)
{
	struct self_check *s = srv->self_check;
	if (!s || srv->stopping)
		return -1;
	if (s->run)
		return 1;
	run_start(s);
	return 0;
}

/* 1 when an alert for destination is due (none within the interval), and note it. */
static int alert_due(struct self_check *s, const char *destination, time_t now)
{
	unsigned every = s->interval ? s->interval : CONF_DEFAULT_SELF_CHECK;
	size_t oldest = 0;
	for (size_t i = 0; i < s->n_alerted; i++) {
		struct sc_alerted *a = &s->alerted[i];
		if (!strcmp(a->destination, destination)) {
			if (now - a->at < (time_t)every)
				return 0;
			a->at = now;
			return 1;
		}
		if (a->at < s->alerted[oldest].at)
			oldest = i;
	}
	size_t i = s->n_alerted < SELF_CHECK_ALERT_DESTS ? s->n_alerted++ : oldest;
	util_strlcpy(s->alerted[i].destination, destination, sizeof(s->alerted[i].destination));
	s->alerted[i].at = now;
	return 1;
}

void self_check_note_bounce(struct server *srv, const char *destination, const char *relay,
			    int code, const char *enh, const char *text)
{
	struct self_check *s = srv->self_check;
	char what[256], reply[700], q[1400];
	if (!dnsbl_bounce_match(code, enh, text, s ? &s->known : NULL, what, sizeof(what)))
		return;
	metrics_count_blocklisted_bounce(&srv->metrics, destination);
	if (s && !alert_due(s, destination, time(NULL)))
		return;
	const struct dnsbl_zone *z = s ? dnsbl_zones_find(&s->known, what) : NULL;
	snprintf(reply, sizeof(reply), "%d%s%s %s", code, enh && enh[0] ? " " : "", enh ? enh : "",
		 text);
	log_msg(LOG_ERR, "self-check: ALERT remote server refused our mail naming a blocklist",
		"rule=self-check:bounce destination=%s relay=%s matched=%s reply=%s delist=%s",
		destination, relay && relay[0] ? relay : "-", what,
		log_quote(reply, strlen(reply), q, sizeof(q)), z && z->delist ? z->delist : "-");
}

void self_check_stop(struct server *srv)
{
	struct self_check *s = srv->self_check;
	if (!s)
		return;
	run_free(s->run);
	if (s->timer)
		event_free(s->timer);
	dns_resolver_free(s->dns);
	dnsbl_zones_free(&s->known);
	free(s);
	srv->self_check = NULL;
}
