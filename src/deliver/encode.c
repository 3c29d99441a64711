/* encode.c — the message body as it goes on the wire: CR LF line ends only, dot-stuffing, the
 * end-of-data line. Streaming (chunks split anywhere) and pure: no I/O.
 *
 * A CR is held back until the next byte shows whether it is part of CR LF; either way CR LF is
 * written, so a bare CR or LF never leaves (outbound SMTP smuggling: "\n.\n" or "\r.\r" in a
 * stored body must not end the message at a receiver that accepts bare line ends). Holding the
 * CR back costs its 2 bytes on the next call: hence DELIVER_ENCODE_MAX(n) = 2n + 2. */
#include "deliver.h"

void deliver_encode_init(struct deliver_encoder *e)
{
	e->line_start = 1;
	e->cr = 0;
}

static size_t put_crlf(struct deliver_encoder *e, char *out)
{
	out[0] = '\r';
	out[1] = '\n';
	e->line_start = 1;
	e->cr = 0;
	return 2;
}

size_t deliver_encode(struct deliver_encoder *e, const char *in, size_t inlen, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < inlen; i++) {
		char ch = in[i];
		if (e->cr) {
			o += put_crlf(e, out + o);
			if (ch == '\n')
				continue;
		}
		if (ch == '\r') {
			e->cr = 1;
			continue;
		}
		if (ch == '\n') {
			o += put_crlf(e, out + o);
			continue;
		}
		if (ch == '.' && e->line_start)
			out[o++] = '.';
		out[o++] = ch;
		e->line_start = 0;
	}
	return o;
}

size_t deliver_encode_finish(struct deliver_encoder *e, char *out)
{
	size_t o = 0;
	if (e->cr || !e->line_start)
		o += put_crlf(e, out);
	out[o++] = '.';
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}
