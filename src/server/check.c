/* check.c — `relayguard check`: parse the configuration, print the effective relay policy and
 * the "who may relay" matrix, and audit it (permissive settings, the relay battery simulated
 * against the policy). Exit 0 clean, 1 findings, 2 configuration error. */
#include "server_int.h"

#include "../conf/conf.h"
#include "../probe/probe.h"
#include "../tls/tls.h"

#include <stdio.h>
#include <string.h>

static void print_row(void *arg, const struct audit_row *r)
{
	(void)arg;
	printf("  %-44s %-3s %-24s %-3s %s\n", r->client, r->relay_unauth ? "yes" : "no",
	       r->rule_unauth, r->relay_auth ? "yes" : "no", r->rule_auth);
}

static void print_finding(void *arg, const struct audit_finding *f)
{
	(void)arg;
	printf("  %-7s %s: %s\n", f->severity == AUDIT_ERROR ? "ERROR" : "warning", f->where,
	       f->what);
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

int server_check(const char *conf_path)
{
	struct conf *c;
	char err[1024];
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 2;
	}
	SSL_CTX *tls = NULL;
	if (server_tls_ctx(c, &tls, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		conf_free(c);
		return 2;
	}
	SSL_CTX_free(tls);
	printf("%s: configuration OK\n", conf_path);
	if (c->tls_cert_file)
		printf("tls: certificate %s and key %s load and match\n", c->tls_cert_file,
		       c->tls_key_file);
	print_policy(c);
	printf("who may relay to a foreign domain:\n  %-44s %-28s %s\n", "client",
	       "unauthenticated", "authenticated");
	audit_matrix(c, print_row, NULL);
	print_sender_rules(c);
	printf("audit (relay battery: %zu tests x 2 outside clients x %zu listener%s):\n",
	       probe_battery_len, c->n_listens, c->n_listens == 1 ? "" : "s");
	print_mail_refusals(c);
	size_t n = audit_config(c, print_finding, NULL);
	if (n == 0)
		printf("  no findings: no outside client can relay\n");
	if (c->open_relay_override)
		printf("open-relay-override in force (\"%s\"): serve runs this configuration and "
		       "logs an OPEN RELAY warning every hour\n",
		       c->open_relay_override);
	conf_free(c);
	return n ? 1 : 0;
}
