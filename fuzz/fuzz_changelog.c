/* fuzz_changelog.c — the changelog reader on any bytes (a log file that may be corrupted):
 * changelog_verify walks it without reading out of bounds, every record it accepts re-encodes
 * to exactly the line it came from, and changelog_parse on the whole input agrees with itself. */
#include "fuzz.h"
#include "changelog/changelog.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct walk {
	const char *data;
	size_t len, pos; /* where the next accepted record's line starts */
	unsigned long n;
};

FUZZ_CHECKER static int on_record(void *arg, const struct changelog_record *r)
{
	struct walk *w = arg;
	struct changelog_record copy = *r;
	char *line;
	size_t len;
	const char *nl = memchr(w->data + w->pos, '\n', w->len - w->pos);
	REQUIRE(nl != NULL);
	REQUIRE(r->id == ++w->n);
	REQUIRE(changelog_format(&copy, &line, &len) == 0);
	REQUIRE(len == (size_t)(nl - (w->data + w->pos)) && !memcmp(line, w->data + w->pos, len));
	REQUIRE(!strcmp(copy.hash, r->hash));
	free(line);
	w->pos = (size_t)(nl - w->data) + 1;
	return 0;
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w = {(const char *)data, size, 0, 0};
	struct changelog_record r;
	unsigned long bad;
	char why[256];
	unsigned long good = changelog_verify(w.data, size, on_record, &w, &bad, why, sizeof(why));
	REQUIRE(good == w.n);
	REQUIRE(bad == 0 ? w.pos == size : bad == good + 1 && why[0]);
	if (changelog_parse(w.data, size, &r, why, sizeof(why)) == 0)
		REQUIRE(r.unchanged == (r.diff == NULL) && strlen(r.hash) == 64);
	changelog_record_clear(&r);
	return 0;
}
