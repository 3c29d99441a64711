/* wire.c — the minimal DNS codec of the DNSBL query path (see wire.h). It replaces ldns on
 * that path because ldns allocated a packet, a list and a record per section and compressed
 * names through a tree on every answer: half of the server's CPU time (docs/design.md). */
#include "wire.h"

#include <string.h>

#define PTR_MASK 0xc0
#define OPCODE_QUERY 0

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The question's name at in[*off]: plain labels only (RFC 1035 4.1.4 allows pointers, but no
 * client compresses the only name of a query). -1 on anything else. */
static int parse_qname(const uint8_t *in, size_t len, size_t *off, struct wire_question *q)
{
	size_t o = *off;
	q->name_len = 0;
	q->n_labels = 0;
	for (;;) {
		if (o >= len)
			return -1;
		uint8_t l = in[o];
		if (l & PTR_MASK)
			return -1; /* a pointer, or an extended label type (RFC 6891 5) */
		if (q->name_len + 1 + l > WIRE_NAME_MAX || o + 1 + l > len)
			return -1;
		if (l == 0)
			break;
		if (q->n_labels == WIRE_LABELS_MAX)
			return -1;
		q->label_off[q->n_labels++] = (uint8_t)q->name_len;
		memcpy(q->name + q->name_len, in + o, 1 + (size_t)l);
		q->name_len += 1 + (size_t)l;
		o += 1 + (size_t)l;
	}
	q->name[q->name_len++] = 0;
	*off = o + 1;
	return 0;
}

/* Step over any name (pointers allowed: a pointer ends it). -1 when it runs off the end. */
static int skip_name(const uint8_t *in, size_t len, size_t *off)
{
	size_t o = *off;
	for (size_t n = 0; n < WIRE_NAME_MAX; n++) {
		if (o >= len)
			return -1;
		uint8_t l = in[o];
		if ((l & PTR_MASK) == PTR_MASK) {
			*off = o + 2;
			return o + 2 <= len ? 0 : -1;
		}
		if (l & PTR_MASK)
			return -1;
		o += 1 + (size_t)l;
		if (l == 0) {
			*off = o;
			return 0;
		}
	}
	return -1;
}

/* Skip count RRs from *off; note an OPT RR in q (ar: the additional section). */
static int skip_rrs(const uint8_t *in, size_t len, size_t *off, unsigned count, int ar,
		    struct wire_question *q)
{
	for (unsigned i = 0; i < count; i++) {
		size_t name = *off;
		if (skip_name(in, len, off) < 0 || *off + 10 > len)
			return -1;
		uint16_t type = get16(in + *off), cls = get16(in + *off + 2);
		size_t rdlen = get16(in + *off + 8);
		*off += 10;
		if (*off + rdlen > len)
			return -1;
		*off += rdlen;
		if (type != WIRE_TYPE_OPT)
			continue;
		if (!ar || q->edns || *off - rdlen - 10 - name != 1 || in[name] != 0)
			return -1; /* one OPT, in the additional section, owned by the root */
		q->edns = 1;
		q->edns_size = cls < 512 ? 512 : cls;
	}
	return 0;
}

enum wire_parse wire_parse_query(const uint8_t *in, size_t len, struct wire_question *q)
{
	memset(q, 0, offsetof(struct wire_question, name));
	q->name_len = q->n_labels = 0;
	q->edns = 0;
	if (len < WIRE_HEADER_LEN || (in[2] & 0x80))
		return WIRE_PARSE_DROP;
	q->id = get16(in);
	q->opcode = (in[2] >> 3) & 0x0f;
	q->rd = in[2] & 0x01;
	q->cd = (in[3] >> 4) & 0x01;
	if (q->opcode != OPCODE_QUERY)
		return WIRE_PARSE_NOTIMPL;
	if (get16(in + 4) != 1)
		return WIRE_PARSE_FORMERR;
	size_t off = WIRE_HEADER_LEN;
	if (parse_qname(in, len, &off, q) < 0 || off + 4 > len)
		return WIRE_PARSE_FORMERR;
	q->qtype = get16(in + off);
	q->qclass = get16(in + off + 2);
	off += 4;
	if (skip_rrs(in, len, &off, get16(in + 6), 0, q) < 0 ||
	    skip_rrs(in, len, &off, get16(in + 8), 0, q) < 0 ||
	    skip_rrs(in, len, &off, get16(in + 10), 1, q) < 0)
		return WIRE_PARSE_FORMERR;
	return WIRE_PARSE_OK;
}

int wire_name_from_text(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0, tl = strlen(text);
	if (tl && text[tl - 1] == '.')
		tl--;
	for (size_t i = 0; i < tl;) {
		size_t j = i;
		while (j < tl && text[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0 || l > 63 || n + 1 + l + 1 > cap || n + 1 + l + 1 > WIRE_NAME_MAX)
			return -1;
		out[n++] = (uint8_t)l;
		for (size_t k = i; k < j; k++)
			out[n++] =
			    (uint8_t)(text[k] >= 'A' && text[k] <= 'Z' ? text[k] + 32 : text[k]);
		i = j + 1;
	}
	if (n + 1 > cap)
		return -1;
	out[n++] = 0;
	return (int)n;
}

size_t wire_name_labels(const uint8_t *name)
{
	size_t n = 0;
	for (size_t o = 0; name[o] && n < WIRE_LABELS_MAX; o += 1 + (size_t)name[o])
		n++;
	return n;
}

void wire_put(struct wire_out *w, const void *data, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = 1;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

void wire_put16(struct wire_out *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	wire_put(w, b, 2);
}

void wire_put32(struct wire_out *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	wire_put(w, b, 4);
}

void wire_put_rr(struct wire_out *w, uint16_t owner_off, uint16_t type, uint32_t ttl,
		 uint16_t rdlen)
{
	wire_put16(w, (uint16_t)(0xc000 | owner_off));
	wire_put16(w, type);
	wire_put16(w, WIRE_CLASS_IN);
	wire_put32(w, ttl);
	wire_put16(w, rdlen);
}

void wire_put_header(struct wire_out *w, const struct wire_question *q, int aa, int tc,
		     unsigned rcode, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	uint8_t h[WIRE_HEADER_LEN] = {
	    (uint8_t)(q->id >> 8),
	    (uint8_t)q->id,
	    (uint8_t)(0x80 | q->opcode << 3 | (aa ? 0x04 : 0) | (tc ? 0x02 : 0) | q->rd),
	    (uint8_t)((q->cd ? 0x10 : 0) | (rcode & 0x0f)),
	    (uint8_t)(qd >> 8),
	    (uint8_t)qd,
	    (uint8_t)(an >> 8),
	    (uint8_t)an,
	    (uint8_t)(ns >> 8),
	    (uint8_t)ns,
	    (uint8_t)(ar >> 8),
	    (uint8_t)ar,
	};
	wire_put(w, h, sizeof(h));
}

void wire_put_opt(struct wire_out *w, uint16_t udp_size)
{
	const uint8_t opt[WIRE_OPT_LEN] = {
	    0, 0, WIRE_TYPE_OPT, (uint8_t)(udp_size >> 8), (uint8_t)udp_size, 0, 0, 0, 0, 0, 0};
	wire_put(w, opt, sizeof(opt));
}
