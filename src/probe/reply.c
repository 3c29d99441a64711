/* reply.c — SMTP replies as the probe reads them from servers it does not trust. Pure. */
#include "probe.h"

#include <ctype.h>
#include <string.h>

#define REPLY_LINE_MAX 2048
#define REPLY_LINES_MAX 64

/* The code of one reply line "ddd", "ddd text" or "ddd-text" (CR already stripped), or -1. */
static int line_code(const char *l, size_t n, int *more)
{
	if (n < 3 || n > REPLY_LINE_MAX)
		return -1;
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)l[i]))
			return -1;
	if (l[0] < '2' || l[0] > '5' || (n > 3 && l[3] != ' ' && l[3] != '-'))
		return -1;
	*more = n > 3 && l[3] == '-';
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

long probe_reply_parse(const char *buf, size_t len, int *code)
{
	size_t off = 0;
	int first = -1;
	for (int lines = 0; lines < REPLY_LINES_MAX; lines++) {
		const char *l = buf + off, *nl = memchr(l, '\n', len - off);
		if (!nl)
			return len - off > REPLY_LINE_MAX ? -1 : 0;
		size_t n = (size_t)(nl - l);
		if (n > 0 && l[n - 1] == '\r')
			n--;
		int more, c = line_code(l, n, &more);
		if (c < 0 || (first >= 0 && c != first))
			return -1;
		first = c;
		off = (size_t)(nl - buf) + 1;
		if (!more) {
			*code = c;
			return (long)off;
		}
	}
	return -1;
}

int probe_reply_name(const char *reply, size_t len, char *out, size_t outlen)
{
	size_t i = 4, o = 0;
	if (len < 5)
		return -1;
	while (i < len && reply[i] != ' ' && reply[i] != '\r' && reply[i] != '\n' &&
	       o + 1 < outlen) {
		unsigned char ch = (unsigned char)reply[i++];
		if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '[' && ch != ']' && ch != ':')
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return o ? 0 : -1;
}

const char *probe_verdict_name(enum probe_verdict v)
{
	static const char *const names[] = {"refused", "closed-auth-required", "accepts-rcpt",
					    "OPEN", "error"};
	return names[v];
}
