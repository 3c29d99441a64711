/* export.c — the store as rbldnsd data (ip4set + ip6trie) and as a BIND master file, for
 * operators who serve the list from an rbldnsd or BIND farm fed by rsync. Each file is written
 * to PATH.tmp, flushed to disk and renamed, so a reader never sees half a file. */
#include "blocklist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT_TEST_TXT "RFC 5782 test entry"
/* ::ffff:7f00:2 in nibbles (our index maps it onto 127.0.0.2; a BIND zone needs both names) */
#define EXPORT_TEST_V6 "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int is_v4(const struct cidr *c)
{
	return c->prefix >= 96 && memcmp(c->addr, v4mapped, 12) == 0;
}

struct export_file {
	FILE *f;
	char path[4096], tmp[4096 + 8];
};

static int export_begin(struct export_file *x, const char *path, char *err, size_t errlen)
{
	if (snprintf(x->path, sizeof(x->path), "%s", path) >= (int)sizeof(x->path) ||
	    snprintf(x->tmp, sizeof(x->tmp), "%s.tmp", path) >= (int)sizeof(x->tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (!(x->f = fopen(x->tmp, "w"))) {
		snprintf(err, errlen, "%s: %s", x->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* ok: flush, fsync and rename into place; otherwise (or on failure) remove the temp file. */
static int export_end(struct export_file *x, int ok, char *err, size_t errlen)
{
	if (!x->f)
		return -1;
	int rc = ok ? 0 : -1;
	if (!rc && (fflush(x->f) != 0 || fsync(fileno(x->f)) != 0))
		rc = -1;
	if (fclose(x->f) != 0)
		rc = -1;
	x->f = NULL;
	if (!rc && rename(x->tmp, x->path) != 0)
		rc = -1;
	if (rc) {
		if (ok)
			snprintf(err, errlen, "%s: %s", x->path, strerror(errno));
		unlink(x->tmp);
	}
	return rc;
}

/* ---- rbldnsd ---- */
struct rbl_ctx {
	FILE *v4, *v6;
	const char *url;
};

/* The TXT template: rbldnsd puts the queried IP where "$" is. */
static void rbl_txt(const char *reason, const char *url, char *out, size_t len)
{
	blocklist_txt_compose(reason, url, "$", out, len);
}

static int rbl_entry(void *arg, const struct blocklist_entry *e)
{
	struct rbl_ctx *c = arg;
	char txt[BLOCKLIST_TXT_MAX];
	rbl_txt(e->txt, c->url, txt, sizeof(txt));
	FILE *f = is_v4(&e->net) ? c->v4 : c->v6;
	return fprintf(f, "%s :127.0.0.%u:%s\n", e->net_text, e->code, txt) < 0 ? -2 : 0;
}

int blocklist_export_rbldnsd(struct blocklist *b, const char *path, const char *path6,
			     const char *url, char *err, size_t errlen)
{
	struct export_file f4 = {0}, f6 = {0};
	char txt[BLOCKLIST_TXT_MAX];
	if (export_begin(&f4, path, err, errlen) < 0)
		return -1;
	if (export_begin(&f6, path6, err, errlen) < 0) {
		export_end(&f4, 0, err, errlen);
		return -1;
	}
	rbl_txt("Listed", url, txt, sizeof(txt));
	fprintf(f4.f, "# relayguard blocklist (ip4set)\n:127.0.0.2:%s\n", txt);
	fprintf(f6.f, "# relayguard blocklist (ip6trie)\n:127.0.0.2:%s\n", txt);
	rbl_txt(EXPORT_TEST_TXT, url, txt, sizeof(txt));
	fprintf(f4.f, "127.0.0.2 :127.0.0.2:%s\n", txt);
	fprintf(f6.f, "::ffff:7f00:2 :127.0.0.2:%s\n", txt);
	struct rbl_ctx c = {f4.f, f6.f, url};
	int rc = blocklist_foreach(b, 1, rbl_entry, &c);
	if (rc != 0)
		snprintf(err, errlen, "blocklist export: %s",
			 rc == -2 ? strerror(errno) : "cannot read entries");
	int r4 = export_end(&f4, rc == 0, err, errlen);
	int r6 = export_end(&f6, rc == 0 && r4 == 0, err, errlen);
	return rc == 0 && r4 == 0 && r6 == 0 ? 0 : -1;
}

/* ---- BIND ---- */
struct bind_ctx {
	FILE *f;
	const struct blocklist_zone *z;
};

static void bind_quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void bind_records(struct bind_ctx *c, const char *owner, unsigned code, const char *txt)
{
	fprintf(c->f, "%s\tIN\tA\t127.0.0.%u\n%s\tIN\tTXT\t", owner, code, owner);
	bind_quote(c->f, txt);
	fputc('\n', c->f);
}

/* A prefix not on a label boundary (octet, nibble) is the wildcards of the boundary below. */
static int bind_entry(void *arg, const struct blocklist_entry *e)
{
	struct bind_ctx *c = arg;
	int v4 = is_v4(&e->net);
	unsigned unit = v4 ? 8 : 4, base = v4 ? 96 : 0, bits = e->net.prefix - base;
	unsigned whole = (bits + unit - 1) / unit * unit, n = 1u << (whole - bits);
	unsigned labels = whole / unit, total = v4 ? 4 : 32;
	char txt[BLOCKLIST_TXT_MAX];
	blocklist_txt_compose(e->txt, c->z->url, e->net_text, txt, sizeof(txt));
	for (unsigned i = 0; i < n; i++) {
		uint8_t a[16];
		char full[80], owner[96];
		memcpy(a, e->net.addr, 16);
		unsigned bit = base + whole - 1; /* the last bit of the rounded prefix */
		for (unsigned k = 0; k < whole - bits; k++, bit--)
			if (i & (1u << k))
				a[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		blocklist_name_format(a, full, sizeof(full));
		/* keep the last `labels` labels of the reversed name */
		const char *p = full;
		for (unsigned skip = total - labels; skip > 0 && p; skip--)
			if ((p = strchr(p, '.')))
				p++;
		if (!p || labels == 0)
			snprintf(owner, sizeof(owner), "*");
		else
			snprintf(owner, sizeof(owner), "%s%s", labels < total ? "*." : "", p);
		bind_records(c, owner, e->code, txt);
	}
	return ferror(c->f) ? -2 : 0;
}

int blocklist_export_bind(struct blocklist *b, const struct blocklist_zone *z, const char *path,
			  char *err, size_t errlen)
{
	struct export_file f = {0};
	if (export_begin(&f, path, err, errlen) < 0)
		return -1;
	fprintf(f.f,
		"; relayguard blocklist\n$ORIGIN %s.\n$TTL %u\n"
		"@\tIN\tSOA\t%s. %s. %u 3600 600 604800 %u\n@\tIN\tNS\t%s.\n",
		z->zone, z->ttl, z->ns, z->hostmaster, z->serial, z->ttl, z->ns);
	struct bind_ctx c = {f.f, z};
	uint8_t t4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
	char owner[80];
	blocklist_name_format(t4, owner, sizeof(owner));
	bind_records(&c, owner, BLOCKLIST_CODE_OPEN_RELAY, EXPORT_TEST_TXT);
	bind_records(&c, EXPORT_TEST_V6, BLOCKLIST_CODE_OPEN_RELAY, EXPORT_TEST_TXT);
	int rc = blocklist_foreach(b, 1, bind_entry, &c);
	if (rc != 0)
		snprintf(err, errlen, "blocklist export: %s",
			 rc == -2 ? strerror(errno) : "cannot read entries");
	return export_end(&f, rc == 0, err, errlen) == 0 && rc == 0 ? 0 : -1;
}
