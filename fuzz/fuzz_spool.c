/* fuzz_spool.c — the spool as recovery reads it: records one after the other, each message's
 * envelope parsed; a parsed envelope must survive format → parse unchanged. */
#include "fuzz.h"
#include "queue/queue.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_envelope(const char *s, size_t len)
{
	struct spool_env e, back;
	char *text;
	size_t tlen;
	if (spool_env_parse(s, len, &e) != 0)
		return;
	if (spool_env_format(&e, &text, &tlen) == 0) {
		assert(spool_env_parse(text, tlen, &back) == 0);
		assert(back.qid == e.qid && back.time == e.time && back.n_rcpts == e.n_rcpts);
		assert(strcmp(back.from, e.from) == 0);
		for (size_t i = 0; i < e.n_rcpts; i++)
			assert(strcmp(back.rcpts[i].addr, e.rcpts[i].addr) == 0);
		spool_env_clear(&back);
		free(text);
	}
	spool_env_clear(&e);
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0;
	while (off < size) {
		struct spool_rec r;
		long long n = spool_rec_parse(p + off, size - off, &r);
		if (n <= 0)
			break;
		assert((unsigned long long)n <= size - off);
		if (r.type == SPOOL_REC_MSG) {
			assert(r.body_off + r.body_len == (uint64_t)n);
			check_envelope(p + off + r.env_off, r.env_len);
		}
		off += (size_t)n;
	}
	check_envelope(p, size); /* the envelope parser on its own, too */
	return 0;
}
