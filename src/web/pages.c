/* pages.c — the HTML pages: plain HTML with one small inline style sheet (its hash goes into
 * the Content-Security-Policy), no script, no outside asset. Every value from the store, a
 * scan or a request goes through web_html_escape. Pure. */
#include "web_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *web_page_css(void)
{
	return "body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em;"
	       "line-height:1.4;color:#222}"
	       "header a{margin-right:1em}"
	       "table{border-collapse:collapse;margin:.5em 0}"
	       "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
	       "pre{background:#f4f4f4;padding:.5em;overflow-x:auto;white-space:pre-wrap}"
	       ".listed{color:#a00}.clean{color:#070}"
	       "button{padding:.3em 1em}";
}

static void fmt_time(int64_t t, char out[40])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, 40, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, 40, "never");
}

void web_page_head(struct util_buf *b, const char *title)
{
	util_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<meta name=\"viewport\" content=\"width=device-width, "
			   "initial-scale=1\"><title>");
	web_html_add(b, title);
	util_buf_printf(b,
			" - relayguard blocklist</title><style>%s</style></head><body>\n"
			"<header><a href=\"/\">Blocklist lookup</a><a href=\"/howto\">How to close "
			"an open relay</a><a href=\"/api/v1/lookup?ip=127.0.0.2\">JSON API</a>"
			"</header>\n<main>\n",
			web_page_css());
}

void web_page_foot(struct util_buf *b)
{
	util_buf_printf(b, "</main></body></html>\n");
}

static void lookup_form(struct util_buf *b, const char *ip)
{
	util_buf_printf(b,
			"<form method=\"get\" action=\"/lookup\"><label>IP address "
			"<input id=\"ip\" name=\"ip\" size=\"40\" maxlength=\"%d\" value=\"",
			WEB_IP_INPUT_MAX - 1);
	web_html_add(b, ip);
	util_buf_printf(b, "\" required></label> <button type=\"submit\" id=\"lookup\">Look up"
			   "</button></form>\n");
}

void web_page_index(struct util_buf *b)
{
	web_page_head(b, "Lookup");
	util_buf_printf(b,
			"<h1>Is an address on the blocklist?</h1>\n"
			"<p>This list names mail servers found relaying mail for anybody (open "
			"relays). Type an IPv4 or IPv6 address to see whether it is listed, why, "
			"and the evidence.</p>\n");
	lookup_form(b, "");
	web_page_foot(b);
}

static void evidence_html(struct util_buf *b, const struct web_evidence *ev, int ok,
			  const char *raw)
{
	char t[40];
	util_buf_printf(b, "<h2>Evidence</h2>\n");
	if (!ok) {
		util_buf_printf(b, "<p>The stored evidence cannot be read; as stored:</p><pre>");
		web_html_add(b, raw);
		util_buf_printf(b, "</pre>\n");
		return;
	}
	util_buf_printf(b, "<table><tr><th>Tests that relayed</th><td id=\"tests\"><ul>");
	for (size_t i = 0; i < ev->n_tests; i++) {
		util_buf_printf(b, "<li>");
		web_html_add(b, ev->tests[i]);
		util_buf_printf(b, "</li>");
	}
	if (ev->n_tests_total > ev->n_tests)
		util_buf_printf(b, "<li>and %zu more</li>", ev->n_tests_total - ev->n_tests);
	fmt_time(ev->time, t);
	util_buf_printf(b,
			"</ul></td></tr><tr><th>Depth</th><td>%u</td></tr>"
			"<tr><th>Scanned</th><td>%s</td></tr><tr><th>Scanner</th><td>",
			ev->depth, t);
	web_html_add(b, ev->scanner);
	util_buf_printf(b, "</td></tr></table>\n<h3>Transcript</h3>\n<pre id=\"transcript\">");
	web_html_add(b, ev->transcript);
	util_buf_printf(b, "</pre>\n");
}

static void history_html(struct util_buf *b, const struct web_lookup *l)
{
	char t[40];
	util_buf_printf(b, "<h2>History</h2>\n");
	if (l->n_history_total > l->n_history)
		util_buf_printf(b, "<p>The latest %zu of %zu changes.</p>\n", l->n_history,
				l->n_history_total);
	util_buf_printf(b, "<table id=\"history\"><tr><th>When</th><th>State</th><th>By</th>"
			   "<th>Why</th></tr>\n");
	for (size_t i = 0; i < l->n_history; i++) {
		const struct blocklist_change *c = &l->history[i];
		fmt_time(c->time, t);
		util_buf_printf(b, "<tr><td>%s</td><td>%s</td><td>", t,
				blocklist_state_name(c->state));
		web_html_add(b, c->who);
		util_buf_printf(b, "</td><td>");
		web_html_add(b, c->why);
		util_buf_printf(b, "</td></tr>\n");
	}
	util_buf_printf(b, "</table>\n");
}

static void entry_html(struct util_buf *b, const struct web_lookup *l)
{
	const struct blocklist_entry *e = &l->entry;
	char first[40], last[40], clean[40];
	fmt_time(e->first_seen, first);
	fmt_time(e->last_seen, last);
	fmt_time(e->last_clean, clean);
	util_buf_printf(b, "<table id=\"entry\"><tr><th>Entry</th><td>");
	web_html_add(b, e->net_text);
	util_buf_printf(b,
			"</td></tr><tr><th>State</th><td id=\"state\">%s</td></tr>"
			"<tr><th>Listed since</th><td>%s</td></tr><tr><th>Last seen</th><td>%s"
			"</td></tr><tr><th>Last clean scan</th><td>%s</td></tr>"
			"<tr><th>DNS answer</th><td>127.0.0.%u</td></tr><tr><th>Reason</th><td>",
			blocklist_state_name(e->state), first, last, clean, e->code);
	web_html_add(b, e->txt);
	util_buf_printf(b, "</td></tr></table>\n");
}

static void delist_form(struct util_buf *b, const char *ip, const char *csrf)
{
	util_buf_printf(b,
			"<h2>Request delisting</h2>\n<p>Closed the relay? The host is "
			"scanned again with every test; it is delisted only if all of them are "
			"refused, otherwise it stays listed and the new evidence is shown. "
			"Requests are limited per address. See <a href=\"/howto\">how to close an "
			"open relay</a>.</p>\n<form method=\"post\" action=\"/delist\">"
			"<input type=\"hidden\" name=\"ip\" value=\"");
	web_html_add(b, ip);
	util_buf_printf(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	web_html_add(b, csrf);
	util_buf_printf(b, "\"><button type=\"submit\" id=\"delist\">Request delisting</button>"
			   "</form>\n");
}

void web_page_lookup(struct util_buf *b, const struct web_lookup *l, const char *csrf)
{
	web_page_head(b, l->ip);
	lookup_form(b, l->ip);
	util_buf_printf(b, "<h1 id=\"status\" class=\"%s\">", l->listed ? "listed" : "clean");
	web_html_add(b, l->ip);
	util_buf_printf(b, " is %s</h1>\n", l->listed ? "listed" : "not listed");
	if (!l->found) {
		util_buf_printf(b, "<p>The blocklist has no entry for this address.</p>\n");
		web_page_foot(b);
		return;
	}
	entry_html(b, l);
	if (l->entry.evidence)
		evidence_html(b, &l->ev, l->ev_ok, l->entry.evidence);
	else
		util_buf_printf(b, "<h2>Evidence</h2>\n<p>No scan evidence: the entry was made by "
				   "hand, for the reason above.</p>\n");
	if (l->listed)
		delist_form(b, l->ip, csrf);
	history_html(b, l);
	web_page_foot(b);
}

static const char *delist_headline(const char *status)
{
	static const char *const rows[][2] = {
	    {"delisted", "has been delisted"},
	    {"still-open", "is still an open relay: it stays listed"},
	    {"not-listed", "is not listed"},
	    {"rate-limited", "had a delisting request recently: try again later"},
	    {"untested", "could not be tested: it stays as it was"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!strcmp(status, rows[i][0]))
			return rows[i][1];
	return "?";
}

void web_page_delist(struct util_buf *b, const struct web_delist_view *v)
{
	web_page_head(b, "Delisting request");
	util_buf_printf(b, "<h1 id=\"status\" class=\"%s\">",
			!strcmp(v->status, "still-open") ? "listed" : "clean");
	web_html_add(b, v->ip);
	util_buf_printf(b, " %s</h1>\n<p id=\"detail\">", delist_headline(v->status));
	web_html_add(b, v->detail);
	util_buf_printf(b, "</p>\n");
	if (v->after && v->after->found) { /* with the new evidence when it stays listed */
		util_buf_printf(b, "<h2>The entry now</h2>\n");
		entry_html(b, v->after);
		if (v->after->entry.evidence)
			evidence_html(b, &v->after->ev, v->after->ev_ok, v->after->entry.evidence);
		history_html(b, v->after);
	}
	util_buf_printf(b, "<p><a id=\"again\" href=\"/lookup?ip=");
	web_html_add(b, v->ip); /* canonical IP text: no character needs URL encoding */
	util_buf_printf(b, "\">Look it up again</a></p>\n");
	web_page_foot(b);
}

void web_page_error(struct util_buf *b, const char *title, const char *text)
{
	web_page_head(b, title);
	util_buf_printf(b, "<h1 id=\"error\">");
	web_html_add(b, title);
	util_buf_printf(b, "</h1>\n<p>");
	web_html_add(b, text);
	util_buf_printf(b, "</p>\n<p><a href=\"/\">Back to the lookup</a></p>\n");
	web_page_foot(b);
}
