/* addr.c — RFC 5321 4.1.2 Path parser: one bounded pass finds the end of the path and rejects
 * bad bytes, then a small recursive-descent parser reads route, local part and domain.
 *
 * Decisions that the grammar alone does not settle:
 * - Length limits (4.5.3.1) are counted on the octets as received: the path from '<' to '>'
 *   inclusive, source route included (it is part of the Path); the local part with its quotes and
 *   backslashes; the domain without the one trailing dot we drop.
 * - The first offending byte decides the error: a control character is a syntax error, a
 *   non-ASCII byte without SMTPUTF8 is ADDR_ERR_8BIT, malformed UTF-8 is a syntax error.
 * - Spaces are legal only inside a quoted local part (qtextSMTP includes %d32).
 * - A source route may name address literals ("@[192.0.2.1]:u@d"), as relay testers send; each
 *   hop is validated like a domain and then dropped. A route must end in a qualified mailbox.
 * - An empty quoted local part ("\"\"@x") is refused: it would reach the policy as "". */
#include "addr.h"
#include "../util/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The part of the input between '<' and '>' still to be parsed. */
struct cursor {
	const char *s;
	size_t pos, end; /* end indexes the closing '>' */
};

/* RFC 5322 3.2.3 atext, less the UTF-8 extension of RFC 6531 (handled by the callers). */
static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table), or 0. C1 controls
 * (U+0080..U+009F) are refused too: they are as invisible in logs as ASCII controls. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, overlong C0/C1 lead, or beyond U+10FFFF */
	if (p[0] == 0xc2 || p[0] == 0xe0)
		lo = 0xa0; /* C1 controls; overlong 3-byte forms */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong 4-byte forms */
	else if (p[0] == 0xed)
		hi = 0x9f; /* UTF-16 surrogates */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* beyond U+10FFFF */
	if (n > avail || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Classify the character at p; on ADDR_OK *clen is its length in bytes. */
static enum addr_status check_char(const unsigned char *p, size_t avail, int smtputf8, size_t *clen)
{
	*clen = 1;
	if (*p < 0x20 || *p == 0x7f)
		return ADDR_ERR_SYNTAX;
	if (*p < 0x80)
		return ADDR_OK;
	if (!smtputf8)
		return ADDR_ERR_8BIT;
	*clen = utf8_len(p, avail);
	return *clen ? ADDR_OK : ADDR_ERR_SYNTAX;
}

/* Find the '>' that closes the path, looking at no more than ADDR_PATH_MAX bytes. Quotes are
 * tracked so that '>' inside a quoted local part does not end the path; where this scan and the
 * grammar could disagree, the grammar rejects the path anyway. */
static enum addr_status find_path_end(const char *s, size_t len, int smtputf8, size_t *end)
{
	size_t limit = len < ADDR_PATH_MAX ? len : ADDR_PATH_MAX, n;
	int quoted = 0, escaped = 0;
	if (len == 0 || s[0] != '<')
		return ADDR_ERR_SYNTAX;
	for (size_t i = 1; i < limit; i += n) {
		const unsigned char *p = (const unsigned char *)s + i;
		enum addr_status st = check_char(p, len - i, smtputf8, &n);
		if (st != ADDR_OK)
			return st;
		if (escaped)
			escaped = 0;
		else if (quoted && *p == '\\')
			escaped = 1;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == ' ')
			return ADDR_ERR_SYNTAX;
		else if (!quoted && *p == '>') {
			*end = i;
			return ADDR_OK;
		}
	}
	return len > ADDR_PATH_MAX ? ADDR_ERR_TOO_LONG : ADDR_ERR_SYNTAX;
}

static int has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3), stored in canonical text and as
 * 16 bytes, so that the policy compares addresses, not spellings. */
static enum addr_status parse_literal(const char *tok, size_t n, struct addr_path *a)
{
	char in[64], txt[INET6_ADDRSTRLEN];
	struct in_addr v4;
	if (n < 3 || tok[n - 1] != ']' || n - 2 >= sizeof(in))
		return ADDR_ERR_DOMAIN;
	memcpy(in, tok + 1, n - 2);
	in[n - 2] = '\0';
	if (strncasecmp(in, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, in + 5, a->literal_addr) != 1)
			return ADDR_ERR_DOMAIN;
		inet_ntop(AF_INET6, a->literal_addr, txt, sizeof(txt));
		snprintf(a->domain, sizeof(a->domain), "[IPv6:%s]", txt);
	} else {
		/* Anything else with a tag is a General-address-literal we do not route to. */
		if (inet_pton(AF_INET, in, &v4) != 1)
			return ADDR_ERR_DOMAIN;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		memcpy(a->literal_addr, mapped, sizeof(mapped));
		memcpy(a->literal_addr + 12, &v4, 4);
		inet_ntop(AF_INET, &v4, txt, sizeof(txt));
		snprintf(a->domain, sizeof(a->domain), "[%s]", txt);
	}
	a->literal = 1;
	return ADDR_OK;
}

/* A domain or address literal, as it appears after '@' in a mailbox or a route hop. */
static enum addr_status parse_domain(const char *tok, size_t n, struct addr_path *a)
{
	char tmp[ADDR_DOMAIN_MAX + 1];
	if (n == 0)
		return ADDR_ERR_SYNTAX;
	if (memchr(tok, '@', n))
		return ADDR_ERR_SYNTAX; /* "a@b@c": a second separator, not a strange domain */
	if (tok[0] == '[')
		return parse_literal(tok, n, a);
	if (tok[n - 1] == '.') {
		a->trailing_dot = 1;
		n--;
	}
	/* util_domain_normalise would drop a second trailing dot ("x.."), so refuse it here. */
	if (n == 0 || tok[n - 1] == '.')
		return ADDR_ERR_DOMAIN;
	if (n > ADDR_DOMAIN_MAX)
		return ADDR_ERR_TOO_LONG;
	memcpy(tmp, tok, n);
	tmp[n] = '\0';
	if (has_8bit(tmp, n))
		a->utf8 = 1;
	if (util_domain_normalise(tmp, a->domain, sizeof(a->domain)) < 0)
		return ADDR_ERR_DOMAIN;
	return ADDR_OK;
}

/* Advance over a domain token: a literal ends at its ']' (IPv6 literals hold ':'), a name at
 * ',' or ':' inside a route, at the end of the path otherwise. */
static void take_domain(struct cursor *c, int in_route)
{
	const char *rb;
	if (c->pos < c->end && c->s[c->pos] == '[' &&
	    (rb = memchr(c->s + c->pos, ']', c->end - c->pos)) != NULL) {
		c->pos = (size_t)(rb - c->s) + 1;
		return;
	}
	while (c->pos < c->end && !(in_route && (c->s[c->pos] == ',' || c->s[c->pos] == ':')))
		c->pos++;
}

/* A-d-l ":" (RFC 5321 4.1.2), validated and then forgotten (RFC 5321 Appendix C). */
static enum addr_status parse_route(struct cursor *c)
{
	for (;;) {
		struct addr_path hop = {0};
		if (c->pos >= c->end || c->s[c->pos] != '@')
			return ADDR_ERR_SYNTAX;
		size_t start = ++c->pos;
		take_domain(c, 1);
		enum addr_status st = parse_domain(c->s + start, c->pos - start, &hop);
		if (st != ADDR_OK)
			return st;
		if (c->pos >= c->end || (c->s[c->pos] != ',' && c->s[c->pos] != ':'))
			return ADDR_ERR_SYNTAX;
		if (c->s[c->pos++] == ':')
			return ADDR_OK;
	}
}

/* Quoted-string (qtextSMTP / quoted-pairSMTP, RFC 6531 UTF-8), unquoted into out. The bytes
 * are already known to be printable ASCII or well-formed UTF-8. */
static enum addr_status parse_quoted(struct cursor *c, char *out, size_t outlen)
{
	size_t o = 0;
	for (c->pos++; c->pos < c->end;) {
		unsigned char ch = (unsigned char)c->s[c->pos++];
		if (ch == '"') {
			out[o] = '\0';
			return o ? ADDR_OK : ADDR_ERR_SYNTAX;
		}
		if (ch == '\\') {
			if (c->pos >= c->end)
				return ADDR_ERR_SYNTAX;
			ch = (unsigned char)c->s[c->pos++];
			if (ch < 0x20 || ch > 0x7e)
				return ADDR_ERR_SYNTAX; /* quoted-pairSMTP is ASCII only */
		}
		if (o + 1 >= outlen)
			return ADDR_ERR_TOO_LONG;
		out[o++] = (char)ch;
	}
	return ADDR_ERR_SYNTAX; /* unterminated */
}

/* Dot-string: atoms of atext (or UTF-8) separated by single dots. */
static enum addr_status parse_dot_string(struct cursor *c, char *out, size_t outlen)
{
	size_t start = c->pos, n;
	while (c->pos < c->end && c->s[c->pos] != '@') {
		unsigned char ch = (unsigned char)c->s[c->pos];
		if (ch != '.' && ch < 0x80 && !is_atext(ch))
			return ADDR_ERR_SYNTAX;
		c->pos++;
	}
	n = c->pos - start;
	if (n == 0 || c->s[start] == '.' || c->s[c->pos - 1] == '.')
		return ADDR_ERR_SYNTAX;
	for (size_t i = start + 1; i < c->pos; i++)
		if (c->s[i] == '.' && c->s[i - 1] == '.')
			return ADDR_ERR_SYNTAX;
	if (n >= outlen)
		return ADDR_ERR_TOO_LONG;
	memcpy(out, c->s + start, n);
	out[n] = '\0';
	return ADDR_OK;
}

static enum addr_status parse_local(struct cursor *c, struct addr_path *a)
{
	size_t start = c->pos;
	enum addr_status st;
	if (c->pos < c->end && c->s[c->pos] == '"') {
		a->quoted = 1;
		st = parse_quoted(c, a->local, sizeof(a->local));
	} else {
		st = parse_dot_string(c, a->local, sizeof(a->local));
	}
	if (st != ADDR_OK)
		return st;
	if (c->pos - start > ADDR_LOCAL_MAX)
		return ADDR_ERR_TOO_LONG;
	/* The forms relay testers use to smuggle a second destination past the domain check. */
	a->routing = strpbrk(a->local, "%!@") != NULL;
	a->utf8 |= has_8bit(c->s + start, c->pos - start);
	return ADDR_OK;
}

/* [ A-d-l ":" ] Mailbox, or a bare local part ("<postmaster>"). */
static enum addr_status parse_mailbox(struct cursor *c, struct addr_path *a)
{
	enum addr_status st;
	if (c->s[c->pos] == '@') {
		a->source_route = 1;
		if ((st = parse_route(c)) != ADDR_OK)
			return st;
	}
	if ((st = parse_local(c, a)) != ADDR_OK)
		return st;
	if (c->pos == c->end) {
		a->unqualified = 1;
		return a->source_route ? ADDR_ERR_SYNTAX : ADDR_OK;
	}
	if (c->s[c->pos] != '@')
		return ADDR_ERR_SYNTAX;
	size_t start = ++c->pos;
	take_domain(c, 0);
	if (c->pos != c->end)
		return ADDR_ERR_SYNTAX; /* "a@[192.0.2.1]x", "a@[192.0.2.1]@b" */
	return parse_domain(c->s + start, c->pos - start, a);
}

enum addr_status addr_parse_path(const char *s, size_t len, int smtputf8, struct addr_path *out,
				 size_t *consumed)
{
	struct addr_path a = {0};
	struct cursor c = {s, 1, 0};
	enum addr_status st = find_path_end(s, len, smtputf8, &c.end);
	if (st == ADDR_OK) {
		if (c.end == 1)
			a.null = 1;
		else
			st = parse_mailbox(&c, &a);
	}
	/* Callers never see half a parse. */
	if (st != ADDR_OK)
		memset(&a, 0, sizeof(a));
	*out = a;
	if (consumed)
		*consumed = st == ADDR_OK ? c.end + 1 : 0;
	return st;
}

/* A bounded writer: keeps what fits, always leaves room for the NUL. */
struct wbuf {
	char *p;
	size_t len, n;
	int truncated;
};

static void put(struct wbuf *w, char ch)
{
	if (w->n + 1 < w->len)
		w->p[w->n++] = ch;
	else
		w->truncated = 1;
}

static void put_str(struct wbuf *w, const char *s)
{
	while (*s)
		put(w, *s++);
}

/* Terminate; after truncation drop a partial UTF-8 sequence, so the text stays valid. */
static void finish(struct wbuf *w)
{
	if (w->truncated && w->n > 0) {
		size_t i = w->n, cont = 0;
		while (i > 0 && ((unsigned char)w->p[i - 1] & 0xc0) == 0x80 && cont < 3) {
			i--;
			cont++;
		}
		unsigned char lead = i > 0 ? (unsigned char)w->p[i - 1] : 0;
		size_t want = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : cont;
		if (want > cont)
			w->n = i - 1;
	}
	w->p[w->n] = '\0';
}

static int is_dot_string(const char *s)
{
	if (*s == '\0' || *s == '.')
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '.' ? p[1] == '\0' || p[1] == '.' : ch < 0x80 && !is_atext(ch))
			return 0;
	}
	return 1;
}

void addr_format(const struct addr_path *a, char *buf, size_t len)
{
	struct wbuf w = {buf, len, 0, 0};
	if (len == 0)
		return;
	if (!a->null) {
		if (is_dot_string(a->local)) {
			put_str(&w, a->local);
		} else {
			put(&w, '"');
			for (const char *p = a->local; *p; p++) {
				if (*p == '"' || *p == '\\')
					put(&w, '\\');
				put(&w, *p);
			}
			put(&w, '"');
		}
		if (!a->unqualified) {
			put(&w, '@');
			put_str(&w, a->domain);
		}
	}
	finish(&w);
}

const char *addr_status_text(enum addr_status st)
{
	switch (st) {
	case ADDR_OK:
		return "ok";
	case ADDR_ERR_SYNTAX:
		return "syntax error in address";
	case ADDR_ERR_TOO_LONG:
		return "address too long";
	case ADDR_ERR_8BIT:
		return "8-bit address without SMTPUTF8";
	case ADDR_ERR_DOMAIN:
		return "invalid domain";
	}
	return "unknown address error";
}
