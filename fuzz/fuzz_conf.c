/* fuzz_conf.c — libFuzzer target for the configuration parser: any bytes must yield either a
 * configuration that satisfies its invariants or a bounded "name:line:col: problem" error, with
 * nothing leaked either way. */
#include "conf/conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_invariants(const struct conf *c)
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	char err[128];
	memset(err, 'x', sizeof(err));
	if (conf_parse((const char *)data, size, "fuzz", &c, err, sizeof(err)) == 0) {
		check_invariants(c);
		conf_free(c);
		return 0;
	}
	/* Every error is NUL-terminated inside the buffer and names the input. */
	if (c != NULL || !memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz:", 5) != 0)
		abort();
	return 0;
}
