/* reply.c — the probe's view of replies (parsed by deliver_reply_parse): the server's name,
 * verdict names. Pure. */
#include "probe.h"

#include <ctype.h>
#include <string.h>

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
