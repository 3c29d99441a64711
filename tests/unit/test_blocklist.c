/* test_blocklist.c — DNSBL query names (RFC 5782 2.1 IPv4 octets, 2.4 IPv6 nibbles), the prefix
 * index, the query handler on packets built with ldns (and on broken ones, hand-made: the codec
 * of wire.c), response-rate limiting with a fake clock, and the SQLite
 * store's round trip (list, update, delist, history, clean scans). */
#include "blocklist/blocklist.h"
#include "check.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void addr_of(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET6, text, out) == 1)
		return;
	inet_pton(AF_INET, text, out + 12);
	out[10] = out[11] = 0xff;
}

#define V6_2001_DB8_1 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
#define V6_TEST_2 "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"

static void test_names(void)
{
	static const struct {
		const char *name, *addr; /* addr NULL: must not parse */
	} cases[] = {
	    {"2.0.0.127", "127.0.0.2"}, /* RFC 5782 5: the test entry */
	    {"1.2.0.192", "192.0.2.1"}, /* reversed octets */
	    {"255.255.255.255", "255.255.255.255"},
	    {V6_2001_DB8_1, "2001:db8::1"}, /* RFC 5782 2.4: 32 nibbles */
	    {V6_TEST_2, "127.0.0.2"},	    /* ::ffff:7f00:2 maps onto the v4 entry */
	    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2", "2001:db8::1"},
	    {"256.0.0.127", NULL}, /* octet too large */
	    {"1.2.3", NULL},	   /* too few labels */
	    {"1.2.3.4.5", NULL},   /* too many */
	    {"0001.2.3.4", NULL},  /* four digits */
	    {"a.2.3.4", NULL},
	    {"1..3.4", NULL},
	    {"", NULL},
	    {"1.2.3.4.", NULL},
	    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.g", NULL},
	    {"10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2", NULL}, /* 2 digits */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t got[16], want[16];
		int rc = blocklist_name_parse(cases[i].name, got);
		if (!cases[i].addr) {
			CHECK(rc < 0, "%s must not parse", cases[i].name);
			continue;
		}
		addr_of(cases[i].addr, want);
		CHECK(rc == 0 && memcmp(got, want, 16) == 0, "%s", cases[i].name);
		char back[80];
		blocklist_name_format(want, back, sizeof(back));
		uint8_t again[16];
		CHECK(blocklist_name_parse(back, again) == 0 && !memcmp(again, want, 16), "%s",
		      back);
	}
}

static struct blocklist_index *sample_index(void)
{
	static const struct {
		const char *net;
		unsigned code;
		const char *txt;
	} rows[] = {
	    {"192.0.2.1", 2, "host"},	   {"198.51.100.0/24", 3, "net24"},
	    {"198.51.0.0/16", 4, "net16"}, {"2001:db8::/32", 5, "v6net"},
	    {"2001:db8::1", 6, "v6host"},  {"127.0.0.0/8", 7, "loopback8"},
	};
	struct blocklist_index *x = blocklist_index_new();
	for (size_t i = 0; x && i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cidr c;
		CHECK(cidr_parse(rows[i].net, &c) == 0, "%s", rows[i].net);
		CHECK(blocklist_index_add(x, &c, rows[i].code, rows[i].txt) == 0, "%s",
		      rows[i].net);
	}
	if (x)
		CHECK(blocklist_index_finish(x) == 0, "finish");
	return x;
}

static void test_index(void)
{
	static const struct {
		const char *addr;
		unsigned code; /* 0: not listed */
	} cases[] = {
	    {"192.0.2.1", 2},	{"192.0.2.2", 0},     {"198.51.100.9", 3}, /* most specific wins */
	    {"198.51.7.1", 4},	{"198.52.0.1", 0},    {"2001:db8::1", 6},
	    {"2001:db8::2", 5}, {"2001:db9::1", 0},   {"127.0.0.2", 2}, /* the test entry */
	    {"127.0.0.1", 0}, /* RFC 5782 5: never listed, even inside 127.0.0.0/8 */
	    {"127.0.0.3", 7},	{"::ffff:7f00:2", 2}, {"::ffff:7f00:1", 0},
	};
	struct blocklist_index *x = sample_index();
	CHECK(x != NULL, "index");
	if (!x)
		return;
	CHECK(blocklist_index_size(x) == 7, "size %zu", blocklist_index_size(x));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16];
		unsigned code = 0;
		const char *txt = NULL;
		addr_of(cases[i].addr, a);
		int hit = blocklist_index_lookup(x, a, &code, &txt);
		CHECK(hit == (cases[i].code != 0) && (!hit || code == cases[i].code), "%s: %d %u",
		      cases[i].addr, hit, code);
	}
	blocklist_index_free(x);
}

/* 100,000 /32s (every other address) and /24s beside them: each found, each neighbour not —
 * the hash table at a size where collisions are certain. */
static void test_index_large(void)
{
	struct blocklist_index *x = blocklist_index_new();
	struct cidr c = {{0}, 128};
	addr_of("10.0.0.0", c.addr);
	for (uint32_t i = 0; x && i < 100000; i++) {
		uint32_t v = (10u << 24) + 2 * i;
		c.addr[12] = (uint8_t)(v >> 24), c.addr[13] = (uint8_t)(v >> 16);
		c.addr[14] = (uint8_t)(v >> 8), c.addr[15] = (uint8_t)v;
		blocklist_index_add(x, &c, 2 + i % 200, "bulk");
	}
	struct cidr net;
	cidr_parse("172.16.5.0/24", &net);
	if (x)
		blocklist_index_add(x, &net, 9, "net");
	CHECK(x && blocklist_index_finish(x) == 0, "finish");
	unsigned hits = 0, wrong = 0, strays = 0;
	for (uint32_t i = 0; x && i < 100000; i++) {
		uint8_t a[16];
		memcpy(a, c.addr, 12);
		uint32_t v = (10u << 24) + 2 * i;
		a[12] = (uint8_t)(v >> 24), a[13] = (uint8_t)(v >> 16), a[14] = (uint8_t)(v >> 8);
		a[15] = (uint8_t)v;
		unsigned code = 0;
		const char *txt;
		if (blocklist_index_lookup(x, a, &code, &txt))
			hits++, wrong += code != 2 + i % 200;
		a[15] |= 1;
		strays += (unsigned)blocklist_index_lookup(x, a, &code, &txt);
	}
	CHECK(hits == 100000 && wrong == 0 && strays == 0, "hits %u wrong %u strays %u", hits,
	      wrong, strays);
	uint8_t in_net[16];
	unsigned code = 0;
	const char *txt = NULL;
	addr_of("172.16.5.77", in_net);
	CHECK(x && blocklist_index_lookup(x, in_net, &code, &txt) && code == 9, "/24 beside /32s");
	blocklist_index_free(x);
}

/* ---- the query handler ---- */
static const struct blocklist_zone zone = {
    "bl.example.test", "ns.example.test", "hostmaster.bl.example.test", "https://x.test/?ip=", 300,
    2024010101};

/* Ask name/type in zone z (edns: advertise that size, 0 = none); the parsed answer or NULL. */
static ldns_pkt *ask_zone(const struct blocklist_zone *z, const struct blocklist_index *x,
			  const char *name, ldns_rr_type type, uint16_t edns, int tcp)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL, out[BLOCKLIST_MSG_MAX];
	size_t len;
	if (ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		return NULL;
	ldns_pkt_set_id(q, 4242);
	if (edns)
		ldns_pkt_set_edns_udp_size(q, edns);
	ldns_pkt2wire(&wire, q, &len);
	ldns_pkt_free(q);
	struct blocklist_zone pz = *z;
	CHECK(blocklist_zone_prepare(&pz) == 0, "zone %s", z->zone);
	size_t n = blocklist_query_answer(&pz, x, wire, len, out, sizeof(out), tcp);
	free(wire);
	ldns_pkt *r = NULL;
	if (n == 0 || ldns_wire2pkt(&r, out, n) != LDNS_STATUS_OK)
		return NULL;
	return r;
}

static ldns_pkt *ask(const struct blocklist_index *x, const char *name, ldns_rr_type type,
		     uint16_t edns, int tcp)
{
	return ask_zone(&zone, x, name, type, edns, tcp);
}

static void test_query(void)
{
	static const struct {
		const char *name;
		ldns_rr_type type;
		ldns_pkt_rcode rcode;
		size_t an, ns;	   /* answer and authority counts */
		const char *first; /* the first answer's rdata, "" none */
	} cases[] = {
	    {"2.0.0.127.bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1, 0, "127.0.0.2"},
	    {"2.0.0.127.BL.Example.TEST.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1, 0, "127.0.0.2"},
	    {"1.0.0.127.bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, 0, 1, ""},
	    {"9.100.51.198.bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1, 0, "127.0.0.3"},
	    {"9.100.51.198.bl.example.test", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR, 1, 0,
	     "\"net24; https://x.test/?ip=198.51.100.9\""},
	    {"9.100.51.198.bl.example.test", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR, 2, 0,
	     "127.0.0.3"},
	    {"9.100.51.198.bl.example.test", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, 0, 1, ""},
	    {V6_2001_DB8_1 ".bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1, 0,
	     "127.0.0.6"},
	    {V6_TEST_2 ".bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 1, 0, "127.0.0.2"},
	    {"x.bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, 0, 1, ""},
	    {"bl.example.test", LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, 1, 0,
	     "ns.example.test. hostmaster.bl.example.test. 2024010101 3600 600 604800 300"},
	    {"bl.example.test", LDNS_RR_TYPE_NS, LDNS_RCODE_NOERROR, 1, 0, "ns.example.test."},
	    {"bl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, 0, 1, ""},
	    {"example.test", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, 0, 0, ""},
	    {"2.0.0.127.xbl.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_REFUSED, 0, 0, ""},
	};
	struct blocklist_index *x = sample_index();
	for (size_t i = 0; x && i < sizeof(cases) / sizeof(cases[0]); i++) {
		ldns_pkt *r = ask(x, cases[i].name, cases[i].type, 0, 0);
		CHECK(r != NULL, "%s: no answer", cases[i].name);
		if (!r)
			continue;
		CHECK(ldns_pkt_id(r) == 4242 && ldns_pkt_qr(r) && ldns_pkt_qdcount(r) == 1,
		      "%s hdr", cases[i].name);
		CHECK(ldns_pkt_get_rcode(r) == cases[i].rcode, "%s rcode %d", cases[i].name,
		      ldns_pkt_get_rcode(r));
		CHECK(ldns_pkt_ancount(r) == cases[i].an && ldns_pkt_nscount(r) == cases[i].ns,
		      "%s counts %u %u", cases[i].name, ldns_pkt_ancount(r), ldns_pkt_nscount(r));
		if (cases[i].an) {
			ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(r), 0);
			char *got = NULL;
			if (ldns_rr_rd_count(rr) == 1)
				got = ldns_rdf2str(ldns_rr_rdf(rr, 0));
			else {
				ldns_buffer *b = ldns_buffer_new(256);
				for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
					if (k)
						ldns_buffer_printf(b, " ");
					ldns_rdf2buffer_str(b, ldns_rr_rdf(rr, k));
				}
				got = ldns_buffer_export2str(b);
				ldns_buffer_free(b);
			}
			CHECK_STR(got, cases[i].first, "%s", cases[i].name);
			free(got);
		}
		ldns_pkt_free(r);
	}
	blocklist_index_free(x);
}

/* An answer over 512 bytes (a long zone name, a 255-byte TXT): TC over UDP, the whole answer
 * over TCP (RFC 7766) or with EDNS. */
#define LONG_LABEL "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_ZONE                                                                                  \
	LONG_LABEL "." LONG_LABEL "."                                                              \
		   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.test"
static void test_truncation(void)
{
	const struct blocklist_zone lz = {
	    LONG_ZONE, "ns.example.test", "hostmaster.example.test", "https://x.test/?ip=", 300, 1};
	struct blocklist_index *x = blocklist_index_new();
	char long_txt[250];
	memset(long_txt, 'r', sizeof(long_txt) - 1);
	long_txt[sizeof(long_txt) - 1] = '\0';
	struct cidr c;
	cidr_parse("2001:db8::1", &c);
	blocklist_index_add(x, &c, 2, long_txt);
	CHECK(blocklist_index_finish(x) == 0, "finish");
	const char *name = V6_2001_DB8_1 "." LONG_ZONE;
	ldns_pkt *udp = ask_zone(&lz, x, name, LDNS_RR_TYPE_ANY, 0, 0);
	ldns_pkt *tcp = ask_zone(&lz, x, name, LDNS_RR_TYPE_ANY, 0, 1);
	ldns_pkt *edns = ask_zone(&lz, x, name, LDNS_RR_TYPE_ANY, 1232, 0);
	CHECK(udp && ldns_pkt_tc(udp) && ldns_pkt_ancount(udp) == 0, "udp must truncate");
	CHECK(tcp && !ldns_pkt_tc(tcp) && ldns_pkt_ancount(tcp) == 2, "tcp answers in full");
	CHECK(edns && !ldns_pkt_tc(edns) && ldns_pkt_ancount(edns) == 2, "edns 1232 fits");
	ldns_pkt_free(udp), ldns_pkt_free(tcp), ldns_pkt_free(edns);
	blocklist_index_free(x);
}

static void test_malformed(void)
{
	/* header of a query, qdcount 1, then a name whose pointer points at itself */
	static const uint8_t loop[] = {0x12, 0x34, 0, 0,    0,	1, 0, 0, 0,
				       0,    0,	   0, 0xc0, 12, 0, 1, 0, 1};
	/* qdcount 65535, ancount 65535, nothing after */
	static const uint8_t counts[] = {0x12, 0x34, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
	/* a name cut off in the middle of a label */
	static const uint8_t cut[] = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a', 'b'};
	/* a response (QR set): never answered */
	static const uint8_t resp[] = {0x12, 0x34, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const struct {
		const uint8_t *p;
		size_t n;
		int drop;
	} cases[] = {
	    {loop, sizeof(loop), 0},
	    {counts, sizeof(counts), 0},
	    {cut, sizeof(cut), 0},
	    {resp, sizeof(resp), 1},
	    {loop, 5, 1},
	};
	struct blocklist_index *x = blocklist_index_new();
	CHECK(blocklist_index_finish(x) == 0, "finish");
	struct blocklist_zone pz = zone;
	CHECK(blocklist_zone_prepare(&pz) == 0, "zone");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[BLOCKLIST_MSG_MAX];
		size_t n =
		    blocklist_query_answer(&pz, x, cases[i].p, cases[i].n, out, sizeof(out), 0);
		if (cases[i].drop) {
			CHECK(n == 0, "case %zu must be dropped", i);
			continue;
		}
		ldns_pkt *r = NULL;
		CHECK(n >= 12 && ldns_wire2pkt(&r, out, n) == LDNS_STATUS_OK, "case %zu", i);
		CHECK(r && ldns_pkt_get_rcode(r) == LDNS_RCODE_FORMERR && ldns_pkt_id(r) == 0x1234,
		      "case %zu: FORMERR", i);
		ldns_pkt_free(r);
	}
	blocklist_index_free(x);
}

/* ---- the codec on hand-made packets (what ldns would not build) ---- */
/* A query for name (text, case kept) type A class IN: header (qd 1, an/ns/ar as given), the
 * question, then tail. Its length. */
static size_t make_query(uint8_t *p, const char *name, uint16_t counts[3], const uint8_t *tail,
			 size_t tail_len)
{
	size_t n = 12;
	memset(p, 0, 12);
	p[0] = 0xbe, p[1] = 0xef, p[2] = 0x01, p[5] = 1; /* id, RD, QDCOUNT 1 */
	for (int i = 0; i < 3; i++)
		p[6 + 2 * i] = (uint8_t)(counts[i] >> 8), p[7 + 2 * i] = (uint8_t)counts[i];
	for (const char *l = name; *l;) {
		const char *dot = strchr(l, '.');
		size_t len = dot ? (size_t)(dot - l) : strlen(l);
		p[n++] = (uint8_t)len;
		memcpy(p + n, l, len);
		n += len;
		l += len + (dot != NULL);
	}
	p[n++] = 0;
	const uint8_t qt[4] = {0, 1, 0, 1};
	memcpy(p + n, qt, 4);
	if (tail_len)
		memcpy(p + n + 4, tail, tail_len);
	return n + 4 + tail_len;
}

static void test_codec(void)
{
	static const uint8_t opt4096[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t opt100[] = {0, 0, 41, 0, 100, 0, 0, 0, 0, 0, 0};
	static const uint8_t two_opts[] = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
					   0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t opt_named[] = {1, 'x', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t ptr_rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
	static const struct {
		const char *what, *name;
		uint16_t counts[3]; /* an ns ar */
		const uint8_t *tail;
		size_t tail_len;
		size_t cut;    /* bytes cut off the end */
		int rcode;     /* -1: dropped */
		uint16_t edns; /* the OPT size in the answer, 0 = none */
	} cases[] = {
	    {"plain", "2.0.0.127.bl.example.test", {0, 0, 0}, NULL, 0, 0, 0, 0},
	    {"0x20 case", "2.0.0.127.bL.ExAmPlE.tEsT", {0, 0, 0}, NULL, 0, 0, 0, 0},
	    {"edns 4096", "2.0.0.127.bl.example.test", {0, 0, 1}, opt4096, 11, 0, 0, 1232},
	    {"edns 100", "1.0.0.127.bl.example.test", {0, 0, 1}, opt100, 11, 0, 3, 1232},
	    {"two OPTs", "2.0.0.127.bl.example.test", {0, 0, 2}, two_opts, 22, 0, 1, 0},
	    {"OPT not at the root", "2.0.0.127.bl.example.test", {0, 0, 1}, opt_named, 13, 0, 1, 0},
	    {"OPT cut", "2.0.0.127.bl.example.test", {0, 0, 1}, opt4096, 11, 3, 1, 0},
	    {"an answer RR with a pointer",
	     "2.0.0.127.bl.example.test",
	     {1, 0, 0},
	     ptr_rr,
	     16,
	     0,
	     0,
	     0},
	    {"ancount 65535, nothing",
	     "2.0.0.127.bl.example.test",
	     {65535, 0, 0},
	     NULL,
	     0,
	     0,
	     1,
	     0},
	    {"arcount 65535, one OPT",
	     "2.0.0.127.bl.example.test",
	     {0, 0, 65535},
	     opt4096,
	     11,
	     0,
	     1,
	     0},
	    {"qtype cut", "2.0.0.127.bl.example.test", {0, 0, 0}, NULL, 0, 2, 1, 0},
	    {"name cut", "2.0.0.127.bl.example.test", {0, 0, 0}, NULL, 0, 8, 1, 0},
	    {"a dot inside a label", "2\\.0.0.127.bl.example.test", {0, 0, 0}, NULL, 0, 0, 3, 0},
	};
	struct blocklist_index *x = sample_index();
	struct blocklist_zone pz = zone;
	CHECK(x && blocklist_zone_prepare(&pz) == 0, "setup");
	for (size_t i = 0; x && i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t q[600], out[BLOCKLIST_MSG_MAX];
		uint16_t counts[3] = {cases[i].counts[0], cases[i].counts[1], cases[i].counts[2]};
		size_t n = make_query(q, cases[i].name, counts, cases[i].tail, cases[i].tail_len);
		if (strchr(cases[i].name, '\\')) /* "2\.0" → one label "2.0" */
			memmove(q + 14, q + 15, n - 15), q[12] = 3, q[13] = '2', q[14] = '.', n--;
		size_t r = blocklist_query_answer(&pz, x, q, n - cases[i].cut, out, sizeof(out), 0);
		ldns_pkt *a = NULL;
		CHECK(r >= 12 && ldns_wire2pkt(&a, out, r) == LDNS_STATUS_OK, "%s", cases[i].what);
		if (!a)
			continue;
		CHECK((int)ldns_pkt_get_rcode(a) == cases[i].rcode && ldns_pkt_id(a) == 0xbeef &&
			  ldns_pkt_rd(a),
		      "%s: rcode %d", cases[i].what, ldns_pkt_get_rcode(a));
		CHECK(ldns_pkt_edns_udp_size(a) == cases[i].edns, "%s: edns %u", cases[i].what,
		      ldns_pkt_edns_udp_size(a));
		if (cases[i].rcode == 0) /* the question echoed byte for byte (0x20 case kept) */
			CHECK(r > n - cases[i].tail_len &&
				  !memcmp(out + 12, q + 12, n - cases[i].tail_len - 12),
			      "%s: question not echoed", cases[i].what);
		ldns_pkt_free(a);
	}
	blocklist_index_free(x);
}

/* Packets that get FORMERR or nothing, whatever their bytes. */
static void test_codec_hostile(void)
{
	static const uint8_t ptr_question[] = {1, 2, 0, 0,   0,	   1,  0, 0, 0, 0,
					       0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1};
	static const uint8_t ext_label[] = {1, 2, 0, 0,	   0, 1, 0, 0, 0,
					    0, 0, 0, 0x41, 0, 0, 1, 0, 1};
	static const uint8_t qd_two[] = {1, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0,
					 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1};
	static const uint8_t qd_zero[] = {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t status[] = {1, 2, 0x10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1};
	uint8_t long_name[12 + 300 + 4] = {1, 2, 0, 0, 0, 1};
	for (size_t o = 12; o + 64 <= 12 + 300; o += 64) /* five 63-byte labels: 320 > 255 */
		long_name[o] = 63, memset(long_name + o + 1, 'a', 63);
	const struct {
		const char *what;
		const uint8_t *p;
		size_t n;
		int rcode; /* -1: dropped */
	} cases[] = {
	    {"compression pointer in the question", ptr_question, sizeof(ptr_question), 1},
	    {"extended label type", ext_label, sizeof(ext_label), 1},
	    {"qdcount 2", qd_two, sizeof(qd_two), 1},
	    {"qdcount 0", qd_zero, sizeof(qd_zero), 1},
	    {"opcode STATUS", status, sizeof(status), 4},
	    {"name over 255 bytes", long_name, sizeof(long_name), 1},
	    {"11 bytes", qd_zero, 11, -1},
	};
	struct blocklist_index *x = sample_index();
	struct blocklist_zone pz = zone;
	CHECK(x && blocklist_zone_prepare(&pz) == 0, "setup");
	for (size_t i = 0; x && i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t out[BLOCKLIST_MSG_MAX];
		size_t r =
		    blocklist_query_answer(&pz, x, cases[i].p, cases[i].n, out, sizeof(out), 0);
		if (cases[i].rcode < 0) {
			CHECK(r == 0, "%s: must be dropped", cases[i].what);
			continue;
		}
		CHECK(r == 12 && out[0] == 1 && out[1] == 2 && (out[2] & 0x80) &&
			  (out[3] & 0x0f) == cases[i].rcode,
		      "%s: %zu bytes rcode %d", cases[i].what, r, r >= 12 ? out[3] & 0x0f : -1);
	}
	struct blocklist_zone unprepared = zone; /* a zone never prepared answers nothing */
	uint8_t out[512];
	CHECK(blocklist_query_answer(&unprepared, x, qd_two, sizeof(qd_two), out, sizeof(out), 0) ==
		  0,
	      "unprepared zone");
	blocklist_index_free(x);
}

/* The negative answer's SOA is owned by the zone (a pointer into the question), and the slip
 * form of an answer is its question with TC. */
static void test_codec_soa_and_slip(void)
{
	struct blocklist_index *x = sample_index();
	ldns_pkt *r = ask(x, "1.0.0.127.bl.example.test", LDNS_RR_TYPE_A, 0, 0);
	ldns_rr *soa = r ? ldns_rr_list_rr(ldns_pkt_authority(r), 0) : NULL;
	char *owner = soa ? ldns_rdf2str(ldns_rr_owner(soa)) : NULL;
	CHECK_STR(owner, "bl.example.test.", "SOA owner");
	free(owner);
	ldns_pkt_free(r);
	uint8_t q[300], out[BLOCKLIST_MSG_MAX];
	uint16_t counts[3] = {0, 0, 0};
	size_t n = make_query(q, "9.100.51.198.bl.example.test", counts, NULL, 0);
	struct blocklist_zone pz = zone;
	blocklist_zone_prepare(&pz);
	size_t len = blocklist_query_answer(&pz, x, q, n, out, sizeof(out), 0);
	size_t t = blocklist_answer_truncate(out, len);
	ldns_pkt *tc = NULL;
	CHECK(t == n && ldns_wire2pkt(&tc, out, t) == LDNS_STATUS_OK, "truncate %zu %zu", t, n);
	CHECK(tc && ldns_pkt_tc(tc) && ldns_pkt_ancount(tc) == 0 && ldns_pkt_qdcount(tc) == 1,
	      "slip answer");
	ldns_pkt_free(tc);
	CHECK(blocklist_answer_truncate(q, n) == 0, "a query is no answer");
	blocklist_index_free(x);
}

/* ---- response-rate limiting ---- */
static void test_rrl(void)
{
	const struct blocklist_rrl_conf conf = {5, 2, 24, 56};
	struct blocklist_rrl *r = blocklist_rrl_new(&conf, 42);
	uint8_t a2[16], a3[16], other[16], v6a[16], v6b[16], v6c[16];
	addr_of("127.0.0.2", a2), addr_of("127.0.0.3", a3), addr_of("127.0.1.3", other);
	addr_of("2001:db8:0:ff::1", v6a), addr_of("2001:db8:0:ff::2", v6b);
	addr_of("2001:db8:0:100::1", v6c);
	const struct {
		const uint8_t *addr;
		uint64_t ms;
		enum blocklist_rrl_verdict want;
		const char *what;
	} cases[] = {
	    {a2, 1000, BLOCKLIST_RRL_SEND, "burst 1"},
	    {a2, 1000, BLOCKLIST_RRL_SEND, "burst 2"},
	    {a2, 1000, BLOCKLIST_RRL_SEND, "burst 3"},
	    {a2, 1000, BLOCKLIST_RRL_SEND, "burst 4"},
	    {a3, 1000, BLOCKLIST_RRL_SEND, "same /24 5"},
	    {a2, 1000, BLOCKLIST_RRL_DROP, "over 1"},
	    {a3, 1000, BLOCKLIST_RRL_SLIP, "over 2: slip"},
	    {a2, 1000, BLOCKLIST_RRL_DROP, "over 3"},
	    {other, 1000, BLOCKLIST_RRL_SEND, "another /24"},
	    {a2, 1199, BLOCKLIST_RRL_SLIP, "199ms"},
	    {a2, 1200, BLOCKLIST_RRL_SEND, "200ms: one more"},
	    {a2, 1200, BLOCKLIST_RRL_DROP, "again"},
	    {a2, 2300, BLOCKLIST_RRL_SEND, "a second later: full"},
	    {v6a, 1000, BLOCKLIST_RRL_SEND, "v6"},
	};
	for (size_t i = 0; r && i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(blocklist_rrl_check(r, cases[i].addr, cases[i].ms) == cases[i].want, "%s",
		      cases[i].what);
	for (int i = 0; r && i < 4; i++) /* v6a and v6b share a /56, v6c does not */
		blocklist_rrl_check(r, i % 2 ? v6a : v6b, 1000);
	CHECK(r && blocklist_rrl_check(r, v6b, 1000) != BLOCKLIST_RRL_SEND, "v6 /56 shared");
	CHECK(r && blocklist_rrl_check(r, v6c, 1000) == BLOCKLIST_RRL_SEND, "v6 other /56");
	struct blocklist_rrl_stats st;
	if (r)
		blocklist_rrl_stats(r, &st);
	CHECK(r && st.dropped == 4 && st.slipped == 2 && st.evicted == 0, "stats %llu %llu",
	      r ? (unsigned long long)st.dropped : 0, r ? (unsigned long long)st.slipped : 0);
	unsigned limited = 0;
	for (uint32_t i = 0; r && i < 100000; i++) { /* a spoofed flood: the table stays put */
		uint8_t a[16];
		addr_of("10.0.0.0", a);
		a[12] = (uint8_t)(10 + (i >> 16)), a[13] = (uint8_t)(i >> 8), a[14] = (uint8_t)i;
		limited += blocklist_rrl_check(r, a, 3000) != BLOCKLIST_RRL_SEND;
	}
	CHECK(limited == 0, "a new network starts with a full bucket: %u limited", limited);
	if (r)
		blocklist_rrl_stats(r, &st);
	CHECK(r && st.evicted >= 100000 - BLOCKLIST_RRL_SLOTS, "evicted %llu",
	      r ? (unsigned long long)st.evicted : 0);
	blocklist_rrl_free(r);
	const struct blocklist_rrl_conf off = {0, 2, 24, 56};
	r = blocklist_rrl_new(&off, 1);
	limited = 0;
	for (int i = 0; r && i < 1000; i++)
		limited += blocklist_rrl_check(r, a2, 1000) != BLOCKLIST_RRL_SEND;
	CHECK(r && limited == 0, "off: %u limited", limited);
	blocklist_rrl_free(r);
	const struct blocklist_rrl_conf per_host = {1, 0, 32, 128};
	r = blocklist_rrl_new(&per_host, 1);
	CHECK(r && blocklist_rrl_check(r, a2, 5) == BLOCKLIST_RRL_SEND &&
		  blocklist_rrl_check(r, a2, 5) == BLOCKLIST_RRL_DROP &&
		  blocklist_rrl_check(r, a2, 5) == BLOCKLIST_RRL_DROP &&
		  blocklist_rrl_check(r, a3, 5) == BLOCKLIST_RRL_SEND,
	      "/32, slip 0: drop all");
	blocklist_rrl_free(r);
}

/* ---- the store ---- */
static int count_changes(void *arg, const struct blocklist_change *c)
{
	(void)c;
	++*(int *)arg;
	return 0;
}

static int count_entries(void *arg, const struct blocklist_entry *e)
{
	(void)e;
	++*(int *)arg;
	return 0;
}

static void test_store(void)
{
	char dir[] = "/tmp/rg-blocklist-XXXXXX", path[256], err[256] = "";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/db/bl.db", dir);
	struct blocklist *b = NULL;
	CHECK(blocklist_open(path, &b, err, sizeof(err)) == 0, "open: %s", err);
	if (!b)
		return;
	struct cidr host, net;
	cidr_parse("192.0.2.1", &host);
	cidr_parse("192.0.2.0/24", &net);
	const char *tests[] = {"percent-hack", "bang-path"};
	struct blocklist_evidence ev = {tests, 2, 3, "220 hi\r\nRCPT \"x\"\r\n", 1000, "127.0.0.9"};
	CHECK(blocklist_list(b, &host, 2, "open relay", &ev, "scanner", "open", 1000, err,
			     sizeof(err)) == 0,
	      "list: %s", err);
	CHECK(blocklist_list(b, &net, 3, "spam net", NULL, "cli:a", "spam", 1001, err,
			     sizeof(err)) == 0,
	      "list net: %s", err);
	CHECK(blocklist_list(b, &host, 1, "bad code", NULL, "x", "y", 1, err, sizeof(err)) < 0,
	      "code 1 refused");
	struct blocklist_entry e;
	uint8_t a[16];
	addr_of("192.0.2.1", a);
	CHECK(blocklist_lookup(b, a, &e) == 0 && e.code == 2 && e.evidence &&
		  strstr(e.evidence, "\"tests\":[\"percent-hack\",\"bang-path\"]") &&
		  strstr(e.evidence, "RCPT \\\"x\\\"\\r\\n"),
	      "lookup host: %s", e.evidence ? e.evidence : "(none)");
	blocklist_entry_clear(&e);
	CHECK(blocklist_delist(b, &host, BLOCKLIST_DELISTED, "cli:a", "fixed", 1002, err,
			       sizeof(err)) == 0,
	      "delist");
	CHECK(blocklist_delist(b, &host, BLOCKLIST_DELISTED, "cli:a", "again", 1003, err,
			       sizeof(err)) == 1,
	      "delist twice: not listed");
	CHECK(blocklist_lookup(b, a, &e) == 0 && e.code == 3, "now the /24 holds it");
	blocklist_entry_clear(&e);
	CHECK(blocklist_record_clean(b, a, "127.0.0.9", 1004, err, sizeof(err)) == 0, "clean");
	int64_t when = 0;
	CHECK(blocklist_last_clean(b, a, &when) == 0 && when == 1004, "last clean %lld",
	      (long long)when);
	CHECK(blocklist_get(b, &host, &e) == 0 && e.state == BLOCKLIST_DELISTED &&
		  e.last_clean == 1004 && e.first_seen == 1000,
	      "get delisted");
	blocklist_entry_clear(&e);
	/* relisting restarts first_seen and keeps the history */
	CHECK(blocklist_list(b, &host, 2, "open again", NULL, "scanner", "open", 2000, err,
			     sizeof(err)) == 0,
	      "relist");
	CHECK(blocklist_get(b, &host, &e) == 0 && e.first_seen == 2000 && e.evidence, "relisted");
	blocklist_entry_clear(&e);
	int changes = 0, listed = 0;
	blocklist_history(b, &host, count_changes, &changes);
	blocklist_foreach(b, 1, count_entries, &listed);
	CHECK(changes == 3 && listed == 2, "history %d listed %d", changes, listed);
	char x_err[256];
	struct blocklist_index *x = blocklist_index_load(b, x_err, sizeof(x_err));
	CHECK(x && blocklist_index_size(x) == 3, "index from store");
	blocklist_index_free(x);
	blocklist_close(b);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* The DNS server's counters as Prometheus text: every family once, the RCODEs by name (the
 * rest as "other"), the limiter's lines only when it is on, and the snprintf contract. */
static void test_metrics_format(void)
{
	struct blocklist_dns_metrics m = {0};
	m.queries[BLOCKLIST_UDP] = 7, m.queries[BLOCKLIST_TCP] = 2, m.ignored = 1;
	m.rcodes[0] = 3, m.rcodes[3] = 4, m.rcodes[1] = 1, m.rcodes[9] = 2, m.rcodes[15] = 1;
	m.entries = 3, m.index_loads = 1, m.serial = 1700000000;
	char buf[8192];
	size_t n = blocklist_metrics_format(&m, buf, sizeof(buf));
	CHECK(n == strlen(buf) && n < sizeof(buf), "metrics: length %zu", n);
	const char *want[] = {
	    "relayguard_blocklist_queries_total{transport=\"udp\"} 7\n",
	    "relayguard_blocklist_queries_total{transport=\"tcp\"} 2\n",
	    "relayguard_blocklist_ignored_total 1\n",
	    "relayguard_blocklist_answers_total{rcode=\"NOERROR\"} 3\n",
	    "relayguard_blocklist_answers_total{rcode=\"NXDOMAIN\"} 4\n",
	    "relayguard_blocklist_answers_total{rcode=\"FORMERR\"} 1\n",
	    "relayguard_blocklist_answers_total{rcode=\"other\"} 3\n",
	    "relayguard_blocklist_entries 3\n",
	    "relayguard_blocklist_zone_serial 1700000000\n",
	    "relayguard_blocklist_index_loads_total 1\n",
	    "# TYPE relayguard_blocklist_tcp_connections gauge\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(buf, want[i]) != NULL, "metrics: missing %s", want[i]);
	CHECK(!strstr(buf, "rate_limited"), "metrics: no limiter lines when it is off");
	m.rrl_on = 1, m.rrl.dropped = 5, m.rrl.slipped = 6, m.rrl.evicted = 7;
	n = blocklist_metrics_format(&m, buf, sizeof(buf));
	CHECK(strstr(buf, "relayguard_blocklist_rate_limited_total{action=\"dropped\"} 5\n") &&
		  strstr(buf, "relayguard_blocklist_rate_limited_total{action=\"slipped\"} 6\n") &&
		  strstr(buf, "relayguard_blocklist_rate_limit_evictions_total 7\n"),
	      "metrics: limiter lines");
	char small[40];
	CHECK(blocklist_metrics_format(&m, small, sizeof(small)) == n &&
		  strlen(small) == sizeof(small) - 1 && !strncmp(small, buf, sizeof(small) - 1),
	      "metrics: a short buffer gets the start, the length of the whole");
	CHECK(blocklist_metrics_format(&m, NULL, 0) == n, "metrics: sizing call");
}

int main(void)
{
	test_names();
	test_index();
	test_index_large();
	test_query();
	test_truncation();
	test_malformed();
	test_codec();
	test_codec_hostile();
	test_codec_soa_and_slip();
	test_rrl();
	test_store();
	test_metrics_format();
	return check_report("test_blocklist");
}
