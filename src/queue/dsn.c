/* dsn.c — the delivery status notification (RFC 3464, RFC 3461, RFC 3834). Pure.
 * The parts are built first, then a boundary is chosen that occurs in none of them. */
#include "dsn.h"
#include "queue.h"

#include "../util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DSN_VALUE_MAX 900 /* bytes of an untrusted value: a field line stays under 998 */
#define DSN_HOST_MAX 255
#define DSN_FOLD 78 /* fold lines at spaces beyond this column where possible */

/* ---- untrusted text ---- */

/* One line of printable ASCII: CR, LF and TAB become spaces, runs of spaces one space, other
 * bytes '?'; no leading or trailing space; cut to outlen - 1 bytes. */
static const char *dsn_clean(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	for (; s && *s && n + 1 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\r' || c == '\n' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (c == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return out;
}

/* A host name for Message-ID and MAILER-DAEMON@: letters, digits, '-' and '.' only. */
static const char *dsn_host(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	for (; s && *s && n + 1 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '.';
		out[n++] = ok ? (char)c : '-';
	}
	out[n] = '\0';
	return n ? out : "localhost";
}

static int dsn_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* prefix, then the words of a cleaned value, breaking lines at spaces after DSN_FOLD columns;
 * a continuation line starts with cont (" " folds a header field). Ends with CRLF. */
static void put_folded(struct util_buf *b, const char *prefix, const char *value, const char *cont)
{
	size_t col = strlen(prefix), first = 1;
	util_buf_add(b, prefix, col);
	while (*value) {
		size_t w = strcspn(value, " ");
		if (!first && col + 1 + w > DSN_FOLD) {
			util_buf_printf(b, "\r\n%s", cont);
			col = strlen(cont);
		} else if (!first) {
			util_buf_add(b, " ", 1);
			col++;
		}
		util_buf_add(b, value, w);
		col += w;
		first = 0;
		value += w + (value[w] == ' ');
	}
	util_buf_add(b, "\r\n", 2);
}

/* A field of the delivery-status part from untrusted text: "Name: cleaned value", folded;
 * left out when nothing is left of the value. */
static void put_field(struct util_buf *b, const char *name, const char *fmt_prefix,
		      const char *value)
{
	char clean[DSN_VALUE_MAX + 1], prefix[128];
	if (!*dsn_clean(value, clean, sizeof(clean)))
		return; /* nothing left: an optional field is left out */
	snprintf(prefix, sizeof(prefix), "%s: %s", name, fmt_prefix);
	put_folded(b, prefix, clean, " ");
}

/* One UTF-8 sequence at s: its code point (U+FFFD when malformed) and length (>= 1). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
	uint32_t v = s[0] & (0x3f >> (n - 1));
	*cp = s[0] < 0x80 ? s[0] : 0xfffd;
	if (n == 1)
		return 1;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1; /* also stops at the NUL */
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/* RFC 6533 utf-8-addr-xtext: printable ASCII other than '+', '=' and '\' stands for itself,
 * every other code point is \x{HEX}. */
static const char *utf8_addr_xtext(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)s;
	out[0] = '\0';
	while (*p) {
		uint32_t cp;
		char unit[16];
		p += utf8_next(p, &cp);
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' && cp != '\\')
			snprintf(unit, sizeof(unit), "%c", (char)cp);
		else
			snprintf(unit, sizeof(unit), "\\x{%02" PRIX32 "}", cp);
		size_t u = strlen(unit);
		if (n + u + 1 > outlen)
			break;
		memcpy(out + n, unit, u + 1);
		n += u;
	}
	return out;
}

/* "Name: rfc822; addr" for a printable ASCII address, else "Name: utf-8; utf-8-addr-xtext". */
static void put_address(struct util_buf *b, const char *name, const char *addr)
{
	char enc[DSN_VALUE_MAX + 1];
	if (dsn_printable(addr))
		put_field(b, name, "rfc822; ", addr);
	else
		put_field(b, name, "utf-8; ", utf8_addr_xtext(addr, enc, sizeof(enc)));
}

/* xtext decoded when that gives printable ASCII; else the xtext itself (ASCII already). */
static const char *xtext_show(const char *x, char *out, size_t outlen)
{
	if (util_xtext_decode(x, strlen(x), out, outlen) >= 0 && dsn_printable(out))
		return out;
	return x;
}

/* ORCPT "addr-type;xtext" → "Original-Recipient: addr-type; decoded". */
static void put_orcpt(struct util_buf *b, const char *orcpt)
{
	char type[64], dec[DSN_VALUE_MAX + 1], prefix[80];
	const char *semi = strchr(orcpt, ';');
	if (!semi || semi == orcpt || (size_t)(semi - orcpt) >= sizeof(type)) {
		put_field(b, "Original-Recipient", "unknown; ", orcpt);
		return;
	}
	snprintf(type, sizeof(type), "%.*s", (int)(semi - orcpt), orcpt);
	snprintf(prefix, sizeof(prefix), "%s; ", dsn_clean(type, dec, sizeof(dec)));
	put_field(b, "Original-Recipient", prefix, xtext_show(semi + 1, dec, sizeof(dec)));
}

/* ---- dates, codes, kinds ---- */

/* RFC 5322 date-time in UTC: "Tue, 14 Nov 2023 22:13:20 +0000". */
static const char *dsn_date(int64_t t, char *buf, size_t len)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	snprintf(buf, len, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

/* Length of an RFC 3463 code "class.subject.detail" at s (class 2, 4 or 5; subject and detail
 * 1 to 3 digits) ended by NUL or space, or 0. */
static size_t status_len(const char *s)
{
	size_t i = 1;
	if (!s || (s[0] != '2' && s[0] != '4' && s[0] != '5'))
		return 0;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		if (s[i++] != '.')
			return 0;
		while (d < 4 && s[i] >= '0' && s[i] <= '9')
			i++, d++;
		if (d == 0 || d > 3)
			return 0;
	}
	return s[i] == '\0' || s[i] == ' ' ? i : 0;
}

/* Does the text look like an SMTP reply ("550 …", "451-…", "421")? */
static int is_smtp_reply(const char *d)
{
	return d && d[0] >= '2' && d[0] <= '5' && d[1] >= '0' && d[1] <= '9' && d[2] >= '0' &&
	       d[2] <= '9' && (d[3] == '\0' || d[3] == ' ' || d[3] == '-');
}

static void rcpt_status(const struct dsn_rcpt *rc, char *out, size_t outlen)
{
	const char *s = rc->status;
	size_t n = status_len(s);
	if (!n && is_smtp_reply(rc->diagnostic) && rc->diagnostic[3]) {
		s = rc->diagnostic + 4;
		n = status_len(s);
	}
	if (!n) {
		s = rc->action == DSN_FAILED	? "5.0.0"
		    : rc->action == DSN_DELAYED ? "4.0.0"
						: "2.0.0";
		n = 5;
	}
	snprintf(out, outlen, "%.*s", (int)n, s);
}

enum dsn_kind { KIND_FAILED, KIND_DELAYED, KIND_SUCCESS };

static enum dsn_kind kind_of(enum dsn_action a)
{
	return a == DSN_FAILED ? KIND_FAILED : a == DSN_DELAYED ? KIND_DELAYED : KIND_SUCCESS;
}

static const char *action_name(enum dsn_action a)
{
	static const char *const names[] = {"failed", "delayed", "delivered", "relayed",
					    "expanded"};
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "failed";
}

int dsn_wanted(unsigned notify, enum dsn_action action)
{
	unsigned bit = action == DSN_FAILED    ? SPOOL_NOTIFY_FAILURE
		       : action == DSN_DELAYED ? SPOOL_NOTIFY_DELAY
					       : SPOOL_NOTIFY_SUCCESS;
	if (notify & SPOOL_NOTIFY_NEVER)
		return 0;
	if (notify)
		return (notify & bit) != 0;
	return action == DSN_FAILED || action == DSN_DELAYED;
}

size_t dsn_header_len(const char *msg, size_t len)
{
	size_t i = 0;
	while (i < len) { /* i is at the start of a line */
		if (msg[i] == '\n')
			return i + 1;
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
			return i + 2;
		const char *lf = memchr(msg + i, '\n', len - i);
		if (!lf)
			break;
		i = (size_t)(lf - msg) + 1;
	}
	return len;
}

/* ---- the three parts ---- */

static const char *const subjects[] = {
    [KIND_FAILED] = "Undelivered Mail Returned to Sender",
    [KIND_DELAYED] = "Delayed Mail (still being retried)",
    [KIND_SUCCESS] = "Successful Mail Delivery Report",
};

static const char *const intros[] = {
    [KIND_FAILED] = "Your message could not be delivered to one or more recipients. The mail "
		    "system has given up on them; the reasons are below.",
    [KIND_DELAYED] = "Your message could not be delivered yet to one or more recipients. The "
		     "mail system keeps trying; you do not need to send it again.",
    [KIND_SUCCESS] = "Your message was delivered to the recipients below. A relayed message "
		     "went on to a system that may send no further notice.",
};

/* "<addr>: host H said: DIAG (will retry until D)", cleaned, into out. */
static const char *text_line(const struct dsn_rcpt *rc, char *out, size_t outlen)
{
	char addr[DSN_VALUE_MAX + 1], host[DSN_HOST_MAX + 1], diag[DSN_VALUE_MAX + 1], st[16],
	    date[64], line[2 * DSN_VALUE_MAX + 512], until[96] = "";
	static const char *const plain[] = {"delivery failed", "delivery delayed", "delivered",
					    "relayed", "expanded"};
	dsn_clean(rc->addr, addr, sizeof(addr));
	dsn_clean(rc->remote_mta, host, sizeof(host));
	dsn_clean(rc->diagnostic, diag, sizeof(diag));
	rcpt_status(rc, st, sizeof(st));
	if (rc->action == DSN_DELAYED && rc->retry_until)
		snprintf(until, sizeof(until), " (will retry until %s)",
			 dsn_date(rc->retry_until, date, sizeof(date)));
	if (diag[0])
		snprintf(line, sizeof(line), "<%s>: %s%s%s%s%s", addr, host[0] ? "host " : "", host,
			 host[0] ? " said: " : "", diag, until);
	else
		snprintf(line, sizeof(line), "<%s>: %s%s%s (status %s)%s", addr, plain[rc->action],
			 host[0] ? " by host " : "", host, st, until);
	return dsn_clean(line, out, outlen);
}

static void put_text(struct util_buf *b, const struct dsn_report *r, enum dsn_kind k,
		     const char *host, const char *qid)
{
	char line[DSN_VALUE_MAX + 1];
	util_buf_printf(b, "This is the mail system at host %s.\r\n\r\n", host);
	put_folded(b, "", intros[k], "");
	if (r->original)
		util_buf_printf(b, "\r\n%s\r\n",
				r->headers_only ? "The header of your message is attached below."
						: "Your message is attached below.");
	util_buf_add(b, "\r\n", 2);
	for (size_t i = 0; i < r->n_rcpts; i++)
		put_folded(b, "", text_line(&r->rcpts[i], line, sizeof(line)), "    ");
	util_buf_printf(b, "\r\nQueue ID of the message: %s\r\n", qid);
}

static void put_rcpt_fields(struct util_buf *b, const struct dsn_rcpt *rc)
{
	char st[16], date[64];
	if (rc->orcpt && *rc->orcpt)
		put_orcpt(b, rc->orcpt);
	put_address(b, "Final-Recipient", rc->addr);
	util_buf_printf(b, "Action: %s\r\n", action_name(rc->action));
	rcpt_status(rc, st, sizeof(st));
	util_buf_printf(b, "Status: %s\r\n", st);
	if (rc->remote_mta)
		put_field(b, "Remote-MTA", "dns; ", rc->remote_mta);
	if (rc->diagnostic)
		put_field(b, "Diagnostic-Code",
			  is_smtp_reply(rc->diagnostic) ? "smtp; " : "X-Relayguard; ",
			  rc->diagnostic);
	if (rc->last_attempt)
		util_buf_printf(b, "Last-Attempt-Date: %s\r\n",
				dsn_date(rc->last_attempt, date, sizeof(date)));
	if (rc->action == DSN_DELAYED && rc->retry_until)
		util_buf_printf(b, "Will-Retry-Until: %s\r\n",
				dsn_date(rc->retry_until, date, sizeof(date)));
}

/* message/delivery-status: the per-message fields, then one block per recipient. */
static void put_status(struct util_buf *b, const struct dsn_report *r, const char *qid)
{
	char x[DSN_VALUE_MAX + 1], date[64];
	put_field(b, "Reporting-MTA", "dns; ", r->reporting_mta);
	util_buf_printf(b, "X-Relayguard-Queue-ID: %s\r\n", qid);
	if (r->envid && *r->envid)
		put_field(b, "Original-Envelope-Id", "", xtext_show(r->envid, x, sizeof(x)));
	if (r->arrival)
		util_buf_printf(b, "Arrival-Date: %s\r\n",
				dsn_date(r->arrival, date, sizeof(date)));
	for (size_t i = 0; i < r->n_rcpts; i++) {
		util_buf_add(b, "\r\n", 2);
		put_rcpt_fields(b, &r->rcpts[i]);
	}
}

/* ---- the message ---- */

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/* A boundary found in no part. Candidates have one length, so the k-th occurrence in the
 * parts needs its own start position: among total + 1 candidates one is absent. The hash of
 * the content makes the first one absent unless someone solved for it. */
static int choose_boundary(const char *qid, const char *const *part, const size_t *len, size_t n,
			   char *out, size_t outlen)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		h = fnv1a(h, part[i], len[i]), total += len[i];
	for (uint64_t k = 0; k <= total && k <= 0xffffffffu; k++) {
		size_t i = 0;
		snprintf(out, outlen, "=_rg.%s.%016" PRIx64 ".%08" PRIx64, qid, h, k);
		while (i < n && !memmem(part[i], len[i], out, strlen(out)))
			i++;
		if (i == n)
			return 0;
	}
	return -EINVAL;
}

static void put_header(struct util_buf *b, const struct dsn_report *r, enum dsn_kind k,
		       const char *host, const char *qid, const char *boundary, int eight)
{
	static const char *const tags[] = {"failed", "delayed", "delivered"};
	char date[64], to[DSN_VALUE_MAX + 1];
	util_buf_printf(b, "From: \"Mail Delivery System\" <MAILER-DAEMON@%s>\r\n", host);
	if (dsn_printable(r->sender) && strlen(r->sender) < sizeof(to))
		util_buf_printf(b, "To: <%s>\r\n", dsn_clean(r->sender, to, sizeof(to)));
	else /* a UTF-8 sender: the header stays 7-bit; the envelope carries the address */
		util_buf_printf(b, "To: undisclosed-recipients:;\r\n");
	util_buf_printf(b, "Subject: %s\r\n", subjects[k]);
	util_buf_printf(b, "Date: %s\r\n", dsn_date(r->now, date, sizeof(date)));
	util_buf_printf(b, "Message-ID: <%s.%" PRId64 ".%s@%s>\r\n", qid, r->now, tags[k], host);
	util_buf_printf(b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n");
	util_buf_printf(b,
			"Content-Type: multipart/report; report-type=delivery-status;\r\n"
			"\tboundary=\"%s\"\r\n",
			boundary);
	util_buf_printf(b, "Content-Transfer-Encoding: %s\r\n\r\n", eight ? "8bit" : "7bit");
	util_buf_printf(b, "This is a MIME-encapsulated message.\r\n\r\n");
}

static void put_part(struct util_buf *b, const char *boundary, const char *desc, const char *type,
		     int eight, const char *body, size_t len)
{
	util_buf_printf(b, "--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n", boundary,
			desc, type);
	if (eight)
		util_buf_printf(b, "Content-Transfer-Encoding: 8bit\r\n");
	util_buf_add(b, "\r\n", 2);
	util_buf_add(b, body, len);
	if (len > 0 && body[len - 1] != '\n')
		util_buf_add(b, "\r\n", 2);
	util_buf_add(b, "\r\n", 2); /* this CRLF belongs to the next boundary line */
}

static int report_valid(const struct dsn_report *r)
{
	char clean[DSN_HOST_MAX + 1];
	if (!r || !r->sender || !*r->sender || !r->rcpts || r->n_rcpts == 0 ||
	    !*dsn_clean(r->reporting_mta, clean, sizeof(clean)))
		return 0;
	for (size_t i = 0; i < r->n_rcpts; i++) {
		const struct dsn_rcpt *rc = &r->rcpts[i];
		if ((unsigned)rc->action > DSN_EXPANDED || !rc->addr ||
		    kind_of(rc->action) != kind_of(r->rcpts[0].action) ||
		    !*dsn_clean(rc->addr, clean, sizeof(clean)))
			return 0;
	}
	return 1;
}

/* The queue ID as letters and digits only (it goes into Message-ID and the boundary). */
static const char *dsn_qid(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	for (; s && *s && n + 1 < outlen; s++)
		if ((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= 'a' && *s <= 'z'))
			out[n++] = *s;
	out[n] = '\0';
	return n ? out : "0";
}

int dsn_format(const struct dsn_report *r, char **out, size_t *outlen)
{
	static const char *const desc[][2] = {
	    [KIND_FAILED] = {"Undelivered Message", "Undelivered Message Headers"},
	    [KIND_DELAYED] = {"Delayed Message", "Delayed Message Headers"},
	    [KIND_SUCCESS] = {"Delivered Message", "Delivered Message Headers"},
	};
	struct util_buf text = {0}, ds = {0}, msg = {0};
	char host[DSN_HOST_MAX + 1], qid[33], boundary[96];
	if (!report_valid(r))
		return -EINVAL;
	enum dsn_kind k = kind_of(r->rcpts[0].action);
	size_t olen = !r->original	? 0
		      : r->headers_only ? dsn_header_len(r->original, r->original_len)
					: r->original_len;
	int eight = 0;
	for (size_t i = 0; i < olen && !eight; i++)
		eight = (unsigned char)r->original[i] >= 0x80;
	dsn_host(r->reporting_mta, host, sizeof(host));
	dsn_qid(r->qid, qid, sizeof(qid));
	put_text(&text, r, k, host, qid);
	put_status(&ds, r, qid);
	const char *parts[] = {text.p, ds.p, r->original};
	size_t lens[] = {text.len, ds.len, olen};
	int rc = text.err ? text.err : ds.err;
	if (!rc)
		rc = choose_boundary(qid, parts, lens, r->original ? 3 : 2, boundary,
				     sizeof(boundary));
	if (!rc) {
		put_header(&msg, r, k, host, qid, boundary, eight);
		put_part(&msg, boundary, "Notification", "text/plain; charset=us-ascii", 0, text.p,
			 text.len);
		put_part(&msg, boundary, "Delivery report", "message/delivery-status", 0, ds.p,
			 ds.len);
		if (r->original)
			put_part(&msg, boundary, desc[k][r->headers_only ? 1 : 0],
				 r->headers_only ? "text/rfc822-headers" : "message/rfc822", eight,
				 r->original, olen);
		util_buf_printf(&msg, "--%s--\r\n", boundary);
		rc = msg.err;
	}
	free(text.p);
	free(ds.p);
	if (rc) {
		free(msg.p);
		return rc;
	}
	*out = msg.p;
	*outlen = msg.len;
	return 0;
}
