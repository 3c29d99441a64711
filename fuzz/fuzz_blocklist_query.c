/* fuzz_blocklist_query.c — the DNSBL query handler and its codec (src/blocklist/wire.c), bytes
 * in → bytes out, on hostile packets (truncated, compression loops, huge counts, any flags): it
 * never crashes, never writes past its buffer, answers only queries (QR clear), echoes the ID,
 * keeps UDP answers within the EDNS maximum (and within a small caller buffer), echoes the
 * question of an answered query byte for byte; the slip form (TC) of an answer is no longer
 * than it; the same bytes as a reversed name must parse or fail cleanly. */
#include "fuzz.h"
#include "blocklist/blocklist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static const struct blocklist_zone *fuzz_zone(void)
{
	static struct blocklist_zone z = {"bl.example.test",
					  "ns.example.test",
					  "hostmaster.bl.example.test",
					  "https://x.test/?ip=",
					  300,
					  1};
	if (z.wire.apex_len == 0)
		REQUIRE(blocklist_zone_prepare(&z) == 0);
	return &z;
}

FUZZ_CHECKER static struct blocklist_index *fuzz_index(void)
{
	static struct blocklist_index *x; /* built once per process: read-only afterwards */
	static const char *nets[] = {"192.0.2.1", "198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8"};
	if (x)
		return x;
	x = blocklist_index_new();
	REQUIRE(x != NULL);
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		struct cidr c;
		REQUIRE(cidr_parse(nets[i], &c) == 0);
		REQUIRE(blocklist_index_add(x, &c, 2 + (unsigned)i, "fuzz entry") == 0);
	}
	REQUIRE(blocklist_index_finish(x) == 0);
	return x;
}

/* An answered query (rcode NOERROR/NXDOMAIN/REFUSED) starts with the question it was asked. */
FUZZ_CHECKER static void check_echo(const uint8_t *data, size_t size, const uint8_t *out, size_t n)
{
	unsigned rcode = out[3] & 0x0f;
	if (out[5] != 1 || (rcode != 0 && rcode != 3 && rcode != 5))
		return;
	size_t q = 12;
	while (q < size && data[q] != 0)
		q += 1 + (size_t)data[q];
	q += 1 + 4;
	REQUIRE(q <= size && q <= n && memcmp(out + 12, data + 12, q - 12) == 0);
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[BLOCKLIST_MSG_MAX];
	const struct blocklist_index *x = fuzz_index();
	const struct blocklist_zone *z = fuzz_zone();
	for (int tcp = 0; tcp < 3; tcp++) { /* 2: UDP into a buffer too small for most answers */
		size_t cap = tcp == 2 ? 40 : sizeof(out);
		size_t n = blocklist_query_answer(z, x, data, size, out, cap, tcp == 1);
		if (n == 0)
			continue;
		REQUIRE(size >= 12 && !(data[2] & 0x80));
		REQUIRE(n >= 12 && n <= cap);
		REQUIRE(out[0] == data[0] && out[1] == data[1] && (out[2] & 0x80));
		if (tcp != 1)
			REQUIRE(n <= BLOCKLIST_EDNS_MAX);
		check_echo(data, size, out, n);
		size_t t = blocklist_answer_truncate(out, n);
		REQUIRE(t <= n && (t == 0 || (out[2] & 0x02)));
	}
	char name[300];
	size_t len = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, len);
	name[len] = '\0';
	uint8_t addr[16];
	if (blocklist_name_parse(name, addr) == 0) {
		char back[80];
		uint8_t again[16];
		blocklist_name_format(addr, back, sizeof(back));
		REQUIRE(blocklist_name_parse(back, again) == 0 && memcmp(addr, again, 16) == 0);
	}
	return 0;
}
