/* check.c — `relayguard check`: parse the configuration, print the effective relay policy and
 * the "who may relay" matrix, and audit it (permissive settings, the relay battery simulated
 * against the policy); --json prints the same as one JSON document; --record appends the config
 * to the changelog (event "check"). Exit 0 clean, 1 findings, 2 configuration error. */
#include "server_int.h"

#include "../changelog/changelog.h"
#include "../conf/conf.h"
#include "../probe/probe.h"
#include "../tls/tls.h"
#include "../util/util.h"

#include <stdio.h>
#include <string.h>

struct check_out {
	int json;
	size_t n;			  /* items printed in the current JSON array */
	const struct conf_listen *listen; /* the matrix's current listener, NULL before */
};

static void json_sep(struct check_out *o)
{
	printf("%s\n    ", o->n++ ? "," : "");
}

static const char *role_name(enum conf_role role)
{
	return role == CONF_ROLE_SUBMISSION ? "submission" : "smtp";
}

/* A new listener's block: its heading (text) or the object's opening (JSON). */
static void print_listener_open(struct check_out *o, const struct audit_row *r)
{
	if (!o->json) {
		printf("listen %s (role %s, %s):\n  %-34s %-6s %-30s %s\n", r->listen->text,
		       role_name(r->listen->role),
		       r->auth_offered ? "AUTH offered" : "no AUTH here", "client", "login",
		       "local recipient", "foreign recipient");
		return;
	}
	printf("%s\n      {\"listen\":", o->listen ? "\n      ]}," : "");
	util_json_print(stdout, r->listen->text);
	printf(",\"role\":\"%s\",\"auth_offered\":%s,\"clients\":[", role_name(r->listen->role),
	       r->auth_offered ? "true" : "false");
	o->n = 0;
}

static void print_cell_json(const struct audit_cell *cell)
{
	static const char *const names[] = {"accept", "refuse", "auth-required", "n/a"};
	printf("{\"verdict\":\"%s\",\"stage\":", names[cell->outcome]);
	util_json_print(stdout, cell->stage);
	printf(",\"rule\":");
	util_json_print(stdout, cell->rule);
	printf(",\"reply\":");
	util_json_print(stdout, cell->reply);
	printf("}");
}

static void print_row(void *arg, const struct audit_row *r)
{
	struct check_out *o = arg;
	if (o->listen != r->listen) {
		print_listener_open(o, r);
		o->listen = r->listen;
	}
	if (!o->json) {
		char local[512], foreign[512];
		for (int auth = 0; auth <= 1; auth++) {
			audit_cell_describe(&r->cell[auth][AUDIT_RCPT_LOCAL], local, sizeof(local));
			audit_cell_describe(&r->cell[auth][AUDIT_RCPT_FOREIGN], foreign,
					    sizeof(foreign));
			/* a 530 or an n/a holds for any recipient: said once */
			int once = r->cell[auth][AUDIT_RCPT_LOCAL].outcome >= AUDIT_AUTH_REQUIRED &&
				   !strcmp(local, foreign);
			printf("  %-34s %-6s %-*s%s\n", auth ? "" : r->client, auth ? "yes" : "no",
			       once ? 0 : 31, local, once ? "" : foreign);
		}
		return;
	}
	printf("%s\n        {\"client\":", o->n++ ? "," : "");
	util_json_print(stdout, r->client);
	for (int auth = 0; auth <= 1; auth++) {
		printf(",\"%s\":{\"local\":", auth ? "authenticated" : "unauthenticated");
		print_cell_json(&r->cell[auth][AUDIT_RCPT_LOCAL]);
		printf(",\"foreign\":");
		print_cell_json(&r->cell[auth][AUDIT_RCPT_FOREIGN]);
		printf("}");
	}
	printf("}");
}

/* The matrix: one block per listener (text), or "matrix":{addresses, "listeners":[…]}. */
static void print_matrix(const struct conf *c, struct check_out *o)
{
	char local[ADDR_PATH_MAX * 2];
	audit_matrix_local_rcpt(c, local, sizeof(local));
	o->listen = NULL;
	if (!o->json) {
		printf("who may relay, per listener (MAIL FROM:%s, then RCPT TO local %s, "
		       "foreign %s):\n",
		       AUDIT_MATRIX_SENDER, local[0] ? local : "(no local mailbox)",
		       AUDIT_MATRIX_FOREIGN);
		audit_matrix(c, print_row, o);
		return;
	}
	printf("  \"matrix\":{\"sender\":\"%s\",\"login\":\"%s\",\"local_recipient\":",
	       AUDIT_MATRIX_SENDER, AUDIT_MATRIX_LOGIN);
	if (local[0])
		util_json_print(stdout, local);
	else
		printf("null");
	printf(",\"foreign_recipient\":\"%s\",\n    \"listeners\":[", AUDIT_MATRIX_FOREIGN);
	audit_matrix(c, print_row, o);
	printf("%s\n  ]},\n", o->listen ? "\n      ]}" : "");
}

static void print_finding(void *arg, const struct audit_finding *f)
{
	struct check_out *o = arg;
	const char *sev = f->severity == AUDIT_ERROR ? "error" : "warning";
	if (!o->json) {
		printf("  %-7s %s: %s\n", f->severity == AUDIT_ERROR ? "ERROR" : sev, f->where,
		       f->what);
		return;
	}
	json_sep(o);
	printf("{\"severity\":\"%s\",\"where\":", sev);
	util_json_print(stdout, f->where);
	printf(",\"what\":");
	util_json_print(stdout, f->what);
	printf(",\"relays\":%s}", f->relays ? "true" : "false");
}

/* The sender rules of policy_check_sender, in its order, then the grants. */
static void print_sender_rules(const struct conf *c)
{
	printf("sender rules (MAIL FROM, first match wins):\n");
	printf("  %2s  %-50s [%s]\n", "-", "accept the null sender <> (bounces)", "sender-null");
	printf("  %2s  %-50s [%s]\n", "-", "deny a sender without a domain (553 5.1.7)",
	       "unqualified-sender");
	printf("  %2s  %-50s [%s]\n", "-", "authenticated: accept the login's own address",
	       "sender-login");
	printf("  %2s  %-50s [%s]\n", "-", "authenticated: accept mailboxes with user LOGIN",
	       "sender-mailbox");
	printf("  %2s  %-50s [%s]\n", "-", "authenticated: accept the sender-grant lines below",
	       "sender-grant");
	printf("  %2s  %-50s [%s]\n", "-", "authenticated: deny any other sender (553 5.7.1)",
	       "sender-login-mismatch");
	printf("  %2s  %-50s [%s]\n", "-", "deny local sender, untrusted client (550 5.7.1)",
	       "local-sender-unauthenticated");
	printf("  %2s  %-50s [%s]\n", "-", "accept any other sender", "sender-ok");
	for (size_t i = 0; i < c->n_sender_grants; i++) {
		const struct conf_sender_grant *g = &c->sender_grants[i];
		printf("  grant %s:", g->login);
		for (size_t j = 0; j < g->n_senders; j++)
			printf(" %s", g->senders[j]);
		printf("\n");
	}
}

/* Battery tests the sender rules refuse at MAIL, by rule: test IDs, each once. */
struct mail_refusals {
	struct {
		const char *rule;
		char ids[1024];
	} by_rule[8];
	size_t n;
};

static void note_refusal(void *arg, const struct audit_battery_result *r)
{
	struct mail_refusals *m = arg;
	char word[128];
	if (strcmp(r->stage, "MAIL") != 0)
		return;
	size_t i = 0;
	while (i < m->n && strcmp(m->by_rule[i].rule, r->rule) != 0)
		i++;
	if (i == m->n) {
		if (m->n == sizeof(m->by_rule) / sizeof(m->by_rule[0]))
			return;
		m->by_rule[m->n].rule = r->rule;
		m->by_rule[m->n++].ids[0] = '\0';
	}
	char *ids = m->by_rule[i].ids;
	size_t len = strlen(ids);
	snprintf(word, sizeof(word), " %s ", r->test->id);
	if (strstr(ids, word) || len + strlen(word) >= sizeof(m->by_rule[i].ids))
		return;
	snprintf(ids + len, sizeof(m->by_rule[i].ids) - len, "%s", len ? word + 1 : word);
}

static void print_mail_refusals(const struct conf *c)
{
	struct mail_refusals m = {.n = 0};
	audit_battery(c, note_refusal, &m);
	for (size_t i = 0; i < m.n; i++)
		printf("  refused at MAIL [%s]:%.*s\n", m.by_rule[i].rule,
		       (int)strlen(m.by_rule[i].ids) - 1, m.by_rule[i].ids);
}

static void print_policy(const struct conf *c)
{
	char rule[1024];
	printf("local domains:");
	for (size_t i = 0; i < c->n_local_domains; i++)
		printf(" %s", c->local_domains[i]);
	printf("%s\nrelay policy (first match wins):\n", c->n_local_domains ? "" : " (none)");
	for (size_t i = 0; i < c->n_rules; i++) {
		conf_rule_describe(&c->rules[i], rule, sizeof(rule));
		printf("  %2zu  %-50s [%s]\n", i + 1, rule, c->rules[i].id);
	}
	printf("  %2s  %-50s [%s]\n", "-", "deny from any to any", "implicit-reject");
}

/* "tls": the certificate and key that load and match, or null when there is none. */
static void print_tls_json(const struct conf *c)
{
	printf("\"tls\":");
	if (!c->tls_cert_file) {
		printf("null,\n  ");
		return;
	}
	printf("{\"certificate\":");
	util_json_print(stdout, c->tls_cert_file);
	printf(",\"key\":");
	util_json_print(stdout, c->tls_key_file);
	printf("},\n  ");
}

static void print_policy_json(const struct conf *c)
{
	char rule[1024];
	printf("\"local_domains\":[");
	for (size_t i = 0; i < c->n_local_domains; i++) {
		printf("%s", i ? "," : "");
		util_json_print(stdout, c->local_domains[i]);
	}
	printf("],\n  \"rules\":[");
	for (size_t i = 0; i <= c->n_rules; i++) {
		if (i < c->n_rules)
			conf_rule_describe(&c->rules[i], rule, sizeof(rule));
		printf("%s\n    {\"n\":", i ? "," : "");
		printf(i < c->n_rules ? "%zu" : "null", i + 1);
		printf(",\"rule\":");
		util_json_print(stdout, i < c->n_rules ? rule : "deny from any to any");
		printf(",\"id\":");
		util_json_print(stdout, i < c->n_rules ? c->rules[i].id : "implicit-reject");
		printf("}");
	}
	printf("\n  ],\n");
}

/* The audit and its findings, text or JSON; the number of findings. */
static size_t check_audit(const struct conf *c, struct check_out *o)
{
	if (o->json) {
		print_matrix(c, o);
		printf("  \"battery\":{\"tests\":%zu,\"outside_clients\":2,"
		       "\"listeners\":%zu},\n  \"findings\":[",
		       probe_battery_len, c->n_listens);
		o->n = 0;
		size_t n = audit_config(c, print_finding, o);
		printf("%s],\n", n ? "\n  " : "");
		return n;
	}
	print_matrix(c, o);
	print_sender_rules(c);
	printf("audit (relay battery: %zu tests x 2 outside clients x %zu listener%s):\n",
	       probe_battery_len, c->n_listens, c->n_listens == 1 ? "" : "s");
	print_mail_refusals(c);
	size_t n = audit_config(c, print_finding, o);
	if (n == 0)
		printf("  no findings: no outside client can relay\n");
	if (c->open_relay_override)
		printf("open-relay-override in force (\"%s\"): serve runs this configuration and "
		       "logs an OPEN RELAY warning every hour\n",
		       c->open_relay_override);
	return n;
}

/* --record: 0 recorded (*id), -1 (said on stderr; the log has the details). */
static int check_record(const struct conf *c, unsigned long *id)
{
	struct changelog_who who;
	changelog_who_self(&who);
	if (server_record_conf(c, "check", &who, id) == 0)
		return 0;
	fprintf(stderr,
		"relayguard: %s: the config could not be recorded in %s/" CHANGELOG_FILE "\n",
		c->path, c->state_dir);
	return -1;
}

static int check_failed(const char *path, const char *err, int json)
{
	if (!json) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 2;
	}
	printf("{\"config\":");
	util_json_print(stdout, path);
	printf(",\"ok\":false,\"error\":");
	util_json_print(stdout, err);
	printf(",\"exit\":2}\n");
	return 2;
}

int server_check(const char *conf_path, int json, int record)
{
	struct conf *c;
	struct check_out o = {json, 0, NULL};
	char err[1024], verdict[256];
	unsigned long id = 0;
	SSL_CTX *tls = NULL;
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0)
		return check_failed(conf_path, err, json);
	if (server_tls_ctx(c, &tls, err, sizeof(err)) < 0) {
		conf_free(c);
		return check_failed(conf_path, err, json);
	}
	SSL_CTX_free(tls);
	if (json) {
		printf("{\"config\":");
		util_json_print(stdout, conf_path);
		printf(",\"ok\":true,\n  ");
		print_tls_json(c);
		print_policy_json(c);
	} else {
		printf("%s: configuration OK\n", conf_path);
		if (c->tls_cert_file)
			printf("tls: certificate %s and key %s load and match\n", c->tls_cert_file,
			       c->tls_key_file);
		print_policy(c);
	}
	size_t n = check_audit(c, &o);
	int rc = n ? 1 : 0;
	if (record && check_record(c, &id) < 0)
		rc = 2;
	server_conf_verdict(c, verdict, sizeof(verdict));
	if (json) {
		printf("  \"open_relay_override\":");
		if (c->open_relay_override)
			util_json_print(stdout, c->open_relay_override);
		else
			printf("null");
		printf(",\n  \"verdict\":");
		util_json_print(stdout, verdict);
		printf(",\"findings_count\":%zu,\"recorded\":", n);
		printf(id ? "%lu" : "null", id);
		printf(",\"exit\":%d}\n", rc);
	} else {
		printf("verdict: %s\n", verdict);
		if (id)
			printf("recorded as changelog record %lu (%s/" CHANGELOG_FILE ")\n", id,
			       c->state_dir);
	}
	conf_free(c);
	return rc;
}

int server_check_cli(int argc, char **argv, const char *default_conf)
{
	const char *path = default_conf;
	int json = 0, record = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--record"))
			record = 1;
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else
			return -1;
	}
	return server_check(path, json, record);
}
