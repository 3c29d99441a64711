/* test_dsn.c — delivery status notifications: when one is wanted (RFC 3461), the header
 * block length, and reports (RFC 3464) parsed back with simple checks; hostile text from a
 * remote server must not change the structure. When /usr/bin/python3 exists, a report is also
 * parsed by Python's email package. */
#include "queue/dsn.h"
#include "queue/queue.h"
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define T0 1700000000 /* Tue, 14 Nov 2023 22:13:20 +0000 */

static const char ORIGINAL[] = "From: Sender <sender@example.org>\r\n"
			       "To: bob@remote.example\r\n"
			       "Subject: hello\r\n"
			       "\r\n"
			       "body line 1\r\n"
			       "body line 2\r\n";

static void test_wanted(void)
{
	enum {
		NV = SPOOL_NOTIFY_NEVER,
		SU = SPOOL_NOTIFY_SUCCESS,
		FA = SPOOL_NOTIFY_FAILURE,
		DE = SPOOL_NOTIFY_DELAY
	};
	static const struct {
		const char *why;
		unsigned notify;
		enum dsn_action action;
		int want;
	} cases[] = {
	    {"RFC 3461 4.1: no NOTIFY, failure", 0, DSN_FAILED, 1},
	    {"no NOTIFY, delay", 0, DSN_DELAYED, 1},
	    {"no NOTIFY, success", 0, DSN_DELIVERED, 0},
	    {"no NOTIFY, relayed", 0, DSN_RELAYED, 0},
	    {"no NOTIFY, expanded", 0, DSN_EXPANDED, 0},
	    {"NEVER, failure", NV, DSN_FAILED, 0},
	    {"NEVER, delay", NV, DSN_DELAYED, 0},
	    {"NEVER, success", NV, DSN_DELIVERED, 0},
	    {"SUCCESS only, failure", SU, DSN_FAILED, 0},
	    {"SUCCESS only, delivered", SU, DSN_DELIVERED, 1},
	    {"SUCCESS only, relayed", SU, DSN_RELAYED, 1},
	    {"SUCCESS only, expanded", SU, DSN_EXPANDED, 1},
	    {"FAILURE only, failure", FA, DSN_FAILED, 1},
	    {"FAILURE only, delay", FA, DSN_DELAYED, 0},
	    {"DELAY only, delay", DE, DSN_DELAYED, 1},
	    {"DELAY only, failure", DE, DSN_FAILED, 0},
	    {"FAILURE,DELAY, success", FA | DE, DSN_DELIVERED, 0},
	    {"all three, success", SU | FA | DE, DSN_DELIVERED, 1},
	};
	for (size_t i = 0; i < N(cases); i++)
		CHECK(dsn_wanted(cases[i].notify, cases[i].action) == cases[i].want, "%s",
		      cases[i].why);
}

static void test_header_len(void)
{
	static const struct {
		const char *msg;
		size_t want;
	} cases[] = {
	    {"A: 1\r\nB: 2\r\n\r\nbody\r\n", 14},
	    {"\r\nbody\r\n", 2},	     /* empty header */
	    {"A: 1\r\n", 6},		     /* no body: all of it */
	    {"A: 1\r\n\tcont\r\n\r\nx", 15}, /* folded line */
	    {"A: 1\n\nbody", 6},	     /* bare LF tolerated */
	    {"A: 1\r\nB: x\r\n\r", 13},	     /* torn empty line: all of it */
	    {"", 0},
	};
	for (size_t i = 0; i < N(cases); i++)
		CHECK(dsn_header_len(cases[i].msg, strlen(cases[i].msg)) == cases[i].want,
		      "case %zu: %zu", i, dsn_header_len(cases[i].msg, strlen(cases[i].msg)));
}

/* ---- checking a report ---- */

struct parsed {
	char *text;
	size_t len;
	char boundary[128];
	const char *part[4]; /* starts of the parts' headers */
	size_t n_parts;
	int closed; /* the closing delimiter is the last line */
};

static int has_line(const char *msg, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = msg; (p = strstr(p, line)) != NULL; p++)
		if ((p == msg || p[-1] == '\n') && p[n] == '\r' && p[n + 1] == '\n')
			return 1;
	return 0;
}

/* The boundary from the header, then each "--B" line. */
static void split_report(struct parsed *p)
{
	const char *b = strstr(p->text, "boundary=\"");
	p->n_parts = 0;
	p->closed = 0;
	p->boundary[0] = '\0';
	if (!b)
		return;
	b += 10;
	size_t n = strcspn(b, "\"");
	snprintf(p->boundary, sizeof(p->boundary), "%.*s", (int)n, b);
	char delim[160], close[160];
	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", p->boundary);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", p->boundary);
	for (const char *q = p->text; (q = strstr(q, delim)) != NULL && p->n_parts < 4; q++)
		p->part[p->n_parts++] = q + strlen(delim);
	const char *c = strstr(p->text, close);
	p->closed = c && c + strlen(close) == p->text + p->len;
}

/* Every line ends in CRLF and is under 998 bytes; outside the original it is printable ASCII
 * (allowing TAB in a folded header). */
static void check_lines(const char *why, const struct parsed *p, const char *orig_start,
			const char *orig_end)
{
	size_t line = 0;
	for (size_t i = 0; i < p->len; i++) {
		const char *c = p->text + i;
		int in_orig = orig_start && c >= orig_start && c < orig_end;
		if (*c == '\n') {
			CHECK(i > 0 && c[-1] == '\r', "%s: bare LF at %zu", why, i);
			line = 0;
			continue;
		}
		if (*c == '\r') {
			CHECK(c[1] == '\n', "%s: bare CR at %zu", why, i);
			continue;
		}
		if (in_orig)
			continue;
		CHECK(++line < 998, "%s: line too long at %zu", why, i);
		CHECK((*c >= 0x20 && *c < 0x7f) || *c == '\t', "%s: byte 0x%02x at %zu", why,
		      (unsigned char)*c, i);
	}
}

static int format(const struct dsn_report *r, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	int rc = dsn_format(r, &p->text, &p->len);
	if (rc == 0) {
		CHECK(strlen(p->text) == p->len, "no NUL inside");
		split_report(p);
	}
	return rc;
}

static const struct dsn_rcpt failed_rcpts[] = {
    {"bob@remote.example", "rfc822;Orig+2Balias@example.net", DSN_FAILED, "5.1.1",
     "mx.remote.example", "550 5.1.1 <bob@remote.example>: no such user", T0 + 60, 0},
    {"carol@remote.example", NULL, DSN_FAILED, NULL, NULL, NULL, 0, 0},
    {"dave@remote.example", NULL, DSN_FAILED, NULL, "mx2.remote.example",
     "554-5.7.1 relay denied\r\n554 5.7.1 go away", T0 + 90, 0},
    {"erin@remote.example", NULL, DSN_FAILED, "9.9", NULL, "connect to mx3: timed out", 0, 0},
};

static struct dsn_report base_report(const struct dsn_rcpt *rcpts, size_t n)
{
	struct dsn_report r = {0};
	r.reporting_mta = "mx.example.test";
	r.sender = "sender@example.org";
	r.envid = "QQ314159+2Bx";
	r.arrival = T0;
	r.now = T0 + 120;
	r.qid = "0191D5C2A1B00001";
	r.rcpts = rcpts;
	r.n_rcpts = n;
	r.original = ORIGINAL;
	r.original_len = strlen(ORIGINAL);
	return r;
}

static void test_failed(void)
{
	struct dsn_report r = base_report(failed_rcpts, N(failed_rcpts));
	struct parsed p;
	CHECK(format(&r, &p) == 0, "format");
	static const char *const header[] = {
	    "From: \"Mail Delivery System\" <MAILER-DAEMON@mx.example.test>",
	    "To: <sender@example.org>",
	    "Subject: Undelivered Mail Returned to Sender",
	    "Date: Tue, 14 Nov 2023 22:15:20 +0000",
	    "Message-ID: <0191D5C2A1B00001.1700000120.failed@mx.example.test>",
	    "MIME-Version: 1.0",
	    "Auto-Submitted: auto-replied",
	    "Content-Type: multipart/report; report-type=delivery-status;",
	    "Content-Transfer-Encoding: 7bit",
	};
	const char *body = strstr(p.text, "\r\n\r\n");
	for (size_t i = 0; i < N(header); i++) {
		const char *h = strstr(p.text, header[i]);
		CHECK(h && h < body && has_line(p.text, header[i]), "header %s", header[i]);
	}
	CHECK(p.n_parts == 3 && p.closed, "three parts and the end: %zu %d", p.n_parts, p.closed);
	if (p.n_parts != 3)
		goto out;
	CHECK(!strncmp(p.part[0],
		       "Content-Description: Notification\r\n"
		       "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
		       80),
	      "text part");
	CHECK(strstr(p.part[1], "Content-Type: message/delivery-status\r\n\r\n") < p.part[2],
	      "status part");
	CHECK(!strncmp(p.part[2],
		       "Content-Description: Undelivered Message\r\n"
		       "Content-Type: message/rfc822\r\n\r\n",
		       73),
	      "original part");
	CHECK(strstr(p.part[2], ORIGINAL) != NULL, "the original, whole");
	static const char *const fields[] = {
	    "Reporting-MTA: dns; mx.example.test",
	    "Original-Envelope-Id: QQ314159+x", /* xtext decoded */
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
	    "Original-Recipient: rfc822; Orig+alias@example.net",
	    "Final-Recipient: rfc822; bob@remote.example",
	    "Action: failed",
	    "Status: 5.1.1",
	    "Remote-MTA: dns; mx.remote.example",
	    "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.example>: no such user",
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:14:20 +0000",
	    "Final-Recipient: rfc822; carol@remote.example",
	    "Status: 5.0.0", /* derived: nothing given */
	    "Status: 5.7.1", /* from the reply's enhanced code */
	    "Diagnostic-Code: smtp; 554-5.7.1 relay denied 554 5.7.1 go away",
	    "Status: 5.0.0", /* malformed status, no SMTP reply */
	    "Diagnostic-Code: X-Relayguard; connect to mx3: timed out",
	};
	const char *at = p.part[1];
	for (size_t i = 0; i < N(fields); i++) { /* in this order, all in the status part */
		const char *f = strstr(at, fields[i]);
		CHECK(f && f < p.part[2] && has_line(f, fields[i]), "field %s", fields[i]);
		at = f ? f : at;
	}
	CHECK(!strstr(p.part[1], "Will-Retry-Until"), "not for a failure");
	CHECK(strstr(p.part[0], "<bob@remote.example>: host mx.remote.example said: 550 5.1.1") &&
		  strstr(p.part[0], "Queue ID of the message: 0191D5C2A1B00001"),
	      "human-readable text");
	check_lines("failed", &p, p.part[2], p.text + p.len);
out:
	free(p.text);
}

static void test_delayed_headers_only(void)
{
	static const struct dsn_rcpt rc[] = {
	    {"bob@remote.example", NULL, DSN_DELAYED, NULL, "mx.remote.example",
	     "451 4.7.1 greylisted, try later", T0 + 600, T0 + 5 * 86400},
	};
	struct dsn_report r = base_report(rc, 1);
	struct parsed p;
	r.envid = NULL;
	r.headers_only = 1;
	CHECK(format(&r, &p) == 0 && p.n_parts == 3 && p.closed, "format");
	if (p.n_parts == 3) {
		CHECK(has_line(p.text, "Subject: Delayed Mail (still being retried)"), "subject");
		CHECK(has_line(p.part[1], "Action: delayed") &&
			  has_line(p.part[1], "Status: 4.7.1"),
		      "action, status from the reply");
		CHECK(has_line(p.part[1], "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000"),
		      "retry until");
		CHECK(!strstr(p.part[1], "Original-Envelope-Id"), "no ENVID given");
		CHECK(!strncmp(p.part[2],
			       "Content-Description: Delayed Message Headers\r\n"
			       "Content-Type: text/rfc822-headers\r\n\r\n",
			       81),
		      "headers part");
		CHECK(strstr(p.part[2], "Subject: hello\r\n\r\n") && !strstr(p.text, "body line"),
		      "header only, no body");
		check_lines("delayed", &p, NULL, NULL);
	}
	free(p.text);
}

static void test_success_no_original(void)
{
	static const struct dsn_rcpt rc[] = {
	    {"bob@remote.example", NULL, DSN_DELIVERED, "2.0.0", "mx.remote.example",
	     "250 2.0.0 Ok: queued as 123", T0 + 5, 0},
	    {"carol@remote.example", NULL, DSN_RELAYED, NULL, NULL, NULL, 0, 0},
	};
	struct dsn_report r = base_report(rc, N(rc));
	struct parsed p;
	r.original = NULL;
	CHECK(format(&r, &p) == 0 && p.n_parts == 2 && p.closed, "two parts");
	CHECK(has_line(p.text, "Subject: Successful Mail Delivery Report"), "subject");
	CHECK(has_line(p.text, "Action: delivered") && has_line(p.text, "Action: relayed") &&
		  has_line(p.text, "Status: 2.0.0"),
	      "actions");
	check_lines("success", &p, NULL, NULL);
	free(p.text);
}

static void test_invalid(void)
{
	static const struct dsn_rcpt mixed[] = {
	    {"a@x.example", NULL, DSN_FAILED, NULL, NULL, NULL, 0, 0},
	    {"b@x.example", NULL, DSN_DELAYED, NULL, NULL, NULL, 0, 0},
	};
	static const struct dsn_rcpt bad_action[] = {
	    {"a@x.example", NULL, (enum dsn_action)7, NULL, NULL, NULL, 0, 0}};
	static const struct dsn_rcpt no_addr[] = {
	    {" \r\n", NULL, DSN_FAILED, NULL, NULL, NULL, 0, 0}};
	char *out = NULL;
	size_t len;
	struct dsn_report r = base_report(failed_rcpts, 1);
	r.sender = "";
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "RFC 3461 6.2: never to the null sender");
	r.sender = NULL;
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "no sender");
	r = base_report(mixed, 2);
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "failed and delayed mixed");
	r = base_report(failed_rcpts, 0);
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "no recipients");
	r = base_report(bad_action, 1);
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "unknown action");
	r = base_report(no_addr, 1);
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "empty recipient");
	r = base_report(failed_rcpts, 1);
	r.reporting_mta = "\r\n";
	CHECK(dsn_format(&r, &out, &len) == -EINVAL, "no reporting MTA");
	CHECK(dsn_format(NULL, &out, &len) == -EINVAL && out == NULL, "NULL report");
}

/* A remote server's reply and addresses try to add header fields, MIME parts and long lines. */
static void test_hostile(void)
{
	char diag[4096], word[1401];
	memset(word, 'A', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	snprintf(diag, sizeof(diag),
		 "550 5.1.1 no\r\n\r\n--X\r\nContent-Type: text/html\r\n\r\n<b>evil</b>\r\n.\r\n"
		 "%s tail \x01\x7f\xff %s",
		 word, word);
	struct dsn_rcpt rc[] = {
	    {"bob@remote.example\r\nBcc: victim@example.net", "rfc822;a+0Db", DSN_FAILED,
	     "5.1.1\r\nX-Status: 1", "mx.remote.example\r\nX-Injected: 1", diag, T0, 0},
	};
	struct dsn_report r = base_report(rc, 1);
	struct parsed p;
	r.envid = "+0D+0AInjected: 1";
	r.reporting_mta = "mx.example.test>\r\nX-Evil: 1";
	CHECK(format(&r, &p) == 0 && p.n_parts == 3 && p.closed, "structure holds: %zu parts",
	      p.n_parts);
	if (p.n_parts == 3) {
		check_lines("hostile", &p, p.part[2], p.text + p.len);
		static const char *const absent[] = {"Content-Type: text/html",
						     "Bcc: victim@example.net",
						     "X-Injected: 1",
						     "X-Status: 1",
						     "Injected: 1",
						     "X-Evil: 1",
						     "--X"};
		for (size_t i = 0; i < N(absent); i++)
			CHECK(!has_line(p.text, absent[i]), "no line \"%s\"", absent[i]);
		CHECK(has_line(p.part[1], "Original-Envelope-Id: +0D+0AInjected: 1"),
		      "ENVID with control characters stays xtext");
		CHECK(has_line(p.part[1], "Original-Recipient: rfc822; a+0Db"), "ORCPT as xtext");
		CHECK(has_line(p.part[1], "Status: 5.1.1"), "status from the reply");
		CHECK(strstr(p.text, "MAILER-DAEMON@mx.example.test---X-Evil--1>") != NULL,
		      "host name letters only");
		const char *d = strstr(p.part[1], "Diagnostic-Code: smtp; 550 5.1.1 no --X");
		const char *end = d ? strstr(d, "\r\n\r\n--") : NULL;
		CHECK(d && end && (size_t)(end - d) < 1000, "diagnostic cut: %zu",
		      d && end ? (size_t)(end - d) : 0);
	}
	free(p.text);
}

/* The boundary never occurs in the parts, even when the original quotes an earlier one. */
static void test_boundary_avoids_content(void)
{
	struct dsn_report r = base_report(failed_rcpts, 1);
	struct parsed p1, p2;
	char orig[1024];
	CHECK(format(&r, &p1) == 0, "first");
	snprintf(orig, sizeof(orig), "Subject: x\r\n\r\n--%s\r\n--%s--\r\n", p1.boundary,
		 p1.boundary);
	r.original = orig;
	r.original_len = strlen(orig);
	CHECK(format(&r, &p2) == 0 && p2.n_parts == 3 && p2.closed, "second");
	CHECK(strcmp(p1.boundary, p2.boundary) != 0 && !strstr(orig, p2.boundary),
	      "new boundary %s", p2.boundary);
	free(p1.text);
	free(p2.text);
}

static void test_utf8(void)
{
	static const char orig[] = "Subject: gr\xc3\xbc\xc3\x9f\x65\r\n\r\nK\xc3\xa4se\r\n";
	static const struct dsn_rcpt rc[] = {
	    {"j\xc3\xb6rg+x@b\xc3\xbc\x63her.example", "utf-8;j+5Cx{F6}rg@x.example", DSN_FAILED,
	     "5.1.1", NULL, "550 5.1.1 unknown", 0, 0},
	};
	struct dsn_report r = base_report(rc, 1);
	struct parsed p;
	r.sender = "s\xc3\xa9n@example.org";
	r.original = orig;
	r.original_len = strlen(orig);
	CHECK(format(&r, &p) == 0 && p.n_parts == 3 && p.closed, "format");
	if (p.n_parts == 3) {
		CHECK(has_line(p.text, "To: undisclosed-recipients:;"), "7-bit header");
		CHECK(has_line(p.part[1],
			       "Final-Recipient: utf-8; j\\x{F6}rg\\x{2B}x@b\\x{FC}cher.example"),
		      "RFC 6533 utf-8-addr-xtext");
		CHECK(has_line(p.part[1], "Original-Recipient: utf-8; j\\x{F6}rg@x.example"),
		      "ORCPT decoded");
		CHECK(has_line(p.text, "Content-Transfer-Encoding: 8bit"), "8-bit message");
		CHECK(strstr(p.part[2], "Content-Transfer-Encoding: 8bit\r\n\r\n") ==
			  p.part[2] + 72,
		      "8-bit part");
		check_lines("utf8", &p, p.part[2], p.text + p.len);
	}
	free(p.text);
}

/* Python's email package reads the reports as multipart/report with a delivery-status part. */
static const char PY_CHECK[] =
    "import email, email.policy, sys\n"
    "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n"
    "assert m.get_content_type() == 'multipart/report', m.get_content_type()\n"
    "assert m.get_param('report-type') == 'delivery-status'\n"
    "parts = list(m.iter_parts())\n"
    "types = [p.get_content_type() for p in parts]\n"
    "assert types == ['text/plain', 'message/delivery-status', 'message/rfc822'], types\n"
    "ds = parts[1].get_payload()\n"
    "assert str(ds[0]['Reporting-MTA']).startswith('dns; mx.example.test'), ds[0]\n"
    "assert [str(b['Action']) for b in ds[1:]] == ['failed'] * int(sys.argv[2]), ds\n"
    "assert str(ds[1]['Final-Recipient']).startswith('rfc822; bob@remote.example'), ds[1]\n"
    "assert str(parts[2].get_payload()[0]['Subject']) == 'hello'\n"
    "for p in m.walk():\n"
    "    assert not p.defects, (p.get_content_type(), p.defects)\n";

static void python_check(const char *why, const struct dsn_report *r)
{
	char msgpath[] = "/tmp/rg-dsn-XXXXXX", pypath[] = "/tmp/rg-dsn-py-XXXXXX", cmd[256];
	struct parsed p;
	if (format(r, &p) != 0)
		return;
	int fm = mkstemp(msgpath), fp = mkstemp(pypath);
	CHECK(fm >= 0 && fp >= 0, "temporary files");
	if (fm >= 0 && fp >= 0 && write(fm, p.text, p.len) == (ssize_t)p.len &&
	    write(fp, PY_CHECK, sizeof(PY_CHECK) - 1) == (ssize_t)(sizeof(PY_CHECK) - 1)) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s %zu", pypath, msgpath,
			 r->n_rcpts);
		CHECK(system(cmd) == 0, "%s: Python's email package disagrees (see above)", why);
	}
	if (fm >= 0)
		close(fm), unlink(msgpath);
	if (fp >= 0)
		close(fp), unlink(pypath);
	free(p.text);
}

static void test_python(void)
{
	if (access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "test_dsn: /usr/bin/python3 missing, Python cross-check skipped\n");
		return;
	}
	struct dsn_report r = base_report(failed_rcpts, N(failed_rcpts));
	python_check("failed report", &r);
	char diag[2048];
	memset(diag, 'x', sizeof(diag) - 1);
	diag[sizeof(diag) - 1] = '\0';
	memcpy(diag, "550 5.1.1 a\r\n\r\nb ", 18);
	struct dsn_rcpt hostile[] = {
	    {"bob@remote.example", NULL, DSN_FAILED, NULL, "mx\r\nX: y", diag, T0, 0}};
	r = base_report(hostile, 1);
	python_check("hostile reply", &r);
}

int main(void)
{
	test_wanted();
	test_header_len();
	test_failed();
	test_delayed_headers_only();
	test_success_no_original();
	test_invalid();
	test_hostile();
	test_boundary_avoids_content();
	test_utf8();
	test_python();
	return check_report("test_dsn");
}
