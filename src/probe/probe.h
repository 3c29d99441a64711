/* probe.h — the relay-test battery (data: one row per test, from nmap smtp-open-relay,
 * Greenbone smtp_relay2, DSBL/MAPS) and the static audit of a configuration that runs it
 * through the policy (policy_check_sender at MAIL, policy_check_rcpt at RCPT). The live probe
 * uses the same battery over the wire. */
#ifndef RG_PROBE_H
#define RG_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "../addr/addr.h"
#include "../conf/conf.h"
#include "../deliver/deliver.h"

/* Placeholders in the address templates:
 *   {ext}  a third-party domain (RFC 2606: relay-test.example)
 *   {ext2} a second third-party domain, for the external sender (sender.example)
 *   {dom}  the server's own domain (a local domain, or its host name)
 *   {ip}   the server's own address as a literal ("127.0.0.1" / "IPv6:::1"), inside [ ] */
struct probe_test {
	const char *id;	  /* stable: "nmap-01", "greenbone-forged-own", … */
	const char *from; /* MAIL FROM path template, with the brackets */
	const char *rcpt; /* RCPT TO path template */
	const char *why;  /* one line: what this form tries to exploit */
};

extern const struct probe_test probe_battery[];
extern const size_t probe_battery_len;

struct probe_target {
	const char *dom; /* server domain */
	const char *ip;	 /* literal body: "192.0.2.1" or "IPv6:2001:db8::1" */
	const char *ext; /* {ext}: NULL for relay-test.example; the catcher's domain with
			    `probe --catch` ("[127.0.0.9]") */
};

/* The default {ext}: an RFC 2606 domain, so an accepted test message goes nowhere real. */
#define PROBE_EXT_DEFAULT "relay-test.example"

/* Whether the test's recipient is built on {ext} (and so can reach a catcher); the others name
 * fixed RFC 2606 forms and can be judged at "data" depth only. Pure. */
int probe_test_uses_ext(const struct probe_test *t);

/* Expand a template into out. Returns 0, or -1 if it does not fit or a placeholder is
 * unknown. Pure. */
int probe_expand(const char *tmpl, const struct probe_target *t, char *out, size_t len);

/* ---- static audit (`relayguard check`) ---- */
enum audit_severity { AUDIT_WARNING, AUDIT_ERROR };

struct audit_finding {
	enum audit_severity severity;
	int relays;	 /* a battery test the policy accepts: an outside client can relay */
	char where[128]; /* "FILE:LINE", a rule ID, or "battery nmap-05 via 127.0.0.1:25" */
	char what[512];
};

/* Audit conf: permissive settings and the battery simulated against the policy from outside
 * clients. Calls fn for each finding; returns the number of findings. Pure. */
size_t audit_config(const struct conf *conf, void (*fn)(void *arg, const struct audit_finding *f),
		    void *arg);

/* The battery as the server would answer it: for each listener, each outside client (one IPv4,
 * one IPv6, outside every network the config names) and each test, MAIL FROM judged by
 * policy_check_sender, then RCPT TO by policy_check_rcpt. Calls fn once per test run. Pure. */
struct audit_battery_result {
	const struct probe_test *test;
	const char *listen; /* the listener, as written */
	const char *client; /* the simulated client address */
	char from[600];	    /* the expanded MAIL FROM path */
	char rcpt[600];	    /* the expanded RCPT TO path; "" when MAIL was refused */
	const char *stage;  /* "MAIL" or "RCPT": where it was refused; "" when relayed */
	const char *rule;   /* the deciding rule ID; "syntax" for an address that does not parse */
	int relayed;	    /* RCPT accepted for relaying: an open-relay finding */
};
void audit_battery(const struct conf *conf,
		   void (*fn)(void *arg, const struct audit_battery_result *r), void *arg);

/* The "who may relay" matrix, per listener: for each client class (localhost, each trusted
 * network, any other IPv4, any other IPv6), unauthenticated and authenticated, the verdict for
 * a local recipient (a real mailbox of the first local domain) and for a foreign one, as the
 * server would give it on that listener, whose own address is the server address: the
 * submission role's 530 at MAIL first (src/smtp/commands.c), then MAIL FROM a foreign sender
 * through policy_check_sender (the authenticated client logged in as that address), then RCPT
 * through policy_check_rcpt. */
#define AUDIT_MATRIX_SENDER "<sender@sender.example>"
#define AUDIT_MATRIX_LOGIN "sender@sender.example"
#define AUDIT_MATRIX_FOREIGN "<recipient@relay-test.example>"

enum audit_outcome {
	AUDIT_ACCEPT,	     /* RCPT accepted: rule */
	AUDIT_REFUSE,	     /* refused by the policy at stage, with rule and reply */
	AUDIT_AUTH_REQUIRED, /* 530 5.7.0 at MAIL: submission listener, not logged in */
	AUDIT_NA,	     /* cannot happen here; reply says why ("no AUTH here") */
};

struct audit_cell {
	enum audit_outcome outcome;
	const char *stage; /* "MAIL" or "RCPT" when refused, else "" */
	const char *rule;  /* the deciding rule ID; "auth-required" for 530; "" for n/a */
	const char *reply; /* the SMTP reply, or (n/a) why: static storage or conf */
};

enum { AUDIT_RCPT_LOCAL, AUDIT_RCPT_FOREIGN };

struct audit_row {
	const struct conf_listen *listen; /* points into conf */
	size_t listen_index;
	int auth_offered; /* auth yes (the submission default) and a tls-certificate */
	char client[96];  /* "localhost 127.0.0.1", "trusted 10.0.0.0/8", "any other IPv4 (…)" */
	struct audit_cell cell[2][2]; /* [authenticated][AUDIT_RCPT_LOCAL/FOREIGN] */
};

/* Calls fn once per listener and client class, listener by listener. Pure. */
void audit_matrix(const struct conf *conf, void (*fn)(void *arg, const struct audit_row *r),
		  void *arg);

/* The matrix's local recipient: "<LOCAL@DOMAIN>" for the first mailbox that exists in the
 * first local domain, or "" when there is none (its cells are then n/a). Pure. */
void audit_matrix_local_rcpt(const struct conf *conf, char *out, size_t len);

/* One cell in words: "accept [RULE]", "refuse 554 [RULE]", "530 auth required",
 * "n/a (no AUTH here)". Pure. */
void audit_cell_describe(const struct audit_cell *cell, char *out, size_t len);

/* ---- the live probe (`relayguard probe`) ---- */

/* Replies are parsed by deliver_reply_parse (../deliver/deliver.h), the delivery client's
 * parser: one parser for replies from servers we do not trust. */

/* The server's name from a banner or EHLO reply: the first word after the code ("220
 * mx.example.org ESMTP" -> "mx.example.org"). Pure. Returns 0 or -1. */
int probe_reply_name(const char *reply, size_t len, char *out, size_t outlen);

enum probe_verdict {
	PROBE_REFUSED,	    /* MAIL or RCPT refused: closed */
	PROBE_AUTH_NEEDED,  /* 530: closed, authentication required */
	PROBE_ACCEPTS_RCPT, /* RCPT got 2xx but the message was refused: not open */
	PROBE_OPEN,	    /* the message got 250 after DATA: open relay */
	PROBE_ERROR,	    /* timeout, connection lost: could not test */
};
const char *probe_verdict_name(enum probe_verdict v);

/* How the probe speaks to the server. No certificate is verified in any mode: the probe
 * tests relaying, it makes no trust decision (SNI is sent when HOST is a name). */
enum probe_tls {
	PROBE_TLS_NONE,		 /* plain SMTP (default) */
	PROBE_TLS_STARTTLS,	 /* --starttls: STARTTLS required, "could not test" without it */
	PROBE_TLS_STARTTLS_AUTO, /* --starttls=auto: STARTTLS when offered, else plain */
	PROBE_TLS_IMPLICIT,	 /* --tls: TLS from the first byte (port 465) */
};

struct probe_options {
	const char *host, *port, *source; /* source: local address to connect from, or NULL */
	unsigned timeout;		  /* seconds per reply */
	unsigned max_time;		  /* seconds for the whole run */
	int json, verbose;
	enum probe_tls tls;
	const char *catch_addr, *catch_port; /* --catch ADDR:PORT, or NULL */
	const char *catch_domain;	     /* --catch-domain; NULL: "[ADDR]" */
	unsigned catch_wait;		     /* --catch-wait: seconds to wait for deliveries */
	/* stop each test after RCPT (no DATA, no test message; the next test's RSET ends the
	 * transaction): a 2xx RCPT is the verdict accepts-rcpt. The self-audit uses it, so that
	 * an open server does not queue test messages of its own. */
	int rcpt_only;
	/* called before every connection attempt (the scanner's global rate limit), or NULL */
	void (*before_connect)(void *arg);
	void *connect_arg;
	/* give up on the rest of the battery when the first test could not open any session
	 * (nothing listens, or filtered): the scanner's hosts without a server on that port */
	int stop_unreachable;
};

/* ---- the catcher (`probe --catch`): a minimal SMTP server that takes any message and
 * notes which tests' tokens arrived; nothing it receives goes further ---- */

/* A test's token, carried in its message's Subject and body: "<runid>-<NN>" with NN the
 * test's index in the battery (two digits). */
#define PROBE_RUNID_LEN 20 /* "rgprobe-" + 12 hex digits */
#define PROBE_CATCH_LINE_MAX 4096
#define PROBE_MAX_TESTS 64
#define PROBE_CATCH_WAIT_MAX 600 /* seconds */

struct probe_catch_session {
	int in_data;	  /* between the 354 and the final dot */
	int midline;	  /* the previous data piece did not end its line */
	int mail;	  /* a MAIL was accepted, not yet ended */
	uint64_t pending; /* tokens seen in the current message */
	uint64_t caught;  /* tokens of messages accepted with a final 250 */
	unsigned messages;
};

/* Feed one line of client input to the session: a whole line with its line end, or (data
 * only) the front of a line longer than PROBE_CATCH_LINE_MAX. Writes the reply, CRLF
 * included, into out ("" when none is due). Returns 1 when the session ends after the reply,
 * else 0. runid: the run's token prefix. Pure. */
int probe_catch_line(struct probe_catch_session *s, const char *runid, const char *line, size_t len,
		     char *out, size_t outlen);

/* The tokens of runid in buf: bit NN set for every "<runid>-NN" (NN < 64). Pure. */
uint64_t probe_tokens_find(const char *buf, size_t len, const char *runid);

/* Run the battery against host:port. Prints the report on stdout (transcript on stderr with
 * verbose). Returns the exit status: 0 closed, 1 open, 2 could not test. */
int probe_run(const struct probe_options *o);

/* A run's outcome, counted, for a caller that prints nothing (the self-audit of serve). */
struct probe_summary {
	size_t tests, open, accepts_rcpt, auth_needed, errors, delivered;
	int status;	  /* what probe_run returns: 0 closed, 1 open, 2 could not test */
	char overall[48]; /* "closed", "OPEN RELAY", "could not test", ... as in the report */
	char name[256];	  /* the server's name from its banner */
	char tls[96];	  /* "TLSv1.3 TLS_AES_256_GCM_SHA384", "" without TLS */
	char first[64];	  /* the first test accepted (open or accepts-rcpt), or "" */
	char error[256];  /* why a test (the first) or the run could not be tested, or "" */
	char local[64];	  /* the address the probe connected from, "" if it never connected */
	int connected;	  /* a session was opened at least once */
};

/* probe_run without output (verbose still writes the transcript on stderr): the outcome into
 * out. Safe on a thread of its own (blocking, bounded by o's timeouts); SIGPIPE must be
 * ignored by the process. Returns out->status. */
int probe_run_quiet(const struct probe_options *o, struct probe_summary *out);

/* Per-test results and the transcript of a run, for a caller that keeps evidence (the scanner).
 * depth: 0 refused / could not test, PROBE_DEPTH_RCPT, PROBE_DEPTH_DATA, PROBE_DEPTH_DELIVERED. */
enum { PROBE_DEPTH_NONE, PROBE_DEPTH_RCPT, PROBE_DEPTH_DATA, PROBE_DEPTH_DELIVERED };
#define PROBE_TRANSCRIPT_MAX 32768 /* bytes kept of the dialogue; the rest is cut, marked */

struct probe_test_outcome {
	const char *id; /* the battery test's id (static) */
	enum probe_verdict verdict;
	unsigned depth;		   /* PROBE_DEPTH_* */
	int mail, rcpt, data, end; /* reply codes, 0 = not reached */
};

struct probe_details {
	struct probe_test_outcome tests[PROBE_MAX_TESTS];
	size_t n;
	char transcript[PROBE_TRANSCRIPT_MAX]; /* "C: …\n" / "S: …\n" lines, NUL-terminated */
	size_t transcript_len;
	int truncated; /* the dialogue did not fit */
};

/* probe_run_quiet that also fills d (per test: id, verdict, depth, codes; the transcript,
 * bounded). Same safety and returns as probe_run_quiet. */
int probe_run_detailed(const struct probe_options *o, struct probe_summary *out,
		       struct probe_details *d);

/* `relayguard probe ARGS…` (argv after the subcommand). Returns the exit status. */
int probe_cli(int argc, char **argv);

#endif
