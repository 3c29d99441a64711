/* test_blocklist.c — DNSBL query names (RFC 5782 2.1 IPv4 octets, 2.4 IPv6 nibbles), the prefix
 * index, the query handler on packets built with ldns (and on broken ones), and the SQLite
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
		blocklist_index_finish(x);
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
	blocklist_index_finish(x);
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
	blocklist_index_finish(x);
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

int main(void)
{
	test_names();
	test_index();
	test_query();
	test_truncation();
	test_malformed();
	test_store();
	return check_report("test_blocklist");
}
