/* test_base64.c — strict base64 (RFC 4648 section 10 test vectors, then what must be refused:
 * the 501 5.5.2 cases of an AUTH response). */
#include "util/base64.h"
#include "check.h"

#include <string.h>

static const struct {
	const char *plain, *b64; /* RFC 4648 section 10 */
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static const char *const refused[] = {
    "Zg",	/* no padding */
    "Zg=",	/* short padding */
    "Zm9v\r\n", /* line end inside */
    "Zm 9v",	/* space */
    "Zh==",	/* non-zero bits after the data */
    "Zm9=",	/* the same, one pad */
    "Zg==Zg==", /* padding in the middle */
    "=Zg=",	/* pad first */
    "Zg=a",	/* data after pad */
    "Zm9v*g==", /* not in the alphabet */
    "Zm9-",	/* base64url is not base64 */
};

int main(void)
{
	unsigned char out[64];
	char enc[64];
	for (size_t i = 0; i < N(vectors); i++) {
		size_t n = strlen(vectors[i].plain);
		long got =
		    util_base64_decode(vectors[i].b64, strlen(vectors[i].b64), out, sizeof(out));
		CHECK(got == (long)n && memcmp(out, vectors[i].plain, n) == 0, "decode %s",
		      vectors[i].b64);
		CHECK(util_base64_encode((const unsigned char *)vectors[i].plain, n, enc,
					 sizeof(enc)) == (long)strlen(vectors[i].b64),
		      "encode %s", vectors[i].plain);
		CHECK_STR(enc, vectors[i].b64, "encode %s", vectors[i].plain);
	}
	for (size_t i = 0; i < N(refused); i++)
		CHECK(util_base64_decode(refused[i], strlen(refused[i]), out, sizeof(out)) == -1,
		      "refused %s", esc(refused[i], strlen(refused[i])));
	CHECK(util_base64_decode("Zm9vYmFy", 8, out, 5) == -1, "does not fit");
	CHECK(util_base64_encode((const unsigned char *)"foo", 3, enc, 4) == -1, "no room for NUL");
	/* every byte value round-trips */
	unsigned char all[256], back[256];
	char big[UTIL_BASE64_LEN(256) + 1];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	long e = util_base64_encode(all, sizeof(all), big, sizeof(big));
	CHECK(e == UTIL_BASE64_LEN(256), "encode all");
	CHECK(util_base64_decode(big, (size_t)e, back, sizeof(back)) == 256 &&
		  memcmp(all, back, 256) == 0,
	      "round trip");
	return check_report("test_base64");
}
