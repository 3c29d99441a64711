/* fuzz_abuse_key.c — libFuzzer target for abuse_key_escape / abuse_key_unescape: an escaped
 * field never holds the separator '|', fits the buffer it was given or is refused, and unescapes
 * back to the input; unescaping any text never grows it. */
#include "abuse/abuse.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[360], esc[ABUSE_KEY_MAX], back[ABUSE_KEY_MAX];
	size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	memcpy(in, data, n);
	in[n] = '\0';
	size_t cap = n ? (size_t)data[0] % sizeof(esc) : 0; /* small buffers too */
	if (abuse_key_escape(in, esc, cap) == 0) {
		REQUIRE(strlen(esc) < cap && strchr(esc, '|') == NULL);
		memcpy(back, esc, strlen(esc) + 1);
		abuse_key_unescape(back);
		REQUIRE(strcmp(back, in) == 0);
	}
	REQUIRE(abuse_key_escape(in, esc, sizeof(esc)) == 0); /* 359 bytes fit: 3 x 359 + 1 */
	memcpy(back, in, strlen(in) + 1);
	abuse_key_unescape(back);
	REQUIRE(strlen(back) <= strlen(in));
	return 0;
}
