/* domain.c — domain names compared in one canonical form (lower-case A-labels). */
#include "util.h"

#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

/* RFC 1123 host name: labels of letters, digits and hyphens, 1..63 octets, no leading or
 * trailing hyphen, 255 octets in all. */
static int ldh_valid(const char *s)
{
	size_t label = 0, total = strlen(s);
	if (total == 0 || total > 253)
		return 0;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-' || p[-(long)label] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
		label++;
	}
}

int util_domain_normalise(const char *in, char *out, size_t outlen)
{
	char tmp[256];
	size_t n = strlen(in);
	int ascii = 1;
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, in, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tmp[i] >= 0x80)
			ascii = 0;
	if (!ascii) {
		char *a = NULL;
		if (idn2_to_ascii_8z(tmp, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
			return -1;
		size_t alen = strlen(a);
		if (alen >= sizeof(tmp)) {
			idn2_free(a);
			return -1;
		}
		memcpy(tmp, a, alen + 1);
		idn2_free(a);
	}
	util_str_lower(tmp);
	if (!ldh_valid(tmp) || strlen(tmp) >= outlen)
		return -1;
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}
