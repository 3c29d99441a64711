/* strings.c — bounded string helpers and size/duration parsing. */
#include "util.h"

#include <ctype.h>
#include <string.h>

size_t util_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);
	size_t c = n < dstlen - 1 ? n : dstlen - 1;
	memcpy(dst, src, c);
	dst[c] = '\0';
	return n;
}

void util_str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int util_str_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
	return *a == *b;
}

static int parse_scaled(const char *s, const char *units, const uint64_t *mult, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	uint64_t m = 1;
	if (*p) {
		const char *u = strchr(units, tolower((unsigned char)*p));
		if (!u || p[1])
			return -1;
		m = mult[u - units];
	}
	if (v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int util_parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1, 1024, 1024 * 1024, 1024 * 1024 * 1024};
	return parse_scaled(s, "bkmg", mult, out);
}

int util_parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400};
	return parse_scaled(s, "smhd", mult, out);
}
