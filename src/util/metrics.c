/* metrics.c — the counter tables of RCPT and MAIL verdicts and the Prometheus text rendering. */
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One verdict into a table of n[0..max) rule IDs plus "other". */
static void count_rule(struct metrics_rule *rules, size_t *n, size_t max, uint64_t *other,
		       const char *rule_id, enum metrics_verdict v)
{
	size_t len = strlen(rule_id);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(rules[i].id, rule_id) == 0) {
			rules[i].n[v]++;
			return;
		}
	if (*n == max || len >= METRICS_RULE_ID_MAX) {
		other[v]++;
		return;
	}
	struct metrics_rule *r = &rules[(*n)++];
	memcpy(r->id, rule_id, len + 1);
	r->n[METRICS_ACCEPT] = r->n[METRICS_REJECT] = 0;
	r->n[v] = 1;
}

void metrics_count_rcpt(struct metrics *m, const char *rule_id, enum metrics_verdict v)
{
	count_rule(m->rules, &m->n_rules, METRICS_RULES_MAX, m->rules_other, rule_id, v);
}

void metrics_count_sender(struct metrics *m, const char *rule_id, enum metrics_verdict v)
{
	count_rule(m->senders, &m->n_senders, METRICS_SENDER_RULES_MAX, m->senders_other, rule_id,
		   v);
}

const char *metrics_escape_label(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc = c == '\\' ? '\\' : c == '"' ? '"' : c == '\n' ? 'n' : 0;
		size_t need = esc ? 2 : 1;
		if (o + need >= outlen)
			break;
		if (esc) {
			out[o++] = '\\';
			out[o++] = esc;
		} else {
			out[o++] = (c < 0x20 || c >= 0x7f) ? '_' : (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

struct metrics_dnsbl *metrics_dnsbl_slot(struct metrics *m, const char *zone)
{
	for (size_t i = 0; i < m->n_dnsbl; i++)
		if (!strcmp(m->dnsbl[i].zone, zone))
			return &m->dnsbl[i];
	if (m->n_dnsbl >= METRICS_DNSBL_MAX || strlen(zone) >= sizeof(m->dnsbl[0].zone))
		return NULL;
	struct metrics_dnsbl *d = &m->dnsbl[m->n_dnsbl++];
	memset(d, 0, sizeof(*d));
	memcpy(d->zone, zone, strlen(zone) + 1);
	d->healthy = 1;
	return d;
}

/* ---- rendering ---- */

__attribute__((format(printf, 2, 3))) void metrics_out_printf(struct metrics_out *o,
							      const char *fmt, ...)
{
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

void metrics_out_family(struct metrics_out *o, const char *name, const char *type, const char *help)
{
	metrics_out_printf(o, "# HELP relayguard_%s %s\n# TYPE relayguard_%s %s\n", name, help,
			   name, type);
}

void metrics_out_sample(struct metrics_out *o, const char *name, const char *label,
			const char *value, uint64_t v)
{
	metrics_out_printf(o, "relayguard_%s{%s=\"%s\"} %" PRIu64 "\n", name, label, value, v);
}

void metrics_out_single(struct metrics_out *o, const char *name, const char *type, const char *help,
			uint64_t v)
{
	metrics_out_family(o, name, type, help);
	metrics_out_printf(o, "relayguard_%s %" PRIu64 "\n", name, v);
}

static const char *const verdict_names[METRICS_VERDICTS] = {"accept", "reject"};
static const char *const method_names[METRICS_METHODS] = {"maildir", "lmtp", "smtp"};
static const char *const refusal_names[METRICS_REFUSALS] = {"max-sessions", "pregreet",
							    "max-sessions-per-ip", "queue-refuse"};

static void format_sessions(struct metrics_out *o, const struct metrics *m)
{
	metrics_out_single(o, "smtp_sessions_total", "counter", "SMTP connections accepted.",
			   m->sessions_total);
	metrics_out_single(o, "smtp_sessions_active", "gauge", "SMTP sessions open now.",
			   m->sessions_active);
	metrics_out_family(o, "smtp_sessions_rejected_total", "counter",
			   "SMTP connections turned away before their first command, by reason.");
	for (int i = 0; i < METRICS_REFUSALS; i++)
		metrics_out_printf(
		    o, "relayguard_smtp_sessions_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
		    refusal_names[i], m->sessions_rejected[i]);
	metrics_out_family(
	    o, "smtp_tls_handshakes_total", "counter",
	    "TLS handshakes of SMTP sessions (STARTTLS and implicit TLS), by result.");
	metrics_out_printf(o, "relayguard_smtp_tls_handshakes_total{result=\"ok\"} %" PRIu64 "\n",
			   m->tls_handshakes);
	metrics_out_printf(o,
			   "relayguard_smtp_tls_handshakes_total{result=\"failed\"} %" PRIu64 "\n",
			   m->tls_handshakes_failed);
	metrics_out_family(
	    o, "smtp_auth_total", "counter",
	    "SMTP AUTH commands, by result (blocked: refused to an address with too many "
	    "failures).");
	metrics_out_printf(o, "relayguard_smtp_auth_total{result=\"ok\"} %" PRIu64 "\n",
			   m->auth_ok);
	metrics_out_printf(o, "relayguard_smtp_auth_total{result=\"failed\"} %" PRIu64 "\n",
			   m->auth_failed);
	metrics_out_printf(o, "relayguard_smtp_auth_total{result=\"blocked\"} %" PRIu64 "\n",
			   m->auth_blocked);
}

static void rule_line(struct metrics_out *o, const char *name, const char *rule,
		      const uint64_t n[METRICS_VERDICTS])
{
	char esc[2 * METRICS_RULE_ID_MAX];
	metrics_escape_label(rule, esc, sizeof(esc));
	for (int v = 0; v < METRICS_VERDICTS; v++)
		metrics_out_printf(o, "relayguard_%s{rule=\"%s\",verdict=\"%s\"} %" PRIu64 "\n",
				   name, esc, verdict_names[v], n[v]);
}

static void format_rules(struct metrics_out *o, const char *name, const struct metrics_rule *rules,
			 size_t n, const uint64_t other[METRICS_VERDICTS])
{
	for (size_t i = 0; i < n; i++)
		rule_line(o, name, rules[i].id, rules[i].n);
	if (other[METRICS_ACCEPT] || other[METRICS_REJECT])
		rule_line(o, name, METRICS_RULE_OTHER, other);
}

static void format_rcpts(struct metrics_out *o, const struct metrics *m)
{
	metrics_out_family(o, "rcpt_total", "counter",
			   "RCPT verdicts of the relay policy, by deciding rule ID and verdict.");
	format_rules(o, "rcpt_total", m->rules, m->n_rules, m->rules_other);
	metrics_out_family(
	    o, "mail_total", "counter",
	    "MAIL FROM verdicts of the sender rules, by deciding rule ID and verdict.");
	format_rules(o, "mail_total", m->senders, m->n_senders, m->senders_other);
}

static void format_delivery(struct metrics_out *o, const struct metrics *m)
{
	metrics_out_family(o, "delivered_total", "counter", "Recipients delivered, by method.");
	for (int i = 0; i < METRICS_METHODS; i++)
		metrics_out_printf(o, "relayguard_delivered_total{method=\"%s\"} %" PRIu64 "\n",
				   method_names[i], m->delivered[i]);
	metrics_out_single(o, "deferred_total", "counter",
			   "Delivery attempts that failed temporarily and will be retried.",
			   m->deferred);
	metrics_out_single(o, "bounced_total", "counter", "Recipients that failed permanently.",
			   m->bounced);
	metrics_out_single(o, "expired_total", "counter",
			   "Recipients given up after the delivery lifetime.", m->expired);
	metrics_out_single(o, "dsn_sent_total", "counter",
			   "Delivery status notifications queued to senders.", m->dsn_sent);
}

static void format_dnsbl(struct metrics_out *o, const struct metrics *m)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} f[] = {
	    {"dnsbl_lookups_total", "counter", "DNS list lookups of client addresses, by list.",
	     offsetof(struct metrics_dnsbl, lookups)},
	    {"dnsbl_listed_total", "counter", "DNS list answers that listed the client, by list.",
	     offsetof(struct metrics_dnsbl, listed)},
	    {"dnsbl_errors_total", "counter",
	     "DNS list error answers (127.255.255.0/24, outside 127/8, SERVFAIL, timeout), by "
	     "list.",
	     offsetof(struct metrics_dnsbl, errors)},
	    {"dnsbl_healthy", "gauge",
	     "1 when the DNS list passes its RFC 5782 health test and is used, 0 when suspended.",
	     offsetof(struct metrics_dnsbl, healthy)},
	    {"dnsbl_suspensions_total", "counter",
	     "Times the health test suspended the DNS list, by list.",
	     offsetof(struct metrics_dnsbl, suspensions)},
	};
	char esc[2 * sizeof(m->dnsbl[0].zone)];
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		metrics_out_family(o, f[k].name, f[k].type, f[k].help);
		for (size_t i = 0; i < m->n_dnsbl; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&m->dnsbl[i] + f[k].off, sizeof(v));
			metrics_escape_label(m->dnsbl[i].zone, esc, sizeof(esc));
			metrics_out_printf(o, "relayguard_%s{list=\"%s\"} %" PRIu64 "\n", f[k].name,
					   esc, v);
		}
	}
}

static void format_queue(struct metrics_out *o, const struct metrics_queue *q)
{
	metrics_out_single(o, "queue_messages", "gauge", "Messages in the queue.", q->messages);
	metrics_out_single(o, "queue_recipients", "gauge", "Recipients in the queue not yet done.",
			   q->recipients);
	metrics_out_single(o, "queue_held_messages", "gauge", "Messages in the queue on hold.",
			   q->held);
	metrics_out_single(o, "queue_oldest_age_seconds", "gauge",
			   "Age of the oldest message in the queue (0 when empty).", q->oldest_age);
}

static void format_self_audit(struct metrics_out *o, const struct metrics *m)
{
	metrics_out_single(
	    o, "self_audit_runs_total", "counter",
	    "Self-audit runs finished (the relay probe against the server's own listeners).",
	    m->self_audit_runs);
	metrics_out_family(o, "self_audit_last_run_timestamp_seconds", "gauge",
			   "End of the last self-audit run (Unix time, 0 before the first).");
	metrics_out_printf(o, "relayguard_self_audit_last_run_timestamp_seconds %" PRId64 "\n",
			   m->self_audit_last_run);
	metrics_out_family(
	    o, "self_audit_open", "gauge",
	    "1 when the last self-audit found the listener relaying for an outside client.");
	for (size_t i = 0; i < m->n_self_audit; i++) {
		char esc[2 * sizeof(m->self_audit[i].listener)];
		metrics_escape_label(m->self_audit[i].listener, esc, sizeof(esc));
		metrics_out_printf(o, "relayguard_self_audit_open{listener=\"%s\"} %d\n", esc,
				   m->self_audit[i].open != 0);
	}
}

static void format_abuse(struct metrics_out *o, const struct metrics *m)
{
	metrics_out_family(o, "greylist_total", "counter",
			   "Greylisting verdicts at RCPT (rule greylist), by result.");
	metrics_out_printf(o, "relayguard_greylist_total{result=\"greylisted\"} %" PRIu64 "\n",
			   m->greylist_deferred);
	metrics_out_printf(o, "relayguard_greylist_total{result=\"passed\"} %" PRIu64 "\n",
			   m->greylist_passed);
	metrics_out_printf(o, "relayguard_greylist_total{result=\"whitelisted\"} %" PRIu64 "\n",
			   m->greylist_whitelisted);
	metrics_out_single(o, "abuse_store_errors_total", "counter",
			   "Abuse-store requests that failed (greylisting failed open).",
			   m->abuse_store_errors);
}

const char *const metrics_ratelimit_rules[METRICS_RL_RULES] = {
    "ratelimit:ip-connections",	     "ratelimit:ip-messages",
    "ratelimit:ip-recipients",	     "ratelimit:user-messages-hour",
    "ratelimit:user-messages-day",   "ratelimit:user-recipients-hour",
    "ratelimit:user-recipients-day", "ratelimit:circuit-breaker",
    "ratelimit:account-tripped",
};

static void format_ratelimit(struct metrics_out *o, const struct metrics *m)
{
	metrics_out_family(
	    o, "ratelimit_rejected_total", "counter",
	    "Sessions, messages, recipients and AUTH refused by a rate limit, by rule.");
	for (int i = 0; i < METRICS_RL_RULES; i++)
		metrics_out_printf(o,
				   "relayguard_ratelimit_rejected_total{rule=\"%s\"} %" PRIu64 "\n",
				   metrics_ratelimit_rules[i], m->ratelimit_rejected[i]);
	metrics_out_single(
	    o, "ratelimit_store_errors_total", "counter",
	    "Rate-limit checks the abuse store could not answer (ratelimit-on-store-error).",
	    m->ratelimit_store_errors);
	metrics_out_single(
	    o, "circuit_breaker_trips_total", "counter",
	    "Authenticated users tripped by the circuit breaker (their outbound mail held).",
	    m->circuit_breaker_trips);
}

void metrics_set_self_listed(struct metrics *m, const char *zone, int listed)
{
	for (size_t i = 0; i < m->n_self_listed; i++)
		if (!strcmp(m->self_listed[i].zone, zone)) {
			m->self_listed[i].listed = listed;
			return;
		}
	if (m->n_self_listed >= METRICS_SELF_LISTED_MAX ||
	    strlen(zone) >= sizeof(m->self_listed[0].zone))
		return;
	struct metrics_self_listed *s = &m->self_listed[m->n_self_listed++];
	memcpy(s->zone, zone, strlen(zone) + 1);
	s->listed = listed;
}

void metrics_count_blocklisted_bounce(struct metrics *m, const char *destination)
{
	for (size_t i = 0; i < m->n_blocklisted_bounces; i++)
		if (!strcmp(m->blocklisted_bounces[i].destination, destination)) {
			m->blocklisted_bounces[i].n++;
			return;
		}
	if (m->n_blocklisted_bounces >= METRICS_BOUNCE_DEST_MAX ||
	    strlen(destination) >= sizeof(m->blocklisted_bounces[0].destination)) {
		m->blocklisted_bounces_other++;
		return;
	}
	struct metrics_bounce_dest *d = &m->blocklisted_bounces[m->n_blocklisted_bounces++];
	memcpy(d->destination, destination, strlen(destination) + 1);
	d->n = 1;
}

static void format_self_check(struct metrics_out *o, const struct metrics *m)
{
	char esc[512];
	metrics_out_single(
	    o, "self_check_runs_total", "counter",
	    "Self-check runs finished (the server's outbound addresses looked up in the DNS "
	    "lists).",
	    m->self_check_runs);
	metrics_out_single(
	    o, "self_check_errors_total", "counter",
	    "Self-check lookups that failed (timeout, SERVFAIL, error answers): never a "
	    "listing.",
	    m->self_check_errors);
	metrics_out_family(
	    o, "self_listed", "gauge",
	    "1 when the last self-check found an outbound address of the server listed, by "
	    "list.");
	for (size_t i = 0; i < m->n_self_listed; i++) {
		metrics_escape_label(m->self_listed[i].zone, esc, sizeof(esc));
		metrics_out_printf(o, "relayguard_self_listed{list=\"%s\"} %d\n", esc,
				   m->self_listed[i].listed != 0);
	}
	metrics_out_family(
	    o, "blocklisted_bounces_total", "counter",
	    "Remote replies rejecting our mail that name a blocklist, by destination domain.");
	for (size_t i = 0; i < m->n_blocklisted_bounces; i++) {
		metrics_escape_label(m->blocklisted_bounces[i].destination, esc, sizeof(esc));
		metrics_out_printf(
		    o, "relayguard_blocklisted_bounces_total{destination=\"%s\"} %" PRIu64 "\n",
		    esc, m->blocklisted_bounces[i].n);
	}
	if (m->blocklisted_bounces_other)
		metrics_out_printf(
		    o, "relayguard_blocklisted_bounces_total{destination=\"other\"} %" PRIu64 "\n",
		    m->blocklisted_bounces_other);
}

size_t metrics_format(const struct metrics *m, const struct metrics_queue *q, char *buf, size_t len)
{
	struct metrics_out o = {buf, len, 0};
	if (len > 0)
		buf[0] = '\0';
	format_sessions(&o, m);
	metrics_out_single(&o, "messages_received_total", "counter",
			   "Messages made durable in the queue (answered 250).",
			   m->messages_received);
	metrics_out_single(&o, "messages_received_bytes_total", "counter",
			   "Bytes of the messages received, as stored (with the Received: header).",
			   m->bytes_received);
	format_rcpts(&o, m);
	format_delivery(&o, m);
	format_queue(&o, q);
	format_self_audit(&o, m);
	format_abuse(&o, m);
	format_ratelimit(&o, m);
	format_dnsbl(&o, m);
	format_self_check(&o, m);
	metrics_out_family(
	    &o, "backpressure_delay_seconds", "gauge",
	    "Banner delay of the latest new session because of the queue (limit queue-pressure); "
	    "0 when the queue is below it.");
	metrics_out_printf(&o, "relayguard_backpressure_delay_seconds %" PRIu64 ".%03u\n",
			   m->backpressure_delay_ms / 1000,
			   (unsigned)(m->backpressure_delay_ms % 1000));
	return o.pos;
}
