/* data.c — the DATA stream state machine (RFC 5321 4.1.1.4, 4.5.2), smuggling-safe. Pure. */
#include "parse.h"

#include <string.h>

void smtp_data_init(struct smtp_data *d, uint64_t max_size, uint64_t max_header, int normalise)
{
	memset(d, 0, sizeof(*d));
	d->state = SMTP_DATA_SOL;
	d->in_header = 1;
	d->max_size = max_size;
	d->max_header = max_header;
	d->normalise = normalise;
}

/* Append message bytes, counting them against the size and header limits. Once a limit is
 * exceeded nothing more is written: the message will be refused at the final dot. */
static void emit(struct smtp_data *d, const char *s, size_t n, char *out, size_t *o)
{
	if (d->in_header) {
		d->header_size += n;
		if (d->header_size > d->max_header)
			d->header_too_big = 1;
	}
	d->size += n;
	if (d->size > d->max_size)
		d->too_big = 1;
	if (d->too_big || d->header_too_big)
		return;
	memcpy(out + *o, s, n);
	*o += n;
}

/* A bare CR or LF: in normalise mode it becomes CR LF, but the next byte is never treated
 * as the start of a line, so neither a dot nor an empty line after it means anything. */
static void bare_newline(struct smtp_data *d, char *out, size_t *o)
{
	if (d->normalise)
		emit(d, "\r\n", 2, out, o);
	else
		d->bad_newline = 1;
	d->state = SMTP_DATA_MID;
}

static void end_of_line(struct smtp_data *d, int empty, char *out, size_t *o)
{
	emit(d, "\r\n", 2, out, o);
	if (empty)
		d->in_header = 0;
	d->state = SMTP_DATA_SOL;
}

/* One ordinary byte in the middle of a line. */
static void body_byte(struct smtp_data *d, char c, char *out, size_t *o)
{
	if (c == '\0') {
		/* Dropped, but it still occupies the line: "\r\n\0.\r\n" is not an end. */
		d->bad_nul = 1;
		d->state = SMTP_DATA_MID;
		return;
	}
	if ((unsigned char)c >= 0x80)
		d->eight_bit = 1;
	emit(d, &c, 1, out, o);
	d->state = SMTP_DATA_MID;
}

size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out, size_t *outlen)
{
	size_t o = 0, i;
	for (i = 0; i < len && !d->done; i++) {
		char c = in[i];
		switch (d->state) {
		case SMTP_DATA_SOL:
			d->line_empty = c == '\r';
			if (c == '.')
				d->state = SMTP_DATA_DOT;
			else if (c == '\r')
				d->state = SMTP_DATA_CR;
			else if (c == '\n')
				bare_newline(d, out, &o);
			else
				body_byte(d, c, out, &o);
			break;
		case SMTP_DATA_MID:
			d->line_empty = 0;
			if (c == '\r')
				d->state = SMTP_DATA_CR;
			else if (c == '\n')
				bare_newline(d, out, &o);
			else
				body_byte(d, c, out, &o);
			break;
		case SMTP_DATA_CR:
			if (c == '\n') {
				end_of_line(d, d->line_empty, out, &o);
				break;
			}
			bare_newline(d, out, &o);
			i--; /* the byte after a bare CR is an ordinary byte: look at it again */
			break;
		case SMTP_DATA_DOT:
			/* RFC 5321 4.5.2: the leading dot is removed; the rest is the line. */
			d->line_empty = 0;
			if (c == '\r')
				d->state = SMTP_DATA_DOTCR;
			else if (c == '\n')
				bare_newline(d, out, &o);
			else
				body_byte(d, c, out, &o);
			break;
		case SMTP_DATA_DOTCR:
			if (c == '\n') {
				d->done = 1;
				break;
			}
			bare_newline(d, out, &o);
			i--;
			break;
		}
	}
	*outlen = o;
	return i;
}
