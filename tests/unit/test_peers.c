/* test_peers.c — the per-client session counts of limit max-sessions-per-ip: counting up and
 * down, IPv6 counted per /64, IPv4 per address, entries forgotten at 0, growth past the first
 * buckets. */
#include "smtp/peers.h"
#include "check.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void addr_of(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET6, text, out) == 1)
		return;
	struct in_addr a;
	inet_pton(AF_INET, text, &a);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a, 4);
}

static void test_counts(void)
{
	static const struct {
		const char *a, *b;
		int same; /* counted as one client */
	} cases[] = {
	    {"127.0.0.2", "127.0.0.2", 1},
	    {"127.0.0.2", "127.0.0.3", 0},	       /* IPv4: per address */
	    {"2001:db8::1", "2001:db8::ffff:1", 1},    /* IPv6: per /64 */
	    {"2001:db8:0:1::1", "2001:db8:0:2::1", 0}, /* another /64 */
	    {"::ffff:10.0.0.1", "10.0.0.1", 1},	       /* mapped = IPv4 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_peers *p = smtp_peers_new();
		uint8_t a[16], b[16];
		addr_of(cases[i].a, a);
		addr_of(cases[i].b, b);
		CHECK(smtp_peers_add(p, a) == 1, "case %zu first", i);
		CHECK(smtp_peers_add(p, b) == (cases[i].same ? 2u : 1u), "case %zu second", i);
		CHECK(smtp_peers_clients(p) == (cases[i].same ? 1u : 2u), "case %zu clients", i);
		smtp_peers_remove(p, a);
		CHECK(smtp_peers_count(p, b) == 1, "case %zu after remove", i);
		smtp_peers_remove(p, b);
		CHECK(smtp_peers_clients(p) == 0, "case %zu all gone", i);
		smtp_peers_remove(p, b); /* an extra remove is harmless */
		CHECK(smtp_peers_count(p, a) == 0, "case %zu zero", i);
		smtp_peers_free(p);
	}
}

static void test_many_clients(void)
{
	struct smtp_peers *p = smtp_peers_new();
	uint8_t a[16];
	char ip[32];
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 5000; i++) {
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
			addr_of(ip, a);
			smtp_peers_add(p, a);
		}
	CHECK(smtp_peers_clients(p) == 5000, "%zu clients", smtp_peers_clients(p));
	addr_of("10.0.19.135", a); /* i = 4999 */
	CHECK(smtp_peers_count(p, a) == 3, "count %u", smtp_peers_count(p, a));
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 5000; i++) {
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
			addr_of(ip, a);
			smtp_peers_remove(p, a);
		}
	CHECK(smtp_peers_clients(p) == 0, "%zu left", smtp_peers_clients(p));
	smtp_peers_free(p);
	smtp_peers_free(NULL);
}

int main(void)
{
	test_counts();
	test_many_clients();
	return check_report("test_peers");
}
