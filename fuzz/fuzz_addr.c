/* fuzz_addr.c — libFuzzer target for addr_parse_path and addr_format: every input is parsed with
 * and without SMTPUTF8, and the promises of addr.h are checked as invariants, so that a hostile
 * path can neither crash the parser nor reach the policy in a shape it does not expect. */
#include "fuzz.h"
#include "addr/addr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static int has_byte_in(const char *s, const char *set)
{
	return strpbrk(s, set) != NULL;
}

FUZZ_CHECKER static int has_8bit_or_ctl(const char *s, int *eight)
{
	int ctl = 0;
	*eight = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80)
			*eight = 1;
		if (*p < 0x20 || *p == 0x7f)
			ctl = 1;
	}
	return ctl;
}

/* Field by field: struct padding is not guaranteed to be copied. */
FUZZ_CHECKER static int same_path(const struct addr_path *a, const struct addr_path *b)
{
	return a->null == b->null && a->unqualified == b->unqualified && a->quoted == b->quoted &&
	       a->routing == b->routing && a->source_route == b->source_route &&
	       a->trailing_dot == b->trailing_dot && a->utf8 == b->utf8 &&
	       a->literal == b->literal &&
	       memcmp(a->literal_addr, b->literal_addr, sizeof(a->literal_addr)) == 0 &&
	       strcmp(a->local, b->local) == 0 && strcmp(a->domain, b->domain) == 0;
}

/* The domain the policy compares: lower-case LDH name, or a bracketed literal. */
FUZZ_CHECKER static void check_domain(const struct addr_path *a)
{
	size_t n = strlen(a->domain);
	REQUIRE(n <= ADDR_DOMAIN_MAX);
	if (a->literal) {
		REQUIRE(n >= 3 && a->domain[0] == '[' && a->domain[n - 1] == ']');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = a->domain[i];
		REQUIRE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
	}
	REQUIRE(n == 0 || (a->domain[0] != '.' && a->domain[n - 1] != '.'));
}

FUZZ_CHECKER static void check_ok(const struct addr_path *a, const uint8_t *data, size_t used,
				  int smtputf8)
{
	int eight;
	REQUIRE(used >= 2 && used <= ADDR_PATH_MAX);
	REQUIRE(data[0] == '<' && data[used - 1] == '>');
	REQUIRE(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	REQUIRE(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	REQUIRE(strlen(a->local) <= ADDR_LOCAL_MAX); /* unquoted is never longer than received */
	REQUIRE(!has_8bit_or_ctl(a->local, &eight));
	REQUIRE(!eight || (smtputf8 && a->utf8));
	REQUIRE(a->routing == has_byte_in(a->local, "%!@"));
	check_domain(a);
	if (a->null) {
		REQUIRE(!a->local[0] && !a->domain[0] && !a->unqualified && !a->quoted);
		REQUIRE(!a->source_route && !a->literal && !a->utf8);
	} else if (a->unqualified) {
		REQUIRE(a->local[0] && !a->domain[0] && !a->literal && !a->source_route);
	} else {
		REQUIRE(a->local[0] && a->domain[0]);
	}
	REQUIRE(smtputf8 || !a->utf8);
}

/* Formatting never overruns (exact-size heap buffer), and what it writes parses back to the
 * same address — or is too long, as A-labels and canonical literals may be longer. */
FUZZ_CHECKER static void check_format(const struct addr_path *a, int smtputf8, size_t small)
{
	char buf[1024], path[1030];
	char *tiny = malloc(small);
	REQUIRE(tiny != NULL);
	addr_format(a, tiny, small);
	REQUIRE(small == 0 || memchr(tiny, '\0', small) != NULL);
	free(tiny);

	addr_format(a, buf, sizeof(buf));
	int n = snprintf(path, sizeof(path), "<%s>", buf);
	REQUIRE(n > 0 && (size_t)n < sizeof(path));
	struct addr_path b;
	size_t used;
	enum addr_status st = addr_parse_path(path, (size_t)n, smtputf8, &b, &used);
	REQUIRE(st == ADDR_OK || st == ADDR_ERR_TOO_LONG);
	if (st == ADDR_OK) {
		REQUIRE(used == (size_t)n && b.null == a->null && b.unqualified == a->unqualified);
		REQUIRE(strcmp(b.local, a->local) == 0 && strcmp(b.domain, a->domain) == 0);
		REQUIRE(b.literal == a->literal &&
			memcmp(b.literal_addr, a->literal_addr, sizeof(b.literal_addr)) == 0);
	}
}

/* Parsing exactly the consumed prefix gives the same answer: nothing after '>' was looked at. */
FUZZ_CHECKER static void check_prefix(const struct addr_path *a, const uint8_t *data, size_t used,
				      int smtputf8)
{
	struct addr_path b;
	size_t used2;
	REQUIRE(addr_parse_path((const char *)data, used, smtputf8, &b, &used2) == ADDR_OK);
	REQUIRE(used2 == used && same_path(a, &b));
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_path a[2];
	enum addr_status st[2];
	for (int u = 0; u < 2; u++) {
		size_t used = (size_t)-1;
		st[u] = addr_parse_path((const char *)data, size, u, &a[u], &used);
		REQUIRE(st[u] >= ADDR_OK && st[u] <= ADDR_ERR_DOMAIN);
		REQUIRE(addr_status_text(st[u]) != NULL);
		REQUIRE(used <= size);
		if (st[u] != ADDR_OK) {
			REQUIRE(used == 0 && !a[u].local[0] && !a[u].domain[0]);
			continue;
		}
		check_ok(&a[u], data, used, u);
		check_prefix(&a[u], data, used, u);
		check_format(&a[u], u, size % 64);
	}
	/* SMTPUTF8 only widens what is accepted; ASCII paths parse the same either way. */
	if (st[0] == ADDR_OK)
		REQUIRE(st[1] == ADDR_OK && same_path(&a[0], &a[1]));
	if (st[0] == ADDR_ERR_8BIT)
		REQUIRE(st[1] != ADDR_ERR_8BIT);
	else
		REQUIRE(st[1] == st[0]);
	return 0;
}
