/* fuzz_sendmail.c — sendmail's address-list parser and message rewrite on any input: addresses
 * are non-empty and bounded, and the rewritten message is CRLF lines only (no bare CR or LF),
 * with a header/body separator, and its header holds no Bcc field. */
#include "fuzz.h"
#include "server/sendmail.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static int check_addr(void *arg, const char *addr, size_t len)
{
	(void)arg;
	REQUIRE(len > 0 && len <= 1024 && addr);
	return 0;
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	REQUIRE(sendmail_addr_list(s, size, check_addr, NULL) >= 0);
	struct sendmail_prep p = {.dot_ends = size & 1,
				  .from_hdr = "From: f@h",
				  .date_hdr = "Date: d",
				  .msgid_hdr = "Message-ID: <m@h>",
				  .on_rcpt_hdr = check_addr};
	struct evbuffer *b = evbuffer_new();
	REQUIRE(b && sendmail_prepare(s, size, &p, b) == 0);
	size_t n = evbuffer_get_length(b);
	const char *out = (const char *)evbuffer_pullup(b, -1);
	const char *sep = memmem(out, n, "\r\n\r\n", 4);
	REQUIRE(sep); /* the three added (or given) fields come first, so a header always exists */
	size_t hlen = (size_t)(sep - out) + 2;
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n')
			REQUIRE(i > 0 && out[i - 1] == '\r');
	REQUIRE(strncmp(out, "Bcc:", 4) != 0 && !memmem(out, hlen, "\r\nBcc:", 6));
	evbuffer_free(b);
	return 0;
}
