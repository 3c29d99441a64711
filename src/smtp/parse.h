/* parse.h — pure parsers for the SMTP server side: line splitting, command lines, MAIL
 * parameters and the DATA stream (dot-unstuffing, end detection, smuggling defence).
 * No I/O, no allocation; every output is bounded by the caller's buffers. */
#ifndef RG_SMTP_PARSE_H
#define RG_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum smtp_line_status {
	SMTP_LINE_OK,	    /* a CRLF-terminated line */
	SMTP_LINE_MORE,	    /* no complete line yet and still under the limit */
	SMTP_LINE_TOO_LONG, /* max bytes seen without LF: caller discards up to the next LF */
	SMTP_LINE_BARE_LF,  /* line ended by LF without CR */
	SMTP_LINE_BARE_CR,  /* CR not followed by LF inside the line */
	SMTP_LINE_NUL,	    /* NUL byte inside the line */
};

/* Look for one command line at the start of buf. max is the line-length limit including CRLF.
 * On every status but MORE and TOO_LONG, *linelen is the length without the terminator and
 * *consumed the bytes to drop (terminator included). */
enum smtp_line_status smtp_line_split(const char *buf, size_t len, size_t max, size_t *linelen,
				      size_t *consumed);

enum smtp_verb {
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_HELP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_UNKNOWN,
};

struct smtp_command {
	enum smtp_verb verb;
	const char *arg; /* after the verb (and after "FROM:"/"TO:"), leading spaces skipped */
	size_t arg_len;
};

enum smtp_cmd_status {
	SMTP_CMD_OK,
	SMTP_CMD_UNKNOWN, /* 500 5.5.1 */
	SMTP_CMD_SYNTAX,  /* 501 5.5.2: e.g. "MAIL" without "FROM:" */
};

/* Split a command line (no CRLF) into verb and argument. Verbs are case-insensitive; MAIL and
 * RCPT must be followed by "FROM:" / "TO:" (a space before the path is tolerated). */
enum smtp_cmd_status smtp_command_parse(const char *line, size_t len, struct smtp_command *out);

/* Does a verb take an argument, forbid one, or allow either? Used for 501 replies. */
enum smtp_arg_rule { SMTP_ARG_NONE, SMTP_ARG_REQUIRED, SMTP_ARG_OPTIONAL };
enum smtp_arg_rule smtp_verb_arg_rule(enum smtp_verb v);

/* ESMTP parameters of MAIL FROM (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461
 * RET and ENVID). */
enum { SMTP_RET_FULL = 1, SMTP_RET_HDRS = 2 };
#define SMTP_ENVID_MAX 100 /* RFC 3461 4.4: xtext characters */
#define SMTP_ORCPT_MAX 500 /* RFC 3461 4.2: the whole "addr-type;xtext" value */

struct smtp_mail_params {
	int has_size;
	uint64_t size;
	int body_8bit; /* BODY=8BITMIME */
	int smtputf8;
	int ret;	   /* 0 not given, SMTP_RET_FULL, SMTP_RET_HDRS */
	const char *envid; /* ENVID xtext as received (points into the input), or NULL */
	size_t envid_len;
};

/* ESMTP parameters of RCPT TO (RFC 3461 NOTIFY and ORCPT). */
enum {
	SMTP_NOTIFY_NEVER = 1,
	SMTP_NOTIFY_SUCCESS = 2,
	SMTP_NOTIFY_FAILURE = 4,
	SMTP_NOTIFY_DELAY = 8,
};
struct smtp_rcpt_params {
	unsigned notify; /* SMTP_NOTIFY_* bits; 0 = not given; NEVER is never combined */
	const char
	    *orcpt; /* ORCPT "addr-type;xtext" as received (points into the input), or NULL */
	size_t orcpt_len;
};

enum smtp_param_status {
	SMTP_PARAM_OK,
	SMTP_PARAM_SYNTAX,  /* 501 5.5.4 malformed or repeated parameter */
	SMTP_PARAM_UNKNOWN, /* 555 5.5.4 unrecognised parameter */
};

/* Parse the parameters after the path ("SIZE=123 BODY=8BITMIME RET=HDRS ENVID=x"); s may
 * start with spaces. Keywords and keyword values are case-insensitive, xtext is not. ENVID
 * must be xtext of 1..SMTP_ENVID_MAX characters that decodes to no control character. */
enum smtp_param_status smtp_mail_params_parse(const char *s, size_t len,
					      struct smtp_mail_params *out);

/* Parse the parameters after the RCPT path: NOTIFY=NEVER or a list of SUCCESS, FAILURE and
 * DELAY (each at most once); ORCPT=addr-type;xtext (addr-type an atom, the xtext not empty and
 * free of control characters once decoded, the whole value at most SMTP_ORCPT_MAX). */
enum smtp_param_status smtp_rcpt_params_parse(const char *s, size_t len,
					      struct smtp_rcpt_params *out);

/* The DATA stream. Only CR LF "." CR LF ends the message; a leading dot is removed
 * (RFC 5321 4.5.2). A bare CR or bare LF either marks the message bad (reject mode) or is
 * normalised to CR LF (normalise mode); a NUL is dropped and always marks it bad. None of them
 * ever starts a line, so no
 * smuggling sequence ("\n.\n", "\r.\r\n", "\r\n.\r", …) can end the message early. */
enum smtp_data_state { SMTP_DATA_SOL, SMTP_DATA_MID, SMTP_DATA_CR, SMTP_DATA_DOT, SMTP_DATA_DOTCR };

struct smtp_data {
	enum smtp_data_state state;
	int normalise;	    /* bare-newline normalise */
	int in_header;	    /* still inside the header block */
	int line_empty;	    /* the current line has no bytes yet */
	int done;	    /* end of data seen */
	int bad_newline;    /* a bare CR or LF was seen (reject mode) */
	int bad_nul;	    /* a NUL byte was seen */
	int too_big;	    /* message-size exceeded: output stopped */
	int header_too_big; /* header-size exceeded */
	int eight_bit;	    /* a byte >= 0x80 was seen */
	uint64_t size;	    /* bytes of the (unstuffed) message */
	uint64_t header_size;
	uint64_t max_size, max_header;
};

void smtp_data_init(struct smtp_data *d, uint64_t max_size, uint64_t max_header, int normalise);

/* Feed len input bytes. Writes the message bytes to out (room for at least 2*len+2 bytes
 * needed) and sets *outlen. Returns the bytes consumed: fewer than len only when the end of
 * data was reached (d->done set); the rest belongs to the next command. */
size_t smtp_data_feed(struct smtp_data *d, const char *in, size_t len, char *out, size_t *outlen);

#endif
