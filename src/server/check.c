/* check.c — `relayguard check`: parse the configuration and print the effective relay policy
 * in the order it is applied, so an admin reads in one place what the server will relay. */
#include "server.h"

#include "../conf/conf.h"

#include <stdio.h>

int server_check(const char *conf_path)
{
	struct conf *c;
	char err[1024], rule[1024];
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 1;
	}
	printf("%s: configuration OK\n", conf_path);
	printf("local domains:");
	for (size_t i = 0; i < c->n_local_domains; i++)
		printf(" %s", c->local_domains[i]);
	printf("%s\nrelay policy (first match wins):\n", c->n_local_domains ? "" : " (none)");
	for (size_t i = 0; i < c->n_rules; i++) {
		conf_rule_describe(&c->rules[i], rule, sizeof(rule));
		printf("  %2zu  %-50s [%s]\n", i + 1, rule, c->rules[i].id);
	}
	printf("  %2s  %-50s [%s]\n", "-", "deny from any to any", "implicit-reject");
	conf_free(c);
	return 0;
}
