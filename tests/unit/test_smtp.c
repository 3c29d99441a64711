/* test_smtp.c — the SMTP parsers: line splitting, command lines, MAIL/RCPT parameters and the
 * DATA stream (dot-unstuffing, end detection, SMTP smuggling). */
#include "smtp/parse.h"
#include "check.h"

#include <stdint.h>

static void test_line_split(void)
{
	static const struct {
		const char *why;
		const char *in;
		size_t len, max;
		enum smtp_line_status st;
		size_t linelen, consumed; /* checked unless MORE / TOO_LONG */
	} cases[] = {
	    {"RFC 5321 2.3.8: CRLF line", S("HELO a\r\n"), 512, SMTP_LINE_OK, 6, 8},
	    {"RFC 5321 4.1.1.5: empty line", S("\r\n"), 512, SMTP_LINE_OK, 0, 2},
	    {"partial line", S("HELO a"), 512, SMTP_LINE_MORE, 0, 0},
	    {"partial line, CR not yet followed by LF", S("HELO a\r"), 512, SMTP_LINE_MORE, 0, 0},
	    {"nothing received yet", S(""), 512, SMTP_LINE_MORE, 0, 0},
	    {"RFC 5321 4.5.3.1.4: exactly max, CRLF counted", S("HELO a\r\n"), 8, SMTP_LINE_OK, 6,
	     8},
	    {"RFC 5321 4.5.3.1.4: one over max", S("HELO a\r\n"), 7, SMTP_LINE_TOO_LONG, 0, 0},
	    {"max bytes without LF", S("HELO ab"), 7, SMTP_LINE_TOO_LONG, 0, 0},
	    {"max-1 bytes without LF: could still end", S("HELO a"), 7, SMTP_LINE_MORE, 0, 0},
	    {"over max, LF beyond the limit", S("HELO abcdef\r\n"), 8, SMTP_LINE_TOO_LONG, 0, 0},
	    {"RFC 5321 2.3.8: bare LF", S("HELO a\n"), 512, SMTP_LINE_BARE_LF, 6, 7},
	    {"bare LF alone", S("\n"), 512, SMTP_LINE_BARE_LF, 0, 1},
	    {"bare LF at max", S("HELO a\n"), 7, SMTP_LINE_BARE_LF, 6, 7},
	    {"bare CR inside (smuggling: \\r as a line end)", S("HE\rLO\r\n"), 512,
	     SMTP_LINE_BARE_CR, 5, 7},
	    {"CR CR LF", S("HELO a\r\r\n"), 512, SMTP_LINE_BARE_CR, 7, 9},
	    {"NUL inside (C-string truncation)", S("HE\0LO\r\n"), 512, SMTP_LINE_NUL, 5, 7},
	    {"NUL at the start", S("\0\r\n"), 512, SMTP_LINE_NUL, 1, 3},
	    {"RFC 2920 pipelining: first line only", S("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"), 512,
	     SMTP_LINE_OK, 15, 17},
	    {"RFC 2920: first line complete, second partial", S("RSET\r\nNO"), 512, SMTP_LINE_OK, 4,
	     6},
	    {"pipelined, first line bare LF", S("RSET\nQUIT\r\n"), 512, SMTP_LINE_BARE_LF, 4, 5},
	};
	for (size_t i = 0; i < N(cases); i++) {
		size_t linelen = 12345, consumed = 12345;
		enum smtp_line_status st =
		    smtp_line_split(cases[i].in, cases[i].len, cases[i].max, &linelen, &consumed);
		CHECK(st == cases[i].st, "%s: status %d want %d", cases[i].why, (int)st,
		      (int)cases[i].st);
		if (st != cases[i].st || st == SMTP_LINE_MORE || st == SMTP_LINE_TOO_LONG)
			continue;
		CHECK(linelen == cases[i].linelen && consumed == cases[i].consumed,
		      "%s: linelen %zu consumed %zu", cases[i].why, linelen, consumed);
	}

	/* RFC 5321 4.5.3.1.4: the real limit, 512 octets including CRLF. */
	static char big[600];
	size_t linelen, consumed;
	memset(big, 'a', sizeof(big));
	memcpy(big + 510, "\r\n", 2);
	CHECK(smtp_line_split(big, 512, 512, &linelen, &consumed) == SMTP_LINE_OK &&
		  linelen == 510 && consumed == 512,
	      "512-octet line");
	memset(big, 'a', sizeof(big));
	memcpy(big + 511, "\r\n", 2);
	CHECK(smtp_line_split(big, 513, 512, &linelen, &consumed) == SMTP_LINE_TOO_LONG,
	      "513-octet line");
	CHECK(smtp_line_split(big, sizeof(big), 512, &linelen, &consumed) == SMTP_LINE_TOO_LONG,
	      "600 bytes, no LF in the first 512");
}

static const char *const verb_names[] = {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET",
					 "NOOP", "QUIT", "HELP", "VRFY", "EXPN"};
static const enum smtp_verb verb_values[] = {
    SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT, SMTP_VERB_DATA, SMTP_VERB_RSET,
    SMTP_VERB_NOOP, SMTP_VERB_QUIT, SMTP_VERB_HELP, SMTP_VERB_VRFY, SMTP_VERB_EXPN};

static void test_command_case(void)
{
	/* RFC 5321 2.4: verbs are case-insensitive. Upper, lower and mixed for every verb. */
	for (size_t i = 0; i < N(verb_names); i++) {
		for (int variant = 0; variant < 3; variant++) {
			char line[64];
			for (int k = 0; k < 4; k++) {
				char c = verb_names[i][k];
				int lower = variant == 1 || (variant == 2 && k % 2 == 1);
				line[k] = lower ? (char)(c - 'A' + 'a') : c;
			}
			const char *rest = verb_values[i] == SMTP_VERB_MAIL   ? " FROM:<a@b>"
					   : verb_values[i] == SMTP_VERB_RCPT ? " To:<a@b>"
									      : " x";
			size_t len = 4 + strlen(rest);
			memcpy(line + 4, rest, strlen(rest) + 1);
			struct smtp_command cmd;
			enum smtp_cmd_status st = smtp_command_parse(line, len, &cmd);
			const char *want =
			    verb_values[i] == SMTP_VERB_MAIL || verb_values[i] == SMTP_VERB_RCPT
				? "<a@b>"
				: "x";
			CHECK(st == SMTP_CMD_OK && cmd.verb == verb_values[i] &&
				  cmd.arg_len == strlen(want) &&
				  memcmp(cmd.arg, want, cmd.arg_len) == 0,
			      "case variant \"%s\": status %d verb %d", line, (int)st,
			      (int)cmd.verb);
		}
	}
}

static void test_command_parse(void)
{
	static const struct {
		const char *why;
		const char *line;
		enum smtp_cmd_status st;
		enum smtp_verb verb;
		const char *arg; /* checked when st is OK */
	} cases[] = {
	    {"RFC 5321 4.1.1.2", "MAIL FROM:<a@b>", SMTP_CMD_OK, SMTP_VERB_MAIL, "<a@b>"},
	    {"space after the colon, tolerated", "MAIL FROM: <a@b>", SMTP_CMD_OK, SMTP_VERB_MAIL,
	     "<a@b>"},
	    {"RFC 5321 2.4: keyword case-insensitive", "mail from:<a@b>", SMTP_CMD_OK,
	     SMTP_VERB_MAIL, "<a@b>"},
	    {"two spaces after the verb", "MAIL  FROM:<a@b>", SMTP_CMD_OK, SMTP_VERB_MAIL, "<a@b>"},
	    {"RFC 5321 4.1.2: null reverse-path", "MAIL FROM:<>", SMTP_CMD_OK, SMTP_VERB_MAIL,
	     "<>"},
	    {"path and parameters kept together", "MAIL FROM:<a@b> SIZE=10", SMTP_CMD_OK,
	     SMTP_VERB_MAIL, "<a@b> SIZE=10"},
	    {"empty path is the path parser's business", "MAIL FROM:", SMTP_CMD_OK, SMTP_VERB_MAIL,
	     ""},
	    {"trailing spaces trimmed", "MAIL FROM:<a@b>   ", SMTP_CMD_OK, SMTP_VERB_MAIL, "<a@b>"},
	    {"RFC 5321 4.1.1.2: no colon", "MAIL FROM <a@b>", SMTP_CMD_SYNTAX, SMTP_VERB_MAIL,
	     NULL},
	    {"MAIL alone", "MAIL", SMTP_CMD_SYNTAX, SMTP_VERB_MAIL, NULL},
	    {"MAIL and a space", "MAIL ", SMTP_CMD_SYNTAX, SMTP_VERB_MAIL, NULL},
	    {"MAIL TO: is not MAIL FROM:", "MAIL TO:<a@b>", SMTP_CMD_SYNTAX, SMTP_VERB_MAIL, NULL},
	    {"MAIL FROM with space before colon", "MAIL FROM :<a@b>", SMTP_CMD_SYNTAX,
	     SMTP_VERB_MAIL, NULL},
	    {"RFC 5321 4.1.1.3", "RCPT TO:<x>", SMTP_CMD_OK, SMTP_VERB_RCPT, "<x>"},
	    {"RCPT, space after the colon", "RCPT TO: <x>", SMTP_CMD_OK, SMTP_VERB_RCPT, "<x>"},
	    {"RCPT without TO:", "RCPT <x>", SMTP_CMD_SYNTAX, SMTP_VERB_RCPT, NULL},
	    {"RCPT FROM:", "RCPT FROM:<x>", SMTP_CMD_SYNTAX, SMTP_VERB_RCPT, NULL},
	    {"RCPT alone", "RCPT", SMTP_CMD_SYNTAX, SMTP_VERB_RCPT, NULL},
	    {"unknown verb", "FOO", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	    {"verb prefix is not the verb", "MAILX", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	    {"verb prefix with argument", "MAILX FROM:<a@b>", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN,
	     NULL},
	    {"empty line", "", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	    {"HELO without argument (arg rule is the caller's)", "HELO", SMTP_CMD_OK,
	     SMTP_VERB_HELO, ""},
	    {"HELOX", "HELOX", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	    {"three letters", "HEL", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	    {"RFC 5321 4.1.1: SP separates, leading space", " HELO a", SMTP_CMD_UNKNOWN,
	     SMTP_VERB_UNKNOWN, NULL},
	    {"RFC 5321 4.1.1: TAB is not SP", "HELO\ta", SMTP_CMD_UNKNOWN, SMTP_VERB_UNKNOWN, NULL},
	    {"cross-protocol: HTTP request line", "POST / HTTP/1.1", SMTP_CMD_UNKNOWN,
	     SMTP_VERB_UNKNOWN, NULL},
	    {"HELO argument trimmed", "HELO example.test   ", SMTP_CMD_OK, SMTP_VERB_HELO,
	     "example.test"},
	    {"EHLO leading spaces skipped", "EHLO   example.test", SMTP_CMD_OK, SMTP_VERB_EHLO,
	     "example.test"},
	    {"DATA with trailing space", "DATA ", SMTP_CMD_OK, SMTP_VERB_DATA, ""},
	    {"QUIT", "QUIT", SMTP_CMD_OK, SMTP_VERB_QUIT, ""},
	    {"RFC 5321 4.1.1.9: NOOP with a string", "NOOP hello there", SMTP_CMD_OK,
	     SMTP_VERB_NOOP, "hello there"},
	    {"RFC 5321 4.1.1.6", "VRFY postmaster", SMTP_CMD_OK, SMTP_VERB_VRFY, "postmaster"},
	    {"RFC 5321 4.1.1.7", "EXPN staff", SMTP_CMD_OK, SMTP_VERB_EXPN, "staff"},
	    {"RFC 5321 4.1.1.8", "HELP MAIL", SMTP_CMD_OK, SMTP_VERB_HELP, "MAIL"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_command cmd;
		size_t len = strlen(cases[i].line);
		enum smtp_cmd_status st = smtp_command_parse(cases[i].line, len, &cmd);
		CHECK(st == cases[i].st && cmd.verb == cases[i].verb,
		      "%s: \"%s\" status %d verb %d", cases[i].why, cases[i].line, (int)st,
		      (int)cmd.verb);
		CHECK(cmd.arg >= cases[i].line && cmd.arg + cmd.arg_len <= cases[i].line + len,
		      "%s: arg outside the line", cases[i].why);
		if (st == SMTP_CMD_OK && cases[i].arg)
			CHECK(cmd.arg_len == strlen(cases[i].arg) &&
				  memcmp(cmd.arg, cases[i].arg, cmd.arg_len) == 0,
			      "%s: arg \"%s\" want \"%s\"", cases[i].why, esc(cmd.arg, cmd.arg_len),
			      cases[i].arg);
	}

	/* The argument is bounded by len, not by a NUL: the line need not be a C string. */
	struct smtp_command cmd;
	CHECK(smtp_command_parse("HELO abcXYZ", 8, &cmd) == SMTP_CMD_OK && cmd.arg_len == 3 &&
		  memcmp(cmd.arg, "abc", 3) == 0,
	      "len bounds the argument");
	CHECK(smtp_command_parse("MAIL FROM:<a>", 8, &cmd) == SMTP_CMD_SYNTAX,
	      "len cuts \"FROM:\" short");
}

static void test_arg_rules(void)
{
	/* RFC 5321 4.1.1: which verbs take an argument (501 on mismatch). */
	static const struct {
		enum smtp_verb verb;
		enum smtp_arg_rule rule;
	} cases[] = {
	    {SMTP_VERB_HELO, SMTP_ARG_REQUIRED},    /* 4.1.1.1 */
	    {SMTP_VERB_EHLO, SMTP_ARG_REQUIRED},    /* 4.1.1.1 */
	    {SMTP_VERB_MAIL, SMTP_ARG_REQUIRED},    /* 4.1.1.2 */
	    {SMTP_VERB_RCPT, SMTP_ARG_REQUIRED},    /* 4.1.1.3 */
	    {SMTP_VERB_DATA, SMTP_ARG_NONE},	    /* 4.1.1.4 */
	    {SMTP_VERB_RSET, SMTP_ARG_NONE},	    /* 4.1.1.5 */
	    {SMTP_VERB_NOOP, SMTP_ARG_OPTIONAL},    /* 4.1.1.9 */
	    {SMTP_VERB_QUIT, SMTP_ARG_NONE},	    /* 4.1.1.10 */
	    {SMTP_VERB_HELP, SMTP_ARG_OPTIONAL},    /* 4.1.1.8 */
	    {SMTP_VERB_VRFY, SMTP_ARG_REQUIRED},    /* 4.1.1.6 */
	    {SMTP_VERB_EXPN, SMTP_ARG_REQUIRED},    /* 4.1.1.7 */
	    {SMTP_VERB_UNKNOWN, SMTP_ARG_OPTIONAL}, /* answered 500 before the rule matters */
	};
	for (size_t i = 0; i < N(cases); i++)
		CHECK(smtp_verb_arg_rule(cases[i].verb) == cases[i].rule, "arg rule of verb %d",
		      (int)cases[i].verb);
}

static void test_mail_params(void)
{
	static const struct {
		const char *why;
		const char *s;
		enum smtp_param_status st;
		int has_size;
		uint64_t size;
		int body_8bit, smtputf8; /* fields checked when st is OK */
	} cases[] = {
	    {"no parameters", "", SMTP_PARAM_OK, 0, 0, 0, 0},
	    {"only spaces", "   ", SMTP_PARAM_OK, 0, 0, 0, 0},
	    {"RFC 1870 4", "SIZE=123", SMTP_PARAM_OK, 1, 123, 0, 0},
	    {"RFC 1870: SIZE=0 means unknown", "SIZE=0", SMTP_PARAM_OK, 1, 0, 0, 0},
	    {"RFC 5321 2.4: keyword case-insensitive", "size=5", SMTP_PARAM_OK, 1, 5, 0, 0},
	    {"RFC 1870: SIZE needs a value", "SIZE", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SIZE with empty value", "SIZE=", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SIZE not a number", "SIZE=abc", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SIZE trailing junk", "SIZE=12a", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SIZE negative", "SIZE=-1", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SIZE with sign", "SIZE=+1", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"RFC 5321 4.1.1.2: parameter given twice", "SIZE=1 SIZE=2", SMTP_PARAM_SYNTAX, 0, 0, 0,
	     0},
	    {"SIZE overflow, 23 digits", "SIZE=99999999999999999999999", SMTP_PARAM_SYNTAX, 0, 0, 0,
	     0},
	    {"SIZE overflow, 2^64", "SIZE=18446744073709551616", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SIZE large but in range", "SIZE=1844674407370955160", SMTP_PARAM_OK, 1,
	     1844674407370955160u, 0, 0},
	    {"RFC 6152 2", "BODY=8BITMIME", SMTP_PARAM_OK, 0, 0, 1, 0},
	    {"RFC 6152: value case-insensitive", "body=8bitmime", SMTP_PARAM_OK, 0, 0, 1, 0},
	    {"RFC 6152: 7BIT", "BODY=7BIT", SMTP_PARAM_OK, 0, 0, 0, 0},
	    {"RFC 3030 BINARYMIME is not advertised", "BODY=BINARYMIME", SMTP_PARAM_SYNTAX, 0, 0, 0,
	     0},
	    {"BODY without value", "BODY", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"BODY empty value", "BODY=", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"RFC 6531 3.4", "SMTPUTF8", SMTP_PARAM_OK, 0, 0, 0, 1},
	    {"RFC 6531: SMTPUTF8 takes no value", "SMTPUTF8=x", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"SMTPUTF8 with empty value", "SMTPUTF8=", SMTP_PARAM_SYNTAX, 0, 0, 0, 0},
	    {"RFC 5321 4.1.1.2: unknown parameter (555)", "FOO=bar", SMTP_PARAM_UNKNOWN, 0, 0, 0,
	     0},
	    {"RFC 4954 AUTH not advertised", "AUTH=<>", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0},
	    {"empty keyword", "=5", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0},
	    {"prefix of a keyword", "SIZ=5", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0},
	    {"unknown after a good one", "SIZE=1 FOO", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0},
	    {"several", "SIZE=100 BODY=8BITMIME SMTPUTF8", SMTP_PARAM_OK, 1, 100, 1, 1},
	    {"leading, inner and trailing spaces", "   SIZE=5   BODY=7BIT  ", SMTP_PARAM_OK, 1, 5,
	     0, 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_mail_params p;
		enum smtp_param_status st =
		    smtp_mail_params_parse(cases[i].s, strlen(cases[i].s), &p);
		CHECK(st == cases[i].st, "%s: \"%s\" status %d", cases[i].why, cases[i].s, (int)st);
		if (st == SMTP_PARAM_OK && cases[i].st == SMTP_PARAM_OK)
			CHECK(p.has_size == cases[i].has_size && p.size == cases[i].size &&
				  p.body_8bit == cases[i].body_8bit &&
				  p.smtputf8 == cases[i].smtputf8,
			      "%s: has_size %d size %llu 8bit %d utf8 %d", cases[i].why, p.has_size,
			      (unsigned long long)p.size, p.body_8bit, p.smtputf8);
	}

	struct smtp_mail_params p;
	CHECK(smtp_mail_params_parse("SIZE=12 FOO", 7, &p) == SMTP_PARAM_OK && p.size == 12,
	      "len bounds the parameters");
}

/* RFC 3461 4.3, 4.4: RET and ENVID on MAIL. */
static void test_mail_dsn_params(void)
{
	char long_envid[200];
	static const struct {
		const char *why;
		const char *s;
		enum smtp_param_status st;
		int ret;
		const char *envid; /* expected, NULL when not given */
	} cases[] = {
	    {"RFC 3461 4.3 RET=FULL", "RET=FULL", SMTP_PARAM_OK, SMTP_RET_FULL, NULL},
	    {"RET=HDRS", "RET=HDRS", SMTP_PARAM_OK, SMTP_RET_HDRS, NULL},
	    {"RET value case-insensitive", "ret=hdrs", SMTP_PARAM_OK, SMTP_RET_HDRS, NULL},
	    {"RET unknown value", "RET=BODY", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"RET without value", "RET", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"RET empty", "RET=", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"RET twice", "RET=FULL RET=HDRS", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"RET twice, same value", "RET=FULL RET=FULL", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"RFC 3461 4.4 ENVID", "ENVID=QQ314159", SMTP_PARAM_OK, 0, "QQ314159"},
	    {"ENVID with hexchars", "ENVID=a+2Bb+3D", SMTP_PARAM_OK, 0, "a+2Bb+3D"},
	    {"ENVID keeps its case", "envid=AbC", SMTP_PARAM_OK, 0, "AbC"},
	    {"ENVID lower-case hex", "ENVID=a+2b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID bad hexchar", "ENVID=a+", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID decodes to CR LF", "ENVID=a+0D+0Ab", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID decodes to NUL", "ENVID=+00", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID empty", "ENVID=", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID without value", "ENVID", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID twice", "ENVID=a ENVID=b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ENVID raw 8-bit", "ENVID=\xc3\xb6", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"all together", "SIZE=10 RET=HDRS ENVID=id1 BODY=8BITMIME", SMTP_PARAM_OK,
	     SMTP_RET_HDRS, "id1"},
	    {"unknown after DSN ones (555)", "RET=FULL FOO=1", SMTP_PARAM_UNKNOWN, 0, NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_mail_params p;
		enum smtp_param_status st =
		    smtp_mail_params_parse(cases[i].s, strlen(cases[i].s), &p);
		CHECK(st == cases[i].st, "%s: \"%s\" status %d", cases[i].why, cases[i].s, (int)st);
		if (st != SMTP_PARAM_OK || cases[i].st != SMTP_PARAM_OK)
			continue;
		CHECK(p.ret == cases[i].ret, "%s: ret %d", cases[i].why, p.ret);
		if (cases[i].envid)
			CHECK(p.envid && p.envid_len == strlen(cases[i].envid) &&
				  !memcmp(p.envid, cases[i].envid, p.envid_len),
			      "%s: envid", cases[i].why);
		else
			CHECK(p.envid == NULL, "%s: no envid", cases[i].why);
	}
	struct smtp_mail_params p;
	memcpy(long_envid, "ENVID=", 6);
	memset(long_envid + 6, 'x', 100);
	CHECK(smtp_mail_params_parse(long_envid, 106, &p) == SMTP_PARAM_OK && p.envid_len == 100,
	      "RFC 3461 4.4: ENVID of 100 characters");
	long_envid[106] = 'x';
	CHECK(smtp_mail_params_parse(long_envid, 107, &p) == SMTP_PARAM_SYNTAX,
	      "ENVID of 101 characters");
}

/* RFC 3461 4.1, 4.2: NOTIFY and ORCPT on RCPT. */
static void test_rcpt_params(void)
{
	enum {
		NV = SMTP_NOTIFY_NEVER,
		SU = SMTP_NOTIFY_SUCCESS,
		FA = SMTP_NOTIFY_FAILURE,
		DE = SMTP_NOTIFY_DELAY
	};
	static const struct {
		const char *why;
		const char *s;
		enum smtp_param_status st;
		unsigned notify;
		const char *orcpt;
	} cases[] = {
	    {"no parameters", "", SMTP_PARAM_OK, 0, NULL},
	    {"only spaces", "  ", SMTP_PARAM_OK, 0, NULL},
	    {"RFC 3461 4.1 NEVER", "NOTIFY=NEVER", SMTP_PARAM_OK, NV, NULL},
	    {"SUCCESS", "NOTIFY=SUCCESS", SMTP_PARAM_OK, SU, NULL},
	    {"list", "NOTIFY=SUCCESS,FAILURE,DELAY", SMTP_PARAM_OK, SU | FA | DE, NULL},
	    {"list in another order", "NOTIFY=DELAY,FAILURE", SMTP_PARAM_OK, FA | DE, NULL},
	    {"case-insensitive", "notify=failure,Delay", SMTP_PARAM_OK, FA | DE, NULL},
	    {"NEVER with another", "NOTIFY=NEVER,FAILURE", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"another with NEVER", "NOTIFY=DELAY,NEVER", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"same kind twice", "NOTIFY=FAILURE,FAILURE", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"empty item", "NOTIFY=FAILURE,,DELAY", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"trailing comma", "NOTIFY=FAILURE,", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"leading comma", "NOTIFY=,FAILURE", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"unknown kind", "NOTIFY=ALWAYS", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"empty", "NOTIFY=", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"no value", "NOTIFY", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"NOTIFY twice", "NOTIFY=FAILURE NOTIFY=DELAY", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"RFC 3461 4.2 ORCPT", "ORCPT=rfc822;a@b.example", SMTP_PARAM_OK, 0,
	     "rfc822;a@b.example"},
	    {"ORCPT with hexchars", "ORCPT=rfc822;a+2Bx@b", SMTP_PARAM_OK, 0, "rfc822;a+2Bx@b"},
	    {"ORCPT other addr-type", "ORCPT=utf-8;j+5Cx{F6}rg@b", SMTP_PARAM_OK, 0,
	     "utf-8;j+5Cx{F6}rg@b"},
	    {"ORCPT without ';'", "ORCPT=a@b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ORCPT empty addr-type", "ORCPT=;a@b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ORCPT addr-type not an atom", "ORCPT=rfc(822);a@b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ORCPT empty address", "ORCPT=rfc822;", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ORCPT bad xtext", "ORCPT=rfc822;a+zz@b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ORCPT decodes to LF", "ORCPT=rfc822;a+0A@b", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"ORCPT twice", "ORCPT=rfc822;a@b ORCPT=rfc822;c@d", SMTP_PARAM_SYNTAX, 0, NULL},
	    {"both", " NOTIFY=NEVER ORCPT=rfc822;a@b ", SMTP_PARAM_OK, NV, "rfc822;a@b"},
	    {"unknown (555)", "NOTIFY=NEVER FOO", SMTP_PARAM_UNKNOWN, 0, NULL},
	    {"MAIL parameter on RCPT (555)", "RET=FULL", SMTP_PARAM_UNKNOWN, 0, NULL},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct smtp_rcpt_params p;
		enum smtp_param_status st =
		    smtp_rcpt_params_parse(cases[i].s, strlen(cases[i].s), &p);
		CHECK(st == cases[i].st, "%s: \"%s\" status %d", cases[i].why, cases[i].s, (int)st);
		if (st != SMTP_PARAM_OK || cases[i].st != SMTP_PARAM_OK)
			continue;
		CHECK(p.notify == cases[i].notify, "%s: notify %u", cases[i].why, p.notify);
		if (cases[i].orcpt)
			CHECK(p.orcpt && p.orcpt_len == strlen(cases[i].orcpt) &&
				  !memcmp(p.orcpt, cases[i].orcpt, p.orcpt_len),
			      "%s: orcpt", cases[i].why);
		else
			CHECK(p.orcpt == NULL, "%s: no orcpt", cases[i].why);
	}
	char orcpt[600];
	struct smtp_rcpt_params p;
	memcpy(orcpt, "ORCPT=rfc822;", 13);
	memset(orcpt + 13, 'x', 500 - 7);
	CHECK(smtp_rcpt_params_parse(orcpt, 506, &p) == SMTP_PARAM_OK && p.orcpt_len == 500,
	      "RFC 3461 4.2: ORCPT of 500 characters");
	orcpt[506] = 'x';
	CHECK(smtp_rcpt_params_parse(orcpt, 507, &p) == SMTP_PARAM_SYNTAX, "ORCPT of 501");
	CHECK(smtp_rcpt_params_parse("NOTIFY=NEVER FOO", 12, &p) == SMTP_PARAM_OK &&
		  p.notify == SMTP_NOTIFY_NEVER,
	      "len bounds the parameters");
}

/* ---- DATA ---- */

#define DATA_MAX_IN 256
#define DEF_MAX_SIZE (1u << 20)
#define DEF_MAX_HEADER (1u << 16)

struct data_result {
	struct smtp_data d;
	char out[2 * DATA_MAX_IN + 2];
	size_t outlen, consumed;
};

/* Feed in chunks of at most chunk bytes (SIZE_MAX: all at once), each call with an output
 * buffer of exactly the documented 2*len+2, and collect the output. */
static void data_run(const char *in, size_t len, int normalise, uint64_t max_size,
		     uint64_t max_header, size_t chunk, struct data_result *r)
{
	char buf[2 * DATA_MAX_IN + 2];
	smtp_data_init(&r->d, max_size, max_header, normalise);
	r->outlen = r->consumed = 0;
	while (r->consumed < len && !r->d.done) {
		size_t n = len - r->consumed < chunk ? len - r->consumed : chunk;
		size_t o = SIZE_MAX;
		size_t c = smtp_data_feed(&r->d, in + r->consumed, n, buf, &o);
		CHECK(o <= 2 * n + 2, "output %zu for %zu input bytes", o, n);
		CHECK(c == n || (c < n && r->d.done), "consumed %zu of %zu without done", c, n);
		if (o > 2 * n + 2 || r->outlen + o > sizeof(r->out) || c > n)
			return;
		memcpy(r->out + r->outlen, buf, o);
		r->outlen += o;
		r->consumed += c;
	}
}

struct data_want {
	const char *out;
	size_t outlen;
	size_t consumed;
	int done, bad_newline, bad_nul, eight_bit, too_big, header_too_big;
	int check_hdr;
	uint64_t hdr;
};

static void data_check(const char *why, const char *mode, const struct data_result *r,
		       const struct data_want *w)
{
	CHECK(r->outlen == w->outlen && memcmp(r->out, w->out, w->outlen) == 0,
	      "%s (%s): output \"%s\" want \"%s\"", why, mode, esc(r->out, r->outlen),
	      esc(w->out, w->outlen));
	CHECK(r->consumed == w->consumed, "%s (%s): consumed %zu want %zu", why, mode, r->consumed,
	      w->consumed);
	CHECK(r->d.done == w->done && r->d.bad_newline == w->bad_newline &&
		  r->d.bad_nul == w->bad_nul && r->d.eight_bit == w->eight_bit &&
		  r->d.too_big == w->too_big && r->d.header_too_big == w->header_too_big,
	      "%s (%s): done %d bad_newline %d bad_nul %d eight_bit %d too_big %d "
	      "header_too_big %d",
	      why, mode, r->d.done, r->d.bad_newline, r->d.bad_nul, r->d.eight_bit, r->d.too_big,
	      r->d.header_too_big);
	if (w->check_hdr)
		CHECK(r->d.header_size == w->hdr, "%s (%s): header_size %llu want %llu", why, mode,
		      (unsigned long long)r->d.header_size, (unsigned long long)w->hdr);
	if (!r->d.too_big && !r->d.header_too_big)
		CHECK(r->d.size == r->outlen, "%s (%s): size %llu output %zu", why, mode,
		      (unsigned long long)r->d.size, r->outlen);
}

/* Run one case all at once, one byte at a time and in 3-byte chunks: each must give the
 * expected result, so none may depend on where the network split the stream. */
static void data_case(const char *why, const char *in, size_t len, int normalise, uint64_t max_size,
		      uint64_t max_header, const struct data_want *w)
{
	static const struct {
		const char *name;
		size_t chunk;
	} modes[] = {{"all at once", SIZE_MAX}, {"byte by byte", 1}, {"3-byte chunks", 3}};
	CHECK(len <= DATA_MAX_IN, "%s: input too long for the harness", why);
	if (len > DATA_MAX_IN)
		return;
	for (size_t m = 0; m < N(modes); m++) {
		char mode[64];
		struct data_result r;
		snprintf(mode, sizeof(mode), "%s, %s", normalise ? "normalise" : "reject",
			 modes[m].name);
		data_run(in, len, normalise, max_size, max_header, modes[m].chunk, &r);
		data_check(why, mode, &r, w);
	}
}

#define REJECT 0
#define NORMALISE 1
#define HDR(n) .check_hdr = 1, .hdr = (n)
#define HEAD "Subject: x\r\n\r\n" /* 14 bytes of header block, blank line included */

static void test_data(void)
{
	static const struct {
		const char *why;
		int normalise;
		const char *in;
		size_t len;
		const char *out;
		size_t outlen;
		size_t rest; /* bytes left for the next command */
		int done, bad_newline, bad_nul, eight_bit, too_big, header_too_big;
		int check_hdr;
		uint64_t hdr;
		uint64_t max_size, max_header; /* 0: defaults */
	} cases[] = {
	    {"RFC 5321 4.1.1.4: simple message", REJECT, S(HEAD "hello\r\n.\r\n"),
	     S(HEAD "hello\r\n"), .done = 1, HDR(14)},
	    {"RFC 5321 4.1.1.4: simple message", NORMALISE, S(HEAD "hello\r\n.\r\n"),
	     S(HEAD "hello\r\n"), .done = 1, HDR(14)},
	    {"RFC 5321 4.5.2: dot-unstuffing", REJECT, S(HEAD "..x\r\n.\r\n"), S(HEAD ".x\r\n"),
	     .done = 1},
	    {"RFC 5321 4.5.2: dot-unstuffing", NORMALISE, S(HEAD "..x\r\n.\r\n"), S(HEAD ".x\r\n"),
	     .done = 1},
	    {"RFC 5321 4.5.2: stuffed lone dot is data", REJECT, S(HEAD "a\r\n..\r\nb\r\n.\r\n"),
	     S(HEAD "a\r\n.\r\nb\r\n"), .done = 1},
	    {"RFC 5321 4.5.2: three dots", REJECT, S(HEAD "...\r\n.\r\n"), S(HEAD "..\r\n"),
	     .done = 1},
	    {"RFC 5321 4.5.2: any leading dot is removed", REJECT, S(HEAD ".x\r\n.\r\n"),
	     S(HEAD "x\r\n"), .done = 1},
	    {"dot not at line start is kept", REJECT, S(HEAD "a.b.\r\n.\r\n"), S(HEAD "a.b.\r\n"),
	     .done = 1},
	    {"RFC 5321 4.1.1.4: empty message, lone dot", REJECT, S(".\r\n"), S(""), .done = 1,
	     HDR(0)},
	    {"RFC 5321 4.1.1.4: empty message, lone dot", NORMALISE, S(".\r\n"), S(""), .done = 1,
	     HDR(0)},
	    {"no end yet", REJECT, S(HEAD "partial\r\n"), S(HEAD "partial\r\n"), HDR(14)},
	    {"no end yet, dot line pending", REJECT, S(HEAD "partial\r\n.\r"),
	     S(HEAD "partial\r\n")},
	    {"RFC 5322 2.1: header/body boundary", REJECT,
	     S("A: 1\r\nB: 2\r\n\r\nbody body\r\n\r\nmore\r\n.\r\n"),
	     S("A: 1\r\nB: 2\r\n\r\nbody body\r\n\r\nmore\r\n"), .done = 1, HDR(14)},
	    {"RFC 5322 2.1: no header block", REJECT, S("\r\nbody\r\n.\r\n"), S("\r\nbody\r\n"),
	     .done = 1, HDR(2)},
	    {"header only, never ended", REJECT, S("A: 1\r\nB: 2\r\n.\r\n"), S("A: 1\r\nB: 2\r\n"),
	     .done = 1, HDR(12)},
	    {"RFC 2920: pipelined command after the dot", REJECT, S(HEAD "x\r\n.\r\nQUIT\r\n"),
	     S(HEAD "x\r\n"), .rest = 6, .done = 1},
	    {"RFC 2920: pipelined command after the dot", NORMALISE, S(HEAD "x\r\n.\r\nQUIT\r\n"),
	     S(HEAD "x\r\n"), .rest = 6, .done = 1},
	    {"a second message after the dot is not consumed", REJECT,
	     S(".\r\nMAIL FROM:<a@b>\r\n"), S(""), .rest = 17, .done = 1},
	    {"RFC 1870: size exactly at the limit", REJECT, S(HEAD "hello\r\n.\r\n"),
	     S(HEAD "hello\r\n"), .done = 1, .max_size = 21},
	    {"RFC 1870: size one over the limit", REJECT, S(HEAD "hello\r\n.\r\n"), S(HEAD "hello"),
	     .done = 1, .too_big = 1, .max_size = 20},
	    {"RFC 1870: size exceeded in the header", REJECT, S(HEAD "hello\r\n.\r\n"),
	     S("Subject: x"), .done = 1, .too_big = 1, .max_size = 10},
	    {"RFC 1870: size exceeded, normalise", NORMALISE, S(HEAD "a\nb\r\n.\r\n"), S(HEAD "a"),
	     .done = 1, .too_big = 1, .max_size = 16},
	    {"header exactly at the limit", REJECT, S(HEAD "hello\r\n.\r\n"), S(HEAD "hello\r\n"),
	     .done = 1, HDR(14), .max_header = 14},
	    {"header one over the limit", REJECT, S(HEAD "hello\r\n.\r\n"), S("Subject: x\r\n"),
	     .done = 1, .header_too_big = 1, HDR(14), .max_header = 13},
	    {"header limit hit mid-line", REJECT, S(HEAD "hello\r\n.\r\n"), S("Subje"), .done = 1,
	     .header_too_big = 1, HDR(14), .max_header = 5},
	    {"body bytes do not count as header", REJECT,
	     S(HEAD "a long body line, far longer than the header\r\n.\r\n"),
	     S(HEAD "a long body line, far longer than the header\r\n"), .done = 1, HDR(14),
	     .max_header = 14},
	    {"RFC 6152: 8-bit byte", REJECT, S(HEAD "caf\xc3\xa9\r\n.\r\n"),
	     S(HEAD "caf\xc3\xa9\r\n"), .done = 1, .eight_bit = 1},
	    {"RFC 6152: 8-bit byte in the header", NORMALISE, S("S: \xff\r\n\r\n.\r\n"),
	     S("S: \xff\r\n\r\n"), .done = 1, .eight_bit = 1, HDR(8)},
	    {"RFC 5321 2.3.8: NUL mid-line", REJECT, S(HEAD "a\0b\r\n.\r\n"), S(HEAD "ab\r\n"),
	     .done = 1, .bad_nul = 1},
	    {"RFC 5321 2.3.8: NUL mid-line", NORMALISE, S(HEAD "a\0b\r\n.\r\n"), S(HEAD "ab\r\n"),
	     .done = 1, .bad_nul = 1},
	    {"NUL at line start: the line is not empty", REJECT, S("A: 1\r\n\0\r\nB: 2\r\n.\r\n"),
	     S("A: 1\r\n\r\nB: 2\r\n"), .done = 1, .bad_nul = 1, HDR(14)},
	    {"RFC 5321 2.3.8: bare LF in the body", REJECT, S(HEAD "a\nb\r\n.\r\n"),
	     S(HEAD "ab\r\n"), .done = 1, .bad_newline = 1},
	    {"RFC 5321 2.3.8: bare LF in the body", NORMALISE, S(HEAD "a\nb\r\n.\r\n"),
	     S(HEAD "a\r\nb\r\n"), .done = 1},
	    {"RFC 5321 2.3.8: bare CR in the body", REJECT, S(HEAD "a\rb\r\n.\r\n"),
	     S(HEAD "ab\r\n"), .done = 1, .bad_newline = 1},
	    {"RFC 5321 2.3.8: bare CR in the body", NORMALISE, S(HEAD "a\rb\r\n.\r\n"),
	     S(HEAD "a\r\nb\r\n"), .done = 1},
	    {"CR CR LF", NORMALISE, S(HEAD "a\r\r\n.\r\n"), S(HEAD "a\r\n\r\n"), .done = 1},
	    {"CR CR LF", REJECT, S(HEAD "a\r\r\n.\r\n"), S(HEAD "a\r\n"), .done = 1,
	     .bad_newline = 1},
	    {"LF LF", NORMALISE, S(HEAD "a\n\n.\r\n"), S(HEAD "a\r\n\r\n.\r\n"), .rest = 0},
	};
	for (size_t i = 0; i < N(cases); i++) {
		struct data_want w = {
		    .out = cases[i].out,
		    .outlen = cases[i].outlen,
		    .consumed = cases[i].len - cases[i].rest,
		    .done = cases[i].done,
		    .bad_newline = cases[i].bad_newline,
		    .bad_nul = cases[i].bad_nul,
		    .eight_bit = cases[i].eight_bit,
		    .too_big = cases[i].too_big,
		    .header_too_big = cases[i].header_too_big,
		    .check_hdr = cases[i].check_hdr,
		    .hdr = cases[i].hdr,
		};
		data_case(cases[i].why, cases[i].in, cases[i].len, cases[i].normalise,
			  cases[i].max_size ? cases[i].max_size : DEF_MAX_SIZE,
			  cases[i].max_header ? cases[i].max_header : DEF_MAX_HEADER, &w);
	}
}

static void append(char *buf, size_t *n, const char *s, size_t len)
{
	memcpy(buf + *n, s, len);
	*n += len;
}

/* SMTP smuggling (SEC Consult, CVE-2023-51764/51765/51766): an end-of-data other than
 * CR LF "." CR LF that a sending hop passes through unchanged. Each sequence is put in a body,
 * followed by "more\r\n" and the real end; the message must run to the real end, and in
 * normalise mode the bare newlines become CR LF without removing the dot after them. */
static void test_smuggling(void)
{
	static const char pre[] = HEAD "body", post[] = "more\r\n.\r\n";
	static const struct {
		const char *why;
		const char *seq;
		size_t seqlen;
		const char *rej; /* output in place of seq, reject mode */
		size_t rejlen;
		const char *norm; /* output in place of seq, normalise mode */
		size_t normlen;
		int at_start; /* seq starts the DATA stream, no prefix */
		int nul;      /* a NUL, not a bare newline */
	} cases[] = {
	    {"LF . LF (Postfix CVE-2023-51764)", S("\n.\n"), S("."), S("\r\n.\r\n")},
	    {"LF . CRLF (Sendmail CVE-2023-51765)", S("\n.\r\n"), S(".\r\n"), S("\r\n.\r\n")},
	    {"CR . CRLF (Cisco, Exchange)", S("\r.\r\n"), S(".\r\n"), S("\r\n.\r\n")},
	    {"CRLF . CR", S("\r\n.\r"), S("\r\n"), S("\r\n\r\n")},
	    {"CRLF . LF (Exim CVE-2023-51766)", S("\r\n.\n"), S("\r\n"), S("\r\n\r\n")},
	    {"CR . LF", S("\r.\n"), S("."), S("\r\n.\r\n")},
	    {". LF at the start of DATA", S(".\n"), S(""), S("\r\n"), .at_start = 1},
	    {". CR at the start of DATA", S(".\r"), S(""), S("\r\n"), .at_start = 1},
	    {"CRLF NUL . CRLF (NUL dropped, still no end)", S("\r\n\0.\r\n"), S("\r\n.\r\n"),
	     S("\r\n.\r\n"), .nul = 1},
	    {"CRLF . NUL CRLF", S("\r\n.\0\r\n"), S("\r\n\r\n"), S("\r\n\r\n"), .nul = 1},
	    {"NUL . CRLF at the start of DATA", S("\0.\r\n"), S(".\r\n"), S(".\r\n"), .at_start = 1,
	     .nul = 1},
	    {"CRLF . CR CRLF", S("\r\n.\r\r\n"), S("\r\n\r\n"), S("\r\n\r\n\r\n")},
	    {"LF LF . LF LF", S("\n\n.\n\n"), S("."), S("\r\n\r\n.\r\n\r\n")},
	    {"CR LF CR . CR LF", S("\r\n\r.\r\n"), S("\r\n.\r\n"), S("\r\n\r\n.\r\n")},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char in[DATA_MAX_IN], rej[DATA_MAX_IN], norm[DATA_MAX_IN];
		size_t prelen = cases[i].at_start ? 0 : sizeof(pre) - 1;
		size_t n = 0, nr = 0, nn = 0;
		append(in, &n, pre, prelen);
		append(in, &n, cases[i].seq, cases[i].seqlen);
		append(in, &n, post, sizeof(post) - 1);
		append(rej, &nr, pre, prelen);
		append(rej, &nr, cases[i].rej, cases[i].rejlen);
		append(rej, &nr, S("more\r\n"));
		append(norm, &nn, pre, prelen);
		append(norm, &nn, cases[i].norm, cases[i].normlen);
		append(norm, &nn, S("more\r\n"));

		struct data_want w = {
		    .out = rej,
		    .outlen = nr,
		    .consumed = n, /* done only at the real end */
		    .done = 1,
		    .bad_newline = !cases[i].nul,
		    .bad_nul = cases[i].nul,
		    .check_hdr = !cases[i].at_start,
		    .hdr = 14,
		};
		data_case(cases[i].why, in, n, REJECT, DEF_MAX_SIZE, DEF_MAX_HEADER, &w);
		w.out = norm;
		w.outlen = nn;
		w.bad_newline = 0;
		data_case(cases[i].why, in, n, NORMALISE, DEF_MAX_SIZE, DEF_MAX_HEADER, &w);

		/* Without the real end the sequence alone must leave the message open. */
		struct data_result r;
		data_run(in, n - 3, REJECT, DEF_MAX_SIZE, DEF_MAX_HEADER, SIZE_MAX, &r);
		CHECK(!r.d.done && r.consumed == n - 3, "%s: ended without the real end",
		      cases[i].why);
		data_run(in, n - 3, NORMALISE, DEF_MAX_SIZE, DEF_MAX_HEADER, SIZE_MAX, &r);
		CHECK(!r.d.done && r.consumed == n - 3,
		      "%s: ended without the real end (normalise)", cases[i].why);
	}
}

/* A finished parser ignores further input: the rest belongs to the command parser. */
static void test_data_after_done(void)
{
	struct smtp_data d;
	char out[64];
	size_t o;
	smtp_data_init(&d, DEF_MAX_SIZE, DEF_MAX_HEADER, 0);
	CHECK(smtp_data_feed(&d, S(".\r\nQUIT\r\n"), out, &o) == 3 && d.done && o == 0,
	      "end at the start");
	CHECK(smtp_data_feed(&d, S("QUIT\r\n"), out, &o) == 0 && o == 0, "no more after done");
}

int main(void)
{
	test_line_split();
	test_command_case();
	test_command_parse();
	test_arg_rules();
	test_mail_params();
	test_mail_dsn_params();
	test_rcpt_params();
	test_data();
	test_smuggling();
	test_data_after_done();
	return check_report("test_smtp");
}
