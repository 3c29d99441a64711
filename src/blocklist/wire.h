/* wire.h — the minimal DNS codec of the DNSBL query path (wire.c), private to src/blocklist:
 * parse one question (RFC 1035 4.1, EDNS OPT of RFC 6891) and write answers into a caller
 * buffer. Pure, bounded, no allocation. */
#ifndef RG_BLOCKLIST_WIRE_H
#define RG_BLOCKLIST_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_LEN 12
#define WIRE_NAME_MAX 255 /* a name in wire form, root label included */
#define WIRE_LABELS_MAX 128
#define WIRE_OPT_LEN 11 /* an OPT RR without options */

#define WIRE_TYPE_A 1
#define WIRE_TYPE_NS 2
#define WIRE_TYPE_SOA 6
#define WIRE_TYPE_TXT 16
#define WIRE_TYPE_OPT 41
#define WIRE_TYPE_ANY 255
#define WIRE_CLASS_IN 1
#define WIRE_CLASS_ANY 255

#define WIRE_RCODE_NOERROR 0
#define WIRE_RCODE_FORMERR 1
#define WIRE_RCODE_SERVFAIL 2
#define WIRE_RCODE_NXDOMAIN 3
#define WIRE_RCODE_NOTIMPL 4
#define WIRE_RCODE_REFUSED 5

enum wire_parse {
	WIRE_PARSE_OK,
	WIRE_PARSE_DROP,    /* shorter than a header, or a response: never answered */
	WIRE_PARSE_FORMERR, /* header fields (id, opcode, rd, cd) valid, the rest not */
	WIRE_PARSE_NOTIMPL, /* an opcode other than QUERY */
};

struct wire_question {
	uint16_t id;
	uint8_t opcode, rd, cd;
	uint8_t name[WIRE_NAME_MAX]; /* as received: 0x20 case kept, root label included */
	size_t name_len;
	uint8_t label_off[WIRE_LABELS_MAX]; /* where each label starts in name */
	size_t n_labels;		    /* the root label not counted */
	uint16_t qtype, qclass;
	int edns;	    /* an OPT RR was present */
	uint16_t edns_size; /* its UDP payload size (at least 512) */
};

/* Parse the query in[0..len): header, exactly one question whose name has no compression
 * pointer, then the other sections skipped (any names) looking for one OPT RR. */
enum wire_parse wire_parse_query(const uint8_t *in, size_t len, struct wire_question *q);

/* "bl.example.org" (trailing dot optional) → wire form, lower case. Length or -1. */
int wire_name_from_text(const char *text, uint8_t *out, size_t cap);
/* Labels in a wire name (the root not counted). */
size_t wire_name_labels(const uint8_t *name);

/* An answer being written: once a put does not fit, full is set and nothing more is written. */
struct wire_out {
	uint8_t *p;
	size_t cap, len;
	int full;
};
void wire_put(struct wire_out *w, const void *data, size_t n);
void wire_put16(struct wire_out *w, uint16_t v);
void wire_put32(struct wire_out *w, uint32_t v);
/* An RR header whose owner is a compression pointer to offset (class IN). */
void wire_put_rr(struct wire_out *w, uint16_t owner_off, uint16_t type, uint32_t ttl,
		 uint16_t rdlen);
/* The header of an answer to q: QR, opcode, RD, CD copied; aa, tc, rcode; counts. */
void wire_put_header(struct wire_out *w, const struct wire_question *q, int aa, int tc,
		     unsigned rcode, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar);
/* OPT advertising our UDP size (RFC 6891 6.1.2). */
void wire_put_opt(struct wire_out *w, uint16_t udp_size);

#endif
