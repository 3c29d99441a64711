/* mx.c — the pure parts of the resolver: MX ordering and null MX, final status, IP literals,
 * server addresses. No I/O. */
#include "mx.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

const char *dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return "ok";
	case DNS_NOTFOUND:
		return "notfound";
	case DNS_NULLMX:
		return "nullmx";
	case DNS_TEMPFAIL:
		return "tempfail";
	}
	return "unknown";
}

int dns_mx_is_root(const char *name)
{
	return name[0] == '\0' || strcmp(name, ".") == 0;
}

static int cmp_pref(const void *a, const void *b)
{
	const struct dns_mx_rr *x = a, *y = b;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return strcmp(x->name, y->name); /* a fixed order before the shuffle: testable */
}

/* Fisher-Yates over rrs[0..n). */
static void shuffle(struct dns_mx_rr *rrs, size_t n, dns_rand_fn rnd, void *ctx)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(ctx, (uint32_t)i) % i;
		struct dns_mx_rr t = rrs[i - 1];
		rrs[i - 1] = rrs[j];
		rrs[j] = t;
	}
}

size_t dns_mx_order(struct dns_mx_rr *rrs, size_t n, size_t max, dns_rand_fn rnd, void *ctx)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (!dns_mx_is_root(rrs[i].name))
			rrs[kept++] = rrs[i];
	if (kept > 1)
		qsort(rrs, kept, sizeof(*rrs), cmp_pref);
	for (size_t start = 0, end; start < kept; start = end) {
		for (end = start + 1; end < kept && rrs[end].pref == rrs[start].pref; end++)
			;
		shuffle(rrs + start, end - start, rnd, ctx);
	}
	return kept < max ? kept : max;
}

enum dns_status dns_mx_status(const struct dns_host *hosts, size_t n)
{
	int temp = 0;
	for (size_t i = 0; i < n; i++) {
		if (hosts[i].n_addrs > 0)
			return DNS_OK;
		temp |= hosts[i].tempfail;
	}
	return temp ? DNS_TEMPFAIL : DNS_NOTFOUND;
}

int dns_host_add_addr(struct dns_host *h, const struct sockaddr *sa, socklen_t len, uint16_t port)
{
	if (h->n_addrs >= DNS_MAX_ADDRS)
		return -1;
	struct sockaddr_storage *ss = &h->addrs[h->n_addrs];
	memset(ss, 0, sizeof(*ss));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(ss, sa, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		h->addrlens[h->n_addrs++] = sizeof(struct sockaddr_in);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(ss, sa, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		h->addrlens[h->n_addrs++] = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

/* "192.0.2.1" or (v6_ok) "2001:db8::1" into ss with port. */
static int parse_ip(const char *s, int v4_ok, int v6_ok, uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (v4_ok && inet_pton(AF_INET, s, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (v6_ok && inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

int dns_parse_ip_literal(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[64];
	size_t n = strlen(s);
	if (s[0] != '[')
		return n < sizeof(buf) ? parse_ip(s, 1, 1, port, ss, len) : -1;
	if (n < 3 || n - 2 >= sizeof(buf) || s[n - 1] != ']')
		return -1;
	memcpy(buf, s + 1, n - 2);
	buf[n - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return parse_ip(buf + 5, 0, 1, port, ss, len);
	return parse_ip(buf, 1, 1, port, ss, len);
}

/* Decimal 1..65535, digits only. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int dns_parse_server(const char *s, struct dns_server *out)
{
	char buf[64];
	const char *port = NULL;
	if (util_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	char *host = buf, *colon = strchr(buf, ':');
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		*end = '\0';
		host = buf + 1;
		port = end[1] ? end + 2 : NULL;
	} else if (colon && colon == strrchr(buf, ':')) {
		*colon = '\0';
		port = colon + 1;
	}
	memset(out, 0, sizeof(*out));
	out->port = 53;
	if (port && parse_port(port, &out->port) < 0)
		return -1;
	if (buf[0] != '[' && inet_pton(AF_INET, host, &out->addr.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if ((buf[0] == '[' || !port) && inet_pton(AF_INET6, host, &out->addr.v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}
