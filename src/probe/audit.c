/* audit.c — the static relay audit of a configuration: settings that are wider than a site
 * needs, rules that can never match, and the relay battery run as the server would (MAIL through
 * policy_check_sender, RCPT through policy_check_rcpt) from simulated outside clients on every
 * listener. Pure: no I/O. */
#include "probe.h"

#include "../addr/addr.h"
#include "../policy/policy.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SITE_PREFIX_V4 16 /* a trusted IPv4 network wider than this is not one site */
#define SITE_PREFIX_V6 48 /* nor an IPv6 one wider than this */

struct sink {
	void (*fn)(void *arg, const struct audit_finding *f);
	void *arg;
	size_t n;
	int relays; /* the next report is a relayed battery test */
};

__attribute__((format(printf, 4, 5))) static void report(struct sink *k, enum audit_severity sev,
							 const char *where, const char *fmt, ...)
{
	struct audit_finding f = {sev, k->relays, "", ""};
	va_list ap;
	k->relays = 0;
	snprintf(f.where, sizeof(f.where), "%s", where);
	va_start(ap, fmt);
	vsnprintf(f.what, sizeof(f.what), fmt, ap);
	va_end(ap);
	k->fn(k->arg, &f);
	k->n++;
}

static int is_v4(const struct cidr *c)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return c->prefix >= 96 && memcmp(c->addr, mapped, 12) == 0;
}

/* The prefix length as written (IPv4 prefixes live at 96+n in the mapped space). */
static unsigned written_len(const struct cidr *c)
{
	return is_v4(c) ? c->prefix - 96 : c->prefix;
}

/* Wider than one site? Returns the site prefix it falls short of, or 0. */
static unsigned too_wide(const struct cidr *c)
{
	unsigned site = is_v4(c) ? SITE_PREFIX_V4 : SITE_PREFIX_V6;
	return written_len(c) < site ? site : 0;
}

/* "FILE:LINE" of a line of the config. */
static void where_line(const struct conf *c, unsigned line, char *out, size_t len)
{
	snprintf(out, len, "%s:%u", c->path ? c->path : "config", line);
}

static unsigned trusted_line(const struct conf *c, size_t i)
{
	return c->trusted_lines ? c->trusted_lines[i] : 0;
}

static void check_trusted(const struct conf *c, struct sink *k)
{
	for (size_t i = 0; i < c->n_trusted; i++) {
		char net[64], where[128];
		unsigned site = too_wide(&c->trusted[i]);
		if (!site)
			continue;
		cidr_format(&c->trusted[i], net, sizeof(net));
		where_line(c, trusted_line(c, i), where, sizeof(where));
		int all = written_len(&c->trusted[i]) == 0;
		report(
		    k, all ? AUDIT_ERROR : AUDIT_WARNING, where,
		    "trusted-network %s is wider than one site (/%u): every host in it may relay%s",
		    net, site, all ? " - that is the whole Internet" : "");
	}
}

/* Does prefix a contain all of prefix b? */
static int net_covers(const struct cidr *a, const struct cidr *b)
{
	return a->prefix <= b->prefix && cidr_contains(a, b->addr);
}

static int nets_cover(const struct cidr *a, size_t na, const struct cidr *b, size_t nb)
{
	for (size_t j = 0; j < nb; j++) {
		size_t i = 0;
		while (i < na && !net_covers(&a[i], &b[j]))
			i++;
		if (i == na)
			return 0;
	}
	return 1;
}

/* Does rule a match every client and destination that rule b matches? */
static int rule_covers(const struct conf *c, const struct conf_relay_rule *a,
		       const struct conf_relay_rule *b)
{
	int src = a->from == CONF_FROM_ANY || (a->from == b->from && a->from != CONF_FROM_NETS) ||
		  (b->from == CONF_FROM_NETS && a->from == CONF_FROM_NETS &&
		   nets_cover(a->nets, a->n_nets, b->nets, b->n_nets)) ||
		  (b->from == CONF_FROM_NETS && a->from == CONF_FROM_TRUSTED &&
		   nets_cover(c->trusted, c->n_trusted, b->nets, b->n_nets));
	if (!src || (a->n_to && !b->n_to))
		return 0;
	for (size_t j = 0; j < b->n_to; j++) {
		size_t i = 0;
		while (i < a->n_to && strcmp(a->to_domains[i], b->to_domains[j]) != 0)
			i++;
		if (a->n_to && i == a->n_to)
			return 0;
	}
	return 1;
}

/* A rule after one of the other action that matches everything it matches never decides
 * anything: a permit before the deny it shadows (the dangerous one), or a deny before an
 * allow. */
static void check_shadowed(const struct conf *c, size_t j, struct sink *k)
{
	const struct conf_relay_rule *r = &c->rules[j];
	for (size_t i = 0; i < j; i++)
		if (c->rules[i].action != r->action && rule_covers(c, &c->rules[i], r)) {
			int deny = r->action == CONF_RELAY_DENY;
			report(k, AUDIT_WARNING, r->id,
			       "this %s never matches: %s rule %s comes first and covers it",
			       deny ? "deny" : "allow", deny ? "allow" : "deny", c->rules[i].id);
			return;
		}
}

static void check_rules(const struct conf *c, struct sink *k)
{
	for (size_t j = 0; j < c->n_rules; j++) {
		const struct conf_relay_rule *r = &c->rules[j];
		if (r->action == CONF_RELAY_ALLOW && r->from == CONF_FROM_ANY && r->n_to == 0)
			report(k, AUDIT_ERROR, r->id, "'relay allow from any' makes an open relay");
		for (size_t i = 0;
		     r->action == CONF_RELAY_ALLOW && r->from == CONF_FROM_NETS && i < r->n_nets;
		     i++) {
			char net[64];
			unsigned site = too_wide(&r->nets[i]);
			cidr_format(&r->nets[i], net, sizeof(net));
			if (site)
				report(k,
				       written_len(&r->nets[i]) == 0 ? AUDIT_ERROR : AUDIT_WARNING,
				       r->id, "relay allowed from %s, wider than one site (/%u)",
				       net, site);
		}
		check_shadowed(c, j, k);
	}
}

/* Is addr inside a network the config names on purpose (trusted, or a rule's own, of at
 * most site size)? An "outside" client must not be. */
static int named_network(const struct conf *c, const uint8_t addr[16])
{
	if (cidr_set_contains(c->trusted, c->n_trusted, addr))
		return 1;
	for (size_t i = 0; i < c->n_rules; i++)
		for (size_t j = 0; c->rules[i].from == CONF_FROM_NETS && j < c->rules[i].n_nets;
		     j++)
			if (!too_wide(&c->rules[i].nets[j]) &&
			    cidr_contains(&c->rules[i].nets[j], addr))
				return 1;
	return 0;
}

/* A client of the given family outside every network the config names; the first candidate
 * when none is (then the config trusts everything and the battery says so). */
static const char *outside_client(const struct conf *c, int v6, uint8_t out[16])
{
	static const char *const v4[] = {"203.0.113.77", "198.51.100.77", "192.0.2.77",
					 "100.64.7.77", "8.8.4.77"};
	static const char *const six[] = {"2001:db8:77::77", "2001:db8:ffff::1", "fd77::1",
					  "2a00:77::1"};
	const char *const *cand = v6 ? six : v4;
	size_t n = v6 ? sizeof(six) / sizeof(six[0]) : sizeof(v4) / sizeof(v4[0]);
	for (size_t i = 0; i <= n; i++) {
		struct cidr a;
		const char *ip = cand[i < n ? i : 0];
		cidr_parse(ip, &a);
		memcpy(out, a.addr, 16);
		if (i == n || !named_network(c, out))
			return ip;
	}
	return cand[0];
}

/* The server's side of a listener: its address, as bytes and as an address literal body.
 * A wildcard listener gets a documentation address standing for "one of ours". */
static void listener_side(const struct conf_listen *l, uint8_t addr[16], char *lit, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	struct cidr a;
	util_sockaddr_ip((const struct sockaddr *)&l->addr, ip, sizeof(ip));
	int v6 = l->addr.ss_family == AF_INET6;
	if (!strcmp(ip, "0.0.0.0") || !strcmp(ip, "::"))
		snprintf(ip, sizeof(ip), "%s", v6 ? "2001:db8::25" : "192.0.2.25");
	cidr_parse(ip, &a);
	memcpy(addr, a.addr, 16);
	snprintf(lit, len, "%s%s", v6 ? "IPv6:" : "", ip);
}

/* One battery test from one outside client, as the server runs it: MAIL through the sender
 * rules, then RCPT through the recipient policy. Fills r's from, rcpt, stage, rule, relayed. */
static void battery_run(const struct conf *c, const struct probe_test *t,
			const struct probe_target *tgt, const struct policy_client *cl,
			struct audit_battery_result *r)
{
	struct addr_path path;
	size_t used;
	r->relayed = 0;
	r->stage = "MAIL";
	r->rule = "syntax";
	r->rcpt[0] = '\0';
	if (probe_expand(t->from, tgt, r->from, sizeof(r->from)) < 0 ||
	    addr_parse_path(r->from, strlen(r->from), 1, &path, &used) != ADDR_OK)
		return;
	struct policy_verdict v = policy_check_sender(c, cl, NULL, &path);
	r->rule = v.rule_id;
	if (v.result == POLICY_REJECT)
		return;
	r->stage = "RCPT";
	r->rule = "syntax";
	if (probe_expand(t->rcpt, tgt, r->rcpt, sizeof(r->rcpt)) < 0 ||
	    addr_parse_path(r->rcpt, strlen(r->rcpt), 1, &path, &used) != ADDR_OK)
		return;
	v = policy_check_rcpt(c, cl, NULL, &path);
	r->rule = v.rule_id;
	r->relayed = v.result == POLICY_ACCEPT_RELAY;
	if (r->relayed)
		r->stage = "";
}

/* Every battery test from an outside client of each family on every listener. */
static void battery_walk(const struct conf *c,
			 void (*fn)(void *arg, const struct audit_battery_result *r), void *arg)
{
	const char *dom = c->n_local_domains ? c->local_domains[0]
			  : c->hostname	     ? c->hostname
					     : "localhost";
	for (size_t l = 0; l < c->n_listens; l++) {
		char lit[64];
		struct policy_client cl = {0};
		listener_side(&c->listens[l], cl.local_addr, lit, sizeof(lit));
		struct probe_target tgt = {dom, lit};
		for (int v6 = 0; v6 <= 1; v6++) {
			struct audit_battery_result r = {0};
			r.listen = c->listens[l].text;
			r.client = outside_client(c, v6, cl.addr);
			for (size_t i = 0; i < probe_battery_len; i++) {
				r.test = &probe_battery[i];
				battery_run(c, r.test, &tgt, &cl, &r);
				fn(arg, &r);
			}
		}
	}
}

void audit_battery(const struct conf *conf,
		   void (*fn)(void *arg, const struct audit_battery_result *r), void *arg)
{
	battery_walk(conf, fn, arg);
}

/* A relayed battery test is a finding. */
static void battery_finding(void *arg, const struct audit_battery_result *r)
{
	struct sink *k = arg;
	if (!r->relayed)
		return;
	k->relays = 1;
	report(k, AUDIT_ERROR, r->rule,
	       "relay test %s (%s) RCPT TO:%s is accepted for outside client %s on %s", r->test->id,
	       r->test->why, r->rcpt, r->client, r->listen);
}

static void check_battery(const struct conf *c, struct sink *k)
{
	battery_walk(c, battery_finding, k);
}

/* The metrics endpoints have no authentication: anyone who reaches one reads its counters, so
 * they belong on loopback. */
static void check_metrics_endpoint(const struct conf_listen *m, const char *directive,
				   const char *what, struct sink *k)
{
	struct cidr lo4, lo6;
	uint8_t addr[16];
	if (!m || cidr_addr_from_sockaddr((const struct sockaddr *)&m->addr, addr) < 0)
		return;
	cidr_parse("127.0.0.0/8", &lo4);
	cidr_parse("::1", &lo6);
	if (cidr_contains(&lo4, addr) || cidr_contains(&lo6, addr))
		return;
	report(k, AUDIT_WARNING, directive,
	       "metrics endpoint on %s is not a loopback address: it is unauthenticated HTTP, "
	       "anyone who can reach it reads the %s",
	       m->text, what);
}

static void check_metrics(const struct conf *c, struct sink *k)
{
	check_metrics_endpoint(c->metrics_listen, "metrics-listen", "traffic and queue counters",
			       k);
	check_metrics_endpoint(c->dnsbl_metrics_listen, "blocklist-metrics-listen",
			       "DNS server's query counters", k);
}

/* ---- listeners: AUTH, roles, interfaces ---- */

static void matrix_cell(const struct conf *c, struct policy_client *cl, int auth, int *relay,
			const char **rule);

/* AUTH is offered only under TLS (RFC 8314, src/smtp/commands.c), so without tls-certificate a
 * listener that "offers" it never does; and AUTH on the MX role invites password guessing. */
static void check_auth_listeners(const struct conf *c, struct sink *k)
{
	for (size_t i = 0; i < c->n_listens; i++) {
		const struct conf_listen *l = &c->listens[i];
		int sub = l->role == CONF_ROLE_SUBMISSION;
		char where[128];
		if (!l->auth)
			continue;
		where_line(c, l->line, where, sizeof(where));
		if (!c->tls_cert_file)
			report(k, sub ? AUDIT_ERROR : AUDIT_WARNING, where,
			       "listen %s offers AUTH but no tls-certificate is configured: AUTH "
			       "is offered only under TLS, so nobody can log in%s",
			       l->text,
			       sub ? " and every MAIL gets 530 (a submission listener needs a "
				     "login)"
				   : "");
		if (!sub)
			report(k, AUDIT_WARNING, where,
			       "listen %s has 'auth yes' on the MX role (role smtp): it invites "
			       "password guessing on port 25; offer AUTH on a submission "
			       "listener (587, or 465 with tls implicit) instead",
			       l->text);
	}
}

/* May an authenticated client from outside send to a foreign domain? */
static int auth_may_relay(const struct conf *c)
{
	struct policy_client cl = {0};
	int relay;
	const char *rule;
	outside_client(c, 0, cl.addr);
	matrix_cell(c, &cl, 1, &relay, &rule);
	return relay;
}

/* A submission listener is for users sending out: it needs a rule that lets them; and a rule
 * for authenticated clients needs a listener where clients can authenticate. */
static void check_submission(const struct conf *c, struct sink *k)
{
	size_t auth = 0, sub = c->n_listens;
	for (size_t i = 0; i < c->n_listens; i++) {
		auth += c->listens[i].auth != 0;
		if (sub == c->n_listens && c->listens[i].role == CONF_ROLE_SUBMISSION)
			sub = i;
	}
	if (sub < c->n_listens && !auth_may_relay(c)) {
		char where[128];
		where_line(c, c->listens[sub].line, where, sizeof(where));
		report(k, AUDIT_WARNING, where,
		       "listen %s is a submission listener, but no relay rule lets an "
		       "authenticated client send to other domains: users cannot send out (add "
		       "'relay allow from authenticated')",
		       c->listens[sub].text);
	}
	for (size_t j = 0; j < c->n_rules && !auth; j++)
		if (c->rules[j].action == CONF_RELAY_ALLOW &&
		    c->rules[j].from == CONF_FROM_AUTHENTICATED)
			report(k, AUDIT_WARNING, c->rules[j].id,
			       "'relay allow from authenticated' but no listener offers AUTH "
			       "(role submission, or auth yes): this rule never matches");
}

static int listen_wildcard(const struct conf_listen *l)
{
	char ip[INET6_ADDRSTRLEN];
	util_sockaddr_ip((const struct sockaddr *)&l->addr, ip, sizeof(ip));
	return !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::");
}

/* Loopback, RFC 1918, link-local, IPv6 unique-local: networks that are not on the Internet. */
static int net_private(const struct cidr *n)
{
	static const char *const priv[] = {"127.0.0.0/8",    "10.0.0.0/8",     "172.16.0.0/12",
					   "192.168.0.0/16", "169.254.0.0/16", "::1/128",
					   "fc00::/7",	     "fe80::/10"};
	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		struct cidr p;
		if (cidr_parse(priv[i], &p) == 0 && net_covers(&p, n))
			return 1;
	}
	return 0;
}

/* Listening on every interface while trusting a public network: the trusted hosts may relay
 * through every address of the server, the Internet-facing ones included. (Networks wider than
 * a site are reported by check_trusted already.) */
static void check_wildcard_trusted(const struct conf *c, struct sink *k)
{
	for (size_t i = 0; i < c->n_listens; i++) {
		char lw[128], tw[128], net[64];
		if (!listen_wildcard(&c->listens[i]))
			continue;
		where_line(c, c->listens[i].line, lw, sizeof(lw));
		for (size_t j = 0; j < c->n_trusted; j++) {
			if (net_private(&c->trusted[j]) || too_wide(&c->trusted[j]))
				continue;
			cidr_format(&c->trusted[j], net, sizeof(net));
			where_line(c, trusted_line(c, j), tw, sizeof(tw));
			report(k, AUDIT_WARNING, tw,
			       "listen %s (%s) is on every interface and trusted-network %s (%s) "
			       "is neither loopback nor private: its hosts may relay through every "
			       "address of this server; listen on the addresses you mean, or "
			       "trust only your own networks",
			       c->listens[i].text, lw, net, tw);
		}
	}
}

/* Does the rule let outside clients in: from any, or from a network wider than a site? */
static int rule_from_outside(const struct conf_relay_rule *r)
{
	if (r->from == CONF_FROM_ANY)
		return 1;
	for (size_t i = 0; r->from == CONF_FROM_NETS && i < r->n_nets; i++)
		if (too_wide(&r->nets[i]))
			return 1;
	return 0;
}

/* Relay domains (a backup MX): without relay-recipient lines for the domain, every address
 * in it is accepted and, when the next hop refuses it, bounced later to a sender that is often
 * forged (backscatter). A relay domain that is also a
 * local domain never reaches the relay rules. */
static void check_relay_domains(const struct conf *c, struct sink *k)
{
	for (size_t j = 0; j < c->n_rules; j++) {
		const struct conf_relay_rule *r = &c->rules[j];
		for (size_t i = 0; i < r->n_to; i++) {
			const char *d = r->to_domains[i];
			if (conf_is_local_domain(c, d))
				report(
				    k, AUDIT_WARNING, r->id,
				    "'to %s' never applies: %s is a local-domain, its recipients "
				    "are checked against the mailbox table",
				    d, d);
			else if (r->action == CONF_RELAY_ALLOW && rule_from_outside(r) &&
				 policy_relay_recipient_known(c, "", d) < 0)
				report(
				    k, AUDIT_WARNING, r->id,
				    "relay domain %s has no recipient check: every address in it "
				    "is accepted and, if the next hop refuses it, bounced later to "
				    "a possibly forged sender (backscatter); list its users with "
				    "relay-recipient",
				    d);
		}
	}
}

size_t audit_config(const struct conf *conf, void (*fn)(void *arg, const struct audit_finding *f),
		    void *arg)
{
	struct sink k = {fn, arg, 0, 0};
	check_trusted(conf, &k);
	check_rules(conf, &k);
	check_battery(conf, &k);
	check_metrics(conf, &k);
	check_auth_listeners(conf, &k);
	check_submission(conf, &k);
	check_wildcard_trusted(conf, &k);
	check_relay_domains(conf, &k);
	return k.n;
}

/* May this client send to a foreign domain? (The check of submission listeners; the matrix
 * below judges whole sessions.) */
static void matrix_cell(const struct conf *c, struct policy_client *cl, int auth, int *relay,
			const char **rule)
{
	struct addr_path path;
	size_t used;
	static const char foreign[] = "<recipient@relay-test.example>";
	addr_parse_path(foreign, sizeof(foreign) - 1, 0, &path, &used);
	cl->authenticated = auth;
	struct policy_verdict v = policy_check_rcpt(c, cl, NULL, &path);
	*relay = v.result == POLICY_ACCEPT_RELAY;
	*rule = v.rule_id;
}

/* ---- the "who may relay" matrix, per listener ---- */

static struct audit_cell cell_of(enum audit_outcome o, const char *stage,
				 const struct policy_verdict *v)
{
	struct audit_cell cell = {o, stage, v->rule_id, v->reply};
	return cell;
}

/* One client, one recipient, on listener l, as the session would run it: the submission
 * role's 530, then MAIL FROM the foreign sender, then RCPT. */
static struct audit_cell matrix_judge(const struct conf *c, const struct conf_listen *l,
				      const struct policy_client *cl, const char *rcpt)
{
	static const struct policy_verdict auth_required = {
	    POLICY_REJECT, "auth-required", "530 5.7.0 Authentication required", NULL};
	static const struct policy_verdict syntax = {POLICY_REJECT, "syntax",
						     "501 5.1.3 Bad address syntax", NULL};
	struct addr_path from, to;
	size_t used;
	if (!cl->authenticated && l->role == CONF_ROLE_SUBMISSION)
		return cell_of(AUDIT_AUTH_REQUIRED, "MAIL", &auth_required);
	if (addr_parse_path(AUDIT_MATRIX_SENDER, strlen(AUDIT_MATRIX_SENDER), 0, &from, &used) !=
	    ADDR_OK)
		return cell_of(AUDIT_REFUSE, "MAIL", &syntax);
	struct policy_verdict v =
	    policy_check_sender(c, cl, cl->authenticated ? AUDIT_MATRIX_LOGIN : NULL, &from);
	if (v.result == POLICY_REJECT)
		return cell_of(AUDIT_REFUSE, "MAIL", &v);
	if (addr_parse_path(rcpt, strlen(rcpt), 1, &to, &used) != ADDR_OK)
		return cell_of(AUDIT_REFUSE, "RCPT", &syntax);
	v = policy_check_rcpt(c, cl, &from, &to);
	return cell_of(v.result == POLICY_REJECT ? AUDIT_REFUSE : AUDIT_ACCEPT,
		       v.result == POLICY_REJECT ? "RCPT" : "", &v);
}

void audit_matrix_local_rcpt(const struct conf *c, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; c->n_local_domains && i < c->n_mailboxes; i++) {
		const struct conf_mailbox *mb = &c->mailboxes[i];
		if (!mb->domain || !strcmp(mb->domain, c->local_domains[0])) {
			snprintf(out, len, "<%s@%s>", mb->local, c->local_domains[0]);
			return;
		}
	}
}

struct matrix_walk {
	struct audit_row row;
	char local_rcpt[ADDR_PATH_MAX * 2];
	void (*fn)(void *arg, const struct audit_row *r);
	void *arg;
};

static void matrix_row(const struct conf *c, struct matrix_walk *w, const char *label,
		       const uint8_t addr[16])
{
	static const struct audit_cell no_auth = {AUDIT_NA, "", "", "no AUTH here"};
	static const struct audit_cell no_mailbox = {AUDIT_NA, "", "", "no local mailbox"};
	struct audit_row *row = &w->row;
	struct policy_client cl = {0};
	char lit[64];
	listener_side(row->listen, cl.local_addr, lit, sizeof(lit));
	memcpy(cl.addr, addr, 16);
	snprintf(row->client, sizeof(row->client), "%s", label);
	for (int auth = 0; auth <= 1; auth++) {
		cl.authenticated = auth;
		struct audit_cell *cell = row->cell[auth];
		int na = auth && !row->auth_offered;
		if (na || !w->local_rcpt[0])
			cell[AUDIT_RCPT_LOCAL] = na ? no_auth : no_mailbox;
		else
			cell[AUDIT_RCPT_LOCAL] = matrix_judge(c, row->listen, &cl, w->local_rcpt);
		cell[AUDIT_RCPT_FOREIGN] =
		    na ? no_auth : matrix_judge(c, row->listen, &cl, AUDIT_MATRIX_FOREIGN);
	}
	w->fn(w->arg, row);
}

/* Every client class on one listener. */
static void matrix_listener(const struct conf *c, struct matrix_walk *w)
{
	struct cidr lo;
	uint8_t out[16];
	char label[96], net[64];
	cidr_parse("127.0.0.1", &lo);
	matrix_row(c, w, "localhost 127.0.0.1", lo.addr);
	for (size_t i = 0; i < c->n_trusted; i++) {
		cidr_format(&c->trusted[i], net, sizeof(net));
		snprintf(label, sizeof(label), "trusted %s", net);
		matrix_row(c, w, label, c->trusted[i].addr);
	}
	const char *ip = outside_client(c, 0, out);
	snprintf(label, sizeof(label), "any other IPv4 (%s)", ip);
	matrix_row(c, w, label, out);
	ip = outside_client(c, 1, out);
	snprintf(label, sizeof(label), "any other IPv6 (%s)", ip);
	matrix_row(c, w, label, out);
}

void audit_matrix(const struct conf *conf, void (*fn)(void *arg, const struct audit_row *r),
		  void *arg)
{
	struct matrix_walk w = {.fn = fn, .arg = arg};
	audit_matrix_local_rcpt(conf, w.local_rcpt, sizeof(w.local_rcpt));
	for (size_t i = 0; i < conf->n_listens; i++) {
		memset(&w.row, 0, sizeof(w.row));
		w.row.listen = &conf->listens[i];
		w.row.listen_index = i;
		w.row.auth_offered = w.row.listen->auth && conf->tls_cert_file;
		matrix_listener(conf, &w);
	}
}

void audit_cell_describe(const struct audit_cell *cell, char *out, size_t len)
{
	switch (cell->outcome) {
	case AUDIT_ACCEPT:
		snprintf(out, len, "accept [%s]", cell->rule);
		return;
	case AUDIT_REFUSE:
		snprintf(out, len, "refuse %.3s [%s]", cell->reply, cell->rule);
		return;
	case AUDIT_AUTH_REQUIRED:
		snprintf(out, len, "530 auth required");
		return;
	case AUDIT_NA:
		snprintf(out, len, "n/a (%s)", cell->reply);
		return;
	}
	snprintf(out, len, "?");
}
