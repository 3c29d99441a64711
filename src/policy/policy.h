/* policy.h — the one place that decides whether a recipient is accepted. Pure: no I/O.
 * The SMTP server asks it at RCPT time; `relayguard check` asks it with simulated clients. */
#ifndef RG_POLICY_H
#define RG_POLICY_H

#include <stdint.h>

#include "../addr/addr.h"
#include "../conf/conf.h"

enum policy_result {
	POLICY_ACCEPT_LOCAL, /* a local mailbox: deliver to verdict.mailbox */
	POLICY_ACCEPT_RELAY, /* relayed for this client by verdict.rule_id */
	POLICY_REJECT,
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

#endif
