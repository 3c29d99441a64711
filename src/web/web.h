/* web.h — the blocklist's web page and JSON API (`relayguard web`): lookup of an address
 * (listed or not, since when, the evidence, the history), a delisting request that runs a
 * rescan, and a page on closing an open relay. HTTP is libmicrohttpd's; everything that turns
 * data into bytes (HTML escaping, pages, JSON, the CSRF token, the JSON reader) is pure. */
#ifndef RG_WEB_H
#define RG_WEB_H

#include "../blocklist/blocklist.h"
#include "../util/util.h"

#include <stddef.h>
#include <stdint.h>

#define WEB_IP_MAX 46		  /* INET6_ADDRSTRLEN */
#define WEB_IP_INPUT_MAX 64	  /* longest ip= value looked at */
#define WEB_CSRF_SECRET_LEN 32	  /* bytes of the per-process secret */
#define WEB_CSRF_SLOT 1800	  /* seconds per slot; a token is good in its slot and the next */
#define WEB_CSRF_TOKEN_MAX 96	  /* "SLOT.HEX64" + NUL */
#define WEB_HISTORY_MAX 100	  /* changes shown: the latest ones */
#define WEB_EVIDENCE_TESTS_MAX 64 /* tests of one evidence kept */
#define WEB_JSON_MAX (1 << 20)	  /* bytes of JSON read at most (evidence, API bodies) */
#define WEB_JSON_DEPTH_MAX 32	  /* nesting of a JSON document read, the top object included */

/* ---- escaping (pure) ---- */
/* s[0..len) as HTML text or attribute value: & < > " ' as entities; control characters
 * other than TAB, LF and CR as "\xNN"; bytes that are not UTF-8 as U+FFFD. The one escaper
 * of every page. */
void web_html_escape(struct util_buf *b, const char *s, size_t len);
/* web_html_escape of a NUL-terminated string (NULL: nothing). */
void web_html_add(struct util_buf *b, const char *s);

/* ---- request values (pure) ---- */
/* An IP address as a user types it (IPv4 dotted quad or IPv6 text; surrounding spaces
 * ignored; no prefix, no zone): 0 with addr (16-byte mapped form) and the canonical text in
 * out (WEB_IP_MAX), or -1. */
int web_parse_ip(const char *in, uint8_t addr[16], char out[WEB_IP_MAX]);
/* The value of name in an application/x-www-form-urlencoded body[0..len) ('+' and %XX
 * decoded), first occurrence: 1 found (out NUL-terminated), 0 absent, -1 malformed or longer
 * than outlen-1. */
int web_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen);

/* ---- the CSRF token of the delisting form (pure) ---- */
/* "SLOT.HMAC": SLOT = now / WEB_CSRF_SLOT, HMAC-SHA256(secret, SLOT) in hex. */
void web_csrf_make(const uint8_t secret[WEB_CSRF_SECRET_LEN], int64_t now,
		   char out[WEB_CSRF_TOKEN_MAX]);
/* 1 when token was made with secret in the current slot or the one before (constant-time
 * compare), else 0 (missing, malformed, expired, from the future, tampered). */
int web_csrf_check(const uint8_t secret[WEB_CSRF_SECRET_LEN], int64_t now, const char *token);

/* ---- reading JSON (pure; jansson) ---- */
/* Every reader below takes json[0..len) only when it is one JSON object (RFC 8259, UTF-8) with
 * nothing after it but white space, at most WEB_JSON_MAX bytes, nested at most
 * WEB_JSON_DEPTH_MAX, no member repeated in any object and no NUL (\u0000) in any string. */
/* A scan's evidence as the store writes it: {"tests":[..],"depth":N,"transcript":"..",
 * "time":T,"scanner":".."}; other members are skipped, missing ones stay empty/0. */
struct web_evidence {
	char *tests[WEB_EVIDENCE_TESTS_MAX];
	size_t n_tests, n_tests_total; /* kept, and how many the JSON held */
	unsigned depth;
	int64_t time;
	char *transcript, *scanner; /* NULL when absent */
};
/* 0, or -1 when json[0..len) is not such an object or a known member has the wrong type
 * (depth: an integer 0..65535; time: an integer >= 0). ev is cleared first; call
 * web_evidence_clear either way. */
int web_evidence_parse(const char *json, size_t len, struct web_evidence *ev);
void web_evidence_clear(struct web_evidence *ev);
/* The string member key of the JSON object json[0..len): 1 found (decoded into out), 0 absent,
 * -1 not a JSON object, not a string, or longer than outlen-1. */
int web_json_get_string(const char *json, size_t len, const char *key, char *out, size_t outlen);
/* Is json[0..len) exactly one such JSON object? 1 or 0. */
int web_json_is_object(const char *json, size_t len);

/* ---- what a lookup found (filled from the store by web_lookup_load) ---- */
struct web_lookup {
	char ip[WEB_IP_MAX];
	int found;  /* entry holds the listed entry, or the host's own past entry */
	int listed; /* entry is in state listed */
	struct blocklist_entry entry;
	struct web_evidence ev;
	int ev_ok;			  /* entry.evidence parsed into ev */
	struct blocklist_change *history; /* oldest first, the latest WEB_HISTORY_MAX */
	size_t n_history, n_history_total;
};
/* Look addr up: 0 (l filled; web_lookup_clear), or -1 when the store could not be read. */
int web_lookup_load(struct blocklist *b, const uint8_t addr[16], const char *ip,
		    struct web_lookup *l);
void web_lookup_clear(struct web_lookup *l);

/* The outcome of a delisting request, as shown (all borrowed). */
struct web_delist_view {
	const char *ip;
	const char *status;		/* "delisted", "still-open", "not-listed", "rate-limited",
					   "untested" (scan_delist_status_name) */
	const char *detail;		/* one line from the rescan */
	const char *scan;		/* the rescan's result (JSON from the scanner), or NULL */
	const struct web_lookup *after; /* the entry as the rescan left it, or NULL */
};

/* ---- pages and JSON documents (pure; each appends a whole document to b) ---- */
/* The style sheet every page inlines (the CSP allows exactly it, by its hash). */
const char *web_page_css(void);
void web_page_index(struct util_buf *b);
void web_page_lookup(struct util_buf *b, const struct web_lookup *l, const char *csrf);
void web_page_delist(struct util_buf *b, const struct web_delist_view *v);
void web_page_howto(struct util_buf *b);
/* An error page: title and one line of text (both escaped). */
void web_page_error(struct util_buf *b, const char *title, const char *text);
void web_json_lookup(struct util_buf *b, const struct web_lookup *l);
void web_json_delist(struct util_buf *b, const struct web_delist_view *v);
void web_json_error(struct util_buf *b, const char *text);

/* ---- the command ---- */
int web_cli(int argc, char **argv, const char *default_conf);

#endif
