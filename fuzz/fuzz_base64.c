/* fuzz_base64.c — util_base64_decode on any bytes: the output is bounded, and whatever decodes
 * encodes back to exactly the input (strictness: one encoding per byte string). Any bytes also
 * encode to something that decodes back to them. */
#include "fuzz.h"
#include "util/base64.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[4096], back[4096];
	static char enc[UTIL_BASE64_LEN(4096) + 1];
	if (size > 4096)
		return 0;
	long n = util_base64_decode((const char *)data, size, out, sizeof(out));
	if (n >= 0) {
		REQUIRE((size_t)n <= size / 4 * 3);
		REQUIRE(util_base64_encode(out, (size_t)n, enc, sizeof(enc)) == (long)size);
		REQUIRE(memcmp(enc, data, size) == 0);
	}
	long e = util_base64_encode(data, size, enc, sizeof(enc));
	REQUIRE(e == (long)UTIL_BASE64_LEN(size));
	REQUIRE(util_base64_decode(enc, (size_t)e, back, sizeof(back)) == (long)size);
	REQUIRE(memcmp(back, data, size) == 0);
	return 0;
}
