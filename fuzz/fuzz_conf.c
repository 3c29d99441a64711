/* fuzz_conf.c — libFuzzer target for the configuration parser: any bytes must yield either a
 * configuration that satisfies its invariants or a bounded "name:line:col: problem" error, with
 * nothing leaked either way. The control-socket peek (which CLI commands use instead of the full
 * parse) must always answer, and agree with the parser on every file the parser accepts. */
#include "conf/conf.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_invariants(const struct conf *c)
{
	/* Mailbox domains are checked after the whole file: none may escape that check. */
	for (size_t i = 0; i < c->n_mailboxes; i++)
		if (c->mailboxes[i].domain && !conf_is_local_domain(c, c->mailboxes[i].domain))
			abort();
	/* User names become directory names. */
	for (size_t i = 0; i < c->n_mailboxes; i++)
		if (strchr(c->mailboxes[i].user, '/') || c->mailboxes[i].user[0] == '.')
			abort();
	for (size_t i = 0; i < c->n_rules; i++)
		if (!c->rules[i].id || !strcmp(c->rules[i].id, "implicit-reject"))
			abort();
	if (!c->spool_dir || !c->mail_root)
		abort();
	/* Sender grants: a login and at least one "local@domain" or "@domain", all lower-case. */
	for (size_t i = 0; i < c->n_sender_grants; i++) {
		const struct conf_sender_grant *g = &c->sender_grants[i];
		if (!g->login[0] || g->n_senders == 0)
			abort();
		for (size_t j = 0; j < g->n_senders; j++)
			for (const char *p = g->senders[j]; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					abort();
		for (size_t j = 0; j < g->n_senders; j++)
			if (!strchr(g->senders[j], '@'))
				abort();
	}
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	char err[128];
	memset(err, 'x', sizeof(err));
	char sock[4096];
	int peeked = conf_peek_control_socket((const char *)data, size, sock, sizeof(sock));
	if (peeked == 0 && !memchr(sock, '\0', sizeof(sock)))
		abort();
	if (conf_parse((const char *)data, size, "fuzz", &c, err, sizeof(err)) == 0) {
		check_invariants(c);
		if (peeked != 0 || strcmp(sock, c->control_socket) != 0)
			abort();
		conf_free(c);
		return 0;
	}
	/* Every error is NUL-terminated inside the buffer and names the input. */
	if (c != NULL || !memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz:", 5) != 0)
		abort();
	return 0;
}
