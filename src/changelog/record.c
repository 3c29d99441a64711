/* record.c — the changelog's record codec and hash chain. Pure: no I/O. A record is written
 * with a fixed key order and read back strictly in that order, so any edit that is not a
 * faithful re-encoding is caught by the parser, and any other by the record's own hash. */
#include "changelog.h"

#include "../util/util.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char zero_hash[CHANGELOG_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char hash_key[] = ",\"hash\":\"";

void changelog_record_clear(struct changelog_record *r)
{
	free(r->diff);
	r->diff = NULL;
	r->diff_len = 0;
}

void changelog_sha256_hex(const void *data, size_t len, char out[CHANGELOG_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		memset(md, 0, sizeof(md)); /* cannot happen with the default provider */
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void changelog_verdict(size_t findings, size_t relays, const char *override, char *out, size_t len)
{
	if (relays && override)
		snprintf(out, len, "open relay (override: %s)", override);
	else if (relays)
		snprintf(out, len, "open relay");
	else if (findings)
		snprintf(out, len, "%zu finding%s", findings, findings == 1 ? "" : "s");
	else
		snprintf(out, len, "clean");
}

/* ---- writing ---- */

static int is_hex64(const char *s)
{
	size_t i = 0;
	while (i < 64 && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
		i++;
	return i == 64 && s[64] == '\0';
}

static int event_known(const char *e)
{
	return !strcmp(e, "start") || !strcmp(e, "reload") || !strcmp(e, "check");
}

int changelog_format(struct changelog_record *r, char **line, size_t *len)
{
	struct util_buf o = {0};
	if (!event_known(r->event) || !is_hex64(r->sha256) || !is_hex64(r->prev))
		return -1;
	util_buf_printf(&o, "{\"id\":%lu,\"time\":", r->id);
	util_buf_json_string(&o, r->time, strlen(r->time));
	util_buf_add(&o, ",\"event\":", 9);
	util_buf_json_string(&o, r->event, strlen(r->event));
	util_buf_add(&o, ",\"config\":", 10);
	util_buf_json_string(&o, r->config, strlen(r->config));
	util_buf_printf(&o, ",\"sha256\":\"%s\",\"uid\":%ld,\"user\":", r->sha256, r->who.uid);
	util_buf_json_string(&o, r->who.user, strlen(r->who.user));
	util_buf_add(&o, ",\"sudo_user\":", 13);
	util_buf_json_string(&o, r->who.sudo_user, strlen(r->who.sudo_user));
	util_buf_add(&o, ",\"verdict\":", 11);
	util_buf_json_string(&o, r->verdict, strlen(r->verdict));
	util_buf_printf(&o, ",\"unchanged\":%s,\"diff\":", r->unchanged ? "true" : "false");
	if (r->diff)
		util_buf_json_string(&o, r->diff, r->diff_len);
	else
		util_buf_add(&o, "null", 4);
	util_buf_printf(&o, ",\"prev\":\"%s\"", r->prev);
	if (o.err) {
		free(o.p);
		return -1;
	}
	changelog_sha256_hex(o.p, o.len, r->hash);
	util_buf_printf(&o, "%s%s\"}", hash_key, r->hash);
	if (o.err) {
		free(o.p);
		return -1;
	}
	*line = o.p;
	*len = o.len;
	return 0;
}

/* ---- reading ---- */

struct cur {
	const char *s;
	size_t len, pos;
	const char *fail; /* the first problem, or NULL */
	size_t fail_at;
};

static int bad(struct cur *c, const char *what)
{
	if (!c->fail) {
		c->fail = what;
		c->fail_at = c->pos;
	}
	return -1;
}

static int expect(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);
	if (c->fail || c->len - c->pos < n || memcmp(c->s + c->pos, lit, n) != 0)
		return bad(c, "unexpected text");
	c->pos += n;
	return 0;
}

static int read_ulong(struct cur *c, unsigned long *v)
{
	size_t start = c->pos;
	*v = 0;
	while (!c->fail && c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
		unsigned d = (unsigned)(c->s[c->pos++] - '0');
		if (*v > (ULONG_MAX - d) / 10)
			return bad(c, "number too large");
		*v = *v * 10 + d;
	}
	if (c->pos == start || (c->s[start] == '0' && c->pos - start > 1))
		return bad(c, "bad number");
	return c->fail ? -1 : 0;
}

static int read_long(struct cur *c, long *v)
{
	int neg = c->pos < c->len && c->s[c->pos] == '-';
	unsigned long u;
	c->pos += (size_t)neg;
	if (read_ulong(c, &u) < 0 || u > (unsigned long)INT32_MAX)
		return bad(c, "bad number");
	*v = neg ? -(long)u : (long)u;
	return 0;
}

static int hex4(struct cur *c, unsigned *u)
{
	*u = 0;
	if (c->len - c->pos < 4)
		return bad(c, "bad escape");
	for (int i = 0; i < 4; i++) {
		char h = c->s[c->pos++];
		unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
			     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
			     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
						    : 16;
		if (d == 16)
			return bad(c, "bad escape");
		*u = *u * 16 + d;
	}
	return 0;
}

/* \uXXXX (and its low surrogate) at c as a code point. */
static int read_u(struct cur *c, unsigned *cp)
{
	unsigned lo;
	if (hex4(c, cp) < 0 || (*cp >= 0xdc00 && *cp <= 0xdfff))
		return bad(c, "bad escape");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (expect(c, "\\u") < 0 || hex4(c, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return bad(c, "bad surrogate pair");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

static size_t utf8_put(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape after the backslash into o (at least 4 bytes); its length, or 0 on error. */
static size_t read_escape(struct cur *c, char *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned cp;
	if (c->pos >= c->len) {
		bad(c, "bad escape");
		return 0;
	}
	char e = c->s[c->pos++];
	const char *k = e ? strchr(from, e) : NULL;
	if (k) {
		o[0] = to[k - from];
		return 1;
	}
	if (e != 'u' || read_u(c, &cp) < 0 || cp == 0) {
		bad(c, "bad escape");
		return 0;
	}
	return utf8_put(cp, o);
}

/* A JSON string at c, decoded into out (cap bytes, NUL-terminated). Decoding never grows. */
static int read_str(struct cur *c, char *out, size_t cap, size_t *outlen)
{
	size_t n = 0;
	if (expect(c, "\"") < 0)
		return -1;
	while (c->pos < c->len && c->s[c->pos] != '"') {
		char unit[4];
		unsigned char ch = (unsigned char)c->s[c->pos++];
		size_t k = 1;
		unit[0] = (char)ch;
		if (ch < 0x20 || ch == 0x7f)
			return bad(c, "control character in a string");
		if (ch == '\\' && (k = read_escape(c, unit)) == 0)
			return -1;
		if (n + k >= cap)
			return bad(c, "string too long");
		memcpy(out + n, unit, k);
		n += k;
	}
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return expect(c, "\"");
}

static int read_hex64(struct cur *c, char out[CHANGELOG_HEX])
{
	if (read_str(c, out, CHANGELOG_HEX, NULL) < 0)
		return -1;
	return is_hex64(out) ? 0 : bad(c, "not a SHA-256");
}

static int read_bool(struct cur *c, int *v)
{
	if (c->len - c->pos >= 4 && !memcmp(c->s + c->pos, "true", 4)) {
		c->pos += 4;
		*v = 1;
		return 0;
	}
	*v = 0;
	return expect(c, "false");
}

static int read_diff(struct cur *c, struct changelog_record *r)
{
	if (c->len - c->pos >= 4 && !memcmp(c->s + c->pos, "null", 4)) {
		c->pos += 4;
		return 0;
	}
	size_t cap = c->len - c->pos + 1;
	if (!(r->diff = malloc(cap)))
		return bad(c, "out of memory");
	return read_str(c, r->diff, cap, &r->diff_len);
}

static int parse_fields(struct cur *c, struct changelog_record *r)
{
	expect(c, "{\"id\":");
	read_ulong(c, &r->id);
	expect(c, ",\"time\":");
	read_str(c, r->time, sizeof(r->time), NULL);
	expect(c, ",\"event\":");
	if (read_str(c, r->event, sizeof(r->event), NULL) == 0 && !event_known(r->event))
		bad(c, "unknown event");
	expect(c, ",\"config\":");
	read_str(c, r->config, sizeof(r->config), NULL);
	expect(c, ",\"sha256\":");
	read_hex64(c, r->sha256);
	expect(c, ",\"uid\":");
	read_long(c, &r->who.uid);
	expect(c, ",\"user\":");
	read_str(c, r->who.user, sizeof(r->who.user), NULL);
	expect(c, ",\"sudo_user\":");
	read_str(c, r->who.sudo_user, sizeof(r->who.sudo_user), NULL);
	expect(c, ",\"verdict\":");
	read_str(c, r->verdict, sizeof(r->verdict), NULL);
	expect(c, ",\"unchanged\":");
	read_bool(c, &r->unchanged);
	expect(c, ",\"diff\":");
	read_diff(c, r);
	if (!c->fail && !r->unchanged != !!r->diff)
		bad(c, "a record has a diff exactly when it is not unchanged");
	expect(c, ",\"prev\":");
	read_hex64(c, r->prev);
	return c->fail ? -1 : 0;
}

/* Only what changelog_format writes is a record: the same content spelled differently (an
 * escape where a character goes, bytes that are not UTF-8) is refused, even with its hash. */
static int canonical(const char *line, size_t len, const struct changelog_record *r, char *why,
		     size_t whylen)
{
	struct changelog_record copy = *r;
	char *again;
	size_t n;
	if (changelog_format(&copy, &again, &n) < 0) {
		snprintf(why, whylen, "not a valid record (cannot be encoded again)");
		return -1;
	}
	int same = n == len && memcmp(again, line, len) == 0;
	free(again);
	if (!same)
		snprintf(why, whylen, "not a valid record (not in canonical form)");
	return same ? 0 : -1;
}

int changelog_parse(const char *line, size_t len, struct changelog_record *r, char *why,
		    size_t whylen)
{
	struct cur c = {line, len, 0, NULL, 0};
	char want[CHANGELOG_HEX];
	memset(r, 0, sizeof(*r));
	if (len > CHANGELOG_RECORD_MAX) {
		snprintf(why, whylen, "record longer than %d bytes", CHANGELOG_RECORD_MAX);
		return -1;
	}
	if (parse_fields(&c, r) == 0) {
		size_t covered = c.pos;
		expect(&c, ",\"hash\":");
		read_hex64(&c, r->hash);
		expect(&c, "}");
		if (!c.fail && c.pos != len)
			bad(&c, "text after the record");
		if (!c.fail) {
			changelog_sha256_hex(line, covered, want);
			if (strcmp(want, r->hash) != 0) {
				snprintf(why, whylen, "hash mismatch: the record was altered");
				return -1;
			}
			return canonical(line, len, r, why, whylen);
		}
	}
	snprintf(why, whylen, "not a valid record (%s at byte %zu)", c.fail, c.fail_at + 1);
	return -1;
}

int changelog_chain_next(struct changelog_chain *ch, const struct changelog_record *r, char *why,
			 size_t whylen)
{
	const char *last = ch->n ? ch->last : zero_hash;
	if (r->id != ch->n + 1) {
		snprintf(why, whylen,
			 "id %lu where %lu was expected (a record was removed, added "
			 "or moved)",
			 r->id, ch->n + 1);
		return -1;
	}
	if (strcmp(r->prev, last) != 0) {
		snprintf(why, whylen,
			 "chain broken: prev %.12s does not match the hash of record %lu (%.12s)",
			 r->prev, ch->n, last);
		return -1;
	}
	ch->n++;
	memcpy(ch->last, r->hash, CHANGELOG_HEX);
	return 0;
}

unsigned long changelog_verify(const char *data, size_t len,
			       int (*fn)(void *arg, const struct changelog_record *r), void *arg,
			       unsigned long *bad_rec, char *why, size_t whylen)
{
	struct changelog_chain ch = {0};
	size_t pos = 0;
	*bad_rec = 0;
	why[0] = '\0';
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		struct changelog_record r;
		if (!nl) {
			*bad_rec = ch.n + 1;
			snprintf(why, whylen,
				 "incomplete record (%zu bytes without an end of line)", len - pos);
			break;
		}
		int rc = changelog_parse(data + pos, (size_t)(nl - (data + pos)), &r, why, whylen);
		if (rc == 0)
			rc = changelog_chain_next(&ch, &r, why, whylen);
		int stop = rc == 0 && fn && fn(arg, &r);
		changelog_record_clear(&r);
		if (rc < 0) {
			*bad_rec = ch.n + 1;
			break;
		}
		if (stop)
			break;
		pos = (size_t)(nl - data) + 1;
	}
	return ch.n;
}
