/* fuzz_dnsbl_lists.c — the lists file (etc/dnsbl-lists) as an admin may mistype it: the parser
 * stays inside its bounds, an error always names "name:line:", every zone it accepts is
 * normalised and unique, every meaning's range is ordered in 127.0.0.0/8 and every delisting
 * URL is http(s). The bounce matcher runs over the same bytes as a reply text. */
#include "dnsbl/dnsbl.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_zones(const struct dnsbl_zones *z)
{
	REQUIRE(z->n <= DNSBL_LISTS_MAX);
	for (size_t i = 0; i < z->n; i++) {
		const struct dnsbl_zone *e = &z->z[i];
		REQUIRE(e->zone && strchr(e->zone, '.') && strlen(e->zone) <= 200);
		REQUIRE(dnsbl_zones_find(z, e->zone) == e);
		for (size_t k = 0; k < e->n_meanings; k++) {
			REQUIRE(e->meanings[k].lo <= e->meanings[k].hi);
			REQUIRE((e->meanings[k].lo >> 24) == 127 &&
				(e->meanings[k].hi >> 24) == 127);
			REQUIRE(e->meanings[k].text && e->meanings[k].text[0]);
		}
		REQUIRE(!e->delist || !strncmp(e->delist, "http://", 7) ||
			!strncmp(e->delist, "https://", 8));
	}
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsbl_zones z = {0};
	char err[512] = "";
	int rc = dnsbl_zones_parse((const char *)data, size, "f", &z, err, sizeof(err));
	REQUIRE(rc == 0 || !strncmp(err, "f:", 2));
	REQUIRE(strlen(err) < sizeof(err));
	if (rc == 0)
		check_zones(&z);
	char *text = malloc(size + 1), what[64];
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (dnsbl_bounce_match(550, "5.7.1", text, &z, what, sizeof(what)))
			REQUIRE(what[0] && strlen(what) < sizeof(what));
		free(text);
	}
	dnsbl_zones_free(&z);
	return 0;
}
