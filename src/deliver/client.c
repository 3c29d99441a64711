/* client.c — one outbound delivery attempt: the session's life (start, cancel, done), the
 * targets tried in order, connections, deadlines and reading replies. What is said to the
 * server is in client_proto.c; STARTTLS in client_tls.c. */
#include "client_int.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

static void client_read_cb(struct bufferevent *bev, void *arg);
static void client_write_cb(struct bufferevent *bev, void *arg);
static void client_event_cb(struct bufferevent *bev, short what, void *arg);

const char *client_stage(enum client_state st)
{
	static const char *const names[] = {
	    [CS_START] = "CONNECT", [CS_CONNECT] = "CONNECT", [CS_GREETING] = "CONNECT",
	    [CS_EHLO] = "EHLO",	    [CS_HELO] = "HELO",	      [CS_STARTTLS] = "STARTTLS",
	    [CS_TLS] = "STARTTLS",  [CS_MAIL] = "MAIL",	      [CS_RCPT] = "RCPT",
	    [CS_DATA] = "DATA",	    [CS_BODY] = "DATA",	      [CS_DOT] = "END-OF-MESSAGE",
	    [CS_QUIT] = "QUIT",	    [CS_DONE] = "QUIT",
	};
	return names[st];
}

/* The stage for messages: LMTP says LHLO where SMTP says EHLO. */
static const char *stage_name(const struct deliver_session *s)
{
	return s->state == CS_EHLO && s->cc->lmtp ? "LHLO" : client_stage(s->state);
}

void client_deadline(struct deliver_session *s, unsigned seconds)
{
	struct timeval tv = {(time_t)seconds, 0};
	evtimer_add(s->timer, &tv);
}

void client_send(struct deliver_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	s->pending++;
	client_deadline(s, s->cc->command_timeout);
}

void client_note_reply(struct deliver_session *s, const struct deliver_reply *r)
{
	s->res.code = r->code;
	util_strlcpy(s->res.enh, r->enh, sizeof(s->res.enh));
	util_strlcpy(s->res.text, r->text, sizeof(s->res.text));
}

void client_note(struct deliver_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->res.text, sizeof(s->res.text), fmt, ap);
	va_end(ap);
	s->res.code = 0;
	s->res.enh[0] = '\0';
}

static void conn_close(struct deliver_session *s)
{
	if (s->bev)
		bufferevent_free(s->bev);
	s->bev = NULL;
	s->conn_gen++;
	s->tls_on = 0;
	s->pending = 0;
	evtimer_del(s->timer);
}

#define CLIENT_QUIT_TIMEOUT 5 /* seconds for the replies still due once the outcome is known */

/* Closed for good: done runs from a zero timer, out of any connection callback. */
static void client_finish(struct deliver_session *s)
{
	conn_close(s);
	if (s->res.status == DELIVER_DONE)
		for (size_t i = 0; i < s->msg->n_rcpts; i++)
			if (s->msg->rcpts[i].code == 0)
				s->res.status =
				    DELIVER_TEMPFAIL; /* never claim what did not happen */
	s->state = CS_DONE;
	client_deadline(s, 0);
}

/* "mx.example[192.0.2.1]:25", "lmtp[unix:/run/lmtp]"; a long name is cut short. */
static void format_host(const struct deliver_target *t, char *buf, size_t len)
{
	const struct sockaddr *sa = (const struct sockaddr *)&t->addr;
	char addr[120];
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		snprintf(addr, sizeof(addr), "unix:%.*s", (int)sizeof(un->sun_path), un->sun_path);
	} else {
		char ip[64];
		util_sockaddr_ip(sa, ip, sizeof(ip));
		unsigned port = sa->sa_family == AF_INET6
				    ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
				    : ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(addr, sizeof(addr), "%s]:%u", ip, port);
	}
	int n = snprintf(buf, len, "%.*s[%s%s", (int)(len / 2), t->host, addr,
			 sa->sa_family == AF_UNIX ? "]" : "");
	if (n < 0 || (size_t)n >= len)
		buf[len - 1] = '\0';
}

void client_set_callbacks(struct deliver_session *s)
{
	bufferevent_setcb(s->bev, client_read_cb, client_write_cb, client_event_cb, s);
	/* input memory is bounded: libevent stops reading once a whole reply could be waiting */
	bufferevent_setwatermark(s->bev, EV_READ, 0, DELIVER_REPLY_MAX + 1);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* A socket bound to the configured source address of t's family, or -1 for none (no source
 * configured, a Unix socket, or one the host does not have: then the kernel chooses). */
static evutil_socket_t client_source_socket(struct deliver_session *s,
					    const struct deliver_target *t)
{
	int fam = t->addr.ss_family;
	const char *src = fam == AF_INET ? s->cc->source4 : fam == AF_INET6 ? s->cc->source6 : NULL;
	struct sockaddr_storage sa;
	socklen_t len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (!src)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.ss_family = (sa_family_t)fam;
	void *where = fam == AF_INET ? (void *)&((struct sockaddr_in *)&sa)->sin_addr
				     : (void *)&((struct sockaddr_in6 *)&sa)->sin6_addr;
	int fd = inet_pton(fam, src, where) == 1
		     ? socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
		     : -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) == 0)
		return fd;
	log_msg(LOG_WARN, "deliver: cannot send from outbound-address, the kernel chooses",
		"qid=%s source=%s error=\"%s\"", s->msg->qid ? s->msg->qid : "-", src,
		strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Connect to the first target from s->ti on that accepts a connect() call. */
static void client_connect_next(struct deliver_session *s)
{
	for (; s->ti < s->n_targets; s->ti++) {
		const struct deliver_target *t = &s->targets[s->ti];
		format_host(t, s->res.host, sizeof(s->res.host));
		s->res.tls[0] = '\0';
		s->res.ext = 0;
		s->bev = bufferevent_socket_new(s->base, client_source_socket(s, t),
						BEV_OPT_CLOSE_ON_FREE);
		if (!s->bev) {
			client_note(s, "out of memory");
			break;
		}
		client_set_callbacks(s);
		if (bufferevent_socket_connect(s->bev, (const struct sockaddr *)&t->addr,
					       (int)t->addrlen) == 0) {
			int one = 1; /* commands go out when written (see smtp/listen.c) */
			if (t->addr.ss_family != AF_UNIX)
				setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY,
					   &one, sizeof(one));
			s->state = CS_CONNECT;
			client_deadline(s, s->cc->connect_timeout);
			return;
		}
		client_note(s, "connect: %s", strerror(errno));
		conn_close(s);
	}
	if (s->n_targets == 0)
		client_note(s, "no server to deliver to");
	s->res.status = DELIVER_TEMPFAIL;
	client_finish(s);
}

void client_next_target(struct deliver_session *s)
{
	char reason[600], q[700];
	if (s->res.code)
		snprintf(reason, sizeof(reason), "%d %s%s%s", s->res.code, s->res.enh,
			 s->res.enh[0] ? " " : "", s->res.text);
	else
		snprintf(reason, sizeof(reason), "%s", s->res.text);
	log_msg(LOG_INFO, "deliver: server failed, trying the next one", "qid=%s host=%s reason=%s",
		s->msg->qid ? s->msg->qid : "-", s->res.host,
		log_quote(reason, strlen(reason), q, sizeof(q)));
	conn_close(s);
	s->ti++;
	client_connect_next(s);
}

void client_outcome(struct deliver_session *s, enum deliver_status st, int quit)
{
	s->res.status = st;
	if (!quit || !s->bev) {
		client_finish(s);
		return;
	}
	s->state = CS_QUIT;
	client_send(s, "QUIT");
	/* the outcome is known: a peer slow to say goodbye must not hold the slot for long */
	if (s->cc->command_timeout > CLIENT_QUIT_TIMEOUT)
		client_deadline(s, CLIENT_QUIT_TIMEOUT);
}

void client_fail(struct deliver_session *s, const char *fmt, ...)
{
	va_list ap;
	if (s->state >= CS_QUIT) { /* the outcome and its reason are known already */
		client_finish(s);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(s->res.text, sizeof(s->res.text), fmt, ap);
	va_end(ap);
	s->res.code = 0;
	s->res.enh[0] = '\0';
	if (s->state < CS_MAIL)
		client_next_target(s);
	else
		client_outcome(s, DELIVER_TEMPFAIL, 0);
}

/* A reply that cannot be parsed: the stream is not SMTP, nothing after it can be trusted. The
 * text shows the start of its first line, printable. */
static void client_garbage(struct deliver_session *s, const char *p, size_t n)
{
	char q[48];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < sizeof(q) && p[i] != '\r' && p[i] != '\n'; i++)
		q[o++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	q[o] = '\0';
	client_fail(s, "%s after %s: %s", s->pending ? "malformed reply" : "unexpected reply",
		    stage_name(s), q);
}

/* Whether replies are read in this state (not while connecting, in the TLS handshake, or while
 * the body is being written: a server does not speak before the final dot). */
static int client_reading(const struct deliver_session *s)
{
	return s->state != CS_START && s->state != CS_CONNECT && s->state != CS_TLS &&
	       s->state != CS_BODY && s->state != CS_DONE;
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct deliver_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned gen = s->conn_gen;
	while (s->conn_gen == gen && client_reading(s) && evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_length(in);
		size_t want = len < DELIVER_REPLY_MAX ? len : DELIVER_REPLY_MAX;
		const char *p = (const char *)evbuffer_pullup(in, (ssize_t)want);
		struct deliver_reply r;
		long n = p ? deliver_reply_parse(p, want, &r) : -1;
		if (n == 0 && want < DELIVER_REPLY_MAX)
			return; /* incomplete */
		if (n <= 0 || s->pending == 0) {
			client_garbage(s, p ? p : "", p ? want : 0);
			return;
		}
		if (s->state == CS_EHLO)
			deliver_ehlo_parse(p, (size_t)n, &s->ehlo);
		evbuffer_drain(in, (size_t)n);
		s->pending--;
		client_on_reply(s, &r);
		if (s->conn_gen == gen && s->pending > 0 && s->state < CS_BODY)
			client_deadline(s, s->cc->command_timeout);
	}
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct deliver_session *s = arg;
	(void)bev;
	if (s->state == CS_BODY)
		client_body_fill(s);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct deliver_session *s = arg;
	char err[256];
	int e = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == CS_CONNECT) {
			s->state = CS_GREETING;
			s->pending = 1;
			client_deadline(s, s->cc->command_timeout);
		} else if (s->state == CS_TLS) {
			client_tls_record(s);
			client_send_ehlo(s);
		}
		return;
	}
	if (s->state == CS_CONNECT)
		client_fail(s, "connect: %s",
			    (what & BEV_EVENT_ERROR) && e ? strerror(e) : "closed");
	else if (s->state == CS_TLS) {
		client_tls_error(s, err, sizeof(err));
		client_fail(s, "TLS handshake: %s", err);
	} else {
		client_fail(s, "lost connection after %s", stage_name(s));
	}
	(void)bev;
}

/* Control characters in an envelope value would end or split a command line. */
static int envelope_bad(const char *v, int allow_space)
{
	for (; v && *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f || (*v == ' ' && !allow_space))
			return 1;
	return 0;
}

static int msg_invalid(const struct deliver_msg *m)
{
	int bad = envelope_bad(m->from, 1) || envelope_bad(m->envid, 0);
	for (size_t i = 0; i < m->n_rcpts && !bad; i++)
		bad = !m->rcpts[i].addr || !m->rcpts[i].addr[0] ||
		      envelope_bad(m->rcpts[i].addr, 1) || envelope_bad(m->rcpts[i].orcpt, 0);
	return bad;
}

/* The timer: the first connect, a deadline, or the end. */
static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_session *s = arg;
	(void)fd, (void)what;
	if (s->state == CS_DONE) {
		s->done(s->arg, &s->res);
		deliver_smtp_cancel(s);
	} else if (s->state != CS_START) {
		if (s->state == CS_CONNECT)
			client_fail(s, "connect: timeout");
		else
			client_fail(s, "timeout after %s", stage_name(s));
	} else if (!s->msg->from || msg_invalid(s->msg)) {
		client_note(s, "invalid envelope: control character in an address or parameter");
		client_outcome(s, DELIVER_PERMFAIL, 0);
	} else if (s->msg->n_rcpts == 0) {
		client_note(s, "no recipients");
		client_outcome(s, DELIVER_DONE, 0);
	} else {
		client_connect_next(s);
	}
}

struct deliver_session *deliver_smtp_start(struct event_base *base,
					   const struct deliver_client_conf *cc,
					   const struct deliver_target *targets, size_t n_targets,
					   struct deliver_msg *msg, deliver_done_fn done, void *arg)
{
	struct deliver_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->accepted = calloc(msg->n_rcpts + 1, 1);
	s->chunk = malloc(DELIVER_BODY_CHUNK);
	s->timer = evtimer_new(base, client_timer_cb, s);
	if (!s->accepted || !s->chunk || !s->timer) {
		deliver_smtp_cancel(s);
		return NULL;
	}
	s->base = base;
	s->cc = cc;
	s->targets = targets;
	s->n_targets = n_targets;
	s->msg = msg;
	s->done = done;
	s->arg = arg;
	s->state = CS_START;
	s->res.status = DELIVER_TEMPFAIL;
	for (size_t i = 0; i < msg->n_rcpts; i++) {
		msg->rcpts[i].code = 0;
		msg->rcpts[i].enh[0] = msg->rcpts[i].text[0] = '\0';
	}
	client_deadline(s, 0);
	return s;
}

void deliver_smtp_cancel(struct deliver_session *s)
{
	if (!s)
		return;
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->timer)
		event_free(s->timer);
	free(s->accepted);
	free(s->chunk);
	free(s);
}
