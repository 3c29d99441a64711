/* fuzz.h — what every libFuzzer target shares: REQUIRE, an invariant that must hold in every
 * build (not assert(): NDEBUG or not); when it does not, it is printed and the target aborts (a
 * crash libFuzzer reports and keeps the input of). */
#ifndef RG_FUZZ_H
#define RG_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The invariant checkers: the harness's own code is not coverage-instrumented, so its
 * comparisons cost no tracing calls and its branches do not count as the parser's coverage
 * (what the checkers call in the library stays instrumented). */
#define FUZZ_CHECKER __attribute__((no_sanitize("coverage")))

#endif
