/* reply.c — SMTP replies from servers we do not trust: code, multiline, enhanced status code
 * (RFC 3463), text, and the EHLO keywords. Pure: no I/O. */
#include "deliver.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The code of one reply line "ddd", "ddd text" or "ddd-text" (line end stripped), or -1. */
static int line_code(const char *l, size_t n, int *more)
{
	if (n < 3 || n > DELIVER_REPLY_LINE_MAX)
		return -1;
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)l[i]))
			return -1;
	if (l[0] < '2' || l[0] > '5' || (n > 3 && l[3] != ' ' && l[3] != '-'))
		return -1;
	*more = n > 3 && l[3] == '-';
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

/* Digits at s[*i..], 1 to 3 of them; advances *i. */
static int take_digits(const char *s, size_t n, size_t *i)
{
	size_t start = *i;
	while (*i < n && *i - start < 4 && isdigit((unsigned char)s[*i]))
		(*i)++;
	return *i > start && *i - start <= 3;
}

/* Length of an enhanced status code "c.sss.ddd" at the start of the text t (followed by a
 * space or the end), whose class matches the reply code's; 0 if there is none. */
static size_t enh_len(const char *t, size_t n, int code)
{
	size_t i = 2;
	if (n < 5 || code / 100 == 3 || t[0] != (char)('0' + code / 100) || t[1] != '.')
		return 0;
	if (!take_digits(t, n, &i) || i >= n || t[i++] != '.' || !take_digits(t, n, &i))
		return 0;
	return i == n || t[i] == ' ' ? i : 0;
}

/* Append text to the bounded, printable r->text. */
static void text_add(struct deliver_reply *r, size_t *o, const char *t, size_t n)
{
	for (size_t i = 0; i < n && *o + 1 < sizeof(r->text); i++) {
		unsigned char ch = (unsigned char)t[i];
		r->text[(*o)++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	r->text[*o] = '\0';
}

/* Record one line's text: the first line sets enh; later lines lose the same enhanced code. */
static void reply_add_line(struct deliver_reply *r, size_t *o, int first, const char *l, size_t n)
{
	const char *t = n > 4 ? l + 4 : l + n;
	size_t tn = n > 4 ? n - 4 : 0, e = enh_len(t, tn, r->code);
	if (first && e > 0 && e < sizeof(r->enh)) {
		memcpy(r->enh, t, e);
		r->enh[e] = '\0';
	}
	if (e > 0 && e == strlen(r->enh) && memcmp(t, r->enh, e) == 0) {
		t += e;
		tn -= e;
		while (tn > 0 && *t == ' ')
			t++, tn--;
	}
	if (!first)
		text_add(r, o, "; ", 2);
	text_add(r, o, t, tn);
}

long deliver_reply_parse(const char *buf, size_t len, struct deliver_reply *r)
{
	size_t off = 0, o = 0;
	int first = -1;
	struct deliver_reply tmp;
	if (!r)
		r = &tmp;
	r->enh[0] = r->text[0] = '\0';
	for (int lines = 0; lines < DELIVER_REPLY_LINES_MAX; lines++) {
		const char *l = buf + off, *nl = memchr(l, '\n', len - off);
		if (!nl)
			return len - off > DELIVER_REPLY_LINE_MAX ? -1 : 0;
		size_t n = (size_t)(nl - l);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		int more, c = line_code(l, n, &more);
		if (c < 0 || (first >= 0 && c != first))
			return -1;
		r->code = c;
		reply_add_line(r, &o, first < 0, l, n);
		first = c;
		off = (size_t)(nl - buf) + 1;
		if (!more)
			return (long)off;
	}
	return -1;
}

/* The SIZE parameter: decimal, 0 when absent, not a number or too large. */
static uint64_t ehlo_size(const char *p, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < n && p[i] == ' ')
		i++;
	if (i == n)
		return 0;
	for (; i < n && isdigit((unsigned char)p[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return i == n || p[i] == ' ' ? v : 0;
}

static const struct {
	const char *kw;
	unsigned bit;
} ehlo_keywords[] = {
    {"PIPELINING", DELIVER_EXT_PIPELINING},
    {"STARTTLS", DELIVER_EXT_STARTTLS},
    {"SIZE", DELIVER_EXT_SIZE},
    {"8BITMIME", DELIVER_EXT_8BITMIME},
    {"SMTPUTF8", DELIVER_EXT_SMTPUTF8},
    {"DSN", DELIVER_EXT_DSN},
    {"ENHANCEDSTATUSCODES", DELIVER_EXT_ENHANCEDSTATUSCODES},
    {"CHUNKING", DELIVER_EXT_CHUNKING},
};

/* One extension line's text ("SIZE 1000"). */
static void ehlo_line(const char *t, size_t n, struct deliver_ehlo *e)
{
	size_t kl = 0;
	while (kl < n && t[kl] != ' ')
		kl++;
	for (size_t k = 0; k < sizeof(ehlo_keywords) / sizeof(ehlo_keywords[0]); k++) {
		const char *kw = ehlo_keywords[k].kw;
		if (strlen(kw) != kl || strncasecmp(kw, t, kl) != 0)
			continue;
		e->ext |= ehlo_keywords[k].bit;
		if (ehlo_keywords[k].bit == DELIVER_EXT_SIZE)
			e->size = ehlo_size(t + kl, n - kl);
	}
}

void deliver_ehlo_parse(const char *buf, size_t len, struct deliver_ehlo *e)
{
	size_t off = 0;
	e->ext = 0;
	e->size = 0;
	for (int line = 0; off < len; line++) {
		const char *l = buf + off, *nl = memchr(l, '\n', len - off);
		size_t n = nl ? (size_t)(nl - l) : len - off;
		off += n + (nl != NULL);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (line > 0 && n > 4)
			ehlo_line(l + 4, n - 4, e);
	}
}
