/* parse.c — SMTP command lines and MAIL / RCPT parameters. Pure. */
#include "parse.h"

#include "../util/util.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum smtp_line_status smtp_line_split(const char *buf, size_t len, size_t max, size_t *linelen,
				      size_t *consumed)
{
	size_t scan = len < max ? len : max;
	const char *lf = memchr(buf, '\n', scan);
	if (!lf)
		return len >= max ? SMTP_LINE_TOO_LONG : SMTP_LINE_MORE;
	size_t end = (size_t)(lf - buf);
	*consumed = end + 1;
	if (end == 0 || buf[end - 1] != '\r') {
		*linelen = end;
		return SMTP_LINE_BARE_LF;
	}
	*linelen = end - 1;
	if (memchr(buf, '\r', *linelen))
		return SMTP_LINE_BARE_CR;
	if (memchr(buf, '\0', *linelen))
		return SMTP_LINE_NUL;
	return SMTP_LINE_OK;
}

static const struct {
	const char *name;
	enum smtp_verb verb;
	enum smtp_arg_rule arg;
} verbs[] = {
    {"HELO", SMTP_VERB_HELO, SMTP_ARG_REQUIRED}, {"EHLO", SMTP_VERB_EHLO, SMTP_ARG_REQUIRED},
    {"MAIL", SMTP_VERB_MAIL, SMTP_ARG_REQUIRED}, {"RCPT", SMTP_VERB_RCPT, SMTP_ARG_REQUIRED},
    {"DATA", SMTP_VERB_DATA, SMTP_ARG_NONE},	 {"RSET", SMTP_VERB_RSET, SMTP_ARG_NONE},
    {"NOOP", SMTP_VERB_NOOP, SMTP_ARG_OPTIONAL}, {"QUIT", SMTP_VERB_QUIT, SMTP_ARG_NONE},
    {"HELP", SMTP_VERB_HELP, SMTP_ARG_OPTIONAL}, {"VRFY", SMTP_VERB_VRFY, SMTP_ARG_REQUIRED},
    {"EXPN", SMTP_VERB_EXPN, SMTP_ARG_REQUIRED}, {"STARTTLS", SMTP_VERB_STARTTLS, SMTP_ARG_NONE},
};

enum smtp_arg_rule smtp_verb_arg_rule(enum smtp_verb v)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == v)
			return verbs[i].arg;
	return SMTP_ARG_OPTIONAL;
}

static size_t skip_spaces(const char *s, size_t i, size_t len)
{
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* "FROM:" / "TO:" after MAIL / RCPT; RFC 5321 has no space before the colon, but a space
 * between the colon and the path is common enough to tolerate. */
static int expect_keyword(const char *s, size_t len, size_t *i, const char *kw)
{
	size_t n = strlen(kw);
	if (len - *i < n || strncasecmp(s + *i, kw, n) != 0)
		return -1;
	*i = skip_spaces(s, *i + n, len);
	return 0;
}

enum smtp_cmd_status smtp_command_parse(const char *line, size_t len, struct smtp_command *out)
{
	size_t v = 0;
	while (v < len && line[v] != ' ')
		v++;
	out->verb = SMTP_VERB_UNKNOWN;
	out->arg = line + len;
	out->arg_len = 0;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (v == strlen(verbs[i].name) && strncasecmp(line, verbs[i].name, v) == 0)
			out->verb = verbs[i].verb;
	if (out->verb == SMTP_VERB_UNKNOWN)
		return SMTP_CMD_UNKNOWN;
	size_t i = skip_spaces(line, v, len);
	if (out->verb == SMTP_VERB_MAIL && expect_keyword(line, len, &i, "FROM:") < 0)
		return SMTP_CMD_SYNTAX;
	if (out->verb == SMTP_VERB_RCPT && expect_keyword(line, len, &i, "TO:") < 0)
		return SMTP_CMD_SYNTAX;
	size_t end = len;
	while (end > i && line[end - 1] == ' ')
		end--;
	out->arg = line + i;
	out->arg_len = end - i;
	return SMTP_CMD_OK;
}

/* Next "KEY[=VALUE]" token; returns 0 at the end of the string. */
static int next_param(const char *s, size_t len, size_t *i, const char **kw, size_t *kwlen,
		      const char **val, size_t *vallen)
{
	*i = skip_spaces(s, *i, len);
	if (*i >= len)
		return 0;
	size_t start = *i;
	while (*i < len && s[*i] != ' ')
		(*i)++;
	const char *eq = memchr(s + start, '=', *i - start);
	*kw = s + start;
	*kwlen = eq ? (size_t)(eq - *kw) : *i - start;
	*val = eq ? eq + 1 : NULL;
	*vallen = eq ? (size_t)(s + *i - *val) : 0;
	return 1;
}

static int kw_is(const char *kw, size_t kwlen, const char *name)
{
	return kwlen == strlen(name) && strncasecmp(kw, name, kwlen) == 0;
}

static int parse_decimal(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]) || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* ENVID / the xtext of ORCPT: well-formed, not empty, no control character once decoded. */
static int xtext_ok(const char *s, size_t len)
{
	char dec[SMTP_ORCPT_MAX + 1];
	return len > 0 && len <= SMTP_ORCPT_MAX && util_xtext_decode(s, len, dec, sizeof(dec)) >= 0;
}

static enum smtp_param_status mail_param(struct smtp_mail_params *out, const char *kw, size_t kwlen,
					 const char *val, size_t vallen)
{
	if (kw_is(kw, kwlen, "SIZE")) {
		if (!val || out->has_size || parse_decimal(val, vallen, &out->size) < 0)
			return SMTP_PARAM_SYNTAX;
		out->has_size = 1;
	} else if (kw_is(kw, kwlen, "BODY")) {
		if (val && kw_is(val, vallen, "8BITMIME"))
			out->body_8bit = 1;
		else if (!val || !kw_is(val, vallen, "7BIT"))
			return SMTP_PARAM_SYNTAX;
	} else if (kw_is(kw, kwlen, "SMTPUTF8")) {
		if (val)
			return SMTP_PARAM_SYNTAX;
		out->smtputf8 = 1;
	} else if (kw_is(kw, kwlen, "RET")) {
		if (out->ret || !val)
			return SMTP_PARAM_SYNTAX;
		out->ret = kw_is(val, vallen, "FULL")	? SMTP_RET_FULL
			   : kw_is(val, vallen, "HDRS") ? SMTP_RET_HDRS
							: 0;
		if (!out->ret)
			return SMTP_PARAM_SYNTAX;
	} else if (kw_is(kw, kwlen, "ENVID")) {
		if (out->envid || !val || vallen > SMTP_ENVID_MAX || !xtext_ok(val, vallen))
			return SMTP_PARAM_SYNTAX;
		out->envid = val;
		out->envid_len = vallen;
	} else {
		return SMTP_PARAM_UNKNOWN;
	}
	return SMTP_PARAM_OK;
}

enum smtp_param_status smtp_mail_params_parse(const char *s, size_t len,
					      struct smtp_mail_params *out)
{
	const char *kw, *val;
	size_t kwlen, vallen, i = 0;
	memset(out, 0, sizeof(*out));
	while (next_param(s, len, &i, &kw, &kwlen, &val, &vallen)) {
		enum smtp_param_status st = mail_param(out, kw, kwlen, val, vallen);
		if (st != SMTP_PARAM_OK)
			return st;
	}
	return SMTP_PARAM_OK;
}

/* NOTIFY=NEVER | SUCCESS,FAILURE,DELAY (any non-empty subset, each once). 0 when malformed. */
static unsigned parse_notify(const char *v, size_t len)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kinds[] = {{"NEVER", SMTP_NOTIFY_NEVER},
		     {"SUCCESS", SMTP_NOTIFY_SUCCESS},
		     {"FAILURE", SMTP_NOTIFY_FAILURE},
		     {"DELAY", SMTP_NOTIFY_DELAY}};
	unsigned bits = 0;
	size_t i = 0;
	while (i <= len) {
		const char *comma = memchr(v + i, ',', len - i);
		size_t n = comma ? (size_t)(comma - (v + i)) : len - i, k;
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (kw_is(v + i, n, kinds[k].name))
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0]) || (bits & kinds[k].bit))
			return 0;
		bits |= kinds[k].bit;
		i += n + 1;
	}
	return (bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER ? 0 : bits;
}

static int atext(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* ORCPT=addr-type;xtext */
static int orcpt_ok(const char *v, size_t len)
{
	const char *semi = memchr(v, ';', len);
	if (len > SMTP_ORCPT_MAX || !semi || semi == v)
		return 0;
	for (const char *p = v; p < semi; p++)
		if (!atext((unsigned char)*p))
			return 0;
	return xtext_ok(semi + 1, (size_t)(v + len - semi - 1));
}

enum smtp_param_status smtp_rcpt_params_parse(const char *s, size_t len,
					      struct smtp_rcpt_params *out)
{
	const char *kw, *val;
	size_t kwlen, vallen, i = 0;
	memset(out, 0, sizeof(*out));
	while (next_param(s, len, &i, &kw, &kwlen, &val, &vallen)) {
		if (kw_is(kw, kwlen, "NOTIFY")) {
			if (out->notify || !val || !(out->notify = parse_notify(val, vallen)))
				return SMTP_PARAM_SYNTAX;
		} else if (kw_is(kw, kwlen, "ORCPT")) {
			if (out->orcpt || !val || !orcpt_ok(val, vallen))
				return SMTP_PARAM_SYNTAX;
			out->orcpt = val;
			out->orcpt_len = vallen;
		} else {
			return SMTP_PARAM_UNKNOWN;
		}
	}
	return SMTP_PARAM_OK;
}
