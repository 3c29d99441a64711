/* lists.c — the known lists (pure): the lists file of well-known public zones (etc/dnsbl-lists)
 * with what their codes mean and where to ask for delisting, merged with the config's dnsbl
 * lines. */
#include "dnsbl.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lp {
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
};

static int lp_error(struct lp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lp_error(struct lp *p, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, msg);
	return -1;
}

/* The next word of *s into out: up to a blank, or "quoted" (after '=') up to the closing
 * quote. 1 a word, 0 none left, -1 an unterminated quote or a word too long. */
static int next_word(const char **s, char *out, size_t outlen)
{
	const char *p = *s;
	size_t o = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	int quoted = 0;
	for (; *p && (quoted || (*p != ' ' && *p != '\t')); p++) {
		if (*p == '"' && (quoted || (o > 0 && out[o - 1] == '='))) {
			quoted = !quoted;
			continue;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = *p;
	}
	out[o] = '\0';
	*s = p;
	return quoted ? -1 : 1;
}

static int parse_code(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "127.0.0.2=text" or "127.0.0.4-127.0.0.7=text" */
static int add_meaning(struct lp *p, struct dnsbl_zone *z, char *w, char *eq)
{
	struct dnsbl_meaning m;
	*eq = '\0';
	char *dash = strchr(w, '-');
	if (dash)
		*dash = '\0';
	if (parse_code(w, &m.lo) < 0 || parse_code(dash ? dash + 1 : w, &m.hi) < 0 || m.lo > m.hi)
		return lp_error(p, "invalid code '%s' (expected 127.X.Y.Z or a range A-B)", w);
	if (!eq[1])
		return lp_error(p, "empty meaning for code %s", w);
	struct dnsbl_meaning *a = realloc(z->meanings, (z->n_meanings + 1) * sizeof(*a));
	if (!a)
		return lp_error(p, "out of memory");
	z->meanings = a;
	if (!(m.text = strdup(eq + 1)))
		return lp_error(p, "out of memory");
	a[z->n_meanings++] = m;
	return 0;
}

static int parse_option(struct lp *p, struct dnsbl_zone *z, char *w)
{
	char *eq = strchr(w, '=');
	if (!eq)
		return lp_error(p, "expected CODE=MEANING, delist=URL or ipv6=yes|no, not '%s'", w);
	if (!strncmp(w, "delist=", 7)) {
		if (z->delist)
			return lp_error(p, "delist given twice");
		if (strncmp(w + 7, "http://", 7) && strncmp(w + 7, "https://", 8))
			return lp_error(p, "delist URL must start with http:// or https://");
		return (z->delist = strdup(w + 7)) ? 0 : lp_error(p, "out of memory");
	}
	if (!strncmp(w, "ipv6=", 5)) {
		if (strcmp(w + 5, "yes") && strcmp(w + 5, "no"))
			return lp_error(p, "expected ipv6=yes or ipv6=no");
		z->ipv6 = !strcmp(w + 5, "yes");
		return 0;
	}
	return add_meaning(p, z, w, eq);
}

static void zone_clear(struct dnsbl_zone *z)
{
	for (size_t i = 0; i < z->n_meanings; i++)
		free(z->meanings[i].text);
	free(z->meanings);
	free(z->zone);
	free(z->delist);
	memset(z, 0, sizeof(*z));
}

/* A new zone entry at the end of zs (zeroed, ipv6 on), or NULL (ENOMEM). */
static struct dnsbl_zone *zone_append(struct dnsbl_zones *zs, const char *zone)
{
	struct dnsbl_zone *a = realloc(zs->z, (zs->n + 1) * sizeof(*a));
	if (!a)
		return NULL;
	zs->z = a;
	struct dnsbl_zone *z = &a[zs->n];
	memset(z, 0, sizeof(*z));
	z->ipv6 = 1;
	if (!(z->zone = strdup(zone)))
		return NULL;
	zs->n++;
	return z;
}

static int parse_line(struct lp *p, const char *s, struct dnsbl_zones *zs)
{
	char w[DNSBL_LISTS_LINE], zone[256];
	int rc = next_word(&s, w, sizeof(w));
	if (rc == 0)
		return 0;
	if (util_domain_normalise(w, zone, sizeof(zone)) < 0 || !strchr(zone, '.') ||
	    strlen(zone) > 200)
		return lp_error(p, "invalid zone '%.200s'", w);
	if (dnsbl_zones_find(zs, zone))
		return lp_error(p, "zone %s given twice", zone);
	if (zs->n >= DNSBL_LISTS_MAX)
		return lp_error(p, "too many zones (max %d)", DNSBL_LISTS_MAX);
	if (next_word(&s, w, sizeof(w)) != 1 || (strcmp(w, "block") && strcmp(w, "allow")))
		return lp_error(p, "expected 'block' or 'allow' after the zone");
	struct dnsbl_zone *z = zone_append(zs, zone);
	if (!z)
		return lp_error(p, "out of memory");
	z->kind = !strcmp(w, "allow") ? DNSBL_KIND_ALLOW : DNSBL_KIND_BLOCK;
	snprintf(z->origin, sizeof(z->origin), "%.50s:%u", p->name, p->line);
	while ((rc = next_word(&s, w, sizeof(w))) == 1)
		if (parse_option(p, z, w) < 0)
			return -1;
	return rc < 0 ? lp_error(p, "unterminated quote") : 0;
}

int dnsbl_zones_parse(const char *text, size_t len, const char *name, struct dnsbl_zones *z,
		      char *err, size_t errlen)
{
	struct lp p = {name, 0, err, errlen};
	char line[DNSBL_LISTS_LINE];
	size_t i = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		p.line++;
		if (e - i >= sizeof(line))
			return lp_error(&p, "line too long (max %d bytes)", DNSBL_LISTS_LINE - 1);
		if (memchr(text + i, '\0', e - i))
			return lp_error(&p, "NUL byte in line");
		memcpy(line, text + i, e - i);
		line[e - i] = '\0';
		i = e + 1;
		char *hash = line;
		for (int q = 0; *hash; hash++) { /* a # outside quotes starts a comment */
			if (*hash == '"')
				q = !q;
			else if (*hash == '#' && !q)
				break;
		}
		*hash = '\0';
		if (line[0] && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (parse_line(&p, line, z) < 0)
			return -1;
	}
	return 0;
}

const struct dnsbl_zone *dnsbl_zones_find(const struct dnsbl_zones *z, const char *zone)
{
	for (size_t i = 0; z && i < z->n; i++)
		if (!strcmp(z->z[i].zone, zone))
			return &z->z[i];
	return NULL;
}

const char *dnsbl_zone_meaning(const struct dnsbl_zone *z, uint32_t code)
{
	for (size_t i = 0; i < z->n_meanings; i++)
		if (code >= z->meanings[i].lo && code <= z->meanings[i].hi)
			return z->meanings[i].text;
	return NULL;
}

int dnsbl_zones_add_conf(struct dnsbl_zones *zs, const struct conf *c)
{
	for (size_t i = 0; i < c->n_dnsbls; i++) {
		const struct conf_dnsbl *d = &c->dnsbls[i];
		struct dnsbl_zone *z = (struct dnsbl_zone *)dnsbl_zones_find(zs, d->zone);
		if (!z && !(z = zone_append(zs, d->zone)))
			return -1;
		z->kind = d->weight < 0 ? DNSBL_KIND_ALLOW : DNSBL_KIND_BLOCK;
		z->codes = d->codes;
		z->n_codes = d->n_codes;
		z->timeout = d->timeout;
		z->ipv6 = d->ipv6;
		snprintf(z->origin, sizeof(z->origin), "%.50s:%u", c->path ? c->path : "config",
			 d->line);
	}
	return 0;
}

void dnsbl_zones_free(struct dnsbl_zones *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n; i++)
		zone_clear(&z->z[i]);
	free(z->z);
	z->z = NULL;
	z->n = 0;
}
