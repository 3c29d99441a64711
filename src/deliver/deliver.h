/* deliver.h — final delivery: Maildir for local users; the outbound SMTP/LMTP client (one
 * attempt of one message to a list of candidate hosts) with its pure reply parser and body
 * encoder. */
#ifndef RG_DELIVER_H
#define RG_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct event_base;

/* The source of a message body: bytes [off, off+len) of fd (read with pread/copy_file_range,
 * so several threads may read one file). */
struct deliver_body {
	int fd;
	uint64_t off, len;
};

/* Deliver to <root>/<user>/Maildir, creating the Maildir if needed. name is the unique file
 * name (the caller derives it from the queue ID and recipient, so a retry reuses it); prefix
 * holds header lines written before the body (Return-Path, Delivered-To). The message is
 * written with LF line ends (Maildir's local form); on return 0 its data is fsync'd and it has
 * been renamed from tmp/ to new/ — durable once maildir_sync of that Maildir returns 0, which
 * the caller runs once for every batch of deliveries to it (group commit of new/).
 * When check_existing is set (a redelivery after a crash) and a file of that name is already
 * in new/ or cur/, nothing is written and 0 is returned: delivery happens exactly once.
 * Returns 0 or -1 with err set. Thread-safe. */
int maildir_deliver(const char *root, const char *user, const char *name, const char *prefix,
		    size_t prefixlen, const struct deliver_body *body, int check_existing,
		    char *err, size_t errlen);

/* fsync <root>/<user>/Maildir/new: makes every rename into it done before the call durable.
 * 0, or -1 with err set. Thread-safe. */
int maildir_sync(const char *root, const char *user, char *err, size_t errlen);

/* ---- SMTP replies (pure: servers we deliver to, and the probe) ---- */
#define DELIVER_REPLY_LINE_MAX 2048 /* bytes of one reply line, without its line end */
#define DELIVER_REPLY_LINES_MAX 64  /* lines of one reply */
/* The most bytes a complete reply can span (every line at the maximum, with CR LF). */
#define DELIVER_REPLY_MAX ((size_t)DELIVER_REPLY_LINES_MAX * (DELIVER_REPLY_LINE_MAX + 2))

struct deliver_reply {
	int code;	/* 200..599 */
	char enh[16];	/* RFC 3463 enhanced status code of the first line ("5.1.1"), or "" */
	char text[512]; /* the text of every line (code and enhanced code removed), joined by
			   "; ", non-printable bytes as '?', truncated to fit */
};

/* One reply at the start of buf: "250-a\r\n250 b\r\n". Returns the bytes it spans and fills r
 * (if not NULL); 0 when incomplete; -1 when malformed (bad code, codes differ between lines,
 * a line longer than DELIVER_REPLY_LINE_MAX, more than DELIVER_REPLY_LINES_MAX lines). Bare LF
 * line ends are accepted. Pure. */
long deliver_reply_parse(const char *buf, size_t len, struct deliver_reply *r);

/* EHLO extensions (RFC 5321 4.1.1.1 and the RFCs of each keyword). */
#define DELIVER_EXT_PIPELINING 0x01u	      /* RFC 2920 */
#define DELIVER_EXT_STARTTLS 0x02u	      /* RFC 3207 */
#define DELIVER_EXT_SIZE 0x04u		      /* RFC 1870 */
#define DELIVER_EXT_8BITMIME 0x08u	      /* RFC 6152 */
#define DELIVER_EXT_SMTPUTF8 0x10u	      /* RFC 6531 */
#define DELIVER_EXT_DSN 0x20u		      /* RFC 3461 */
#define DELIVER_EXT_ENHANCEDSTATUSCODES 0x40u /* RFC 2034 */
#define DELIVER_EXT_CHUNKING 0x80u	      /* RFC 3030 (recognised, not used) */

struct deliver_ehlo {
	unsigned ext;  /* DELIVER_EXT_* */
	uint64_t size; /* the SIZE limit; 0 when none was given ("SIZE" or "SIZE 0") */
};

/* The extensions of an EHLO/LHLO reply: the keyword of every line after the first (case
 * insensitive). buf, len: one reply as delimited by deliver_reply_parse. Pure. */
void deliver_ehlo_parse(const char *buf, size_t len, struct deliver_ehlo *e);

/* ---- the message body on the wire (pure streaming encoder) ---- */
/* CR LF line ends only (a bare CR or bare LF becomes CR LF: no bare line end ever leaves,
 * which is what outbound SMTP smuggling needs), a "." at the start of a line doubled
 * (RFC 5321 4.5.2), then a final CR LF if the body does not end with one, and ".\r\n". */
struct deliver_encoder {
	int line_start; /* the next byte starts a line */
	int cr;		/* a CR was the last byte; its line end is not written yet */
};
/* Room deliver_encode needs for inlen input bytes. */
#define DELIVER_ENCODE_MAX(inlen) (2 * (size_t)(inlen) + 2)
/* Room deliver_encode_finish needs. */
#define DELIVER_ENCODE_FINISH_MAX 5

void deliver_encode_init(struct deliver_encoder *e);
/* Encode in[0..inlen) into out, which holds DELIVER_ENCODE_MAX(inlen) bytes. Returns the bytes
 * written. Chunks may split the input anywhere. Pure. */
size_t deliver_encode(struct deliver_encoder *e, const char *in, size_t inlen, char *out);
/* The end: the pending line end, a final CR LF if needed, ".\r\n". out holds
 * DELIVER_ENCODE_FINISH_MAX bytes. Returns the bytes written. Pure. */
size_t deliver_encode_finish(struct deliver_encoder *e, char *out);

/* ---- the outbound SMTP/LMTP client (RFC 5321, 3207, 2920, 1870, 6152, 6531, 3461, 2033) ---- */
struct deliver_target { /* one candidate server, in the order to try */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char host[256]; /* its name (MX host / route host): logs, TLS SNI */
};
#define DELIVER_NOTIFY_NEVER 1u /* RFC 3461 NOTIFY bits as stored in the envelope */
#define DELIVER_NOTIFY_SUCCESS 2u
#define DELIVER_NOTIFY_FAILURE 4u
#define DELIVER_NOTIFY_DELAY 8u
struct deliver_rcpt {
	const char *addr;  /* without <> ; "" never happens */
	unsigned notify;   /* 0 = no NOTIFY given */
	const char *orcpt; /* ORCPT value as received, already xtext ("rfc822;a+2Bb@x"), or NULL */
	/* result, filled by the client: */
	int code;	/* the server's reply to this recipient (RCPT, or for LMTP the per-recipient
			   reply after DATA, or the DATA/final-dot reply once RCPT was accepted);
			   0 = no answer (see result.status) */
	char enh[16];	/* "5.1.1" when the server gave one, else "" */
	char text[512]; /* the reply text, lines joined by "; ", bounded, printable */
};
struct deliver_msg {
	const char *from;  /* "" for the null sender */
	const char *envid; /* xtext as received, or NULL */
	int ret;	   /* 0 none, 1 FULL, 2 HDRS */
	int eight_bit, smtputf8;
	struct deliver_body body; /* the message as spooled: CRLF lines, unstuffed */
	struct deliver_rcpt *rcpts;
	size_t n_rcpts;
	const char *qid; /* for log lines, or NULL */
};
struct deliver_client_conf {
	const char *helo; /* our host name */
	SSL_CTX *tls;	  /* NULL: never STARTTLS; else opportunistic STARTTLS */
	int lmtp;	  /* speak LMTP (RFC 2033): LHLO, a reply per recipient */
	unsigned connect_timeout, command_timeout, data_timeout; /* seconds */
	/* the source address of connections to IPv4 / IPv6 servers (outbound-address), or NULL
	 * for the kernel's choice; one that is not local (NAT) falls back to the kernel's choice */
	const char *source4, *source6;
};
enum deliver_status {
	DELIVER_DONE,	  /* a transaction ran: every rcpt has code != 0 */
	DELIVER_TEMPFAIL, /* no (complete) transaction: rcpts with code == 0 must be retried */
	DELIVER_PERMFAIL, /* e.g. MAIL FROM got 5xx, or message too big for the peer (SIZE):
			     rcpts with code == 0 failed for good (code/enh/text below say why) */
};
struct deliver_result {
	enum deliver_status status;
	char host[300]; /* the server that answered last: "mx.example[192.0.2.1]:25" */
	int code;	/* the reply behind TEMP/PERMFAIL (for DONE: the last reply of the
			   transaction), or 0 + text of the local error: "connect: Connection
			   refused", "lost connection after DATA", "timeout after RCPT" */
	char enh[16];
	char text[512];
	char tls[80]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" when TLS was used */
	unsigned ext; /* DELIVER_EXT_* the server that answered last offered (DSN: whether
			 NOTIFY went on, for "relayed" DSNs) */
};
typedef void (*deliver_done_fn)(void *arg, const struct deliver_result *res);

/* Start one attempt: tries targets in order until one takes the transaction. Everything passed
 * must stay valid until done runs (exactly once, from the event loop, never from inside this
 * call) or until deliver_smtp_cancel. The session frees itself after done returns. Returns
 * NULL on ENOMEM. */
struct deliver_session *deliver_smtp_start(struct event_base *base,
					   const struct deliver_client_conf *cc,
					   const struct deliver_target *targets, size_t n_targets,
					   struct deliver_msg *msg, deliver_done_fn done,
					   void *arg);
/* Abort a session whose done has not run yet; done will not run. */
void deliver_smtp_cancel(struct deliver_session *s);

/* A client SSL_CTX for opportunistic TLS: TLS 1.2+, system defaults for ciphers, no
 * certificate verification (opportunistic, like Postfix "may"), SNI set per target. The
 * caller owns it (SSL_CTX_free). NULL with err set on failure. */
SSL_CTX *deliver_tls_client_ctx(char *err, size_t errlen);

#endif
