/* host.c — one host: the battery on each configured port (465 with implicit TLS, the others
 * with STARTTLS when offered), the host's outcome, its JSON line and its record in the store. */
#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void scan_settings_from_conf(const struct conf *c, struct scan_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->ports = c->scan_ports;
	s->n_ports = c->n_scan_ports;
	s->timeout = c->scan_timeout ? c->scan_timeout : CONF_DEFAULT_SCAN_TIMEOUT;
	s->host_timeout = s->timeout * 12 > 60 ? s->timeout * 12 : 60;
	s->source = c->scan_source;
}

/* A port that never gave a session (refused, filtered): not a service, not an error. */
static int port_absent(const struct scan_port_result *p)
{
	return !p->sum.connected;
}

static void host_classify(struct scan_host_result *r)
{
	size_t tested = 0, open = 0, partial = 0, refused_all = 1;
	for (size_t i = 0; i < r->n_ports; i++) {
		const struct scan_port_result *p = &r->ports[i];
		if (port_absent(p))
			continue;
		tested++;
		open += p->sum.open > 0;
		partial += p->sum.errors > 0;
		if (p->sum.errors || p->sum.open || p->sum.accepts_rcpt)
			refused_all = 0;
		if (!r->scanner[0] && p->sum.local[0])
			snprintf(r->scanner, sizeof(r->scanner), "%s", p->sum.local);
	}
	r->outcome = open		  ? SCAN_OUTCOME_OPEN
		     : tested && !partial ? SCAN_OUTCOME_CLEAN
					  : SCAN_OUTCOME_UNTESTABLE;
	r->refused_all = tested && refused_all;
}

int scan_host(const struct scan_settings *s, const uint8_t addr[16], struct scan_host_result *r)
{
	struct cidr host;
	memset(r, 0, sizeof(*r));
	memcpy(r->addr, addr, 16);
	memcpy(host.addr, addr, 16);
	host.prefix = 128;
	cidr_format(&host, r->ip, sizeof(r->ip));
	r->ip[strcspn(r->ip, "/")] = '\0';
	r->time = (int64_t)time(NULL);
	for (size_t i = 0; i < s->n_ports && i < CONF_SCAN_PORTS_MAX; i++) {
		struct scan_port_result *p = &r->ports[r->n_ports++];
		char port[8];
		p->port = s->ports[i];
		snprintf(port, sizeof(port), "%u", (unsigned)p->port);
		if (!(p->d = malloc(sizeof(*p->d)))) {
			scan_host_free(r);
			return -1;
		}
		struct probe_options o = {0};
		o.host = r->ip;
		o.port = port;
		o.source = s->source;
		o.timeout = s->timeout;
		o.max_time = s->host_timeout;
		o.tls = p->port == 465 ? PROBE_TLS_IMPLICIT : PROBE_TLS_STARTTLS_AUTO;
		o.before_connect = s->before_connect;
		o.connect_arg = s->connect_arg;
		o.stop_unreachable = 1;
		probe_run_detailed(&o, &p->sum, p->d);
	}
	host_classify(r);
	return 0;
}

void scan_host_free(struct scan_host_result *r)
{
	for (size_t i = 0; i < r->n_ports; i++) {
		free(r->ports[i].d);
		r->ports[i].d = NULL;
	}
}

static const char *outcome_name(enum scan_outcome o)
{
	return o == SCAN_OUTCOME_OPEN ? "open" : o == SCAN_OUTCOME_CLEAN ? "clean" : "untestable";
}

/* ["id",...] of the tests of p with verdict v. */
static void json_ids(struct util_buf *j, const struct scan_port_result *p, enum probe_verdict v)
{
	int first = 1;
	util_buf_add(j, "[", 1);
	for (size_t k = 0; p->d && k < p->d->n; k++)
		if (p->d->tests[k].verdict == v) {
			if (!first)
				util_buf_add(j, ",", 1);
			first = 0;
			util_buf_json_string(j, p->d->tests[k].id, strlen(p->d->tests[k].id));
		}
	util_buf_add(j, "]", 1);
}

static void json_port(struct util_buf *j, const struct scan_port_result *p)
{
	const struct probe_summary *s = &p->sum;
	util_buf_printf(j, "{\"port\":%u,\"reachable\":%s,\"result\":", (unsigned)p->port,
			s->connected ? "true" : "false");
	util_buf_json_string(j, s->overall, strlen(s->overall));
	util_buf_printf(j,
			",\"tests\":%zu,\"open\":%zu,\"accepts_rcpt\":%zu,\"auth_needed\":%zu,"
			"\"errors\":%zu,\"server_name\":",
			s->tests, s->open, s->accepts_rcpt, s->auth_needed, s->errors);
	util_buf_json_string(j, s->name, strlen(s->name));
	util_buf_add(j, ",\"tls\":", 7);
	util_buf_json_string(j, s->tls, strlen(s->tls));
	util_buf_add(j, ",\"error\":", 9);
	util_buf_json_string(j, s->error, strlen(s->error));
	util_buf_add(j, ",\"relayed\":", 11);
	json_ids(j, p, PROBE_OPEN);
	util_buf_add(j, ",\"accepted_rcpt\":", 17);
	json_ids(j, p, PROBE_ACCEPTS_RCPT);
	util_buf_add(j, "}", 1);
}

char *scan_host_json(const struct scan_host_result *r, const char *action)
{
	struct util_buf j = {0};
	util_buf_add(&j, "{\"ip\":", 6);
	util_buf_json_string(&j, r->ip, strlen(r->ip));
	util_buf_printf(&j, ",\"result\":\"%s\",\"refused_all\":%s,\"time\":%lld,\"scanner\":",
			outcome_name(r->outcome), r->refused_all ? "true" : "false",
			(long long)r->time);
	util_buf_json_string(&j, r->scanner, strlen(r->scanner));
	if (action) {
		util_buf_add(&j, ",\"action\":", 10);
		util_buf_json_string(&j, action, strlen(action));
	}
	util_buf_add(&j, ",\"ports\":[", 10);
	for (size_t i = 0; i < r->n_ports; i++) {
		if (i)
			util_buf_add(&j, ",", 1);
		json_port(&j, &r->ports[i]);
	}
	util_buf_add(&j, "]}", 2);
	if (j.err) {
		free(j.p);
		return NULL;
	}
	return j.p;
}
