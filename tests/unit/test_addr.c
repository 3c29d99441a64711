/* test_addr.c — the RFC 5321 Path parser, specified by example: RFC forms, every address form
 * of nmap's smtp-open-relay (tests 1-16) and Greenbone's smtp_relay2 (tuples 0-16), and hostile
 * or broken input. In the relay forms our domain is "relay.test", our address 127.0.0.1 and the
 * third party "external.example". */
#include "addr/addr.h"
#include "check.h"

#include <stdint.h>

/* Flags expected on ADDR_OK, one bit per field of struct addr_path. */
enum {
	F_NULL = 1 << 0,
	F_UNQUAL = 1 << 1,
	F_QUOTED = 1 << 2,
	F_ROUTING = 1 << 3,
	F_SRCROUTE = 1 << 4,
	F_TDOT = 1 << 5,
	F_UTF8 = 1 << 6,
	F_LIT = 1 << 7,
};

#define E_SYN ADDR_ERR_SYNTAX
#define E_LEN ADDR_ERR_TOO_LONG
#define E_8BIT ADDR_ERR_8BIT
#define E_DOM ADDR_ERR_DOMAIN

/* A string literal and its length, so that rows may hold NUL bytes. */
#define P(s) s, sizeof(s) - 1

/* Building blocks for the length limits (RFC 5321 4.5.3.1). */
#define S10 "0123456789"
#define S40 S10 S10 S10 S10
#define S60 S40 S10 S10
#define S63 S60 "abc"
#define D252 S63 "." S63 "." S63 "." S60 /* 252 octets: the longest domain a path can hold */
#define D255 S63 "." S63 "." S63 "." S63

struct path_case {
	const char *src; /* where the form comes from */
	const char *in;
	size_t len;
	int smtputf8;
	enum addr_status st;
	const char *local, *domain; /* on ADDR_OK */
	unsigned flags;		    /* on ADDR_OK */
};

static const struct path_case rfc_cases[] = {
    {"RFC 5321 4.1.2", P("<user@example.org>"), 0, ADDR_OK, "user", "example.org", 0},
    {"RFC 5321 4.1.1.2 null path", P("<>"), 0, ADDR_OK, "", "", F_NULL},
    {"RFC 5321 4.1.1.3", P("<Postmaster>"), 0, ADDR_OK, "Postmaster", "", F_UNQUAL},
    {"RFC 5321 4.1.1.3", P("<postmaster>"), 0, ADDR_OK, "postmaster", "", F_UNQUAL},
    {"RFC 5321 2.4 domain case", P("<User.Name+tag@Example.ORG>"), 0, ADDR_OK, "User.Name+tag",
     "example.org", 0},
    {"RFC 1034 trailing dot", P("<user@example.org.>"), 0, ADDR_OK, "user", "example.org", F_TDOT},
    {"RFC 5322 3.2.3 atext", P("<!#$&'*+-/=?^_`{|}~@example.org>"), 0, ADDR_OK,
     "!#$&'*+-/=?^_`{|}~", "example.org", F_ROUTING},
    {"RFC 5321 4.1.2 quoted", P("<\"a b\"@example.org>"), 0, ADDR_OK, "a b", "example.org",
     F_QUOTED},
    {"RFC 5321 4.1.2 quoted-pair", P("<\"a\\\"b\\\\c\"@example.org>"), 0, ADDR_OK, "a\"b\\c",
     "example.org", F_QUOTED},
    {"RFC 5321 4.1.2 needless quotes", P("<\"user\"@example.org>"), 0, ADDR_OK, "user",
     "example.org", F_QUOTED},
    {"RFC 5321 4.1.2 '>' quoted", P("<\"a>b\"@example.org>"), 0, ADDR_OK, "a>b", "example.org",
     F_QUOTED},
    {"RFC 5321 4.1.3", P("<user@[192.0.2.1]>"), 0, ADDR_OK, "user", "[192.0.2.1]", F_LIT},
    {"RFC 5321 4.1.3", P("<user@[IPv6:2001:DB8:0:0:0:0:0:1]>"), 0, ADDR_OK, "user",
     "[IPv6:2001:db8::1]", F_LIT},
    {"RFC 5321 4.1.3 tag case", P("<user@[ipv6:::1]>"), 0, ADDR_OK, "user", "[IPv6:::1]", F_LIT},
    {"RFC 5321 C source route", P("<@a.example,@b.example:user@d.example>"), 0, ADDR_OK, "user",
     "d.example", F_SRCROUTE},
    {"RFC 5890 A-label case", P("<user@XN--BCHER-KVA.EXAMPLE>"), 0, ADDR_OK, "user",
     "xn--bcher-kva.example", 0},
    {"RFC 6531 IDN domain",
     P("<user@b\xc3\xbc"
       "cher.example>"),
     1, ADDR_OK, "user", "xn--bcher-kva.example", F_UTF8},
    {"RFC 6531 IDN without SMTPUTF8",
     P("<user@b\xc3\xbc"
       "cher.example>"),
     0, E_8BIT},
    {"RFC 6531 UTF-8 local", P("<j\xc3\xb6rg@example.org>"), 1, ADDR_OK, "j\xc3\xb6rg",
     "example.org", F_UTF8},
    {"RFC 6531 UTF-8 local without SMTPUTF8", P("<j\xc3\xb6rg@example.org>"), 0, E_8BIT},
    {"RFC 6531 4-byte UTF-8", P("<\xf0\x9f\x98\x80@example.org>"), 1, ADDR_OK, "\xf0\x9f\x98\x80",
     "example.org", F_UTF8},
    {"RFC 6531 quoted UTF-8", P("<\"j\xc3\xb6 rg\"@example.org>"), 1, ADDR_OK, "j\xc3\xb6 rg",
     "example.org", F_QUOTED | F_UTF8},
    {"RFC 3629 overlong", P("<\xc0\xafx@example.org>"), 1, E_SYN},
    {"RFC 3629 overlong 3-byte", P("<\xe0\x80\xafx@example.org>"), 1, E_SYN},
    {"RFC 3629 surrogate", P("<\xed\xa0\x80x@example.org>"), 1, E_SYN},
    {"RFC 3629 beyond U+10FFFF", P("<\xf4\x90\x80\x80@example.org>"), 1, E_SYN},
    {"RFC 3629 truncated sequence", P("<\xc3@example.org>"), 1, E_SYN},
    {"RFC 3629 lone continuation", P("<\x80x@example.org>"), 1, E_SYN},
    {"C1 control U+0085", P("<a\xc2\x85@example.org>"), 1, E_SYN},
    {"RFC 5321 4.1.2 quoted-pair is ASCII", P("<\"\\\xc3\xb6\"@example.org>"), 1, E_SYN},
};

/* nmap scripts/smtp-open-relay.nse: MAIL FROM of tests 1-4, RCPT TO of tests 1-16. */
static const struct path_case nmap_cases[] = {
    {"nmap 1 from", P("<>"), 0, ADDR_OK, "", "", F_NULL},
    {"nmap 2 from", P("<antispam@external.example>"), 0, ADDR_OK, "antispam", "external.example",
     0},
    {"nmap 3 from", P("<antispam@relay.test>"), 0, ADDR_OK, "antispam", "relay.test", 0},
    {"nmap 4 from", P("<antispam@[127.0.0.1]>"), 0, ADDR_OK, "antispam", "[127.0.0.1]", F_LIT},
    {"nmap 1-4", P("<relaytest@external.example>"), 0, ADDR_OK, "relaytest", "external.example", 0},
    {"nmap 5", P("<relaytest%external.example@[127.0.0.1]>"), 0, ADDR_OK,
     "relaytest%external.example", "[127.0.0.1]", F_ROUTING | F_LIT},
    {"nmap 6", P("<relaytest%external.example@relay.test>"), 0, ADDR_OK,
     "relaytest%external.example", "relay.test", F_ROUTING},
    {"nmap 7", P("<\"relaytest@external.example\">"), 0, ADDR_OK, "relaytest@external.example", "",
     F_UNQUAL | F_QUOTED | F_ROUTING},
    {"nmap 8", P("<\"relaytest%external.example\">"), 0, ADDR_OK, "relaytest%external.example", "",
     F_UNQUAL | F_QUOTED | F_ROUTING},
    {"nmap 9", P("<relaytest@external.example@[127.0.0.1]>"), 0, E_SYN},
    {"nmap 10", P("<\"relaytest@external.example\"@[127.0.0.1]>"), 0, ADDR_OK,
     "relaytest@external.example", "[127.0.0.1]", F_QUOTED | F_ROUTING | F_LIT},
    {"nmap 11", P("<relaytest@external.example@relay.test>"), 0, E_SYN},
    {"nmap 12", P("<@[127.0.0.1]:relaytest@external.example>"), 0, ADDR_OK, "relaytest",
     "external.example", F_SRCROUTE},
    {"nmap 13", P("<@relay.test:relaytest@external.example>"), 0, ADDR_OK, "relaytest",
     "external.example", F_SRCROUTE},
    {"nmap 14", P("<external.example!relaytest>"), 0, ADDR_OK, "external.example!relaytest", "",
     F_UNQUAL | F_ROUTING},
    {"nmap 15", P("<external.example!relaytest@[127.0.0.1]>"), 0, ADDR_OK,
     "external.example!relaytest", "[127.0.0.1]", F_ROUTING | F_LIT},
    {"nmap 16", P("<external.example!relaytest@relay.test>"), 0, ADDR_OK,
     "external.example!relaytest", "relay.test", F_ROUTING},
};

/* Greenbone smtp_relay2.nasl (OID 1.3.6.1.4.1.25623.1.0.11852): from_l[i] / to_l[i]. */
static const struct path_case greenbone_cases[] = {
    {"greenbone 0", P("<nobody@external.example>"), 0, ADDR_OK, "nobody", "external.example", 0},
    {"greenbone 1 from", P("<openvas@x7k2q.external.example>"), 0, ADDR_OK, "openvas",
     "x7k2q.external.example", 0},
    {"greenbone 2 from", P("<openvas@localhost>"), 0, ADDR_OK, "openvas", "localhost", 0},
    {"greenbone 3 from", P("<openvas>"), 0, ADDR_OK, "openvas", "", F_UNQUAL},
    {"greenbone 4-5 from", P("<>"), 0, ADDR_OK, "", "", F_NULL},
    {"greenbone 6 from", P("<openvas@relay.test>"), 0, ADDR_OK, "openvas", "relay.test", 0},
    {"greenbone 7 from", P("<openvas@[127.0.0.1]>"), 0, ADDR_OK, "openvas", "[127.0.0.1]", F_LIT},
    {"greenbone 8", P("<nobody%external.example@relay.test>"), 0, ADDR_OK,
     "nobody%external.example", "relay.test", F_ROUTING},
    {"greenbone 9", P("<nobody%external.example@[127.0.0.1]>"), 0, ADDR_OK,
     "nobody%external.example", "[127.0.0.1]", F_ROUTING | F_LIT},
    {"greenbone 10", P("<nobody@external.example@relay.test>"), 0, E_SYN},
    {"greenbone 11", P("<\"nobody@external.example\"@[127.0.0.1]>"), 0, ADDR_OK,
     "nobody@external.example", "[127.0.0.1]", F_QUOTED | F_ROUTING | F_LIT},
    {"greenbone 12", P("<nobody@external.example@[127.0.0.1]>"), 0, E_SYN},
    {"greenbone 13", P("<@relay.test:nobody@external.example>"), 0, ADDR_OK, "nobody",
     "external.example", F_SRCROUTE},
    {"greenbone 14", P("<@[127.0.0.1]:nobody@external.example>"), 0, ADDR_OK, "nobody",
     "external.example", F_SRCROUTE},
    {"greenbone 15", P("<external.example!nobody@[127.0.0.1]>"), 0, ADDR_OK,
     "external.example!nobody", "[127.0.0.1]", F_ROUTING | F_LIT},
    {"greenbone 16 from", P("<postmaster@relay.test>"), 0, ADDR_OK, "postmaster", "relay.test", 0},
};

/* Further relay-test spellings: the same tricks against our name, address and case. */
static const struct path_case relay_cases[] = {
    {"relay quoted@ours", P("<\"relaytest@external.example\"@relay.test>"), 0, ADDR_OK,
     "relaytest@external.example", "relay.test", F_QUOTED | F_ROUTING},
    {"relay percent unqualified", P("<relaytest%external.example>"), 0, ADDR_OK,
     "relaytest%external.example", "", F_UNQUAL | F_ROUTING},
    {"relay trailing dot", P("<relaytest@external.example.>"), 0, ADDR_OK, "relaytest",
     "external.example", F_TDOT},
    {"relay IPv6 literal", P("<relaytest@[IPv6:::1]>"), 0, ADDR_OK, "relaytest", "[IPv6:::1]",
     F_LIT},
    {"relay postmaster literal", P("<postmaster@[127.0.0.1]>"), 0, ADDR_OK, "postmaster",
     "[127.0.0.1]", F_LIT},
    {"relay case", P("<RelayTest@RELAY.TEST>"), 0, ADDR_OK, "RelayTest", "relay.test", 0},
    {"relay mapped literal", P("<a@[IPv6:::ffff:127.0.0.1]>"), 0, ADDR_OK, "a",
     "[IPv6:::ffff:127.0.0.1]", F_LIT},
    {"relay route then percent", P("<@relay.test:a%external.example@relay.test>"), 0, ADDR_OK,
     "a%external.example", "relay.test", F_SRCROUTE | F_ROUTING},
};

static const struct path_case hostile_cases[] = {
    {"empty input", P(""), 0, E_SYN},
    {"lone '<'", P("<"), 0, E_SYN},
    {"no '<'", P("relaytest@relay.test>"), 0, E_SYN},
    {"no brackets", P("relaytest@relay.test"), 0, E_SYN},
    {"missing '>'", P("<relaytest@relay.test"), 0, E_SYN},
    {"doubled brackets", P("<<a@relay.test>>"), 0, E_SYN},
    {"NUL in local", P("<a\0b@relay.test>"), 0, E_SYN},
    {"NUL in domain", P("<a@relay.test\0.example>"), 0, E_SYN},
    {"NUL in quotes", P("<\"a\0b\"@relay.test>"), 0, E_SYN},
    {"CR LF in local", P("<a\r\n@relay.test>"), 0, E_SYN},
    {"CR LF before '>'", P("<a@relay.test\r\n>"), 0, E_SYN},
    {"LF in quotes", P("<\"a\nb\"@relay.test>"), 0, E_SYN},
    {"DEL", P("<a\x7f@relay.test>"), 0, E_SYN},
    {"TAB", P("<a\t@relay.test>"), 0, E_SYN},
    {"space after '<'", P("< a@relay.test>"), 0, E_SYN},
    {"space in local", P("<a b@relay.test>"), 0, E_SYN},
    {"space before '>'", P("<a@relay.test >"), 0, E_SYN},
    {"space in null path", P("< >"), 0, E_SYN},
    {"double @", P("<a@b@c>"), 0, E_SYN},
    {"empty local", P("<@x>"), 0, E_SYN},
    {"empty local", P("<@example.org>"), 0, E_SYN},
    {"empty domain", P("<a@>"), 0, E_SYN},
    {"leading dot", P("<.a@b.example>"), 0, E_SYN},
    {"trailing dot in local", P("<a.@b.example>"), 0, E_SYN},
    {"double dot", P("<a..b@c.example>"), 0, E_SYN},
    {"lone dot local", P("<.@c.example>"), 0, E_SYN},
    {"comment", P("<a(x)@relay.test>"), 0, E_SYN},
    {"quote mid-atom", P("<a\"b\"@relay.test>"), 0, E_SYN},
    {"text after quote", P("<\"a\"b@relay.test>"), 0, E_SYN},
    {"empty quoted local", P("<\"\"@relay.test>"), 0, E_SYN},
    {"unterminated quote", P("<\"abc@relay.test>"), 0, E_SYN},
    {"backslash at end of quote", P("<\"abc\\\"@relay.test>"), 0, E_SYN},
    {"backslash before '>'", P("<\"abc\\>"), 0, E_SYN},
    {"backslash outside quotes", P("<a\\b@relay.test>"), 0, E_SYN},
    {"[1.2.3]", P("<a@[1.2.3]>"), 0, E_DOM},
    {"[300.1.1.1]", P("<a@[300.1.1.1]>"), 0, E_DOM},
    {"leading zeros", P("<a@[127.000.000.001]>"), 0, E_DOM},
    {"[IPv6:zz]", P("<a@[IPv6:zz]>"), 0, E_DOM},
    {"[IPv6:nonsense]", P("<a@[IPv6:nonsense]>"), 0, E_DOM},
    {"IPv6 without tag", P("<a@[::1]>"), 0, E_DOM},
    {"general literal", P("<a@[x-tag:foo]>"), 0, E_DOM},
    {"empty literal", P("<a@[]>"), 0, E_DOM},
    {"space in literal", P("<a@[ 1.2.3.4]>"), 0, E_SYN},
    {"unclosed literal", P("<a@[1.2.3.4>"), 0, E_DOM},
    {"text after literal", P("<a@[127.0.0.1]x>"), 0, E_SYN},
    {"literal then @", P("<a@[127.0.0.1]@relay.test>"), 0, E_SYN},
    {"literal with dot", P("<a@[127.0.0.1].>"), 0, E_SYN},
    {"two trailing dots", P("<a@relay.test..>"), 0, E_DOM},
    {"lone dot domain", P("<a@.>"), 0, E_DOM},
    {"leading dot domain", P("<a@.relay.test>"), 0, E_DOM},
    {"underscore", P("<a@relay_test.example>"), 0, E_DOM},
    {"hyphen label", P("<a@-relay.test>"), 0, E_DOM},
    {"port", P("<a@relay.test:25>"), 0, E_DOM},
    {"route hop without @", P("<@a.example,b.example:c@d.example>"), 0, E_SYN},
    {"empty route hop", P("<@:c@d.example>"), 0, E_SYN},
    {"route to unqualified", P("<@a.example:postmaster>"), 0, E_SYN},
    {"route to nothing", P("<@a.example:>"), 0, E_SYN},
    {"bad route domain", P("<@a..example:u@d.example>"), 0, E_DOM},
    {"bad route literal", P("<@[1.2.3]:u@d.example>"), 0, E_DOM},
    {"8-bit in route", P("<@\xc3\xbc.example:u@d.example>"), 0, E_8BIT},
    {"8-bit in quotes", P("<\"\xc3\xbc\"@d.example>"), 0, E_8BIT},
    {"raw 0xff", P("<\xff@d.example>"), 1, E_SYN},
};

/* RFC 5321 4.5.3.1: 64-octet local part, 255-octet domain, 256-octet path with brackets. */
static const struct path_case length_cases[] = {
    {"4.5.3.1.1 64-octet local", P("<" S60 "abcd@relay.test>"), 0, ADDR_OK, S60 "abcd",
     "relay.test", 0},
    {"4.5.3.1.1 65-octet local", P("<" S60 "abcde@relay.test>"), 0, E_LEN},
    {"4.5.3.1.1 quotes count", P("<\"" S60 "ab\"@relay.test>"), 0, ADDR_OK, S60 "ab", "relay.test",
     F_QUOTED},
    {"4.5.3.1.1 quotes count", P("<\"" S60 "abc\"@relay.test>"), 0, E_LEN},
    {"4.5.3.1.1 escapes count", P("<\"" S60 "\\a\\b\"@relay.test>"), 0, E_LEN},
    {"4.5.3.1.3 256-octet path", P("<a@" D252 ">"), 0, ADDR_OK, "a", D252, 0},
    {"4.5.3.1.3 257-octet path", P("<ab@" D252 ">"), 0, E_LEN},
    {"4.5.3.1.2 256-octet domain", P("<a@" D252 ".abc>"), 0, E_LEN},
    {"4.5.3.1.3 300-octet path", P("<a@" D255 "." S40 ">"), 0, E_LEN},
    {"300 octets, no '>'", P("<a@" D255 "." S40 "x"), 0, E_LEN},
    {"route counts",
     P("<@relay.test,@external.example:" S60 "abcd@" S63 "." S63 "." S40 ".example>"), 0, E_LEN},
};

static void check_case(const struct path_case *c)
{
	struct addr_path a;
	size_t used = 99;
	enum addr_status st = addr_parse_path(c->in, c->len, c->smtputf8, &a, &used);
	CHECK(st == c->st, "%s: status %d want %d", c->src, st, c->st);
	if (st != ADDR_OK || c->st != ADDR_OK) {
		CHECK(used == 0 && a.local[0] == '\0' && a.domain[0] == '\0', "%s: cleared",
		      c->src);
		return;
	}
	unsigned got = (a.null ? F_NULL : 0) | (a.unqualified ? F_UNQUAL : 0) |
		       (a.quoted ? F_QUOTED : 0) | (a.routing ? F_ROUTING : 0) |
		       (a.source_route ? F_SRCROUTE : 0) | (a.trailing_dot ? F_TDOT : 0) |
		       (a.utf8 ? F_UTF8 : 0) | (a.literal ? F_LIT : 0);
	CHECK_STR(a.local, c->local, "%s: local", c->src);
	CHECK_STR(a.domain, c->domain, "%s: domain", c->src);
	CHECK(got == c->flags, "%s: flags 0x%x want 0x%x", c->src, got, c->flags);
	CHECK(used == c->len, "%s: consumed %zu of %zu", c->src, used, c->len);
}

static void run_table(const struct path_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_case(&cases[i]);
}

#define RUN(t) run_table(t, sizeof(t) / sizeof(t[0]))

/* The path ends at its '>'; ESMTP parameters and anything else after it belong to the caller. */
static void test_consumed(void)
{
	static const struct {
		const char *in;
		size_t len;
		int smtputf8;
		enum addr_status st;
		size_t consumed;
	} cases[] = {
	    {P("<a@b.example> SIZE=10"), 0, ADDR_OK, 13},
	    {P("<> SIZE=10 BODY=8BITMIME"), 0, ADDR_OK, 2},
	    {P("<\"a>b\"@b.example> X"), 0, ADDR_OK, 17},
	    {P("<a@b.example>\0garbage"), 0, ADDR_OK, 13},
	    {P("<a@b.example>>"), 0, ADDR_OK, 13},
	    {P("<a@b.example>\xff\r\n"), 0, ADDR_OK, 13},
	    {"<a@b.example>", 12, 0, E_SYN, 0}, /* len stops short of '>': never read past len */
	    {"<a@b.example>", 1, 0, E_SYN, 0},
	    {"\"<a@b.example>", 14, 0, E_SYN, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path a;
		size_t used = 99;
		enum addr_status st =
		    addr_parse_path(cases[i].in, cases[i].len, cases[i].smtputf8, &a, &used);
		CHECK(st == cases[i].st && used == cases[i].consumed, "case %zu: %d, consumed %zu",
		      i, st, used);
	}
	struct addr_path a;
	CHECK(addr_parse_path(P("<a@b.example>"), 0, &a, NULL) == ADDR_OK, "consumed may be NULL");
}

/* The policy compares literal addresses as bytes, IPv4 in the IPv4-mapped space. */
static void test_literal_bytes(void)
{
	static const uint8_t lo4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
	static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const struct {
		const char *in;
		size_t len;
		const uint8_t *want;
	} cases[] = {
	    {P("<a@[127.0.0.1]>"), lo4},
	    {P("<a@[IPv6:::ffff:127.0.0.1]>"), lo4},
	    {P("<a@[IPv6:::1]>"), lo6},
	    {P("<a@[IPv6:0:0:0:0:0:0:0:1]>"), lo6},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path a;
		enum addr_status st = addr_parse_path(cases[i].in, cases[i].len, 0, &a, NULL);
		CHECK(st == ADDR_OK && a.literal && memcmp(a.literal_addr, cases[i].want, 16) == 0,
		      "%s", cases[i].in);
	}
}

/* addr_format writes what addr_parse_path reads back to the same local part and domain. */
static void test_format(void)
{
	static const struct {
		const char *in;
		size_t len;
		int smtputf8;
		const char *want;
	} cases[] = {
	    {P("<user@example.org>"), 0, "user@example.org"},
	    {P("<>"), 0, ""},
	    {P("<Postmaster>"), 0, "Postmaster"},
	    {P("<\"user\"@example.org>"), 0, "user@example.org"},
	    {P("<\"\\u\\s\\e\\r\"@example.org>"), 0, "user@example.org"},
	    {P("<\"a b\"@example.org>"), 0, "\"a b\"@example.org"},
	    {P("<\"a\\\"b\"@example.org>"), 0, "\"a\\\"b\"@example.org"},
	    {P("<\"a\\\\b\"@example.org>"), 0, "\"a\\\\b\"@example.org"},
	    {P("<\"a..b\"@example.org>"), 0, "\"a..b\"@example.org"},
	    {P("<\".a\"@example.org>"), 0, "\".a\"@example.org"},
	    {P("<\"a.\"@example.org>"), 0, "\"a.\"@example.org"},
	    {P("<\"a>b\"@example.org>"), 0, "\"a>b\"@example.org"},
	    {P("<\"relaytest@external.example\">"), 0, "\"relaytest@external.example\""},
	    {P("<\"relaytest@external.example\"@[127.0.0.1]>"), 0,
	     "\"relaytest@external.example\"@[127.0.0.1]"},
	    {P("<@a.example,@b.example:u@[IPv6:2001:DB8::1]>"), 0, "u@[IPv6:2001:db8::1]"},
	    {P("<u@B\xc3\x9c"
	       "CHER.example.>"),
	     1, "u@xn--bcher-kva.example"},
	    {P("<\"j\xc3\xb6 rg\"@example.org>"), 1, "\"j\xc3\xb6 rg\"@example.org"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path a, b;
		char buf[600], path[610];
		CHECK(addr_parse_path(cases[i].in, cases[i].len, cases[i].smtputf8, &a, NULL) ==
			  ADDR_OK,
		      "parse %s", cases[i].in);
		addr_format(&a, buf, sizeof(buf));
		CHECK_STR(buf, cases[i].want, "format %s", cases[i].in);
		int n = snprintf(path, sizeof(path), "<%s>", buf);
		CHECK(addr_parse_path(path, (size_t)n, cases[i].smtputf8, &b, NULL) == ADDR_OK &&
			  b.null == a.null && b.unqualified == a.unqualified &&
			  strcmp(b.local, a.local) == 0 && strcmp(b.domain, a.domain) == 0,
		      "round trip %s", path);
	}
}

/* Truncation keeps the buffer NUL-terminated and never splits a UTF-8 character. */
static void test_format_truncation(void)
{
	static const struct {
		const char *in;
		size_t len;
		size_t buflen;
		const char *want;
	} cases[] = {
	    {P("<user@example.org>"), 5, "user"},
	    {P("<user@example.org>"), 1, ""},
	    {P("<user@example.org>"), 17, "user@example.org"},
	    {P("<j\xc3\xb6rg@example.org>"), 3, "j"},
	    {P("<j\xc3\xb6rg@example.org>"), 4, "j\xc3\xb6"},
	    {P("<\xf0\x9f\x98\x80@example.org>"), 4, ""},
	    {P("<\"a b\"@example.org>"), 3, "\"a"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path a;
		char buf[32];
		memset(buf, 'X', sizeof(buf));
		addr_parse_path(cases[i].in, cases[i].len, 1, &a, NULL);
		addr_format(&a, buf, cases[i].buflen);
		CHECK_STR(buf, cases[i].want, "truncate %s to %zu", cases[i].in, cases[i].buflen);
		CHECK(buf[cases[i].buflen] == 'X', "no write past %zu", cases[i].buflen);
	}
	struct addr_path a;
	char buf[1] = {'X'};
	addr_parse_path(P("<a@b.example>"), 0, &a, NULL);
	addr_format(&a, buf, 0);
	CHECK(buf[0] == 'X', "zero-length buffer untouched");
}

static void test_status_text(void)
{
	static const enum addr_status all[] = {ADDR_OK, E_SYN, E_LEN, E_8BIT, E_DOM};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *t = addr_status_text(all[i]);
		CHECK(t && t[0] && !(t[0] >= 'A' && t[0] <= 'Z'), "status %d: lower-case text",
		      all[i]);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(t, addr_status_text(all[j])) != 0, "texts %zu, %zu differ", i,
			      j);
	}
	CHECK_STR(addr_status_text(E_SYN), "syntax error in address", "syntax text");
	CHECK_STR(addr_status_text(E_8BIT), "8-bit address without SMTPUTF8", "8bit text");
}

int main(void)
{
	RUN(rfc_cases);
	RUN(nmap_cases);
	RUN(greenbone_cases);
	RUN(relay_cases);
	RUN(hostile_cases);
	RUN(length_cases);
	test_consumed();
	test_literal_bytes();
	test_format();
	test_format_truncation();
	test_status_text();
	return check_report("test_addr");
}
