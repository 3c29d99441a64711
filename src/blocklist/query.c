/* query.c — the RFC 5782 query handler: one DNS message in, one answer out, parsed and built
 * with ldns. A for 127.0.0.code and TXT for listed addresses, NXDOMAIN otherwise, SOA and NS at
 * the apex, REFUSED outside the zone, FORMERR for what does not parse, nothing for responses. */
#include "blocklist.h"

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#define DNS_HEADER_LEN 12
#define DNS_QR_BYTE 2
#define DNS_QR_BIT 0x80

struct answer {
	const struct blocklist_zone *z;
	const struct blocklist_index *x;
	ldns_pkt *q, *r;
	const ldns_rr *question;
};

static ldns_rr *rr_new(const ldns_rdf *owner, ldns_rr_type type, uint32_t ttl)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_rdf_clone(owner);
	if (!rr || !o) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	return rr;
}

/* Push rdf (taken) onto rr; -1 (and rdf freed) on failure. */
static int rr_push(ldns_rr *rr, ldns_rdf *rdf)
{
	if (!rdf || !ldns_rr_push_rdf(rr, rdf)) {
		ldns_rdf_deep_free(rdf);
		return -1;
	}
	return 0;
}

static int push(struct answer *a, ldns_pkt_section s, ldns_rr *rr)
{
	if (!rr || !ldns_pkt_push_rr(a->r, s, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

static int push_soa(struct answer *a, ldns_pkt_section s)
{
	const struct blocklist_zone *z = a->z;
	ldns_rdf *apex = ldns_dname_new_frm_str(z->zone);
	ldns_rr *rr = apex ? rr_new(apex, LDNS_RR_TYPE_SOA, z->ttl) : NULL;
	ldns_rdf_deep_free(apex);
	if (!rr)
		return -1;
	const uint32_t times[] = {3600, 600, 604800, z->ttl}; /* refresh retry expire minimum */
	int rc = rr_push(rr, ldns_dname_new_frm_str(z->ns));
	rc = rc ? rc : rr_push(rr, ldns_dname_new_frm_str(z->hostmaster));
	rc = rc ? rc : rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, z->serial));
	for (int i = 0; i < 4 && !rc; i++)
		rc = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, times[i]));
	if (rc) {
		ldns_rr_free(rr);
		return -1;
	}
	return push(a, s, rr);
}

static int push_ns(struct answer *a)
{
	ldns_rr *rr = rr_new(ldns_rr_owner(a->question), LDNS_RR_TYPE_NS, a->z->ttl);
	if (rr && rr_push(rr, ldns_dname_new_frm_str(a->z->ns)) < 0) {
		ldns_rr_free(rr);
		return -1;
	}
	return push(a, LDNS_SECTION_ANSWER, rr);
}

static int answer_apex(struct answer *a, ldns_rr_type t)
{
	int rc = 0;
	if (t == LDNS_RR_TYPE_SOA || t == LDNS_RR_TYPE_ANY)
		rc = push_soa(a, LDNS_SECTION_ANSWER);
	if (!rc && (t == LDNS_RR_TYPE_NS || t == LDNS_RR_TYPE_ANY))
		rc = push_ns(a);
	if (!rc && ldns_pkt_ancount(a->r) == 0)
		rc = push_soa(a, LDNS_SECTION_AUTHORITY); /* NODATA */
	return rc;
}

static int push_a(struct answer *a, unsigned code)
{
	uint8_t ip[4] = {127, 0, 0, (uint8_t)code};
	ldns_rr *rr = rr_new(ldns_rr_owner(a->question), LDNS_RR_TYPE_A, a->z->ttl);
	if (rr && rr_push(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, ip)) < 0) {
		ldns_rr_free(rr);
		return -1;
	}
	return push(a, LDNS_SECTION_ANSWER, rr);
}

static int push_txt(struct answer *a, const char *reason, const uint8_t addr[16])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char ip[INET6_ADDRSTRLEN], txt[BLOCKLIST_TXT_MAX];
	uint8_t str[BLOCKLIST_TXT_MAX];
	if (memcmp(addr, v4mapped, 12) == 0)
		inet_ntop(AF_INET, addr + 12, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
	blocklist_txt_compose(reason, a->z->url, ip, txt, sizeof(txt));
	size_t n = strlen(txt); /* < 256: one character-string */
	str[0] = (uint8_t)n;
	memcpy(str + 1, txt, n);
	ldns_rr *rr = rr_new(ldns_rr_owner(a->question), LDNS_RR_TYPE_TXT, a->z->ttl);
	if (rr && rr_push(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1, str)) < 0) {
		ldns_rr_free(rr);
		return -1;
	}
	return push(a, LDNS_SECTION_ANSWER, rr);
}

static int answer_name(struct answer *a, const char *rel, ldns_rr_type t)
{
	uint8_t addr[16];
	unsigned code;
	const char *reason;
	if (blocklist_name_parse(rel, addr) < 0 ||
	    !blocklist_index_lookup(a->x, addr, &code, &reason)) {
		ldns_pkt_set_rcode(a->r, LDNS_RCODE_NXDOMAIN);
		return push_soa(a, LDNS_SECTION_AUTHORITY);
	}
	int rc = 0;
	if (t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_ANY)
		rc = push_a(a, code);
	if (!rc && (t == LDNS_RR_TYPE_TXT || t == LDNS_RR_TYPE_ANY))
		rc = push_txt(a, reason, addr);
	if (!rc && ldns_pkt_ancount(a->r) == 0)
		rc = push_soa(a, LDNS_SECTION_AUTHORITY);
	return rc;
}

/* The question's name relative to the zone: "" at the apex, NULL outside. */
static const char *name_relative(char *name, const char *zone)
{
	size_t n = strlen(name), zn = strlen(zone);
	if (n && name[n - 1] == '.')
		name[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	if (n == zn && !strcmp(name, zone))
		return "";
	if (n > zn + 1 && name[n - zn - 1] == '.' && !strcmp(name + n - zn, zone)) {
		name[n - zn - 1] = '\0';
		return name;
	}
	return NULL;
}

static int answer_question(struct answer *a)
{
	ldns_rr_list *ql = ldns_pkt_question(a->q);
	if (ldns_pkt_get_opcode(a->q) != LDNS_PACKET_QUERY) {
		ldns_pkt_set_rcode(a->r, LDNS_RCODE_NOTIMPL);
		return 0;
	}
	if (ldns_pkt_qdcount(a->q) != 1 || !ql || ldns_rr_list_rr_count(ql) != 1) {
		ldns_pkt_set_rcode(a->r, LDNS_RCODE_FORMERR);
		return 0;
	}
	a->question = ldns_rr_list_rr(ql, 0);
	ldns_rr *qc = ldns_rr_clone(a->question);
	if (!qc || !ldns_pkt_push_rr(a->r, LDNS_SECTION_QUESTION, qc)) {
		ldns_rr_free(qc);
		return -1;
	}
	ldns_rr_class cls = ldns_rr_get_class(a->question);
	char *name = ldns_rdf2str(ldns_rr_owner(a->question));
	const char *rel = name ? name_relative(name, a->z->zone) : NULL;
	int rc = 0;
	if (!name)
		rc = -1;
	else if (!rel || (cls != LDNS_RR_CLASS_IN && cls != LDNS_RR_CLASS_ANY))
		ldns_pkt_set_rcode(a->r, LDNS_RCODE_REFUSED);
	else {
		ldns_pkt_set_aa(a->r, true);
		ldns_rr_type t = ldns_rr_get_type(a->question);
		rc = *rel ? answer_name(a, rel, t) : answer_apex(a, t);
	}
	free(name);
	return rc;
}

/* A header-only answer: id and opcode of the query, rcode, the TC bit. */
static size_t answer_bare(uint16_t id, ldns_pkt_opcode op, ldns_pkt_rcode rcode,
			  const ldns_rr *question, int tc, uint8_t *out, size_t cap)
{
	ldns_pkt *r = ldns_pkt_new();
	uint8_t *wire = NULL;
	size_t len = 0;
	if (!r)
		return 0;
	ldns_pkt_set_id(r, id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, op);
	ldns_pkt_set_rcode(r, rcode);
	ldns_pkt_set_tc(r, tc);
	ldns_pkt_set_aa(r, tc);
	ldns_rr *qc = question ? ldns_rr_clone(question) : NULL;
	if (qc && !ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qc))
		ldns_rr_free(qc);
	if (ldns_pkt2wire(&wire, r, &len) != LDNS_STATUS_OK || len > cap)
		len = 0;
	else
		memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(r);
	return len;
}

static size_t answer_limit(const ldns_pkt *q, int tcp)
{
	if (tcp)
		return BLOCKLIST_MSG_MAX;
	if (!ldns_pkt_edns(q))
		return BLOCKLIST_UDP_MAX;
	size_t n = ldns_pkt_edns_udp_size(q);
	return n < BLOCKLIST_UDP_MAX	? BLOCKLIST_UDP_MAX
	       : n > BLOCKLIST_EDNS_MAX ? BLOCKLIST_EDNS_MAX
					: n;
}

static void answer_header(struct answer *a)
{
	ldns_pkt_set_id(a->r, ldns_pkt_id(a->q));
	ldns_pkt_set_qr(a->r, true);
	ldns_pkt_set_opcode(a->r, ldns_pkt_get_opcode(a->q));
	ldns_pkt_set_rd(a->r, ldns_pkt_rd(a->q));
	ldns_pkt_set_cd(a->r, ldns_pkt_cd(a->q));
	if (ldns_pkt_edns(a->q))
		ldns_pkt_set_edns_udp_size(a->r, BLOCKLIST_EDNS_MAX);
}

size_t blocklist_query_answer(const struct blocklist_zone *z, const struct blocklist_index *x,
			      const uint8_t *in, size_t len, uint8_t *out, size_t cap, int tcp)
{
	if (len < DNS_HEADER_LEN || (in[DNS_QR_BYTE] & DNS_QR_BIT))
		return 0; /* nothing to answer to, or a response: never reflect */
	uint16_t id = (uint16_t)(in[0] << 8 | in[1]);
	struct answer a = {z, x, NULL, NULL, NULL};
	if (ldns_wire2pkt(&a.q, in, len) != LDNS_STATUS_OK)
		return answer_bare(id, LDNS_PACKET_QUERY, LDNS_RCODE_FORMERR, NULL, 0, out, cap);
	size_t n = 0;
	uint8_t *wire = NULL;
	if (!(a.r = ldns_pkt_new()))
		goto done;
	answer_header(&a);
	if (answer_question(&a) < 0) {
		n = answer_bare(id, ldns_pkt_get_opcode(a.q), LDNS_RCODE_SERVFAIL, a.question, 0,
				out, cap);
		goto done;
	}
	if (ldns_pkt2wire(&wire, a.r, &n) != LDNS_STATUS_OK)
		n = 0;
	else if (n > answer_limit(a.q, tcp) || n > cap)
		n = answer_bare(id, ldns_pkt_get_opcode(a.q), ldns_pkt_get_rcode(a.r), a.question,
				1, out, cap);
	else
		memcpy(out, wire, n);
done:
	free(wire);
	ldns_pkt_free(a.r);
	ldns_pkt_free(a.q);
	return n;
}

void blocklist_txt_compose(const char *reason, const char *url, const char *ip, char *out,
			   size_t outlen)
{
	if (url && *url)
		snprintf(out, outlen, "%s; %s%s", reason, url, ip);
	else
		snprintf(out, outlen, "%s", reason);
}
