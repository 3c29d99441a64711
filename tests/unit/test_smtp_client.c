/* test_smtp_client.c — the delivery client (deliver_smtp_start) against scripted SMTP/LMTP
 * servers on 127.0.0.1, in one event loop: every command line the client sends and every body
 * byte are checked exactly; each case is a script of (command expected, reply, action). */
#include "deliver/client_int.h" /* the backpressure test looks at the session's buffers */
#include "deliver/deliver.h"
#include "check.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUARD_SECONDS 5 /* a run that takes longer is a failure, not a hang */

/* ---- the scripted server ---- */
enum action { ACT_NONE, ACT_CLOSE, ACT_TLS, ACT_STALL /* stop reading */ };
struct step {
	const char
	    *expect; /* "CONNECT", a command prefix, "." (end of data), "#data" (body bytes) */
	const char *reply; /* sent as is (NULL: nothing); a "354" reply starts the data phase */
	enum action act;
};

struct srv {
	struct event_base *base;
	struct evconnlistener *l;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const struct step *script;
	SSL_CTX *tls;
	struct bufferevent *bev; /* the one connection (a test case has one per server) */
	size_t step;
	int data_mode, mismatch, closing;
	char cmds[8192]; /* every command line received, each ended by "\n" */
	size_t ncmds;
	char *data; /* the raw DATA bytes, final ".\r\n" included */
	size_t datalen, datacap, scanned;
};

static void srv_event_cb(struct bufferevent *bev, short what, void *arg);
static void srv_read_cb(struct bufferevent *bev, void *arg);
static void srv_write_cb(struct bufferevent *bev, void *arg);

static void srv_close(struct srv *s)
{
	if (s->bev)
		bufferevent_free(s->bev);
	s->bev = NULL;
}

static void srv_write_cb(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	if (s->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		srv_close(s);
}

/* Close once the replies queued so far are written (freeing at once would drop them). */
static void srv_close_after_write(struct srv *s)
{
	s->closing = 1;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		srv_close(s);
}

/* Whether a line of the reply starts with 354: the data phase follows. */
static int starts_data(const char *reply)
{
	for (const char *l = reply; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, "354", 3))
			return 1;
	return 0;
}

/* Perform step s->step (its trigger has happened). */
static void srv_do_step(struct srv *s)
{
	const struct step *st = &s->script[s->step++];
	if (st->reply) {
		evbuffer_add(bufferevent_get_output(s->bev), st->reply, strlen(st->reply));
		s->data_mode = starts_data(st->reply);
	}
	if (st->act == ACT_CLOSE) {
		srv_close_after_write(s);
	} else if (st->act == ACT_STALL) {
		bufferevent_disable(s->bev, EV_READ);
		if (bufferevent_get_underlying(s->bev))
			bufferevent_disable(bufferevent_get_underlying(s->bev), EV_READ);
	} else if (st->act == ACT_TLS) {
		SSL *ssl = SSL_new(s->tls);
		s->bev = bufferevent_openssl_filter_new(
		    s->base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(s->bev, srv_read_cb, srv_write_cb, srv_event_cb, s);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	}
}

static const char *srv_expect(const struct srv *s)
{
	return s->script[s->step].expect;
}

static void srv_command(struct srv *s, const char *line)
{
	int n = snprintf(s->cmds + s->ncmds, sizeof(s->cmds) - s->ncmds, "%s\n", line);
	if (n > 0 && (size_t)n < sizeof(s->cmds) - s->ncmds)
		s->ncmds += (size_t)n;
	if (srv_expect(s) && strncmp(line, srv_expect(s), strlen(srv_expect(s))) == 0)
		srv_do_step(s);
	else
		s->mismatch++;
}

/* Body bytes: kept raw; the end is CR LF "." CR LF (or "." CR LF at the very start). */
static void srv_data(struct srv *s, struct evbuffer *in)
{
	size_t n = evbuffer_get_length(in);
	if (srv_expect(s) && !strcmp(srv_expect(s), "#data")) {
		srv_do_step(s);
		return;
	}
	if (s->datalen + n > s->datacap) {
		s->datacap = (s->datalen + n) * 2;
		s->data = realloc(s->data, s->datacap);
	}
	evbuffer_copyout(in, s->data + s->datalen, n);
	for (size_t i = s->scanned > 4 ? s->scanned - 4 : 0; i + 3 <= s->datalen + n; i++) {
		int end = (i == 0 && !memcmp(s->data, ".\r\n", 3)) ||
			  (i >= 2 && !memcmp(s->data + i - 2, "\r\n.\r\n", 5));
		if (end) {
			evbuffer_drain(in, i + 3 - s->datalen);
			s->datalen = s->scanned = i + 3;
			s->data_mode = 0;
			if (srv_expect(s) && !strcmp(srv_expect(s), "."))
				srv_do_step(s);
			return;
		}
	}
	evbuffer_drain(in, n);
	s->datalen += n;
	s->scanned = s->datalen;
}

static void srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (s->bev == bev && !s->closing && evbuffer_get_length(in) > 0) {
		if (s->data_mode) {
			srv_data(s, in);
			continue;
		}
		char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF_STRICT);
		if (!line)
			return;
		srv_command(s, line);
		free(line);
	}
}

static void srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct srv *s = arg;
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		srv_close(s);
}

static void srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *arg)
{
	struct srv *s = arg;
	(void)l, (void)sa, (void)salen;
	if (s->bev) { /* one connection per server: a second one is a test failure */
		s->mismatch++;
		close(fd);
		return;
	}
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->bev, srv_read_cb, srv_write_cb, srv_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (srv_expect(s) && !strcmp(srv_expect(s), "CONNECT"))
		srv_do_step(s);
}

/* A server at sa (port 0: any free one, the real address lands in s->addr). */
static void srv_start_at(struct srv *s, struct event_base *base, const struct step *script,
			 SSL_CTX *tls, const struct sockaddr *sa, socklen_t salen)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->script = script;
	s->tls = tls;
	memcpy(&s->addr, sa, salen);
	s->addrlen = salen;
	s->l = evconnlistener_new_bind(
	    base, srv_accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8, sa, (int)salen);
	if (s->l && sa->sa_family == AF_INET)
		getsockname(evconnlistener_get_fd(s->l), (struct sockaddr *)&s->addr, &s->addrlen);
	CHECK(s->l != NULL, "listener");
}

/* A server on 127.0.0.1, any free port. */
static void srv_start(struct srv *s, struct event_base *base, const struct step *script,
		      SSL_CTX *tls)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	srv_start_at(s, base, script, tls, (struct sockaddr *)&a, sizeof(a));
}

static void srv_free(struct srv *s)
{
	srv_close(s);
	if (s->l)
		evconnlistener_free(s->l);
	free(s->data);
}

/* ---- the client side ---- */
static void target_set(struct deliver_target *t, const struct sockaddr_storage *a, socklen_t alen,
		       const char *host)
{
	memset(t, 0, sizeof(*t));
	memcpy(&t->addr, a, alen);
	t->addrlen = alen;
	snprintf(t->host, sizeof(t->host), "%s", host);
}

/* A loopback port where nobody listens. */
static socklen_t refused_addr(struct sockaddr_storage *ss)
{
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t len = sizeof(*a);
	memset(ss, 0, sizeof(*ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)a, sizeof(*a));
	getsockname(fd, (struct sockaddr *)a, &len);
	close(fd);
	return len;
}

/* A body file: the message at offset 7 (the spool's records have headers before bodies). */
static struct deliver_body body_file(const char *body, size_t len)
{
	FILE *f = tmpfile();
	struct deliver_body b = {.fd = -1};
	if (!f)
		return b;
	b.fd = dup(fileno(f));
	fclose(f);
	if (write(b.fd, "header:", 7) != 7 || write(b.fd, body, len) != (ssize_t)len)
		CHECK(0, "writing the body file");
	b.off = 7;
	b.len = len;
	return b;
}

struct run {
	int calls;
	struct deliver_result res;
	struct event_base *base;
	int *outstanding;
};

static void on_done(void *arg, const struct deliver_result *res)
{
	struct run *r = arg;
	r->calls++;
	r->res = *res;
	if (--*r->outstanding == 0)
		event_base_loopexit(r->base, NULL);
}

static void loop_until_done(struct event_base *base)
{
	struct timeval guard = {GUARD_SECONDS, 0};
	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
}

static const struct deliver_client_conf conf_smtp = {
    .helo = "relay.test", .connect_timeout = 2, .command_timeout = 2, .data_timeout = 2};

/* One attempt of msg to the targets; returns the result (and checks done ran once). */
static struct deliver_result attempt(struct event_base *base, const struct deliver_client_conf *cc,
				     const struct deliver_target *t, size_t nt,
				     struct deliver_msg *msg)
{
	int outstanding = 1;
	struct run r = {.base = base, .outstanding = &outstanding};
	struct deliver_session *s = deliver_smtp_start(base, cc, t, nt, msg, on_done, &r);
	CHECK(s != NULL, "session started");
	CHECK(r.calls == 0, "done never runs inside start");
	if (s)
		loop_until_done(base);
	CHECK(r.calls == 1, "done ran once: %d", r.calls);
	return r.res;
}

/* ---- scripted cases ---- */
#define BODY "Subject: t\r\n\r\n.dot\r\nbare\nlf\r\nend"
#define WIRE "Subject: t\r\n\r\n..dot\r\nbare\r\nlf\r\nend\r\n.\r\n"
#define GREET                                                                                      \
	{                                                                                          \
		"CONNECT", "220 mx.test ESMTP\r\n", ACT_NONE                                       \
	}
#define EHLO_ESMTP                                                                                 \
	{                                                                                          \
		"EHLO relay.test",                                                                 \
		    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n"         \
		    "250 DSN\r\n",                                                                 \
		    ACT_NONE                                                                       \
	}
#define EHLO_PLAIN                                                                                 \
	{                                                                                          \
		"EHLO relay.test", "250 mx.test\r\n", ACT_NONE                                     \
	}
#define MAIL_OK                                                                                    \
	{                                                                                          \
		"MAIL FROM:<a@x.example>", "250 ok\r\n", ACT_NONE                                  \
	}
#define RCPT_B(reply)                                                                              \
	{                                                                                          \
		"RCPT TO:<b@y.example>", reply, ACT_NONE                                           \
	}
#define RCPT_C(reply)                                                                              \
	{                                                                                          \
		"RCPT TO:<c@y.example>", reply, ACT_NONE                                           \
	}
#define DATA_GO                                                                                    \
	{                                                                                          \
		"DATA", "354 go\r\n", ACT_NONE                                                     \
	}
#define QUIT                                                                                       \
	{                                                                                          \
		"QUIT", "221 bye\r\n", ACT_CLOSE                                                   \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, NULL, ACT_NONE                                                               \
	}
/* the ESMTP commands of the default message to a server offering SIZE, 8BITMIME, DSN */
#define MAIL_ESMTP "MAIL FROM:<a@x.example> SIZE=32 BODY=8BITMIME RET=HDRS ENVID=e+2B1\n"
#define RCPTS_ESMTP                                                                                \
	"RCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.example\n"                  \
	"RCPT TO:<c@y.example> NOTIFY=NEVER\n"
#define PLAIN_TX "MAIL FROM:<a@x.example>\nRCPT TO:<b@y.example>\nRCPT TO:<c@y.example>\n"

struct client_case {
	const char *why;
	const struct step *script;
	const char *cmds; /* every command the server must have seen */
	const char *data; /* the DATA bytes, or NULL when none must arrive */
	enum deliver_status status;
	int codes[2];
	int code;		 /* result code */
	const char *text;	 /* prefix of the result text, or NULL */
	int lmtp, tls, smtputf8; /* tls: 1 the client may STARTTLS, 2 and TLS must be on */
};

static const struct step s_pipelined[] = {
    GREET,
    EHLO_ESMTP,
    {"MAIL FROM:<a@x.example>", NULL, ACT_NONE}, /* no reply until DATA: pipelining or hang */
    RCPT_B(NULL),
    RCPT_C(NULL),
    {"DATA", "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go\r\n", ACT_NONE},
    {".", "250 2.0.0 queued as X\r\n", ACT_NONE},
    QUIT,
    END};
static const struct step s_lockstep[] = {GREET,
					 EHLO_PLAIN,
					 MAIL_OK,
					 RCPT_B("250 ok\r\n"),
					 RCPT_C("251 ok\r\n"),
					 DATA_GO,
					 {".", "250 ok\r\n", ACT_NONE},
					 QUIT,
					 END};
static const struct step s_helo[] = {GREET,
				     {"EHLO relay.test", "502 5.5.1 no EHLO\r\n", ACT_NONE},
				     {"HELO relay.test", "250 mx.test\r\n", ACT_NONE},
				     MAIL_OK,
				     RCPT_B("250 ok\r\n"),
				     RCPT_C("250 ok\r\n"),
				     DATA_GO,
				     {".", "250 ok\r\n", ACT_NONE},
				     QUIT,
				     END};
static const struct step s_mail5[] = {
    GREET, EHLO_PLAIN, {"MAIL", "553 5.7.1 sender rejected\r\n", ACT_NONE}, QUIT, END};
static const struct step s_mail5_quit_garbage[] = {
    GREET,
    EHLO_PLAIN,
    {"MAIL", "553 5.7.1 sender rejected\r\n", ACT_NONE},
    {"QUIT", "bye\r\n", ACT_NONE},
    END};
static const struct step s_mail4[] = {
    GREET, EHLO_PLAIN, {"MAIL", "451 4.3.0 later\r\n", ACT_NONE}, QUIT, END};
static const struct step s_mail5_pipelined[] = {
    GREET,
    EHLO_ESMTP,
    {"MAIL", NULL, ACT_NONE},
    RCPT_B(NULL),
    RCPT_C(NULL),
    {"DATA", "550 5.7.1 no\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n", ACT_NONE},
    QUIT,
    END};
static const struct step s_rcpts_refused[] = {
    GREET, EHLO_PLAIN, MAIL_OK, RCPT_B("550 5.1.1 unknown\r\n"), RCPT_C("450 4.2.0 greylisted\r\n"),
    QUIT,  END};
static const struct step s_rcpts_refused_pipelined[] = {
    GREET,
    EHLO_ESMTP,
    {"MAIL", NULL, ACT_NONE},
    RCPT_B(NULL),
    RCPT_C(NULL),
    {"DATA", "250 ok\r\n550 5.1.1 a\r\n550 5.1.1 b\r\n554 5.5.1 no valid recipients\r\n", ACT_NONE},
    QUIT,
    END};
static const struct step s_data4[] = {GREET,
				      EHLO_PLAIN,
				      MAIL_OK,
				      RCPT_B("250 ok\r\n"),
				      RCPT_C("550 5.1.1 unknown\r\n"),
				      {"DATA", "451 4.3.0 try later\r\n", ACT_NONE},
				      QUIT,
				      END};
static const struct step s_dot5[] = {GREET,
				     EHLO_PLAIN,
				     MAIL_OK,
				     RCPT_B("250 ok\r\n"),
				     RCPT_C("250 ok\r\n"),
				     DATA_GO,
				     {".", "554 5.6.0 content rejected\r\n", ACT_NONE},
				     QUIT,
				     END};
static const struct step s_rcpt421[] = {GREET,
					EHLO_PLAIN,
					MAIL_OK,
					RCPT_B("250 ok\r\n"),
					{"RCPT", "421 4.3.2 shutting down\r\n", ACT_CLOSE},
					END};
static const struct step s_drop_body[] = {GREET,
					  EHLO_PLAIN,
					  MAIL_OK,
					  RCPT_B("250 ok\r\n"),
					  RCPT_C("250 ok\r\n"),
					  DATA_GO,
					  {"#data", NULL, ACT_CLOSE},
					  END};
static const struct step s_drop_dot[] = {GREET,
					 EHLO_PLAIN,
					 MAIL_OK,
					 RCPT_B("250 ok\r\n"),
					 RCPT_C("250 ok\r\n"),
					 DATA_GO,
					 {".", NULL, ACT_CLOSE},
					 END};
static const struct step s_size[] = {
    GREET, {"EHLO", "250-mx.test\r\n250 SIZE 10\r\n", ACT_NONE}, QUIT, END};
static const struct step s_garbage_greeting[] = {
    {"CONNECT", "HTTP/1.1 400 Bad Request\r\n", ACT_NONE}, END};
static const struct step s_garbage_mail[] = {
    GREET, EHLO_PLAIN, {"MAIL", "hello there\r\n", ACT_NONE}, END};
static const struct step s_greeting554[] = {{"CONNECT", "554 5.7.1 go away\r\n", ACT_NONE}, END};
static const struct step s_starttls_refused[] = {
    GREET,
    {"EHLO", "250-mx.test\r\n250 STARTTLS\r\n", ACT_NONE},
    {"STARTTLS", "454 4.7.0 TLS not available\r\n", ACT_NONE},
    MAIL_OK,
    RCPT_B("250 ok\r\n"),
    RCPT_C("250 ok\r\n"),
    DATA_GO,
    {".", "250 ok\r\n", ACT_NONE},
    QUIT,
    END};
static const struct step s_starttls_inject[] = {
    GREET,
    {"EHLO", "250-mx.test\r\n250 STARTTLS\r\n", ACT_NONE},
    {"STARTTLS", "220 go ahead\r\n250 injected\r\n", ACT_NONE},
    END};
static const struct step s_starttls[] = {
    GREET,
    {"EHLO", "250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n", ACT_NONE},
    {"STARTTLS", "220 go ahead\r\n", ACT_TLS},
    {"EHLO relay.test", "250-mx.test\r\n250 PIPELINING\r\n", ACT_NONE},
    {"MAIL", NULL, ACT_NONE},
    RCPT_B(NULL),
    RCPT_C(NULL),
    {"DATA", "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE},
    {".", "250 ok\r\n", ACT_NONE},
    QUIT,
    END};
static const struct step s_tls_fail[] = {GREET,
					 {"EHLO", "250-mx.test\r\n250 STARTTLS\r\n", ACT_NONE},
					 {"STARTTLS", "220 go ahead\r\n", ACT_CLOSE},
					 END};
static const struct step s_lmtp[] = {
    GREET,
    {"LHLO relay.test", "250-mx.test\r\n250 PIPELINING\r\n", ACT_NONE},
    {"MAIL", NULL, ACT_NONE},
    RCPT_B(NULL),
    RCPT_C(NULL),
    {"DATA", "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", ACT_NONE},
    {".", "250 2.0.0 b ok\r\n452 4.2.2 c over quota\r\n", ACT_NONE},
    QUIT,
    END};
static const struct step s_lmtp_lost[] = {GREET,
					  {"LHLO relay.test", "250 mx.test\r\n", ACT_NONE},
					  MAIL_OK,
					  RCPT_B("250 ok\r\n"),
					  RCPT_C("250 ok\r\n"),
					  DATA_GO,
					  {".", "250 2.0.0 b ok\r\n", ACT_CLOSE},
					  END};
static const struct step s_utf8[] = {GREET, EHLO_PLAIN, QUIT, END};

static const struct client_case client_cases[] = {
    {"pipelined ESMTP, one recipient refused (RFC 2920, 1870, 6152, 3461)",
     s_pipelined,
     "EHLO relay.test\n" MAIL_ESMTP RCPTS_ESMTP "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {250, 550},
     250,
     "queued as X"},
    {"no PIPELINING: lock-step, no parameters",
     s_lockstep,
     "EHLO relay.test\n" PLAIN_TX "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {250, 250},
     250,
     NULL},
    {"EHLO 5xx: HELO",
     s_helo,
     "EHLO relay.test\nHELO relay.test\n" PLAIN_TX "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {250, 250},
     250,
     NULL},
    {"MAIL 5xx: PERMFAIL, no recipient answered",
     s_mail5,
     "EHLO relay.test\nMAIL FROM:<a@x.example>\nQUIT\n",
     NULL,
     DELIVER_PERMFAIL,
     {0, 0},
     553,
     "sender rejected"},
    {"garbage after QUIT: the outcome and its reason stand",
     s_mail5_quit_garbage,
     "EHLO relay.test\nMAIL FROM:<a@x.example>\nQUIT\n",
     NULL,
     DELIVER_PERMFAIL,
     {0, 0},
     553,
     "sender rejected"},
    {"MAIL 4xx: TEMPFAIL",
     s_mail4,
     "EHLO relay.test\nMAIL FROM:<a@x.example>\nQUIT\n",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     451,
     "later"},
    {"pipelined MAIL 5xx: the later replies are skipped",
     s_mail5_pipelined,
     "EHLO relay.test\n" MAIL_ESMTP RCPTS_ESMTP "DATA\nQUIT\n",
     NULL,
     DELIVER_PERMFAIL,
     {0, 0},
     550,
     NULL},
    {"every RCPT refused: no DATA",
     s_rcpts_refused,
     "EHLO relay.test\n" PLAIN_TX "QUIT\n",
     NULL,
     DELIVER_DONE,
     {550, 450},
     450,
     "greylisted"},
    {"pipelined, every RCPT refused: DATA refused",
     s_rcpts_refused_pipelined,
     "EHLO relay.test\n" MAIL_ESMTP RCPTS_ESMTP "DATA\nQUIT\n",
     NULL,
     DELIVER_DONE,
     {550, 550},
     554,
     NULL},
    {"DATA 4xx: every accepted recipient gets it",
     s_data4,
     "EHLO relay.test\n" PLAIN_TX "DATA\nQUIT\n",
     NULL,
     DELIVER_DONE,
     {451, 550},
     451,
     NULL},
    {"final 5xx: every accepted recipient gets it",
     s_dot5,
     "EHLO relay.test\n" PLAIN_TX "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {554, 554},
     554,
     NULL},
    {"421 at RCPT: TEMPFAIL, the accepted recipient is retried",
     s_rcpt421,
     "EHLO relay.test\n" PLAIN_TX,
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     421,
     "shutting down"},
    {"connection lost once the body arrives: TEMPFAIL, never success",
     s_drop_body,
     "EHLO relay.test\n" PLAIN_TX "DATA\n",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     0,
     "lost connection after "},
    {"connection lost after the final dot",
     s_drop_dot,
     "EHLO relay.test\n" PLAIN_TX "DATA\n",
     WIRE,
     DELIVER_TEMPFAIL,
     {0, 0},
     0,
     "lost connection after END-OF-MESSAGE"},
    {"message larger than the server's SIZE: PERMFAIL without MAIL",
     s_size,
     "EHLO relay.test\nQUIT\n",
     NULL,
     DELIVER_PERMFAIL,
     {0, 0},
     552,
     "message size 32 exceeds"},
    {"garbage greeting",
     s_garbage_greeting,
     "",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     0,
     "malformed reply after CONNECT"},
    {"garbage reply to MAIL",
     s_garbage_mail,
     "EHLO relay.test\nMAIL FROM:<a@x.example>\n",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     0,
     "malformed reply after MAIL"},
    {"greeting 554: TEMPFAIL when no other server",
     s_greeting554,
     "",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     554,
     "go away"},
    {"STARTTLS refused: on in the clear",
     s_starttls_refused,
     "EHLO relay.test\nSTARTTLS\n" PLAIN_TX "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {250, 250},
     250,
     NULL,
     0,
     1},
    {"plaintext after the STARTTLS reply: server skipped",
     s_starttls_inject,
     "EHLO relay.test\nSTARTTLS\n",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     0,
     "plaintext after the STARTTLS reply",
     0,
     1},
    {"STARTTLS, EHLO again, pipelined inside TLS",
     s_starttls,
     "EHLO relay.test\nSTARTTLS\nEHLO relay.test\n" PLAIN_TX "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {250, 250},
     250,
     NULL,
     0,
     2},
    {"TLS handshake fails: server skipped",
     s_tls_fail,
     "EHLO relay.test\nSTARTTLS\n",
     NULL,
     DELIVER_TEMPFAIL,
     {0, 0},
     0,
     "TLS handshake: ",
     0,
     1},
    {"LMTP: one reply per accepted recipient (RFC 2033)",
     s_lmtp,
     "LHLO relay.test\n" PLAIN_TX "DATA\nQUIT\n",
     WIRE,
     DELIVER_DONE,
     {250, 452},
     452,
     NULL,
     1},
    {"LMTP: lost after the first reply",
     s_lmtp_lost,
     "LHLO relay.test\n" PLAIN_TX "DATA\n",
     WIRE,
     DELIVER_TEMPFAIL,
     {250, 0},
     0,
     "lost connection after END-OF-MESSAGE",
     1},
    {"SMTPUTF8 needed, not offered: PERMFAIL 553 5.6.7",
     s_utf8,
     "EHLO relay.test\nQUIT\n",
     NULL,
     DELIVER_PERMFAIL,
     {0, 0},
     553,
     "SMTPUTF8 is required",
     0,
     0,
     1},
};

static void msg_init(struct deliver_msg *m, struct deliver_rcpt rc[2])
{
	rc[0] = (struct deliver_rcpt){.addr = "b@y.example",
				      .notify = DELIVER_NOTIFY_SUCCESS | DELIVER_NOTIFY_FAILURE,
				      .orcpt = "rfc822;b@y.example"};
	rc[1] = (struct deliver_rcpt){.addr = "c@y.example", .notify = DELIVER_NOTIFY_NEVER};
	*m = (struct deliver_msg){.from = "a@x.example",
				  .envid = "e+2B1",
				  .ret = 2,
				  .eight_bit = 1,
				  .body = body_file(BODY, sizeof(BODY) - 1),
				  .rcpts = rc,
				  .n_rcpts = 2,
				  .qid = "T1"};
}

static void check_case(const struct client_case *c, const struct srv *s,
		       const struct deliver_result *r, const struct deliver_rcpt *rc)
{
	CHECK(s->mismatch == 0 && s->script[s->step].expect == NULL,
	      "%s: script ran to its end (step %zu, %d unexpected)", c->why, s->step, s->mismatch);
	CHECK_STR(s->cmds, c->cmds, "%s: commands", c->why);
	if (c->data)
		CHECK(s->datalen == strlen(c->data) && !memcmp(s->data, c->data, s->datalen),
		      "%s: DATA bytes (%zu)", c->why, s->datalen);
	else
		CHECK(s->datalen == 0, "%s: no body sent (%zu bytes)", c->why, s->datalen);
	CHECK(r->status == c->status, "%s: status %d", c->why, r->status);
	for (int i = 0; i < 2; i++)
		CHECK(rc[i].code == c->codes[i], "%s: rcpt %d code %d (%s)", c->why, i, rc[i].code,
		      rc[i].text);
	CHECK(r->code == c->code, "%s: result code %d (%s)", c->why, r->code, r->text);
	if (c->text)
		CHECK(strstr(r->text, c->text) != NULL, "%s: text \"%s\"", c->why, r->text);
	CHECK(!strncmp(r->host, "mx.test[127.0.0.1]:", 19), "%s: host %s", c->why, r->host);
	if (c->tls == 2)
		CHECK(!strncmp(r->tls, "TLSv1.", 6), "%s: TLS \"%s\"", c->why, r->tls);
	else
		CHECK(r->tls[0] == '\0', "%s: no TLS \"%s\"", c->why, r->tls);
}

static void test_cases(struct event_base *base, SSL_CTX *cli_tls, SSL_CTX *srv_tls)
{
	for (size_t i = 0; i < N(client_cases); i++) {
		const struct client_case *c = &client_cases[i];
		struct srv s;
		struct deliver_rcpt rc[2];
		struct deliver_msg m;
		struct deliver_target t;
		struct deliver_client_conf cc = conf_smtp;
		cc.lmtp = c->lmtp;
		cc.tls = c->tls ? cli_tls : NULL;
		srv_start(&s, base, c->script, srv_tls);
		msg_init(&m, rc);
		m.smtputf8 = c->smtputf8;
		target_set(&t, &s.addr, s.addrlen, "mx.test");
		struct deliver_result r = attempt(base, &cc, &t, 1, &m);
		check_case(c, &s, &r, rc);
		close(m.body.fd);
		srv_free(&s);
	}
}

/* ---- several targets ---- */
static const struct step s_ok[] = {GREET,
				   EHLO_PLAIN,
				   MAIL_OK,
				   RCPT_B("250 ok\r\n"),
				   RCPT_C("250 ok\r\n"),
				   DATA_GO,
				   {".", "250 ok\r\n", ACT_NONE},
				   QUIT,
				   END};
static const struct step s_ehlo421[] = {GREET, {"EHLO", "421 4.3.2 busy\r\n", ACT_CLOSE}, END};
static const struct step s_lost_before_mail[] = {GREET, {"EHLO", NULL, ACT_CLOSE}, END};

/* Refused, 554 greeting, 421 to EHLO, closed before MAIL: each means the next server. */
static void test_targets(struct event_base *base)
{
	struct srv s554, s421, slost, sok;
	struct deliver_target t[5];
	struct sockaddr_storage refused;
	struct deliver_rcpt rc[2];
	struct deliver_msg m;
	socklen_t refused_len = refused_addr(&refused);
	srv_start(&s554, base, s_greeting554, NULL);
	srv_start(&s421, base, s_ehlo421, NULL);
	srv_start(&slost, base, s_lost_before_mail, NULL);
	srv_start(&sok, base, s_ok, NULL);
	target_set(&t[0], &refused, refused_len, "mx0.test");
	target_set(&t[1], &s554.addr, s554.addrlen, "mx1.test");
	target_set(&t[2], &s421.addr, s421.addrlen, "mx2.test");
	target_set(&t[3], &slost.addr, slost.addrlen, "mx3.test");
	target_set(&t[4], &sok.addr, sok.addrlen, "mx4.test");
	msg_init(&m, rc);
	struct deliver_result r = attempt(base, &conf_smtp, t, 5, &m);
	CHECK(r.status == DELIVER_DONE && rc[0].code == 250 && rc[1].code == 250,
	      "targets: delivered by the last one: %d %s", r.status, r.text);
	CHECK(!strncmp(r.host, "mx4.test[127.0.0.1]:", 20), "targets: host %s", r.host);
	CHECK(sok.script[sok.step].expect == NULL, "targets: last server's script done");
	CHECK(s554.step == 1 && s421.step == 2 && slost.step == 2, "targets: each one tried");

	/* only the failing ones: TEMPFAIL with the last one's reason */
	close(m.body.fd);
	msg_init(&m, rc);
	r = attempt(base, &conf_smtp, t, 1, &m);
	CHECK(r.status == DELIVER_TEMPFAIL && r.code == 0 && !strncmp(r.text, "connect: ", 9),
	      "refused: %d %s", r.status, r.text);
	r = attempt(base, &conf_smtp, t, 0, &m);
	CHECK(r.status == DELIVER_TEMPFAIL && rc[0].code == 0, "no targets: %s", r.text);
	close(m.body.fd);
	srv_free(&s554);
	srv_free(&s421);
	srv_free(&slost);
	srv_free(&sok);
}

/* ---- LMTP over a Unix socket (local-delivery lmtp unix:/path) ---- */
static void test_lmtp_unix(struct event_base *base)
{
	char dir[] = "/tmp/rg-lmtp-XXXXXX";
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct srv s;
	struct deliver_target t;
	struct deliver_rcpt rc[2];
	struct deliver_msg m;
	struct deliver_client_conf cc = conf_smtp;
	if (!mkdtemp(dir)) {
		CHECK(0, "temporary directory");
		return;
	}
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/lmtp", dir);
	srv_start_at(&s, base, s_lmtp, NULL, (struct sockaddr *)&un, sizeof(un));
	target_set(&t, &s.addr, s.addrlen, "lmtp");
	msg_init(&m, rc);
	cc.lmtp = 1;
	struct deliver_result r = attempt(base, &cc, &t, 1, &m);
	char host[300];
	snprintf(host, sizeof(host), "lmtp[unix:%s]", un.sun_path);
	CHECK(r.status == DELIVER_DONE && rc[0].code == 250 && rc[1].code == 452,
	      "LMTP over a Unix socket: %d %s", r.status, r.text);
	CHECK_STR(r.host, host, "LMTP over a Unix socket: host");
	CHECK(s.datalen == strlen(WIRE) && !memcmp(s.data, WIRE, s.datalen), "LMTP body");
	close(m.body.fd);
	srv_free(&s);
	unlink(un.sun_path);
	rmdir(dir);
}

/* ---- timeouts: a silent greeting and a silent RCPT, in parallel (1 s) ---- */
static const struct step s_silent[] = {{"CONNECT", NULL, ACT_NONE}, END};
static const struct step s_silent_rcpt[] = {
    GREET, EHLO_PLAIN, MAIL_OK, {"RCPT TO:<b@y.example>", NULL, ACT_NONE}, END};

static void test_timeouts(struct event_base *base)
{
	struct srv a, b;
	struct deliver_target ta, tb;
	struct deliver_rcpt rca[2], rcb[2];
	struct deliver_msg ma, mb;
	struct deliver_client_conf cc = conf_smtp;
	cc.command_timeout = 1;
	srv_start(&a, base, s_silent, NULL);
	srv_start(&b, base, s_silent_rcpt, NULL);
	target_set(&ta, &a.addr, a.addrlen, "mx.test");
	target_set(&tb, &b.addr, b.addrlen, "mx.test");
	msg_init(&ma, rca);
	msg_init(&mb, rcb);
	int outstanding = 2;
	struct run ra = {.base = base, .outstanding = &outstanding}, rb = ra;
	struct deliver_session *sa = deliver_smtp_start(base, &cc, &ta, 1, &ma, on_done, &ra);
	struct deliver_session *sb = deliver_smtp_start(base, &cc, &tb, 1, &mb, on_done, &rb);
	CHECK(sa && sb, "timeouts: started");
	loop_until_done(base);
	CHECK(ra.calls == 1 && ra.res.status == DELIVER_TEMPFAIL &&
		  !strcmp(ra.res.text, "timeout after CONNECT"),
	      "silent greeting: %d %s", ra.res.status, ra.res.text);
	CHECK(rb.calls == 1 && rb.res.status == DELIVER_TEMPFAIL &&
		  !strcmp(rb.res.text, "timeout after RCPT") && rcb[0].code == 0,
	      "silent RCPT: %d %s", rb.res.status, rb.res.text);
	close(ma.body.fd);
	close(mb.body.fd);
	srv_free(&a);
	srv_free(&b);
}

/* ---- a large body: backpressure, chunk boundaries, byte-exact stuffing ---- */
static const struct step s_big[] = {GREET,
				    EHLO_PLAIN,
				    MAIL_OK,
				    RCPT_B("250 ok\r\n"),
				    RCPT_C("250 ok\r\n"),
				    DATA_GO,
				    {".", "250 ok\r\n", ACT_NONE},
				    QUIT,
				    END};

/* Lines of varying length, some starting with dots, some with bare LF or bare CR, so that
 * every kind of byte falls on a 64 KiB chunk boundary somewhere. */
static char *big_body(size_t len)
{
	static const char *const pieces[] = {
	    ".", "..", "x", "\r\n", "\n", "\r", "line of text ", "\r\n.", "\n."};
	char *b = malloc(len);
	unsigned seed = 12345;
	for (size_t o = 0; b && o < len;) {
		seed = seed * 1103515245u + 12345u;
		const char *p = pieces[(seed >> 16) % N(pieces)];
		for (; *p && o < len; p++)
			b[o++] = *p;
	}
	return b;
}

/* The expected wire form, written independently of the encoder: line ends made CR LF, then
 * every line's leading dot doubled. */
static size_t reference_wire(const char *in, size_t len, char *out)
{
	size_t o = 0;
	int bol = 1;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			memcpy(out + o, "\r\n", 2);
			o += 2;
			bol = 1;
			continue;
		}
		if (bol && in[i] == '.')
			out[o++] = '.';
		out[o++] = in[i];
		bol = 0;
	}
	if (!bol) {
		memcpy(out + o, "\r\n", 2);
		o += 2;
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

static const struct step s_big_tls[] = {GREET,
					{"EHLO", "250-mx.test\r\n250 STARTTLS\r\n", ACT_NONE},
					{"STARTTLS", "220 go ahead\r\n", ACT_TLS},
					EHLO_PLAIN,
					MAIL_OK,
					RCPT_B("250 ok\r\n"),
					RCPT_C("250 ok\r\n"),
					DATA_GO,
					{".", "250 ok\r\n", ACT_NONE},
					QUIT,
					END};

/* The body of big_body() through a plain and a TLS session: byte-exact on the wire. */
static void test_big_body(struct event_base *base, SSL_CTX *cli, SSL_CTX *srv_tls)
{
	size_t len = 3 * 1024 * 1024 + 17;
	char *body = big_body(len), *want = malloc(2 * len + 8);
	struct deliver_rcpt rc[2];
	struct deliver_msg m;
	if (!body || !want) {
		CHECK(0, "memory for the big body");
		free(body);
		free(want);
		return;
	}
	size_t wlen = reference_wire(body, len, want);
	msg_init(&m, rc);
	close(m.body.fd);
	m.body = body_file(body, len);
	for (int tls = 0; tls < 2; tls++) {
		struct srv s;
		struct deliver_target t;
		struct deliver_client_conf cc = conf_smtp;
		cc.tls = tls ? cli : NULL;
		srv_start(&s, base, tls ? s_big_tls : s_big, srv_tls);
		target_set(&t, &s.addr, s.addrlen, "mx.test");
		struct deliver_result r = attempt(base, &cc, &t, 1, &m);
		CHECK(r.status == DELIVER_DONE && rc[0].code == 250 && (r.tls[0] != 0) == tls,
		      "big body (tls %d): %d %s", tls, r.status, r.text);
		CHECK(s.datalen == wlen && !memcmp(s.data, want, wlen),
		      "big body (tls %d): %zu bytes on the wire, %zu expected", tls, s.datalen,
		      wlen);
		srv_free(&s);
	}
	/* the same body to a server that closes once it starts: lost in the middle of it */
	struct srv s;
	struct deliver_target t;
	srv_start(&s, base, s_drop_body, NULL);
	target_set(&t, &s.addr, s.addrlen, "mx.test");
	struct deliver_result r = attempt(base, &conf_smtp, &t, 1, &m);
	CHECK(r.status == DELIVER_TEMPFAIL && rc[0].code == 0 && rc[1].code == 0 &&
		  !strcmp(r.text, "lost connection after DATA"),
	      "dropped mid-body: %d %s", r.status, r.text);
	close(m.body.fd);
	srv_free(&s);
	free(body);
	free(want);
}

/* ---- backpressure: a server that stops reading; the client's buffers stay bounded ---- */
static const struct step s_stall[] = {GREET,
				      EHLO_PLAIN,
				      MAIL_OK,
				      RCPT_B("250 ok\r\n"),
				      RCPT_C("250 ok\r\n"),
				      {"DATA", "354 go\r\n", ACT_STALL},
				      END};
static const struct step s_stall_tls[] = {GREET,
					  {"EHLO", "250-mx.test\r\n250 STARTTLS\r\n", ACT_NONE},
					  {"STARTTLS", "220 go ahead\r\n", ACT_TLS},
					  EHLO_PLAIN,
					  MAIL_OK,
					  RCPT_B("250 ok\r\n"),
					  RCPT_C("250 ok\r\n"),
					  {"DATA", "354 go\r\n", ACT_STALL},
					  END};

/* Bytes the session holds in output buffers (the TLS filter's and the socket's). */
static size_t session_buffered(struct deliver_session *x)
{
	if (!x->bev)
		return 0;
	size_t n = evbuffer_get_length(bufferevent_get_output(x->bev));
	struct bufferevent *under = bufferevent_get_underlying(x->bev);
	return n + (under ? evbuffer_get_length(bufferevent_get_output(under)) : 0);
}

static void stall_run(struct event_base *base, SSL_CTX *cli, SSL_CTX *srv_tls, int tls,
		      struct deliver_msg *m)
{
	struct srv s;
	struct deliver_target t;
	struct deliver_client_conf cc = conf_smtp;
	int outstanding = 1;
	struct run r = {.base = base, .outstanding = &outstanding};
	cc.tls = tls ? cli : NULL;
	srv_start(&s, base, tls ? s_stall_tls : s_stall, srv_tls);
	target_set(&t, &s.addr, s.addrlen, "mx.test");
	struct deliver_session *x = deliver_smtp_start(base, &cc, &t, 1, m, on_done, &r);
	size_t most = 0;
	uint64_t last = 0;
	/* run until the body stops moving: 50 quiet passes in a row, at most 2000 passes */
	for (int i = 0, quiet = 0; x && i < 2000 && quiet < 50 && r.calls == 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		size_t b = session_buffered(x);
		most = b > most ? b : most;
		quiet = x->body_done == last && x->state == CS_BODY ? quiet + 1 : 0;
		last = x->body_done;
		usleep(1000);
	}
	CHECK(x && r.calls == 0 && x->state == CS_BODY && x->body_done < m->body.len,
	      "stalled (tls %d) in the body after %llu bytes", tls,
	      x ? (unsigned long long)x->body_done : 0ULL);
	CHECK(most <= 4 * DELIVER_BODY_CHUNK, "stalled (tls %d): at most %zu bytes buffered", tls,
	      most);
	if (r.calls == 0)
		deliver_smtp_cancel(x);
	srv_free(&s);
}

/* A 64 MiB body (a sparse file) to a server that stops reading after 354: the kernel's
 * socket buffers fill, then the client must stop reading the spool, not buffer the rest. */
static void test_backpressure(struct event_base *base, SSL_CTX *cli, SSL_CTX *srv_tls)
{
	struct deliver_rcpt rc[2];
	struct deliver_msg m;
	msg_init(&m, rc);
	m.body.len = 64ull << 20;
	if (ftruncate(m.body.fd, (off_t)(m.body.off + m.body.len)) < 0)
		CHECK(0, "sparse body file");
	for (int tls = 0; tls < 2; tls++)
		stall_run(base, cli, srv_tls, tls, &m);
	close(m.body.fd);
}

/* ---- cancel: done never runs ---- */
static void test_cancel(struct event_base *base)
{
	struct srv s;
	struct deliver_target t;
	struct deliver_rcpt rc[2];
	struct deliver_msg m;
	int outstanding = 1;
	struct run r = {.base = base, .outstanding = &outstanding};
	srv_start(&s, base, s_silent_rcpt, NULL);
	target_set(&t, &s.addr, s.addrlen, "mx.test");
	msg_init(&m, rc);
	deliver_smtp_cancel(deliver_smtp_start(base, &conf_smtp, &t, 1, &m, on_done, &r));
	struct deliver_session *x = deliver_smtp_start(base, &conf_smtp, &t, 1, &m, on_done, &r);
	for (int i = 0; i < 1000 && s.step < 4 && r.calls == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(s.step == 4, "cancel: the session got to RCPT (step %zu)", s.step);
	deliver_smtp_cancel(x);
	struct timeval tv = {0, 100000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	CHECK(r.calls == 0, "cancel: done did not run");
	close(m.body.fd);
	srv_free(&s);
}

/* A self-signed certificate for the scripted server, made here (no files). */
static SSL_CTX *server_tls(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!key || !x || !ctx)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"mx.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, key, EVP_sha256()) || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

int main(void)
{
	char err[256];
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	SSL_CTX *cli = deliver_tls_client_ctx(err, sizeof(err)), *srv = server_tls();
	CHECK(base && cli && srv, "event base and TLS contexts: %s", cli ? "" : err);
	if (!base || !cli || !srv)
		return check_report("test_smtp_client");
	test_cases(base, cli, srv);
	test_targets(base);
	test_lmtp_unix(base);
	test_timeouts(base);
	test_big_body(base, cli, srv);
	test_backpressure(base, cli, srv);
	test_cancel(base);
	SSL_CTX_free(cli);
	SSL_CTX_free(srv);
	event_base_free(base);
	return check_report("test_smtp_client");
}
