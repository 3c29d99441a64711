/* test_util.c — sizes, durations, CIDR sets, domain normalisation, log quoting. */
#include "util/util.h"
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_sizes(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} cases[] = {
	    {"10", 0, 10},	 {"10K", 0, 10240}, {"64m", 0, 64u << 20},
	    {"1G", 0, 1u << 30}, {"", -1, 0},	    {"K", -1, 0},
	    {"10KB", -1, 0},	 {"-1", -1, 0},	    {"99999999999999999999", -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;
		int rc = util_parse_size(cases[i].in, &v);
		CHECK(rc == cases[i].rc && (rc || v == cases[i].want), "size %s", cases[i].in);
	}
	uint64_t v;
	CHECK(util_parse_duration("5m", &v) == 0 && v == 300, "5m");
	CHECK(util_parse_duration("2h", &v) == 0 && v == 7200, "2h");
	CHECK(util_parse_duration("30", &v) == 0 && v == 30, "30");
	CHECK(util_parse_duration("3w", &v) == -1, "3w");
}

static void test_cidr(void)
{
	static const struct {
		const char *net, *addr;
		int in;
	} cases[] = {
	    {"127.0.0.0/8", "127.0.0.2", 1},
	    {"127.0.0.1", "127.0.0.2", 0},
	    {"127.0.0.1", "127.0.0.1", 1},
	    {"10.0.0.0/8", "11.0.0.1", 0},
	    {"0.0.0.0/0", "203.0.113.9", 1},
	    {"::1", "::1", 1},
	    {"2001:db8::/32", "2001:db8:1::5", 1},
	    {"2001:db8::/32", "2001:db9::5", 0},
	    {"192.0.2.128/25", "192.0.2.200", 1},
	    {"192.0.2.128/25", "192.0.2.100", 0},
	    {"::/0", "127.0.0.1", 1}, /* IPv4 lives in the mapped space */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr c, a;
		CHECK(cidr_parse(cases[i].net, &c) == 0, "parse %s", cases[i].net);
		CHECK(cidr_parse(cases[i].addr, &a) == 0, "parse %s", cases[i].addr);
		CHECK(cidr_contains(&c, a.addr) == cases[i].in, "%s in %s", cases[i].addr,
		      cases[i].net);
	}
	static const char *const bad[] = {"",		"/8",	       "10.0.0.0/33",
					  "10.0.0.1/8", "::1/129",     "1.2.3",
					  "10.0.0.0/",	"10.0.0.0/8x", "a::b::c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cidr c;
		CHECK(cidr_parse(bad[i], &c) == -1, "bad cidr %s", bad[i]);
	}
	struct cidr c;
	char buf[64];
	cidr_parse("192.0.2.0/24", &c);
	cidr_format(&c, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.0/24", "format v4");
	cidr_parse("2001:db8::/32", &c);
	cidr_format(&c, buf, sizeof(buf));
	CHECK_STR(buf, "2001:db8::/32", "format v6");
}

static void test_domains(void)
{
	static const struct {
		const char *in, *want; /* want NULL = invalid */
	} cases[] = {
	    {"LocalHost", "localhost"},
	    {"example.test.", "example.test"},
	    {"b\xc3\xbc"
	     "cher.example",
	     "xn--bcher-kva.example"},
	    {"B\xc3\x9c"
	     "CHER.example",
	     "xn--bcher-kva.example"},
	    {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
	    {"", NULL},
	    {".", NULL},
	    {"a..b", NULL},
	    {"-a.b", NULL},
	    {"a-.b", NULL},
	    {"a_b.example", NULL},
	    {"a b", NULL},
	    {"example.test..", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		int rc = util_domain_normalise(cases[i].in, out, sizeof(out));
		if (cases[i].want)
			CHECK(rc == 0 && strcmp(out, cases[i].want) == 0, "%s -> %s", cases[i].in,
			      rc ? "(error)" : out);
		else
			CHECK(rc == -1, "%s must be invalid", cases[i].in);
	}
}

static void test_log_quote(void)
{
	char buf[64];
	CHECK_STR(log_quote("abc", 3, buf, sizeof(buf)), "abc", "plain");
	CHECK_STR(log_quote("a b", 3, buf, sizeof(buf)), "\"a b\"", "space");
	CHECK_STR(log_quote("a\r\n", 3, buf, sizeof(buf)), "a\\x0d\\x0a", "controls");
	CHECK_STR(log_quote("", 0, buf, sizeof(buf)), "\"\"", "empty");
	CHECK_STR(log_quote_path("a@b.example", buf, sizeof(buf)), "<a@b.example>", "path");
	CHECK_STR(log_quote_path("\"x rule=y\"@b", buf, sizeof(buf)), "\"<\\x22x rule=y\\x22@b>\"",
		  "a forged field stays inside one quoted value");
}

/* RFC 3461 4: xtext. */
static void test_xtext(void)
{
	static const struct {
		const char *why, *in;
		long len;	 /* decoded length, -1 when invalid */
		const char *out; /* decoded */
	} dec[] = {
	    {"plain", "abc@example.org", 15, "abc@example.org"},
	    {"empty", "", 0, ""},
	    {"'+' as hexchar", "a+2Bb", 3, "a+b"},
	    {"'=' as hexchar", "+3D", 1, "="},
	    {"8-bit byte passes", "j+C3+B6rg", 5, "j\xc3\xb6rg"},
	    {"lower-case hex is not xtext", "a+2bb", -1, NULL},
	    {"bare '+'", "a+", -1, NULL},
	    {"'+' with one digit", "a+2", -1, NULL},
	    {"'+' with non-hex", "+GG", -1, NULL},
	    {"raw '='", "a=b", -1, NULL},
	    {"raw space", "a b", -1, NULL},
	    {"raw 8-bit", "\xc3\xb6", -1, NULL},
	    {"decodes to CR", "a+0Db", -1, NULL},
	    {"decodes to NUL", "+00", -1, NULL},
	    {"decodes to DEL", "+7F", -1, NULL},
	    {"decodes to TAB", "+09", -1, NULL},
	    {"decoded space is printable", "a+20b", 3, "a b"},
	};
	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		char out[64];
		long n = util_xtext_decode(dec[i].in, strlen(dec[i].in), out, sizeof(out));
		CHECK(n == dec[i].len, "decode %s: %ld", dec[i].why, n);
		if (n >= 0 && dec[i].out)
			CHECK_STR(out, dec[i].out, "decode %s", dec[i].why);
	}
	CHECK(util_xtext_valid("a+2Bb", 5) && !util_xtext_valid("a+2bb", 5) &&
		  util_xtext_valid("+0D", 3) && !util_xtext_valid("a b", 3),
	      "valid: syntax only (a control character is well-formed xtext)");
	char small[4];
	CHECK(util_xtext_decode("abcd", 4, small, sizeof(small)) == -1, "decode: no room");
	CHECK(util_xtext_decode("abc", 3, small, sizeof(small)) == 3, "decode: just fits");

	char out[64];
	CHECK(util_xtext_encode("a+b=c d\r\xc3\xb6~!", 12, out, sizeof(out)) == 24 &&
		  !strcmp(out, "a+2Bb+3Dc+20d+0D+C3+B6~!"),
	      "encode: %s", out);
	CHECK(util_xtext_encode("a+b", 3, out, 4) == 5 && !strcmp(out, "a"),
	      "encode: cut at a whole unit, full length returned: %s", out);
	/* round trip over every printable byte */
	char all[95], enc[300], back[100];
	for (int c = 0x20; c < 0x7f; c++)
		all[c - 0x20] = (char)c;
	size_t n = util_xtext_encode(all, sizeof(all), enc, sizeof(enc));
	CHECK(n < sizeof(enc) && util_xtext_valid(enc, n), "encoding is xtext");
	CHECK(util_xtext_decode(enc, n, back, sizeof(back)) == (long)sizeof(all) &&
		  !memcmp(back, all, sizeof(all)),
	      "round trip");
}

/* RFC 8259 7: what must be escaped, UTF-8 kept, invalid bytes as U+FFFD, and the bound. */
static void test_json_escape(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
	    {"plain", "plain"},
	    {"a\"b\\c", "a\\\"b\\\\c"},
	    {"l1\r\nl2\t", "l1\\r\\nl2\\t"},
	    {"\x01\x1f\x7f", "\\u0001\\u001f\\u007f"},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7",
	     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"},
	    {"bad\xff", "bad\\ufffd"},
	    {"\xc0\xaf", "\\ufffd\\ufffd"},	       /* overlong '/' */
	    {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"}, /* a surrogate */
	    {"\xe2\x82", "\\ufffd\\ufffd"},	       /* truncated */
	    {"</script>", "</script>"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[128];
		size_t used,
		    n = util_json_escape(cases[i].in, strlen(cases[i].in), out, sizeof(out), &used);
		CHECK_STR(out, cases[i].want, "json %zu", i);
		CHECK(n == strlen(cases[i].want) && used == strlen(cases[i].in), "json %zu", i);
	}
	/* bounded: an escape or a character is never cut; the rest is left for the next call */
	char small[4];
	size_t used, n = util_json_escape("ab\"", 3, small, sizeof(small), &used);
	CHECK(n == 2 && used == 2 && strcmp(small, "ab") == 0, "json bound before an escape");
	n = util_json_escape("a\xe2\x82\xac", 4, small, sizeof(small), &used);
	CHECK(n == 1 && used == 1 && strcmp(small, "a") == 0, "json bound before a character");
	n = util_json_escape("x", 1, small, 0, &used);
	CHECK(n == 0 && used == 0, "json outlen 0");
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* util_mkdirs: missing levels 0755 (a service user can search them), the leaf its own mode. */
static void test_mkdirs(void)
{
	char base[] = "/tmp/rg-mkdirs-XXXXXX", leaf[128], mid[128];
	CHECK(mkdtemp(base) != NULL, "mkdirs");
	snprintf(mid, sizeof(mid), "%s/a/b", base);
	snprintf(leaf, sizeof(leaf), "%s/a/b/c", base);
	mode_t old = umask(0);
	CHECK(util_mkdirs(leaf, 0700) == 0, "mkdirs");
	CHECK(mode_of(leaf) == 0700, "mkdirs");
	CHECK(mode_of(mid) == 0755, "mkdirs");
	CHECK(util_mkdirs(leaf, 0700) == 0, "mkdirs"); /* exists: fine */
	char file[160];
	snprintf(file, sizeof(file), "%s/f", base);
	FILE *f = fopen(file, "w");
	CHECK(f != NULL, "mkdirs");
	if (f)
		fclose(f);
	snprintf(leaf, sizeof(leaf), "%s/f/x", base);
	CHECK(util_mkdirs(leaf, 0700) == -1 && errno == ENOTDIR, "mkdirs");
	CHECK(util_mkdirs("", 0700) == -1, "mkdirs");
	umask(old);
	unlink(file);
	snprintf(leaf, sizeof(leaf), "%s/a/b/c", base);
	rmdir(leaf), rmdir(mid);
	snprintf(mid, sizeof(mid), "%s/a", base);
	rmdir(mid), rmdir(base);
}

int main(void)
{
	test_sizes();
	test_cidr();
	test_domains();
	test_log_quote();
	test_xtext();
	test_json_escape();
	test_mkdirs();
	return check_report("test_util");
}
