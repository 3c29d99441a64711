/* fuzz_scan_targets.c — the scanner's input parsers on any bytes: the opt-out list (every entry
 * it keeps formats and parses back to itself), the port list (ports 1..65535, at most the cap)
 * and CIDR expansion under a small cap (never more hosts than the cap, all inside the prefix).
 * Host names are not tried: they would resolve. */
#include "fuzz.h"
#include "scan/scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_optout(const char *text, size_t len)
{
	struct cidr *set = NULL;
	size_t n = 0;
	char err[160];
	scan_optout_parse(text, len, &set, &n, err, sizeof(err));
	for (size_t i = 0; i < n; i++) {
		char buf[BLOCKLIST_NET_MAX];
		struct cidr back;
		cidr_format(&set[i], buf, sizeof(buf));
		REQUIRE(cidr_parse(buf, &back) == 0);
		REQUIRE(back.prefix == set[i].prefix && !memcmp(back.addr, set[i].addr, 16));
	}
	free(set);
}

FUZZ_CHECKER static void check_ports(const char *s)
{
	uint16_t p[4];
	size_t n = 99;
	if (scan_ports_parse(s, p, 4, &n) == 0) {
		REQUIRE(n >= 1 && n <= 4);
		for (size_t i = 0; i < n; i++)
			REQUIRE(p[i] >= 1);
	}
}

FUZZ_CHECKER static void check_expand(const char *s)
{
	struct cidr c;
	struct scan_addrs l = {0};
	char err[160];
	if (cidr_parse(s, &c) < 0)
		return;
	if (scan_cidr_expand(&c, &l, 256, err, sizeof(err)) == 0) {
		REQUIRE(l.n >= 1 && l.n <= 256);
		for (size_t i = 0; i < l.n; i++)
			REQUIRE(cidr_contains(&c, l.a[i]));
	} else
		REQUIRE(l.n == 0);
	scan_addrs_free(&l);
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_optout(s, size);
	if (size < 128) {
		check_ports(s);
		check_expand(s);
	}
	free(s);
	return 0;
}
