/* json_read.c — what the web server reads as JSON: the evidence the store holds (to show it,
 * and to write it again with the one JSON writer) and the body of an API request. Parsed by
 * jansson (RFC 8259, UTF-8 checked), strictly: at most WEB_JSON_MAX bytes, one object and
 * nothing after it, no repeated member, no NUL in a string (JSON_ALLOW_NUL off), nesting at
 * most WEB_JSON_DEPTH_MAX. Pure. */
#include "web.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Is v nested at most max deep (a scalar: 0, an empty object or array: 1)? */
static int json_depth_ok(json_t *v, int max)
{
	const char *key;
	json_t *e;
	size_t i;
	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (max <= 0)
		return 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) if (!json_depth_ok(e, max - 1)) return 0;
		return 1;
	}
	json_object_foreach(v, key, e) if (!json_depth_ok(e, max - 1)) return 0;
	return 1;
}

/* json[0..len) read as one JSON object (json_decref it), or NULL. */
static json_t *json_read_object(const char *json, size_t len)
{
	json_error_t err;
	if (!json || len > WEB_JSON_MAX)
		return NULL;
	json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (v && (!json_is_object(v) || !json_depth_ok(v, WEB_JSON_DEPTH_MAX))) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* ---- the evidence ---- */

/* The string member key of obj copied into *dst: 0 (absent too), or -1 not a string or no
 * memory. */
static int evidence_string(json_t *obj, const char *key, char **dst)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v) || !(*dst = strdup(json_string_value(v))))
		return -1;
	return 0;
}

/* The integer member key of obj in 0..max into *dst: 0 (absent too), or -1. */
static int evidence_uint(json_t *obj, const char *key, int64_t max, int64_t *dst)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return -1;
	*dst = json_integer_value(v);
	return 0;
}

/* "tests": an array of strings, the first WEB_EVIDENCE_TESTS_MAX kept, all counted. */
static int evidence_tests(json_t *obj, struct web_evidence *ev)
{
	json_t *a = json_object_get(obj, "tests"), *t;
	size_t i;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return -1;
	json_array_foreach(a, i, t)
	{
		if (!json_is_string(t))
			return -1;
		if (ev->n_tests < WEB_EVIDENCE_TESTS_MAX) {
			if (!(ev->tests[ev->n_tests] = strdup(json_string_value(t))))
				return -1;
			ev->n_tests++;
		}
		ev->n_tests_total++;
	}
	return 0;
}

int web_evidence_parse(const char *json, size_t len, struct web_evidence *ev)
{
	int64_t depth = 0;
	memset(ev, 0, sizeof(*ev));
	json_t *obj = json_read_object(json, len);
	if (!obj)
		return -1;
	int rc = evidence_tests(obj, ev) < 0 ||
			 evidence_string(obj, "transcript", &ev->transcript) < 0 ||
			 evidence_string(obj, "scanner", &ev->scanner) < 0 ||
			 evidence_uint(obj, "depth", 0xffff, &depth) < 0 ||
			 evidence_uint(obj, "time", INT64_MAX, &ev->time) < 0
		     ? -1
		     : 0;
	ev->depth = (unsigned)depth;
	json_decref(obj);
	return rc;
}

void web_evidence_clear(struct web_evidence *ev)
{
	for (size_t i = 0; i < ev->n_tests; i++)
		free(ev->tests[i]);
	free(ev->transcript);
	free(ev->scanner);
	memset(ev, 0, sizeof(*ev));
}

int web_json_is_object(const char *json, size_t len)
{
	json_t *obj = json_read_object(json, len);
	json_decref(obj);
	return obj != NULL;
}

/* ---- one string member ---- */

int web_json_get_string(const char *json, size_t len, const char *key, char *out, size_t outlen)
{
	json_t *obj = outlen ? json_read_object(json, len) : NULL;
	if (!obj)
		return -1;
	json_t *v = json_object_get(obj, key);
	int rc = !v ? 0 : !json_is_string(v) || json_string_length(v) >= outlen ? -1 : 1;
	if (rc == 1)
		memcpy(out, json_string_value(v), json_string_length(v) + 1);
	json_decref(obj);
	return rc;
}
