/* probe_int.h — between the files of the live probe: the connection to the server under test
 * (conn.c, plain or TLS, blocking with bounded waits), the catcher's sockets (catch.c) and the
 * run with its report (client.c, report.c). */
#ifndef RG_PROBE_INT_H
#define RG_PROBE_INT_H

#include "probe.h"

#include <openssl/ssl.h>

/* ---- the catcher's listening socket and sessions (catch.c) ---- */
struct probe_catcher;

/* Listen on addr:port (numeric). NULL with err set on failure. */
struct probe_catcher *probe_catcher_open(const char *addr, const char *port, const char *runid,
					 int verbose, char *err, size_t errlen);
/* Wait up to timeout_ms for fd (may be -1: none) to become readable, serving the catcher's
 * connections meanwhile. k may be NULL (no catcher). Returns 1 when fd is readable, 0 when the
 * time ran out, -1 on a poll error. */
int probe_catcher_wait(struct probe_catcher *k, int fd, int timeout_ms);
/* Tokens of messages the catcher accepted so far (bit i: battery test i). */
uint64_t probe_catcher_caught(const struct probe_catcher *k);
unsigned probe_catcher_messages(const struct probe_catcher *k);
/* probe_now_ms() of the last message accepted, 0 before the first. */
long long probe_catcher_last(const struct probe_catcher *k);

/* After the battery, the catcher is given up once every test addressed to it directly has
 * arrived and it has been quiet this long (the rest are bounded by --catch-wait). */
#define PROBE_CATCH_QUIET_MS 2000
void probe_catcher_close(struct probe_catcher *k);

/* Milliseconds on the monotonic clock. */
long long probe_now_ms(void);

/* ---- the connection to the server under test (conn.c) ---- */
enum { PROBE_CONN_OK = 0, PROBE_CONN_FAIL = -1, PROBE_CONN_NO_STARTTLS = -2 };

struct probe_conn {
	int fd;
	SSL_CTX *ctx; /* for --tls / --starttls, made on first use, freed by probe_conn_free */
	SSL *ssl;     /* once TLS is up */
	const struct probe_options *o;
	struct probe_catcher *catcher; /* served while waiting for replies, or NULL */
	char buf[16384];
	size_t len;
	char last[512]; /* the last reply, first line, for the report */
	unsigned ext;	/* DELIVER_EXT_* of the last reply (meaningful after EHLO) */
	char tls[96];	/* "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up, else "" */
	char err[160];	/* why the last open or reply failed */
	struct probe_details *capture; /* the transcript is appended here too, or NULL */
	char local[64];		       /* the address we connected from, once connected */
};

/* Connect (from o->source), TLS for --tls, banner, EHLO (HELO if refused), and STARTTLS
 * then EHLO again for --starttls. Fills the server's name (from the banner; the host
 * when the banner has none) and its address literal body. PROBE_CONN_NO_STARTTLS when
 * --starttls was asked and the server does not offer it. */
int probe_conn_open(struct probe_conn *c, char *name, size_t namelen, char *lit, size_t litlen);
/* Send one command line (CRLF added); returns the reply code, -1 on failure. */
int probe_conn_cmd(struct probe_conn *c, const char *line);
int probe_conn_send(struct probe_conn *c, const char *s, size_t n);
/* Read one reply within o->timeout; returns its code, or -1 (timeout, close, garbage). */
int probe_conn_reply(struct probe_conn *c);
void probe_conn_transcript(const struct probe_conn *c, const char *dir, const char *s, size_t n);
void probe_conn_close(struct probe_conn *c);
void probe_conn_free(struct probe_conn *c);

/* ---- one run and its report (client.c, report.c) ---- */
struct probe_result {
	enum probe_verdict verdict;
	int mail, rcpt, data, end; /* reply codes, 0 = not reached */
	int catchable;		   /* the recipient used the catcher's domain */
	int delivered;		   /* the catcher received this test's message */
	char rcpt_path[600];
	char note[256];
};

struct probe_report {
	const struct probe_options *o;
	const char *name, *tls, *error; /* error: why nothing could be tested, or NULL */
	const char *catch_domain;	/* NULL without --catch */
	const struct probe_result *res;
	size_t n;
	const char *overall;
	size_t open, delivered;
};

/* "-", "rcpt", "data" or "delivered": how far the test went. */
const char *probe_result_depth(const struct probe_result *r);
void probe_report_json(const struct probe_report *rep);
void probe_report_table(const struct probe_report *rep);

#endif
