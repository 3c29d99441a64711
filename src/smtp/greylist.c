/* greylist.c — greylisting at RCPT (RFC 6647): after the policy accepted a recipient, the
 * triplet (client network, sender, recipient) is checked at the abuse store while the session
 * waits with reading off; the answer is "451 4.7.1 Greylisted" (rule "greylist") or the
 * policy's accept. A store that fails lets the recipient through (fail open) with a log line. */
#include "session_int.h"

#include "../abuse/abuse.h"
#include "../util/util.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct smtp_greylist {
	struct smtp_session *s; /* NULL once the session is gone while the check runs */
	char to[ADDR_PATH_MAX * 4];
	struct policy_verdict v; /* the policy's accept (its strings live in the session's conf) */
	unsigned notify;
	char orcpt[SMTP_ORCPT_MAX + 1];
	int utf8;
	char net[GREYLIST_NET_MAX];
};

int smtp_greylist_applies(const struct smtp_session *s)
{
	const struct conf *c = s->conf;
	return c->greylist.enabled && s->ctx->abuse && !s->login[0] && !s->dnswl_listed &&
	       !cidr_set_contains(c->trusted, c->n_trusted, s->client.addr);
}

void smtp_greylist_detach(struct smtp_session *s)
{
	if (s->greylist)
		s->greylist->s = NULL; /* on_checked frees it */
	s->greylist = NULL;
}

static const char *result_name(const struct greylist_outcome *o)
{
	static const char *const names[] = {"new", "early", "pass", "known"};
	switch (o->verdict) {
	case GREYLIST_VERDICT_WHITELISTED:
		return "whitelisted";
	case GREYLIST_VERDICT_STORE_ERROR:
		return "store-error";
	default:
		return names[o->result];
	}
}

static void log_outcome(struct smtp_session *s, const struct smtp_greylist *g,
			const struct greylist_outcome *o)
{
	char qt[ADDR_PATH_MAX * 4 * 4], qid[SPOOL_QID_LEN + 1], qe[600];
	spool_qid_format(s->tx->env.qid, qid);
	if (o->verdict == GREYLIST_VERDICT_STORE_ERROR) {
		log_msg(LOG_WARN, "greylist: store error, failing open",
			"session=%llu client=%s qid=%s to=%s rule=greylist store=\"%s\" error=%s",
			(unsigned long long)s->id, s->ip, qid,
			log_quote_path(g->to, qt, sizeof(qt)), s->ctx->abuse->name,
			log_quote(o->error, strlen(o->error), qe, sizeof(qe)));
		return;
	}
	log_msg(LOG_INFO,
		o->verdict == GREYLIST_VERDICT_DEFER ? "greylist: deferred" : "greylist: passed",
		"session=%llu client=%s qid=%s net=%s to=%s rule=greylist result=%s retry_in=%u%s",
		(unsigned long long)s->id, s->ip, qid, g->net,
		log_quote_path(g->to, qt, sizeof(qt)), result_name(o), o->retry_in,
		o->now_whitelisted ? " whitelisted=yes" : "");
}

static void on_checked(void *arg, const struct greylist_outcome *o)
{
	struct smtp_greylist *g = arg;
	struct smtp_session *s = g->s;
	if (!s || s->state != SMTP_STATE_RCPT_WAIT) { /* gone, or closing meanwhile */
		if (s)
			s->greylist = NULL;
		free(g);
		return;
	}
	s->greylist = NULL;
	s->state = SMTP_STATE_COMMAND;
	log_outcome(s, g, o);
	struct metrics *m = s->ctx->metrics;
	m->greylist_deferred += o->verdict == GREYLIST_VERDICT_DEFER;
	m->greylist_passed += o->verdict == GREYLIST_VERDICT_PASS;
	m->greylist_whitelisted += o->verdict == GREYLIST_VERDICT_WHITELISTED;
	m->abuse_store_errors += o->verdict == GREYLIST_VERDICT_STORE_ERROR;
	if (o->verdict == GREYLIST_VERDICT_DEFER) {
		char reply[96];
		snprintf(reply, sizeof(reply), "451 4.7.1 Greylisted, try again in %u seconds",
			 o->retry_in);
		struct policy_verdict v = {POLICY_REJECT, "greylist", reply, NULL};
		smtp_rcpt_verdict(s, g->to, &v);
		smtp_reply(s, "%s", reply); /* not an error: the client did nothing wrong */
	} else {
		smtp_rcpt_accept(s, g->to, &g->v, g->notify, g->orcpt, g->utf8);
	}
	free(g);
	smtp_session_resume(s);
}

int smtp_greylist_start(struct smtp_session *s, const struct addr_path *rcpt, const char *to,
			const struct policy_verdict *v, unsigned notify, const char *orcpt)
{
	const struct conf *c = s->conf;
	char sender[ADDR_PATH_MAX * 4], r[ADDR_PATH_MAX * 4];
	struct greylist_settings gs;
	struct smtp_greylist *g = calloc(1, sizeof(*g));
	if (!g)
		return -1;
	g->s = s;
	util_strlcpy(g->to, to, sizeof(g->to));
	g->v = *v;
	g->notify = notify;
	util_strlcpy(g->orcpt, orcpt, sizeof(g->orcpt));
	g->utf8 = rcpt->utf8;
	greylist_net(s->client.addr, c->greylist.netmask4, c->greylist.netmask6, g->net,
		     sizeof(g->net));
	greylist_settings_from_conf(c, &gs);
	if (greylist_sender(&s->tx->from, sender, sizeof(sender)) < 0 ||
	    greylist_rcpt(rcpt, r, sizeof(r)) < 0 ||
	    greylist_check(s->ctx->abuse, &gs, g->net, sender, r, abuse_now(c), on_checked, g) <
		0) {
		log_msg(LOG_WARN, "greylist: cannot check, failing open",
			"session=%llu client=%s rule=greylist", (unsigned long long)s->id, s->ip);
		s->ctx->metrics->abuse_store_errors++;
		free(g);
		return -1;
	}
	s->greylist = g;
	s->state = SMTP_STATE_RCPT_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	return 0;
}
