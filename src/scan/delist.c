/* delist.c — a delisting request (CLI or web page): the host must be listed, the request is
 * rate-limited per IP (scan-delist-interval), then the whole battery runs again on the
 * configured ports (scan-ports); the entry is delisted only when every test is refused, else it
 * stays listed with the new evidence. */
#include "scan_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *scan_delist_status_name(enum scan_delist_status s)
{
	static const char *const names[] = {"delisted", "still-open", "not-listed", "rate-limited",
					    "untested"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static void fmt_time(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "%lld", (long long)t);
}

/* Whether ip may be rescanned at all: listed as a host, not reserved, not opted out.
 * 1 to go on, 0 with out filled, -1 on a store error. */
static int delist_precheck(const struct conf *c, struct blocklist *b, const struct cidr *net,
			   const char *ip, struct scan_delist_result *out)
{
	struct blocklist_entry e;
	int rc = blocklist_get(b, net, &e);
	if (rc < 0)
		return -1;
	int listed = rc == 0 && e.state == BLOCKLIST_LISTED;
	if (rc == 0)
		blocklist_entry_clear(&e);
	if (!listed) {
		rc = blocklist_lookup(b, net->addr, &e);
		if (rc < 0)
			return -1;
		out->status = rc == 0 ? SCAN_UNTESTED : SCAN_NOT_LISTED;
		if (rc == 0) {
			snprintf(out->detail, sizeof(out->detail),
				 "%s is listed as part of %s (%.150s), not by a scan of the host: "
				 "ask the list's operator",
				 ip, e.net_text, e.txt);
			blocklist_entry_clear(&e);
		} else
			snprintf(out->detail, sizeof(out->detail), "%s is not listed", ip);
		return 0;
	}
	const char *why = c->scan_allow_reserved ? NULL : scan_reserved(net->addr);
	struct cidr *opt = NULL;
	size_t n_opt = 0;
	char err[256];
	if (!why && c->scan_opt_out &&
	    (scan_optout_load(c->scan_opt_out, &opt, &n_opt, err, sizeof(err)) < 0 ||
	     cidr_set_contains(opt, n_opt, net->addr)))
		why = "the opt-out list (scan-opt-out), or it cannot be read";
	free(opt);
	if (why) {
		out->status = SCAN_UNTESTED;
		snprintf(out->detail, sizeof(out->detail),
			 "%s cannot be rescanned: it is in %s; it stays listed", ip, why);
		return 0;
	}
	return 1;
}

/* The rescan's verdict into the store and out. */
static int delist_apply(struct blocklist *b, const struct scan_host_result *r,
			const char *requester, struct scan_delist_result *out, char *err,
			size_t errlen)
{
	struct cidr net;
	char why[BLOCKLIST_TXT_MAX];
	scan_host_net(r, &net);
	if (r->outcome == SCAN_OUTCOME_OPEN) {
		out->status = SCAN_STILL_OPEN;
		snprintf(out->detail, sizeof(out->detail),
			 "%s still relays: the rescan got a message accepted for a third party; "
			 "it stays listed with the new evidence",
			 r->ip);
		return scan_list_open(b, r, PROBE_OPEN, requester,
				      "delisting request: the rescan still relays", err, errlen);
	}
	if (r->outcome == SCAN_OUTCOME_UNTESTABLE) {
		out->status = SCAN_UNTESTED;
		snprintf(out->detail, sizeof(out->detail),
			 "%s could not be tested on any configured port (%.200s); it stays listed",
			 r->ip, r->ports[0].sum.error);
		return 0;
	}
	if (!r->refused_all) {
		out->status = SCAN_STILL_OPEN;
		snprintf(out->detail, sizeof(out->detail),
			 "%s accepts RCPT for third-party recipients (the message itself was "
			 "refused): not every test was refused; it stays listed",
			 r->ip);
		return scan_list_open(b, r, PROBE_ACCEPTS_RCPT, requester,
				      "delisting request: the rescan accepts third-party RCPT", err,
				      errlen);
	}
	size_t tests = 0;
	for (size_t i = 0; i < r->n_ports; i++)
		tests += r->ports[i].sum.connected ? r->ports[i].sum.tests : 0;
	snprintf(why, sizeof(why), "clean rescan on delisting request: all %zu tests refused",
		 tests);
	if (blocklist_record_clean(b, r->addr, r->scanner, r->time, err, errlen) < 0)
		return -1;
	int rc =
	    blocklist_delist(b, &net, BLOCKLIST_DELISTED, requester, why, r->time, err, errlen);
	out->status = rc == 0 ? SCAN_DELISTED : SCAN_NOT_LISTED;
	snprintf(out->detail, sizeof(out->detail), "%s %s: %s", r->ip,
		 rc == 0 ? "delisted" : "was no longer listed", why);
	return rc < 0 ? -1 : 0;
}

static int delist_rescan(const struct conf *c, struct blocklist *b, const uint8_t addr[16],
			 const char *requester, struct scan_delist_result *out, char *err,
			 size_t errlen)
{
	struct scan_settings s;
	struct scan_host_result *r = malloc(sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	scan_settings_from_conf(c, &s);
	signal(SIGPIPE, SIG_IGN); /* the probe writes to servers that may close first */
	if (scan_host(&s, addr, r) < 0) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = delist_apply(b, r, requester, out, err, errlen);
	out->evidence = scan_host_json(r, scan_delist_status_name(out->status));
	scan_host_free(r);
	free(r);
	return rc;
}

int scan_request_delist(const struct conf *c, const char *ip, const char *requester,
			struct scan_delist_result *out, char *err, size_t errlen)
{
	struct cidr net;
	struct blocklist *b = NULL;
	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (!ip || cidr_parse(ip, &net) < 0 || net.prefix != 128) {
		snprintf(err, errlen, "%.64s: not an IP address", ip ? ip : "(null)");
		return -1;
	}
	if (blocklist_open(conf_blocklist_db(c), &b, err, errlen) < 0)
		return -1;
	/* every request counts against the IP's rate limit, whatever it finds */
	int64_t now = (int64_t)time(NULL), next = 0;
	int rc = blocklist_delist_request(b, net.addr, requester ? requester : "cli", now,
					  c->scan_delist_interval, &next, err, errlen);
	if (rc == 0)
		rc = delist_precheck(c, b, &net, ip, out);
	else if (rc == 1)
		rc = 2;
	if (rc == 2) {
		char when[32];
		fmt_time(next, when, sizeof(when));
		out->status = SCAN_RATE_LIMITED;
		snprintf(out->detail, sizeof(out->detail),
			 "a delisting request for %s was handled less than %us ago "
			 "(scan-delist-interval); the next one is possible at %s",
			 ip, c->scan_delist_interval, when);
		rc = 0;
	} else if (rc == 1)
		rc = delist_rescan(c, b, net.addr, requester ? requester : "cli", out, err, errlen);
	else if (rc < 0 && !*err)
		snprintf(err, errlen, "%s: cannot read the blocklist store", ip);
	blocklist_close(b);
	return rc < 0 ? -1 : 0;
}
