/* test_ratelimit.c — rate limits' pure part: fixed-window arithmetic, which limits apply to
 * whom at which stage (ratelimit_plan), the keys, and the ratelimit directives. */
#include "check.h"

#include "../../src/abuse/abuse.h"

#include <stdio.h>
#include <string.h>

static void test_window(void)
{
	static const struct {
		int64_t now;
		unsigned window;
		int64_t start;
		unsigned ttl;
	} rows[] = {
	    {0, 3600, 0, 3600},	      {3599, 3600, 0, 1},   {3600, 3600, 3600, 3600},
	    {7201, 3600, 7200, 3599}, {86399, 86400, 0, 1}, {-1, 60, -60, 1},
	    {1000, 0, 1000, 1}, /* no window: never divides by zero */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK(ratelimit_window_start(rows[i].now, rows[i].window) == rows[i].start,
		      "start row %zu", i);
		CHECK(ratelimit_window_ttl(rows[i].now, rows[i].window) == rows[i].ttl,
		      "ttl row %zu", i);
	}
}

static struct conf_ratelimit all_on(void)
{
	struct conf_ratelimit rl = {0};
	rl.ip_connections = (struct conf_rate){10, 60};
	rl.ip_messages = (struct conf_rate){100, 3600};
	rl.ip_recipients = (struct conf_rate){500, 3600};
	rl.user_messages[0] = (struct conf_rate){50, 3600};
	rl.user_messages[1] = (struct conf_rate){200, 86400};
	rl.user_recipients[0] = (struct conf_rate){100, 3600};
	rl.user_recipients[1] = (struct conf_rate){400, 86400};
	rl.circuit_breaker = (struct conf_rate){300, 3600};
	return rl;
}

/* The rules a plan holds, as "rule,rule,..." (the short names). */
static void plan_rules(const struct conf_ratelimit *rl, enum ratelimit_stage st,
		       const struct ratelimit_subject *sub, char *out, size_t len)
{
	struct ratelimit_check c[RATELIMIT_CHECKS_MAX];
	size_t n = ratelimit_plan(rl, st, sub, 7200, c);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *name = metrics_ratelimit_rules[c[i].rule] + strlen("ratelimit:");
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "," : "", name);
	}
}

static void test_plan(void)
{
	struct conf_ratelimit rl = all_on();
	struct {
		enum ratelimit_stage st;
		struct ratelimit_subject sub;
		const char *want;
	} rows[] = {
	    {RATELIMIT_CONNECT, {.ip = "192.0.2.1", .login = ""}, "ip-connections"},
	    {RATELIMIT_CONNECT, {.ip = "192.0.2.1", .login = "", .exempt = 1}, ""},
	    {RATELIMIT_MAIL, {.ip = "192.0.2.1", .login = ""}, "ip-messages"},
	    {RATELIMIT_MAIL, {.ip = "192.0.2.1", .login = "", .null_sender = 1}, ""}, /* bounce */
	    {RATELIMIT_MAIL, {.ip = "192.0.2.1", .login = "", .exempt = 1}, ""},
	    {RATELIMIT_MAIL, {.ip = "192.0.2.1", .login = "u"}, "account-tripped"},
	    {RATELIMIT_RCPT, {.ip = "192.0.2.1", .login = "", .rcpt = "a@b"}, "ip-recipients"},
	    /* inbound to a local mailbox: no per-user limit (not relayed) */
	    {RATELIMIT_RCPT, {.ip = "192.0.2.1", .login = "u", .rcpt = "a@local"}, ""},
	    {RATELIMIT_RCPT,
	     {.ip = "192.0.2.1", .login = "u", .relayed = 1, .first_relayed = 1, .rcpt = "x@r"},
	     "account-tripped,circuit-breaker,user-messages-hour,user-messages-day,"
	     "user-recipients-hour,user-recipients-day"},
	    {RATELIMIT_RCPT,
	     {.ip = "192.0.2.1", .login = "u", .relayed = 1, .rcpt = "x@r"},
	     "account-tripped,circuit-breaker,user-recipients-hour,user-recipients-day"},
	    {RATELIMIT_RCPT,
	     {.ip = "192.0.2.1",
	      .login = "u",
	      .relayed = 1,
	      .first_relayed = 1,
	      .null_sender = 1,
	      .rcpt = "x@r"},
	     "account-tripped,circuit-breaker,user-recipients-hour,user-recipients-day"},
	    {RATELIMIT_AUTH, {.ip = "192.0.2.1", .login = "u"}, "account-tripped"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char got[512];
		plan_rules(&rl, rows[i].st, &rows[i].sub, got, sizeof(got));
		CHECK_STR(got, rows[i].want, "plan row %zu", i);
	}
	struct conf_ratelimit off = {0};
	struct ratelimit_subject u = {.ip = "192.0.2.1", .login = "u", .relayed = 1, .rcpt = "x"};
	char got[512];
	plan_rules(&off, RATELIMIT_RCPT, &u, got, sizeof(got));
	CHECK_STR(got, "account-tripped", "limits off: only the trip is checked");
}

static void test_keys(void)
{
	struct conf_ratelimit rl = all_on();
	struct ratelimit_check c[RATELIMIT_CHECKS_MAX];
	struct ratelimit_subject sub = {
	    .ip = "192.0.2.1", .login = "u@x", .relayed = 1, .first_relayed = 1, .rcpt = "r@y"};
	size_t n = ratelimit_plan(&rl, RATELIMIT_RCPT, &sub, 7300, c);
	CHECK(n == 6, "six checks");
	CHECK_STR(c[0].key, "rl:u:u@x|tripped", "trip key");
	CHECK(c[1].kind == RATELIMIT_DISTINCT && c[1].trip && c[1].limit == 300, "breaker");
	CHECK_STR(c[1].key, "rl:u:u@x|cb|3600|7200", "breaker key");
	CHECK_STR(c[1].mark, "rl:u:u@x|cb|3600|7200|r@y", "breaker marker");
	CHECK(c[1].ttl == 3500, "ttl to the window's end");
	CHECK_STR(c[3].key, "rl:u:u@x|msgd|86400|0", "daily message key");
	struct ratelimit_subject ip = {.ip = "192.0.2.1", .login = ""};
	n = ratelimit_plan(&rl, RATELIMIT_CONNECT, &ip, 130, c);
	CHECK(n == 1 && c[0].kind == RATELIMIT_COUNT && c[0].ttl == 50, "connect");
	CHECK_STR(c[0].key, "rl:ip:192.0.2.1|conn|60|120", "connect key");
	/* a '|' in a login or recipient is escaped: no two logins share a key or a prefix */
	struct ratelimit_subject bar = {.ip = "192.0.2.1",
					.login = "u@x|cb|3600|7200",
					.relayed = 1,
					.first_relayed = 1,
					.rcpt = "a|%b@y"};
	n = ratelimit_plan(&rl, RATELIMIT_RCPT, &bar, 7300, c);
	CHECK(n == 6, "six checks for a login with '|'");
	CHECK_STR(c[0].key, "rl:u:u@x%7Ccb%7C3600%7C7200|tripped", "escaped trip key");
	CHECK_STR(c[1].mark, "rl:u:u@x%7Ccb%7C3600%7C7200|cb|3600|7200|a%7C%25b@y",
		  "escaped marker");
	char pre[ABUSE_KEY_MAX];
	CHECK(ratelimit_prefix_user("u@x", pre, sizeof(pre)) == 0, "prefix");
	CHECK(strncmp(c[0].key, pre, strlen(pre)) != 0, "u@x's prefix does not cover u@x|...");
	CHECK(ratelimit_prefix_user("u", pre, 4) < 0, "prefix too long");
}

static void test_conf(void)
{
	static const char ok[] = "listen 127.0.0.1:25\nratelimit ip-connections 30/1m\n"
				 "ratelimit ip-sessions 7\nratelimit ip-messages 100\n"
				 "ratelimit user-recipients-day 1000/1d\n"
				 "ratelimit circuit-breaker 500/2h\nratelimit ip-sessions off\n"
				 "ratelimit-on-store-error tempfail\n";
	struct conf *c = NULL;
	char err[256];
	CHECK(conf_parse(ok, strlen(ok), "t", &c, err, sizeof(err)) == 0, err);
	if (c) {
		const struct conf_ratelimit *r = &c->ratelimit;
		CHECK(r->ip_connections.count == 30 && r->ip_connections.window == 60, "conn");
		CHECK(c->limits.max_sessions_per_ip == 0, "ip-sessions: the last line wins (off)");
		CHECK(r->ip_messages.count == 100 && r->ip_messages.window == 3600, "bare count");
		CHECK(r->user_recipients[1].count == 1000 && r->user_recipients[1].window == 86400,
		      "day");
		CHECK(r->circuit_breaker.count == 500 && r->circuit_breaker.window == 7200, "cb");
		CHECK(r->tempfail_on_store_error, "tempfail");
		conf_free(c);
	}
	static const char def[] = "listen 127.0.0.1:25\n";
	CHECK(conf_parse(def, strlen(def), "t", &c, err, sizeof(err)) == 0, err);
	if (c) {
		CHECK(c->limits.max_sessions_per_ip == 50 && c->ratelimit.ip_messages.count == 0 &&
			  c->ratelimit.circuit_breaker.count == 0 &&
			  !c->ratelimit.tempfail_on_store_error,
		      "defaults");
		conf_free(c);
	}
	static const char *const bad[] = {
	    "ratelimit nope 1/1h\n",
	    "ratelimit ip-messages 0/1h\n",
	    "ratelimit ip-messages 5/0\n",
	    "ratelimit ip-messages x/1h\n",
	    "ratelimit ip-sessions 5/1h\n",
	    "ratelimit ip-messages 5/1h extra\n",
	    "ratelimit-on-store-error maybe\n",
	    "ratelimit ip-messages 5/\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "listen 127.0.0.1:25\n%s", bad[i]);
		CHECK(conf_parse(text, strlen(text), "t", &c, err, sizeof(err)) < 0, "%s", bad[i]);
	}
}

int main(void)
{
	test_window();
	test_plan();
	test_keys();
	test_conf();
	return check_report("ratelimit");
}
