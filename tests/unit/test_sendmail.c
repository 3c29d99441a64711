/* test_sendmail.c — sendmail's address lists (RFC 5322 3.4) and the message rewrite: CRLF
 * lines, the "." line, Bcc removed, From/Date/Message-ID added only when missing. */
#include "server/sendmail.h"
#include "check.h"

#include <event2/buffer.h>
#include <string.h>

struct collect {
	char text[512];
	size_t n;
};

static int collect(void *arg, const char *addr, size_t len)
{
	struct collect *c = arg;
	if (c->n + len + 2 > sizeof(c->text))
		return -1;
	memcpy(c->text + c->n, addr, len);
	c->n += len;
	c->text[c->n++] = '|';
	c->text[c->n] = '\0';
	return 0;
}

static void test_addr_list(void)
{
	static const struct {
		const char *in;
		int count;
		const char *want;
	} cases[] = {
	    {"a@x.example", 1, "a@x.example|"},
	    {" a@x , b@y ", 2, "a@x|b@y|"},
	    {"Alice <alice@x>", 1, "alice@x|"},
	    {"\"Doe, John\" <jd@x>, b@y", 2, "jd@x|b@y|"},
	    {"jd@x (John, Doe)", 1, "jd@x|"},
	    {"team: a@x, b@y;, c@z", 3, "a@x|b@y|c@z|"},
	    {"undisclosed-recipients:;", 0, ""},
	    {"\"a b\"@x", 1, "\"a b\"@x|"},
	    {"A <a@x>\r\n\t, B <b@y>", 2, "a@x|b@y|"},
	    {",,, ,", 0, ""},
	    {"(only (nested) comment)", 0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct collect c = {.n = 0};
		int n = sendmail_addr_list(cases[i].in, strlen(cases[i].in), collect, &c);
		CHECK(n == cases[i].count, "count %zu: %d", i, n);
		CHECK_STR(c.text, cases[i].want, "list %zu", i);
	}
}

/* The rewrite of in, as a NUL-terminated string in out; -t addresses into c. */
static int prepare(const char *in, int dot_ends, struct collect *c, char *out, size_t outlen)
{
	struct sendmail_prep p = {.dot_ends = dot_ends,
				  .from_hdr = "From: me@h",
				  .date_hdr = "Date: D",
				  .msgid_hdr = "Message-ID: <m@h>",
				  .on_rcpt_hdr = c ? collect : NULL,
				  .arg = c};
	struct evbuffer *b = evbuffer_new();
	int rc = sendmail_prepare(in, strlen(in), &p, b);
	size_t n = evbuffer_remove(b, out, outlen - 1);
	out[n] = '\0';
	evbuffer_free(b);
	return rc;
}

static void test_prepare(void)
{
	static const struct {
		const char *in;
		int dot_ends;
		const char *want;
	} cases[] = {
	    /* nothing given: all three added, LF -> CRLF */
	    {"Subject: s\n\nbody\n", 1,
	     "From: me@h\r\nDate: D\r\nMessage-ID: <m@h>\r\nSubject: s\r\n\r\nbody\r\n"},
	    /* present ones are kept, any case */
	    {"from: x@y\nDATE: d\nmessage-id: <q>\n\nb\r\n", 1,
	     "from: x@y\r\nDATE: d\r\nmessage-id: <q>\r\n\r\nb\r\n"},
	    /* a lone "." ends the message; with -i it is a line like any other */
	    {"From: a\nDate: d\nMessage-ID: m\n\n1\n.\n2\n", 1,
	     "From: a\r\nDate: d\r\nMessage-ID: m\r\n\r\n1\r\n"},
	    {"From: a\nDate: d\nMessage-ID: m\n\n1\n.\n2\n", 0,
	     "From: a\r\nDate: d\r\nMessage-ID: m\r\n\r\n1\r\n.\r\n2\r\n"},
	    {"From: a\nDate: d\nMessage-ID: m\n\n..\n", 1,
	     "From: a\r\nDate: d\r\nMessage-ID: m\r\n\r\n..\r\n"},
	    /* Bcc and its continuation removed */
	    {"From: a\nDate: d\nMessage-ID: m\nBcc: x@y,\n  z@w\nTo: t@u\n\nb", 1,
	     "From: a\r\nDate: d\r\nMessage-ID: m\r\nTo: t@u\r\n\r\nb\r\n"},
	    /* no header at all, and a body line right after the header */
	    {"just text\n", 1, "From: me@h\r\nDate: D\r\nMessage-ID: <m@h>\r\n\r\njust text\r\n"},
	    {"Subject: s\nnot a header\n", 1,
	     "From: me@h\r\nDate: D\r\nMessage-ID: <m@h>\r\nSubject: s\r\n\r\nnot a header\r\n"},
	    {"", 1, "From: me@h\r\nDate: D\r\nMessage-ID: <m@h>\r\n\r\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[1024];
		CHECK(prepare(cases[i].in, cases[i].dot_ends, NULL, out, sizeof(out)) == 0,
		      "prepare %zu", i);
		CHECK_STR(out, cases[i].want, "prepare %zu", i);
	}
	/* -t: To, Cc and Bcc (folded lines included), never other fields or the body */
	struct collect c = {.n = 0};
	char out[1024];
	CHECK(prepare("To: A <a@x>,\n b@y\nCc: c@z\nReply-To: r@r\nBcc: d@w\n\nTo: e@e\n", 1, &c,
		      out, sizeof(out)) == 0,
	      "prepare -t");
	CHECK_STR(c.text, "a@x|b@y|c@z|d@w|", "-t recipients");
	CHECK(strstr(out, "Bcc") == NULL && strstr(out, "d@w") == NULL, "-t Bcc removed");
}

int main(void)
{
	test_addr_list();
	test_prepare();
	return check_report("test_sendmail");
}
