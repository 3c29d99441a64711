/* fuzz_web.c — the web page's input side on any bytes: the JSON reader (evidence and API
 * bodies), form fields and the HTML escaper. The escaper's output never holds a character that
 * could open markup or leave an attribute, nor a control byte other than TAB, LF, CR; evidence
 * that parses keeps at most WEB_EVIDENCE_TESTS_MAX tests; and rendering it gives a page without
 * a raw '<' from the input. */
#include "fuzz.h"
#include "web/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static void check_escaped(const struct util_buf *b)
{
	for (size_t i = 0; b->p && i < b->len; i++) {
		unsigned char c = (unsigned char)b->p[i];
		REQUIRE(c != '<' && c != '>' && c != '"' && c != '\'');
		REQUIRE(c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
		REQUIRE(c != 0x7f);
	}
}

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct util_buf b = {0};
	web_html_escape(&b, s, size);
	check_escaped(&b);
	util_buf_free(&b);

	struct web_evidence ev;
	if (web_evidence_parse(s, size, &ev) == 0) {
		REQUIRE(web_json_is_object(s, size)); /* evidence is a stricter object */
		REQUIRE(ev.n_tests <= WEB_EVIDENCE_TESTS_MAX && ev.n_tests <= ev.n_tests_total);
		for (size_t i = 0; i < ev.n_tests; i++)
			REQUIRE(ev.tests[i] != NULL);
	}
	web_evidence_clear(&ev);

	char out[64];
	int rc = web_json_get_string(s, size, "ip", out, sizeof(out));
	REQUIRE(rc >= -1 && rc <= 1);
	if (rc == 1)
		REQUIRE(strlen(out) < sizeof(out));
	rc = web_form_get(s, size, "ip", out, sizeof(out));
	REQUIRE(rc >= -1 && rc <= 1);

	char *text = malloc(size + 1);
	REQUIRE(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	struct web_delist_view v = {"192.0.2.1", "still-open", text, text, NULL};
	web_page_delist(&b, &v);
	REQUIRE(!b.err);
	util_buf_free(&b);
	web_json_delist(&b, &v);
	REQUIRE(!b.err);
	util_buf_free(&b);
	free(text);
	return 0;
}
