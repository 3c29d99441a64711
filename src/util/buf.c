/* buf.c — a growable string buffer for documents built in memory (DSNs, changelog records, JSON
 * evidence): appends never fail loudly, the first error sticks and is read once at the end. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL. 0, or -1 with b->err set. */
static int buf_reserve(struct util_buf *b, size_t n)
{
	if (b->err)
		return -1;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return -1;
	}
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void util_buf_add(struct util_buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void util_buf_printf(struct util_buf *b, const char *fmt, ...)
{
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = b->err ? b->err : -EINVAL;
	} else if (buf_reserve(b, (size_t)n) == 0) {
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
}

void util_buf_json_string(struct util_buf *b, const char *s, size_t len)
{
	char piece[512];
	util_buf_add(b, "\"", 1);
	while (s && len > 0 && !b->err) {
		size_t used, n = util_json_escape(s, len, piece, sizeof(piece), &used);
		util_buf_add(b, piece, n);
		if (used == 0)
			break;
		s += used;
		len -= used;
	}
	util_buf_add(b, "\"", 1);
}

void util_buf_free(struct util_buf *b)
{
	free(b->p);
	*b = (struct util_buf){0};
}
