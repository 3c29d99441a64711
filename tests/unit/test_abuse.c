/* test_abuse.c — greylisting's pure part (triplet keys: the client network, BATV and +ext
 * sender forms, the recipient; the decision as a function of record, time and settings) and
 * the SQLite store's round trip through its thread and a private event loop. */
#include "abuse/abuse.h"
#include "check.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <sqlite3.h>
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

static void test_net(void)
{
	static const struct {
		const char *ip;
		unsigned b4, b6;
		const char *net;
	} cases[] = {
	    {"192.0.2.77", 24, 64, "192.0.2.0/24"},
	    {"192.0.2.77", 32, 64, "192.0.2.77/32"},
	    {"198.51.100.200", 16, 64, "198.51.0.0/16"},
	    {"2001:db8:1:2:3:4:5:6", 24, 64, "2001:db8:1:2::/64"},
	    {"2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1::/48"},
	    {"::1", 24, 128, "::1/128"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16];
		char net[GREYLIST_NET_MAX];
		addr_of(cases[i].ip, a);
		greylist_net(a, cases[i].b4, cases[i].b6, net, sizeof(net));
		CHECK_STR(net, cases[i].net, cases[i].ip);
	}
}

static void path_of(const char *text, struct addr_path *p)
{
	size_t used;
	CHECK(addr_parse_path(text, strlen(text), 1, p, &used) == ADDR_OK, text);
}

static void test_sender(void)
{
	static const struct {
		const char *path, *want, *why;
	} cases[] = {
	    {"<Alice@Example.ORG>", "alice@example.org", "lower-case"},
	    {"<alice+list@example.org>", "alice@example.org", "+ext cut"},
	    {"<alice-list@example.org>", "alice-list@example.org", "-ext kept (ambiguous)"},
	    {"<+x@example.org>", "+x@example.org", "a leading + is not an extension"},
	    {"<prvs=1234567890=alice@example.org>", "alice@example.org", "BATV prvs"},
	    {"<PRVS=0123ABCDEF=Alice@example.org>", "alice@example.org", "BATV upper-case"},
	    {"<msprvs1=17abcDEF=bounces-42@example.org>", "bounces-42@example.org", "msprvs1"},
	    {"<prvs=1234567890=alice+x@example.org>", "alice@example.org", "BATV and +ext"},
	    {"<SRS0=HHH+=TT=example.com=alice@fwd.example>",
	     "srs0=hhh+=tt=example.com=alice@fwd.example", "SRS left alone (its hash may hold +)"},
	    {"<>", "", "null sender"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path p;
		char out[1100];
		path_of(cases[i].path, &p);
		CHECK(greylist_sender(&p, out, sizeof(out)) == 0, cases[i].why);
		CHECK_STR(out, cases[i].want, cases[i].why);
	}
	struct addr_path r;
	char out[1100], key[ABUSE_KEY_MAX];
	path_of("<Bob@Example.TEST>", &r);
	CHECK(greylist_rcpt(&r, out, sizeof(out)) == 0, "rcpt");
	CHECK_STR(out, "bob@example.test", "rcpt lower-case");
	CHECK(greylist_key_triplet("192.0.2.0/24", "", out, key, sizeof(key)) == 0, "key");
	CHECK_STR(key, "gl:192.0.2.0/24|t||bob@example.test", "triplet key");
	greylist_key_net("192.0.2.0/24", 'w', key, sizeof(key));
	CHECK_STR(key, "gl:192.0.2.0/24|w", "whitelist key");
	CHECK(greylist_key_triplet("n", "s", out, key, 8) < 0, "too long");
}

/* Fields holding the separator: escaped, so different triplets never share a key. */
static void test_key_escape(void)
{
	char a[ABUSE_KEY_MAX], b[ABUSE_KEY_MAX], e[16];
	CHECK(greylist_key_triplet("n", "a|b", "c", a, sizeof(a)) == 0, "key 1");
	CHECK(greylist_key_triplet("n", "a", "b|c", b, sizeof(b)) == 0, "key 2");
	CHECK(strcmp(a, b) != 0, "no collision");
	CHECK_STR(a, "gl:n|t|a%7Cb|c", "escaped sender");
	CHECK(greylist_key_triplet("n", "a%7Cb", "c", b, sizeof(b)) == 0, "key 3");
	CHECK(strcmp(a, b) != 0, "a literal percent-7C is not a bar");
	CHECK(abuse_key_escape("x|%y", e, sizeof(e)) == 0, "escape");
	CHECK_STR(e, "x%7C%25y", "escaped");
	abuse_key_unescape(e);
	CHECK_STR(e, "x|%y", "round trip");
	CHECK(abuse_key_escape("||||", e, 12) < 0, "escape: does not fit");
	CHECK(abuse_key_escape("|||", e, 10) == 0 && strlen(e) == 9, "escape: fits exactly");
}

static void test_decide(void)
{
	const struct greylist_settings gs = {300, 2 * 86400, 36 * 86400, 5};
	const struct greylist_record fresh = {1000, 0}, passed = {1000, 1400};
	static const struct {
		int rec; /* 0 none, 1 fresh (first 1000), 2 passed */
		int64_t now;
		enum greylist_result result;
		int defer;
		unsigned retry_in, ttl;
	} cases[] = {
	    {0, 1000, GREYLIST_NEW, 1, 300, 300 + 2 * 86400},		  /* first try */
	    {1, 1000, GREYLIST_EARLY, 1, 300, 0},			  /* at once again */
	    {1, 1299, GREYLIST_EARLY, 1, 1, 0},				  /* 1 s too early */
	    {1, 1300, GREYLIST_PASS, 0, 0, 36 * 86400},			  /* at the delay */
	    {1, 1300 + 2 * 86400, GREYLIST_PASS, 0, 0, 36 * 86400},	  /* end of the window */
	    {1, 1301 + 2 * 86400, GREYLIST_NEW, 1, 300, 300 + 2 * 86400}, /* after it */
	    {1, 999, GREYLIST_NEW, 1, 300, 300 + 2 * 86400},		  /* clock went back */
	    {2, 5000000, GREYLIST_KNOWN, 0, 0, 36 * 86400},		  /* passed before */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct greylist_record *r = cases[i].rec == 0   ? NULL
						  : cases[i].rec == 1 ? &fresh
								      : &passed;
		struct greylist_decision d = greylist_decide(r, cases[i].now, &gs);
		char what[64];
		snprintf(what, sizeof(what), "decide case %zu", i);
		CHECK(d.result == cases[i].result, what);
		CHECK(d.defer == cases[i].defer, what);
		CHECK(d.retry_in == cases[i].retry_in, what);
		CHECK(!d.write || d.ttl == cases[i].ttl, what);
		CHECK(d.count_pass == !cases[i].defer, what);
	}
	struct greylist_decision d = greylist_decide(&fresh, 1300, &gs);
	CHECK(d.rec.first == 1000 && d.rec.passed == 1300, "pass keeps first, sets passed");
	struct greylist_record back;
	char v[ABUSE_VALUE_MAX];
	greylist_record_format(&d.rec, v, sizeof(v));
	CHECK(greylist_record_parse(v, &back) == 0 && back.passed == 1300, "record round trip");
	CHECK(greylist_record_parse("12 x", &back) < 0, "bad record");
	CHECK(greylist_record_parse("12 13 14", &back) < 0, "trailing data");
}

struct wait {
	int done;
	struct abuse_reply r;
	size_t n;
	char first_key[ABUSE_KEY_MAX];
};

static void wait_cb(void *arg, const struct abuse_reply *r)
{
	struct wait *w = arg;
	w->r = *r;
	w->n = r->n_entries;
	if (r->n_entries)
		snprintf(w->first_key, sizeof(w->first_key), "%s", r->entries[0].key);
	w->r.entries = NULL;
	w->done = 1;
}

static void wait_for(struct event_base *base, struct wait *w)
{
	for (int i = 0; i < 1000 && !w->done; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(w->done, "store answered");
}

static void test_sqlite_round_trip(void)
{
	char dir[] = "/tmp/rg-abuse-XXXXXX", path[64], err[256];
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/db/abuse.db", dir);
	struct event_base *base = event_base_new();
	CHECK(abuse_sqlite_open(path, 0, base, err, sizeof(err)) == NULL, "no create: missing");
	struct abuse_store *st = abuse_sqlite_open(path, 1, base, err, sizeof(err));
	CHECK(st != NULL, err);
	struct wait w = {0};
	abuse_get(st, "k", 100, wait_cb, &w);
	CHECK(!w.done, "never answered from inside the call");
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_NOT_FOUND, "get missing");
	w = (struct wait){0};
	abuse_put(st, "k", "v1", 60, ABUSE_EXPECT_ABSENT, NULL, 100, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_OK, "put absent");
	w = (struct wait){0};
	abuse_put(st, "k", "v2", 60, ABUSE_EXPECT_ABSENT, NULL, 100, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_CONFLICT, "put absent again: conflict");
	w = (struct wait){0};
	abuse_put(st, "k", "v2", 60, ABUSE_EXPECT_VALUE, "v0", 100, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_CONFLICT, "compare-and-set with a stale value");
	w = (struct wait){0};
	abuse_put(st, "k", "v2", 60, ABUSE_EXPECT_VALUE, "v1", 100, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_OK, "compare-and-set");
	w = (struct wait){0};
	abuse_get(st, "k", 159, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_OK && !strcmp(w.r.value, "v2"), "get before expiry");
	w = (struct wait){0};
	abuse_get(st, "k", 160, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_NOT_FOUND, "expired");
	for (int i = 1; i <= 3; i++) {
		w = (struct wait){0};
		abuse_incr(st, "c", 1, 10, 200 + i, wait_cb, &w);
		wait_for(base, &w);
		CHECK(w.r.status == ABUSE_OK && w.r.count == i, "incr counts");
	}
	w = (struct wait){0};
	abuse_incr(st, "c", 1, 10, 211, wait_cb, &w); /* the window 201..211 is over */
	wait_for(base, &w);
	CHECK(w.r.count == 1, "incr: a new window after expiry");
	w = (struct wait){0};
	abuse_list(st, "c", 10, 210, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_OK && w.n == 1 && !strcmp(w.first_key, "c"), "list prefix");
	w = (struct wait){0};
	abuse_del(st, "c", 210, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_OK, "del");
	w = (struct wait){0};
	abuse_list(st, "", 10, 210, wait_cb, &w);
	wait_for(base, &w);
	CHECK(w.r.status == ABUSE_OK && w.n == 0, "empty after del and expiry");
	abuse_store_free(st);
	event_base_free(base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

struct burst {
	int64_t count[600];
	enum abuse_status status[600];
	size_t n, bad_order;
	size_t last[2]; /* per store (request i goes to store i % 2): the last answered + 1 */
};
struct burst_slot {
	struct burst *b;
	size_t i;
};

static void burst_cb(void *arg, const struct abuse_reply *r)
{
	struct burst_slot *s = arg;
	size_t k = s->i % 2; /* one store's callbacks run in the order of its requests */
	s->b->bad_order += s->b->last[k] > s->i;
	s->b->last[k] = s->i + 1;
	s->b->count[s->i] = r->count;
	s->b->status[s->i] = r->status;
	s->b->n++;
}

/* Group commit: a burst of requests (queued faster than the thread runs them, so several go in
 * one transaction) from two connections to one file (two servers): every count exact, each
 * request answered once, in order; a compare-and-set inside a batch still sees the batch. */
static void test_sqlite_batch(void)
{
	char dir[] = "/tmp/rg-abuse-XXXXXX", path[64], err[256];
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/abuse.db", dir);
	struct event_base *base = event_base_new();
	struct abuse_store *st[2] = {abuse_sqlite_open(path, 1, base, err, sizeof(err)),
				     abuse_sqlite_open(path, 1, base, err, sizeof(err))};
	CHECK(st[0] && st[1], err);
	static struct burst b;
	static struct burst_slot slots[600];
	memset(&b, 0, sizeof(b));
	for (size_t i = 0; i < 600; i++) {
		slots[i] = (struct burst_slot){&b, i};
		if (i == 100 || i == 102) /* one store: the second PUT if absent conflicts */
			abuse_put(st[i % 2], "m", "1", 60, ABUSE_EXPECT_ABSENT, NULL, 100, burst_cb,
				  &slots[i]);
		else
			abuse_incr(st[i % 2], "n", 1, 60, 100, burst_cb, &slots[i]);
	}
	for (int i = 0; i < 5000 && b.n < 600; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(b.n == 600, "every request answered");
	CHECK(b.status[100] == ABUSE_OK && b.status[102] == ABUSE_CONFLICT, "CAS in a batch");
	int64_t seen[600] = {0}, max = 0;
	size_t errors = 0;
	for (size_t i = 0; i < 600; i++) {
		errors += b.status[i] != ABUSE_OK && i != 102;
		if (i == 100 || i == 102 || b.count[i] < 1 || b.count[i] > 598)
			continue;
		seen[b.count[i]]++;
		max = b.count[i] > max ? b.count[i] : max;
	}
	CHECK(errors == 0, "no errors");
	int dup = 0;
	for (int64_t k = 1; k <= 598; k++)
		dup += seen[k] != 1;
	CHECK(max == 598 && dup == 0, "counts 1..598, each once: exact across connections");
	size_t shrinking = 0; /* each connection's counts grow in the order of its requests */
	for (size_t k = 0; k < 2; k++)
		for (size_t i = k + 2, last = k; i < 600; i += 2)
			if (i != 100 && i != 102) {
				shrinking += b.count[i] <= b.count[last];
				last = i;
			}
	CHECK(shrinking == 0, "one connection's counts grow");
	CHECK(b.bad_order == 0, "callbacks in the order of the requests");
	abuse_store_free(st[0]);
	abuse_store_free(st[1]);
	event_base_free(base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* The fallback of group commit, with a fault injected by a trigger (no hook in the code): while
 * another connection holds the write lock, six requests queue up; the one that writes the key
 * "boom" fails inside the transaction they share, the transaction is rolled back and each
 * request runs again alone: "boom" gets its error, every other count is exact (nothing of the
 * rolled-back attempt counted, nothing counted twice). */
static void test_sqlite_batch_fallback(void)
{
	char dir[] = "/tmp/rg-abuse-XXXXXX", path[64], err[256];
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/abuse.db", dir);
	struct event_base *base = event_base_new();
	struct abuse_store *st = abuse_sqlite_open(path, 1, base, err, sizeof(err));
	CHECK(st != NULL, err);
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK, "second connection");
	sqlite3_busy_timeout(db, 5000);
	CHECK(sqlite3_exec(db,
			   "CREATE TRIGGER boom BEFORE INSERT ON abuse WHEN NEW.key = 'boom' "
			   "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
			   NULL, NULL, NULL) == SQLITE_OK,
	      "trigger: %s", sqlite3_errmsg(db));
	CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK, "hold the lock");
	static const char *const keys[] = {"a", "a", "b", "boom", "c", "a"};
	struct wait w[6];
	memset(w, 0, sizeof(w));
	for (size_t i = 0; i < 6; i++)
		if (i == 3)
			abuse_put(st, keys[i], "1", 60, ABUSE_EXPECT_ANY, NULL, 100, wait_cb,
				  &w[i]);
		else
			abuse_incr(st, keys[i], 1, 60, 100, wait_cb, &w[i]);
	usleep(100 * 1000); /* the worker takes what is queued and waits for the lock */
	CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, "release the lock");
	for (size_t i = 0; i < 6; i++)
		wait_for(base, &w[i]);
	static const int64_t want[] = {1, 2, 1, 0, 1, 3};
	for (size_t i = 0; i < 6; i++)
		if (i == 3)
			CHECK(w[i].r.status == ABUSE_ERROR, "the faulty request fails: %d",
			      w[i].r.status);
		else
			CHECK(w[i].r.status == ABUSE_OK && w[i].r.count == want[i],
			      "request %zu: status %d count %lld, want %lld", i, w[i].r.status,
			      (long long)w[i].r.count, (long long)want[i]);
	sqlite3_close(db);
	abuse_store_free(st);
	event_base_free(base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

static void test_conf(void)
{
	static const char ok[] =
	    "listen 127.0.0.1:25\nabuse-store redis unix:/run/r.sock prefix p:\n"
	    "greylist on\ngreylist-delay 2m\ngreylist-window 1d\n"
	    "greylist-lifetime 10d\ngreylist-auto-whitelist 0\n"
	    "greylist-netmask 32 48\nclock-offset 1h\n";
	struct conf *c = NULL;
	char err[256];
	CHECK(conf_parse(ok, strlen(ok), "t", &c, err, sizeof(err)) == 0, err);
	if (c) {
		CHECK(c->greylist.enabled && c->greylist.delay == 120 &&
			  c->greylist.window == 86400,
		      "greylist values");
		CHECK(c->greylist.lifetime == 864000 && c->greylist.auto_whitelist == 0,
		      "lifetime");
		CHECK(c->greylist.netmask4 == 32 && c->greylist.netmask6 == 48, "netmask");
		CHECK(c->clock_offset == 3600, "clock-offset");
		CHECK_STR(c->abuse_store.text, "redis unix:/run/r.sock prefix p:", "store text");
		conf_free(c);
	}
	static const char def[] = "listen 127.0.0.1:25\n";
	CHECK(conf_parse(def, strlen(def), "t", &c, err, sizeof(err)) == 0, err);
	if (c) {
		CHECK(!c->greylist.enabled && c->greylist.delay == 300 &&
			  c->greylist.auto_whitelist == 5 && c->greylist.netmask4 == 24,
		      "defaults");
		CHECK_STR(c->abuse_store.text, "sqlite " CONF_DEFAULT_ABUSE_DATABASE,
			  "default store");
		conf_free(c);
	}
	static const char *const bad[] = {
	    "greylist maybe\n",		 "greylist-delay 0\n",
	    "greylist-netmask 33 64\n",	 "abuse-store redis nohost\n",
	    "abuse-store sqlite a b\n",	 "abuse-store redis 127.0.0.1:6379 prefix\n",
	    "abuse-store memcached x\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "listen 127.0.0.1:25\n%s", bad[i]);
		CHECK(conf_parse(text, strlen(text), "t", &c, err, sizeof(err)) < 0, bad[i]);
	}
}

int main(void)
{
	test_conf();
	test_net();
	test_sender();
	test_decide();
	test_sqlite_round_trip();
	test_key_escape();
	test_sqlite_batch();
	test_sqlite_batch_fallback();
	return check_report("abuse");
}
