/* key.c — the fields of a store key: escaped so that none holds the separator '|' (a login,
 * an envelope sender or recipient may), hence two different field tuples never make one key,
 * and a prefix "rl:u:LOGIN|" never covers another login's keys. */
#include "abuse.h"

#include <stdio.h>
#include <string.h>

int abuse_key_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *in; in++) {
		const char *rep = *in == '%' ? "%25" : *in == '|' ? "%7C" : NULL;
		size_t len = rep ? 3 : 1;
		if (o + len >= outlen)
			return -1;
		if (rep)
			memcpy(out + o, rep, 3);
		else
			out[o] = *in;
		o += len;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

void abuse_key_unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '%' && s[1] == '2' && s[2] == '5') {
			*o++ = '%';
			s += 2;
		} else if (s[0] == '%' && s[1] == '7' && (s[2] == 'C' || s[2] == 'c')) {
			*o++ = '|';
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}
