/* json.c — the JSON string escaper of the `--json` answers (RFC 8259 7). util_json_escape is
 * pure; util_json_print writes its output to a stdio stream for the CLIs. */
#include "util.h"

#include <stdio.h>
#include <string.h>

size_t util_utf8_seq_len(const unsigned char *s, size_t len)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (s[0] >= 0xf5 || n == 0 || n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* The escaped form of the unit at s into unit (at most 7 bytes), its input length in *used. */
static size_t json_unit(const unsigned char *s, size_t len, char unit[8], size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	*used = 1;
	const char *esc = s[0] == '"'	 ? "\\\""
			  : s[0] == '\\' ? "\\\\"
			  : s[0] == '\n' ? "\\n"
			  : s[0] == '\r' ? "\\r"
			  : s[0] == '\t' ? "\\t"
					 : NULL;
	if (esc) {
		memcpy(unit, esc, 2);
		return 2;
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		memcpy(unit, "\\u00", 4);
		unit[4] = hex[s[0] >> 4];
		unit[5] = hex[s[0] & 15];
		return 6;
	}
	if (s[0] < 0x80) {
		unit[0] = (char)s[0];
		return 1;
	}
	size_t n = util_utf8_seq_len(s, len);
	if (n == 0) { /* not UTF-8: the replacement character, so the document stays valid */
		memcpy(unit, "\\ufffd", 6);
		return 6;
	}
	memcpy(unit, s, n);
	*used = n;
	return n;
}

size_t util_json_escape(const char *s, size_t len, char *out, size_t outlen, size_t *consumed)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;
	while (i < len) {
		char unit[8];
		size_t used, n = json_unit(p + i, len - i, unit, &used);
		if (o + n + 1 > outlen)
			break;
		memcpy(out + o, unit, n);
		o += n;
		i += used;
	}
	if (outlen > 0)
		out[o] = '\0';
	*consumed = i;
	return o;
}

void util_json_print(FILE *f, const char *s)
{
	char buf[256];
	size_t len = strlen(s), used;
	fputc('"', f);
	while (len > 0) {
		util_json_escape(s, len, buf, sizeof(buf), &used);
		fputs(buf, f);
		s += used;
		len -= used;
	}
	fputc('"', f);
}
