/* fuzz_dsn.c — the DSN generator with hostile text in every field a remote server or client
 * controls (reply, host, addresses, ORCPT, ENVID, status, original). The input is split at
 * 0x00 bytes into fields; the first byte picks the action and headers-only. Checks that the
 * report keeps its structure: the boundary from the header delimits exactly the expected
 * parts, the output ends with the closing delimiter, every line outside the original ends in
 * CRLF, is printable ASCII and shorter than 998 bytes, and the original is carried verbatim. */
#include "fuzz.h"
#include "queue/dsn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 8

FUZZ_CHECKER static void check_lines(const char *s, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r') {
			REQUIRE(i + 1 < len && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		REQUIRE((c >= 0x20 && c < 0x7f) || c == '\t');
		REQUIRE(++col < 998);
	}
}

FUZZ_CHECKER static void check_report(const char *out, size_t len, const struct dsn_report *r)
{
	/* the boundary of the report's own Content-Type (a header before it, e.g. the recipient's
	 * To:, may hold the text boundary=" and means nothing to a MIME parser) */
	const char *ct = strstr(out, "\r\nContent-Type: multipart/report");
	REQUIRE(ct);
	const char *b = strstr(ct, "boundary=\"");
	REQUIRE(b);
	b += 10;
	size_t bl = strcspn(b, "\"");
	char delim[128], close[128];
	REQUIRE(bl > 0 && bl < 80);
	memcpy(delim, "\r\n--", 4);
	memcpy(delim + 4, b, bl);
	memcpy(delim + 4 + bl, "\r\n", 3);
	memcpy(close, delim, 4 + bl);
	memcpy(close + 4 + bl, "--\r\n", 5);
	size_t dl = strlen(delim), cl = strlen(close), want = r->original ? 3 : 2;
	REQUIRE(len > cl && !memcmp(out + len - cl, close, cl));
	const char *at[3], *p = out;
	for (size_t n = 0; n < want; n++) {
		at[n] = memmem(p, (size_t)(out + len - p), delim, dl);
		REQUIRE(at[n]);
		p = at[n] + dl;
	}
	/* no further delimiter before the closing one: the original does not hold the boundary */
	REQUIRE(!memmem(p, (size_t)(out + len - p) - cl, delim, dl));
	check_lines(out, (size_t)(r->original ? at[2] + dl - out : (out + len) - out));
	if (r->original) {
		const char *body = strstr(at[2] + dl, "\r\n\r\n");
		size_t olen = r->headers_only ? dsn_header_len(r->original, r->original_len)
					      : r->original_len;
		REQUIRE(body);
		check_lines(at[2] + dl, (size_t)(body + 4 - (at[2] + dl)));
		REQUIRE((size_t)(out + len - (body + 4)) >= olen);
		REQUIRE(!memcmp(body + 4, r->original, olen));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *copy = malloc(size);
	REQUIRE(copy);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	/* fields: addr, orcpt, status, remote, diagnostic, envid, sender, original (the rest) */
	const char *f[NFIELDS] = {0};
	size_t i = 0, k = 0;
	for (; k < NFIELDS - 1 && i < size - 1; k++) {
		f[k] = copy + i;
		i += strlen(copy + i) + 1;
	}
	struct dsn_rcpt rc = {
	    f[0] ? f[0] : "a@b", f[1],	    (enum dsn_action)(data[0] % 5), f[2], f[3], f[4],
	    1700000000,		 1700100000};
	struct dsn_report r = {"mx.example.test",
			       f[6] ? f[6] : "s@x",
			       f[5],
			       1700000000,
			       1700000100,
			       "0191D5C2A1B00001",
			       &rc,
			       1,
			       NULL,
			       0,
			       data[0] & 0x80};
	if (i < size - 1) {
		r.original = copy + i;
		r.original_len = size - 1 - i;
	}
	char *out = NULL;
	size_t len = 0;
	int rc_ = dsn_format(&r, &out, &len);
	REQUIRE(rc_ == 0 || rc_ == -EINVAL);
	if (rc_ == 0)
		check_report(out, len, &r);
	free(out);
	free(copy);
	return 0;
}
