/* record.c — the spool's on-disk records. Pure. One segment file is a sequence of:
 *   "RGM1 <qid> <env-len> <body-len> <crc32>\n" <envelope> <body>   a message
 *   "RGD1 <qid> <rcpt-index>\n"                                     a recipient is done
 *   "RGX1 <qid>\n"                                                  a commit that failed, or
 *                                                                   a message deleted
 *   "RGH1 <qid> <1|0>\n"                                            held / released
 * qid is 16 hex digits, lengths decimal, crc 8 hex digits (CRC-32 of envelope then body). */
#include "queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define REC_HEADER_MAX 96

void spool_qid_format(uint64_t qid, char out[SPOOL_QID_LEN + 1])
{
	snprintf(out, SPOOL_QID_LEN + 1, "%016" PRIX64, qid);
}

size_t spool_rec_msg_header(char *buf, size_t len, uint64_t qid, uint64_t env_len,
			    uint64_t body_len, uint32_t crc)
{
	int n = snprintf(buf, len, "RGM1 %016" PRIX64 " %" PRIu64 " %" PRIu64 " %08" PRIX32 "\n",
			 qid, env_len, body_len, crc);
	return n > 0 ? (size_t)n : 0;
}

/* Strict unsigned number of exactly the given base from s[*i]; fixed width when width > 0. */
static int take_number(const char *s, size_t n, size_t *i, int base, size_t width, uint64_t *out)
{
	size_t start = *i;
	uint64_t v = 0;
	while (*i < n) {
		char c = s[*i];
		int d = c >= '0' && c <= '9'		     ? c - '0'
			: base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
							     : -1;
		if (d < 0)
			break;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return -1;
		v = v * (uint64_t)base + (uint64_t)d;
		(*i)++;
	}
	if (*i == start || (width && *i - start != width) || *i - start > 20)
		return -1;
	*out = v;
	return 0;
}

static int take_char(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

/* Parse the header line (without its length check); 0 or -1. */
static int parse_header(const char *s, size_t n, struct spool_rec *r)
{
	size_t i = 5;
	uint64_t crc = 0;
	if (n < 5 || memcmp(s, "RG", 2) != 0 || s[3] != '1' || s[4] != ' ')
		return -1;
	memset(r, 0, sizeof(*r));
	if (take_number(s, n, &i, 16, 16, &r->qid) < 0)
		return -1;
	switch (s[2]) {
	case 'M':
		r->type = SPOOL_REC_MSG;
		if (take_char(s, n, &i, ' ') || take_number(s, n, &i, 10, 0, &r->env_len) ||
		    take_char(s, n, &i, ' ') || take_number(s, n, &i, 10, 0, &r->body_len) ||
		    take_char(s, n, &i, ' ') || take_number(s, n, &i, 16, 8, &crc))
			return -1;
		r->crc = (uint32_t)crc;
		break;
	case 'D':
		r->type = SPOOL_REC_DONE;
		if (take_char(s, n, &i, ' ') || take_number(s, n, &i, 10, 0, &r->rcpt))
			return -1;
		break;
	case 'X':
		r->type = SPOOL_REC_CANCEL;
		break;
	case 'H':
		r->type = SPOOL_REC_HOLD;
		if (take_char(s, n, &i, ' ') || take_number(s, n, &i, 10, 1, &r->rcpt) ||
		    r->rcpt > 1)
			return -1;
		break;
	default:
		return -1;
	}
	return i == n ? 0 : -1;
}

static uint32_t crc_of(const char *p, uint64_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	while (len > 0) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
		crc = crc32(crc, (const Bytef *)p, chunk);
		p += chunk;
		len -= chunk;
	}
	return (uint32_t)crc;
}

long long spool_rec_parse(const char *buf, size_t len, struct spool_rec *out)
{
	size_t scan = len < REC_HEADER_MAX ? len : REC_HEADER_MAX;
	const char *nl = memchr(buf, '\n', scan);
	if (!nl)
		return len < REC_HEADER_MAX &&
			       (len < 4 || memcmp(buf, "RG", len < 2 ? len : 2) == 0)
			   ? 0
			   : -1;
	size_t hlen = (size_t)(nl - buf);
	if (parse_header(buf, hlen, out) < 0)
		return -1;
	if (out->type != SPOOL_REC_MSG)
		return (long long)hlen + 1;
	uint64_t avail = len - hlen - 1;
	if (out->env_len > avail || out->body_len > avail - out->env_len)
		return 0;
	out->env_off = hlen + 1;
	out->body_off = out->env_off + out->env_len;
	uint32_t crc = crc_of(buf + out->env_off, out->env_len + out->body_len);
	if (crc != out->crc)
		return -1;
	return (long long)(out->body_off + out->body_len);
}
