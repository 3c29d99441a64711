/* base64.h — the base64 of RFC 4648 section 4 (with padding), strict: what SMTP AUTH (RFC 4954)
 * carries. No whitespace, no missing or misplaced '=', no non-zero bits in the last character.
 * Pure. */
#ifndef RG_BASE64_H
#define RG_BASE64_H

#include <stddef.h>

/* Length of the encoding of n bytes (without NUL). */
#define UTIL_BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Decode s[0..len) into out (outlen bytes; (len / 4) * 3 is always enough). Returns the decoded
 * length, or -1 when s is not strict base64 or does not fit. The empty string decodes to 0
 * bytes. */
long util_base64_decode(const char *s, size_t len, unsigned char *out, size_t outlen);

/* Encode n bytes into out (outlen >= UTIL_BASE64_LEN(n) + 1), NUL-terminated. Returns the
 * length, or -1 when out is too small. */
long util_base64_encode(const unsigned char *in, size_t n, char *out, size_t outlen);

#endif
