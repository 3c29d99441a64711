/* test_metrics.c — Prometheus label escaping (text format 0.0.4: \\, \" and \n are the escapes),
 * the bounded table of RCPT verdicts per rule ID, and the rendered exposition text. */
#include "util/metrics.h"
#include "check.h"

#include <stdlib.h>

static void test_escape(void)
{
	static const struct {
		const char *in;
		size_t outlen;
		const char *want;
	} cases[] = {
	    {"local-mailbox", 64, "local-mailbox"},
	    {"/etc/relayguard.conf:14", 64, "/etc/relayguard.conf:14"},
	    {"a\\b", 64, "a\\\\b"},
	    {"say \"hi\"", 64, "say \\\"hi\\\""},
	    {"two\nlines", 64, "two\\nlines"},
	    {"tab\there\r", 64, "tab_here_"},
	    {"del\x7f", 64, "del_"},
	    {"b\xc3\xbc"
	     "cher",
	     64, "b__cher"}, /* always ASCII out */
	    {"", 64, ""},
	    {"abcdef", 4, "abc"},  /* truncated to fit with the NUL */
	    {"ab\\cd", 4, "ab"},   /* never half an escape */
	    {"ab\"", 5, "ab\\\""}, /* an escape that just fits */
	    {"x", 1, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		memset(out, 'Z', sizeof(out));
		CHECK_STR(metrics_escape_label(cases[i].in, out, cases[i].outlen), cases[i].want,
			  "case %zu", i);
	}
}

static const uint64_t *rule_counts(const struct metrics *m, const char *id)
{
	for (size_t i = 0; i < m->n_rules; i++)
		if (strcmp(m->rules[i].id, id) == 0)
			return m->rules[i].n;
	return NULL;
}

static void test_rule_table(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m) {
		CHECK(0, "out of memory");
		return;
	}
	metrics_count_rcpt(m, "local-mailbox", METRICS_ACCEPT);
	metrics_count_rcpt(m, "local-mailbox", METRICS_ACCEPT);
	metrics_count_rcpt(m, "implicit-reject", METRICS_REJECT);
	metrics_count_rcpt(m, "local-mailbox", METRICS_REJECT);
	const uint64_t *lm = rule_counts(m, "local-mailbox"),
		       *ir = rule_counts(m, "implicit-reject");
	CHECK(m->n_rules == 2, "two rules, have %zu", m->n_rules);
	CHECK(lm && lm[METRICS_ACCEPT] == 2 && lm[METRICS_REJECT] == 1, "local-mailbox 2/1");
	CHECK(ir && ir[METRICS_ACCEPT] == 0 && ir[METRICS_REJECT] == 1, "implicit-reject 0/1");

	char id[METRICS_RULE_ID_MAX + 1];
	memset(id, 'x', sizeof(id));
	id[METRICS_RULE_ID_MAX] = '\0'; /* one byte too long */
	metrics_count_rcpt(m, id, METRICS_REJECT);
	CHECK(m->n_rules == 2 && m->rules_other[METRICS_REJECT] == 1, "too long: other");
	id[METRICS_RULE_ID_MAX - 1] = '\0'; /* the longest that fits */
	metrics_count_rcpt(m, id, METRICS_ACCEPT);
	CHECK(m->n_rules == 3 && rule_counts(m, id), "longest ID has its own row");

	for (unsigned i = 0; m->n_rules < METRICS_RULES_MAX; i++) {
		snprintf(id, sizeof(id), "c.conf:%u", i);
		metrics_count_rcpt(m, id, METRICS_ACCEPT);
	}
	metrics_count_rcpt(m, "one-too-many", METRICS_ACCEPT);
	metrics_count_rcpt(m, "one-too-many", METRICS_REJECT);
	CHECK(!rule_counts(m, "one-too-many"), "table full: no row");
	CHECK(m->rules_other[METRICS_ACCEPT] == 1 && m->rules_other[METRICS_REJECT] == 2,
	      "table full: other %llu/%llu", (unsigned long long)m->rules_other[0],
	      (unsigned long long)m->rules_other[1]);
	metrics_count_rcpt(m, "local-mailbox", METRICS_ACCEPT);
	CHECK(rule_counts(m, "local-mailbox")[METRICS_ACCEPT] == 3, "known rule still counted");
	free(m);
}

/* Every line: a comment (# HELP / # TYPE of the family of the next samples) or
 * "relayguard_NAME[{k="v",...}] DIGITS". */
static int valid_exposition(const char *text)
{
	char family[128] = "";
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		if (!nl)
			return 0;
		if (strncmp(p, "# TYPE relayguard_", 18) == 0) {
			size_t n = strcspn(p + 7, " ");
			snprintf(family, sizeof(family), "%.*s", (int)n, p + 7);
		} else if (p[0] != '#') {
			size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
			if (n == 0 || strncmp(p, family, strlen(family)) != 0 || !family[0])
				return 0;
			const char *q = p + n;
			if (*q == '{')
				q = strchr(q, '}') + 1;
			if (*q++ != ' ' || strspn(q, "0123456789.") != (size_t)(nl - q))
				return 0;
		}
		p = nl + 1;
	}
	return 1;
}

static void test_format(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m) {
		CHECK(0, "out of memory");
		return;
	}
	struct metrics_queue q = {3, 5, 1, 42};
	m->sessions_total = 7;
	m->sessions_active = 2;
	m->sessions_rejected[METRICS_REFUSED_PREGREET] = 1;
	m->messages_received = 4;
	m->bytes_received = 1234;
	m->delivered[METRICS_MAILDIR] = 6;
	m->delivered[METRICS_SMTP] = 2;
	m->bounced = 1;
	metrics_count_rcpt(m, "local-mailbox", METRICS_ACCEPT);
	metrics_count_rcpt(m, "c.conf:\"7\"", METRICS_REJECT);
	metrics_count_sender(m, "local-sender-unauthenticated", METRICS_REJECT);
	metrics_count_sender(m, "local-sender-unauthenticated", METRICS_REJECT);
	size_t n = metrics_format(m, &q, NULL, 0);
	char *buf = malloc(n + 1);
	if (!buf) {
		free(m);
		CHECK(0, "out of memory");
		return;
	}
	CHECK(metrics_format(m, &q, buf, n + 1) == n && strlen(buf) == n, "measure = write");
	static const char *const lines[] = {
	    "# HELP relayguard_smtp_sessions_total ",
	    "# TYPE relayguard_smtp_sessions_total counter\nrelayguard_smtp_sessions_total 7\n",
	    "# TYPE relayguard_smtp_sessions_active gauge\nrelayguard_smtp_sessions_active 2\n",
	    "relayguard_smtp_sessions_rejected_total{reason=\"max-sessions\"} 0\n",
	    "relayguard_smtp_sessions_rejected_total{reason=\"pregreet\"} 1\n",
	    "relayguard_messages_received_total 4\n",
	    "relayguard_messages_received_bytes_total 1234\n",
	    "relayguard_rcpt_total{rule=\"local-mailbox\",verdict=\"accept\"} 1\n",
	    "relayguard_rcpt_total{rule=\"local-mailbox\",verdict=\"reject\"} 0\n",
	    "relayguard_rcpt_total{rule=\"c.conf:\\\"7\\\"\",verdict=\"reject\"} 1\n",
	    "relayguard_mail_total{rule=\"local-sender-unauthenticated\",verdict=\"reject\"} 2\n",
	    "relayguard_delivered_total{method=\"maildir\"} 6\n",
	    "relayguard_delivered_total{method=\"lmtp\"} 0\n",
	    "relayguard_delivered_total{method=\"smtp\"} 2\n",
	    "relayguard_deferred_total 0\n",
	    "relayguard_bounced_total 1\n",
	    "relayguard_expired_total 0\n",
	    "relayguard_dsn_sent_total 0\n",
	    "# TYPE relayguard_queue_messages gauge\nrelayguard_queue_messages 3\n",
	    "relayguard_queue_recipients 5\n",
	    "relayguard_queue_held_messages 1\n",
	    "relayguard_queue_oldest_age_seconds 42\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CHECK(strstr(buf, lines[i]) != NULL, "want \"%s\" in\n%s", lines[i], buf);
	CHECK(!strstr(buf, "rule=\"other\""), "no other row while nothing overflowed");
	CHECK(valid_exposition(buf), "exposition format\n%s", buf);

	char small[100];
	CHECK(metrics_format(m, &q, small, sizeof(small)) == n &&
		  strlen(small) == sizeof(small) - 1,
	      "truncated: full length returned, NUL-terminated");
	CHECK(strncmp(small, buf, sizeof(small) - 1) == 0, "truncated: a prefix");
	m->rules_other[METRICS_ACCEPT] = 9;
	m->backpressure_delay_ms = 1234;
	n = metrics_format(m, &q, NULL, 0);
	char *buf2 = malloc(n + 1);
	if (buf2) {
		metrics_format(m, &q, buf2, n + 1);
		CHECK(strstr(buf2, "relayguard_backpressure_delay_seconds 1.234\n"), "delay gauge");
		CHECK(strstr(buf2, "relayguard_rcpt_total{rule=\"other\",verdict=\"accept\"} 9\n"),
		      "overflow row");
	}
	free(buf2);
	free(buf);
	free(m);
}

static void test_self_audit(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	struct metrics_queue q = {0};
	char buf[16384];
	if (!m) {
		CHECK(0, "calloc");
		return;
	}
	metrics_format(m, &q, buf, sizeof(buf));
	CHECK(strstr(buf, "relayguard_self_audit_runs_total 0\n") != NULL, "runs before any");
	CHECK(strstr(buf, "relayguard_self_audit_last_run_timestamp_seconds 0\n") != NULL,
	      "last run before any");
	CHECK(strstr(buf, "# TYPE relayguard_self_audit_open gauge\n") != NULL &&
		  strstr(buf, "relayguard_self_audit_open{") == NULL,
	      "no listener gauge before a run");
	m->self_audit_runs = 3;
	m->self_audit_last_run = 1700000000;
	m->n_self_audit = 2;
	snprintf(m->self_audit[0].listener, sizeof(m->self_audit[0].listener), "0.0.0.0:25");
	snprintf(m->self_audit[1].listener, sizeof(m->self_audit[1].listener), "[::1]:587");
	m->self_audit[1].open = 1;
	metrics_format(m, &q, buf, sizeof(buf));
	CHECK(strstr(buf, "relayguard_self_audit_runs_total 3\n") != NULL, "runs");
	CHECK(strstr(buf, "relayguard_self_audit_last_run_timestamp_seconds 1700000000\n") != NULL,
	      "last run");
	CHECK(strstr(buf, "relayguard_self_audit_open{listener=\"0.0.0.0:25\"} 0\n") != NULL &&
		  strstr(buf, "relayguard_self_audit_open{listener=\"[::1]:587\"} 1\n") != NULL,
	      "per listener:\n%s", buf);
	free(m);
}

int main(void)
{
	test_self_audit();
	test_escape();
	test_rule_table();
	test_format();
	return check_report("test_metrics");
}
