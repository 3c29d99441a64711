/* test_policy.c — policy_check_rcpt as a table: every relay-tester form (nmap
 * smtp-open-relay, Greenbone smtp_relay2, DSBL/MAPS quoted forms) from an outside client
 * (127.0.0.2, no AUTH) must be refused unless it names a real local mailbox. */
#include "addr/addr.h"
#include "conf/conf.h"
#include "policy/policy.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static const char CONF_TEXT[] = "hostname mx.relay.test\n"
				"listen 127.0.0.1:25\n"
				"local-domain relay.test localhost\n"
				"mailbox postmaster\n"
				"mailbox alice\n"
				"mailbox bob@relay.test user robert\n"
				"trusted-network 127.0.0.1 ::1\n"
				"relay deny from 192.0.2.0/24 id blocked-net\n"
				"relay allow from trusted id local-host\n"
				"relay allow from authenticated id auth-users\n"
				"relay allow from 198.51.100.0/24 to partner.example id partner\n"
				"relay allow from trusted to listed.example id listed\n"
				"relay-recipient ann@listed.example Bob@Listed.Example\n";

enum want { W_SYNTAX, W_REJECT, W_LOCAL, W_RELAY };
enum who { OUTSIDE, TRUSTED, AUTHED, BLOCKED, PARTNER };

struct row {
	const char *source; /* where the form comes from */
	enum who who;
	const char *rcpt;
	enum want want;
	const char *rule; /* expected rule id (NULL for syntax errors) */
};

/* "[127.0.0.1]" is the server's own address (the client connected to it); nmap.scanme.org
 * and external.example stand for third parties. */
static const struct row rows[] = {
    /* nmap smtp-open-relay: the 16 MAIL/RCPT forms (recipient side) */
    {"nmap 1-3", OUTSIDE, "<relaytest@nmap.scanme.org>", W_REJECT, "implicit-reject"},
    {"nmap 4", OUTSIDE, "<relaytest%nmap.scanme.org@[127.0.0.1]>", W_REJECT,
     "routing-in-local-part"},
    {"nmap 5", OUTSIDE, "<relaytest%nmap.scanme.org@relay.test>", W_REJECT,
     "routing-in-local-part"},
    {"nmap 6", OUTSIDE, "<\"relaytest@nmap.scanme.org\">", W_REJECT, "routing-in-local-part"},
    {"nmap 7", OUTSIDE, "<\"relaytest%nmap.scanme.org\">", W_REJECT, "routing-in-local-part"},
    {"nmap 8", OUTSIDE, "<relaytest@nmap.scanme.org@[127.0.0.1]>", W_SYNTAX, NULL},
    {"nmap 9", OUTSIDE, "<\"relaytest@nmap.scanme.org\"@[127.0.0.1]>", W_REJECT,
     "routing-in-local-part"},
    {"nmap 10", OUTSIDE, "<relaytest@nmap.scanme.org@relay.test>", W_SYNTAX, NULL},
    {"nmap 11", OUTSIDE, "<@[127.0.0.1]:relaytest@nmap.scanme.org>", W_REJECT, "implicit-reject"},
    {"nmap 12", OUTSIDE, "<@relay.test:relaytest@nmap.scanme.org>", W_REJECT, "implicit-reject"},
    {"nmap 13", OUTSIDE, "<nmap.scanme.org!relaytest>", W_REJECT, "routing-in-local-part"},
    {"nmap 14", OUTSIDE, "<nmap.scanme.org!relaytest@[127.0.0.1]>", W_REJECT,
     "routing-in-local-part"},
    {"nmap 15", OUTSIDE, "<nmap.scanme.org!relaytest@relay.test>", W_REJECT,
     "routing-in-local-part"},
    {"nmap 16", OUTSIDE, "<\"relaytest@nmap.scanme.org\"@relay.test>", W_REJECT,
     "routing-in-local-part"},
    /* Greenbone smtp_relay2 tuples (recipient side; senders do not change the verdict) */
    {"greenbone unqualified", OUTSIDE, "<nobody>", W_REJECT, "unqualified-recipient"},
    {"greenbone localhost", OUTSIDE, "<nobody@localhost>", W_REJECT, "unknown-user"},
    {"greenbone ip-literal", OUTSIDE, "<nobody@[127.0.0.1]>", W_REJECT, "implicit-reject"},
    {"greenbone external", OUTSIDE, "<nobody@external.example>", W_REJECT, "implicit-reject"},
    {"greenbone postmaster@ip", OUTSIDE, "<postmaster@[127.0.0.1]>", W_REJECT, "implicit-reject"},
    {"greenbone ipv6 literal", OUTSIDE, "<nobody@[IPv6:::1]>", W_REJECT, "implicit-reject"},
    /* DSBL / MAPS quoted and routed forms */
    {"dsbl quoted bang", OUTSIDE, "<\"external.example!relaytest\"@relay.test>", W_REJECT,
     "routing-in-local-part"},
    {"maps double route", OUTSIDE, "<@a.example,@relay.test:relaytest@external.example>", W_REJECT,
     "implicit-reject"},
    {"trailing dot external", OUTSIDE, "<relaytest@external.example.>", W_REJECT,
     "implicit-reject"},
    {"upper-case external", OUTSIDE, "<RelayTest@EXTERNAL.EXAMPLE>", W_REJECT, "implicit-reject"},
    {"look-alike domain", OUTSIDE, "<alice@relay.test.external.example>", W_REJECT,
     "implicit-reject"},
    {"subdomain of local", OUTSIDE, "<alice@sub.relay.test>", W_REJECT, "implicit-reject"},
    /* real local users are accepted, in every spelling of the domain */
    {"local user", OUTSIDE, "<alice@relay.test>", W_LOCAL, "local-mailbox"},
    {"local case", OUTSIDE, "<ALICE@RELAY.TEST>", W_LOCAL, "local-mailbox"},
    {"local trailing dot", OUTSIDE, "<alice@relay.test.>", W_LOCAL, "local-mailbox"},
    {"second local domain", OUTSIDE, "<alice@localhost>", W_LOCAL, "local-mailbox"},
    {"domain-only mailbox", OUTSIDE, "<bob@relay.test>", W_LOCAL, "local-mailbox"},
    {"domain-only mailbox elsewhere", OUTSIDE, "<bob@localhost>", W_REJECT, "unknown-user"},
    {"RFC 5321 4.5.1 <postmaster>", OUTSIDE, "<Postmaster>", W_LOCAL, "postmaster-unqualified"},
    {"unknown local user", OUTSIDE, "<nosuch@relay.test>", W_REJECT, "unknown-user"},
    /* relay rules: first match wins */
    {"trusted relays", TRUSTED, "<friend@external.example>", W_RELAY, "local-host"},
    {"trusted, percent hack", TRUSTED, "<a%external.example@relay.test>", W_REJECT,
     "routing-in-local-part"},
    {"authenticated relays", AUTHED, "<friend@external.example>", W_RELAY, "auth-users"},
    {"deny before allow", BLOCKED, "<friend@external.example>", W_REJECT, "blocked-net"},
    {"blocked still gets local mail", BLOCKED, "<alice@relay.test>", W_LOCAL, "local-mailbox"},
    {"partner to its domain", PARTNER, "<x@partner.example>", W_RELAY, "partner"},
    /* relay-recipient: a relay domain with a user list relays to those users only */
    {"relay-recipient listed", TRUSTED, "<ann@listed.example>", W_RELAY, "local-host"},
    {"relay-recipient, other case", TRUSTED, "<BOB@listed.example>", W_RELAY, "local-host"},
    {"relay-recipient not listed", TRUSTED, "<zed@listed.example>", W_REJECT,
     "unknown-relay-recipient"},
    {"relay-recipient, outside client", OUTSIDE, "<ann@listed.example>", W_REJECT,
     "implicit-reject"},
    {"partner elsewhere", PARTNER, "<x@external.example>", W_REJECT, "implicit-reject"},
};

static void client_for(enum who who, struct policy_client *c)
{
	static const char *const addrs[] = {"127.0.0.2", "127.0.0.1", "203.0.113.5", "192.0.2.9",
					    "198.51.100.7"};
	struct cidr a, l;
	cidr_parse(addrs[who], &a);
	cidr_parse("127.0.0.1", &l);
	memcpy(c->addr, a.addr, 16);
	memcpy(c->local_addr, l.addr, 16);
	c->authenticated = who == AUTHED;
}

static void run_rows(const struct conf *conf)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct addr_path rcpt;
		struct policy_client client;
		size_t used;
		client_for(r->who, &client);
		enum addr_status st = addr_parse_path(r->rcpt, strlen(r->rcpt), 0, &rcpt, &used);
		if (r->want == W_SYNTAX) {
			CHECK(st != ADDR_OK, "%s: %s must be a syntax error", r->source, r->rcpt);
			continue;
		}
		CHECK(st == ADDR_OK, "%s: %s must parse (%s)", r->source, r->rcpt,
		      addr_status_text(st));
		if (st != ADDR_OK)
			continue;
		struct policy_verdict v = policy_check_rcpt(conf, &client, NULL, &rcpt);
		enum want got = v.result == POLICY_ACCEPT_LOCAL	  ? W_LOCAL
				: v.result == POLICY_ACCEPT_RELAY ? W_RELAY
								  : W_REJECT;
		CHECK(got == r->want, "%s: %s verdict %d want %d", r->source, r->rcpt, got,
		      r->want);
		CHECK_STR(v.rule_id, r->rule, "%s: %s rule", r->source, r->rcpt);
		/* the single invariant the whole project exists for */
		CHECK(r->who != OUTSIDE || v.result != POLICY_ACCEPT_RELAY, "%s: outside relay",
		      r->source);
	}
}

static void test_reply_codes(const struct conf *conf)
{
	static const struct {
		const char *rcpt, *reply;
	} cases[] = {
	    {"<x@external.example>", "554 5.7.1 Relay access denied"},
	    {"<nosuch@relay.test>", "550 5.1.1 No such user here"},
	    {"<nobody>", "553 5.1.3 Recipient address must be fully qualified"},
	    {"<a%b@relay.test>",
	     "550 5.7.1 Routing characters (% ! @) in the local part are not accepted"},
	    {"<alice@relay.test>", "250 2.1.5 Ok"},
	};
	struct policy_client client;
	client_for(OUTSIDE, &client);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path rcpt;
		size_t used;
		addr_parse_path(cases[i].rcpt, strlen(cases[i].rcpt), 0, &rcpt, &used);
		CHECK_STR(policy_check_rcpt(conf, &client, NULL, &rcpt).reply, cases[i].reply, "%s",
			  cases[i].rcpt);
	}
}

/* ip-literal-recipients yes: [our address] is local, any other literal is a relay. */
static void test_ip_literal(void)
{
	static const char text[] =
	    "listen 127.0.0.1:25\nlocal-domain relay.test\nmailbox postmaster\n"
	    "ip-literal-recipients yes\n";
	struct conf *conf;
	char err[256];
	CHECK(conf_parse(text, sizeof(text) - 1, "lit.conf", &conf, err, sizeof(err)) == 0, "%s",
	      err);
	if (!conf)
		return;
	struct policy_client client;
	client_for(OUTSIDE, &client);
	static const struct {
		const char *rcpt;
		enum policy_result want;
		const char *rule;
	} cases[] = {
	    {"<postmaster@[127.0.0.1]>", POLICY_ACCEPT_LOCAL, "local-mailbox"},
	    {"<nobody@[127.0.0.1]>", POLICY_REJECT, "unknown-user"},
	    {"<postmaster@[127.0.0.9]>", POLICY_REJECT, "implicit-reject"},
	    {"<postmaster@[IPv6:::1]>", POLICY_REJECT, "implicit-reject"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path rcpt;
		size_t used;
		addr_parse_path(cases[i].rcpt, strlen(cases[i].rcpt), 0, &rcpt, &used);
		struct policy_verdict v = policy_check_rcpt(conf, &client, NULL, &rcpt);
		CHECK(v.result == cases[i].want, "%s", cases[i].rcpt);
		CHECK_STR(v.rule_id, cases[i].rule, "%s", cases[i].rcpt);
	}
	conf_free(conf);
}

/* Rule IDs default to file:line. */
static void test_default_rule_id(void)
{
	static const char text[] = "listen 127.0.0.1:25\n\nrelay allow from 10.0.0.0/8\n";
	struct conf *conf;
	char err[256];
	CHECK(conf_parse(text, sizeof(text) - 1, "etc/x.conf", &conf, err, sizeof(err)) == 0, "%s",
	      err);
	if (!conf)
		return;
	struct policy_client client = {0};
	struct cidr a;
	cidr_parse("10.1.2.3", &a);
	memcpy(client.addr, a.addr, 16);
	struct addr_path rcpt;
	size_t used;
	addr_parse_path("<x@y.example>", 13, 0, &rcpt, &used);
	CHECK_STR(policy_check_rcpt(conf, &client, NULL, &rcpt).rule_id, "etc/x.conf:3",
		  "default id");
	conf_free(conf);
}

/* ---- policy_check_sender: the postmaster rule and the sender bound to the login ---- */

static const char SENDER_CONF[] = "listen 127.0.0.1:25\n"
				  "local-domain relay.test localhost\n"
				  "mailbox postmaster\n"
				  "mailbox alice\n"
				  "mailbox carol user alice\n"
				  "mailbox bob@relay.test user robert\n"
				  "trusted-network 127.0.0.1 ::1 10.0.0.0/8\n"
				  "sender-grant alice sales@relay.test @alice.example\n"
				  "sender-grant Robert Info@Relay.Test\n";

enum sender_who { S_OUTSIDE, S_TRUSTED, S_TRUSTED_NET };

struct sender_row {
	const char *why;
	enum sender_who who;
	const char *login; /* NULL: not authenticated */
	const char *from;
	const char *rule;
};

#define MISMATCH "sender-login-mismatch"
#define POSTMASTER "local-sender-unauthenticated"

/* The client connected to 127.0.0.1, so [127.0.0.1] is our own address literal. */
static const struct sender_row sender_rows[] = {
    /* the null sender (bounces, RFC 5321 4.5.5) from anyone */
    {"null, outside", S_OUTSIDE, NULL, "<>", "sender-null"},
    {"null, trusted", S_TRUSTED, NULL, "<>", "sender-null"},
    {"null, authenticated", S_OUTSIDE, "alice", "<>", "sender-null"},
    {"unqualified", S_OUTSIDE, NULL, "<nobody>", "unqualified-sender"},
    {"unqualified, authenticated", S_OUTSIDE, "alice", "<alice>", "unqualified-sender"},
    /* the postmaster rule: local senders need a trusted network or AUTH */
    {"forged local user (greenbone-forged-own)", S_OUTSIDE, NULL, "<alice@relay.test>", POSTMASTER},
    {"forged postmaster", S_OUTSIDE, NULL, "<postmaster@relay.test>", POSTMASTER},
    {"unknown user in a local domain", S_OUTSIDE, NULL, "<nosuch@relay.test>", POSTMASTER},
    {"second local domain", S_OUTSIDE, NULL, "<alice@localhost>", POSTMASTER},
    {"case differences", S_OUTSIDE, NULL, "<ALICE@RELAY.TEST>", POSTMASTER},
    {"trailing dot", S_OUTSIDE, NULL, "<alice@relay.test.>", POSTMASTER},
    {"quoted local part", S_OUTSIDE, NULL, "<\"alice\"@relay.test>", POSTMASTER},
    {"source route dropped", S_OUTSIDE, NULL, "<@a.example:alice@relay.test>", POSTMASTER},
    {"own IP literal (nmap 4)", S_OUTSIDE, NULL, "<antispam@[127.0.0.1]>", POSTMASTER},
    {"local user from localhost", S_TRUSTED, NULL, "<alice@relay.test>", "sender-ok"},
    {"local user from a trusted network", S_TRUSTED_NET, NULL, "<postmaster@relay.test>",
     "sender-ok"},
    {"own IP literal from localhost", S_TRUSTED, NULL, "<antispam@[127.0.0.1]>", "sender-ok"},
    /* foreign senders from outside: ordinary inbound mail */
    {"foreign sender", S_OUTSIDE, NULL, "<someone@external.example>", "sender-ok"},
    {"subdomain of a local domain", S_OUTSIDE, NULL, "<alice@sub.relay.test>", "sender-ok"},
    {"look-alike domain", S_OUTSIDE, NULL, "<alice@relay.test.external.example>", "sender-ok"},
    {"other IP literal", S_OUTSIDE, NULL, "<x@[127.0.0.9]>", "sender-ok"},
    {"IPv6 literal, client on IPv4", S_OUTSIDE, NULL, "<x@[IPv6:::1]>", "sender-ok"},
    {"foreign sender, trusted", S_TRUSTED, NULL, "<someone@external.example>", "sender-ok"},
    /* authenticated, login "alice" (not an address): her mailboxes and her grants only */
    {"own mailbox", S_OUTSIDE, "alice", "<alice@relay.test>", "sender-mailbox"},
    {"own mailbox, other local domain", S_OUTSIDE, "alice", "<alice@localhost>", "sender-mailbox"},
    {"own mailbox, case", S_OUTSIDE, "alice", "<Alice@RELAY.test>", "sender-mailbox"},
    {"own mailbox, quoted", S_OUTSIDE, "alice", "<\"alice\"@relay.test>", "sender-mailbox"},
    {"alias via mailbox user", S_OUTSIDE, "alice", "<carol@localhost>", "sender-mailbox"},
    {"login case", S_OUTSIDE, "ALICE", "<alice@relay.test>", "sender-mailbox"},
    {"grant address", S_OUTSIDE, "alice", "<sales@relay.test>", "sender-grant"},
    {"grant address, case", S_OUTSIDE, "alice", "<SALES@Relay.Test>", "sender-grant"},
    {"grant address is per domain", S_OUTSIDE, "alice", "<sales@localhost>", MISMATCH},
    {"grant domain", S_OUTSIDE, "alice", "<anyone@alice.example>", "sender-grant"},
    {"grant domain, case and dot", S_OUTSIDE, "alice", "<X@ALICE.EXAMPLE.>", "sender-grant"},
    {"grant domain excludes subdomains", S_OUTSIDE, "alice", "<x@sub.alice.example>", MISMATCH},
    {"someone else's mailbox", S_OUTSIDE, "alice", "<bob@relay.test>", MISMATCH},
    {"postmaster", S_OUTSIDE, "alice", "<postmaster@relay.test>", MISMATCH},
    {"unknown local user", S_OUTSIDE, "alice", "<nosuch@relay.test>", MISMATCH},
    {"foreign address", S_OUTSIDE, "alice", "<alice@external.example>", MISMATCH},
    {"own IP literal", S_OUTSIDE, "alice", "<alice@[127.0.0.1]>", MISMATCH},
    {"bound inside a trusted network too", S_TRUSTED, "alice", "<bob@relay.test>", MISMATCH},
    {"trusted, own mailbox", S_TRUSTED, "alice", "<alice@relay.test>", "sender-mailbox"},
    /* login "robert": a domain-specific mailbox and a grant written with capitals */
    {"mailbox in one domain", S_OUTSIDE, "robert", "<bob@relay.test>", "sender-mailbox"},
    {"not in the other domain", S_OUTSIDE, "robert", "<bob@localhost>", MISMATCH},
    {"the login name is no address", S_OUTSIDE, "robert", "<robert@relay.test>", MISMATCH},
    {"grant with a capitalised login", S_OUTSIDE, "robert", "<info@relay.test>", "sender-grant"},
    {"another login's grant", S_OUTSIDE, "robert", "<sales@relay.test>", MISMATCH},
    /* a login that is an address is its own sender, in any case */
    {"address login", S_OUTSIDE, "dave@relay.test", "<dave@relay.test>", "sender-login"},
    {"address login, case", S_OUTSIDE, "Dave@Relay.Test", "<DAVE@relay.test>", "sender-login"},
    {"address login, other domain", S_OUTSIDE, "dave@relay.test", "<dave@localhost>", MISMATCH},
    {"foreign address login", S_OUTSIDE, "eve@partner.example", "<eve@partner.example>",
     "sender-login"},
    {"address login, other address", S_OUTSIDE, "eve@partner.example", "<eve@relay.test>",
     MISMATCH},
    {"empty login is no login", S_OUTSIDE, "", "<alice@relay.test>", POSTMASTER},
};

static void sender_client(enum sender_who who, struct policy_client *c)
{
	static const char *const addrs[] = {"127.0.0.2", "127.0.0.1", "10.9.8.7"};
	struct cidr a, l;
	cidr_parse(addrs[who], &a);
	cidr_parse("127.0.0.1", &l);
	memset(c, 0, sizeof(*c));
	memcpy(c->addr, a.addr, 16);
	memcpy(c->local_addr, l.addr, 16);
}

static void test_sender_rows(const struct conf *conf)
{
	for (size_t i = 0; i < sizeof(sender_rows) / sizeof(sender_rows[0]); i++) {
		const struct sender_row *r = &sender_rows[i];
		struct addr_path from;
		struct policy_client client;
		size_t used;
		sender_client(r->who, &client);
		client.authenticated = r->login && r->login[0];
		enum addr_status st = addr_parse_path(r->from, strlen(r->from), 0, &from, &used);
		CHECK(st == ADDR_OK, "%s: %s must parse", r->why, r->from);
		if (st != ADDR_OK)
			continue;
		struct policy_verdict v = policy_check_sender(conf, &client, r->login, &from);
		CHECK_STR(v.rule_id, r->rule, "%s: %s (login %s)", r->why, r->from,
			  r->login ? r->login : "none");
		int reject = !strcmp(r->rule, MISMATCH) || !strcmp(r->rule, POSTMASTER) ||
			     !strcmp(r->rule, "unqualified-sender");
		CHECK(v.result == (reject ? POLICY_REJECT : POLICY_ACCEPT_SENDER), "%s: result %d",
		      r->why, v.result);
		CHECK(reject || !strcmp(v.reply, "250 2.1.0 Ok"), "%s: reply %s", r->why, v.reply);
	}
}

static void test_sender_replies(const struct conf *conf)
{
	static const struct {
		const char *login, *from, *reply;
	} cases[] = {
	    {NULL, "<alice@relay.test>",
	     "550 5.7.1 Sender address in a local domain requires authentication"},
	    {"alice", "<bob@relay.test>", "553 5.7.1 Sender address not owned by user"},
	    {NULL, "<nobody>", "553 5.1.7 Sender address must be fully qualified"},
	};
	struct policy_client client;
	sender_client(S_OUTSIDE, &client);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_path from;
		size_t used;
		addr_parse_path(cases[i].from, strlen(cases[i].from), 0, &from, &used);
		CHECK_STR(policy_check_sender(conf, &client, cases[i].login, &from).reply,
			  cases[i].reply, "%s", cases[i].from);
	}
}

/* No local domain, no trusted network: nothing is local but our own address literal. */
static void test_sender_minimal(void)
{
	static const char text[] = "listen 127.0.0.1:25\n";
	struct conf *conf;
	char err[256];
	CHECK(conf_parse(text, sizeof(text) - 1, "min.conf", &conf, err, sizeof(err)) == 0, "%s",
	      err);
	if (!conf)
		return;
	struct policy_client client;
	sender_client(S_TRUSTED, &client); /* 127.0.0.1 is not trusted here */
	struct addr_path from;
	size_t used;
	addr_parse_path("<x@[127.0.0.1]>", 15, 0, &from, &used);
	CHECK_STR(policy_check_sender(conf, &client, NULL, &from).rule_id, POSTMASTER,
		  "own literal, no trusted network");
	addr_parse_path("<x@relay.test>", 14, 0, &from, &used);
	CHECK_STR(policy_check_sender(conf, &client, NULL, &from).rule_id, "sender-ok",
		  "no local domains");
	conf_free(conf);
}

static void test_sender(void)
{
	struct conf *conf;
	char err[256];
	CHECK(conf_parse(SENDER_CONF, sizeof(SENDER_CONF) - 1, "sender.conf", &conf, err,
			 sizeof(err)) == 0,
	      "%s", err);
	if (!conf)
		return;
	test_sender_rows(conf);
	test_sender_replies(conf);
	conf_free(conf);
	test_sender_minimal();
}

int main(void)
{
	struct conf *conf;
	char err[256];
	if (conf_parse(CONF_TEXT, sizeof(CONF_TEXT) - 1, "policy.conf", &conf, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "config: %s\n", err);
		return 1;
	}
	run_rows(conf);
	test_reply_codes(conf);
	conf_free(conf);
	test_ip_literal();
	test_default_rule_id();
	test_sender();
	return check_report("test_policy");
}
