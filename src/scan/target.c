/* target.c — what the scanner may scan: targets expanded to addresses (IP, CIDR, host name),
 * the RFC 6890 special-purpose ranges it refuses without --allow-reserved, the opt-out list and
 * the port list. Everything but host-name resolution is pure. */
#include "scan.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int addrs_push(struct scan_addrs *l, const uint8_t a[16])
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->a, cap * sizeof(*l->a));
		if (!p)
			return -1;
		l->a = p;
		l->cap = cap;
	}
	memcpy(l->a[l->n++], a, 16);
	return 0;
}

void scan_addrs_free(struct scan_addrs *l)
{
	free(l->a);
	l->a = NULL;
	l->n = l->cap = 0;
}

int scan_cidr_expand(const struct cidr *net, struct scan_addrs *l, size_t max, char *err,
		     size_t errlen)
{
	char text[BLOCKLIST_NET_MAX];
	unsigned host_bits = 128 - net->prefix;
	cidr_format(net, text, sizeof(text));
	if (host_bits >= 32 || l->n + ((size_t)1 << host_bits) > max) {
		snprintf(err, errlen, "%s expands beyond the cap of %zu hosts (--max-hosts)", text,
			 max);
		return -1;
	}
	uint8_t a[16];
	memcpy(a, net->addr, 16);
	for (uint64_t i = 0; i < ((uint64_t)1 << host_bits); i++) {
		uint64_t v = i;
		memcpy(a, net->addr, 16);
		for (int k = 15; k >= 0 && v; k--, v >>= 8)
			a[k] |= (uint8_t)(v & 0xff);
		if (addrs_push(l, a) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int target_resolve(struct scan_addrs *l, const char *name, size_t max, char *err,
			  size_t errlen)
{
	struct addrinfo hints = {0}, *ai;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(name, NULL, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot resolve: %s", name, gai_strerror(rc));
		return -1;
	}
	size_t added = 0;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		uint8_t x[16];
		int dup = 0;
		if (cidr_addr_from_sockaddr(a->ai_addr, x) < 0)
			continue;
		for (size_t i = l->n - added; i < l->n && !dup; i++)
			dup = !memcmp(l->a[i], x, 16);
		if (dup)
			continue;
		if (l->n >= max || addrs_push(l, x) < 0) {
			freeaddrinfo(ai);
			snprintf(err, errlen, "%s: more than %zu hosts or out of memory", name,
				 max);
			return -1;
		}
		added++;
	}
	freeaddrinfo(ai);
	return 0;
}

int scan_target_add(struct scan_addrs *l, const char *target, size_t max, char *err, size_t errlen)
{
	struct cidr net;
	if (cidr_parse(target, &net) == 0)
		return scan_cidr_expand(&net, l, max, err, errlen);
	if (strchr(target, '/') || strchr(target, ':') || !*target || strlen(target) > 253) {
		snprintf(err, errlen, "%.100s: not an IP, CIDR (host bits zero) or host name",
			 target);
		return -1;
	}
	return target_resolve(l, target, max, err, errlen);
}

/* RFC 6890 (and its updates) special-purpose address blocks, plus multicast. */
static const char *const reserved_nets[] = {
    "0.0.0.0/8",     "10.0.0.0/8",	"100.64.0.0/10",  "127.0.0.0/8",    "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24",	"192.0.2.0/24",	  "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",    "240.0.0.0/4",
    "::/128",	     "::1/128",		"64:ff9b::/96",	  "100::/64",	    "2001::/23",
    "2001:db8::/32", "2002::/16",	"fc00::/7",	  "fe80::/10",	    "ff00::/8",
};

const char *scan_reserved(const uint8_t addr[16])
{
	for (size_t i = 0; i < sizeof(reserved_nets) / sizeof(reserved_nets[0]); i++) {
		struct cidr c;
		if (cidr_parse(reserved_nets[i], &c) == 0 && cidr_contains(&c, addr))
			return reserved_nets[i];
	}
	return NULL;
}

static int optout_line(const char *line, size_t n, struct cidr **set, size_t *count)
{
	while (n && (line[0] == ' ' || line[0] == '\t'))
		line++, n--;
	const char *hash = memchr(line, '#', n);
	if (hash)
		n = (size_t)(hash - line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	if (n == 0)
		return 0;
	char buf[BLOCKLIST_NET_MAX];
	struct cidr c;
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	if (cidr_parse(buf, &c) < 0)
		return -1;
	struct cidr *p = realloc(*set, (*count + 1) * sizeof(**set));
	if (!p)
		return -1;
	*set = p;
	p[(*count)++] = c;
	return 0;
}

int scan_optout_parse(const char *text, size_t len, struct cidr **set, size_t *n, char *err,
		      size_t errlen)
{
	size_t lineno = 0;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len;
		lineno++;
		if (optout_line(text + at, end - at, set, n) < 0) {
			snprintf(err, errlen,
				 "opt-out line %zu: expected an IP or CIDR (host bits zero)",
				 lineno);
			return -1;
		}
		at = end + 1;
	}
	return 0;
}

int scan_optout_load(const char *path, struct cidr **set, size_t *n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (len + 4096 > cap) {
			char *p = cap < (64u << 20) ? realloc(text, cap + 65536) : NULL;
			if (!p) {
				rc = -1;
				snprintf(err, errlen, "%s: too large or out of memory", path);
				break;
			}
			text = p;
			cap += 65536;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if (rc == 0 && scan_optout_parse(text, len, set, n, err, errlen) < 0) {
		size_t l = strlen(err);
		snprintf(err + l, errlen > l ? errlen - l : 0, " in %s", path);
		rc = -1;
	}
	free(text);
	return rc;
}

int scan_ports_parse(const char *s, uint16_t *ports, size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v < 1 || v > 65535 || (*end && *end != ',') || *n == max)
			return -1;
		ports[(*n)++] = (uint16_t)v;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}
