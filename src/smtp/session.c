/* session.c — one SMTP connection: reading lines with bounded buffers, replies, timeouts, the
 * error limit and closing. Commands are in commands.c, the DATA phase in transfer.c. */
#include "session_int.h"

#include "../util/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void session_read_cb(struct bufferevent *bev, void *arg);
static void session_write_cb(struct bufferevent *bev, void *arg);
static void session_event_cb(struct bufferevent *bev, short what, void *arg);

static void vreply(struct smtp_session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void smtp_close(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	s->state = SMTP_STATE_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_enable(s->bev, EV_WRITE);
}

int smtp_error(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors < s->ctx->conf->limits.max_errors)
		return 0;
	log_msg(LOG_WARN, "smtp: too many errors", "session=%llu client=%s errors=%u",
		(unsigned long long)s->id, s->ip, s->errors);
	smtp_close(s, "421 4.7.0 %s Too many errors, closing connection", s->ctx->conf->hostname);
	return -1;
}

const char *smtp_log_addr(const struct addr_path *a, char *buf, size_t len)
{
	char addr[ADDR_PATH_MAX * 4];
	addr_format(a, addr, sizeof(addr));
	return log_quote_path(addr, buf, len);
}

void smtp_tx_free(struct smtp_tx *tx)
{
	if (!tx)
		return;
	spool_env_clear(&tx->env);
	spool_stage_free(tx->stage);
	free(tx);
}

static void session_set_timeout(struct smtp_session *s, unsigned seconds)
{
	struct timeval tv = {(time_t)seconds, 0};
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void greeting_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	(void)fd, (void)what;
	s->state = SMTP_STATE_COMMAND;
	smtp_reply(s, "220 %s ESMTP relayguard", s->ctx->conf->hostname);
}

/* A client that talks before the banner is a bot that does not wait for replies (RFC 5321
 * 4.3.1: the client waits for the greeting). */
static void pregreet(struct smtp_session *s)
{
	char q[128];
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t n = evbuffer_get_length(in) < 40 ? evbuffer_get_length(in) : 40;
	const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
	log_msg(LOG_WARN, "smtp: client talked before the greeting",
		"session=%llu client=%s data=%s", (unsigned long long)s->id, s->ip,
		log_quote(p ? p : "", p ? n : 0, q, sizeof(q)));
	evtimer_del(s->greet);
	s->ctx->metrics->sessions_rejected[METRICS_REFUSED_PREGREET]++;
	evbuffer_drain(in, evbuffer_get_length(in));
	smtp_close(s, "554 5.5.1 %s Protocol error: talking before the greeting",
		   s->ctx->conf->hostname);
}

void smtp_session_start(struct smtp_ctx *ctx, int fd, const struct sockaddr *peer,
			const struct sockaddr *local)
{
	const struct conf *c = ctx->conf;
	struct smtp_session *s = calloc(1, sizeof(*s));
	struct bufferevent *bev =
	    s ? bufferevent_socket_new(ctx->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		log_msg(LOG_ERR, "smtp: out of memory for a session", NULL);
		free(s);
		close(fd);
		return;
	}
	s->ctx = ctx;
	s->bev = bev;
	s->id = ++ctx->next_session_id;
	util_sockaddr_ip(peer, s->ip, sizeof(s->ip));
	cidr_addr_from_sockaddr(peer, s->client.addr);
	cidr_addr_from_sockaddr(local, s->client.local_addr);
	s->next = ctx->sessions;
	if (ctx->sessions)
		ctx->sessions->prev = s;
	ctx->sessions = s;
	ctx->n_sessions++;
	ctx->metrics->sessions_total++;
	ctx->metrics->sessions_active++;
	bufferevent_setcb(bev, session_read_cb, session_write_cb, session_event_cb, s);
	/* libevent stops reading once this much input waits: input memory is bounded. */
	bufferevent_setwatermark(bev, EV_READ, 0, c->limits.line_length + SMTP_DATA_CHUNK);
	session_set_timeout(s, c->limits.command_timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	log_msg(LOG_INFO, "smtp: connect", "session=%llu client=%s", (unsigned long long)s->id,
		s->ip);
	if (ctx->n_sessions > c->limits.max_sessions) {
		log_msg(LOG_WARN, "smtp: too many sessions", "session=%llu client=%s limit=%u",
			(unsigned long long)s->id, s->ip, c->limits.max_sessions);
		ctx->metrics->sessions_rejected[METRICS_REFUSED_MAX_SESSIONS]++;
		smtp_close(s, "421 4.7.0 %s Too many connections, try again later", c->hostname);
		return;
	}
	if (c->limits.greeting_delay == 0) {
		s->state = SMTP_STATE_COMMAND;
		smtp_reply(s, "220 %s ESMTP relayguard", c->hostname);
		return;
	}
	struct timeval tv = {(time_t)c->limits.greeting_delay, 0};
	s->greet = evtimer_new(ctx->base, greeting_cb, s);
	if (!s->greet || evtimer_add(s->greet, &tv) < 0) {
		smtp_close(s, "421 4.3.0 %s Out of resources, try again later", c->hostname);
		return;
	}
	s->state = SMTP_STATE_GREETING;
}

void smtp_session_free(struct smtp_session *s)
{
	struct smtp_ctx *ctx = s->ctx;
	if (s->commit)
		spool_commit_detach(s->commit); /* the message is still queued; nobody to tell */
	smtp_tx_free(s->tx);
	if (s->greet)
		event_free(s->greet);
	if (s->prev)
		s->prev->next = s->next;
	else
		ctx->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ctx->n_sessions--;
	ctx->metrics->sessions_active--;
	log_msg(LOG_INFO, "smtp: disconnect", "session=%llu client=%s", (unsigned long long)s->id,
		s->ip);
	bufferevent_free(s->bev);
	free(s);
}

/* Drop input up to and including the next LF of a line that was too long. */
static int discard_long_line(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
	if (lf.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)lf.pos + 1);
	s->discarding = 0;
	return smtp_error(s, "500 5.5.6 Line too long (limit %u)",
			  s->ctx->conf->limits.line_length);
}

static const char *line_error_reply(enum smtp_line_status st)
{
	switch (st) {
	case SMTP_LINE_BARE_LF:
		return "500 5.5.2 Bare <LF> in command line (use <CR><LF>)";
	case SMTP_LINE_BARE_CR:
		return "500 5.5.2 Bare <CR> in command line";
	default:
		return "500 5.5.2 NUL byte in command line";
	}
}

/* Handle one command line from the input, if a complete one is there. Returns 1 if the caller
 * should look for more input, 0 to stop. */
static int command_input(struct smtp_session *s, struct evbuffer *in)
{
	size_t max = s->ctx->conf->limits.line_length;
	size_t avail = evbuffer_get_length(in), n = avail < max ? avail : max, linelen, used;
	if (s->discarding)
		return discard_long_line(s, in) == 0 && evbuffer_get_length(in) > 0;
	const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
	if (!p)
		return 0;
	enum smtp_line_status st = smtp_line_split(p, n, max, &linelen, &used);
	if (st == SMTP_LINE_MORE)
		return 0;
	if (st == SMTP_LINE_TOO_LONG) {
		s->discarding = 1;
		return 1;
	}
	/* bare-newline normalise: an old client's "NOOP\n" is a line; a CR or NUL inside still
	 * is not (smuggling needs DATA, which never takes a bare LF as a line end) */
	if (st == SMTP_LINE_BARE_LF && s->ctx->conf->bare_newline == CONF_BARE_NORMALISE &&
	    !memchr(p, '\r', linelen) && !memchr(p, '\0', linelen))
		st = SMTP_LINE_OK;
	if (st != SMTP_LINE_OK) {
		evbuffer_drain(in, used);
		return smtp_error(s, "%s", line_error_reply(st)) == 0;
	}
	smtp_command(s, p, linelen);
	evbuffer_drain(in, used);
	return 1;
}

/* Process whatever input is buffered, as far as the state allows. Pipelined commands
 * (RFC 2920) are answered in order; replies pile up in the output buffer, and a client that
 * does not read them is not read either. */
static void session_process(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	for (;;) {
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_OUT_MAX) {
			bufferevent_disable(s->bev, EV_READ);
			bufferevent_setwatermark(s->bev, EV_WRITE, SMTP_OUT_MAX / 2, 0);
			return;
		}
		if (evbuffer_get_length(in) == 0)
			return;
		if (s->state == SMTP_STATE_GREETING) {
			pregreet(s);
			return;
		}
		if (s->state == SMTP_STATE_DATA)
			smtp_data_input(s);
		else if (s->state != SMTP_STATE_COMMAND || !command_input(s, in))
			return;
	}
}

static void session_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_process(arg);
}

/* The output buffer drained to its low-water mark. */
static void session_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	if (s->state == SMTP_STATE_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			smtp_session_free(s);
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (s->state != SMTP_STATE_COMMIT) {
		bufferevent_enable(bev, EV_READ);
		session_process(s);
	}
}

/* Resume reading after the spool answered (the commit of a message finished). */
void smtp_session_resume(struct smtp_session *s)
{
	bufferevent_enable(s->bev, EV_READ);
	session_process(s);
}

static void session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT && s->state != SMTP_STATE_CLOSING &&
	    s->state != SMTP_STATE_COMMIT) {
		log_msg(LOG_INFO, "smtp: timeout", "session=%llu client=%s state=%d",
			(unsigned long long)s->id, s->ip, (int)s->state);
		smtp_close(s, "421 4.4.2 %s Timeout, closing connection", s->ctx->conf->hostname);
		return;
	}
	/* a commit is still running: its completion answers the client; otherwise (EOF, error,
	 * or a client that never reads its final reply) the session ends now */
	if (what & BEV_EVENT_TIMEOUT && s->state == SMTP_STATE_COMMIT)
		return;
	smtp_session_free(s);
}

void smtp_session_set_data_timeout(struct smtp_session *s, int data)
{
	const struct conf_limits *l = &s->ctx->conf->limits;
	session_set_timeout(s, data ? l->data_timeout : l->command_timeout);
}
