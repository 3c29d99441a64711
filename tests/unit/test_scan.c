/* test_scan.c — the scanner's pure parts: CIDR expansion and its cap, the RFC 6890 reserved
 * ranges, the opt-out list, the port list. */
#include "check.h"
#include "scan/scan.h"

#include <stdlib.h>

static void addr_of(const char *s, uint8_t a[16])
{
	struct cidr c;
	if (cidr_parse(s, &c) < 0)
		memset(a, 0xee, 16);
	else
		memcpy(a, c.addr, 16);
}

static void test_expand(void)
{
	struct scan_addrs l = {0};
	struct cidr c;
	char err[160];
	uint8_t want[16];
	CHECK(cidr_parse("192.0.2.8/29", &c) == 0, "parse");
	CHECK(scan_cidr_expand(&c, &l, 100, err, sizeof(err)) == 0, "%s", err);
	CHECK(l.n == 8, "%zu hosts", l.n);
	addr_of("192.0.2.15", want);
	CHECK(l.n == 8 && !memcmp(l.a[7], want, 16), "last host");
	CHECK(scan_cidr_expand(&c, &l, 15, err, sizeof(err)) < 0, "cap");
	CHECK(strstr(err, "--max-hosts") != NULL, "%s", err);
	CHECK(l.n == 8, "nothing added past the cap");
	CHECK(cidr_parse("2001:db8::100/126", &c) == 0, "parse6");
	CHECK(scan_cidr_expand(&c, &l, 100, err, sizeof(err)) == 0, "%s", err);
	addr_of("2001:db8::103", want);
	CHECK(l.n == 12 && !memcmp(l.a[11], want, 16), "v6 last");
	CHECK(cidr_parse("2001:db8::/64", &c) == 0, "parse /64");
	CHECK(scan_cidr_expand(&c, &l, SIZE_MAX, err, sizeof(err)) < 0, "a /64 never expands");
	CHECK(scan_target_add(&l, "192.0.2.1/24", 100, err, sizeof(err)) < 0, "host bits set");
	CHECK(scan_target_add(&l, "a:b/x", 100, err, sizeof(err)) < 0, "garbage");
	CHECK(scan_target_add(&l, "198.51.100.7", 100, err, sizeof(err)) == 0, "%s", err);
	CHECK(l.n == 13, "one host");
	scan_addrs_free(&l);
}

static void test_reserved(void)
{
	static const struct {
		const char *ip, *net;
	} cases[] = {
	    {"127.0.1.3", "127.0.0.0/8"},
	    {"10.9.8.7", "10.0.0.0/8"},
	    {"100.64.0.1", "100.64.0.0/10"},
	    {"100.128.0.1", NULL},
	    {"172.31.255.255", "172.16.0.0/12"},
	    {"172.32.0.1", NULL},
	    {"192.168.1.1", "192.168.0.0/16"},
	    {"169.254.1.1", "169.254.0.0/16"},
	    {"224.0.0.1", "224.0.0.0/4"},
	    {"255.255.255.255", "240.0.0.0/4"},
	    {"0.1.2.3", "0.0.0.0/8"},
	    {"8.8.8.8", NULL},
	    {"::1", "::1/128"},
	    {"fe80::1", "fe80::/10"},
	    {"fd00::1", "fc00::/7"},
	    {"2001:db8:1::1", "2001:db8::/32"},
	    {"2a00:1450::1", NULL},
	    {"ff02::1", "ff00::/8"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16];
		addr_of(cases[i].ip, a);
		const char *got = scan_reserved(a);
		if (cases[i].net)
			CHECK_STR(got, cases[i].net, "%s", cases[i].ip);
		else
			CHECK(got == NULL, "%s: %s", cases[i].ip, got);
	}
}

static void test_optout(void)
{
	static const char text[] = "# opt-out\n\n192.0.2.0/24\n  198.51.100.7  # one host\r\n"
				   "2001:db8::/48\n";
	struct cidr *set = NULL;
	size_t n = 0;
	char err[160];
	uint8_t a[16];
	CHECK(scan_optout_parse(text, sizeof(text) - 1, &set, &n, err, sizeof(err)) == 0, "%s",
	      err);
	CHECK(n == 3, "%zu entries", n);
	addr_of("192.0.2.77", a);
	CHECK(cidr_set_contains(set, n, a), "in the /24");
	addr_of("198.51.100.8", a);
	CHECK(!cidr_set_contains(set, n, a), "next to the host");
	addr_of("2001:db8:0:1::1", a);
	CHECK(cidr_set_contains(set, n, a), "in the /48");
	static const char bad[] = "192.0.2.0/24\n192.0.2.1/24\n";
	CHECK(scan_optout_parse(bad, sizeof(bad) - 1, &set, &n, err, sizeof(err)) < 0, "bad");
	CHECK(strstr(err, "line 2") != NULL, "%s", err);
	free(set);
}

static void test_ports(void)
{
	uint16_t p[8];
	size_t n;
	CHECK(scan_ports_parse("25,587,465", p, 8, &n) == 0 && n == 3 && p[2] == 465, "three");
	CHECK(scan_ports_parse("2525", p, 8, &n) == 0 && n == 1 && p[0] == 2525, "one");
	CHECK(scan_ports_parse("25,,587", p, 8, &n) < 0, "empty item");
	CHECK(scan_ports_parse("0", p, 8, &n) < 0, "zero");
	CHECK(scan_ports_parse("65536", p, 8, &n) < 0, "too big");
	CHECK(scan_ports_parse("1,2,3", p, 2, &n) < 0, "too many");
	CHECK(scan_ports_parse("", p, 8, &n) < 0, "none");
}

/* The store's parts for the scanner: the last scan of a host and the delisting rate limit. */
static void test_store(void)
{
	char dir[] = "/tmp/rg-scan-XXXXXX", path[256], err[256] = "";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/bl.db", dir);
	struct blocklist *b = NULL;
	CHECK(blocklist_open(path, &b, err, sizeof(err)) == 0, "open: %s", err);
	if (!b)
		return;
	struct cidr host;
	uint8_t a[16], other[16];
	int64_t when = -1, next = -1;
	cidr_parse("192.0.2.1", &host);
	addr_of("192.0.2.1", a);
	addr_of("192.0.2.2", other);
	CHECK(blocklist_last_scan(b, a, &when) == 0 && when == 0, "never: %lld", (long long)when);
	CHECK(blocklist_list(b, &host, 2, "open relay", NULL, "scan", "open", 1000, err,
			     sizeof(err)) == 0,
	      "list: %s", err);
	CHECK(blocklist_last_scan(b, a, &when) == 0 && when == 1000, "listed: %lld",
	      (long long)when);
	CHECK(blocklist_record_clean(b, a, "s", 1500, err, sizeof(err)) == 0, "clean");
	CHECK(blocklist_last_scan(b, a, &when) == 0 && when == 1500, "clean: %lld",
	      (long long)when);
	CHECK(blocklist_delist_request(b, a, "cli", 2000, 3600, &next, err, sizeof(err)) == 0,
	      "first request: %s", err);
	CHECK(blocklist_delist_request(b, a, "198.51.100.9", 2100, 3600, &next, err, sizeof(err)) ==
		      1 &&
		  next == 5600,
	      "second within the hour: next %lld", (long long)next);
	CHECK(blocklist_delist_request(b, other, "cli", 2100, 3600, &next, err, sizeof(err)) == 0,
	      "per IP");
	CHECK(blocklist_delist_request(b, a, "cli", 5600, 3600, &next, err, sizeof(err)) == 0,
	      "an hour later");
	CHECK(blocklist_delist_request(b, a, "cli", 5600, 0, &next, err, sizeof(err)) == 0,
	      "interval 0: no limit");
	blocklist_close(b);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_store();
	test_expand();
	test_reserved();
	test_optout();
	test_ports();
	return check_report("test_scan");
}
