/* fuzz_probe_catch.c — what a relay (or anyone) sends to the probe's catcher: the input is cut
 * into lines as catch.c cuts it (at LF, or a full PROBE_CATCH_LINE_MAX buffer); every reply is
 * one CRLF-terminated line with a 2xx..5xx code, tokens are only ever caught at a final dot,
 * and the token finder stays in bounds. */
#include "fuzz.h"
#include "probe/probe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RUNID "rgprobe-0123456789ab"

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct probe_catch_session s = {0};
	char out[128];
	size_t off = 0;
	(void)probe_tokens_find(p, size, RUNID);
	while (off < size) {
		const char *nl = memchr(p + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (p + off)) + 1 : size - off;
		if (n > PROBE_CATCH_LINE_MAX)
			n = PROBE_CATCH_LINE_MAX;
		uint64_t caught = s.caught;
		unsigned messages = s.messages;
		int end = probe_catch_line(&s, RUNID, p + off, n, out, sizeof(out));
		size_t len = strlen(out);
		REQUIRE(len == 0 || (len >= 6 && out[0] >= '2' && out[0] <= '5' &&
				     !strcmp(out + len - 2, "\r\n")));
		REQUIRE(s.caught == caught || s.messages == messages + 1);
		REQUIRE((s.caught & caught) == caught);
		if (end)
			break;
		off += n;
	}
	return 0;
}
