/* test_web.c — the web page's pure parts: HTML escaping (OWASP's five characters, control
 * bytes, broken UTF-8), the ip= value, form fields, the CSRF token (expiry, tamper, another
 * secret), the JSON reader (the store's evidence and API bodies; RFC 8259 errors), and the
 * pages/JSON documents built from hostile store contents. */
#include "web/web.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *escaped(const char *s, size_t n)
{
	static char out[512];
	struct util_buf b = {0};
	web_html_escape(&b, s, n);
	snprintf(out, sizeof(out), "%s", b.p ? b.p : "");
	util_buf_free(&b);
	return out;
}

static void test_html_escape(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	    {S("plain text"), "plain text"},
	    {S("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;"},
	    {S("a & b"), "a &amp; b"},
	    {S("\"x\" 'y'"), "&quot;x&quot; &#39;y&#39;"}, /* safe inside either attribute quote */
	    {S("220 ok\r\n250 ok\n\tx"),
	     "220 ok\r\n250 ok\n\tx"}, /* a transcript keeps its lines */
	    {S("a\x01z\x1b[31m\x7f"),
	     "a\\x01z\\x1b[31m\\x7f"}, /* terminal escapes shown, not sent */
	    {S("nul\0byte"), "nul\\x00byte"},
	    {S("caf\xc3\xa9"), "caf\xc3\xa9"},		       /* UTF-8 kept */
	    {S("bad\xff\xc3"), "bad\xef\xbf\xbd\xef\xbf\xbd"}, /* not UTF-8: U+FFFD */
	    {S("\xc0\xbc"), "\xef\xbf\xbd\xef\xbf\xbd"},       /* overlong '<' is not '<' */
	    {S("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
	    {S("\xf5\x80\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* no lead byte */
	    {S(""), ""},
	};
	for (size_t i = 0; i < N(cases); i++)
		CHECK_STR(escaped(cases[i].in, cases[i].len), cases[i].out, "case %zu", i);
}

static void test_parse_ip(void)
{
	static const struct {
		const char *in, *canon; /* canon NULL: refused */
	} cases[] = {
	    {"192.0.2.1", "192.0.2.1"},
	    {"  192.0.2.1\t", "192.0.2.1"}, /* pasted with spaces */
	    {"2001:DB8:0::1", "2001:db8::1"},
	    {"::ffff:192.0.2.1", "192.0.2.1"}, /* the mapped form is the IPv4 address */
	    {"::1", "::1"},
	    {"", NULL},
	    {"   ", NULL},
	    {"192.0.2", NULL},
	    {"192.0.2.256", NULL},
	    {"192.0.2.1/32", NULL}, /* an address, not a network */
	    {"fe80::1%eth0", NULL},
	    {"example.org", NULL},
	    {"<script>", NULL},
	    {"1.2.3.4 5", NULL},
	    {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee:ffff:0000",
	     NULL}, /* longer than any address */
	};
	for (size_t i = 0; i < N(cases); i++) {
		uint8_t addr[16];
		char out[WEB_IP_MAX] = "";
		int rc = web_parse_ip(cases[i].in, addr, out);
		if (!cases[i].canon) {
			CHECK(rc == -1, "case %zu '%s'", i, cases[i].in);
			continue;
		}
		CHECK(rc == 0, "case %zu '%s'", i, cases[i].in);
		CHECK_STR(out, cases[i].canon, "case %zu", i);
	}
	uint8_t addr[16];
	char out[WEB_IP_MAX];
	CHECK(web_parse_ip(NULL, addr, out) == -1, "NULL");
	CHECK(web_parse_ip("192.0.2.1", addr, out) == 0 && addr[10] == 0xff && addr[15] == 1,
	      "mapped form");
}

static void test_form_get(void)
{
	static const struct {
		const char *body, *name;
		int rc;
		const char *value;
	} cases[] = {
	    {"ip=192.0.2.1&csrf=abc", "ip", 1, "192.0.2.1"},
	    {"ip=192.0.2.1&csrf=abc", "csrf", 1, "abc"},
	    {"ip=a%3Cb%3e", "ip", 1, "a<b>"},
	    {"ip=a+b", "ip", 1, "a b"},
	    {"xip=1&ip=2", "ip", 1, "2"}, /* names match whole */
	    {"ip=1&ip=2", "ip", 1, "1"},  /* the first one */
	    {"ip", "ip", 1, ""},
	    {"ip=", "ip", 1, ""},
	    {"csrf=x", "ip", 0, NULL},
	    {"", "ip", 0, NULL},
	    {"ip=%zz", "ip", -1, NULL},
	    {"ip=%4", "ip", -1, NULL},
	    {"ip=%00", "ip", -1, NULL}, /* a NUL would cut the value */
	    {"ip=0123456789012345678901234567890123456789", "ip", -1, NULL}, /* too long */
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[32] = "";
		int rc = web_form_get(cases[i].body, strlen(cases[i].body), cases[i].name, out,
				      sizeof(out));
		CHECK(rc == cases[i].rc, "case %zu: rc %d", i, rc);
		if (cases[i].value)
			CHECK_STR(out, cases[i].value, "case %zu", i);
	}
}

static void test_csrf(void)
{
	uint8_t secret[WEB_CSRF_SECRET_LEN], other[WEB_CSRF_SECRET_LEN];
	char tok[WEB_CSRF_TOKEN_MAX], bad[WEB_CSRF_TOKEN_MAX];
	memset(secret, 7, sizeof(secret));
	memset(other, 8, sizeof(other));
	const int64_t now = 1700000000;
	web_csrf_make(secret, now, tok);
	CHECK(strlen(tok) > 64 && strchr(tok, '.'), "shape %s", tok);
	CHECK(web_csrf_check(secret, now, tok) == 1, "fresh");
	CHECK(web_csrf_check(secret, now + WEB_CSRF_SLOT, tok) == 1, "next slot");
	CHECK(web_csrf_check(secret, now + 2 * WEB_CSRF_SLOT, tok) == 0, "expired");
	CHECK(web_csrf_check(secret, now - WEB_CSRF_SLOT, tok) == 0, "from the future");
	CHECK(web_csrf_check(other, now, tok) == 0, "another process's secret");
	snprintf(bad, sizeof(bad), "%s", tok);
	char *last = bad + strlen(bad) - 1;
	*last = *last == '0' ? '1' : '0';
	CHECK(web_csrf_check(secret, now, bad) == 0, "one hex digit changed");
	snprintf(bad, sizeof(bad), "%lld%s", (long long)(now / WEB_CSRF_SLOT + 1),
		 strchr(tok, '.'));
	CHECK(web_csrf_check(secret, now + WEB_CSRF_SLOT, bad) == 0, "slot changed, same MAC");
	tok[strlen(tok) - 1] = '\0';
	CHECK(web_csrf_check(secret, now, tok) == 0, "truncated");
	static const char *const junk[] = {
	    "", ".", "abc", "123", "123.", "-1.00", "99999999999999999999999.00"};
	for (size_t i = 0; i < N(junk); i++)
		CHECK(web_csrf_check(secret, now, junk[i]) == 0, "junk %zu", i);
	CHECK(web_csrf_check(secret, now, NULL) == 0, "missing");
}

static void test_evidence(void)
{
	static const char good[] =
	    "{\"tests\":[\"nmap-01\",\"percent-hack\"],\"depth\":2,"
	    "\"transcript\":\"220 hi\\r\\nRCPT TO:<a@b>\\r\\n\\u00e9\\ud83d\\ude00x\","
	    "\"time\":1700000000,\"scanner\":\"192.0.2.9\",\"future\":{\"x\":[1,2.5e3,null]}}";
	struct web_evidence ev;
	CHECK(web_evidence_parse(good, strlen(good), &ev) == 0, "good");
	CHECK(ev.n_tests == 2 && ev.n_tests_total == 2, "tests %zu", ev.n_tests);
	CHECK_STR(ev.tests[1], "percent-hack", "test name");
	CHECK(ev.depth == 2 && ev.time == 1700000000, "numbers");
	CHECK_STR(ev.transcript, "220 hi\r\nRCPT TO:<a@b>\r\n\xc3\xa9\xf0\x9f\x98\x80x",
		  "transcript decoded (surrogate pair)");
	CHECK_STR(ev.scanner, "192.0.2.9", "scanner");
	web_evidence_clear(&ev);

	char many[2048] = "{\"tests\":[";
	for (int i = 0; i < 70; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"t%d\"",
			 i ? "," : "", i);
	strcat(many, "]}");
	CHECK(web_evidence_parse(many, strlen(many), &ev) == 0 &&
		  ev.n_tests == WEB_EVIDENCE_TESTS_MAX && ev.n_tests_total == 70,
	      "kept %zu of %zu", ev.n_tests, ev.n_tests_total);
	web_evidence_clear(&ev);

	static const char *const bad[] = {
	    "",
	    "[]",
	    "{",
	    "{\"tests\":\"x\"}",	     /* wrong type */
	    "{\"depth\":-1}",		     /* negative */
	    "{\"depth\":1.5}",		     /* not an integer */
	    "{\"time\":\"now\"}",	     /* wrong type */
	    "{\"transcript\":\"a\nb\"}",     /* raw control character */
	    "{\"transcript\":\"\\x\"}",	     /* bad escape */
	    "{\"transcript\":\"\\u12\"}",    /* short \u */
	    "{\"transcript\":\"\\u0000\"}",  /* NUL */
	    "{\"transcript\":\"\\ud800x\"}", /* lone surrogate */
	    "{\"transcript\":\"\xff\"}",     /* not UTF-8 */
	    "{\"time\":1,\"time\":2}",	     /* repeated member */
	    "{\"a\":{\"b\":1,\"b\":2}}",     /* repeated member, nested */
	    "{\"a\":1}\n{}",		     /* two objects */
	    "{\"a\":1}x",		     /* trailing garbage */
	    "{\"a\":01}",		     /* leading zero */
	    "{\"a\":tru}",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{\"tests\":[\"a\",]}",
	    "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]}",
	};
	for (size_t i = 0; i < N(bad); i++) {
		CHECK(web_evidence_parse(bad[i], strlen(bad[i]), &ev) == -1, "bad %zu: %s", i,
		      bad[i]);
		web_evidence_clear(&ev);
	}
	CHECK(web_evidence_parse(" { } ", 5, &ev) == 0 && ev.n_tests == 0 && !ev.transcript,
	      "empty object");
	web_evidence_clear(&ev);
}

/* {"x":[[..]]} with arrays nested arrays, in out (256 bytes): its length. */
static size_t nested_json(char *out, int arrays)
{
	size_t n = (size_t)snprintf(out, 256, "{\"x\":");
	for (int i = 0; i < arrays; i++)
		out[n++] = '[';
	for (int i = 0; i < arrays; i++)
		out[n++] = ']';
	out[n++] = '}';
	out[n] = '\0';
	return n;
}

/* The bounds: nesting WEB_JSON_DEPTH_MAX (the top object included) and WEB_JSON_MAX bytes. */
static void test_json_limits(void)
{
	char nest[256];
	size_t n = nested_json(nest, WEB_JSON_DEPTH_MAX - 1);
	CHECK(web_json_is_object(nest, n) == 1, "nesting %d", WEB_JSON_DEPTH_MAX);
	n = nested_json(nest, WEB_JSON_DEPTH_MAX);
	CHECK(web_json_is_object(nest, n) == 0, "nesting %d + 1", WEB_JSON_DEPTH_MAX);

	char *big = malloc(WEB_JSON_MAX + 2);
	CHECK(big != NULL, "malloc");
	if (!big)
		return;
	memcpy(big, "{\"transcript\":\"", 15);
	memset(big + 15, 'a', WEB_JSON_MAX - 17);
	memcpy(big + WEB_JSON_MAX - 2, "\"}", 3);
	struct web_evidence ev;
	CHECK(web_evidence_parse(big, WEB_JSON_MAX, &ev) == 0 && ev.transcript &&
		  strlen(ev.transcript) == WEB_JSON_MAX - 17,
	      "WEB_JSON_MAX bytes");
	web_evidence_clear(&ev);
	memmove(big + 1, big, WEB_JSON_MAX + 1);
	big[0] = ' ';
	CHECK(web_evidence_parse(big, WEB_JSON_MAX + 1, &ev) == -1, "one byte more");
	web_evidence_clear(&ev);
	free(big);
}

static void test_json_get_string(void)
{
	static const struct {
		const char *json;
		int rc;
		const char *value;
	} cases[] = {
	    {"{\"ip\":\"192.0.2.1\"}", 1, "192.0.2.1"},
	    {" {\"other\":[1,{\"ip\":2}], \"ip\" : \"::1\" } ", 1, "::1"},
	    {"{\"x\":1}", 0, NULL},
	    {"{}", 0, NULL},
	    {"{\"ip\":1}", -1, NULL},
	    {"{\"ip\":null}", -1, NULL},
	    {"[\"ip\"]", -1, NULL},
	    {"ip=192.0.2.1", -1, NULL}, /* a form body is not JSON */
	    {"{\"ip\":\"0123456789012345678901234567890123456789\"}", -1, NULL},
	    {"{\"ip\":\"0123456789012345678901234567890\"}", 1, "0123456789012345678901234567890"},
	    {"{\"ip\":\"192.0.2.1\",\"ip\":\"192.0.2.2\"}", -1, NULL}, /* repeated */
	    {"{\"ip\":\"192.0.2.1\\u0000\"}", -1, NULL},
	    {"{\"ip\":\"192.0.2.1\"} {}", -1, NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char out[32] = "";
		int rc = web_json_get_string(cases[i].json, strlen(cases[i].json), "ip", out,
					     sizeof(out));
		CHECK(rc == cases[i].rc, "case %zu: rc %d", i, rc);
		if (cases[i].value)
			CHECK_STR(out, cases[i].value, "case %zu", i);
	}
}

/* A lookup as the store could hold it after a hostile scan: every shown string is hostile. */
static void hostile_lookup(struct web_lookup *l, char *evidence)
{
	static struct blocklist_change h = {1700000000, BLOCKLIST_LISTED, "cli:<b>me</b>",
					    "<img src=x onerror=alert(1)>"};
	memset(l, 0, sizeof(*l));
	snprintf(l->ip, sizeof(l->ip), "192.0.2.1");
	l->found = l->listed = 1;
	snprintf(l->entry.net_text, sizeof(l->entry.net_text), "192.0.2.1/32");
	snprintf(l->entry.txt, sizeof(l->entry.txt), "<script>alert('txt')</script>");
	l->entry.code = 2;
	l->entry.evidence = evidence;
	l->ev_ok = web_evidence_parse(evidence, strlen(evidence), &l->ev) == 0;
	l->history = &h;
	l->n_history = l->n_history_total = 1;
}

static void test_pages(void)
{
	char evidence[] =
	    "{\"tests\":[\"<t>\"],\"depth\":1,\"transcript\":\"220 "
	    "<script>alert(\\\"t\\\")</script>\\r\\n\",\"time\":1,\"scanner\":\"\\\"\"}";
	struct web_lookup l;
	struct util_buf b = {0};
	hostile_lookup(&l, evidence);
	CHECK(l.ev_ok, "evidence parses");
	web_page_lookup(&b, &l, "1.abc\"><x");
	CHECK(b.p && !strstr(b.p, "<script") && !strstr(b.p, "<img") && !strstr(b.p, "<b>") &&
		  !strstr(b.p, "<t>") && !strstr(b.p, "\"><x"),
	      "nothing hostile survives");
	CHECK(b.p && strstr(b.p, "&lt;script&gt;alert(&#39;txt&#39;)") &&
		  strstr(b.p, "<pre id=\"transcript\">220 &lt;script&gt;") &&
		  strstr(b.p, "id=\"delist\"") && strstr(b.p, "192.0.2.1 is listed"),
	      "shown escaped");
	util_buf_free(&b);

	web_json_lookup(&b, &l);
	CHECK(b.p && strstr(b.p, "\"reason\":\"<script>alert('txt')</script>\"") &&
		  strstr(b.p, "\"transcript\":\"220 <script>alert(\\\"t\\\")</script>\\r\\n\"") &&
		  strstr(b.p, "\"scanner\":\"\\\"\""),
	      "JSON: %s", b.p ? b.p : "");
	util_buf_free(&b);
	web_evidence_clear(&l.ev);

	char broken[] = "{\"tests\":[\"a\"],\"transcript\":\"<script>";
	hostile_lookup(&l, broken);
	CHECK(!l.ev_ok, "broken evidence");
	web_json_lookup(&b, &l);
	CHECK(b.p && strstr(b.p, "\"evidence\":null,\"evidence_raw\":\"{\\\"tests\\\""),
	      "unreadable evidence as a string: %s", b.p ? b.p : "");
	util_buf_free(&b);
	web_page_lookup(&b, &l, "t");
	CHECK(b.p && !strstr(b.p, "<script") && strstr(b.p, "cannot be read"), "raw escaped");
	util_buf_free(&b);
	web_evidence_clear(&l.ev);

	hostile_lookup(&l, evidence);
	const char *scan = "{\"ip\":\"192.0.2.1\",\"result\":\"open\",\"ports\":[]}";
	struct web_delist_view v = {"192.0.2.1", "still-open", "relayed <again>", scan, &l};
	web_page_delist(&b, &v);
	CHECK(b.p && strstr(b.p, "still an open relay") && strstr(b.p, "relayed &lt;again&gt;") &&
		  strstr(b.p, "<pre id=\"transcript\">220 &lt;script&gt;") &&
		  !strstr(b.p, "<script"),
	      "delist page: the entry now, with its new evidence");
	util_buf_free(&b);
	web_json_delist(&b, &v);
	CHECK(b.p && strstr(b.p, "\"status\":\"still-open\"") &&
		  strstr(b.p, "\"scan\":{\"ip\":\"192.0.2.1\",\"result\":\"open\"") &&
		  strstr(b.p, "\"listed\":true,\"entry\":{") && strstr(b.p, "\"depth\":1"),
	      "delist JSON: %s", b.p ? b.p : "");
	util_buf_free(&b);
	v.scan = "{\"ip\":\"x\"} trailing";
	web_json_delist(&b, &v);
	CHECK(b.p && strstr(b.p, "\"scan\":null"), "a scan result that is not one object: null");
	util_buf_free(&b);
	web_evidence_clear(&l.ev);
	web_page_error(&b, "Bad <address>", "'<x>' is not");
	CHECK(b.p && strstr(b.p, "Bad &lt;address&gt;") && !strstr(b.p, "<x>"), "error page");
	util_buf_free(&b);
	web_json_error(&b, "a \"quoted\"\nline");
	CHECK_STR(b.p, "{\"error\":\"a \\\"quoted\\\"\\nline\"}\n", "error JSON");
	util_buf_free(&b);
}

int main(void)
{
	test_html_escape();
	test_parse_ip();
	test_form_get();
	test_csrf();
	test_evidence();
	test_json_limits();
	test_json_get_string();
	test_pages();
	return check_report("test_web");
}
