/* resolve.c — the c-ares glue: one c-ares channel per resolver, driven by the caller's libevent
 * loop (one event per c-ares socket, from the sock-state callback, and one timer from
 * ares_timeout). Finished queries wait in a list and their callbacks run from a libevent event,
 * never from inside c-ares or inside the call that started them, so a callback may start or
 * cancel queries or free the resolver. */
#include "dns.h"
#include "mx.h"

#include "../util/util.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
	struct dns_sock *next;
};

struct dns_resolver {
	struct event_base *base;
	ares_channel channel;
	int have_channel;
	struct event *timer;   /* c-ares timeouts and retries */
	struct event *deliver; /* runs the callbacks of finished queries */
	struct dns_sock *socks;
	struct dns_query *done_head, *done_tail;
	int destroying;
};

enum query_state { Q_RUNNING, Q_DONE, Q_DELIVERING };

/* The c-ares argument of one host's address lookup. */
struct dns_lookup {
	struct dns_query *q;
	size_t idx;
};

/* The storage behind one dns_host's address arrays. */
struct dns_addrs {
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	socklen_t lens[DNS_MAX_ADDRS];
};

struct dns_query {
	struct dns_resolver *r;
	dns_mx_fn fn;
	void *arg;
	uint16_t port;
	enum query_state state;
	int cancelled;
	int pending;   /* c-ares callbacks still to come */
	int mx;	       /* an MX query (else: the addresses of one host) */
	int temp_code; /* the first temporary c-ares error of an address lookup */
	char name[256];
	struct dns_mx_result res;
	struct dns_addrs *mem;
	struct dns_lookup *lookups;
	dns_rr_fn rr_fn; /* a record-set query (dns_resolve_rr): its callback, else fn */
	struct dns_rr_result *rr;
	enum dns_rr_type rr_type;
	struct dns_query *next; /* in the done list */
};

static uint32_t random_below(void *ctx, uint32_t bound)
{
	(void)ctx;
	return arc4random_uniform(bound);
}

static void set_error(struct dns_query *q, enum dns_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct dns_query *q, enum dns_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->res.error, sizeof(q->res.error), fmt, ap);
	va_end(ap);
	q->res.status = st;
}

/* ---- libevent side ---- */

static void timer_update(struct dns_resolver *r)
{
	struct timeval tv, *t = ares_timeout(r->channel, NULL, &tv);
	/* c-ares rounds the time left down to milliseconds but checks expiry in microseconds:
	 * a zero timer would spin until the deadline, so wait at least 1 ms */
	if (t && t->tv_sec == 0 && t->tv_usec < 1000)
		t->tv_usec = 1000;
	if (t)
		evtimer_add(r->timer, t);
	else
		evtimer_del(r->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;
	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	timer_update(r);
}

/* The dns_sock struct may be freed inside ares_process_fd (the socket closed), so only r and
 * fd are used here. */
static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;
	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	timer_update(r);
}

static void sock_forget(struct dns_resolver *r, ares_socket_t fd)
{
	for (struct dns_sock **p = &r->socks; *p; p = &(*p)->next)
		if ((*p)->fd == fd) {
			struct dns_sock *s = *p;
			*p = s->next;
			event_free(s->ev);
			free(s);
			return;
		}
}

/* c-ares tells which sockets it wants watched, and for what. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	sock_forget(r, fd);
	if (!readable && !writable)
		return;
	struct dns_sock *s = calloc(1, sizeof(*s));
	short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	if (!s || !(s->ev = event_new(r->base, fd, what, on_socket, r)) ||
	    event_add(s->ev, NULL) < 0) {
		if (s && s->ev)
			event_free(s->ev);
		free(s);
		/* its queries end by timeout: the timer still runs */
		log_msg(LOG_ERR, "dns: cannot watch a resolver socket", "fd=%d", (int)fd);
		return;
	}
	s->fd = fd;
	s->next = r->socks;
	r->socks = s;
}

/* ---- queries: life cycle ---- */

static void query_free(struct dns_query *q)
{
	free(q->res.hosts);
	free(q->mem);
	free(q->lookups);
	free(q->rr);
	free(q);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;
	(void)fd;
	(void)what;
	struct dns_query *q = r->done_head;
	if (!q)
		return;
	if (!(r->done_head = q->next))
		r->done_tail = NULL;
	else
		event_active(r->deliver, 0, 0);
	q->state = Q_DELIVERING;
	if (q->rr_fn)
		q->rr_fn(q->arg, q->rr); /* may free r: the same */
	else
		q->fn(q->arg,
		      &q->res); /* may free r: neither r nor the list is touched afterwards */
	query_free(q);
}

/* All c-ares work of q is over: queue its callback, or drop it. */
static void query_finish(struct dns_query *q)
{
	struct dns_resolver *r = q->r;
	if (q->cancelled || r->destroying) {
		query_free(q);
		return;
	}
	q->state = Q_DONE;
	q->next = NULL;
	if (r->done_tail)
		r->done_tail->next = q;
	else
		r->done_head = q;
	r->done_tail = q;
	event_active(r->deliver, 0, 0);
}

static struct dns_query *query_new(struct dns_resolver *r, const char *name, uint16_t port,
				   dns_mx_fn fn, void *arg)
{
	struct dns_query *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->r = r;
	q->fn = fn;
	q->arg = arg;
	q->port = port;
	if (util_strlcpy(q->name, name, sizeof(q->name)) >= sizeof(q->name))
		q->name[0] = '\0'; /* reported as an invalid name */
	return q;
}

/* Room for n hosts, each with DNS_MAX_ADDRS addresses. Returns 0 or -1. */
static int hosts_alloc(struct dns_query *q, size_t n)
{
	q->res.hosts = calloc(n, sizeof(*q->res.hosts));
	q->mem = calloc(n, sizeof(*q->mem));
	q->lookups = calloc(n, sizeof(*q->lookups));
	if (!q->res.hosts || !q->mem || !q->lookups)
		return -1;
	for (size_t i = 0; i < n; i++) {
		q->res.hosts[i].addrs = q->mem[i].addrs;
		q->res.hosts[i].addrlens = q->mem[i].lens;
		q->lookups[i] = (struct dns_lookup){q, i};
	}
	q->res.n_hosts = n;
	return 0;
}

void dns_query_cancel(struct dns_query *q)
{
	if (!q || q->state == Q_DELIVERING)
		return;
	if (q->state == Q_RUNNING) {
		q->cancelled = 1; /* freed when c-ares is done with it */
		return;
	}
	struct dns_resolver *r = q->r;
	struct dns_query *prev = NULL;
	for (struct dns_query *p = r->done_head; p; prev = p, p = p->next)
		if (p == q) {
			if (prev)
				prev->next = q->next;
			else
				r->done_head = q->next;
			if (r->done_tail == q)
				r->done_tail = prev;
			break;
		}
	query_free(q);
}

/* ---- address lookups ---- */

static int is_temporary(int status)
{
	return status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA &&
	       status != ARES_EBADNAME && status != ARES_EDESTRUCTION;
}

/* Every host has its addresses: the final status and message. */
static void hosts_complete(struct dns_query *q)
{
	enum dns_status st = dns_mx_status(q->res.hosts, q->res.n_hosts);
	char subject[300];
	snprintf(subject, sizeof(subject),
		 !q->mx		   ? "%s"
		 : q->res.implicit ? "%s (no MX)"
				   : "the MX hosts of %s",
		 q->name);
	if (st == DNS_TEMPFAIL)
		set_error(q, st, "Address lookup of %s failed: %s", subject,
			  ares_strerror(q->temp_code));
	else if (st == DNS_NOTFOUND)
		set_error(q, st, "Host not found: no address for %s", subject);
	else
		q->res.status = DNS_OK;
	query_finish(q);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct dns_lookup *l = arg;
	struct dns_query *q = l->q;
	struct dns_host *h = &q->res.hosts[l->idx];
	(void)timeouts;
	if (status == ARES_SUCCESS && ai)
		for (struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next)
			dns_host_add_addr(h, n->ai_addr, n->ai_addrlen, q->port);
	if (is_temporary(status)) {
		h->tempfail = 1;
		if (!q->temp_code)
			q->temp_code = status;
	}
	if (ai)
		ares_freeaddrinfo(ai);
	if (--q->pending == 0)
		hosts_complete(q);
}

/* Look up the addresses of every host in q->res.hosts (names set). The extra pending count
 * keeps q alive while callbacks run synchronously (a numeric name, an early error). */
static void hosts_lookup(struct dns_query *q)
{
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};
	q->pending++;
	for (size_t i = 0; i < q->res.n_hosts; i++) {
		q->pending++;
		ares_getaddrinfo(q->r->channel, q->res.hosts[i].name, NULL, &hints, on_addrinfo,
				 &q->lookups[i]);
	}
	if (--q->pending == 0)
		hosts_complete(q);
}

/* One host named name (the implicit MX, or a route's host). */
static void host_lookup(struct dns_query *q, const char *name)
{
	if (hosts_alloc(q, 1) < 0) {
		set_error(q, DNS_TEMPFAIL, "Out of memory");
		query_finish(q);
		return;
	}
	q->res.implicit = 1;
	util_strlcpy(q->res.hosts[0].name, name, sizeof(q->res.hosts[0].name));
	util_str_lower(q->res.hosts[0].name);
	hosts_lookup(q);
}

/* ---- MX ---- */

/* rrs (n of them) from the reply become the hosts, in delivery order. */
static void mx_take(struct dns_query *q, struct dns_mx_rr *rrs, size_t n)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) /* a name longer than a host name is no host */
		if (strlen(rrs[i].name) < sizeof(q->res.hosts[0].name))
			rrs[kept++] = rrs[i];
	kept = dns_mx_order(rrs, kept, DNS_MAX_HOSTS, random_below, NULL);
	if (kept == 0) {
		set_error(q, DNS_NOTFOUND, "No usable MX host for %s", q->name);
		query_finish(q);
		return;
	}
	if (hosts_alloc(q, kept) < 0) {
		set_error(q, DNS_TEMPFAIL, "Out of memory");
		query_finish(q);
		return;
	}
	for (size_t i = 0; i < kept; i++) {
		util_strlcpy(q->res.hosts[i].name, rrs[i].name, sizeof(q->res.hosts[i].name));
		util_str_lower(q->res.hosts[i].name);
		q->res.hosts[i].pref = rrs[i].pref;
	}
	hosts_lookup(q);
}

static void mx_reply(struct dns_query *q, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *list = NULL;
	int st = ares_parse_mx_reply(abuf, alen, &list);
	if (st == ARES_ENODATA) { /* answers, but no MX among them (a CNAME chain) */
		host_lookup(q, q->name);
		return;
	}
	size_t n = 0;
	int null = 1;
	for (struct ares_mx_reply *m = list; m; m = m->next, n++)
		null &= dns_mx_is_root(m->host);
	struct dns_mx_rr *rrs = NULL;
	if (st != ARES_SUCCESS || n == 0) {
		set_error(q, DNS_TEMPFAIL, "Malformed MX reply for %s: %s", q->name,
			  ares_strerror(st));
	} else if (null) {
		set_error(q, DNS_NULLMX, "Domain %s does not accept mail (null MX, RFC 7505)",
			  q->name);
	} else if (!(rrs = calloc(n, sizeof(*rrs)))) {
		set_error(q, DNS_TEMPFAIL, "Out of memory");
	} else {
		size_t i = 0;
		for (struct ares_mx_reply *m = list; m; m = m->next, i++)
			rrs[i] = (struct dns_mx_rr){m->host, m->priority};
		mx_take(q, rrs, n); /* copies the names */
		free(rrs);
		ares_free_data(list);
		return;
	}
	ares_free_data(list);
	query_finish(q);
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	(void)timeouts;
	q->pending--;
	if (status == ARES_EDESTRUCTION || q->cancelled || q->r->destroying) {
		query_finish(q);
	} else if (status == ARES_SUCCESS) {
		mx_reply(q, abuf, alen);
	} else if (status == ARES_ENODATA) {
		host_lookup(q, q->name); /* no MX: the implicit MX, RFC 5321 5.1 */
	} else {
		if (status == ARES_ENOTFOUND)
			set_error(q, DNS_NOTFOUND, "Host not found: no such domain %s", q->name);
		else if (status == ARES_EBADNAME)
			set_error(q, DNS_NOTFOUND, "Invalid domain name %s", q->name);
		else
			set_error(q, DNS_TEMPFAIL, "MX lookup of %s failed: %s", q->name,
				  ares_strerror(status));
		query_finish(q);
	}
}

/* ---- public ---- */

/* An address literal: one host, no DNS. The callback still comes from the loop. */
static void literal_finish(struct dns_query *q, const char *text, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	q->res.implicit = 1;
	if (dns_parse_ip_literal(text, port, &ss, &len) < 0)
		set_error(q, DNS_NOTFOUND, "Invalid address literal %s", q->name);
	else if (hosts_alloc(q, 1) < 0)
		set_error(q, DNS_TEMPFAIL, "Out of memory");
	else {
		util_strlcpy(q->res.hosts[0].name, text, sizeof(q->res.hosts[0].name));
		dns_host_add_addr(&q->res.hosts[0], (struct sockaddr *)&ss, len, port);
		q->res.status = DNS_OK;
	}
	query_finish(q);
}

static int name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= 253 && !strchr(name, '@');
}

struct dns_query *dns_resolve_mx(struct dns_resolver *r, const char *domain, uint16_t port,
				 dns_mx_fn fn, void *arg)
{
	struct dns_query *q = query_new(r, domain, port, fn, arg);
	if (!q)
		return NULL;
	q->mx = 1;
	if (domain[0] == '[') {
		literal_finish(q, domain, port);
	} else if (!name_ok(q->name)) {
		set_error(q, DNS_NOTFOUND, "Invalid domain name");
		query_finish(q);
	} else {
		q->pending = 1;
		ares_query(r->channel, q->name, ns_c_in, ns_t_mx, on_mx, q);
		timer_update(r);
	}
	return q;
}

struct dns_query *dns_resolve_host(struct dns_resolver *r, const char *host, uint16_t port,
				   dns_mx_fn fn, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct dns_query *q = query_new(r, host, port, fn, arg);
	if (!q)
		return NULL;
	if (dns_parse_ip_literal(host, port, &ss, &len) == 0) {
		literal_finish(q, host, port);
	} else if (!name_ok(q->name)) {
		set_error(q, DNS_NOTFOUND, "Invalid host name");
		q->res.implicit = 1;
		query_finish(q);
	} else {
		host_lookup(q, q->name);
		timer_update(r);
	}
	return q;
}

static void on_rr(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;
	struct dns_rr_result *res = q->rr;
	(void)timeouts;
	q->pending--;
	if (status == ARES_EDESTRUCTION || q->cancelled || q->r->destroying) {
		query_finish(q);
		return;
	}
	if (status == ARES_SUCCESS) {
		dns_parse_rr_reply(abuf, alen > 0 ? (size_t)alen : 0, q->rr_type, res);
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		res->status = DNS_NOTFOUND;
	} else {
		res->status = DNS_TEMPFAIL;
		snprintf(res->error, sizeof(res->error), "%s", ares_strerror(status));
	}
	query_finish(q);
}

struct dns_query *dns_resolve_rr(struct dns_resolver *r, const char *name, enum dns_rr_type type,
				 dns_rr_fn fn, void *arg)
{
	struct dns_query *q = query_new(r, name, 0, NULL, arg);
	if (!q)
		return NULL;
	if (!(q->rr = calloc(1, sizeof(*q->rr)))) {
		free(q);
		return NULL;
	}
	q->rr_fn = fn;
	q->rr_type = type;
	if (!name_ok(q->name)) {
		q->rr->status = DNS_NOTFOUND;
		snprintf(q->rr->error, sizeof(q->rr->error), "invalid name");
		query_finish(q);
	} else {
		q->pending = 1;
		ares_query(r->channel, q->name, ns_c_in, type == DNS_RR_A ? ns_t_a : ns_t_txt,
			   on_rr, q);
		timer_update(r);
	}
	return q;
}

/* ---- the resolver ---- */

/* The servers as c-ares wants them; fills err and returns -1 on a bad one. */
static int servers_set(struct dns_resolver *r, const char *const *servers, size_t n, char *err,
		       size_t errlen)
{
	struct ares_addr_port_node *nodes = calloc(n, sizeof(*nodes));
	if (!nodes) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct dns_server s;
		if (dns_parse_server(servers[i], &s) < 0) {
			snprintf(err, errlen, "invalid DNS server '%s'", servers[i]);
			free(nodes);
			return -1;
		}
		nodes[i].family = s.family;
		if (s.family == AF_INET)
			memcpy(&nodes[i].addr.addr4, &s.addr.v4, sizeof(s.addr.v4));
		else
			memcpy(&nodes[i].addr.addr6, &s.addr.v6, sizeof(s.addr.v6));
		nodes[i].udp_port = nodes[i].tcp_port = s.port;
		nodes[i].next = i + 1 < n ? &nodes[i + 1] : NULL;
	}
	int st = ares_set_servers_ports(r->channel, nodes);
	free(nodes);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot set DNS servers: %s", ares_strerror(st));
		return -1;
	}
	return 0;
}

static int channel_init(struct dns_resolver *r, size_t n_servers, unsigned timeout_ms,
			unsigned tries, char *err, size_t errlen)
{
	struct ares_options o;
	memset(&o, 0, sizeof(o));
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS;
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = r;
	o.timeout = (int)timeout_ms;
	o.tries = (int)tries;
	o.domains = NULL; /* no search list: mail domains are fully qualified */
	o.ndomains = 0;
	char lookups[] = "b"; /* explicit servers: DNS only, not /etc/hosts */
	if (n_servers) {
		o.lookups = lookups;
		mask |= ARES_OPT_LOOKUPS;
	}
	int st = ares_init_options(&r->channel, &o, mask);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start the DNS resolver: %s", ares_strerror(st));
		return -1;
	}
	r->have_channel = 1;
	return 0;
}

int dns_resolver_new(struct event_base *base, const char *const *servers, size_t n,
		     unsigned timeout_ms, unsigned tries, struct dns_resolver **out, char *err,
		     size_t errlen)
{
	*out = NULL;
	if (timeout_ms == 0 || timeout_ms > 600000 || tries == 0 || tries > 100) {
		snprintf(err, errlen, "invalid DNS timeout or tries");
		return -1;
	}
	struct dns_resolver *r = calloc(1, sizeof(*r));
	if (!r || ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return -1;
	}
	r->base = base;
	r->timer = evtimer_new(base, on_timer, r);
	r->deliver = event_new(base, -1, 0, on_deliver, r);
	if (!r->timer || !r->deliver) {
		snprintf(err, errlen, "out of memory");
		dns_resolver_free(r);
		return -1;
	}
	if (channel_init(r, n, timeout_ms, tries, err, errlen) < 0 ||
	    (n && servers_set(r, servers, n, err, errlen) < 0)) {
		dns_resolver_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void dns_resolver_free(struct dns_resolver *r)
{
	if (!r)
		return;
	r->destroying = 1;
	if (r->have_channel)
		ares_destroy(r->channel); /* every pending query ends (ARES_EDESTRUCTION), freed */
	while (r->done_head) {
		struct dns_query *q = r->done_head;
		r->done_head = q->next;
		query_free(q);
	}
	while (r->socks) {
		struct dns_sock *s = r->socks;
		r->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	if (r->timer)
		event_free(r->timer);
	if (r->deliver)
		event_free(r->deliver);
	ares_library_cleanup();
	free(r);
}
