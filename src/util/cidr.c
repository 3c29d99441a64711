/* cidr.c — IPv4/IPv6 prefixes in one (IPv4-mapped) address space. */
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int addr_parse(const char *s, uint8_t out[16], int *is_v4)
{
	struct in_addr a4;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &a4, 4);
		*is_v4 = 1;
		return 0;
	}
	*is_v4 = 0;
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

int cidr_parse(const char *s, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	int is_v4;
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (addr_parse(host, out->addr, &is_v4) < 0)
		return -1;
	unsigned max = is_v4 ? 32 : 128, plen = max;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return -1;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (*end || v > max)
			return -1;
		plen = (unsigned)v;
	}
	out->prefix = is_v4 ? plen + 96 : plen;
	for (unsigned bit = out->prefix; bit < 128; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1; /* host bits set: almost always a typo */
	return 0;
}

void cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	if (c->prefix >= 96 && memcmp(c->addr, v4mapped, 12) == 0) {
		inet_ntop(AF_INET, c->addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, c->prefix - 96);
	} else {
		inet_ntop(AF_INET6, c->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, c->prefix);
	}
}

int cidr_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int cidr_contains(const struct cidr *c, const uint8_t addr[16])
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

int cidr_set_contains(const struct cidr *set, size_t n, const uint8_t addr[16])
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&set[i], addr))
			return 1;
	return 0;
}

void util_sockaddr_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	uint8_t a[16];
	if (len == 0)
		return;
	buf[0] = '\0';
	if (cidr_addr_from_sockaddr(sa, a) < 0)
		return;
	if (memcmp(a, v4mapped, 12) == 0)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}
