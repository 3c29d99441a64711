/* fuzz_smtp_line.c — a command-phase session over the input: split lines as the server does
 * (drop what was consumed; after TOO_LONG drop through the next LF), then parse each line as a
 * command and MAIL/RCPT parameters. Checks the split against the bytes and that parsing is
 * bounded by the line and case-insensitive. */
#include "fuzz.h"
#include "smtp/parse.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 512 /* RFC 5321 4.5.3.1.4, CRLF included */

FUZZ_CHECKER static void check_split(const char *buf, size_t avail, enum smtp_line_status st,
				     size_t linelen, size_t consumed)
{
	size_t scan = avail < LINE_MAX_BYTES ? avail : LINE_MAX_BYTES;
	if (st == SMTP_LINE_MORE) {
		REQUIRE(avail < LINE_MAX_BYTES && !memchr(buf, '\n', avail));
		return;
	}
	if (st == SMTP_LINE_TOO_LONG) {
		REQUIRE(avail >= LINE_MAX_BYTES && !memchr(buf, '\n', scan));
		return;
	}
	REQUIRE(consumed >= 1 && consumed <= scan && buf[consumed - 1] == '\n');
	REQUIRE(!memchr(buf, '\n', consumed - 1));
	REQUIRE(linelen < consumed);
	int crlf = consumed >= 2 && buf[consumed - 2] == '\r';
	switch (st) {
	case SMTP_LINE_BARE_LF:
		REQUIRE(!crlf && linelen == consumed - 1);
		break;
	case SMTP_LINE_BARE_CR:
		REQUIRE(crlf && linelen == consumed - 2 && memchr(buf, '\r', linelen));
		break;
	case SMTP_LINE_NUL:
		REQUIRE(crlf && linelen == consumed - 2 && !memchr(buf, '\r', linelen) &&
			memchr(buf, '\0', linelen));
		break;
	case SMTP_LINE_OK:
		REQUIRE(crlf && linelen == consumed - 2 && !memchr(buf, '\r', linelen) &&
			!memchr(buf, '\0', linelen));
		break;
	default:
		REQUIRE(0);
	}
}

FUZZ_CHECKER static void check_params(const char *s, size_t len, const char *upper)
{
	struct smtp_mail_params p, q;
	struct smtp_rcpt_params r, ru;
	/* RFC 5321 2.4: keywords and their values are case-insensitive; xtext (ENVID, ORCPT) is
	 * not: "+2b" is malformed, "+2B" is not. So compare only inputs without a '+'. */
	int caseless = !memchr(s, '+', len);
	enum smtp_param_status st = smtp_mail_params_parse(s, len, &p);
	REQUIRE(st == SMTP_PARAM_OK || st == SMTP_PARAM_SYNTAX || st == SMTP_PARAM_UNKNOWN);
	if (st == SMTP_PARAM_OK) {
		REQUIRE(p.has_size || p.size == 0);
		REQUIRE(p.body_8bit == 0 || p.body_8bit == 1);
	}
	if (caseless) {
		REQUIRE(smtp_mail_params_parse(upper, len, &q) == st);
		if (st == SMTP_PARAM_OK)
			REQUIRE(p.has_size == q.has_size && p.size == q.size &&
				p.body_8bit == q.body_8bit && p.smtputf8 == q.smtputf8 &&
				p.ret == q.ret && !p.envid == !q.envid);
	}
	enum smtp_param_status rs = smtp_rcpt_params_parse(s, len, &r);
	REQUIRE(rs == SMTP_PARAM_OK || rs == SMTP_PARAM_SYNTAX || rs == SMTP_PARAM_UNKNOWN);
	if (caseless) {
		REQUIRE(smtp_rcpt_params_parse(upper, len, &ru) == rs);
		if (rs == SMTP_PARAM_OK)
			REQUIRE(r.notify == ru.notify && !r.orcpt == !ru.orcpt);
	}
}

FUZZ_CHECKER static void check_command(const char *line, size_t len)
{
	/* Private exact-size copies, so ASan catches any read past the line. */
	char *l = malloc(len ? len : 1), *u = malloc(len ? len : 1);
	REQUIRE(l && u);
	memcpy(l, line, len);
	for (size_t i = 0; i < len; i++)
		u[i] = (char)toupper((unsigned char)line[i]);

	struct smtp_command c, cu;
	enum smtp_cmd_status st = smtp_command_parse(l, len, &c);
	REQUIRE(c.arg >= l && c.arg_len <= len && (size_t)(c.arg - l) <= len - c.arg_len);
	REQUIRE((st == SMTP_CMD_UNKNOWN) == (c.verb == SMTP_VERB_UNKNOWN));
	if (st == SMTP_CMD_SYNTAX)
		REQUIRE(c.verb == SMTP_VERB_MAIL || c.verb == SMTP_VERB_RCPT);
	if (st == SMTP_CMD_OK && c.arg_len)
		REQUIRE(c.arg[0] != ' ' && c.arg[c.arg_len - 1] != ' ');
	size_t verb_len = c.verb == SMTP_VERB_STARTTLS ? 8 : 4; /* every other verb has 4 */
	if (st != SMTP_CMD_UNKNOWN)
		REQUIRE(len >= verb_len && (len == verb_len || l[verb_len] == ' '));
	(void)smtp_verb_arg_rule(c.verb);

	REQUIRE(smtp_command_parse(u, len, &cu) == st && cu.verb == c.verb);
	REQUIRE(cu.arg - u == c.arg - l && cu.arg_len == c.arg_len);

	if (st == SMTP_CMD_OK && (c.verb == SMTP_VERB_MAIL || c.verb == SMTP_VERB_RCPT)) {
		size_t off = (size_t)(c.arg - l);
		/* The whole argument, and what follows the path as the session would pass it. */
		check_params(c.arg, c.arg_len, u + off);
		const char *gt = memchr(c.arg, '>', c.arg_len);
		if (gt) {
			size_t skip = (size_t)(gt + 1 - c.arg);
			check_params(gt + 1, c.arg_len - skip, u + off + skip);
		}
	}
	free(l);
	free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0;
	while (off < size) {
		size_t avail = size - off, linelen = SIZE_MAX, consumed = SIZE_MAX;
		enum smtp_line_status st =
		    smtp_line_split(buf + off, avail, LINE_MAX_BYTES, &linelen, &consumed);
		check_split(buf + off, avail, st, linelen, consumed);
		if (st == SMTP_LINE_MORE)
			break;
		if (st == SMTP_LINE_TOO_LONG) {
			const char *lf = memchr(buf + off, '\n', avail);
			if (!lf)
				break;
			off = (size_t)(lf - buf) + 1;
			continue;
		}
		check_command(buf + off, linelen);
		off += consumed;
	}
	return 0;
}
