/* rr.c — the answers of single record-set lookups (A, TXT) as DNSBLs give them, parsed by
 * c-ares' parsers and bounded here. Pure: no I/O. */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static int parse_a(const unsigned char *abuf, int alen, struct dns_rr_result *out)
{
	struct ares_addrttl ttls[DNS_RR_MAX_A];
	int n = DNS_RR_MAX_A;
	int st = ares_parse_a_reply(abuf, alen, NULL, ttls, &n);
	if (st == ARES_ENODATA) {
		out->status = DNS_NOTFOUND;
		return 0;
	}
	if (st != ARES_SUCCESS || n <= 0) {
		out->status = DNS_TEMPFAIL;
		snprintf(out->error, sizeof(out->error), "malformed A answer: %s",
			 st != ARES_SUCCESS ? ares_strerror(st) : "no address");
		return st == ARES_SUCCESS ? 0 : -1;
	}
	out->ttl = UINT32_MAX;
	for (int i = 0; i < n && i < DNS_RR_MAX_A; i++) {
		out->a[out->n_a++] = ntohl(ttls[i].ipaddr.s_addr);
		uint32_t t = ttls[i].ttl > 0 ? (uint32_t)ttls[i].ttl : 0;
		out->ttl = t < out->ttl ? t : out->ttl;
	}
	out->status = DNS_OK;
	return 0;
}

/* The strings of the first TXT record, joined (RFC 7208 3.3 style: no separator). */
static int parse_txt(const unsigned char *abuf, int alen, struct dns_rr_result *out)
{
	struct ares_txt_ext *list = NULL;
	int st = ares_parse_txt_reply_ext(abuf, alen, &list);
	if (st == ARES_ENODATA) {
		out->status = DNS_NOTFOUND;
		return 0;
	}
	if (st != ARES_SUCCESS) {
		out->status = DNS_TEMPFAIL;
		snprintf(out->error, sizeof(out->error), "malformed TXT answer: %s",
			 ares_strerror(st));
		return -1;
	}
	size_t o = 0;
	for (struct ares_txt_ext *t = list; t; t = t->next) {
		if (t->record_start && t != list)
			break;
		for (size_t i = 0; i < t->length && o + 1 < sizeof(out->txt); i++)
			if (t->txt[i] != '\0')
				out->txt[o++] = (char)t->txt[i];
	}
	out->txt[o] = '\0';
	ares_free_data(list);
	out->status = DNS_OK;
	return 0;
}

int dns_parse_rr_reply(const unsigned char *abuf, size_t alen, enum dns_rr_type type,
		       struct dns_rr_result *out)
{
	memset(out, 0, sizeof(*out));
	if (alen > INT_MAX) {
		out->status = DNS_TEMPFAIL;
		snprintf(out->error, sizeof(out->error), "answer too large");
		return -1;
	}
	return type == DNS_RR_A ? parse_a(abuf, (int)alen, out) : parse_txt(abuf, (int)alen, out);
}
