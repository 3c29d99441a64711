/* test_changelog.c — the config changelog: the record codec round trip, what the strict parser
 * refuses, the hash chain against every kind of damage (a flipped byte, a dropped record, two
 * swapped, a torn tail), the unified diff, the verdict, and appends to a real file. */
#include "changelog/changelog.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"
#define SHA_A "8a2a9a89473ada876e5347c0a1ba6d06a93061cc93bbcc5f473851898b1adc11"

static void fill(struct changelog_record *r, unsigned long id, const char *prev, const char *diff)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	snprintf(r->time, sizeof(r->time), "2024-05-01T12:00:0%luZ", id % 10);
	snprintf(r->event, sizeof(r->event), "%s", id == 1 ? "start" : "reload");
	snprintf(r->config, sizeof(r->config), "etc/relay\"guard\\.conf");
	snprintf(r->sha256, sizeof(r->sha256), "%s", SHA_A);
	r->who.uid = id == 3 ? -1 : 1000;
	snprintf(r->who.user, sizeof(r->who.user), "%s", id == 3 ? "SIGHUP" : "alice");
	snprintf(r->who.sudo_user, sizeof(r->who.sudo_user), "%s", id == 2 ? "bob" : "");
	snprintf(r->verdict, sizeof(r->verdict), "open relay (override: lab \"test\")");
	snprintf(r->prev, sizeof(r->prev), "%s", prev);
	r->unchanged = diff == NULL;
	r->diff = diff ? strdup(diff) : NULL;
	r->diff_len = diff ? strlen(diff) : 0;
}

static void test_round_trip(void)
{
	struct changelog_record r, back;
	char *line, *again, why[160];
	size_t len, len2;
	fill(&r, 7, ZERO,
	     "--- a\n+++ b\n@@ -1 +1 @@\n-x\t\"y\"\\\n+caf\xc3\xa9 \x01\x7f \xf0\x9f\x93\xa7\n");
	CHECK(changelog_format(&r, &line, &len) == 0, "format");
	CHECK(memchr(line, '\n', len) == NULL, "one line: %s", esc(line, len));
	CHECK(changelog_parse(line, len, &back, why, sizeof(why)) == 0, "parse: %s", why);
	CHECK(back.id == 7 && back.who.uid == 1000, "numbers");
	CHECK_STR(back.config, r.config, "config");
	CHECK_STR(back.verdict, r.verdict, "verdict");
	CHECK_STR(back.who.sudo_user, "", "sudo_user");
	CHECK_STR(back.diff, r.diff, "diff survives the escaping");
	CHECK_STR(back.hash, r.hash, "hash");
	CHECK(changelog_format(&back, &again, &len2) == 0 && len2 == len &&
		  !memcmp(line, again, len),
	      "re-encoding is identical");
	free(again);
	changelog_record_clear(&back);
	free(line);
	changelog_record_clear(&r);

	fill(&r, 3, ZERO, NULL); /* unchanged, SIGHUP */
	CHECK(changelog_format(&r, &line, &len) == 0, "format unchanged");
	CHECK(strstr(line, "\"diff\":null") && strstr(line, "\"uid\":-1"), "%s", line);
	CHECK(changelog_parse(line, len, &back, why, sizeof(why)) == 0, "parse: %s", why);
	CHECK(back.unchanged && !back.diff && back.who.uid == -1, "unchanged record");
	changelog_record_clear(&back);
	free(line);
	snprintf(r.event, sizeof(r.event), "edit");
	CHECK(changelog_format(&r, &line, &len) < 0, "unknown event refused");
}

/* A line that parsed, edited by hand: each must be refused. */
static void test_parse_refuses(void)
{
	static const struct {
		const char *from, *to, *why;
	} edits[] = {
	    {"\"id\":1,", "\"id\":01,", "leading zero"},
	    {"\"id\":1,", "\"id\": 1,", "whitespace"},
	    {"\"event\":\"start\"", "\"event\":\"edit\"", "unknown event"},
	    {"\"uid\":1000", "\"uid\":1001", "any change: hash mismatch"},
	    {"\"unchanged\":false", "\"unchanged\":true", "unchanged with a diff"},
	    {"\"user\":\"alice\"", "\"user\":\"al\\u0000ice\"", "NUL escape"},
	    {"\"user\":\"alice\"", "\"user\":\"al\\ud800ice\"", "lone surrogate"},
	    {"\"user\":\"alice\"", "\"user\":\"al\\qice\"", "unknown escape"},
	    {"\"time\":", "\"tijd\":", "key renamed"},
	    {"\"hash\":\"", "\"hash\":\"x", "bad hash"},
	};
	struct changelog_record r, back;
	char *line, why[160];
	size_t len;
	fill(&r, 1, ZERO, "+x\n");
	changelog_format(&r, &line, &len);
	for (size_t i = 0; i < N(edits); i++) {
		char buf[2048];
		const char *at = strstr(line, edits[i].from);
		CHECK(at != NULL, "%s: pattern present", edits[i].why);
		if (!at)
			continue;
		int n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - line), line, edits[i].to,
				 at + strlen(edits[i].from));
		CHECK(changelog_parse(buf, (size_t)n, &back, why, sizeof(why)) < 0, "%s: accepted",
		      edits[i].why);
		changelog_record_clear(&back);
	}
	/* the same content spelled differently, with a recomputed hash: still refused */
	static const char *const respelled[][2] = {
	    {"\"user\":\"alice\"", "\"user\":\"\\u0061lice\""},
	    {"\"user\":\"alice\"", "\"user\":\"al\\/ice\""},
	    {"\"user\":\"alice\"", "\"user\":\"al\xd0\xd4ice\""},
	};
	for (size_t i = 0; i < N(respelled); i++) {
		char buf[2048], hash[CHANGELOG_HEX];
		const char *at = strstr(line, respelled[i][0]);
		int n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - line), line,
				 respelled[i][1], at + strlen(respelled[i][0]));
		char *h = strstr(buf, ",\"hash\":\"");
		changelog_sha256_hex(buf, (size_t)(h - buf), hash);
		memcpy(h + 9, hash, 64);
		CHECK(changelog_parse(buf, (size_t)n, &back, why, sizeof(why)) < 0 &&
			  strstr(why, "canonical"),
		      "respelled %zu accepted: %s", i, why);
		changelog_record_clear(&back);
	}
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "%s ", line);
	CHECK(changelog_parse(buf, (size_t)n, &back, why, sizeof(why)) < 0, "text after");
	changelog_record_clear(&back);
	CHECK(changelog_parse(line, len - 1, &back, why, sizeof(why)) < 0, "cut");
	changelog_record_clear(&back);
	free(line);
	changelog_record_clear(&r);
}

/* A log of n records, chained. */
static char *make_log(unsigned n, size_t *len, size_t starts[])
{
	char prev[CHANGELOG_HEX] = ZERO, *log = NULL;
	*len = 0;
	for (unsigned i = 1; i <= n; i++) {
		struct changelog_record r;
		char *line;
		size_t l;
		fill(&r, i, prev, i == 3 ? NULL : "@@ -1 +1 @@\n-a\n+b\n");
		changelog_format(&r, &line, &l);
		memcpy(prev, r.hash, sizeof(prev));
		log = realloc(log, *len + l + 1);
		starts[i - 1] = *len;
		memcpy(log + *len, line, l);
		log[*len + l] = '\n';
		*len += l + 1;
		free(line);
		changelog_record_clear(&r);
	}
	starts[n] = *len;
	return log;
}

static unsigned long verify(const char *data, size_t len, unsigned long *bad, char *why)
{
	return changelog_verify(data, len, NULL, NULL, bad, why, 200);
}

static void test_chain(void)
{
	size_t len, st[5];
	char *log = make_log(4, &len, st), why[200];
	unsigned long bad;
	CHECK(verify(log, len, &bad, why) == 4 && bad == 0, "intact: %s", why);
	CHECK(verify("", 0, &bad, why) == 0 && bad == 0, "empty log");

	/* every single byte flipped in record 2 or 4 is caught at that record */
	for (unsigned rec = 2; rec <= 4; rec += 2)
		for (size_t i = st[rec - 1]; i < st[rec] - 1; i += 7) {
			char *c = malloc(len);
			memcpy(c, log, len);
			c[i] ^= 0x01;
			unsigned long good = verify(c, len, &bad, why);
			CHECK(bad == rec && good == rec - 1, "flip at %zu: bad %lu (%s)", i, bad,
			      why);
			free(c);
		}

	char *c = malloc(len); /* record 2 dropped */
	size_t n = st[1];
	memcpy(c, log, st[1]);
	memcpy(c + n, log + st[2], len - st[2]);
	n += len - st[2];
	CHECK(verify(c, n, &bad, why) == 1 && bad == 2 && strstr(why, "id 3 where 2"),
	      "dropped: %lu %s", bad, why);

	n = 0; /* records 2 and 3 swapped */
	memcpy(c, log, st[1]);
	n = st[1];
	memcpy(c + n, log + st[2], st[3] - st[2]);
	n += st[3] - st[2];
	memcpy(c + n, log + st[1], st[2] - st[1]);
	n += st[2] - st[1];
	memcpy(c + n, log + st[3], len - st[3]);
	n += len - st[3];
	CHECK(n == len && verify(c, n, &bad, why) == 1 && bad == 2, "swapped: %lu %s", bad, why);

	CHECK(verify(log, len - 10, &bad, why) == 3 && bad == 4 && strstr(why, "incomplete record"),
	      "torn tail: %lu %s", bad, why);
	CHECK(verify(log, len - 1, &bad, why) == 3 && bad == 4 && strstr(why, "incomplete record"),
	      "LF missing: %lu %s", bad, why);

	memcpy(c, log, len); /* record 3's prev re-pointed: chain broken even if it parses */
	struct changelog_record r;
	char *line;
	size_t l;
	fill(&r, 3, SHA_A, NULL);
	changelog_format(&r, &line, &l);
	n = st[2];
	memcpy(c + n, line, l);
	c[n + l] = '\n';
	CHECK(verify(c, n + l + 1, &bad, why) == 2 && bad == 3 && strstr(why, "chain broken"),
	      "re-pointed: %lu %s", bad, why);
	free(line);
	changelog_record_clear(&r);
	free(c);
	free(log);
}

static void test_diff(void)
{
	char *d;
	size_t n;
	unsigned add, del;
	const char a[] = "listen 127.0.0.1:25\nmailbox a\n",
		   b[] = "listen 127.0.0.1:25\nmailbox b\nmailbox c\n";
	CHECK(changelog_diff(a, strlen(a), b, strlen(b), "r.conf", "OLD", "NEW", &d, &n) == 0,
	      "diff");
	CHECK_STR(d,
		  "--- r.conf (OLD)\n+++ r.conf (NEW)\n@@ -1,2 +1,3 @@\n listen 127.0.0.1:25\n"
		  "-mailbox a\n+mailbox b\n+mailbox c\n",
		  "unified diff");
	changelog_diff_stat(d, n, &add, &del);
	CHECK(add == 2 && del == 1, "stat %u %u", add, del);
	free(d);
	CHECK(changelog_diff(a, strlen(a), a, strlen(a), "r.conf", "O", "N", &d, &n) == 0 &&
		  n == 0 && d[0] == '\0',
	      "no difference: empty");
	free(d);
	CHECK(changelog_diff(NULL, 0, "x", 1, "r.conf", "O", "N", &d, &n) == 0, "from nothing");
	CHECK_STR(
	    d, "--- r.conf (O)\n+++ r.conf (N)\n@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n",
	    "new file without final LF");
	free(d);
	/* a deleted line that looks like a header is still counted */
	const char h[] = "-- x\n", e[] = "";
	changelog_diff(h, strlen(h), e, 0, "r", "O", "N", &d, &n);
	changelog_diff_stat(d, n, &add, &del);
	CHECK(add == 0 && del == 1, "header-like line: %u %u %s", add, del, esc(d, n));
	free(d);
	/* bounded: a huge change is cut at a line with a note */
	size_t big = 2 * CHANGELOG_DIFF_MAX;
	char *text = malloc(big);
	for (size_t i = 0; i < big; i++)
		text[i] = i % 40 == 39 ? '\n' : 'a' + (char)(i % 26);
	CHECK(changelog_diff(NULL, 0, text, big, "r", "O", "N", &d, &n) == 0, "big diff");
	CHECK(n <= CHANGELOG_DIFF_MAX && n == strlen(d), "bounded: %zu", n);
	CHECK(n > 20 && strstr(d + n - 40, "\n... diff cut at "), "note: %s", d + n - 40);
	free(d);
	free(text);
}

static void test_verdict(void)
{
	char v[128];
	changelog_verdict(0, 0, NULL, v, sizeof(v));
	CHECK_STR(v, "clean", "clean");
	changelog_verdict(1, 0, NULL, v, sizeof(v));
	CHECK_STR(v, "1 finding", "one");
	changelog_verdict(3, 0, "x", v, sizeof(v));
	CHECK_STR(v, "3 findings", "three");
	changelog_verdict(5, 2, "lab network", v, sizeof(v));
	CHECK_STR(v, "open relay (override: lab network)", "override");
	changelog_verdict(5, 2, NULL, v, sizeof(v));
	CHECK_STR(v, "open relay", "no override (check only)");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);
	*len = f ? fread(buf, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

/* Appends to a real log: ids, unchanged, the diff, and a torn tail that stays reported. */
static void test_append(void)
{
	char dir[] = "/tmp/rg-changelog-XXXXXX", log[128], err[512], why[200];
	struct changelog_who who = {1000, "alice", ""};
	unsigned long id = 0, bad;
	size_t len;
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(log, sizeof(log), "%s/state/" CHANGELOG_FILE, dir);
	char state[64];
	snprintf(state, sizeof(state), "%s/state", dir);
	struct changelog_entry e = {"start", "r.conf", "a\nb\n", 4, &who, "clean"};
	CHECK(changelog_append(state, &e, &id, err, sizeof(err)) == 0 && id == 1, "1: %s", err);
	e.event = "reload";
	CHECK(changelog_append(state, &e, &id, err, sizeof(err)) == 0 && id == 2, "2: %s", err);
	e.text = "a\nb\nc\n";
	e.text_len = 6;
	CHECK(changelog_append(state, &e, &id, err, sizeof(err)) == 0 && id == 3, "3: %s", err);
	char *data = slurp(log, &len);
	CHECK(verify(data, len, &bad, why) == 3 && bad == 0, "verified: %s", why);
	CHECK(strstr(data, "\"id\":2,") && strstr(strstr(data, "\"id\":2,"), "\"unchanged\":true"),
	      "record 2 unchanged");
	CHECK(strstr(data, "(record 2, sha256 ") && strstr(data, "\\n+c\\n"), "diff vs record 2");
	free(data);
	FILE *f = fopen(log, "ab"); /* a crash in the middle of a write */
	fputs("{\"id\":4,\"ti", f);
	fclose(f);
	CHECK(changelog_append(state, &e, &id, err, sizeof(err)) == 0 && id == 5, "after torn: %lu",
	      id);
	data = slurp(log, &len);
	CHECK(verify(data, len, &bad, why) == 3 && bad == 4, "torn record reported: %lu %s", bad,
	      why);
	free(data);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_round_trip();
	test_parse_refuses();
	test_chain();
	test_diff();
	test_verdict();
	test_append();
	return check_report("test_changelog");
}
