/* fuzz_encode.c — the outbound body encoder, differentially: the input split into chunks at
 * fuzzer-chosen points gives the same bytes as one call, every output stays within
 * DELIVER_ENCODE_MAX, and the wire form is sound: only CR LF line ends, the only line that is
 * a lone "." is the last one, and undoing the stuffing gives the input with its line ends made
 * CR LF. Input: byte 0 picks the chunk size, the rest is the body. */
#include "fuzz.h"
#include "deliver/deliver.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static size_t encode_all(const char *in, size_t len, size_t step, char *out)
{
	struct deliver_encoder e;
	size_t o = 0;
	deliver_encode_init(&e);
	for (size_t i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;
		size_t w = deliver_encode(&e, in + i, n, out + o);
		REQUIRE(w <= DELIVER_ENCODE_MAX(n));
		o += w;
	}
	size_t w = deliver_encode_finish(&e, out + o);
	REQUIRE(w <= DELIVER_ENCODE_FINISH_MAX);
	return o + w;
}

/* Every CR is followed by LF and every LF preceded by CR; the first ".\r\n" line is the end. */
FUZZ_CHECKER static void check_wire(const char *w, size_t n)
{
	REQUIRE(n >= 3 && memcmp(w + n - 3, ".\r\n", 3) == 0);
	for (size_t i = 0; i < n; i++) {
		if (w[i] == '\r')
			REQUIRE(i + 1 < n && w[i + 1] == '\n');
		if (w[i] == '\n')
			REQUIRE(i > 0 && w[i - 1] == '\r');
		int line_start = i == 0 || w[i - 1] == '\n';
		if (line_start && i + 3 <= n && memcmp(w + i, ".\r\n", 3) == 0)
			REQUIRE(i + 3 == n);
	}
}

/* The reference: line ends made CR LF one byte at a time, a final CR LF for a non-empty body. */
FUZZ_CHECKER static size_t normalise(const char *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
		} else {
			out[o++] = in[i];
		}
	}
	if (o > 0 && out[o - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* The wire form without its end line and with the stuffing undone. */
FUZZ_CHECKER static size_t unstuff(const char *w, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i + 3 < n; i++) {
		if ((i == 0 || w[i - 1] == '\n') && w[i] == '.')
			continue;
		out[o++] = w[i];
	}
	return o;
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, step = (size_t)data[0] % 16 + 1;
	char *a = malloc(DELIVER_ENCODE_MAX(len) + DELIVER_ENCODE_FINISH_MAX);
	char *b = malloc(4 * len + 16); /* a chunked encoding, then reference + unstuffed */
	REQUIRE(a && b);
	size_t na = encode_all(in, len, len ? len : 1, a);
	size_t nb = encode_all(in, len, step, b);
	REQUIRE(na == nb && memcmp(a, b, na) == 0);
	check_wire(a, na);
	size_t nr = normalise(in, len, b), nu = unstuff(a, na, b + nr);
	REQUIRE(nr == nu && memcmp(b, b + nr, nr) == 0);
	free(a);
	free(b);
	return 0;
}
