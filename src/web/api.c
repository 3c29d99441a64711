/* api.c — the JSON documents of /api/v1: every string through util_buf_json_string (the one
 * JSON writer); stored evidence is parsed and written again, never copied raw, so whatever
 * the store holds the answer is well-formed JSON. Pure. */
#include "web.h"

#include <string.h>

static void json_str(struct util_buf *b, const char *s)
{
	if (s)
		util_buf_json_string(b, s, strlen(s));
	else
		util_buf_add(b, "null", 4);
}

/* ,"evidence":{...} (or null, with the text as stored under evidence_raw when unreadable) */
static void json_evidence(struct util_buf *b, const char *raw)
{
	struct web_evidence ev;
	util_buf_printf(b, ",\"evidence\":");
	if (!raw) {
		util_buf_printf(b, "null");
		return;
	}
	if (web_evidence_parse(raw, strlen(raw), &ev) < 0) {
		util_buf_printf(b, "null,\"evidence_raw\":");
		json_str(b, raw);
		web_evidence_clear(&ev);
		return;
	}
	util_buf_printf(b, "{\"tests\":[");
	for (size_t i = 0; i < ev.n_tests; i++) {
		util_buf_printf(b, i ? "," : "");
		json_str(b, ev.tests[i]);
	}
	util_buf_printf(b, "],\"tests_total\":%zu,\"depth\":%u,\"transcript\":", ev.n_tests_total,
			ev.depth);
	json_str(b, ev.transcript);
	util_buf_printf(b, ",\"time\":%lld,\"scanner\":", (long long)ev.time);
	json_str(b, ev.scanner);
	util_buf_printf(b, "}");
	web_evidence_clear(&ev);
}

static void json_history(struct util_buf *b, const struct web_lookup *l)
{
	util_buf_printf(b, ",\"history_total\":%zu,\"history\":[", l->n_history_total);
	for (size_t i = 0; i < l->n_history; i++) {
		const struct blocklist_change *c = &l->history[i];
		util_buf_printf(b, "%s{\"time\":%lld,\"state\":\"%s\",\"who\":", i ? "," : "",
				(long long)c->time, blocklist_state_name(c->state));
		json_str(b, c->who);
		util_buf_printf(b, ",\"why\":");
		json_str(b, c->why);
		util_buf_printf(b, "}");
	}
	util_buf_printf(b, "]");
}

/* ,"listed":BOOL,"entry":{...}|null */
static void json_entry(struct util_buf *b, const struct web_lookup *l)
{
	const struct blocklist_entry *e = &l->entry;
	util_buf_printf(b, ",\"listed\":%s", l->listed ? "true" : "false");
	if (!l->found) {
		util_buf_printf(b, ",\"entry\":null");
		return;
	}
	util_buf_printf(b, ",\"entry\":{\"net\":");
	json_str(b, e->net_text);
	util_buf_printf(b,
			",\"state\":\"%s\",\"code\":%u,\"reason\":", blocklist_state_name(e->state),
			e->code);
	json_str(b, e->txt);
	util_buf_printf(b, ",\"first_seen\":%lld,\"last_seen\":%lld,\"last_clean\":%lld",
			(long long)e->first_seen, (long long)e->last_seen,
			(long long)e->last_clean);
	json_evidence(b, e->evidence);
	json_history(b, l);
	util_buf_printf(b, "}");
}

void web_json_lookup(struct util_buf *b, const struct web_lookup *l)
{
	util_buf_printf(b, "{\"ip\":");
	json_str(b, l->ip);
	json_entry(b, l);
	util_buf_printf(b, "}\n");
}

/* The scanner's result is its own JSON (written with util_buf_json_string), passed on once it
 * is checked to be one object; the entry after the rescan comes from the store. */
void web_json_delist(struct util_buf *b, const struct web_delist_view *v)
{
	util_buf_printf(b, "{\"ip\":");
	json_str(b, v->ip);
	util_buf_printf(b, ",\"status\":");
	json_str(b, v->status);
	util_buf_printf(b, ",\"detail\":");
	json_str(b, v->detail);
	util_buf_printf(b, ",\"scan\":");
	if (v->scan && web_json_is_object(v->scan, strlen(v->scan)))
		util_buf_add(b, v->scan, strlen(v->scan));
	else
		util_buf_printf(b, "null");
	if (v->after)
		json_entry(b, v->after);
	util_buf_printf(b, "}\n");
}

void web_json_error(struct util_buf *b, const char *text)
{
	util_buf_printf(b, "{\"error\":");
	json_str(b, text);
	util_buf_printf(b, "}\n");
}
