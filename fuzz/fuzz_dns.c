/* fuzz_dns.c — the resolver's pure parts on hostile input: IP literals and server addresses
 * (from configs and domains), and MX sets as a hostile DNS server may send them (any names, any
 * preferences, many records): ordering must drop root exchanges, keep preference order, keep
 * at most the cap, and only ever reorder (never invent or lose a record below the cap). */
#include "fuzz.h"
#include "dns/mx.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bytes {
	const uint8_t *p;
	size_t n, i;
};

FUZZ_CHECKER static uint32_t from_input(void *ctx, uint32_t bound)
{
	struct bytes *b = ctx;
	uint32_t v = b->n ? b->p[b->i++ % b->n] : 0;
	return v % bound;
}

FUZZ_CHECKER static void check_literals(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (dns_parse_ip_literal(s, 25, &ss, &len) == 0) {
		REQUIRE(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
		REQUIRE(len == (ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							: sizeof(struct sockaddr_in6)));
		REQUIRE(ntohs(((struct sockaddr_in *)&ss)->sin_port) == 25);
	}
	struct dns_server srv;
	if (dns_parse_server(s, &srv) == 0)
		REQUIRE((srv.family == AF_INET || srv.family == AF_INET6) && srv.port > 0);
}

/* Lines "PREF NAME": one MX record each (at most 64). */
FUZZ_CHECKER static void check_mx(char *text, const uint8_t *data, size_t size)
{
	struct dns_mx_rr rrs[64], orig[64];
	size_t n = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < 64;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		rrs[n].pref = (unsigned)strtoul(line, NULL, 10) & 0xffff;
		rrs[n++].name = sp ? sp + 1 : "";
	}
	memcpy(orig, rrs, sizeof(rrs));
	size_t roots = 0;
	for (size_t i = 0; i < n; i++)
		roots += dns_mx_is_root(orig[i].name);
	struct bytes b = {data, size, 0};
	size_t kept = dns_mx_order(rrs, n, DNS_MAX_HOSTS, from_input, &b);
	size_t want = n - roots < DNS_MAX_HOSTS ? n - roots : DNS_MAX_HOSTS;
	REQUIRE(kept == want);
	for (size_t i = 0; i < kept; i++) {
		REQUIRE(!dns_mx_is_root(rrs[i].name));
		REQUIRE(i == 0 || rrs[i - 1].pref <= rrs[i].pref);
		size_t same_in = 0, same_out = 0;
		for (size_t j = 0; j < n; j++)
			same_in += orig[j].name == rrs[i].name && orig[j].pref == rrs[i].pref;
		for (size_t j = 0; j < kept; j++)
			same_out += rrs[j].name == rrs[i].name && rrs[j].pref == rrs[i].pref;
		REQUIRE(same_out <= same_in);
	}
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_literals(s);
	check_mx(s, data, size);
	free(s);
	return 0;
}
