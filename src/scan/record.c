/* record.c — a host's result into the blocklist store: an open relay listed with its evidence
 * (the tests that relayed, depth, transcript, time, scanner address), a clean host recorded as
 * scanned, and a listed host that scans clean long enough after its first listing expired. */
#include "scan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void scan_host_net(const struct scan_host_result *r, struct cidr *net)
{
	memcpy(net->addr, r->addr, 16);
	net->prefix = 128;
}

/* The first port with a test of verdict v, or NULL. */
static const struct scan_port_result *port_with(const struct scan_host_result *r,
						enum probe_verdict v)
{
	for (size_t i = 0; i < r->n_ports; i++)
		for (size_t k = 0; r->ports[i].d && k < r->ports[i].d->n; k++)
			if (r->ports[i].d->tests[k].verdict == v)
				return &r->ports[i];
	return NULL;
}

int scan_evidence_make(const struct scan_host_result *r, enum probe_verdict v,
		       struct scan_evidence *e)
{
	memset(e, 0, sizeof(*e));
	const struct scan_port_result *p = port_with(r, v);
	if (!p)
		return -1;
	for (size_t k = 0; k < p->d->n; k++) {
		const struct probe_test_outcome *t = &p->d->tests[k];
		if (t->verdict != v)
			continue;
		e->ids[e->ev.n_tests++] = t->id;
		if (t->depth > e->ev.depth)
			e->ev.depth = t->depth;
	}
	snprintf(e->head, sizeof(e->head), "port %u%s%s\n", (unsigned)p->port,
		 p->sum.tls[0] ? ", TLS " : "", p->sum.tls);
	size_t hl = strlen(e->head), tl = p->d->transcript_len;
	if (!(e->transcript = malloc(hl + tl + 1)))
		return -1;
	memcpy(e->transcript, e->head, hl);
	memcpy(e->transcript + hl, p->d->transcript, tl);
	e->transcript[hl + tl] = '\0';
	e->port = p->port;
	e->ev.tests = e->ids;
	e->ev.transcript = e->transcript;
	e->ev.time = r->time;
	e->ev.scanner = r->scanner;
	return 0;
}

void scan_evidence_free(struct scan_evidence *e)
{
	free(e->transcript);
	e->transcript = NULL;
}

int scan_list_open(struct blocklist *b, const struct scan_host_result *r, enum probe_verdict v,
		   const char *who, const char *why, char *err, size_t errlen)
{
	struct scan_evidence e;
	struct cidr net;
	char txt[BLOCKLIST_TXT_MAX];
	if (scan_evidence_make(r, v, &e) < 0) {
		scan_evidence_free(&e);
		snprintf(err, errlen, "%s: no evidence to list (out of memory?)", r->ip);
		return -1;
	}
	snprintf(txt, sizeof(txt), "open relay: %zu relay tests accepted on port %u (%s)",
		 e.ev.n_tests, (unsigned)e.port, e.ids[0]);
	scan_host_net(r, &net);
	int rc = blocklist_list(b, &net, BLOCKLIST_CODE_OPEN_RELAY, txt, &e.ev, who, why, r->time,
				err, errlen);
	scan_evidence_free(&e);
	return rc;
}

/* Clean: remembered; a listed entry first listed expire_after ago or more expires. */
static int record_clean(struct blocklist *b, const struct scan_host_result *r, const char *who,
			int64_t expire_after, const char **action, char *err, size_t errlen)
{
	struct blocklist_entry e;
	struct cidr net;
	*action = "clean";
	if (blocklist_record_clean(b, r->addr, r->scanner, r->time, err, errlen) < 0)
		return -1;
	scan_host_net(r, &net);
	int rc = blocklist_get(b, &net, &e);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read the store", r->ip);
		return -1;
	}
	if (rc == 1)
		return 0;
	int expire = e.state == BLOCKLIST_LISTED && r->time - e.first_seen >= expire_after;
	char why[BLOCKLIST_TXT_MAX];
	snprintf(why, sizeof(why), "clean rescan; listed for %llds, blocklist-expire-after %llds",
		 (long long)(r->time - e.first_seen), (long long)expire_after);
	blocklist_entry_clear(&e);
	if (!expire)
		return 0;
	rc = blocklist_delist(b, &net, BLOCKLIST_EXPIRED, who, why, r->time, err, errlen);
	if (rc == 0)
		*action = "expired";
	return rc < 0 ? -1 : 0;
}

int scan_host_store(struct blocklist *b, const struct scan_host_result *r, const char *who,
		    int64_t expire_after, const char **action, char *err, size_t errlen)
{
	*action = "none";
	if (r->outcome == SCAN_OUTCOME_UNTESTABLE)
		return 0;
	if (r->outcome == SCAN_OUTCOME_CLEAN)
		return record_clean(b, r, who, expire_after, action, err, errlen);
	*action = "listed";
	return scan_list_open(b, r, PROBE_OPEN, who, "open relay found by a scan", err, errlen);
}
