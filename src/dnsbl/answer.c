/* answer.c — the pure parts of a DNSBL lookup: the query name, what an answer means (RFC 5782
 * 2.1, with the error codes lists use in practice), the TXT reason, and the weighted score. */
#include "dnsbl.h"

#include "../util/util.h"

#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int dnsbl_addr_is_v4(const uint8_t addr[16])
{
	return memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0;
}

int dnsbl_query_name6(const uint8_t addr[16], const char *zone, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	char rev[64];
	size_t o = 0;
	for (int i = 15; i >= 0; i--) {
		rev[o++] = hex[addr[i] & 0xf];
		rev[o++] = '.';
		rev[o++] = hex[addr[i] >> 4];
		rev[o++] = i ? '.' : '\0';
	}
	int n = snprintf(out, outlen, "%s.%s", rev, zone);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int dnsbl_query_name(const uint8_t addr[16], const char *zone, char *out, size_t outlen)
{
	if (!dnsbl_addr_is_v4(addr))
		return dnsbl_query_name6(addr, zone, out, outlen);
	int n =
	    snprintf(out, outlen, "%u.%u.%u.%u.%s", addr[15], addr[14], addr[13], addr[12], zone);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* RFC 5782 2.1: codes are in 127.0.0.0/8. Lists answer errors with 127.255.255.0/24
 * (Spamhaus: 127.255.255.252 typo, .254 public resolver, .255 excessive queries). */
static int code_is_error(uint32_t a)
{
	return (a >> 24) != 127 || (a >> 8) == 0x7fffff;
}

static int code_taken(uint32_t a, const struct conf_dnsbl_codes *codes, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (a >= codes[i].lo && a <= codes[i].hi)
			return 1;
	return 0;
}

static void format_code(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

enum dnsbl_answer dnsbl_classify(const struct dns_rr_result *res,
				 const struct conf_dnsbl_codes *codes, size_t n_codes,
				 uint32_t *code, char *why, size_t whylen)
{
	char c[16];
	*code = 0;
	if (why && whylen)
		why[0] = '\0';
	if (res->status == DNS_NOTFOUND)
		return DNSBL_NOT_LISTED;
	if (res->status != DNS_OK || res->n_a == 0) {
		if (why && whylen)
			snprintf(why, whylen, "%s", res->error[0] ? res->error : "lookup failed");
		return DNSBL_ERROR;
	}
	for (size_t i = 0; i < res->n_a && i < DNS_RR_MAX_A; i++)
		if (code_is_error(res->a[i])) {
			*code = res->a[i];
			format_code(res->a[i], c, sizeof(c));
			if (why && whylen)
				snprintf(why, whylen, "error answer %s (%s)", c,
					 (res->a[i] >> 24) != 127 ? "outside 127.0.0.0/8"
								  : "127.255.255.0/24");
			return DNSBL_ERROR;
		}
	for (size_t i = 0; i < res->n_a && i < DNS_RR_MAX_A; i++)
		if (code_taken(res->a[i], codes, n_codes)) {
			*code = res->a[i];
			return DNSBL_LISTED;
		}
	return DNSBL_NOT_LISTED;
}

void dnsbl_txt_clean(const char *in, char *out, size_t outlen)
{
	size_t o = 0, max = outlen < DNSBL_TXT_MAX ? outlen : DNSBL_TXT_MAX;
	if (max == 0)
		return;
	for (; *in && o + 1 < max; in++) {
		unsigned char ch = (unsigned char)*in;
		char w = ch >= 0x21 && ch <= 0x7e ? (char)ch : ch == ' ' || ch == '\t' ? ' ' : '?';
		if (w == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		out[o++] = w;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Append s to buf (len bytes, NUL-terminated), cut to fit. */
static void append(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf);
	if (o + 1 < len)
		util_strlcpy(buf + o, s, len - o);
}

static void build_reply(const struct dnsbl_outcome *o, size_t n, enum conf_dnsbl_action action,
			const char *ip, struct dnsbl_verdict *v)
{
	if (action == CONF_DNSBL_TAG)
		return;
	snprintf(v->reply, sizeof(v->reply), "%s Service unavailable; client [%s] listed by ",
		 action == CONF_DNSBL_DEFER ? "450 4.7.1" : "554 5.7.1", ip);
	int first = 1, reason = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dnsbl_outcome *x = &o[i];
		if (x->suspended || x->state != DNSBL_S_DONE || x->answer != DNSBL_LISTED ||
		    x->list->weight <= 0)
			continue;
		append(v->reply, sizeof(v->reply), first ? "" : ", ");
		append(v->reply, sizeof(v->reply), x->list->zone);
		if (x->txt[0] && !reason) {
			append(v->reply, sizeof(v->reply), ": ");
			append(v->reply, sizeof(v->reply), x->txt);
			reason = 1;
		}
		first = 0;
	}
}

void dnsbl_score(const struct dnsbl_outcome *o, size_t n, int threshold,
		 enum conf_dnsbl_action action, const char *ip, struct dnsbl_verdict *v)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const struct dnsbl_outcome *x = &o[i];
		if (x->suspended || x->state != DNSBL_S_DONE || x->answer != DNSBL_LISTED)
			continue;
		v->score += x->list->weight;
		v->n_listed++;
		v->allow_listed |= x->list->weight < 0;
		if (x->list->weight <= 0)
			continue;
		if (!v->rule_id[0])
			snprintf(v->rule_id, sizeof(v->rule_id), "dnsbl:%s", x->list->zone);
		append(v->lists, sizeof(v->lists), v->lists[0] ? "," : "");
		append(v->lists, sizeof(v->lists), x->list->zone);
	}
	v->acts = v->rule_id[0] && v->score >= threshold;
	if (v->acts)
		build_reply(o, n, action, ip, v);
}
