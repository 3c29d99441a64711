/* xtext.c — the xtext encoding of RFC 3461 section 4 (ENVID, ORCPT). Pure.
 *   xtext = *( xchar / hexchar ); xchar = "!".."~" except "+" and "=";
 *   hexchar = "+" followed by two upper-case hexadecimal digits. */
#include "util.h"

static int xtext_xchar(unsigned char c)
{
	return c >= '!' && c <= '~' && c != '+' && c != '=';
}

static int xtext_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower-case hex is not xtext */
}

/* The byte at s[*i] (advancing *i), or -1 when the input is not xtext there. */
static int xtext_next(const char *s, size_t len, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];
	if (xtext_xchar(c)) {
		(*i)++;
		return c;
	}
	if (c != '+' || len - *i < 3)
		return -1;
	int hi = xtext_hexval(s[*i + 1]), lo = xtext_hexval(s[*i + 2]);
	if (hi < 0 || lo < 0)
		return -1;
	*i += 3;
	return hi * 16 + lo;
}

int util_xtext_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;)
		if (xtext_next(s, len, &i) < 0)
			return 0;
	return 1;
}

long util_xtext_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n = 0;
	if (outlen == 0)
		return -1;
	for (size_t i = 0; i < len;) {
		int c = xtext_next(s, len, &i);
		if (c < 0x20 || c == 0x7f || n + 1 >= outlen)
			return -1; /* not xtext (-1), a control character, or no room */
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return (long)n;
}

size_t util_xtext_encode(const char *s, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0, full = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t w = xtext_xchar(c) ? 1 : 3;
		if (outlen > 0 && full == n && n + w < outlen) {
			if (w == 1) {
				out[n] = (char)c;
			} else {
				out[n] = '+';
				out[n + 1] = hex[c >> 4];
				out[n + 2] = hex[c & 15];
			}
			n += w;
		}
		full += w;
	}
	if (outlen > 0)
		out[n] = '\0';
	return full;
}
