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

#endif
