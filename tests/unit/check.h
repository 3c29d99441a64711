/* check.h — a minimal unit-test harness: CHECK* record failures, check_report() sets the exit
 * status. Tests are tables of cases; each failure prints the file, line and the case. */
#ifndef RG_CHECK_H
#define RG_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		check_count++;                                                                     \
		if (!(cond)) {                                                                     \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want, ...)                                                                  \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		check_count++;                                                                     \
		if (!g_ || strcmp(g_, w_) != 0) {                                                  \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: FAIL got \"%s\" want \"%s\": ", __FILE__,          \
				__LINE__, g_ ? g_ : "(null)", w_);                                 \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static inline int check_report(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failures\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

/* A string literal and its length, so cases may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Printable form of a byte string for failure messages; two rotating buffers. */
static __attribute__((unused)) const char *esc(const char *s, size_t n)
{
	static char bufs[2][1024];
	static int which;
	char *b = bufs[which ^= 1];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < sizeof(bufs[0]); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			o += (size_t)snprintf(b + o, 5, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(b + o, 5, "\\n");
		else if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(b + o, 5, "\\x%02x", c);
		else
			b[o++] = (char)c;
	}
	b[o] = '\0';
	return b;
}

#endif
