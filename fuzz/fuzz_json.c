/* fuzz_json.c — util_json_escape on any bytes, through an output buffer of any small size: the
 * output is bounded and NUL-terminated, has no raw control character, quote or lone backslash,
 * and the pieces, escaped again from where the last call stopped, cover the whole input. The
 * first byte picks the output buffer's size (8 to 64 bytes), the rest is the text. */
#include "fuzz.h"
#include "util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_piece(const char *out, size_t n)
{
	REQUIRE(strlen(out) == n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		REQUIRE(c >= 0x20 && c != 0x7f && c != '"');
		if (c == '\\') {
			REQUIRE(i + 1 < n && strchr("\"\\nrtu", out[i + 1]));
			i++;
		}
	}
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char out[64];
	size_t outlen = 8 + data[0] % (sizeof(out) - 7); /* 8..64: the first byte picks the size */
	const char *s = (const char *)data + 1;
	size_t left = size - 1;
	while (left > 0) {
		size_t used, n = util_json_escape(s, left, out, outlen, &used);
		REQUIRE(n < outlen && used > 0 && used <= left);
		check_piece(out, n);
		s += used;
		left -= used;
	}
	return 0;
}
