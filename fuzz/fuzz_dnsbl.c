/* fuzz_dnsbl.c — DNSBL answers as a hostile or broken list server may send them: the reply
 * parser (A and TXT, c-ares underneath) must stay inside its bounds, an answer with any record
 * outside 127.0.0.0/8 or in 127.255.255.0/24 must never be a listing, and the TXT reason that
 * reaches an SMTP reply must be printable ASCII without CR/LF, bounded. The first byte picks
 * the record type and a code filter. */
#include "fuzz.h"
#include "dnsbl/dnsbl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_a(const struct dns_rr_result *r, int filtered)
{
	static const struct conf_dnsbl_codes filter[] = {{0x7f000002, 0x7f000003}};
	uint32_t code;
	char why[128];
	REQUIRE(r->n_a <= DNS_RR_MAX_A);
	enum dnsbl_answer a =
	    dnsbl_classify(r, filtered ? filter : NULL, filtered ? 1 : 0, &code, why, sizeof(why));
	REQUIRE(strlen(why) < sizeof(why));
	if (r->status != DNS_OK) {
		REQUIRE(a != DNSBL_LISTED);
		return;
	}
	int bad = 0;
	for (size_t i = 0; i < r->n_a; i++)
		bad |= (r->a[i] >> 24) != 127 || (r->a[i] >> 8) == 0x7fffff;
	if (bad || r->n_a == 0)
		REQUIRE(a == DNSBL_ERROR);
	if (a == DNSBL_LISTED) {
		REQUIRE((code >> 24) == 127);
		if (filtered)
			REQUIRE(code >= 0x7f000002 && code <= 0x7f000003);
	}
}

FUZZ_CHECKER static void check_txt(const struct dns_rr_result *r)
{
	char clean[DNSBL_TXT_MAX];
	REQUIRE(strlen(r->txt) < sizeof(r->txt));
	dnsbl_txt_clean(r->txt, clean, sizeof(clean));
	size_t n = strlen(clean);
	REQUIRE(n < DNSBL_TXT_MAX);
	for (size_t i = 0; i < n; i++)
		REQUIRE(clean[i] >= 0x20 && clean[i] <= 0x7e);
	REQUIRE(n == 0 || (clean[0] != ' ' && clean[n - 1] != ' '));
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct dns_rr_result r;
	enum dns_rr_type type = data[0] & 1 ? DNS_RR_TXT : DNS_RR_A;
	dns_parse_rr_reply(data + 1, size - 1, type, &r);
	REQUIRE(strlen(r.error) < sizeof(r.error));
	if (type == DNS_RR_A)
		check_a(&r, data[0] & 2);
	else
		check_txt(&r);
	return 0;
}
