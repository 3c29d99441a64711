/* test_lookup.c — the pure parts of `relayguard lookup` and the self-check: the lists file
 * (good lines, and bad ones named file:line), its merge with the config's dnsbl lines, the
 * matcher of remote rejections that name a blocklist, the exit status and the printed line. */
#include "check.h"

#include "conf/conf.h"
#include "dnsbl/dnsbl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char good[] =
    "# comment line\n"
    "\n"
    "zen.spamhaus.org  block  127.0.0.2=SBL 127.0.0.4-127.0.0.7=\"XBL: exploited host\" "
    "delist=https://check.spamhaus.org/   # trailing comment\n"
    "List.DNSWL.org allow 127.0.0.0-127.0.255.254=\"allow # not a comment\" ipv6=no\r\n"
    "bl.test block\n";

static void test_lists_good(void)
{
	struct dnsbl_zones z = {0};
	char err[256] = "";
	int rc = dnsbl_zones_parse(good, strlen(good), "lists", &z, err, sizeof(err));
	CHECK(rc == 0, "parse: %s", err);
	CHECK(z.n == 3, "3 zones, got %zu", z.n);
	if (rc != 0 || z.n != 3)
		return;
	const struct dnsbl_zone *zen = dnsbl_zones_find(&z, "zen.spamhaus.org");
	CHECK(zen && zen->kind == DNSBL_KIND_BLOCK && zen->ipv6, "zen block, ipv6");
	CHECK(zen && zen->n_meanings == 2, "two meanings");
	CHECK_STR(zen ? dnsbl_zone_meaning(zen, 0x7f000002) : NULL, "SBL", "code 2");
	CHECK_STR(zen ? dnsbl_zone_meaning(zen, 0x7f000006) : NULL, "XBL: exploited host",
		  "a code inside a range");
	CHECK(zen && dnsbl_zone_meaning(zen, 0x7f00000a) == NULL, "undocumented code");
	CHECK_STR(zen ? zen->delist : NULL, "https://check.spamhaus.org/", "delist URL");
	CHECK_STR(zen ? zen->origin : NULL, "lists:3", "origin");
	const struct dnsbl_zone *wl = dnsbl_zones_find(&z, "list.dnswl.org");
	CHECK(wl && wl->kind == DNSBL_KIND_ALLOW && !wl->ipv6, "normalised zone, allow, ipv6=no");
	CHECK_STR(wl ? dnsbl_zone_meaning(wl, 0x7f000a02) : NULL, "allow # not a comment",
		  "a # inside quotes");
	const struct dnsbl_zone *bl = dnsbl_zones_find(&z, "bl.test");
	CHECK(bl && bl->n_meanings == 0 && !bl->delist, "a bare line");
	dnsbl_zones_free(&z);
}

static void test_lists_bad(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"bl.test\n", "f:1: expected 'block' or 'allow' after the zone"},
	    {"bl.test deny\n", "f:1: expected 'block' or 'allow' after the zone"},
	    {"# c\nnodot block\n", "f:2: invalid zone 'nodot'"},
	    {"a.test block\na.test allow\n", "f:2: zone a.test given twice"},
	    {"a.test block 10.0.0.2=x\n", "f:1: invalid code '10.0.0.2' (expected 127.X.Y.Z or a "
					  "range A-B)"},
	    {"a.test block 127.0.0.5-127.0.0.4=x\n", "f:1: invalid code '127.0.0.5' (expected "
						     "127.X.Y.Z or a range A-B)"},
	    {"a.test block 127.0.0.2=\n", "f:1: empty meaning for code 127.0.0.2"},
	    {"a.test block 127.0.0.2=\"open\n", "f:1: unterminated quote"},
	    {"a.test block delist=ftp://x\n",
	     "f:1: delist URL must start with http:// or https://"},
	    {"a.test block ipv6=maybe\n", "f:1: expected ipv6=yes or ipv6=no"},
	    {"a.test block junk\n",
	     "f:1: expected CODE=MEANING, delist=URL or ipv6=yes|no, not 'junk'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dnsbl_zones z = {0};
		char err[256] = "";
		int rc = dnsbl_zones_parse(cases[i].text, strlen(cases[i].text), "f", &z, err,
					   sizeof(err));
		CHECK(rc == -1, "case %zu must fail", i);
		CHECK_STR(err, cases[i].want, "case %zu", i);
		dnsbl_zones_free(&z);
	}
	/* a NUL byte and a line that is too long */
	struct dnsbl_zones z = {0};
	char err[256] = "", nul[] = "a.test block\nb.test\0block\n";
	CHECK(dnsbl_zones_parse(nul, sizeof(nul) - 1, "f", &z, err, sizeof(err)) == -1, "NUL");
	CHECK_STR(err, "f:2: NUL byte in line", "NUL");
	dnsbl_zones_free(&z);
	char *big = malloc(DNSBL_LISTS_LINE + 10);
	if (!big)
		return;
	memset(big, 'a', DNSBL_LISTS_LINE + 9);
	big[DNSBL_LISTS_LINE + 9] = '\0';
	CHECK(dnsbl_zones_parse(big, strlen(big), "f", &z, err, sizeof(err)) == -1, "long");
	CHECK_STR(err, "f:1: line too long (max 4095 bytes)", "long line");
	dnsbl_zones_free(&z);
	free(big);
}

static void test_merge_conf(void)
{
	static const char conf_text[] = "listen 127.0.0.1:2525\n"
					"dnsbl zen.spamhaus.org codes 127.0.0.2 timeout 3s\n"
					"dnsbl wl.test weight -5 ipv6 no\n";
	struct conf *c = NULL;
	struct dnsbl_zones z = {0};
	char err[256] = "";
	CHECK(conf_parse(conf_text, strlen(conf_text), "conf", &c, err, sizeof(err)) == 0, "%s",
	      err);
	CHECK(dnsbl_zones_parse(good, strlen(good), "lists", &z, err, sizeof(err)) == 0, "%s", err);
	if (!c)
		return;
	CHECK(dnsbl_zones_add_conf(&z, c) == 0, "merge");
	CHECK(z.n == 4, "zen merged, wl.test added: %zu", z.n);
	const struct dnsbl_zone *zen = dnsbl_zones_find(&z, "zen.spamhaus.org");
	CHECK(zen && zen->n_codes == 1 && zen->timeout == 3, "the config's filter and timeout");
	CHECK(zen && zen->n_meanings == 2 && zen->delist, "the file's meanings and URL kept");
	const struct dnsbl_zone *wl = dnsbl_zones_find(&z, "wl.test");
	CHECK(wl && wl->kind == DNSBL_KIND_ALLOW && !wl->ipv6, "negative weight: allow");
	dnsbl_zones_free(&z);
	conf_free(c);
}

static void test_bounce_match(void)
{
	struct dnsbl_zones z = {0};
	char err[128];
	static const char lists[] = "zen.spamhaus.org block\nbl.test block\n";
	dnsbl_zones_parse(lists, strlen(lists), "l", &z, err, sizeof(err));
	static const struct {
		int code;
		const char *enh, *text, *want; /* want NULL: no match */
	} cases[] = {
	    {550, "5.7.1", "Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org",
	     "zen.spamhaus.org"},
	    {554, "5.7.1", "listed in zen.spamhaus.org", "zen.spamhaus.org"},
	    {550, "", "Your IP is on our BLACKLIST", "blacklist"},
	    {554, "5.7.1", "rejected: found in a blocklist", "blocklist"},
	    {550, "", "Message rejected, see https://www.spamhaus.org/query/ip/1.2.3.4",
	     "spamhaus"},
	    {550, "5.7.1", "client listed by an RBL", "listed"},
	    {553, "", "sender ip in DNSBL", "dnsbl"},
	    {550, "5.7.1", "RBL hit", "rbl"},
	    {550, "5.7.1", "blocked by bl.test", "bl.test"},
	    /* not a listing */
	    {550, "5.1.1", "User unknown", NULL},
	    {450, "4.7.1", "listed in zen.spamhaus.org", NULL}, /* temporary: not counted */
	    {250, "2.0.0", "ok, not listed anywhere", NULL},
	    {550, "5.7.1", "unlisted sender domain", NULL},
	    {550, "5.7.1", "verbal abuse filter", NULL},
	    {550, "5.7.1", "see nobl.test for details", NULL}, /* a zone inside another word */
	    {550, "5.7.1", "Relay access denied", NULL},
	    {550, "5.1.1", "recipient not listed in the public directory", NULL},
	    {550, "", "sender not listed in our allow list", NULL},
	    {554, "5.1.1", "blocked using zen.spamhaus.org", NULL}, /* an addressing code */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[64];
		int m = dnsbl_bounce_match(cases[i].code, cases[i].enh, cases[i].text, &z, what,
					   sizeof(what));
		CHECK(m == (cases[i].want != NULL), "case %zu: %s", i, cases[i].text);
		if (m && cases[i].want)
			CHECK_STR(what, cases[i].want, "case %zu", i);
	}
	char what[64];
	CHECK(dnsbl_bounce_match(550, NULL, "listed", NULL, what, sizeof(what)) == 1,
	      "no zones, no enh");
	dnsbl_zones_free(&z);
}

static void item(struct dnsbl_item *it, const struct dnsbl_zone *z, enum dnsbl_item_state st,
		 enum dnsbl_answer a, uint32_t code)
{
	memset(it, 0, sizeof(*it));
	it->addr[10] = it->addr[11] = 0xff;
	it->addr[12] = 127, it->addr[15] = 2;
	strcpy(it->ip, "127.0.0.2");
	it->zone = z;
	it->state = st;
	it->r.answer = a;
	it->r.code = code;
}

static void test_exit_code(void)
{
	struct dnsbl_zone block = {.zone = "bl.test", .kind = DNSBL_KIND_BLOCK};
	struct dnsbl_zone allow = {.zone = "wl.test", .kind = DNSBL_KIND_ALLOW};
	static const struct {
		int block_answer, allow_answer, skipped, want;
	} cases[] = {
	    {DNSBL_NOT_LISTED, DNSBL_NOT_LISTED, 0, 0}, /* clean */
	    {DNSBL_LISTED, DNSBL_NOT_LISTED, 0, 1},	/* listed */
	    {DNSBL_LISTED, DNSBL_ERROR, 0, 1},		/* listed wins over errors */
	    {DNSBL_ERROR, DNSBL_NOT_LISTED, 0, 2},	/* errors only */
	    {DNSBL_NOT_LISTED, DNSBL_LISTED, 0, 0},	/* allow-listed is no listing */
	    {DNSBL_ERROR, DNSBL_LISTED, 0, 2},
	    {DNSBL_LISTED, DNSBL_NOT_LISTED, 1, 0}, /* a skipped item says nothing */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dnsbl_item it[2];
		item(&it[0], &block, cases[i].skipped ? DNSBL_I_SKIPPED : DNSBL_I_DONE,
		     (enum dnsbl_answer)cases[i].block_answer, 0x7f000002);
		item(&it[1], &allow, DNSBL_I_DONE, (enum dnsbl_answer)cases[i].allow_answer,
		     0x7f000002);
		CHECK(dnsbl_items_exit_code(it, 2) == cases[i].want, "case %zu", i);
	}
	CHECK(dnsbl_items_exit_code(NULL, 0) == 0, "nothing asked");
}

static void test_format(void)
{
	struct dnsbl_meaning m = {0x7f000002, 0x7f000002, "test listing"};
	struct dnsbl_zone z = {.zone = "bl.test",
			       .kind = DNSBL_KIND_BLOCK,
			       .meanings = &m,
			       .n_meanings = 1,
			       .delist = "https://bl.example/remove"};
	struct dnsbl_item it;
	struct util_buf b = {0};
	item(&it, &z, DNSBL_I_DONE, DNSBL_LISTED, 0x7f000002);
	strcpy(it.r.txt, "Listed \"here\"");
	dnsbl_item_format(&it, 0, &b);
	CHECK_STR(b.p,
		  "127.0.0.2       bl.test                      listed 127.0.0.2 (test listing) "
		  "\"Listed \"here\"\" delist: https://bl.example/remove",
		  "text");
	util_buf_free(&b);
	b = (struct util_buf){0};
	dnsbl_item_format(&it, 1, &b);
	CHECK_STR(b.p,
		  "{\"address\":\"127.0.0.2\",\"list\":\"bl.test\",\"kind\":\"block\",\"result\":"
		  "\"listed\",\"code\":\"127.0.0.2\",\"meaning\":\"test listing\",\"txt\":"
		  "\"Listed \\\"here\\\"\",\"delist\":\"https://bl.example/remove\"}",
		  "json");
	util_buf_free(&b);
	b = (struct util_buf){0};
	item(&it, &z, DNSBL_I_DONE, DNSBL_ERROR, 0x7ffffffe);
	strcpy(it.r.why, "error answer 127.255.255.254 (127.255.255.0/24)");
	dnsbl_item_format(&it, 0, &b);
	CHECK_STR(b.p,
		  "127.0.0.2       bl.test                      error: error answer "
		  "127.255.255.254 (127.255.255.0/24)",
		  "an error is never 'listed'");
	util_buf_free(&b);
}

static void test_conf_directives(void)
{
	static const struct {
		const char *extra, *err; /* err NULL: accepted */
		unsigned interval;
		size_t n_out;
	} cases[] = {
	    {"", NULL, 6 * 3600, 0}, /* the defaults */
	    {"outbound-address 192.0.2.1 2001:db8::1\noutbound-address 127.0.0.2\n", NULL, 6 * 3600,
	     3},
	    {"self-check-interval off\n", NULL, 0, 0},
	    {"self-check-interval 30m\nself-check-lists etc/dnsbl-lists\n", NULL, 1800, 0},
	    {"outbound-address mx.example\n",
	     "c:2:18: invalid outbound-address 'mx.example' (expected an IPv4 or IPv6 address)", 0,
	     0},
	    {"self-check-interval 10s\n",
	     "c:2:21: value 10s out of range 1m..7d for "
	     "self-check-interval",
	     0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], err[256] = "";
		struct conf *c = NULL;
		snprintf(text, sizeof(text), "listen 127.0.0.1:2525\n%s", cases[i].extra);
		int rc = conf_parse(text, strlen(text), "c", &c, err, sizeof(err));
		if (cases[i].err) {
			CHECK(rc == -1, "case %zu must fail", i);
			CHECK_STR(err, cases[i].err, "case %zu", i);
			continue;
		}
		CHECK(rc == 0, "case %zu: %s", i, err);
		if (!c)
			continue;
		CHECK(c->self_check_interval == cases[i].interval, "case %zu interval %u", i,
		      c->self_check_interval);
		CHECK(c->n_outbound_addrs == cases[i].n_out, "case %zu", i);
		conf_free(c);
	}
}

int main(void)
{
	test_conf_directives();
	test_lists_good();
	test_lists_bad();
	test_merge_conf();
	test_bounce_match();
	test_exit_code();
	test_format();
	return check_report("test_lookup");
}
