/* fuzz_probe_reply.c — replies from hostile SMTP servers, as the probe reads them: one reply
 * after the other; each spans whole lines of one code, and the name parser stays bounded. */
#include "probe/probe.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0;
	char name[64];
	while (off < size) {
		int code = 0;
		long n = probe_reply_parse(p + off, size - off, &code);
		if (n <= 0)
			break;
		assert((size_t)n <= size - off && p[off + (size_t)n - 1] == '\n');
		assert(code >= 200 && code <= 599);
		if (probe_reply_name(p + off, (size_t)n, name, sizeof(name)) == 0)
			assert(strlen(name) > 0 && strlen(name) < sizeof(name));
		off += (size_t)n;
	}
	return 0;
}
