/* test_dns.c — the resolver's pure parts (MX order and null MX per RFC 5321 5.1 and RFC 7505,
 * final status, IP literals, server addresses) and its callback contract with the event loop
 * (callbacks from the loop only, cancel, free from a callback), without a DNS server. */
#include "dns/dns.h"
#include "dns/mx.h"
#include "util/util.h"
#include "check.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

/* A scripted random source: returns the values in order (mod bound), then 0. */
struct script {
	const uint32_t *v;
	size_t n, i;
};

static uint32_t scripted(void *ctx, uint32_t bound)
{
	struct script *s = ctx;
	uint32_t v = s->i < s->n ? s->v[s->i] : 0;
	s->i++;
	return v % bound;
}

static void names_of(const struct dns_mx_rr *rrs, size_t n, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(out);
		snprintf(out + used, len - used, "%s%s/%u", i ? " " : "", rrs[i].name, rrs[i].pref);
	}
}

static void test_mx_order(void)
{
	static const struct {
		const char *why;
		struct dns_mx_rr in[6];
		size_t n, max;
		uint32_t rnd[6];
		size_t n_rnd;
		const char *want;
	} cases[] = {
	    {"RFC 5321 5.1: sorted by preference",
	     {{"c", 30}, {"a", 10}, {"b", 20}},
	     3,
	     20,
	     {0},
	     0,
	     "a/10 b/20 c/30"},
	    {"equal preferences: order drawn from rnd (Fisher-Yates, last slot first)",
	     {{"x", 10}, {"y", 10}, {"z", 10}},
	     3,
	     20,
	     {0, 0},
	     2,
	     "y/10 z/10 x/10"},
	    {"equal preferences, identity draws",
	     {{"x", 10}, {"y", 10}, {"z", 10}},
	     3,
	     20,
	     {2, 1},
	     2,
	     "x/10 y/10 z/10"},
	    {"shuffling never crosses a preference",
	     {{"b1", 20}, {"a1", 10}, {"b2", 20}, {"a2", 10}},
	     4,
	     20,
	     {0, 0},
	     2,
	     "a2/10 a1/10 b2/20 b1/20"},
	    {"root exchanges among real ones are dropped",
	     {{"", 0}, {"mx", 10}, {".", 5}},
	     3,
	     20,
	     {0},
	     0,
	     "mx/10"},
	    {"only root exchanges: nothing kept (null MX)", {{"", 0}}, 1, 20, {0}, 0, ""},
	    {"capped: the lowest preferences kept",
	     {{"d", 40}, {"a", 10}, {"c", 30}, {"b", 20}},
	     4,
	     2,
	     {0},
	     0,
	     "a/10 b/20"},
	    {"empty set", {{0}}, 0, 20, {0}, 0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_mx_rr rrs[6];
		memcpy(rrs, cases[i].in, sizeof(rrs));
		struct script s = {cases[i].rnd, cases[i].n_rnd, 0};
		size_t n = dns_mx_order(rrs, cases[i].n, cases[i].max, scripted, &s);
		char got[256];
		names_of(rrs, n, got, sizeof(got));
		CHECK_STR(got, cases[i].want, "%s", cases[i].why);
	}
}

/* Every order of three equal preferences is reachable: the shuffle is not biased to a few. */
static void test_mx_shuffle_reaches_all(void)
{
	int seen[3][3] = {{0}};
	for (uint32_t a = 0; a < 3; a++)
		for (uint32_t b = 0; b < 2; b++) {
			struct dns_mx_rr rrs[3] = {{"x", 5}, {"y", 5}, {"z", 5}};
			uint32_t v[2] = {a, b};
			struct script s = {v, 2, 0};
			dns_mx_order(rrs, 3, 20, scripted, &s);
			for (int pos = 0; pos < 3; pos++)
				seen[pos][rrs[pos].name[0] - 'x']++;
		}
	for (int pos = 0; pos < 3; pos++)
		for (int h = 0; h < 3; h++)
			CHECK(seen[pos][h] == 2, "host %c at position %d in 2 of 6 orders, got %d",
			      'x' + h, pos, seen[pos][h]);
}

static void test_root(void)
{
	CHECK(dns_mx_is_root(""), "empty exchange (c-ares renders the root so)");
	CHECK(dns_mx_is_root("."), "\".\" as written in zone files");
	CHECK(!dns_mx_is_root("mx.example"), "a host");
}

static void test_status(void)
{
	struct sockaddr_storage ss[1];
	socklen_t lens[1];
	struct dns_host ok = {"a", 10, ss, lens, 1, 0}, temp = {"b", 10, ss, lens, 0, 1},
			gone = {"c", 10, ss, lens, 0, 0};
	static const struct {
		const char *why;
		int hosts[3]; /* 0 ok, 1 temp, 2 gone, -1 end */
		enum dns_status want;
	} cases[] = {
	    {"one host with an address is enough", {1, 2, 0}, DNS_OK},
	    {"no address, one temporary failure: retry later", {2, 1, -1}, DNS_TEMPFAIL},
	    {"every host gone: permanent", {2, 2, -1}, DNS_NOTFOUND},
	    {"no hosts at all", {-1}, DNS_NOTFOUND},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_host hs[3];
		size_t n = 0;
		for (; n < 3 && cases[i].hosts[n] >= 0; n++)
			hs[n] = cases[i].hosts[n] == 0 ? ok : cases[i].hosts[n] == 1 ? temp : gone;
		enum dns_status got = dns_mx_status(hs, n);
		CHECK(got == cases[i].want, "%s: got %s", cases[i].why, dns_status_name(got));
	}
	CHECK_STR(dns_status_name(DNS_NULLMX), "nullmx", "status names");
}

static void test_add_addr(void)
{
	struct sockaddr_storage ss[DNS_MAX_ADDRS];
	socklen_t lens[DNS_MAX_ADDRS];
	struct dns_host h = {"h", 0, ss, lens, 0, 0};
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	CHECK(dns_host_add_addr(&h, (struct sockaddr *)&in, sizeof(in), 2525) == 0, "v4");
	CHECK(dns_host_add_addr(&h, (struct sockaddr *)&in6, sizeof(in6), 2525) == 0, "v6");
	CHECK(ntohs(((struct sockaddr_in *)&ss[0])->sin_port) == 2525 && lens[0] == sizeof(in),
	      "port replaced (v4)");
	CHECK(ntohs(((struct sockaddr_in6 *)&ss[1])->sin6_port) == 2525 && lens[1] == sizeof(in6),
	      "port replaced (v6)");
	struct sockaddr un = {.sa_family = AF_UNIX};
	CHECK(dns_host_add_addr(&h, &un, sizeof(un), 25) == -1, "not an IP address");
	CHECK(dns_host_add_addr(&h, (struct sockaddr *)&in, 4, 25) == -1, "short sockaddr");
	while (h.n_addrs < DNS_MAX_ADDRS)
		dns_host_add_addr(&h, (struct sockaddr *)&in, sizeof(in), 25);
	CHECK(dns_host_add_addr(&h, (struct sockaddr *)&in, sizeof(in), 25) == -1 &&
		  h.n_addrs == DNS_MAX_ADDRS,
	      "at most DNS_MAX_ADDRS per host");
}

static void test_literals(void)
{
	static const struct {
		const char *in;
		int family; /* 0: rejected */
		const char *ip;
	} cases[] = {
	    {"192.0.2.1", AF_INET, "192.0.2.1"},
	    {"::1", AF_INET6, "::1"},
	    {"[192.0.2.1]", AF_INET, "192.0.2.1"},	     /* RFC 5321 4.1.3 */
	    {"[IPv6:2001:db8::1]", AF_INET6, "2001:db8::1"}, /* RFC 5321 4.1.3 */
	    {"[ipv6:::1]", AF_INET6, "::1"},
	    {"[::1]", AF_INET6, "::1"}, /* the config's [IPv6] form */
	    {"[IPv6:192.0.2.1]", 0, NULL},
	    {"[192.0.2.1", 0, NULL},
	    {"[]", 0, NULL},
	    {"mx.example.org", 0, NULL},
	    {"192.0.2.256", 0, NULL},
	    {"", 0, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		int rc = dns_parse_ip_literal(cases[i].in, 2525, &ss, &len);
		CHECK((rc == 0) == (cases[i].family != 0), "%s", cases[i].in);
		if (rc < 0 || !cases[i].family)
			continue;
		char ip[64];
		const void *a = ss.ss_family == AF_INET
				    ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
				    : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		inet_ntop(ss.ss_family, a, ip, sizeof(ip));
		CHECK(ss.ss_family == cases[i].family, "%s family", cases[i].in);
		CHECK_STR(ip, cases[i].ip, "%s", cases[i].in);
		CHECK(ntohs(((struct sockaddr_in *)&ss)->sin_port) == 2525, "%s port", cases[i].in);
	}
}

static void test_servers(void)
{
	static const struct {
		const char *in;
		int family;
		uint16_t port;
	} cases[] = {
	    {"127.0.0.1", AF_INET, 53},
	    {"127.0.0.1:5353", AF_INET, 5353},
	    {"::1", AF_INET6, 53},
	    {"[::1]:5353", AF_INET6, 5353},
	    {"[2001:db8::1]", AF_INET6, 53},
	    {"2001:db8::1", AF_INET6, 53},
	    {"127.0.0.1:0", 0, 0},
	    {"127.0.0.1:65536", 0, 0},
	    {"127.0.0.1:", 0, 0},
	    {"[127.0.0.1]:53", 0, 0},
	    {"ns.example:53", 0, 0},
	    {"[::1]53", 0, 0},
	    {"", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_server s;
		int rc = dns_parse_server(cases[i].in, &s);
		CHECK((rc == 0) == (cases[i].family != 0), "%s", cases[i].in);
		if (rc == 0 && cases[i].family)
			CHECK(s.family == cases[i].family && s.port == cases[i].port,
			      "%s: family %d port %u", cases[i].in, s.family, s.port);
	}
}

/* ---- the callback contract, over a real event loop ---- */

struct seen {
	int calls;
	enum dns_status status;
	int implicit;
	size_t n_addrs;
	uint16_t port;
	char error[256];
	struct dns_resolver **free_me; /* free the resolver from inside the callback */
};

static void on_result(void *arg, const struct dns_mx_result *res)
{
	struct seen *s = arg;
	s->calls++;
	s->status = res->status;
	s->implicit = res->implicit;
	s->n_addrs = res->n_hosts ? res->hosts[0].n_addrs : 0;
	if (s->n_addrs)
		s->port = ntohs(((struct sockaddr_in *)&res->hosts[0].addrs[0])->sin_port);
	util_strlcpy(s->error, res->error, sizeof(s->error));
	if (s->free_me) {
		dns_resolver_free(*s->free_me);
		*s->free_me = NULL;
	}
}

/* Run what is ready (literal results need no I/O), a bounded number of passes. */
static void run_loop(struct event_base *base)
{
	for (int i = 0; i < 10; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void test_loop_contract(void)
{
	struct event_base *base = event_base_new();
	struct dns_resolver *r;
	char err[256];
	const char *servers[] = {"127.0.0.1:9"}; /* discard port: nothing answers */
	CHECK(dns_resolver_new(base, servers, 1, 200, 1, &r, err, sizeof(err)) == 0, "%s", err);
	struct seen lit = {0}, cancelled = {0}, mx_lit = {0};
	dns_resolve_host(r, "127.0.0.1", 2525, on_result, &lit);
	struct dns_query *q = dns_resolve_host(r, "::1", 25, on_result, &cancelled);
	dns_resolve_mx(r, "[IPv6:::1]", 25, on_result, &mx_lit);
	CHECK(lit.calls == 0, "no callback from inside dns_resolve_host");
	dns_query_cancel(q);
	run_loop(base);
	CHECK(lit.calls == 1 && lit.status == DNS_OK && lit.implicit && lit.n_addrs == 1 &&
		  lit.port == 2525,
	      "an IP literal resolves without DNS (calls %d)", lit.calls);
	CHECK(mx_lit.calls == 1 && mx_lit.status == DNS_OK, "address literal domain");
	CHECK(cancelled.calls == 0, "a cancelled query's callback is not called");

	/* a query in flight when the resolver is freed: no callback, nothing leaked (ASan) */
	struct seen flying = {0};
	dns_resolve_mx(r, "example.test", 25, on_result, &flying);
	dns_resolver_free(r);
	CHECK(flying.calls == 0, "free cancels queries in flight");

	/* the resolver freed from inside a callback while another result waits */
	CHECK(dns_resolver_new(base, servers, 1, 200, 1, &r, err, sizeof(err)) == 0, "%s", err);
	struct seen first = {.free_me = &r}, second = {0};
	dns_resolve_host(r, "192.0.2.1", 25, on_result, &first);
	dns_resolve_host(r, "192.0.2.2", 25, on_result, &second);
	run_loop(base);
	CHECK(first.calls == 1 && second.calls == 0 && r == NULL, "free from a callback");

	CHECK(dns_resolver_new(base, (const char *[]){"ns.example"}, 1, 200, 1, &r, err,
			       sizeof(err)) == -1 &&
		  strstr(err, "ns.example"),
	      "a server must be an address: %s", err);
	event_base_free(base);
}

/* A server that refuses (nothing on the port): a temporary failure, never "not found". */
static void test_unreachable_server(void)
{
	struct event_base *base = event_base_new();
	struct dns_resolver *r;
	char err[256];
	const char *servers[] = {"127.0.0.1:9"};
	CHECK(dns_resolver_new(base, servers, 1, 200, 2, &r, err, sizeof(err)) == 0, "%s", err);
	struct seen mx = {0}, host = {0};
	dns_resolve_mx(r, "example.test", 25, on_result, &mx);
	dns_resolve_host(r, "mx.example.test", 25, on_result, &host);
	struct seen bad = {0};
	dns_resolve_mx(r, "bad..", 25, on_result, &bad);
	for (int i = 0; i < 50 && (mx.calls == 0 || host.calls == 0 || bad.calls == 0); i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(bad.calls == 1 && bad.status == DNS_NOTFOUND, "malformed name: permanent, %s %s",
	      dns_status_name(bad.status), bad.error);
	CHECK(mx.calls == 1 && mx.status == DNS_TEMPFAIL, "MX: %s %s", dns_status_name(mx.status),
	      mx.error);
	CHECK(host.calls == 1 && host.status == DNS_TEMPFAIL && host.implicit, "host: %s %s",
	      dns_status_name(host.status), host.error);
	dns_resolver_free(r);
	event_base_free(base);
}

/* A server that never answers (a bound, silent UDP socket): the timer ends the query. */
static void test_silent_server(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(sin);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		  getsockname(fd, (struct sockaddr *)&sin, &len) == 0,
	      "silent socket");
	char server[32], err[256];
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(sin.sin_port));
	const char *servers[] = {server};
	struct event_base *base = event_base_new();
	struct dns_resolver *r;
	CHECK(dns_resolver_new(base, servers, 1, 50, 2, &r, err, sizeof(err)) == 0, "%s", err);
	struct seen mx = {0};
	dns_resolve_mx(r, "example.test", 25, on_result, &mx);
	for (int i = 0; i < 50 && mx.calls == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(mx.calls == 1 && mx.status == DNS_TEMPFAIL && strstr(mx.error, "Timeout"),
	      "a timeout is temporary: %s %s", dns_status_name(mx.status), mx.error);
	dns_resolver_free(r);
	event_base_free(base);
	close(fd);
}

int main(void)
{
	test_mx_order();
	test_mx_shuffle_reaches_all();
	test_root();
	test_status();
	test_add_addr();
	test_literals();
	test_servers();
	test_loop_contract();
	test_unreachable_server();
	test_silent_server();
	return check_report("test_dns");
}
