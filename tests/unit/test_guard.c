/* test_guard.c — the failed-AUTH guard with a fake clock: the per-IP window, the block and its
 * end, IPv6 counted per /64, success resetting the count, and the bounded table's eviction. */
#include "auth/guard.h"
#include "check.h"

#include <arpa/inet.h>
#include <stdint.h>
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

static const struct auth_guard_limits LIM = {.ip_failures = 3, .block_time = 60};

static void test_block_and_expiry(void)
{
	struct auth_guard g;
	uint8_t a[16], b[16];
	time_t until = 0;
	addr_of("127.0.0.2", a);
	addr_of("127.0.0.3", b);
	CHECK(auth_guard_memory_new(&g, 16) == 0, "new");
	CHECK(auth_guard_failed(&g, &LIM, a, 1000) == AUTH_GUARD_OK, "1st failure");
	CHECK(auth_guard_failed(&g, &LIM, a, 1001) == AUTH_GUARD_OK, "2nd failure");
	CHECK(auth_guard_blocked(&g, a, 1001, NULL) == AUTH_GUARD_OK, "not yet blocked");
	CHECK(auth_guard_failed(&g, &LIM, a, 1002) == AUTH_GUARD_NEW_BLOCK, "3rd blocks");
	CHECK(auth_guard_blocked(&g, a, 1002, &until) == AUTH_GUARD_BLOCKED, "blocked");
	CHECK(until == 1062, "until %ld", (long)until);
	CHECK(auth_guard_failed(&g, &LIM, a, 1003) == AUTH_GUARD_BLOCKED, "no second NEW_BLOCK");
	CHECK(auth_guard_blocked(&g, b, 1003, NULL) == AUTH_GUARD_OK, "other address free");
	CHECK(auth_guard_blocked(&g, a, 1061, NULL) == AUTH_GUARD_BLOCKED, "still blocked");
	CHECK(auth_guard_blocked(&g, a, 1062, NULL) == AUTH_GUARD_OK, "block over");
	CHECK(auth_guard_failed(&g, &LIM, a, 1062) == AUTH_GUARD_OK, "count starts again");
	auth_guard_free(&g);
}

static void test_window(void)
{
	struct auth_guard g;
	uint8_t a[16];
	addr_of("192.0.2.7", a);
	CHECK(auth_guard_memory_new(&g, 4) == 0, "new");
	/* failures spread wider than the window never block */
	for (time_t t = 0; t < 600; t += 30)
		CHECK(auth_guard_failed(&g, &LIM, a, t) == AUTH_GUARD_OK, "t=%ld", (long)t);
	CHECK(auth_guard_failed(&g, &LIM, a, 1000) == AUTH_GUARD_OK, "window restarts");
	CHECK(auth_guard_failed(&g, &LIM, a, 1059) == AUTH_GUARD_OK, "2 in window");
	CHECK(auth_guard_failed(&g, &LIM, a, 1060) == AUTH_GUARD_OK, "window moved on at 1060");
	auth_guard_free(&g);
}

static void test_success_and_ipv6(void)
{
	struct auth_guard g;
	uint8_t a[16], same64[16], other64[16];
	addr_of("2001:db8:1:2::1", a);
	addr_of("2001:db8:1:2:ffff::9", same64);
	addr_of("2001:db8:1:3::1", other64);
	CHECK(auth_guard_memory_new(&g, 8) == 0, "new");
	auth_guard_failed(&g, &LIM, a, 10);
	auth_guard_failed(&g, &LIM, a, 11);
	auth_guard_succeeded(&g, a, 12);
	CHECK(auth_guard_failed(&g, &LIM, a, 13) == AUTH_GUARD_OK, "success reset the count");
	CHECK(auth_guard_failed(&g, &LIM, same64, 14) == AUTH_GUARD_OK, "same /64 counts");
	CHECK(auth_guard_failed(&g, &LIM, other64, 15) == AUTH_GUARD_OK, "other /64 apart");
	CHECK(auth_guard_failed(&g, &LIM, same64, 16) == AUTH_GUARD_NEW_BLOCK, "/64 blocked");
	CHECK(auth_guard_blocked(&g, a, 17, NULL) == AUTH_GUARD_BLOCKED, "whole /64 blocked");
	CHECK(auth_guard_blocked(&g, other64, 17, NULL) == AUTH_GUARD_OK, "neighbour /64 free");
	auth_guard_free(&g);
}

static void test_eviction(void)
{
	struct auth_guard g;
	uint8_t a[16], x[16];
	char ip[32];
	addr_of("198.51.100.1", a);
	CHECK(auth_guard_memory_new(&g, 4) == 0, "new");
	for (int i = 0; i < 3; i++)
		auth_guard_failed(&g, &LIM, a, 100 + i);
	CHECK(auth_guard_blocked(&g, a, 110, NULL) == AUTH_GUARD_BLOCKED, "blocked");
	/* many other addresses fill the table: the block in force survives them */
	for (int i = 0; i < 50; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i);
		addr_of(ip, x);
		auth_guard_failed(&g, &LIM, x, 120 + i / 10);
	}
	CHECK(auth_guard_blocked(&g, a, 130, NULL) == AUTH_GUARD_BLOCKED, "block kept");
	/* capacity 0 counts nothing and blocks nothing */
	struct auth_guard z;
	CHECK(auth_guard_memory_new(&z, 0) == 0, "new 0");
	for (int i = 0; i < 5; i++)
		CHECK(auth_guard_failed(&z, &LIM, a, 1) == AUTH_GUARD_OK, "cap 0");
	auth_guard_free(&z);
	auth_guard_free(&g);
}

int main(void)
{
	test_block_and_expiry();
	test_window();
	test_success_and_ipv6();
	test_eviction();
	return check_report("test_guard");
}
