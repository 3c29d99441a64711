/* json_read.c — a small strict JSON reader (RFC 8259) for what the web server reads: the
 * evidence the store holds (to show it, and to write it again with the one JSON writer) and
 * the body of an API request. Recursive descent over a bounded input, nesting at most 32;
 * strings decoded to UTF-8 (\u escapes included; a lone surrogate becomes U+FFFD). Pure. */
#include "web.h"

#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 32

struct jr {
	const char *p, *end;
};

static void jr_ws(struct jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int jr_lit(struct jr *r, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return -1;
	r->p += n;
	return 0;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		*v = *v * 16 + (unsigned)d;
	}
	return 0;
}

static void put_utf8(struct util_buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
		u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	if (b)
		util_buf_add(b, u, n);
}

/* \uXXXX at r->p (after the backslash and 'u'), with a following low surrogate. */
static int jr_unicode(struct jr *r, struct util_buf *out)
{
	unsigned cp, lo;
	if (r->end - r->p < 4 || hex4(r->p, &cp) < 0)
		return -1;
	r->p += 4;
	if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
	    r->p[1] == 'u' && hex4(r->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
		r->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xd800 && cp < 0xe000)
		cp = 0xfffd;
	if (cp == 0) /* a NUL would cut the C string short: refused */
		return -1;
	put_utf8(out, cp);
	return 0;
}

/* A string at r->p (the opening quote), decoded into out (NULL: checked only). */
static int jr_string(struct jr *r, struct util_buf *out)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	if (r->p >= r->end || *r->p != '"')
		return -1;
	r->p++;
	while (r->p < r->end) {
		unsigned char c = (unsigned char)*r->p++;
		if (c == '"') {
			if (out)
				util_buf_add(out, "", 0); /* "" is a string too: NUL-terminated */
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (out)
				util_buf_add(out, (const char *)&c, 1);
			continue;
		}
		if (r->p >= r->end)
			return -1;
		char e = *r->p++;
		const char *k = e ? strchr(esc_in, e) : NULL;
		if (k) {
			if (out)
				util_buf_add(out, &esc_out[k - esc_in], 1);
		} else if (e != 'u' || jr_unicode(r, out) < 0)
			return -1;
	}
	return -1;
}

/* A number; *v its value when it is an integer that fits (is_int set), else is_int 0. */
static int jr_number(struct jr *r, int64_t *v, int *is_int)
{
	int neg = 0, digits = 0, overflow = 0;
	uint64_t acc = 0;
	*is_int = 1;
	if (r->p < r->end && *r->p == '-')
		neg = 1, r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++, digits = 1;
	else
		for (; r->p < r->end && *r->p >= '0' && *r->p <= '9'; r->p++, digits++) {
			overflow |= acc > (UINT64_C(1) << 62) / 10;
			acc = acc * 10 + (uint64_t)(*r->p - '0');
		}
	if (digits == 0)
		return -1;
	if (r->p < r->end && *r->p == '.') {
		*is_int = 0;
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return -1;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		*is_int = 0;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return -1;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (overflow)
		*is_int = 0;
	*v = neg ? -(int64_t)acc : (int64_t)acc;
	return 0;
}

static int jr_value(struct jr *r, int depth);

/* An array or object at r->p: members (object) or elements, each skipped. */
static int jr_container(struct jr *r, int depth)
{
	char close = *r->p == '{' ? '}' : ']';
	int object = close == '}';
	if (depth >= JSON_DEPTH_MAX)
		return -1;
	r->p++;
	jr_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			if (jr_string(r, NULL) < 0)
				return -1;
			jr_ws(r);
			if (r->p >= r->end || *r->p++ != ':')
				return -1;
		}
		if (jr_value(r, depth + 1) < 0)
			return -1;
		jr_ws(r);
		if (r->p >= r->end)
			return -1;
		char c = *r->p++;
		if (c == close)
			return 0;
		if (c != ',')
			return -1;
		jr_ws(r);
	}
}

/* Any value (leading space skipped), checked and skipped. */
static int jr_value(struct jr *r, int depth)
{
	int64_t v;
	int is_int;
	jr_ws(r);
	if (r->p >= r->end)
		return -1;
	switch (*r->p) {
	case '{':
	case '[':
		return jr_container(r, depth);
	case '"':
		return jr_string(r, NULL);
	case 't':
		return jr_lit(r, "true");
	case 'f':
		return jr_lit(r, "false");
	case 'n':
		return jr_lit(r, "null");
	default:
		return jr_number(r, &v, &is_int);
	}
}

/* The members of the top-level object json[0..len): fn(arg, key, r) reads the value at r->p
 * (after leading space) and returns 0, or -1 to fail. The whole input must be one object. */
typedef int (*member_fn)(void *arg, const char *key, struct jr *r);
static int jr_object(const char *json, size_t len, member_fn fn, void *arg)
{
	struct jr r = {json, json + len};
	struct util_buf key = {0};
	int rc = -1;
	jr_ws(&r);
	if (r.p >= r.end || *r.p++ != '{')
		return -1;
	jr_ws(&r);
	if (r.p < r.end && *r.p == '}') {
		r.p++;
		goto tail;
	}
	for (;;) {
		key.len = 0;
		if (jr_string(&r, &key) < 0 || key.err)
			goto out;
		jr_ws(&r);
		if (r.p >= r.end || *r.p++ != ':')
			goto out;
		jr_ws(&r);
		if (r.p >= r.end || fn(arg, key.p, &r) < 0)
			goto out;
		jr_ws(&r);
		if (r.p >= r.end)
			goto out;
		char c = *r.p++;
		if (c == '}')
			break;
		if (c != ',')
			goto out;
		jr_ws(&r);
	}
tail:
	jr_ws(&r);
	rc = r.p == r.end ? 0 : -1;
out:
	util_buf_free(&key);
	return rc;
}

/* ---- the evidence ---- */

static int take_string(struct jr *r, char **dst)
{
	struct util_buf s = {0};
	if (jr_string(r, &s) < 0 || s.err) {
		util_buf_free(&s);
		return -1;
	}
	free(*dst); /* a repeated member: the last one counts */
	*dst = s.p;
	return 0;
}

static int take_uint(struct jr *r, int64_t *dst)
{
	int is_int;
	if (jr_number(r, dst, &is_int) < 0 || !is_int || *dst < 0)
		return -1;
	return 0;
}

static int take_tests(struct jr *r, struct web_evidence *ev)
{
	for (size_t i = 0; i < ev->n_tests; i++)
		free(ev->tests[i]), ev->tests[i] = NULL;
	ev->n_tests = ev->n_tests_total = 0;
	if (*r->p++ != '[')
		return -1;
	jr_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return 0;
	}
	for (;;) {
		char *t = NULL;
		jr_ws(r);
		if (take_string(r, &t) < 0)
			return -1;
		if (ev->n_tests < WEB_EVIDENCE_TESTS_MAX)
			ev->tests[ev->n_tests++] = t;
		else
			free(t);
		ev->n_tests_total++;
		jr_ws(r);
		if (r->p >= r->end)
			return -1;
		char c = *r->p++;
		if (c == ']')
			return 0;
		if (c != ',')
			return -1;
	}
}

static int evidence_member(void *arg, const char *key, struct jr *r)
{
	struct web_evidence *ev = arg;
	int64_t v;
	if (!strcmp(key, "tests"))
		return take_tests(r, ev);
	if (!strcmp(key, "transcript"))
		return take_string(r, &ev->transcript);
	if (!strcmp(key, "scanner"))
		return take_string(r, &ev->scanner);
	if (!strcmp(key, "depth")) {
		if (take_uint(r, &v) < 0 || v > 0xffff)
			return -1;
		ev->depth = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "time"))
		return take_uint(r, &ev->time);
	return jr_value(r, 1);
}

int web_evidence_parse(const char *json, size_t len, struct web_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
	return jr_object(json, len, evidence_member, ev);
}

void web_evidence_clear(struct web_evidence *ev)
{
	for (size_t i = 0; i < ev->n_tests; i++)
		free(ev->tests[i]);
	free(ev->transcript);
	free(ev->scanner);
	memset(ev, 0, sizeof(*ev));
}

static int skip_member(void *arg, const char *key, struct jr *r)
{
	(void)arg, (void)key;
	return jr_value(r, 1);
}

int web_json_is_object(const char *json, size_t len)
{
	return jr_object(json, len, skip_member, NULL) == 0;
}

/* ---- one string member ---- */

struct get_string {
	const char *key;
	char *out;
	size_t outlen;
	int found;
};

static int string_member(void *arg, const char *key, struct jr *r)
{
	struct get_string *g = arg;
	if (strcmp(key, g->key) != 0 || g->found)
		return jr_value(r, 1);
	struct util_buf s = {0};
	int rc = jr_string(r, &s) < 0 || s.err || s.len >= g->outlen ? -1 : 0;
	if (rc == 0) {
		memcpy(g->out, s.p, s.len + 1);
		g->found = 1;
	}
	util_buf_free(&s);
	return rc;
}

int web_json_get_string(const char *json, size_t len, const char *key, char *out, size_t outlen)
{
	struct get_string g = {key, out, outlen, 0};
	if (outlen == 0 || jr_object(json, len, string_member, &g) < 0)
		return -1;
	return g.found;
}
