/* name.c — DNSBL query names (RFC 5782 2.1, 2.4): reversed IPv4 octets or 32 reversed IPv6
 * nibbles, relative to the zone. Pure. */
#include "blocklist.h"

#include <stdio.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "d.c.b.a" → a.b.c.d; each label 1..3 digits, at most 255. */
static int name_parse_v4(const char *s, uint8_t addr[16])
{
	uint8_t oct[4];
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4)
			v = v * 10 + (unsigned)(*s++ - '0'), digits++;
		if (digits == 0 || digits > 3 || v > 255)
			return -1;
		oct[3 - i] = (uint8_t)v;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	if (*s)
		return -1;
	memcpy(addr, v4mapped, 12);
	memcpy(addr + 12, oct, 4);
	return 0;
}

/* 32 single-nibble labels, least significant first. */
static int name_parse_v6(const char *s, uint8_t addr[16])
{
	if (strlen(s) != 63)
		return -1;
	memset(addr, 0, 16);
	for (int i = 0; i < 32; i++) {
		int v = hex_value(s[i * 2]);
		if (v < 0 || (i < 31 && s[i * 2 + 1] != '.'))
			return -1;
		int nib = 31 - i; /* nibble index from the most significant */
		addr[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
	}
	return 0;
}

int blocklist_name_parse(const char *rel, uint8_t addr[16])
{
	size_t dots = 0;
	for (const char *p = rel; *p; p++)
		dots += *p == '.';
	if (dots == 3)
		return name_parse_v4(rel, addr);
	if (dots == 31)
		return name_parse_v6(rel, addr);
	return -1;
}

void blocklist_name_format(const uint8_t addr[16], char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	if (memcmp(addr, v4mapped, 12) == 0) {
		snprintf(out, outlen, "%u.%u.%u.%u", addr[15], addr[14], addr[13], addr[12]);
		return;
	}
	char buf[64];
	for (int i = 0; i < 32; i++) {
		int nib = 31 - i;
		uint8_t b = addr[nib / 2];
		buf[i * 2] = hex[nib % 2 ? b & 0xf : b >> 4];
		buf[i * 2 + 1] = i < 31 ? '.' : '\0';
	}
	util_strlcpy(out, buf, outlen);
}
