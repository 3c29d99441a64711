/* test_probe.c — the relay battery (data) and the static audit over a corpus of configs:
 * correct ones must be clean, the deliberately wrong ones (real mistakes) must be flagged. */
#include "addr/addr.h"
#include "conf/conf.h"
#include "probe/probe.h"
#include "check.h"

#include <stdlib.h>

static void test_battery_shape(void)
{
	CHECK(probe_battery_len >= 24, "at least 24 tests, have %zu", probe_battery_len);
	size_t nmap = 0;
	for (size_t i = 0; i < probe_battery_len; i++) {
		const struct probe_test *t = &probe_battery[i];
		nmap += strncmp(t->id, "nmap-", 5) == 0;
		CHECK(t->why && *t->why, "%s has an explanation", t->id);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(t->id, probe_battery[j].id) != 0, "duplicate id %s", t->id);
		static const struct probe_target targets[] = {
		    {"mx.example.org", "192.0.2.1"}, {"mx.example.org", "IPv6:2001:db8::1"}};
		for (size_t k = 0; k < 2; k++) {
			char from[600], rcpt[600];
			CHECK(probe_expand(t->from, &targets[k], from, sizeof(from)) == 0,
			      "%s from", t->id);
			CHECK(probe_expand(t->rcpt, &targets[k], rcpt, sizeof(rcpt)) == 0,
			      "%s rcpt", t->id);
			CHECK(strchr(rcpt, '{') == NULL, "%s: no placeholder left in %s", t->id,
			      rcpt);
		}
	}
	CHECK(nmap == 16, "all 16 nmap smtp-open-relay forms, have %zu", nmap);
	char out[64];
	struct probe_target t = {"d.example", "192.0.2.1"};
	CHECK(probe_expand("<a@{nope}>", &t, out, sizeof(out)) == -1, "unknown placeholder");
	CHECK(probe_expand("<{dom}{dom}{dom}{dom}{dom}{dom}{dom}>", &t, out, sizeof(out)) == -1,
	      "does not fit");
	CHECK(probe_expand("<x@[{ip}]>", &t, out, sizeof(out)) == 0 &&
		  !strcmp(out, "<x@[192.0.2.1]>"),
	      "ip literal");
}

struct tally {
	size_t errors, warnings;
	char text[8192];
};

static void collect(void *arg, const struct audit_finding *f)
{
	struct tally *t = arg;
	size_t n = strlen(t->text);
	*(f->severity == AUDIT_ERROR ? &t->errors : &t->warnings) += 1;
	snprintf(t->text + n, sizeof(t->text) - n, "%s %s: %s\n",
		 f->severity == AUDIT_ERROR ? "E" : "W", f->where, f->what);
}

#define BASE "listen 192.0.2.25:25\nlocal-domain example.org\nmailbox postmaster\n"
/* BASE without its listener: the next line written is line 3 */
#define BASE_NL "local-domain example.org\nmailbox postmaster\n"
/* the files are not read by conf_parse: only their presence counts for the audit */
#define CERT "tls-certificate /etc/relayguard/cert.pem\ntls-key /etc/relayguard/key.pem\n"

/* Is a battery sender one of the server's own (BASE: example.org, or the listener's literal
 * [192.0.2.25])? The postmaster rule refuses those at MAIL from an untrusted client. */
static int own_sender(const struct addr_path *from)
{
	return !strcmp(from->domain, "example.org") || !strcmp(from->domain, "[192.0.2.25]");
}

/* The battery forms a "relay from anyone" rule lets through: those that name a plain third-party
 * mailbox (the routing forms, unqualified and malformed ones are refused whatever the rules),
 * for a trusted client (trusted_client = 1) or an outside one, whose forged local senders the
 * postmaster rule refuses at MAIL first. */
static size_t relayable(int trusted_client)
{
	size_t n = 0;
	struct probe_target t = {"example.org", "192.0.2.25"};
	for (size_t i = 0; i < probe_battery_len; i++) {
		char from[600], rcpt[600];
		struct addr_path a, f;
		size_t used;
		probe_expand(probe_battery[i].from, &t, from, sizeof(from));
		probe_expand(probe_battery[i].rcpt, &t, rcpt, sizeof(rcpt));
		if (addr_parse_path(from, strlen(from), 1, &f, &used) != ADDR_OK || f.unqualified ||
		    (!trusted_client && own_sender(&f)))
			continue;
		n += addr_parse_path(rcpt, strlen(rcpt), 1, &a, &used) == ADDR_OK && !a.routing &&
		     !a.unqualified;
	}
	return n;
}

static const struct {
	const char *name, *text;
	size_t errors, relay_clients,
	    warnings;		       /* errors besides the relayed tests; outside
					  clients (v4, v6) that relay each relayable test */
	const char *expect;	       /* a substring of the findings, NULL when clean */
	size_t trusted;		       /* of the relay_clients, those inside a trusted-network: the
					  postmaster rule does not stop their forged local senders */
	const char *expect2, *expect3; /* more findings ("W FILE:LINE: what"), or NULL */
} corpus[] = {
    /* correct configurations: nothing to report */
    {"closed defaults", BASE "trusted-network 127.0.0.1 ::1\nrelay allow from trusted\n", 0, 0, 0,
     NULL},
    /* a correct backup MX lists the relay domain's users (no backscatter) */
    {"backup MX for one domain",
     BASE "relay allow from any to backup.example id backup-mx\n"
	  "relay-recipient ann@backup.example bob@backup.example\n",
     0, 0, 0, NULL},
    /* without the list, every address is accepted: the backscatter warning */
    {"backup MX without its users", BASE "relay allow from any to backup.example id backup-mx\n", 0,
     0, 1,
     "W backup-mx: relay domain backup.example has no recipient check: every address in it is "
     "accepted"},
    {"submission-only relay",
     BASE CERT "listen 192.0.2.25:587 role submission\nrelay allow from authenticated\n", 0, 0, 0,
     NULL},
    {"submission-only, no port 25",
     BASE_NL CERT "listen 192.0.2.25:587 role submission\nlisten 192.0.2.25:465 role submission "
		  "tls implicit\nrelay allow from authenticated id users\n",
     0, 0, 0, NULL},
    {"every interface, private trusted networks",
     BASE_NL "listen 0.0.0.0:25\nlisten [::]:25\ntrusted-network 127.0.0.1 ::1 10.1.0.0/16 "
	     "192.168.7.0/24 fd00:7::/48\nrelay allow from trusted\n",
     0, 0, 0, NULL},
    {"office network",
     BASE "trusted-network 198.51.100.0/24 2001:db8:5::/48\nrelay allow from trusted\n", 0, 0, 0,
     NULL},
    {"partner gateway", BASE "relay allow from 203.0.113.7 to partner.example\n", 0, 0, 0, NULL},
    {"no relay at all", BASE, 0, 0, 0, NULL},
    {"metrics on loopback", BASE "metrics-listen 127.0.0.1:9100\n", 0, 0, 0, NULL},
    {"metrics on IPv6 loopback", BASE "metrics-listen [::1]:9100\n", 0, 0, 0, NULL},
    /* real mistakes */
    {"mynetworks too wide", BASE "trusted-network 10.0.0.0/8\nrelay allow from trusted\n", 0, 0, 1,
     "trusted-network 10.0.0.0/8 is wider than one site"},
    {"relay to any domain from anyone", BASE "relay allow from any id oops\n", 1, 2, 0,
     "'relay allow from any' makes an open relay"},
    {"permit before the reject it shadows",
     BASE "trusted-network 10.1.0.0/16\nrelay allow from trusted id lan\nrelay deny from "
	  "10.1.2.0/24 id quarantine\n",
     0, 0, 1, "quarantine: this deny never matches: allow rule lan"},
    {"trusted 0.0.0.0/0 via a typo", BASE "trusted-network 0.0.0.0/0\nrelay allow from trusted\n",
     1, 1, 0,
     "trusted-network 0.0.0.0/0 is wider than one site (/16): every host in it may relay - that is "
     "the whole Internet",
     1},
    {"IPv6 ::/0 trusted", BASE "trusted-network ::/0\nrelay allow from trusted\n", 1, 2, 0,
     "trusted-network ::/0", 2},
    {"relay from a /1 (meant /31)", BASE "relay allow from 128.0.0.0/1 id typo\n", 0, 1, 1,
     "relay allowed from 128.0.0.0/1, wider than one site"},
    {"metrics on every address", BASE "metrics-listen 0.0.0.0:9100\n", 0, 0, 1,
     "metrics-listen: metrics endpoint on 0.0.0.0:9100 is not a loopback address"},
    {"metrics on a public IPv6 address", BASE "metrics-listen [2001:db8::25]:9100\n", 0, 0, 1,
     "it is unauthenticated HTTP"},
    {"allow any IPv6 to a domain list", BASE "relay allow from ::/0 to relay-test.example id v6\n",
     1, 2, 1, "relay test external-to-external", 0,
     "W v6: relay domain relay-test.example has no recipient check"},
    /* AUTH on port 25 without TLS: never offered (no certificate), and on the MX role */
    {"AUTH on 25 without TLS",
     BASE_NL "listen 192.0.2.25:25 auth yes\nrelay allow from authenticated\n", 0, 0, 2,
     "W c.conf:3: listen 192.0.2.25:25 offers AUTH but no tls-certificate is configured: AUTH is "
     "offered only under TLS, so nobody can log in\n",
     0,
     "W c.conf:3: listen 192.0.2.25:25 has 'auth yes' on the MX role (role smtp): it invites "
     "password guessing on port 25"},
    {"AUTH on 25 with TLS",
     BASE_NL CERT "listen 192.0.2.25:25 auth yes\nrelay allow from authenticated\n", 0, 0, 1,
     "W c.conf:5: listen 192.0.2.25:25 has 'auth yes' on the MX role"},
    {"submission without a certificate",
     BASE "listen 192.0.2.25:587 role submission\nrelay allow from authenticated\n", 1, 0, 0,
     "E c.conf:4: listen 192.0.2.25:587 offers AUTH but no tls-certificate is configured: AUTH is "
     "offered only under TLS, so nobody can log in and every MAIL gets 530"},
    {"submission without a relay rule for its users",
     BASE CERT "listen 192.0.2.25:587 role submission\n", 0, 0, 1,
     "W c.conf:6: listen 192.0.2.25:587 is a submission listener, but no relay rule lets an "
     "authenticated client send to other domains: users cannot send out"},
    {"relay for authenticated clients, no listener offers AUTH",
     BASE "relay allow from authenticated id users\n", 0, 0, 1,
     "W users: 'relay allow from authenticated' but no listener offers AUTH"},
    {"every interface, a public trusted network",
     BASE_NL "listen 0.0.0.0:25\ntrusted-network 127.0.0.1\ntrusted-network 198.51.100.0/24\n"
	     "relay allow from trusted\n",
     0, 0, 1,
     "W c.conf:5: listen 0.0.0.0:25 (c.conf:3) is on every interface and trusted-network "
     "198.51.100.0/24 (c.conf:5) is neither loopback nor private"},
    {"every IPv6 interface, a public trusted network",
     BASE_NL "listen [::]:25\ntrusted-network ::1 2001:db8:5::/48\nrelay allow from trusted\n", 0,
     0, 1,
     "W c.conf:4: listen [::]:25 (c.conf:3) is on every interface and trusted-network "
     "2001:db8:5::/48 (c.conf:4)"},
    /* "an alias table that forwards outside": the mailbox table cannot forward (a mailbox is a
       Maildir), so the closest real mistake is forwarding a whole alias domain to an outside
       host, which accepts every address in it: the backscatter of a relay domain */
    {"alias domain forwarded outside",
     BASE "relay allow from any to alias.example id aliases\nroute alias.example via "
	  "198.51.100.9\n",
     0, 0, 1, "W aliases: relay domain alias.example has no recipient check"},
    {"relay rule for a local domain", BASE "relay allow from any to example.org id mine\n", 0, 0, 1,
     "W mine: 'to example.org' never applies: example.org is a local-domain"},
    {"deny before the allow it shadows",
     BASE "trusted-network 10.1.0.0/16\nrelay deny from any id stop\nrelay allow from trusted "
	  "id lan\n",
     0, 0, 1, "W lan: this allow never matches: deny rule stop comes first and covers it"},
};

static void test_corpus(void)
{
	size_t r = relayable(0), rt = relayable(1);
	CHECK(r >= 5, "the battery has plain third-party forms with foreign senders: %zu", r);
	CHECK(rt >= 10 && rt > r, "and more with forged local senders: %zu", rt);
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		struct conf *c;
		char err[256];
		struct tally t = {0};
		if (conf_parse(corpus[i].text, strlen(corpus[i].text), "c.conf", &c, err,
			       sizeof(err)) < 0) {
			CHECK(0, "%s: %s", corpus[i].name, err);
			continue;
		}
		size_t n = audit_config(c, collect, &t);
		CHECK(n == t.errors + t.warnings, "%s: count", corpus[i].name);
		size_t want = corpus[i].errors + (corpus[i].relay_clients - corpus[i].trusted) * r +
			      corpus[i].trusted * rt;
		CHECK(t.errors == want && t.warnings == corpus[i].warnings,
		      "%s: %zu errors %zu warnings, want %zu/%zu\n%s", corpus[i].name, t.errors,
		      t.warnings, want, corpus[i].warnings, t.text);
		const char *expect[] = {corpus[i].expect, corpus[i].expect2, corpus[i].expect3};
		for (size_t e = 0; e < 3; e++)
			if (expect[e])
				CHECK(strstr(t.text, expect[e]) != NULL, "%s: want \"%s\" in\n%s",
				      corpus[i].name, expect[e], t.text);
		conf_free(c);
	}
}

/* The "who may relay" matrix, collected: every cell of every row, described. */
#define MATRIX_ROWS 16
struct matrix_seen {
	size_t n;
	struct {
		char listen[64], client[96];
		int auth_offered;
		char cell[2][2][160]; /* [authenticated][local/foreign], audit_cell_describe */
		const char *stage[2][2];
	} row[MATRIX_ROWS];
};

static void collect_row(void *arg, const struct audit_row *r)
{
	struct matrix_seen *m = arg;
	if (m->n == MATRIX_ROWS)
		return;
	snprintf(m->row[m->n].listen, sizeof(m->row[m->n].listen), "%s", r->listen->text);
	snprintf(m->row[m->n].client, sizeof(m->row[m->n].client), "%s", r->client);
	m->row[m->n].auth_offered = r->auth_offered;
	for (int a = 0; a < 2; a++)
		for (int d = 0; d < 2; d++) {
			audit_cell_describe(&r->cell[a][d], m->row[m->n].cell[a][d],
					    sizeof(m->row[m->n].cell[a][d]));
			m->row[m->n].stage[a][d] = r->cell[a][d].stage;
		}
	m->n++;
}

/* One expected row: listener, client class, then unauthenticated local/foreign and
 * authenticated local/foreign. */
struct matrix_want {
	const char *listen, *client, *cells[4];
};

static void check_matrix(const char *name, const char *text, size_t len,
			 const struct matrix_want *want, size_t n_want)
{
	struct conf *c;
	char err[256];
	struct matrix_seen m = {0};
	CHECK(conf_parse(text, len, name, &c, err, sizeof(err)) == 0, "%s: %s", name, err);
	if (!c)
		return;
	audit_matrix(c, collect_row, &m);
	CHECK(m.n == n_want, "%s: %zu rows, want %zu", name, m.n, n_want);
	for (size_t i = 0; i < n_want && i < m.n; i++) {
		CHECK_STR(m.row[i].listen, want[i].listen, "%s row %zu", name, i);
		CHECK(strncmp(m.row[i].client, want[i].client, strlen(want[i].client)) == 0,
		      "%s row %zu: client %s, want %s", name, i, m.row[i].client, want[i].client);
		for (int k = 0; k < 4; k++)
			CHECK_STR(m.row[i].cell[k / 2][k % 2], want[i].cells[k],
				  "%s row %zu (%s) %s %s", name, i, m.row[i].client,
				  k / 2 ? "authenticated" : "unauthenticated",
				  k % 2 ? "foreign" : "local");
	}
	conf_free(c);
}

#define NA_AUTH "n/a (no AUTH here)"
#define AUTH530 "530 auth required"
#define LOCAL_OK "accept [local-mailbox]"
#define DENIED "refuse 554 [implicit-reject]"

/* Issue 7: a port-25 listener (no AUTH) and a submission listener with TLS, side by side. */
static void test_matrix(void)
{
	static const char text[] =
	    "listen 192.0.2.25:25\nlisten 192.0.2.25:587 role submission\n" CERT BASE_NL
	    "trusted-network 127.0.0.1 198.51.100.0/24\n"
	    "relay allow from trusted id lan\nrelay allow from authenticated id sub\n";
	static const struct matrix_want want[] = {
	    {"192.0.2.25:25", "localhost 127.0.0.1", {LOCAL_OK, "accept [lan]", NA_AUTH, NA_AUTH}},
	    {"192.0.2.25:25", "trusted 127.0.0.1/32", {LOCAL_OK, "accept [lan]", NA_AUTH, NA_AUTH}},
	    {"192.0.2.25:25",
	     "trusted 198.51.100.0/24",
	     {LOCAL_OK, "accept [lan]", NA_AUTH, NA_AUTH}},
	    {"192.0.2.25:25", "any other IPv4 (", {LOCAL_OK, DENIED, NA_AUTH, NA_AUTH}},
	    {"192.0.2.25:25", "any other IPv6 (", {LOCAL_OK, DENIED, NA_AUTH, NA_AUTH}},
	    /* RFC 6409: the submission listener wants a login before MAIL, whoever connects */
	    {"192.0.2.25:587", "localhost 127.0.0.1", {AUTH530, AUTH530, LOCAL_OK, "accept [lan]"}},
	    {"192.0.2.25:587",
	     "trusted 127.0.0.1/32",
	     {AUTH530, AUTH530, LOCAL_OK, "accept [lan]"}},
	    {"192.0.2.25:587",
	     "trusted 198.51.100.0/24",
	     {AUTH530, AUTH530, LOCAL_OK, "accept [lan]"}},
	    {"192.0.2.25:587", "any other IPv4 (", {AUTH530, AUTH530, LOCAL_OK, "accept [sub]"}},
	    {"192.0.2.25:587", "any other IPv6 (", {AUTH530, AUTH530, LOCAL_OK, "accept [sub]"}},
	};
	check_matrix("m.conf", text, sizeof(text) - 1, want, sizeof(want) / sizeof(want[0]));
}

/* Without a certificate AUTH is never offered (only under TLS), so the submission listener
 * takes mail from nobody; without a mailbox the local column is n/a; a deny rule decides for
 * its network, authenticated or not. */
static void test_matrix_edges(void)
{
	static const char text[] =
	    "listen 192.0.2.25:25 auth yes\nlisten [2001:db8::25]:587 role submission\n"
	    "local-domain example.org\nrelay deny from 198.51.100.0/24 id bad\n"
	    "relay allow from authenticated id sub\n";
	static const char *const no_mb = "n/a (no local mailbox)";
	static const struct matrix_want want[] = {
	    {"192.0.2.25:25", "localhost 127.0.0.1", {no_mb, DENIED, NA_AUTH, NA_AUTH}},
	    {"192.0.2.25:25", "any other IPv4 (", {no_mb, DENIED, NA_AUTH, NA_AUTH}},
	    {"192.0.2.25:25", "any other IPv6 (", {no_mb, DENIED, NA_AUTH, NA_AUTH}},
	    {"[2001:db8::25]:587", "localhost 127.0.0.1", {no_mb, AUTH530, NA_AUTH, NA_AUTH}},
	    {"[2001:db8::25]:587", "any other IPv4 (", {no_mb, AUTH530, NA_AUTH, NA_AUTH}},
	    {"[2001:db8::25]:587", "any other IPv6 (", {no_mb, AUTH530, NA_AUTH, NA_AUTH}},
	};
	check_matrix("e.conf", text, sizeof(text) - 1, want, sizeof(want) / sizeof(want[0]));

	/* With the certificate, port 25's auth yes counts; the deny rule comes first for its
	 * network, before the login is asked about. */
	static const char text2[] =
	    "listen 192.0.2.25:25 auth yes\n" CERT BASE_NL "trusted-network 198.51.100.0/24\n"
	    "relay deny from 198.51.100.0/24 id bad\nrelay allow from authenticated id sub\n";
	static const struct matrix_want want2[] = {
	    {"192.0.2.25:25", "localhost 127.0.0.1", {LOCAL_OK, DENIED, LOCAL_OK, "accept [sub]"}},
	    {"192.0.2.25:25",
	     "trusted 198.51.100.0/24",
	     {LOCAL_OK, "refuse 554 [bad]", LOCAL_OK, "refuse 554 [bad]"}},
	    {"192.0.2.25:25", "any other IPv4 (", {LOCAL_OK, DENIED, LOCAL_OK, "accept [sub]"}},
	    {"192.0.2.25:25", "any other IPv6 (", {LOCAL_OK, DENIED, LOCAL_OK, "accept [sub]"}},
	};
	check_matrix("a.conf", text2, sizeof(text2) - 1, want2, sizeof(want2) / sizeof(want2[0]));

	struct audit_cell refused = {AUDIT_REFUSE, "MAIL", "sender-login-mismatch",
				     "553 5.7.1 Sender address not owned by user"};
	char out[128];
	audit_cell_describe(&refused, out, sizeof(out));
	CHECK_STR(out, "refuse 553 [sender-login-mismatch]", "a MAIL refusal in words");
}

/* SMTP replies from untrusted servers. */
static void test_replies(void)
{
	static const struct {
		const char *in;
		long want;
		int code;
	} cases[] = {
	    {"250 ok\r\n", 8, 250},
	    {"250-a\r\n250-b\r\n250 c\r\n", 21, 250},
	    {"354\r\n", 5, 354},		/* code alone */
	    {"220 mx ESMTP\n", 13, 220},	/* bare LF tolerated */
	    {"250-a\r\n", 0, 0},		/* continuation: incomplete */
	    {"250 ok", 0, 0},			/* no line end yet */
	    {"250-a\r\n251 b\r\n", -1, 0},	/* codes differ */
	    {"25 x\r\n", -1, 0},		/* short code */
	    {"abc ok\r\n", -1, 0},		/* not a code */
	    {"250xok\r\n", -1, 0},		/* bad separator */
	    {"650 ok\r\n", -1, 0},		/* no such class */
	    {"250 ok\r\n550 next\r\n", 8, 250}, /* only the first reply */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct deliver_reply r = {0};
		long n = deliver_reply_parse(cases[i].in, strlen(cases[i].in), &r);
		CHECK(n == cases[i].want && (n <= 0 || r.code == cases[i].code), "reply %zu: %ld",
		      i, n);
	}
	char name[64];
	CHECK(probe_reply_name("220 mx.example.org ESMTP", 24, name, sizeof(name)) == 0 &&
		  !strcmp(name, "mx.example.org"),
	      "banner name");
	CHECK(probe_reply_name("220 <script>", 12, name, sizeof(name)) == -1, "no garbage names");
}

/* audit_battery runs MAIL through the sender rules: a forged local sender from outside stops
 * at MAIL with the postmaster rule's ID, whatever the relay rules say. */
struct outcome {
	const char *id;
	char stage[8], rule[64], rcpt[600];
	size_t runs;
};

static void find_outcome(void *arg, const struct audit_battery_result *r)
{
	struct outcome *o = arg;
	if (strcmp(r->test->id, o->id) != 0)
		return;
	o->runs++;
	snprintf(o->stage, sizeof(o->stage), "%s", r->stage);
	snprintf(o->rule, sizeof(o->rule), "%s", r->rule);
	snprintf(o->rcpt, sizeof(o->rcpt), "%s", r->rcpt);
}

static void test_battery_sender(void)
{
	static const struct {
		const char *conf, *id, *stage, *rule;
	} cases[] = {
	    {BASE "relay allow from any id open\n", "greenbone-forged-own", "MAIL",
	     "local-sender-unauthenticated"},
	    {BASE "relay allow from any id open\n", "nmap-04", "MAIL",
	     "local-sender-unauthenticated"},
	    {BASE "relay allow from any id open\n", "greenbone-unqualified-sender", "MAIL",
	     "unqualified-sender"},
	    {BASE "relay allow from any id open\n", "external-to-external", "", "open"},
	    {BASE "relay allow from any id open\n", "nmap-01", "", "open"},
	    {BASE, "external-to-external", "RCPT", "implicit-reject"},
	    {BASE, "nmap-06", "MAIL", "local-sender-unauthenticated"},
	    {BASE, "dsbl-quoted-bang", "RCPT", "routing-in-local-part"},
	    /* everybody trusted: the forged sender passes MAIL, and relays */
	    {BASE "trusted-network ::/0\nrelay allow from trusted id all\n", "greenbone-forged-own",
	     "", "all"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c;
		char err[256];
		struct outcome o = {cases[i].id, "", "", "", 0};
		if (conf_parse(cases[i].conf, strlen(cases[i].conf), "b.conf", &c, err,
			       sizeof(err)) < 0) {
			CHECK(0, "%s", err);
			continue;
		}
		audit_battery(c, find_outcome, &o);
		CHECK(o.runs == 2, "%s: one run per outside client, got %zu", cases[i].id, o.runs);
		CHECK_STR(o.stage, cases[i].stage, "%s stage", cases[i].id);
		CHECK_STR(o.rule, cases[i].rule, "%s rule", cases[i].id);
		CHECK(!strcmp(o.stage, "MAIL") == !o.rcpt[0], "%s: RCPT only after MAIL",
		      cases[i].id);
		conf_free(c);
	}
}

#define RUNID "rgprobe-0123456789ab"

/* The catcher's session: a table of input lines, the reply each gets, whether the session
 * ends; tokens count only for a message answered 250 after the final dot. */
static void test_catch_session(void)
{
	static const struct {
		const char *in, *reply;
		int end;
	} script[] = {
	    {"EHLO relay.example\r\n", "250 ", 0},
	    {"DATA\r\n", "503 ", 0}, /* no transaction */
	    {"MAIL FROM:<>\r\n", "250 ", 0},
	    {"DATA\r\n", "503 ", 0}, /* no recipient */
	    {"rcpt to:<relaytest@[127.0.0.9]>\r\n", "250 ", 0},
	    {"DATA\r\n", "354 ", 0},
	    {"Subject: relayguard relay test nmap-01 " RUNID "-00\r\n", "", 0},
	    {"\r\n", "", 0},
	    {"..QUIT and " RUNID "-27 in a stuffed line\r\n", "", 0},
	    {".\r\n", "250 ", 0},
	    {"MAIL FROM:<a@b.example>\r\n", "250 ", 0},
	    {"RCPT TO:<c@d.example>\r\n", "250 ", 0},
	    {"DATA\r\n", "354 ", 0},
	    {"token " RUNID "-05 of an abandoned message\r\n", "", 0},
	    {".\n", "250 ", 0}, /* bare LF ends data as well */
	    {"XYZZY\r\n", "502 ", 0},
	    {"NOOP\r\n", "250 ", 0},
	    {"QUIT\r\n", "221 ", 1},
	};
	struct probe_catch_session s = {0};
	char out[128];
	for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		int end = probe_catch_line(&s, RUNID, script[i].in, strlen(script[i].in), out,
					   sizeof(out));
		CHECK(!strncmp(out, script[i].reply, strlen(script[i].reply)) &&
			  (script[i].reply[0] || !out[0]),
		      "line %zu (%s): reply %s", i, script[i].in, out);
		CHECK(end == script[i].end, "line %zu ends %d", i, end);
	}
	CHECK(s.messages == 2, "two messages, have %u", s.messages);
	CHECK(s.caught == (((uint64_t)1 << 0) | ((uint64_t)1 << 27) | ((uint64_t)1 << 5)),
	      "tokens 0, 27, 5: %llx", (unsigned long long)s.caught);

	/* a message cut off before its final dot counts nothing; RSET ends the transaction
	 */
	struct probe_catch_session t = {0};
	const char *cut[] = {"MAIL FROM:<>\r\n", "RCPT TO:<x@y.example>\r\n", "DATA\r\n",
			     "x " RUNID "-03\r\n"};
	for (size_t i = 0; i < 4; i++)
		probe_catch_line(&t, RUNID, cut[i], strlen(cut[i]), out, sizeof(out));
	CHECK(t.caught == 0 && t.in_data, "cut message: nothing caught");
	/* a long data line in pieces: a "." piece that continues a line does not end the
	 * data */
	probe_catch_line(&t, RUNID, "abc", 3, out, sizeof(out));
	probe_catch_line(&t, RUNID, ".\r\n", 3, out, sizeof(out));
	CHECK(t.in_data && !out[0], "the tail of a line is not the final dot");
	probe_catch_line(&t, RUNID, ".\r\n", 3, out, sizeof(out));
	CHECK(!t.in_data && t.caught == ((uint64_t)1 << 3), "then the dot ends it");
	/* a command line without its end (longer than the buffer) ends the session */
	CHECK(probe_catch_line(&t, RUNID, "MAIL FROM:<", 11, out, sizeof(out)) == 1 &&
		  !strncmp(out, "500 ", 4),
	      "overlong command");
	CHECK(probe_catch_line(&t, RUNID, "RSET\r\n", 6, out, sizeof(out)) == 0 && t.mail == 0,
	      "RSET");
}

static void test_tokens(void)
{
	static const struct {
		const char *text;
		uint64_t want;
	} rows[] = {
	    {"Subject: x " RUNID "-00", 1},
	    {RUNID "-63 " RUNID "-01", ((uint64_t)1 << 63) | 2},
	    {RUNID "-64", 0},			   /* beyond the battery */
	    {RUNID "-7", 0},			   /* one digit */
	    {RUNID "-x1", 0},			   /* not a number */
	    {"rgprobe-0123456789ac-02", 0},	   /* another run */
	    {RUNID RUNID "-09", (uint64_t)1 << 9}, /* overlapping prefix */
	    {"", 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(probe_tokens_find(rows[i].text, strlen(rows[i].text), RUNID) == rows[i].want,
		      "tokens in %s", rows[i].text);
}

static void test_catch_domain_expansion(void)
{
	struct probe_target t = {"mx.example.org", "192.0.2.1", "[127.0.0.9]"};
	char out[128];
	size_t uses = 0;
	for (size_t i = 0; i < probe_battery_len; i++)
		uses += probe_test_uses_ext(&probe_battery[i]);
	CHECK(uses >= 24 && uses < probe_battery_len, "most tests can reach a catcher: %zu", uses);
	CHECK(probe_expand("<relaytest@{ext}>", &t, out, sizeof(out)) == 0 &&
		  !strcmp(out, "<relaytest@[127.0.0.9]>"),
	      "ext is the catcher's domain: %s", out);
	t.ext = NULL;
	CHECK(probe_expand("<relaytest@{ext}>", &t, out, sizeof(out)) == 0 &&
		  !strcmp(out, "<relaytest@" PROBE_EXT_DEFAULT ">"),
	      "default ext: %s", out);
}

int main(void)
{
	test_replies();
	test_battery_sender();
	test_battery_shape();
	test_corpus();
	test_matrix();
	test_matrix_edges();
	test_catch_session();
	test_tokens();
	test_catch_domain_expansion();
	return check_report("test_probe");
}
