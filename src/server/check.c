/* check.c — `relayguard check`: parse the configuration, print the effective relay policy and
 * the "who may relay" matrix, and audit it (permissive settings, the relay battery simulated
 * against the policy). Exit 0 clean, 1 findings, 2 configuration error. */
#include "server_int.h"

#include "../conf/conf.h"
#include "../probe/probe.h"
#include "../tls/tls.h"

#include <stdio.h>

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
	printf("audit (relay battery: %zu tests x 2 outside clients x %zu listener%s):\n",
	       probe_battery_len, c->n_listens, c->n_listens == 1 ? "" : "s");
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
