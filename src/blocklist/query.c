/* query.c — the RFC 5782 query handler: one DNS message in, one answer out, with the minimal
 * codec of wire.c (no allocation). A for 127.0.0.code and TXT for listed addresses, NXDOMAIN
 * otherwise, SOA and NS at the apex, REFUSED outside the zone, FORMERR for what does not parse,
 * NOTIMPL for other opcodes, nothing for responses. */
#include "blocklist.h"
#include "wire.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* SOA refresh, retry, expire (the minimum is the zone's TTL) */
static const uint32_t soa_times[3] = {3600, 600, 604800};

int blocklist_zone_prepare(struct blocklist_zone *z)
{
	struct blocklist_zone_wire *w = &z->wire;
	uint8_t host[WIRE_NAME_MAX];
	int a = wire_name_from_text(z->zone, w->apex, sizeof(w->apex));
	int n = wire_name_from_text(z->ns, w->ns, sizeof(w->ns));
	int h = wire_name_from_text(z->hostmaster, host, sizeof(host));
	if (a <= 1 || n < 0 || h < 0) {
		w->apex_len = 0;
		return -1;
	}
	w->apex_len = (size_t)a;
	w->apex_labels = wire_name_labels(w->apex);
	w->ns_len = (size_t)n;
	memcpy(w->soa_names, w->ns, w->ns_len);
	memcpy(w->soa_names + w->ns_len, host, (size_t)h);
	w->soa_names_len = w->ns_len + (size_t)h;
	return 0;
}

struct answer {
	const struct blocklist_zone *z;
	const struct wire_question *q;
	struct wire_out w;
	uint16_t apex_off; /* where the zone's name starts in the answer (the question's suffix) */
	uint16_t an, ns;
	unsigned rcode;
};

static void put_soa(struct answer *a)
{
	const struct blocklist_zone_wire *zw = &a->z->wire;
	wire_put_rr(&a->w, a->apex_off, WIRE_TYPE_SOA, a->z->ttl,
		    (uint16_t)(zw->soa_names_len + 20));
	wire_put(&a->w, zw->soa_names, zw->soa_names_len);
	wire_put32(&a->w, a->z->serial);
	for (int i = 0; i < 3; i++)
		wire_put32(&a->w, soa_times[i]);
	wire_put32(&a->w, a->z->ttl);
}

static void answer_apex(struct answer *a, uint16_t t)
{
	if (t == WIRE_TYPE_SOA || t == WIRE_TYPE_ANY)
		put_soa(a), a->an++;
	if (t == WIRE_TYPE_NS || t == WIRE_TYPE_ANY) {
		wire_put_rr(&a->w, WIRE_HEADER_LEN, WIRE_TYPE_NS, a->z->ttl,
			    (uint16_t)a->z->wire.ns_len);
		wire_put(&a->w, a->z->wire.ns, a->z->wire.ns_len);
		a->an++;
	}
	if (a->an == 0)
		put_soa(a), a->ns++; /* NODATA */
}

static void put_txt(struct answer *a, const char *reason, const uint8_t addr[16])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char ip[INET6_ADDRSTRLEN], txt[BLOCKLIST_TXT_MAX];
	if (memcmp(addr, v4mapped, 12) == 0)
		inet_ntop(AF_INET, addr + 12, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
	blocklist_txt_compose(reason, a->z->url, ip, txt, sizeof(txt));
	size_t n = strlen(txt); /* < 256: one character-string */
	uint8_t len = (uint8_t)n;
	wire_put_rr(&a->w, WIRE_HEADER_LEN, WIRE_TYPE_TXT, a->z->ttl, (uint16_t)(n + 1));
	wire_put(&a->w, &len, 1);
	wire_put(&a->w, txt, n);
}

/* The labels before the zone as text ("2.0.0.127"), if they can be an address at all: hex
 * digits only, so that no byte of a label can pass for a dot. */
static int relative_text(const struct wire_question *q, size_t n_rel, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t l = 0; l < n_rel; l++) {
		const uint8_t *label = q->name + q->label_off[l];
		if (o + label[0] + 2 > cap)
			return -1;
		if (l)
			out[o++] = '.';
		for (size_t i = 1; i <= label[0]; i++) {
			uint8_t c = label[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			      (c >= 'A' && c <= 'F')))
				return -1;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return 0;
}

static void answer_name(struct answer *a, const struct blocklist_index *x, size_t n_rel)
{
	char rel[64];
	uint8_t addr[16];
	unsigned code;
	const char *reason;
	if (relative_text(a->q, n_rel, rel, sizeof(rel)) < 0 ||
	    blocklist_name_parse(rel, addr) < 0 ||
	    !blocklist_index_lookup(x, addr, &code, &reason)) {
		a->rcode = WIRE_RCODE_NXDOMAIN;
		put_soa(a), a->ns++;
		return;
	}
	uint16_t t = a->q->qtype;
	if (t == WIRE_TYPE_A || t == WIRE_TYPE_ANY) {
		uint8_t ip[4] = {127, 0, 0, (uint8_t)code};
		wire_put_rr(&a->w, WIRE_HEADER_LEN, WIRE_TYPE_A, a->z->ttl, 4);
		wire_put(&a->w, ip, 4);
		a->an++;
	}
	if (t == WIRE_TYPE_TXT || t == WIRE_TYPE_ANY)
		put_txt(a, reason, addr), a->an++;
	if (a->an == 0)
		put_soa(a), a->ns++;
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* How many labels of the question come before the zone (0: the apex), or -1 outside it.
 * Compared case-insensitively (RFC 4343); length bytes (< 64) never fold. */
static int zone_relative(const struct blocklist_zone *z, const struct wire_question *q)
{
	const struct blocklist_zone_wire *zw = &z->wire;
	if (q->n_labels < zw->apex_labels)
		return -1;
	size_t n_rel = q->n_labels - zw->apex_labels;
	size_t off = n_rel < q->n_labels ? q->label_off[n_rel] : q->name_len - 1;
	if (q->name_len - off != zw->apex_len)
		return -1;
	for (size_t i = 0; i < zw->apex_len; i++)
		if (ascii_lower(q->name[off + i]) != zw->apex[i])
			return -1;
	return (int)n_rel;
}

static size_t answer_limit(const struct wire_question *q, int tcp, size_t cap)
{
	size_t n = tcp				       ? BLOCKLIST_MSG_MAX
		   : !q->edns			       ? BLOCKLIST_UDP_MAX
		   : q->edns_size > BLOCKLIST_EDNS_MAX ? BLOCKLIST_EDNS_MAX
						       : q->edns_size;
	return n < cap ? n : cap;
}

/* Header, the question, and the records of the answer; then OPT, or when the records did not
 * fit the same without records and with TC (the client retries over TCP). */
static size_t answer_question(struct answer *a, const struct blocklist_index *x, size_t limit)
{
	const struct wire_question *q = a->q;
	int rel = zone_relative(a->z, q);
	int in_zone = rel >= 0 && (q->qclass == WIRE_CLASS_IN || q->qclass == WIRE_CLASS_ANY);
	size_t opt = q->edns ? WIRE_OPT_LEN : 0;
	a->w.cap = limit > opt ? limit - opt : 0;
	wire_put_header(&a->w, q, 0, 0, 0, 0, 0, 0, 0); /* rewritten below */
	wire_put(&a->w, q->name, q->name_len);
	wire_put16(&a->w, q->qtype);
	wire_put16(&a->w, q->qclass);
	size_t question_end = a->w.len;
	if (a->w.full)
		return 0; /* cap cannot even hold the question */
	a->apex_off = (uint16_t)(WIRE_HEADER_LEN + (q->name_len - a->z->wire.apex_len));
	if (!in_zone)
		a->rcode = WIRE_RCODE_REFUSED;
	else if (rel == 0)
		answer_apex(a, q->qtype);
	else
		answer_name(a, x, (size_t)rel);
	int tc = a->w.full;
	if (tc) {
		a->w.full = 0;
		a->w.len = question_end;
		a->an = a->ns = 0;
	}
	a->w.cap = limit;
	if (q->edns)
		wire_put_opt(&a->w, BLOCKLIST_EDNS_MAX);
	if (a->w.full)
		return 0; /* nor the question and OPT */
	struct wire_out h = {a->w.p, WIRE_HEADER_LEN, 0, 0};
	wire_put_header(&h, q, in_zone, tc, a->rcode, 1, a->an, a->ns, q->edns ? 1 : 0);
	return a->w.len;
}

size_t blocklist_query_answer(const struct blocklist_zone *z, const struct blocklist_index *x,
			      const uint8_t *in, size_t len, uint8_t *out, size_t cap, int tcp)
{
	struct wire_question q;
	enum wire_parse p = wire_parse_query(in, len, &q);
	if (p == WIRE_PARSE_DROP || z->wire.apex_len == 0 || cap < WIRE_HEADER_LEN)
		return 0;
	struct answer a = {z, &q, {out, cap, 0, 0}, 0, 0, 0, WIRE_RCODE_NOERROR};
	if (p != WIRE_PARSE_OK) {
		wire_put_header(&a.w, &q, 0, 0,
				p == WIRE_PARSE_NOTIMPL ? WIRE_RCODE_NOTIMPL : WIRE_RCODE_FORMERR,
				0, 0, 0, 0);
		return a.w.len;
	}
	return answer_question(&a, x, answer_limit(&q, tcp, cap));
}

void blocklist_txt_compose(const char *reason, const char *url, const char *ip, char *out,
			   size_t outlen)
{
	if (url && *url)
		snprintf(out, outlen, "%s; %s%s", reason, url, ip);
	else
		snprintf(out, outlen, "%s", reason);
}

size_t blocklist_answer_truncate(uint8_t *ans, size_t len)
{
	if (len < WIRE_HEADER_LEN || !(ans[2] & 0x80))
		return 0;
	size_t end = WIRE_HEADER_LEN;
	if (ans[4] == 0 && ans[5] == 1) { /* our answers carry the question as a plain name */
		while (end < len && ans[end] != 0 && ans[end] < 64)
			end += 1 + (size_t)ans[end];
		end += 1 + 4;
		if (end > len)
			return 0;
	}
	ans[2] |= 0x02;
	memset(ans + 6, 0, 6); /* no answer, authority or additional records */
	return end;
}
