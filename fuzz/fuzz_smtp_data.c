/* fuzz_smtp_data.c — the DATA state machine, differentially: the same stream fed in chunks and
 * in one call must give the same bytes and flags, and only a real CR LF "." CR LF ends it.
 * Input: byte 0 picks the chunk size and limits, the rest is the DATA stream. */
#include "fuzz.h"
#include "smtp/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes up to and including the first end of data, or 0 if there is none. */
FUZZ_CHECKER static size_t first_end(const char *in, size_t len)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

struct run {
	struct smtp_data d;
	char *out;
	size_t outlen, consumed;
};

FUZZ_CHECKER static void feed_all(struct run *r, const char *in, size_t len)
{
	r->out = malloc(2 * len + 2);
	REQUIRE(r->out);
	r->consumed = smtp_data_feed(&r->d, in, len, r->out, &r->outlen);
	REQUIRE(r->outlen <= 2 * len + 2);
}

FUZZ_CHECKER static void feed_chunks(struct run *r, const char *in, size_t len, size_t chunk)
{
	/* Exactly the documented room, so ASan sees any overrun. */
	char *buf = malloc(2 * chunk + 2);
	r->out = malloc(2 * len + 2);
	REQUIRE(buf && r->out);
	r->outlen = r->consumed = 0;
	while (r->consumed < len && !r->d.done) {
		size_t n = len - r->consumed < chunk ? len - r->consumed : chunk, o;
		size_t c = smtp_data_feed(&r->d, in + r->consumed, n, buf, &o);
		REQUIRE(c <= n && o <= 2 * n + 2);
		REQUIRE(c == n || r->d.done);
		REQUIRE(r->outlen + o <= 2 * len + 2);
		memcpy(r->out + r->outlen, buf, o);
		r->outlen += o;
		r->consumed += c;
	}
	free(buf);
}

FUZZ_CHECKER static int same_state(const struct smtp_data *a, const struct smtp_data *b)
{
	return a->state == b->state && a->in_header == b->in_header &&
	       a->line_empty == b->line_empty && a->done == b->done &&
	       a->bad_newline == b->bad_newline && a->bad_nul == b->bad_nul &&
	       a->too_big == b->too_big && a->header_too_big == b->header_too_big &&
	       a->eight_bit == b->eight_bit && a->size == b->size &&
	       a->header_size == b->header_size;
}

FUZZ_CHECKER static int has_byte(const char *s, size_t n, int (*pred)(unsigned char))
{
	for (size_t i = 0; i < n; i++)
		if (pred((unsigned char)s[i]))
			return 1;
	return 0;
}

FUZZ_CHECKER static int is_nul(unsigned char c)
{
	return c == 0;
}

FUZZ_CHECKER static int is_high(unsigned char c)
{
	return c >= 0x80;
}

/* A CR not followed by LF, or an LF not preceded by CR; a CR at the very end is undecided. */
FUZZ_CHECKER static int has_bare_newline(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] != '\n')
			return 1;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return 1;
	}
	return 0;
}

/* Output never holds NUL, bare CR or bare LF, whatever the mode. */
FUZZ_CHECKER static void check_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		REQUIRE(s[i] != '\0');
		if (s[i] == '\r')
			REQUIRE(i + 1 < n && s[i + 1] == '\n');
		if (s[i] == '\n')
			REQUIRE(i > 0 && s[i - 1] == '\r');
	}
}

/* RFC 5321 4.5.2 reference for a clean stream: each CRLF line, leading dot removed. */
FUZZ_CHECKER static void check_unstuffed(const char *in, size_t len, const char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		const char *lf = memchr(in + i, '\n', len - i);
		REQUIRE(lf);
		size_t end = (size_t)(lf - in) + 1;
		if (in[i] == '.')
			i++;
		REQUIRE(o + (end - i) <= outlen && memcmp(out + o, in + i, end - i) == 0);
		o += end - i;
		i = end;
	}
	REQUIRE(o == outlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] & 0x1f) + 1;
	unsigned lim = data[0] >> 5; /* 0: no limits hit; else small limits */
	uint64_t max_size = lim ? 16u * lim : UINT64_MAX, max_header = lim ? 8u * lim : UINT64_MAX;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, end = first_end(in, len);
	struct run res[2];

	for (int normalise = 0; normalise < 2; normalise++) {
		struct run one, many;
		smtp_data_init(&one.d, max_size, max_header, normalise);
		smtp_data_init(&many.d, max_size, max_header, normalise);
		feed_all(&one, in, len);
		feed_chunks(&many, in, len, chunk);

		/* Differential: where the network splits the stream changes nothing. */
		REQUIRE(one.consumed == many.consumed && one.outlen == many.outlen);
		REQUIRE(memcmp(one.out, many.out, one.outlen) == 0);
		REQUIRE(same_state(&one.d, &many.d));

		/* Only CR LF "." CR LF (or "." CR LF first) ends DATA, and the first one does. */
		REQUIRE(one.d.done == (end != 0));
		REQUIRE(one.consumed == (end ? end : len));

		const char *seen = in;
		size_t nseen = one.consumed;
		REQUIRE(one.d.bad_nul == has_byte(seen, nseen, is_nul));
		REQUIRE(one.d.eight_bit == has_byte(seen, nseen, is_high));
		REQUIRE(one.d.bad_newline == (!normalise && has_bare_newline(seen, nseen)));
		check_clean(one.out, one.outlen);
		if (!one.d.too_big && !one.d.header_too_big) {
			REQUIRE(one.d.size == one.outlen);
			if (one.d.done)
				REQUIRE(one.outlen == 0 || one.out[one.outlen - 1] == '\n');
		} else {
			REQUIRE(one.d.size > max_size || one.d.header_size > max_header);
		}
		REQUIRE(one.d.header_size <= one.d.size);
		if (one.d.done && !one.d.bad_nul && !has_bare_newline(seen, nseen) &&
		    !one.d.too_big && !one.d.header_too_big)
			check_unstuffed(seen, nseen - 3, one.out, one.outlen);

		free(many.out);
		res[normalise] = one;
	}

	/* Without a bare newline the two modes agree exactly. */
	if (!res[0].d.bad_newline) {
		REQUIRE(res[0].outlen == res[1].outlen && res[0].consumed == res[1].consumed);
		REQUIRE(memcmp(res[0].out, res[1].out, res[0].outlen) == 0);
		res[1].d.normalise = 0;
		REQUIRE(same_state(&res[0].d, &res[1].d));
	}
	free(res[0].out);
	free(res[1].out);
	return 0;
}
