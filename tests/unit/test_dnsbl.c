/* test_dnsbl.c — the pure parts of the DNSBL client: query names (RFC 5782 2.1, 2.4), what an
 * answer means (error answers are never a listing), TXT cleaning, weighted scores and replies,
 * the bounded cache with a fake clock, the A/TXT reply parser, and the config directives. */
#include "check.h"

#include "conf/conf.h"
#include "dnsbl/dnsbl.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static void addr_of(const char *text, uint8_t out[16])
{
	struct in_addr a4;
	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, &a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, text, out) != 1) {
		abort();
	}
}

static void test_query_names(void)
{
	static const struct {
		const char *ip, *zone, *want;
	} cases[] = {
	    /* RFC 5782 2.1 */
	    {"192.0.2.99", "bl.example", "99.2.0.192.bl.example"},
	    {"127.0.0.2", "zen.example", "2.0.0.127.zen.example"},
	    /* RFC 5782 2.4 */
	    {"2001:db8:1:2:3:4:567:89ab", "ugly.example",
	     "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example"},
	    {"::1", "bl.test",
	     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16];
		char name[DNSBL_NAME_MAX];
		addr_of(cases[i].ip, a);
		CHECK(dnsbl_query_name(a, cases[i].zone, name, sizeof(name)) == 0, "%s",
		      cases[i].ip);
		CHECK_STR(name, cases[i].want, "%s", cases[i].ip);
	}
	/* the IPv6 health entry ::FFFF:7F00:2 is asked as 32 nibbles */
	uint8_t a[16];
	char name[DNSBL_NAME_MAX], small[10];
	addr_of("127.0.0.2", a);
	CHECK(dnsbl_query_name6(a, "bl.test", name, sizeof(name)) == 0, "v6 form");
	CHECK_STR(name, "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test",
		  "::FFFF:7F00:2");
	CHECK(dnsbl_query_name(a, "bl.test", small, sizeof(small)) < 0, "too small is refused");
}

static struct dns_rr_result answer(enum dns_status st, const char *a1, const char *a2)
{
	struct dns_rr_result r;
	memset(&r, 0, sizeof(r));
	r.status = st;
	const char *as[2] = {a1, a2};
	for (int i = 0; i < 2; i++)
		if (as[i]) {
			struct in_addr x;
			inet_pton(AF_INET, as[i], &x);
			r.a[r.n_a++] = ntohl(x.s_addr);
		}
	r.ttl = 300;
	return r;
}

static void test_classify(void)
{
	static const struct conf_dnsbl_codes filter[] = {{0x7f000002, 0x7f000002},
							 {0x7f000004, 0x7f000007}};
	static const struct {
		enum dns_status st;
		const char *a1, *a2;
		int filtered;
		enum dnsbl_answer want;
		const char *why;
	} cases[] = {
	    {DNS_NOTFOUND, NULL, NULL, 0, DNSBL_NOT_LISTED, "NXDOMAIN: not listed"},
	    {DNS_OK, "127.0.0.2", NULL, 0, DNSBL_LISTED, "RFC 5782 2.1 listing"},
	    {DNS_OK, "127.0.0.10", NULL, 0, DNSBL_LISTED, "any 127/8 code without a filter"},
	    {DNS_TEMPFAIL, NULL, NULL, 0, DNSBL_ERROR, "SERVFAIL/timeout"},
	    {DNS_OK, "127.255.255.254", NULL, 0, DNSBL_ERROR, "Spamhaus public resolver"},
	    {DNS_OK, "127.255.255.255", NULL, 0, DNSBL_ERROR, "Spamhaus excessive queries"},
	    {DNS_OK, "127.255.255.0", NULL, 0, DNSBL_ERROR, "start of the error range"},
	    {DNS_OK, "127.255.254.255", NULL, 0, DNSBL_LISTED, "just below the error range"},
	    {DNS_OK, "192.0.2.1", NULL, 0, DNSBL_ERROR, "outside 127/8 (a wildcard)"},
	    {DNS_OK, "127.0.0.2", "10.0.0.1", 0, DNSBL_ERROR, "one bad record spoils the answer"},
	    {DNS_OK, "127.0.0.3", NULL, 1, DNSBL_NOT_LISTED, "code not taken by the filter"},
	    {DNS_OK, "127.0.0.5", NULL, 1, DNSBL_LISTED, "code inside a filter range"},
	    {DNS_OK, "127.0.0.3", "127.0.0.7", 1, DNSBL_LISTED, "one taken code is enough"},
	    {DNS_OK, "127.255.255.254", NULL, 1, DNSBL_ERROR, "an error even with a filter"},
	    {DNS_OK, NULL, NULL, 0, DNSBL_ERROR, "OK without records"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dns_rr_result r = answer(cases[i].st, cases[i].a1, cases[i].a2);
		uint32_t code;
		char why[128];
		enum dnsbl_answer got =
		    dnsbl_classify(&r, cases[i].filtered ? filter : NULL, cases[i].filtered ? 2 : 0,
				   &code, why, sizeof(why));
		CHECK(got == cases[i].want, "%s: got %d", cases[i].why, (int)got);
		CHECK(got != DNSBL_ERROR || why[0], "%s: a reason", cases[i].why);
	}
}

static void test_txt_clean(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Listed, see http://x/127.0.0.2", "Listed, see http://x/127.0.0.2"},
	    {"a\r\n554 injected", "a??554 injected"},
	    {"  lots \t  of   space  ", "lots of space"},
	    {"caf\xc3\xa9", "caf??"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[DNSBL_TXT_MAX];
		dnsbl_txt_clean(cases[i].in, out, sizeof(out));
		CHECK_STR(out, cases[i].want, "case %zu", i);
	}
	char big[1000], out[DNSBL_TXT_MAX];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dnsbl_txt_clean(big, out, sizeof(out));
	CHECK(strlen(out) == DNSBL_TXT_MAX - 1, "cut to %d", DNSBL_TXT_MAX - 1);
}

static struct conf_dnsbl list_of(const char *zone, int weight)
{
	return (struct conf_dnsbl){.zone = (char *)zone, .weight = weight, .timeout = 5};
}

static void test_score(void)
{
	struct conf_dnsbl bl = list_of("bl.test", 2), w1 = list_of("w1.test", 1),
			  wl = list_of("wl.test", -5);
	struct dnsbl_outcome o[3] = {
	    {.list = &bl, .state = DNSBL_S_DONE, .answer = DNSBL_LISTED, .txt = "why not"},
	    {.list = &w1, .state = DNSBL_S_DONE, .answer = DNSBL_LISTED},
	    {.list = &wl, .state = DNSBL_S_DONE, .answer = DNSBL_NOT_LISTED},
	};
	struct dnsbl_verdict v;
	dnsbl_score(o, 3, 1, CONF_DNSBL_REJECT, "192.0.2.1", &v);
	CHECK(v.acts && v.score == 3 && v.n_listed == 2 && !v.allow_listed, "score %d", v.score);
	CHECK_STR(v.rule_id, "dnsbl:bl.test", "first positive list");
	CHECK_STR(v.lists, "bl.test,w1.test", "lists");
	CHECK_STR(v.reply,
		  "554 5.7.1 Service unavailable; client [192.0.2.1] listed by bl.test: why not, "
		  "w1.test",
		  "reply");
	dnsbl_score(o, 3, 1, CONF_DNSBL_DEFER, "192.0.2.1", &v);
	CHECK(!strncmp(v.reply, "450 4.7.1 ", 10), "defer: %s", v.reply);
	dnsbl_score(o, 3, 4, CONF_DNSBL_REJECT, "192.0.2.1", &v);
	CHECK(!v.acts && v.reply[0] == '\0', "below the threshold");
	o[2].answer = DNSBL_LISTED; /* the allow-list outweighs both */
	dnsbl_score(o, 3, 1, CONF_DNSBL_REJECT, "192.0.2.1", &v);
	CHECK(!v.acts && v.score == -2 && v.allow_listed, "allow-list: %d", v.score);
	o[2].answer = DNSBL_NOT_LISTED;
	o[0].suspended = 1; /* a suspended list's word is void */
	dnsbl_score(o, 3, 2, CONF_DNSBL_REJECT, "192.0.2.1", &v);
	CHECK(!v.acts && v.score == 1, "suspended: %d", v.score);
	o[0].suspended = 0;
	o[0].answer = DNSBL_ERROR; /* errors and pending lookups never list */
	o[1].state = DNSBL_S_PENDING;
	dnsbl_score(o, 3, 1, CONF_DNSBL_REJECT, "192.0.2.1", &v);
	CHECK(!v.acts && v.score == 0, "error + pending: %d", v.score);
	/* many long zones and a long reason: the reply stays one line of at most 512 octets */
	char zones[3][201];
	struct conf_dnsbl big[3];
	struct dnsbl_outcome ob[3];
	memset(ob, 0, sizeof(ob));
	for (int i = 0; i < 3; i++) {
		memset(zones[i], 'a' + i, 200);
		zones[i][200] = '\0';
		big[i] = list_of(zones[i], 1);
		ob[i] = (struct dnsbl_outcome){
		    .list = &big[i], .state = DNSBL_S_DONE, .answer = DNSBL_LISTED};
		memset(ob[i].txt, 'r', DNSBL_TXT_MAX - 1);
	}
	dnsbl_score(ob, 3, 1, CONF_DNSBL_REJECT, "2001:db8::1", &v);
	CHECK(v.acts && strlen(v.reply) + 2 <= 512, "reply length %zu", strlen(v.reply));
	/* only allow-lists list: never acts, whatever the threshold */
	o[0].answer = DNSBL_NOT_LISTED;
	o[2].answer = DNSBL_LISTED;
	dnsbl_score(o, 3, 1, CONF_DNSBL_TAG, "192.0.2.1", &v);
	CHECK(!v.acts, "allow-list alone");
}

static void test_cache(void)
{
	struct dnsbl_cache c;
	uint8_t a[16], b[16];
	addr_of("192.0.2.1", a);
	addr_of("192.0.2.2", b);
	CHECK(dnsbl_cache_init(&c, 8) == 0, "init");
	dnsbl_cache_put(&c, 1, a, DNSBL_LISTED, 0x7f000002, "r", 10, 1000); /* clamped to 60 */
	const struct dnsbl_cache_entry *e = dnsbl_cache_get(&c, 1, a, 1059);
	CHECK(e && e->answer == DNSBL_LISTED && !strcmp(e->txt, "r"), "hit within the min TTL");
	CHECK(!dnsbl_cache_get(&c, 1, a, 1060), "expired after 60 s");
	CHECK(!dnsbl_cache_get(&c, 2, a, 1000), "another list");
	CHECK(!dnsbl_cache_get(&c, 1, b, 1000), "another address");
	dnsbl_cache_put(&c, 1, b, DNSBL_NOT_LISTED, 0, "", 86400, 1000); /* clamped to 1 h */
	CHECK(dnsbl_cache_get(&c, 1, b, 4599), "within an hour");
	CHECK(!dnsbl_cache_get(&c, 1, b, 4600), "not after an hour");
	dnsbl_cache_put(&c, 1, a, DNSBL_ERROR, 0, "", 300, 2000);
	CHECK(!dnsbl_cache_get(&c, 1, a, 2000), "errors are not cached");
	/* bounded: many addresses never grow it, and the newest one is always found */
	for (unsigned i = 0; i < 1000; i++) {
		uint8_t x[16];
		memcpy(x, a, 16);
		x[14] = (uint8_t)(i >> 8);
		x[15] = (uint8_t)i;
		dnsbl_cache_put(&c, 3, x, DNSBL_LISTED, 0, "", 300, 5000 + i);
		CHECK(dnsbl_cache_get(&c, 3, x, 5000 + i), "newest %u", i);
	}
	CHECK(c.n_sets == 2, "sets %zu", c.n_sets);
	dnsbl_cache_free(&c);
	CHECK(dnsbl_cache_init(&c, 0) == 0 && !dnsbl_cache_get(&c, 1, a, 0), "size 0");
	dnsbl_cache_put(&c, 1, a, DNSBL_LISTED, 0, "", 300, 0);
	CHECK(!dnsbl_cache_get(&c, 1, a, 1), "size 0 holds nothing");
	dnsbl_cache_free(&c);
}

/* A DNS reply: header, the question, answers of one type for the same name. */
static size_t build_reply(unsigned char *buf, int rcode, int type, const char *const *rdata,
			  const size_t *rdlen, size_t n, uint32_t ttl)
{
	static const unsigned char qname[] = "\x01"
					     "2\x01"
					     "0\x01"
					     "0\x03"
					     "127\x02"
					     "bl\x04"
					     "test";
	size_t o = 0;
	unsigned char hdr[12] = {
	    0x12, 0x34, 0x81, (unsigned char)(0x80 | rcode), 0, 1, 0, (unsigned char)n, 0, 0, 0, 0};
	memcpy(buf, hdr, 12);
	o = 12;
	memcpy(buf + o, qname, sizeof(qname)); /* with its terminating 0 */
	o += sizeof(qname);
	buf[o++] = 0, buf[o++] = (unsigned char)type, buf[o++] = 0, buf[o++] = 1;
	for (size_t i = 0; i < n; i++) {
		buf[o++] = 0xc0, buf[o++] = 12; /* the question's name */
		buf[o++] = 0, buf[o++] = (unsigned char)type, buf[o++] = 0, buf[o++] = 1;
		buf[o++] = (unsigned char)(ttl >> 24), buf[o++] = (unsigned char)(ttl >> 16);
		buf[o++] = (unsigned char)(ttl >> 8), buf[o++] = (unsigned char)ttl;
		buf[o++] = (unsigned char)(rdlen[i] >> 8), buf[o++] = (unsigned char)rdlen[i];
		memcpy(buf + o, rdata[i], rdlen[i]);
		o += rdlen[i];
	}
	return o;
}

static void test_parse_reply(void)
{
	unsigned char buf[1024];
	struct dns_rr_result r;
	const char *a[] = {"\x7f\x00\x00\x02", "\x7f\x00\x00\x04"};
	size_t alen[] = {4, 4};
	size_t n = build_reply(buf, 0, 1, a, alen, 2, 300);
	CHECK(dns_parse_rr_reply(buf, n, DNS_RR_A, &r) == 0 && r.status == DNS_OK, "A");
	CHECK(r.n_a == 2 && r.a[0] == 0x7f000002 && r.a[1] == 0x7f000004, "addresses");
	CHECK(r.ttl == 300, "ttl %u", r.ttl);
	const char *t[] = {"\x05Hello\x06 world"};
	size_t tlen[] = {13};
	n = build_reply(buf, 0, 16, t, tlen, 1, 60);
	CHECK(dns_parse_rr_reply(buf, n, DNS_RR_TXT, &r) == 0 && r.status == DNS_OK, "TXT");
	CHECK_STR(r.txt, "Hello world", "strings joined");
	const char *tn[] = {"\x03"
			    "a\0b"};
	size_t tnlen[] = {4};
	n = build_reply(buf, 0, 16, tn, tnlen, 1, 60);
	CHECK(dns_parse_rr_reply(buf, n, DNS_RR_TXT, &r) == 0, "TXT with NUL");
	CHECK_STR(r.txt, "ab", "NUL dropped");
	n = build_reply(buf, 0, 1, NULL, NULL, 0, 0);
	CHECK(dns_parse_rr_reply(buf, n, DNS_RR_A, &r) == 0 && r.status == DNS_NOTFOUND, "NODATA");
	CHECK(dns_parse_rr_reply(buf, 5, DNS_RR_A, &r) < 0 && r.status == DNS_TEMPFAIL,
	      "truncated");
	const char *bad[] = {"\x7f\x00"};
	size_t badlen[] = {2};
	n = build_reply(buf, 0, 1, bad, badlen, 1, 60);
	dns_parse_rr_reply(buf, n, DNS_RR_A, &r);
	CHECK(r.status != DNS_OK, "a 2-byte A record is no address");
}

static void test_conf(void)
{
	static const char ok[] =
	    "listen 127.0.0.1:25\n"
	    "dnsbl zen.spamhaus.example weight 3 codes 127.0.0.2,127.0.0.4-127.0.0.7 timeout 2s\n"
	    "dnsbl list.dnswl.example weight -5 ipv6 no\n"
	    "dnsbl-threshold 3\ndnsbl-action tag\ndnsbl-health-interval 5m\ndnsbl-cache-size 0\n";
	struct conf *c;
	char err[256];
	CHECK(conf_parse(ok, strlen(ok), "t", &c, err, sizeof(err)) == 0, "%s", err);
	if (c) {
		CHECK(c->n_dnsbls == 2, "lists");
		const struct conf_dnsbl *z = conf_find_dnsbl(c, "zen.spamhaus.example");
		CHECK(z && z->weight == 3 && z->timeout == 2 && z->ipv6 && z->n_codes == 2 &&
			  z->codes[1].lo == 0x7f000004 && z->codes[1].hi == 0x7f000007,
		      "zen");
		CHECK(c->dnsbls[1].weight == -5 && !c->dnsbls[1].ipv6 && c->dnsbls[1].timeout == 5,
		      "dnswl");
		CHECK(c->dnsbl_threshold == 3 && c->dnsbl_action == CONF_DNSBL_TAG &&
			  c->dnsbl_health_interval == 300 && c->dnsbl_cache_size == 0,
		      "globals");
		conf_free(c);
	}
	static const char dflt[] = "listen 127.0.0.1:25\n";
	CHECK(conf_parse(dflt, strlen(dflt), "t", &c, err, sizeof(err)) == 0, "%s", err);
	if (c) {
		CHECK(c->n_dnsbls == 0 && c->dnsbl_threshold == 1 &&
			  c->dnsbl_action == CONF_DNSBL_REJECT && c->dnsbl_health_interval == 600 &&
			  c->dnsbl_cache_size == 10000,
		      "defaults");
		conf_free(c);
	}
	static const struct {
		const char *line, *want;
	} bad[] = {
	    {"dnsbl bl.test weight 101", "t:2:22: value 101 out of range -100..100"},
	    {"dnsbl bl.test weight -101", "t:2:22: value -101 out of range -100..100"},
	    {"dnsbl bl.test timeout 0s", "t:2:23: value 0s out of range 1s..60s"},
	    {"dnsbl bl.test codes 10.0.0.1", "t:2:21: invalid dnsbl code"},
	    {"dnsbl bl.test codes 127.0.0.7-127.0.0.4", "t:2:21: invalid dnsbl code"},
	    {"dnsbl bl.test weight", "t:2:15: 'dnsbl' expects"},
	    {"dnsbl bl.test colour red", "t:2:15: 'dnsbl' expects"},
	    {"dnsbl bl.test ipv6 maybe", "t:2:20: expected yes or no"},
	    {"dnsbl nodot", "t:2:7: invalid dnsbl zone"},
	    {"dnsbl a.test\ndnsbl A.TEST", "t:3:7: dnsbl zone 'a.test' already given at line 2"},
	    {"dnsbl-threshold 0", "t:2:17: value 0 out of range 1..1000"},
	    {"dnsbl-action drop", "t:2:14: 'dnsbl-action' expects reject|defer|tag"},
	    {"dnsbl-health-interval 2d", "t:2:23: value 2d out of range 1s..1d"},
	    {"dnsbl-cache-size 2000000", "t:2:18: value 2000000 out of range 0..1000000"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "listen 127.0.0.1:25\n%s\n", bad[i].line);
		CHECK(conf_parse(text, strlen(text), "t", &c, err, sizeof(err)) < 0, "%s",
		      bad[i].line);
		CHECK(!strncmp(err, bad[i].want, strlen(bad[i].want)), "%s: got '%s'", bad[i].line,
		      err);
	}
}

static void test_metrics(void)
{
	static struct metrics m; /* large: not on the stack */
	struct metrics_dnsbl *d = metrics_dnsbl_slot(&m, "bl.test");
	CHECK(d && d->healthy == 1 && metrics_dnsbl_slot(&m, "bl.test") == d, "one slot per zone");
	d->lookups = 7;
	d->healthy = 0;
	struct metrics_queue q = {0};
	char buf[65536];
	metrics_format(&m, &q, buf, sizeof(buf));
	CHECK(strstr(buf, "relayguard_dnsbl_lookups_total{list=\"bl.test\"} 7\n") != NULL,
	      "lookups rendered");
	CHECK(strstr(buf, "relayguard_dnsbl_healthy{list=\"bl.test\"} 0\n") != NULL,
	      "healthy rendered");
	CHECK(strstr(buf, "# TYPE relayguard_dnsbl_healthy gauge") != NULL, "gauge");
}

int main(void)
{
	test_metrics();
	test_query_names();
	test_classify();
	test_txt_clean();
	test_score();
	test_cache();
	test_parse_reply();
	test_conf();
	return check_report("dnsbl");
}
