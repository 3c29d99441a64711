/* policy.c — recipient decisions: local mailboxes first, then the ordered relay rules, then the
 * implicit reject. Every verdict names the rule that made it. */
#include "policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct policy_verdict reject_unqualified = {
    POLICY_REJECT, "unqualified-recipient", "553 5.1.3 Recipient address must be fully qualified",
    NULL};
static const struct policy_verdict reject_routing = {
    POLICY_REJECT, "routing-in-local-part",
    "550 5.7.1 Routing characters (% ! @) in the local part are not accepted", NULL};
static const struct policy_verdict reject_unknown_user = {POLICY_REJECT, "unknown-user",
							  "550 5.1.1 No such user here", NULL};
static const struct policy_verdict reject_implicit = {POLICY_REJECT, "implicit-reject",
						      "554 5.7.1 Relay access denied", NULL};

static struct policy_verdict accept_local(const char *rule, const struct conf_mailbox *mb)
{
	struct policy_verdict v = {POLICY_ACCEPT_LOCAL, rule, "250 2.1.5 Ok", mb};
	return v;
}

/* "<postmaster>" without a domain must be accepted (RFC 5321 4.5.1): it goes to the
 * postmaster mailbox of the first local domain. */
static struct policy_verdict check_unqualified(const struct conf *conf,
					       const struct addr_path *rcpt)
{
	if (!util_str_ieq(rcpt->local, "postmaster") || conf->n_local_domains == 0)
		return reject_unqualified;
	const struct conf_mailbox *mb =
	    conf_find_mailbox(conf, "postmaster", conf->local_domains[0]);
	return mb ? accept_local("postmaster-unqualified", mb) : reject_unknown_user;
}

/* Is this address literal one of ours, and may it stand for a local domain? */
static int literal_is_local(const struct conf *conf, const struct policy_client *client,
			    const struct addr_path *rcpt)
{
	return conf->ip_literal_recipients &&
	       memcmp(rcpt->literal_addr, client->local_addr, 16) == 0;
}

static struct policy_verdict check_local(const struct conf *conf, const struct addr_path *rcpt,
					 const char *domain)
{
	char local[sizeof(rcpt->local)];
	util_strlcpy(local, rcpt->local, sizeof(local));
	util_str_lower(local);
	const struct conf_mailbox *mb = conf_find_mailbox(conf, local, domain);
	return mb ? accept_local("local-mailbox", mb) : reject_unknown_user;
}

static int rule_matches_source(const struct conf *conf, const struct conf_relay_rule *r,
			       const struct policy_client *client)
{
	switch (r->from) {
	case CONF_FROM_ANY:
		return 1;
	case CONF_FROM_TRUSTED:
		return cidr_set_contains(conf->trusted, conf->n_trusted, client->addr);
	case CONF_FROM_AUTHENTICATED:
		return client->authenticated;
	case CONF_FROM_NETS:
		return cidr_set_contains(r->nets, r->n_nets, client->addr);
	}
	return 0;
}

static int rule_matches_dest(const struct conf_relay_rule *r, const char *domain)
{
	if (r->n_to == 0)
		return 1;
	for (size_t i = 0; i < r->n_to; i++)
		if (strcmp(r->to_domains[i], domain) == 0)
			return 1;
	return 0;
}

static const struct policy_verdict reject_unknown_relay_recipient = {
    POLICY_REJECT, "unknown-relay-recipient", "550 5.1.1 No such user in this relay domain", NULL};

/* The relay-recipient list of rcpt's domain: 1 listed, 0 not listed, -1 the domain has none
 * (every address in it is relayed). */
int policy_relay_recipient_known(const struct conf *conf, const char *local, const char *domain)
{
	int domain_listed = 0;
	for (size_t i = 0; i < conf->n_relay_recipients; i++) {
		const char *at = strrchr(conf->relay_recipients[i], '@');
		if (strcmp(at + 1, domain) != 0)
			continue;
		domain_listed = 1;
		size_t n = (size_t)(at - conf->relay_recipients[i]);
		if (strlen(local) == n && strncasecmp(conf->relay_recipients[i], local, n) == 0)
			return 1;
	}
	return domain_listed ? 0 : -1;
}

static struct policy_verdict check_relay(const struct conf *conf,
					 const struct policy_client *client,
					 const struct addr_path *rcpt)
{
	for (size_t i = 0; i < conf->n_rules; i++) {
		const struct conf_relay_rule *r = &conf->rules[i];
		if (!rule_matches_source(conf, r, client) || !rule_matches_dest(r, rcpt->domain))
			continue;
		struct policy_verdict v = {POLICY_REJECT, r->id, "554 5.7.1 Relay access denied",
					   NULL};
		if (r->action == CONF_RELAY_ALLOW) {
			if (policy_relay_recipient_known(conf, rcpt->local, rcpt->domain) == 0)
				return reject_unknown_relay_recipient;
			v.result = POLICY_ACCEPT_RELAY;
			v.reply = "250 2.1.5 Ok";
		}
		return v;
	}
	return reject_implicit;
}

struct policy_verdict policy_check_rcpt(const struct conf *conf, const struct policy_client *client,
					const struct addr_path *sender,
					const struct addr_path *rcpt)
{
	(void)sender; /* sender rules (anti-spoofing) come with SMTP AUTH */
	if (rcpt->null)
		return reject_unqualified;
	/* The percent hack, UUCP bang paths and quoted "user@other" never relay, whoever asks:
	 * a later hop could read them as a route. */
	if (rcpt->routing)
		return reject_routing;
	if (rcpt->unqualified)
		return check_unqualified(conf, rcpt);
	if (rcpt->literal && literal_is_local(conf, client, rcpt))
		return conf->n_local_domains ? check_local(conf, rcpt, conf->local_domains[0])
					     : reject_unknown_user;
	if (!rcpt->literal && conf_is_local_domain(conf, rcpt->domain))
		return check_local(conf, rcpt, rcpt->domain);
	return check_relay(conf, client, rcpt);
}

/* ---- senders (MAIL FROM): the postmaster rule and the sender bound to the login ---- */

static const struct policy_verdict sender_null = {POLICY_ACCEPT_SENDER, "sender-null",
						  "250 2.1.0 Ok", NULL};
static const struct policy_verdict sender_ok = {POLICY_ACCEPT_SENDER, "sender-ok", "250 2.1.0 Ok",
						NULL};
static const struct policy_verdict sender_login = {POLICY_ACCEPT_SENDER, "sender-login",
						   "250 2.1.0 Ok", NULL};
static const struct policy_verdict sender_mailbox = {POLICY_ACCEPT_SENDER, "sender-mailbox",
						     "250 2.1.0 Ok", NULL};
static const struct policy_verdict sender_grant = {POLICY_ACCEPT_SENDER, "sender-grant",
						   "250 2.1.0 Ok", NULL};
static const struct policy_verdict reject_sender_unqualified = {
    POLICY_REJECT, "unqualified-sender", "553 5.1.7 Sender address must be fully qualified", NULL};
static const struct policy_verdict reject_sender_mismatch = {
    POLICY_REJECT, "sender-login-mismatch", "553 5.7.1 Sender address not owned by user", NULL};
static const struct policy_verdict reject_local_sender = {
    POLICY_REJECT, "local-sender-unauthenticated",
    "550 5.7.1 Sender address in a local domain requires authentication", NULL};

/* Is the sender one of our own addresses: a local domain, or the literal of the address the
 * client connected to (whatever ip-literal-recipients says: nobody outside is us)? */
static int sender_is_local(const struct conf *conf, const struct policy_client *client,
			   const struct addr_path *sender)
{
	if (sender->literal)
		return memcmp(sender->literal_addr, client->local_addr, 16) == 0;
	return conf_is_local_domain(conf, sender->domain);
}

static int grant_matches(const struct conf_sender_grant *g, const char *key, const char *domain)
{
	for (size_t i = 0; i < g->n_senders; i++) {
		const char *s = g->senders[i];
		if (s[0] == '@' ? strcmp(s + 1, domain) == 0 : strcmp(s, key) == 0)
			return 1;
	}
	return 0;
}

/* The sender of an authenticated session: the login's own address, a mailbox whose user it
 * is, or a grant. Local parts compare case-insensitively, as mailbox lookups do. */
static struct policy_verdict check_sender_login(const struct conf *conf, const char *login,
						const struct addr_path *sender)
{
	char local[sizeof(sender->local)], key[sizeof(sender->local) + sizeof(sender->domain) + 1];
	util_strlcpy(local, sender->local, sizeof(local));
	util_str_lower(local);
	snprintf(key, sizeof(key), "%s@%s", local, sender->domain);
	if (util_str_ieq(key, login))
		return sender_login;
	const struct conf_mailbox *mb =
	    sender->literal ? NULL : conf_find_mailbox(conf, local, sender->domain);
	if (mb && util_str_ieq(mb->user, login))
		return sender_mailbox;
	for (size_t i = 0; i < conf->n_sender_grants; i++)
		if (util_str_ieq(conf->sender_grants[i].login, login) &&
		    grant_matches(&conf->sender_grants[i], key, sender->domain))
			return sender_grant;
	return reject_sender_mismatch;
}

struct policy_verdict policy_check_sender(const struct conf *conf,
					  const struct policy_client *client, const char *login,
					  const struct addr_path *sender)
{
	if (sender->null)
		return sender_null;
	if (sender->unqualified)
		return reject_sender_unqualified;
	if (login && login[0])
		return check_sender_login(conf, login, sender);
	if (sender_is_local(conf, client, sender) &&
	    !cidr_set_contains(conf->trusted, conf->n_trusted, client->addr))
		return reject_local_sender;
	return sender_ok;
}
