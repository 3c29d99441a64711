/* base64.c — strict RFC 4648 base64: a client's AUTH response is rejected (501 5.5.2) rather
 * than guessed at. */
#include "base64.h"

#include <stdint.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of four characters: 1..3 bytes into out, or -1. pad is the number of '=' at its
 * end, allowed in the last group only. */
static int decode_group(const char *g, int last, unsigned char *out)
{
	int pad = 0, v[4];
	for (int i = 0; i < 4; i++) {
		if (g[i] == '=' && last && i >= 2) {
			pad++;
			v[i] = 0;
			continue;
		}
		if (pad || (v[i] = sextet((unsigned char)g[i])) < 0)
			return -1; /* a character after '=', or not in the alphabet */
	}
	uint32_t w =
	    (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
	if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
		return -1; /* bits beyond the data: not the canonical encoding */
	out[0] = (unsigned char)(w >> 16);
	out[1] = (unsigned char)(w >> 8);
	out[2] = (unsigned char)w;
	return 3 - pad;
}

long util_base64_decode(const char *s, size_t len, unsigned char *out, size_t outlen)
{
	size_t o = 0;
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		unsigned char b[3];
		int n = decode_group(s + i, i + 4 == len, b);
		if (n < 0 || o + (size_t)n > outlen)
			return -1;
		for (int k = 0; k < n; k++)
			out[o++] = b[k];
	}
	return (long)o;
}

long util_base64_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	if (outlen < UTIL_BASE64_LEN(n) + 1)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			w |= in[i + 2];
		out[o++] = ALPHABET[w >> 18 & 63];
		out[o++] = ALPHABET[w >> 12 & 63];
		out[o++] = i + 1 < n ? ALPHABET[w >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? ALPHABET[w & 63] : '=';
	}
	out[o] = '\0';
	return (long)o;
}
