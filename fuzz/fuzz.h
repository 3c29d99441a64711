/* fuzz.h — what every libFuzzer target shares: REQUIRE, an invariant that aborts (a crash
 * libFuzzer reports and keeps the input of) when it does not hold. */
#ifndef RG_FUZZ_H
#define RG_FUZZ_H

#include <stdlib.h>

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#endif
