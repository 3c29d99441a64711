/* metrics.c — the DNS server's counters in the Prometheus text format (relayguard_blocklist_*;
 * the MTA's own DNS-list client counts under relayguard_dnsbl_*). Pure. */
#include "blocklist.h"

#include "../util/metrics.h"

/* RFC 1035 4.1.1 and RFC 6895 2.3: the answers the server makes; the rest count as "other". */
static const char *const rcode_names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
					  "NXDOMAIN", "NOTIMP",	 "REFUSED"};
#define N_RCODE_NAMES (sizeof(rcode_names) / sizeof(rcode_names[0]))

static void format_queries(struct metrics_out *o, const struct blocklist_dns_metrics *m)
{
	metrics_out_family(o, "blocklist_queries_total", "counter",
			   "DNS messages read, by transport.");
	metrics_out_sample(o, "blocklist_queries_total", "transport", "udp",
			   m->queries[BLOCKLIST_UDP]);
	metrics_out_sample(o, "blocklist_queries_total", "transport", "tcp",
			   m->queries[BLOCKLIST_TCP]);
	metrics_out_single(o, "blocklist_ignored_total", "counter",
			   "Messages not answered: no query (too short, or a response).",
			   m->ignored);
	metrics_out_family(o, "blocklist_answers_total", "counter",
			   "Answers made, by RCODE (NOERROR with an address: listed; NXDOMAIN: "
			   "not listed), before the rate limiter.");
	uint64_t other = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i < N_RCODE_NAMES)
			metrics_out_sample(o, "blocklist_answers_total", "rcode", rcode_names[i],
					   m->rcodes[i]);
		else
			other += m->rcodes[i];
	}
	metrics_out_sample(o, "blocklist_answers_total", "rcode", "other", other);
}

static void format_rrl(struct metrics_out *o, const struct blocklist_dns_metrics *m)
{
	if (!m->rrl_on)
		return;
	metrics_out_family(o, "blocklist_rate_limited_total", "counter",
			   "UDP answers held back by blocklist-rate-limit: dropped, or sent "
			   "truncated (slipped).");
	metrics_out_sample(o, "blocklist_rate_limited_total", "action", "dropped", m->rrl.dropped);
	metrics_out_sample(o, "blocklist_rate_limited_total", "action", "slipped", m->rrl.slipped);
	metrics_out_single(o, "blocklist_rate_limit_evictions_total", "counter",
			   "Rate-limit buckets given to another network (the table was full).",
			   m->rrl.evicted);
}

size_t blocklist_metrics_format(const struct blocklist_dns_metrics *m, char *buf, size_t len)
{
	struct metrics_out o = {buf, len, 0};
	if (len > 0)
		buf[0] = '\0';
	format_queries(&o, m);
	format_rrl(&o, m);
	metrics_out_single(&o, "blocklist_tcp_connections", "gauge", "TCP connections open.",
			   m->tcp_open);
	metrics_out_single(&o, "blocklist_tcp_refused_total", "counter",
			   "TCP connections closed at once: too many were open.", m->tcp_refused);
	metrics_out_single(&o, "blocklist_entries", "gauge",
			   "Entries in the index answers come from.", m->entries);
	metrics_out_single(&o, "blocklist_zone_serial", "gauge",
			   "The zone's SOA serial (the time of the last index load).", m->serial);
	metrics_out_single(&o, "blocklist_index_loads_total", "counter",
			   "Index builds from the store (at start and after each change).",
			   m->index_loads);
	metrics_out_single(&o, "blocklist_index_load_failures_total", "counter",
			   "Index builds that failed (the previous index kept answering).",
			   m->index_failures);
	return o.pos;
}
