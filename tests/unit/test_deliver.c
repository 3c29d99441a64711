/* test_deliver.c — the delivery client's pure parts: the body encoder (RFC 5321 4.5.2
 * dot-stuffing, CR LF only: no bare CR or LF leaves), the reply parser (RFC 5321 4.2, enhanced
 * codes RFC 3463/2034) and EHLO keywords. */
#include "deliver/deliver.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>

/* Encode in, split at the given cut points (ascending, cuts[k] <= len), into out. */
static size_t encode_cut(const char *in, size_t len, const size_t *cuts, size_t ncuts, char *out)
{
	struct deliver_encoder e;
	size_t o = 0, from = 0;
	deliver_encode_init(&e);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		size_t w = deliver_encode(&e, in + from, to - from, out + o);
		CHECK(w <= DELIVER_ENCODE_MAX(to - from), "bound %zu > 2*%zu+2", w, to - from);
		o += w;
		from = to;
	}
	return o + deliver_encode_finish(&e, out + o);
}

static const struct {
	const char *why;
	const char *in;
	size_t len;
	const char *out;
	size_t outlen;
} encode_cases[] = {
    {"empty body: just the end", S(""), S(".\r\n")},
    {"CR LF lines unchanged", S("a\r\nb\r\n"), S("a\r\nb\r\n.\r\n")},
    {"final CR LF added", S("a\r\nb"), S("a\r\nb\r\n.\r\n")},
    {"leading dot doubled (4.5.2)", S(".a\r\n"), S("..a\r\n.\r\n")},
    {"dot after CR LF doubled", S("a\r\n.\r\nb\r\n"), S("a\r\n..\r\nb\r\n.\r\n")},
    {"dots inside a line kept", S("a.b.\r\n"), S("a.b.\r\n.\r\n")},
    {"two dots become three", S("..\r\n"), S("...\r\n.\r\n")},
    {"bare LF becomes CR LF", S("a\nb\n"), S("a\r\nb\r\n.\r\n")},
    {"bare CR becomes CR LF", S("a\rb\r"), S("a\r\nb\r\n.\r\n")},
    {"smuggling: LF . LF", S("a\n.\nb\r\n"), S("a\r\n..\r\nb\r\n.\r\n")},
    {"smuggling: CR . CR", S("a\r.\rb\r\n"), S("a\r\n..\r\nb\r\n.\r\n")},
    {"smuggling: CR LF . CR", S("a\r\n.\rb"), S("a\r\n..\r\nb\r\n.\r\n")},
    {"smuggling: LF . CR LF", S("a\n.\r\nb"), S("a\r\n..\r\nb\r\n.\r\n")},
    {"CR CR LF: one bare CR, one CR LF", S("a\r\r\n"), S("a\r\n\r\n.\r\n")},
    {"LF CR: two line ends", S("a\n\rb"), S("a\r\n\r\nb\r\n.\r\n")},
    {"body ending in bare CR", S("a\r"), S("a\r\n.\r\n")},
    {"8-bit and NUL bytes pass", S("\xc3\xa9\0x\r\n"), S("\xc3\xa9\0x\r\n.\r\n")},
};

static void test_encode_cases(void)
{
	char out[256];
	for (size_t i = 0; i < N(encode_cases); i++) {
		size_t n = encode_cut(encode_cases[i].in, encode_cases[i].len, NULL, 0, out);
		CHECK(n == encode_cases[i].outlen && memcmp(out, encode_cases[i].out, n) == 0,
		      "%s: got \"%s\"", encode_cases[i].why, esc(out, n));
	}
}

/* Every split into two and three chunks, at every position, gives the one-call result. */
static void test_encode_splits(void)
{
	char whole[256], part[256];
	for (size_t i = 0; i < N(encode_cases); i++) {
		const char *in = encode_cases[i].in;
		size_t len = encode_cases[i].len;
		size_t n = encode_cut(in, len, NULL, 0, whole);
		for (size_t a = 0; a <= len; a++)
			for (size_t b = a; b <= len; b++) {
				size_t cuts[2] = {a, b};
				size_t m = encode_cut(in, len, cuts, 2, part);
				CHECK(m == n && memcmp(part, whole, n) == 0, "%s cut %zu,%zu: %s",
				      encode_cases[i].why, a, b, esc(part, m));
			}
	}
}

/* Byte at a time over a body with every tricky pair: same as one call. */
static void test_encode_bytewise(void)
{
	static const char in[] = ".\r.\n.\r\n..\n\r.\r\r\n\n.x\r";
	size_t len = sizeof(in) - 1, cuts[sizeof(in)];
	char whole[128], part[128];
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	size_t n = encode_cut(in, len, NULL, 0, whole);
	size_t m = encode_cut(in, len, cuts, len, part);
	CHECK(m == n && memcmp(whole, part, n) == 0, "bytewise: %s vs %s", esc(part, m),
	      esc(whole, n));
	static const char want[] = "..\r\n..\r\n..\r\n...\r\n\r\n..\r\n\r\n\r\n..x\r\n.\r\n";
	CHECK(n == sizeof(want) - 1 && memcmp(whole, want, n) == 0, "bytewise result %s",
	      esc(whole, n));
}

static void test_reply_parse(void)
{
	static const struct {
		const char *why, *in;
		long want;
		int code;
		const char *enh, *text;
	} cases[] = {
	    {"one line", "250 ok\r\n", 8, 250, "", "ok"},
	    {"code alone", "354\r\n", 5, 354, "", ""},
	    {"multiline joined", "250-a\r\n250-b\r\n250 c\r\n", 21, 250, "", "a; b; c"},
	    {"enhanced code", "550 5.1.1 No such user\r\n", 24, 550, "5.1.1", "No such user"},
	    {"enhanced code on every line", "550-5.1.1 No\r\n550 5.1.1 user\r\n", 30, 550, "5.1.1",
	     "No; user"},
	    {"enh class must match", "550 4.1.1 odd\r\n", 15, 550, "", "4.1.1 odd"},
	    {"enh needs three parts", "451 4.3 busy\r\n", 14, 451, "", "4.3 busy"},
	    {"enh digits bounded", "451 4.3333.1 x\r\n", 16, 451, "", "4.3333.1 x"},
	    {"enh alone", "250 2.0.0\r\n", 11, 250, "2.0.0", ""},
	    {"control bytes masked", "250 a\tb\x01\r\n", 10, 250, "", "a?b?"},
	    {"bare LF tolerated", "220 mx ESMTP\n", 13, 220, "", "mx ESMTP"},
	    {"incomplete continuation", "250-a\r\n", 0, 0, "", ""},
	    {"no line end yet", "250 ok", 0, 0, "", ""},
	    {"codes differ", "250-a\r\n251 b\r\n", -1, 0, "", ""},
	    {"short code", "25 x\r\n", -1, 0, "", ""},
	    {"not a code", "abc ok\r\n", -1, 0, "", ""},
	    {"bad separator", "250xok\r\n", -1, 0, "", ""},
	    {"no such class", "650 ok\r\n", -1, 0, "", ""},
	    {"HTTP is garbage", "HTTP/1.1 400 Bad Request\r\n", -1, 0, "", ""},
	    {"first reply only", "250 ok\r\n550 next\r\n", 8, 250, "", "ok"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct deliver_reply r;
		long n = deliver_reply_parse(cases[i].in, strlen(cases[i].in), &r);
		CHECK(n == cases[i].want, "%s: %ld", cases[i].why, n);
		if (n > 0) {
			CHECK(r.code == cases[i].code, "%s: code %d", cases[i].why, r.code);
			CHECK_STR(r.enh, cases[i].enh, "%s: enh", cases[i].why);
			CHECK_STR(r.text, cases[i].text, "%s: text", cases[i].why);
		}
	}
}

static void test_reply_limits(void)
{
	size_t big = DELIVER_REPLY_LINE_MAX + 16;
	char *b = malloc(DELIVER_REPLY_MAX + 64);
	struct deliver_reply r;
	if (!b)
		return;
	memset(b, 'x', big);
	memcpy(b, "250 ", 4);
	CHECK(deliver_reply_parse(b, big, &r) == -1, "a line past the limit without end: -1");
	b[DELIVER_REPLY_LINE_MAX - 1] = '\n';
	CHECK(deliver_reply_parse(b, DELIVER_REPLY_LINE_MAX, &r) == DELIVER_REPLY_LINE_MAX,
	      "a line at the limit is fine");
	CHECK(strlen(r.text) == sizeof(r.text) - 1, "text truncated to fit: %zu", strlen(r.text));
	size_t o = 0;
	for (int i = 0; i < DELIVER_REPLY_LINES_MAX + 1; i++)
		o += (size_t)snprintf(b + o, 16, "250-l%d\r\n", i % 10);
	CHECK(deliver_reply_parse(b, o, &r) == -1, "more than %d lines: -1",
	      DELIVER_REPLY_LINES_MAX);
	free(b);
}

static void test_ehlo(void)
{
	static const char ehlo[] = "250-mx.example Hello [192.0.2.1]\r\n"
				   "250-pipelining\r\n"
				   "250-SIZE 35882577\r\n"
				   "250-8BITMIME\r\n"
				   "250-STARTTLS\r\n"
				   "250-ENHANCEDSTATUSCODES\r\n"
				   "250-DSN\r\n"
				   "250-AUTH PLAIN LOGIN\r\n"
				   "250-CHUNKING\r\n"
				   "250 SMTPUTF8\r\n";
	struct deliver_ehlo e;
	deliver_ehlo_parse(ehlo, sizeof(ehlo) - 1, &e);
	unsigned all = DELIVER_EXT_PIPELINING | DELIVER_EXT_SIZE | DELIVER_EXT_8BITMIME |
		       DELIVER_EXT_STARTTLS | DELIVER_EXT_ENHANCEDSTATUSCODES | DELIVER_EXT_DSN |
		       DELIVER_EXT_CHUNKING | DELIVER_EXT_SMTPUTF8;
	CHECK(e.ext == all, "all keywords (case-insensitive): %#x", e.ext);
	CHECK(e.size == 35882577, "SIZE value %llu", (unsigned long long)e.size);

	static const struct {
		const char *why, *in;
		unsigned ext;
		uint64_t size;
	} cases[] = {
	    {"greeting line is not a keyword", "250 PIPELINING\r\n", 0, 0},
	    {"SIZE alone: no limit", "250-x\r\n250 SIZE\r\n", DELIVER_EXT_SIZE, 0},
	    {"SIZE 0: no limit", "250-x\r\n250 SIZE 0\r\n", DELIVER_EXT_SIZE, 0},
	    {"SIZE garbage ignored", "250-x\r\n250 SIZE 12k\r\n", DELIVER_EXT_SIZE, 0},
	    {"SIZE overflow ignored", "250-x\r\n250 SIZE 999999999999999999999\r\n",
	     DELIVER_EXT_SIZE, 0},
	    {"prefix is not a keyword", "250-x\r\n250-PIPELININGX\r\n250 DSNX\r\n", 0, 0},
	    {"bare LF", "250-x\n250 DSN\n", DELIVER_EXT_DSN, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		deliver_ehlo_parse(cases[i].in, strlen(cases[i].in), &e);
		CHECK(e.ext == cases[i].ext && e.size == cases[i].size, "%s: %#x %llu",
		      cases[i].why, e.ext, (unsigned long long)e.size);
	}
}

int main(void)
{
	test_encode_cases();
	test_encode_splits();
	test_encode_bytewise();
	test_reply_parse();
	test_reply_limits();
	test_ehlo();
	return check_report("test_deliver");
}
