/* ask.c — one address in one list: the A record, classified (error answers are never a
 * listing), then the TXT reason of a listing, the whole bounded by the list's timeout. The
 * building block of the session's checks, `relayguard lookup` and the self-check. */
#include "dnsbl.h"

#include "../util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dnsbl_ask {
	struct dns_resolver *dns;
	struct dns_query *q;
	struct event *timer;
	const struct conf_dnsbl_codes *codes;
	size_t n_codes;
	unsigned timeout;
	int txt_phase; /* listed: the TXT reason is being asked */
	dnsbl_ask_fn fn;
	void *arg;
	char name[DNSBL_NAME_MAX];
	struct dnsbl_ask_result r;
};

static void ask_free(struct dnsbl_ask *a)
{
	if (a->q)
		dns_query_cancel(a->q);
	if (a->timer)
		event_free(a->timer);
	free(a);
}

/* The answer is known: free the ask, then tell the caller. */
static void ask_end(struct dnsbl_ask *a)
{
	struct dnsbl_ask_result r = a->r;
	dnsbl_ask_fn fn = a->fn;
	void *arg = a->arg;
	ask_free(a);
	fn(arg, &r);
}

static void on_txt(void *arg, const struct dns_rr_result *res)
{
	struct dnsbl_ask *a = arg;
	a->q = NULL;
	if (res->status == DNS_OK)
		dnsbl_txt_clean(res->txt, a->r.txt, sizeof(a->r.txt));
	ask_end(a);
}

static void on_a(void *arg, const struct dns_rr_result *res)
{
	struct dnsbl_ask *a = arg;
	a->q = NULL;
	a->r.answer =
	    dnsbl_classify(res, a->codes, a->n_codes, &a->r.code, a->r.why, sizeof(a->r.why));
	a->r.ttl = res->ttl;
	if (a->r.answer == DNSBL_LISTED) {
		a->txt_phase = 1;
		if ((a->q = dns_resolve_rr(a->dns, a->name, DNS_RR_TXT, on_txt, a)))
			return;
	}
	ask_end(a);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_ask *a = arg;
	(void)fd, (void)what;
	if (a->q)
		dns_query_cancel(a->q);
	a->q = NULL;
	if (!a->txt_phase) { /* listed with its reason missing stays listed */
		a->r.answer = DNSBL_ERROR;
		snprintf(a->r.why, sizeof(a->r.why), "timeout after %us", a->timeout);
	}
	ask_end(a);
}

struct dnsbl_ask *dnsbl_ask_start(struct event_base *base, struct dns_resolver *dns,
				  const uint8_t addr[16], const char *zone,
				  const struct conf_dnsbl_codes *codes, size_t n_codes,
				  unsigned timeout, dnsbl_ask_fn fn, void *arg)
{
	struct dnsbl_ask *a = calloc(1, sizeof(*a));
	struct timeval tv = {(time_t)timeout, 0};
	if (!a)
		return NULL;
	*a = (struct dnsbl_ask){.dns = dns,
				.codes = codes,
				.n_codes = n_codes,
				.timeout = timeout,
				.fn = fn,
				.arg = arg};
	if (dnsbl_query_name(addr, zone, a->name, sizeof(a->name)) < 0 ||
	    !(a->timer = evtimer_new(base, on_timeout, a)) || evtimer_add(a->timer, &tv) < 0 ||
	    !(a->q = dns_resolve_rr(dns, a->name, DNS_RR_A, on_a, a))) {
		ask_free(a);
		return NULL;
	}
	return a;
}

void dnsbl_ask_cancel(struct dnsbl_ask *a)
{
	if (a)
		ask_free(a);
}
