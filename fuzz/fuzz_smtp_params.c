/* fuzz_smtp_params.c — the MAIL and RCPT parameter parsers (RFC 3461 RET, ENVID, NOTIFY,
 * ORCPT beside SIZE, BODY, SMTPUTF8) and the xtext codec, on the same input. Checks that
 * results point into the input, respect the RFC limits, survive being written out canonically
 * and parsed again, and that xtext decode/encode are inverse. */
#include "fuzz.h"
#include "queue/queue.h"
#include "smtp/parse.h"
#include "util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER static int inside(const char *p, size_t n, const char *s, size_t len)
{
	return p >= s && n <= len && (size_t)(p - s) <= len - n;
}

FUZZ_CHECKER static void check_mail(const char *s, size_t len)
{
	struct smtp_mail_params p, q;
	char canon[512], dec[SMTP_ENVID_MAX + 1];
	enum smtp_param_status st = smtp_mail_params_parse(s, len, &p);
	REQUIRE(st == SMTP_PARAM_OK || st == SMTP_PARAM_SYNTAX || st == SMTP_PARAM_UNKNOWN);
	if (st != SMTP_PARAM_OK)
		return;
	REQUIRE(p.ret >= 0 && p.ret <= SMTP_RET_HDRS);
	if (p.envid) {
		REQUIRE(inside(p.envid, p.envid_len, s, len));
		REQUIRE(p.envid_len >= 1 && p.envid_len <= SMTP_ENVID_MAX);
		REQUIRE(util_xtext_decode(p.envid, p.envid_len, dec, sizeof(dec)) >= 0);
	}
	char size[32] = "";
	if (p.has_size)
		snprintf(size, sizeof(size), " SIZE=%llu", (unsigned long long)p.size);
	int n = snprintf(canon, sizeof(canon), "%s%s%s%s%s%.*s", size,
			 p.body_8bit ? " BODY=8BITMIME" : "", p.smtputf8 ? " SMTPUTF8" : "",
			 p.ret == SMTP_RET_FULL	  ? " RET=FULL"
			 : p.ret == SMTP_RET_HDRS ? " RET=HDRS"
						  : "",
			 p.envid ? " ENVID=" : "", p.envid ? (int)p.envid_len : 0,
			 p.envid ? p.envid : "");
	REQUIRE(n >= 0 && (size_t)n < sizeof(canon));
	REQUIRE(smtp_mail_params_parse(canon, strlen(canon), &q) == SMTP_PARAM_OK);
	REQUIRE(q.has_size == p.has_size && q.size == p.size && q.body_8bit == p.body_8bit &&
		q.smtputf8 == p.smtputf8 && q.ret == p.ret && !q.envid == !p.envid);
	if (p.envid)
		REQUIRE(q.envid_len == p.envid_len && !memcmp(q.envid, p.envid, p.envid_len));
}

FUZZ_CHECKER static void check_rcpt(const char *s, size_t len)
{
	struct smtp_rcpt_params p, q;
	char canon[700], notify[SPOOL_NOTIFY_TEXT_MAX], dec[SMTP_ORCPT_MAX + 1];
	unsigned back = 0;
	enum smtp_param_status st = smtp_rcpt_params_parse(s, len, &p);
	REQUIRE(st == SMTP_PARAM_OK || st == SMTP_PARAM_SYNTAX || st == SMTP_PARAM_UNKNOWN);
	if (st != SMTP_PARAM_OK)
		return;
	REQUIRE(p.notify < 16);
	REQUIRE(!(p.notify & SMTP_NOTIFY_NEVER) || p.notify == SMTP_NOTIFY_NEVER);
	if (p.orcpt) {
		const char *semi = memchr(p.orcpt, ';', p.orcpt_len);
		REQUIRE(inside(p.orcpt, p.orcpt_len, s, len) && p.orcpt_len <= SMTP_ORCPT_MAX);
		REQUIRE(semi && semi > p.orcpt && semi + 1 < p.orcpt + p.orcpt_len);
		REQUIRE(util_xtext_decode(semi + 1, (size_t)(p.orcpt + p.orcpt_len - semi - 1), dec,
					  sizeof(dec)) >= 0);
	}
	/* the spool keeps NOTIFY as text: that must round-trip too */
	spool_notify_format(p.notify, notify, sizeof(notify));
	if (p.notify)
		REQUIRE(spool_notify_parse(notify, &back) == 0 && back == p.notify);
	int n = snprintf(canon, sizeof(canon), "%s%s %s%.*s", p.notify ? "NOTIFY=" : "", notify,
			 p.orcpt ? "ORCPT=" : "", p.orcpt ? (int)p.orcpt_len : 0,
			 p.orcpt ? p.orcpt : "");
	REQUIRE(n > 0 && (size_t)n < sizeof(canon));
	REQUIRE(smtp_rcpt_params_parse(canon, strlen(canon), &q) == SMTP_PARAM_OK);
	REQUIRE(q.notify == p.notify && !q.orcpt == !p.orcpt);
	if (p.orcpt)
		REQUIRE(q.orcpt_len == p.orcpt_len && !memcmp(q.orcpt, p.orcpt, p.orcpt_len));
}

/* Whatever decodes is valid xtext without CR/LF; encode gives valid xtext, and
 * decode(encode(x)) == x for any bytes without control characters (those are refused). */
FUZZ_CHECKER static void check_xtext(const char *s, size_t len)
{
	char dec[4096], enc[3 * 4096 + 1], back[4096];
	long n = util_xtext_decode(s, len, dec, sizeof(dec));
	if (n >= 0) {
		REQUIRE(util_xtext_valid(s, len));
		REQUIRE((size_t)n <= len && !memchr(dec, '\r', (size_t)n) &&
			!memchr(dec, '\n', (size_t)n));
	}
	size_t in = len < sizeof(dec) ? len : sizeof(dec) - 1;
	size_t e = util_xtext_encode(s, in, enc, sizeof(enc));
	REQUIRE(e < sizeof(enc) && e == strlen(enc) && util_xtext_valid(enc, e));
	long m = util_xtext_decode(enc, e, back, sizeof(back));
	int controls = 0;
	for (size_t i = 0; i < in; i++)
		controls |= (unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f;
	REQUIRE(controls ? m == -1 : (m == (long)in && !memcmp(back, s, in)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size private copy so ASan sees any read past the parameters. */
	char *s = malloc(size ? size : 1);
	REQUIRE(s);
	memcpy(s, data, size);
	check_mail(s, size);
	check_rcpt(s, size);
	check_xtext(s, size);
	free(s);
	return 0;
}
