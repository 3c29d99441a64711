/* dsn.h — delivery status notifications: the RFC 3464 report (multipart/report with a
 * message/delivery-status part) and the RFC 3461 rules for when one is sent. Pure: no I/O. */
#ifndef RG_QUEUE_DSN_H
#define RG_QUEUE_DSN_H

#include <stddef.h>
#include <stdint.h>

enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED, DSN_EXPANDED };

struct dsn_rcpt {
	const char *addr;  /* final recipient */
	const char *orcpt; /* ORCPT as stored ("rfc822;xtext") or NULL */
	enum dsn_action action;
	const char *status;	/* enhanced code "5.1.1"; NULL or malformed: taken from the
				   diagnostic's enhanced code, else 5.0.0 / 4.0.0 / 2.0.0 */
	const char *remote_mta; /* "mx.example.net" or NULL */
	const char *diagnostic; /* "550 5.1.1 no such user" (the remote reply; lines may be
				   joined by CRLF) or our own text, or NULL */
	int64_t last_attempt;	/* epoch seconds or 0 */
	int64_t retry_until;	/* DELAYED: expiry time (epoch seconds) or 0 */
};

struct dsn_report {
	const char *reporting_mta; /* our hostname */
	const char *sender;	   /* envelope sender = the DSN's To (never "") */
	const char *envid;	   /* ENVID xtext or NULL */
	int64_t arrival, now;	   /* epoch seconds */
	const char *qid;	   /* original queue ID (for Message-ID and text) */
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts; /* one kind per report: all failed, all delayed, or all
			   delivered/relayed/expanded */
	const char *original;
	size_t original_len; /* the original message (CRLF), or its header only; may be NULL */
	int headers_only;    /* RET=HDRS, or the original is over the size limit */
};

/* Builds the whole DSN message: header (From MAILER-DAEMON@reporting_mta, To the sender,
 * Subject by kind, Date, Message-ID, MIME-Version, Auto-Submitted: auto-replied) and a
 * multipart/report; report-type=delivery-status body with three parts: text/plain, then
 * message/delivery-status, then the original as message/rfc822 (or, when headers_only, its
 * header as text/rfc822-headers; no third part when original is NULL). The boundary occurs in
 * none of the parts. Lines end in CRLF; every line but the original's is printable 7-bit ASCII
 * under 998 bytes: untrusted text (replies, addresses, ENVID, ORCPT) loses control
 * characters, is cut and folded. An 8-bit original makes the message 8bit (its header says
 * "Content-Transfer-Encoding: 8bit"; send it with BODY=8BITMIME).
 * Diagnostic-Code is "smtp; …" for an SMTP reply, "X-Relayguard; …" for other text.
 * *out is malloc'd (caller frees), *outlen its length. Returns 0, -EINVAL (no sender, no
 * reporting_mta, no recipients, kinds mixed) or -ENOMEM. */
int dsn_format(const struct dsn_report *r, char **out, size_t *outlen);

/* Should a DSN be sent for this recipient and action? notify is the spool's RFC 3461 bits
 * (SPOOL_NOTIFY_*). NEVER: no; NOTIFY given: only the listed kinds (FAILURE → failed,
 * DELAY → delayed, SUCCESS → delivered/relayed/expanded); not given: failed and delayed
 * yes, the others no. The caller still never sends one to the null sender. 1 or 0. */
int dsn_wanted(unsigned notify, enum dsn_action action);

/* Length of the header block of a message (up to and including the empty line), or len when
 * it has no empty line. */
size_t dsn_header_len(const char *msg, size_t len);

#endif
