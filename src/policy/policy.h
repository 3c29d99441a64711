/* policy.h — the one place that decides whether a sender or a recipient is accepted. Pure: no
 * I/O. The SMTP server asks it at MAIL and RCPT time; `relayguard check` asks it with simulated
 * clients. */
#ifndef RG_POLICY_H
#define RG_POLICY_H

#include <stdint.h>

#include "../addr/addr.h"
#include "../conf/conf.h"

enum policy_result {
	POLICY_ACCEPT_LOCAL, /* a local mailbox: deliver to verdict.mailbox */
	POLICY_ACCEPT_RELAY, /* relayed for this client by verdict.rule_id */
	POLICY_REJECT,
	POLICY_ACCEPT_SENDER, /* policy_check_sender: MAIL FROM accepted by verdict.rule_id */
};

struct policy_client {
	uint8_t addr[16];	/* client address, IPv4-mapped for IPv4 */
	uint8_t local_addr[16]; /* the address the client connected to */
	int authenticated;	/* SMTP AUTH succeeded */
};

struct policy_verdict {
	enum policy_result result;
	const char *rule_id; /* "local-mailbox", "etc/relayguard.conf:14", "implicit-reject", … */
	const char *reply;   /* full SMTP reply text without CRLF, "250 2.1.5 Ok" on accept */
	const struct conf_mailbox *mailbox; /* POLICY_ACCEPT_LOCAL only; points into conf */
};

/* Decide one recipient. sender may be NULL (simulation without MAIL). All pointers are
 * borrowed; the verdict's strings live in static storage or in conf. */
struct policy_verdict policy_check_rcpt(const struct conf *conf, const struct policy_client *client,
					const struct addr_path *sender,
					const struct addr_path *rcpt);

/* Decide one sender (MAIL FROM), after its syntax was checked:
 *   "sender-null"        <> (bounces) is always accepted;
 *   "unqualified-sender" 553 5.1.7, a sender without a domain;
 * authenticated (login != NULL and not ""): the sender must belong to the login —
 *   "sender-login"       the login itself, when it is an address (case-insensitive),
 *   "sender-mailbox"     a local address whose mailbox has user LOGIN (conf_find_mailbox),
 *   "sender-grant"       an address or a domain of a `sender-grant LOGIN ...` line,
 *   "sender-login-mismatch" 553 5.7.1 otherwise (the reply ends in "by user": the server adds
 *                        the login, which static storage cannot hold);
 * not authenticated:
 *   "local-sender-unauthenticated" 550 5.7.1 (the postmaster rule): a sender in a local domain,
 *                        or at the address literal the client connected to, from a client
 *                        outside the trusted networks;
 *   "sender-ok"          otherwise.
 * All pointers are borrowed; the verdict's strings live in static storage. */
struct policy_verdict policy_check_sender(const struct conf *conf,
					  const struct policy_client *client, const char *login,
					  const struct addr_path *sender);

/* relay-recipient: 1 when local@domain is listed, 0 when domain has a list without it, -1 when
 * domain has no list (every address relayed). local compares case-insensitively. */
int policy_relay_recipient_known(const struct conf *conf, const char *local, const char *domain);

#endif
