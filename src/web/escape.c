/* escape.c — the one HTML escaper of the web pages: everything a page shows that came from the
 * store, a scan or a request goes through web_html_escape. */
#include "web.h"

#include <stdio.h>
#include <string.h>

/* The replacement of one ASCII byte, or NULL when it stands for itself. */
static const char *html_entity(unsigned char c, char tmp[8])
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	case '\t':
	case '\n':
	case '\r':
		return NULL;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(tmp, 8, "\\x%02x", c);
		return tmp;
	}
	return NULL;
}

void web_html_escape(struct util_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t run = 0; /* bytes at p[i - run .. i) that stand for themselves */
	for (size_t i = 0; i < len;) {
		char tmp[8];
		const char *rep = NULL;
		size_t n = 1;
		if (p[i] < 0x80)
			rep = html_entity(p[i], tmp);
		else if ((n = util_utf8_seq_len(p + i, len - i)) == 0) {
			rep = "\xef\xbf\xbd"; /* U+FFFD */
			n = 1;
		}
		if (!rep) {
			run += n;
			i += n;
			continue;
		}
		util_buf_add(b, s + i - run, run);
		util_buf_add(b, rep, strlen(rep));
		run = 0;
		i += n;
	}
	util_buf_add(b, s + len - run, run);
}

void web_html_add(struct util_buf *b, const char *s)
{
	if (s)
		web_html_escape(b, s, strlen(s));
}
