/* fuzz_smtp_reply.c — replies from hostile SMTP servers, as the delivery client and the probe
 * read them: one reply after the other; each spans whole lines of one code, its text stays
 * bounded and printable, the enhanced code has the reply's class, EHLO parsing and the
 * probe's name parser stay in bounds. */
#include "fuzz.h"
#include "deliver/deliver.h"
#include "probe/probe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_reply(const char *p, size_t n, const struct deliver_reply *r)
{
	REQUIRE(p[n - 1] == '\n');
	REQUIRE(r->code >= 200 && r->code <= 599);
	REQUIRE(strlen(r->text) < sizeof(r->text) && strlen(r->enh) < sizeof(r->enh));
	for (const char *t = r->text; *t; t++)
		REQUIRE(*t >= 0x20 && *t < 0x7f);
	REQUIRE(!r->enh[0] || r->enh[0] == '0' + r->code / 100);
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0;
	char name[64];
	while (off < size) {
		struct deliver_reply r;
		struct deliver_ehlo e;
		long n = deliver_reply_parse(p + off, size - off, &r);
		if (n <= 0)
			break;
		REQUIRE((size_t)n <= size - off);
		check_reply(p + off, (size_t)n, &r);
		deliver_ehlo_parse(p + off, (size_t)n, &e);
		REQUIRE(e.size == 0 || (e.ext & DELIVER_EXT_SIZE));
		if (probe_reply_name(p + off, (size_t)n, name, sizeof(name)) == 0)
			REQUIRE(strlen(name) > 0 && strlen(name) < sizeof(name));
		off += (size_t)n;
	}
	return 0;
}
