/* sendmail_msg.c — the pure part of `relayguard sendmail`: address lists and the message
 * rewrite (see sendmail.h). */
#include "sendmail.h"

#include "../util/util.h"

#include <event2/buffer.h>
#include <string.h>
#include <strings.h>

struct addr_scan {
	char buf[1024]; /* the current element without comments; or the <...> part */
	size_t n;
	int angle_done; /* an <addr> was found in this element: it is the address */
};

static int addr_emit(struct addr_scan *a, int (*fn)(void *, const char *, size_t), void *arg,
		     int *count)
{
	size_t start = 0, end = a->n;
	while (start < end && (a->buf[start] == ' ' || a->buf[start] == '\t'))
		start++;
	while (end > start && (a->buf[end - 1] == ' ' || a->buf[end - 1] == '\t'))
		end--;
	a->n = 0;
	a->angle_done = 0;
	if (end == start)
		return 0;
	(*count)++;
	return fn(arg, a->buf + start, end - start);
}

static void addr_put(struct addr_scan *a, char c)
{
	if (!a->angle_done && a->n < sizeof(a->buf))
		a->buf[a->n++] = c;
}

int sendmail_addr_list(const char *s, size_t len,
		       int (*fn)(void *arg, const char *addr, size_t len), void *arg)
{
	struct addr_scan a = {.n = 0};
	int count = 0, quoted = 0, comment = 0, angle = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\r' || c == '\n')
			c = ' ';
		if (comment) {
			comment += c == '(' ? 1 : c == ')' ? -1 : 0;
			i += c == '\\';
		} else if (c == '\\' && (quoted || angle) && i + 1 < len) {
			addr_put(&a, c);
			addr_put(&a, s[++i]);
		} else if (c == '"') {
			quoted = !quoted;
			addr_put(&a, c);
		} else if (quoted) {
			addr_put(&a, c);
		} else if (c == '(') {
			comment = 1;
		} else if (c == '<' && !angle) {
			angle = 1;
			a.n = 0; /* the display name before it is not the address */
		} else if (c == '>' && angle) {
			angle = 0;
			a.angle_done = 1;
		} else if (!angle && c == ':') {
			a.n = 0; /* a group's name */
		} else if (!angle && (c == ',' || c == ';')) {
			if (addr_emit(&a, fn, arg, &count))
				return -1;
		} else {
			addr_put(&a, c);
		}
	}
	return addr_emit(&a, fn, arg, &count) ? -1 : count;
}

/* ---- the message ---- */

struct prep_state {
	const struct sendmail_prep *p;
	struct evbuffer *hdr, *body;
	int in_body, skip_field; /* skip_field: continuation lines of a removed Bcc: */
	int has_from, has_date, has_msgid;
	int rcpt_field;		/* -t: the current field is To/Cc/Bcc */
	struct evbuffer *field; /* -t: the value of that field, continuation lines included */
};

static int field_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* A header field line "Name:" (printable, no space in the name). */
static int is_field_start(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] == ':')
			return i > 0;
		if ((unsigned char)line[i] <= ' ' || (unsigned char)line[i] >= 0x7f)
			return 0;
	}
	return 0;
}

/* The field collected for -t goes to on_rcpt_hdr. */
static int flush_rcpt_field(struct prep_state *st)
{
	if (!st->rcpt_field)
		return 0;
	st->rcpt_field = 0;
	size_t n = evbuffer_get_length(st->field);
	const char *v = (const char *)evbuffer_pullup(st->field, -1);
	int rc = sendmail_addr_list(v ? v : "", n, st->p->on_rcpt_hdr, st->p->arg) < 0 ? -1 : 0;
	evbuffer_drain(st->field, n);
	return rc;
}

/* One line of the header (a field's first line or a continuation). */
static int header_line(struct prep_state *st, const char *line, size_t len)
{
	int cont = line[0] == ' ' || line[0] == '\t';
	const char *value = line;
	if (!cont) {
		if (flush_rcpt_field(st) < 0)
			return -1;
		st->skip_field = field_is(line, len, "Bcc");
		st->has_from |= field_is(line, len, "From");
		st->has_date |= field_is(line, len, "Date");
		st->has_msgid |= field_is(line, len, "Message-ID");
		st->rcpt_field =
		    st->p->on_rcpt_hdr && (field_is(line, len, "To") || field_is(line, len, "Cc") ||
					   field_is(line, len, "Bcc"));
		if (st->rcpt_field)
			value = (const char *)memchr(line, ':', len) + 1;
	}
	if (st->rcpt_field && (evbuffer_add(st->field, value, len - (size_t)(value - line)) < 0 ||
			       evbuffer_add(st->field, " ", 1) < 0))
		return -1;
	if (st->skip_field)
		return 0;
	if (evbuffer_add(st->hdr, line, len) < 0 || evbuffer_add(st->hdr, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* One input line (without its line end). 1 at the end of the message, 0, or -1. */
static int prep_line(struct prep_state *st, const char *line, size_t len)
{
	if (st->p->dot_ends && len == 1 && line[0] == '.')
		return 1;
	if (!st->in_body) {
		int cont = len > 0 && (line[0] == ' ' || line[0] == '\t');
		if (len > 0 && (is_field_start(line, len) ||
				(cont && evbuffer_get_length(st->hdr) + st->skip_field > 0)))
			return header_line(st, line, len);
		st->in_body = 1;
		if (flush_rcpt_field(st) < 0)
			return -1;
		if (len == 0) /* the separator itself */
			return 0;
	}
	if (evbuffer_add(st->body, line, len) < 0 || evbuffer_add(st->body, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* The headers we add, then the header read, the empty line and the body. */
static int prep_assemble(struct prep_state *st, struct evbuffer *out)
{
	const struct sendmail_prep *p = st->p;
	const char *add[3] = {st->has_from ? NULL : p->from_hdr, st->has_date ? NULL : p->date_hdr,
			      st->has_msgid ? NULL : p->msgid_hdr};
	for (int i = 0; i < 3; i++)
		if (add[i] && (evbuffer_add(out, add[i], strlen(add[i])) < 0 ||
			       evbuffer_add(out, "\r\n", 2) < 0))
			return -1;
	if (evbuffer_add_buffer(out, st->hdr) < 0 || evbuffer_add(out, "\r\n", 2) < 0 ||
	    evbuffer_add_buffer(out, st->body) < 0)
		return -1;
	return 0;
}

int sendmail_prepare(const char *in, size_t len, const struct sendmail_prep *p,
		     struct evbuffer *out)
{
	struct prep_state st = {.p = p};
	st.hdr = evbuffer_new();
	st.body = evbuffer_new();
	st.field = evbuffer_new();
	int rc = st.hdr && st.body && st.field ? 0 : -1;
	size_t i = 0;
	while (rc == 0 && i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - in) : len, n = end - i;
		if (n > 0 && in[i + n - 1] == '\r')
			n--;
		rc = prep_line(&st, in + i, n);
		i = end + 1;
	}
	if (rc >= 0 && !st.in_body)
		rc = flush_rcpt_field(&st);
	if (rc >= 0)
		rc = prep_assemble(&st, out);
	if (st.hdr)
		evbuffer_free(st.hdr);
	if (st.body)
		evbuffer_free(st.body);
	if (st.field)
		evbuffer_free(st.field);
	return rc < 0 ? -1 : 0;
}
