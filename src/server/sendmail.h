/* sendmail.h — the message side of `relayguard sendmail` (the sendmail(1) interface): what it
 * does to the text read from stdin before submitting it. Pure: no I/O. */
#ifndef RG_SERVER_SENDMAIL_H
#define RG_SERVER_SENDMAIL_H

#include <stddef.h>

struct evbuffer;

/* The addresses of an RFC 5322 address list ("a@x, B <b@y>, grp: c@z;" with comments and
 * quoted strings), or of a sendmail argument: fn gets each address (the part inside <>, or
 * the element without comments and outer white space), not NUL-terminated. Returns the number
 * of addresses, or -1 when fn returned non-zero (then it stopped). */
int sendmail_addr_list(const char *s, size_t len,
		       int (*fn)(void *arg, const char *addr, size_t len), void *arg);

struct sendmail_prep {
	int dot_ends;	       /* a line "." alone ends the message (no -i / -oi) */
	const char *from_hdr;  /* the From: header to add when there is none ("From: ...") */
	const char *date_hdr;  /* Date: likewise */
	const char *msgid_hdr; /* Message-ID: likewise */
	int (*on_rcpt_hdr)(void *arg, const char *addr, size_t len); /* -t: To/Cc/Bcc, or NULL */
	void *arg;
};

/* The message in[0..len) as it is submitted: lines to CRLF (LF, CRLF or a lone CR at the end),
 * cut at a "." line when dot_ends, Bcc: headers removed, From:/Date:/Message-ID: added when
 * absent, an empty line put between header and body when a body line came without one. The
 * To/Cc/Bcc addresses go to on_rcpt_hdr. Appends to out; 0, or -1 (out of memory, or
 * on_rcpt_hdr failed). */
int sendmail_prepare(const char *in, size_t len, const struct sendmail_prep *p,
		     struct evbuffer *out);

#endif
