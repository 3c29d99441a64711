/* test_control.c — the control protocol's parsers: request lines split into words, and the
 * status line of an answer. */
#include "server/control.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

static void describe_split(const char *line, char *out, size_t len)
{
	char buf[CONTROL_LINE_MAX];
	char *argv[4];
	snprintf(buf, sizeof(buf), "%s", line);
	int argc = control_split(buf, argv, 4);
	int o = snprintf(out, len, "%d", argc);
	for (int i = 0; i < argc && o > 0 && (size_t)o < len; i++)
		o += snprintf(out + o, len - (size_t)o, " [%s]", argv[i]);
}

static void test_split(void)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
	    {"status", "1 [status]"},
	    {"queue show 0123ABC --json", "4 [queue] [show] [0123ABC] [--json]"},
	    {"  reload  ", "1 [reload]"},
	    {"a  b", "2 [a] [b]"},
	    {"", "0"},
	    {"   ", "0"},
	    {"caf\xc3\xa9 x", "2 [caf\xc3\xa9] [x]"}, /* UTF-8 is a word like any other */
	    {"a\tb", "-1"},			      /* only spaces separate words */
	    {"status\r", "-1"},
	    {"a\x7f", "-1"},
	    {"a b c d", "4 [a] [b] [c] [d]"},
	    {"a b c d e", "-2"}, /* max 4 in this test */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[256];
		describe_split(cases[i].line, got, sizeof(got));
		CHECK_STR(got, cases[i].want, "split case %zu", i);
	}
}

static void test_status(void)
{
	static const struct {
		const char *line;
		int want;
		const char *msg;
	} cases[] = {
	    {"ok", 0, NULL},
	    {"error c.conf:3:1: unknown directive 'relya'", 1,
	     "c.conf:3:1: unknown directive 'relya'"},
	    {"error x", 1, "x"},
	    {"error ", -1, NULL}, /* an error says what */
	    {"error", -1, NULL},
	    {"ok ", -1, NULL},
	    {"OK", -1, NULL},
	    {"", -1, NULL},
	    {"250 ok", -1, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *msg = NULL;
		int got = control_parse_status(cases[i].line, &msg);
		CHECK(got == cases[i].want, "status case %zu: got %d", i, got);
		if (cases[i].msg)
			CHECK_STR(msg, cases[i].msg, "status case %zu", i);
	}
}

int main(void)
{
	test_split();
	test_status();
	return check_report("test_control");
}
