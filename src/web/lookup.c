/* lookup.c — what the page and the API show for one address, read from the store: the most
 * specific listed entry holding it, else the address's own entry in another state (delisted,
 * expired), with the evidence parsed and the latest changes of its history. */
#include "web.h"

#include <stdlib.h>
#include <string.h>

/* Keep the latest WEB_HISTORY_MAX changes, oldest first. */
static int history_add(void *arg, const struct blocklist_change *c)
{
	struct web_lookup *l = arg;
	if (!l->history) {
		l->history = calloc(WEB_HISTORY_MAX, sizeof(*l->history));
		if (!l->history)
			return -1;
	}
	if (l->n_history == WEB_HISTORY_MAX) {
		memmove(l->history, l->history + 1, (WEB_HISTORY_MAX - 1) * sizeof(*l->history));
		l->n_history--;
	}
	l->history[l->n_history++] = *c;
	l->n_history_total++;
	return 0;
}

int web_lookup_load(struct blocklist *b, const uint8_t addr[16], const char *ip,
		    struct web_lookup *l)
{
	memset(l, 0, sizeof(*l));
	util_strlcpy(l->ip, ip, sizeof(l->ip));
	int rc = blocklist_lookup(b, addr, &l->entry);
	if (rc == 1) {
		struct cidr host;
		memcpy(host.addr, addr, 16);
		host.prefix = 128;
		rc = blocklist_get(b, &host, &l->entry);
	}
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	l->found = 1;
	l->listed = l->entry.state == BLOCKLIST_LISTED;
	if (l->entry.evidence)
		l->ev_ok =
		    web_evidence_parse(l->entry.evidence, strlen(l->entry.evidence), &l->ev) == 0;
	if (blocklist_history(b, &l->entry.net, history_add, l) < 0) {
		web_lookup_clear(l);
		return -1;
	}
	return 0;
}

void web_lookup_clear(struct web_lookup *l)
{
	if (l->found)
		blocklist_entry_clear(&l->entry);
	web_evidence_clear(&l->ev);
	free(l->history);
	memset(l, 0, sizeof(*l));
}
