/* report.c — the probe's report: a human table or one JSON document, with the depth each
 * verdict reached (rcpt, data, delivered). */
#include "probe_int.h"

#include "../util/util.h"

#include <stdio.h>

const char *probe_result_depth(const struct probe_result *r)
{
	if (r->delivered)
		return "delivered";
	return r->verdict == PROBE_OPEN ? "data" : r->verdict == PROBE_ACCEPTS_RCPT ? "rcpt" : "-";
}

static void json_field(const char *name, const char *value)
{
	printf(",\"%s\":", name);
	if (value)
		util_json_print(stdout, value);
	else
		printf("null");
}

static void json_test(size_t i, const struct probe_result *r)
{
	printf("%s{\"id\":\"%s\",\"verdict\":\"%s\",\"depth\":\"%s\",\"catchable\":%s,"
	       "\"delivered\":%s",
	       i ? "," : "", probe_battery[i].id, probe_verdict_name(r->verdict),
	       probe_result_depth(r), r->catchable ? "true" : "false",
	       r->delivered ? "true" : "false");
	json_field("rcpt", r->rcpt_path);
	printf(",\"codes\":{\"mail\":%d,\"rcpt\":%d,\"data\":%d,\"end\":%d}", r->mail, r->rcpt,
	       r->data, r->end);
	json_field("note", r->note);
	putchar('}');
}

void probe_report_json(const struct probe_report *rep)
{
	const struct probe_options *o = rep->o;
	printf("{\"target\":");
	util_json_print(stdout, o->host);
	json_field("port", o->port);
	json_field("server_name", rep->name);
	json_field("tls", rep->tls && rep->tls[0] ? rep->tls : NULL);
	json_field("catch_domain", rep->catch_domain);
	json_field("error", rep->error);
	printf(",\"result\":\"%s\",\"open\":%zu,\"delivered\":%zu,\"tests\":[", rep->overall,
	       rep->open, rep->delivered);
	for (size_t i = 0; i < rep->n; i++)
		json_test(i, &rep->res[i]);
	printf("]}\n");
}

static void table_head(const struct probe_report *rep)
{
	const struct probe_options *o = rep->o;
	printf("relayguard probe %s port %s (server %s%s%s%s%s)\n", o->host, o->port,
	       rep->name[0] ? rep->name : "?", o->source ? ", from " : "",
	       o->source ? o->source : "", rep->tls && rep->tls[0] ? ", TLS " : "",
	       rep->tls && rep->tls[0] ? rep->tls : "");
	if (rep->catch_domain)
		printf("catcher %s:%s, test recipients at %s\n", o->catch_addr, o->catch_port,
		       rep->catch_domain);
	printf("%-30s %4s %4s %4s %4s  %-21s %-9s %s\n", "test", "MAIL", "RCPT", "DATA", "END",
	       "verdict", "depth", "RCPT TO");
}

void probe_report_table(const struct probe_report *rep)
{
	table_head(rep);
	for (size_t i = 0; i < rep->n; i++) {
		const struct probe_result *r = &rep->res[i];
		printf("%-30s %4d %4d %4d %4d  %-21s %-9s %s%s%s\n", probe_battery[i].id, r->mail,
		       r->rcpt, r->data, r->end, probe_verdict_name(r->verdict),
		       probe_result_depth(r), r->rcpt_path, r->note[0] ? "  # " : "", r->note);
	}
	printf("result: %s%s%s (%zu of %zu tests relayed to DATA", rep->overall,
	       rep->error ? ": " : "", rep->error ? rep->error : "", rep->open, rep->n);
	if (rep->catch_domain)
		printf(", %zu delivered to the catcher", rep->delivered);
	printf("; depth: rcpt = RCPT accepted, data = message accepted%s)\n",
	       rep->catch_domain ? ", delivered = the catcher received it" : "");
}
