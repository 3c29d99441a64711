/* session.c — one SMTP connection: reading lines with bounded buffers, replies, timeouts, the
 * error limit and closing. Commands are in commands.c, the DATA phase in transfer.c. */
#include "session_int.h"

#include "../util/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
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
	if (++s->errors < s->conf->limits.max_errors)
		return 0;
	log_msg(LOG_WARN, "smtp: too many errors", "session=%llu client=%s errors=%u",
		(unsigned long long)s->id, s->ip, s->errors);
	smtp_close(s, "421 4.7.0 %s Too many errors, closing connection", s->conf->hostname);
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
	smtp_reply(s, "220 %s ESMTP relayguard", s->conf->hostname);
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
		   s->conf->hostname);
}

void smtp_session_attach(struct smtp_session *s)
{
	const struct conf_limits *l = &s->conf->limits;
	bufferevent_setcb(s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	/* libevent stops reading once this much input waits: input memory is bounded. */
	bufferevent_setwatermark(s->bev, EV_READ, 0, l->line_length + SMTP_DATA_CHUNK);
	session_set_timeout(s, l->command_timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* A session on fd: plaintext, or TLS from the first byte on an implicit-TLS listener. */
static struct smtp_session *session_new(struct smtp_ctx *ctx, int fd,
					const struct conf_listen *listener)
{
	struct smtp_session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return NULL;
	}
	s->ctx = ctx;
	s->listener = *listener;
	s->tls_ctx = ctx->tls_ctx && SSL_CTX_up_ref(ctx->tls_ctx) ? ctx->tls_ctx : NULL;
	if (listener->tls_implicit
		? smtp_tls_wrap_new(s, fd) < 0
		: !(s->bev = bufferevent_socket_new(ctx->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		if (!listener->tls_implicit)
			close(fd);
		SSL_CTX_free(s->tls_ctx);
		free(s);
		return NULL;
	}
	return s;
}

int smtp_dnsbl_exempt(const struct smtp_session *s)
{
	return s->login[0] ||
	       cidr_set_contains(s->conf->trusted, s->conf->n_trusted, s->client.addr);
}

/* The last DNS list lookup finished: a RCPT waiting for it goes on. */
static void dnsbl_done(void *arg)
{
	struct smtp_session *s = arg;
	if (s->state != SMTP_STATE_DNSBL_WAIT)
		return;
	s->state = SMTP_STATE_COMMAND;
	smtp_session_resume(s);
}

/* limit max-sessions, then limit max-sessions-per-ip, also named ratelimit ip-sessions (trusted
 * networks and auth-allowlist exempt: a relay in front of us, or our own submission clients, may
 * open many). -1 when the session was refused. */
static int session_over_limits(struct smtp_session *s)
{
	struct smtp_ctx *ctx = s->ctx;
	const struct conf *c = s->conf;
	unsigned per_ip = c->limits.max_sessions_per_ip, n = 0;
	if (ctx->n_sessions > c->limits.max_sessions) {
		log_msg(LOG_WARN, "smtp: too many sessions", "session=%llu client=%s limit=%u",
			(unsigned long long)s->id, s->ip, c->limits.max_sessions);
		ctx->metrics->sessions_rejected[METRICS_REFUSED_MAX_SESSIONS]++;
		smtp_close(s, "421 4.7.0 %s Too many connections, try again later", c->hostname);
		return -1;
	}
	size_t queued = spool_count(ctx->spool);
	if (c->limits.queue_refuse && queued >= c->limits.queue_refuse) {
		log_msg(LOG_WARN, "smtp: queue full, session refused",
			"session=%llu client=%s queued=%zu limit=%u", (unsigned long long)s->id,
			s->ip, queued, c->limits.queue_refuse);
		ctx->metrics->sessions_rejected[METRICS_REFUSED_QUEUE]++;
		smtp_close(s, "421 4.3.2 %s Too much mail queued, try again later", c->hostname);
		return -1;
	}
	if (per_ip == 0 || cidr_set_contains(c->trusted, c->n_trusted, s->client.addr) ||
	    cidr_set_contains(c->auth_allowlist, c->n_auth_allowlist, s->client.addr))
		return 0;
	if (!ctx->peers)
		ctx->peers = smtp_peers_new();
	if (ctx->peers && (n = smtp_peers_add(ctx->peers, s->client.addr)) > 0)
		s->peer_counted = 1;
	if (n <= per_ip)
		return 0; /* out of memory (n = 0) counts nothing and refuses nobody */
	log_msg(LOG_WARN, "smtp: too many sessions from one client",
		"session=%llu client=%s sessions=%u limit=%u", (unsigned long long)s->id, s->ip, n,
		per_ip);
	ctx->metrics->sessions_rejected[METRICS_REFUSED_PER_IP]++;
	smtp_close(s, "421 4.7.0 %s Too many connections from your address, try again later",
		   c->hostname);
	return -1;
}

/* Resident memory of this process in KiB (/proc/self/statm), 0 if unknown. */
static unsigned long rss_kib(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	int n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? resident * (unsigned long)(sysconf(_SC_PAGESIZE) / 1024) : 0;
}

/* A second after a peak of sessions has passed: glibc keeps what they freed for reuse; give it
 * back to the kernel (the heap's top and its free pages). */
static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_ctx *ctx = arg;
	(void)fd, (void)what;
	if (!smtp_trim_due(ctx->peak_sessions, ctx->n_sessions))
		return; /* the load came back meanwhile */
	unsigned long before = rss_kib();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	malloc_trim(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
	log_msg(LOG_INFO, "smtp: memory returned to the system",
		"sessions=%u peak=%u rss_before_kib=%lu rss_after_kib=%lu took_us=%ld",
		ctx->n_sessions, ctx->peak_sessions, before, rss_kib(), us);
	ctx->peak_sessions = ctx->n_sessions;
}

static void trim_schedule(struct smtp_ctx *ctx)
{
	struct timeval second = {1, 0};
	if (ctx->draining || !smtp_trim_due(ctx->peak_sessions, ctx->n_sessions))
		return;
	if (!ctx->trim_ev && !(ctx->trim_ev = evtimer_new(ctx->base, trim_cb, ctx)))
		return; /* out of memory: the memory stays with malloc, as without the timer */
	if (!evtimer_pending(ctx->trim_ev, NULL))
		evtimer_add(ctx->trim_ev, &second);
}

void smtp_session_start(struct smtp_ctx *ctx, int fd, const struct sockaddr *peer,
			const struct sockaddr *local, const struct conf_listen *listener)
{
	struct conf *c = ctx->conf;
	struct smtp_session *s = session_new(ctx, fd, listener);
	if (!s) {
		log_msg(LOG_ERR, "smtp: cannot set up a session", "listen=%s", listener->text);
		return;
	}
	s->ctx = ctx;
	s->conf = conf_ref(c);
	s->id = ++ctx->next_session_id;
	util_sockaddr_ip(peer, s->ip, sizeof(s->ip));
	cidr_addr_from_sockaddr(peer, s->client.addr);
	cidr_addr_from_sockaddr(local, s->client.local_addr);
	s->next = ctx->sessions;
	if (ctx->sessions)
		ctx->sessions->prev = s;
	ctx->sessions = s;
	if (++ctx->n_sessions > ctx->peak_sessions)
		ctx->peak_sessions = ctx->n_sessions;
	ctx->metrics->sessions_total++;
	ctx->metrics->sessions_active++;
	smtp_session_attach(s);
	log_msg(LOG_INFO, "smtp: connect", "session=%llu client=%s listen=%s tls=%s",
		(unsigned long long)s->id, s->ip, listener->text,
		listener->tls_implicit ? "implicit" : "no");
	if (session_over_limits(s) < 0)
		return;
	if (!smtp_dnsbl_exempt(s))
		s->dnsbl =
		    dnsbl_check_start(ctx->dnsbl, c, s->client.addr, s->ip, s->id, dnsbl_done, s);
	if (smtp_ratelimit_connect(s) != 0)
		return; /* refused, or the greeting comes once the store answered */
	smtp_session_greet(s);
}

void smtp_session_greet(struct smtp_session *s)
{
	struct smtp_ctx *ctx = s->ctx;
	const struct conf *c = s->conf;
	/* back-pressure: the queue is long, intake slows down before it is refused */
	uint64_t ms = smtp_pressure_delay_ms(&c->limits, spool_count(ctx->spool));
	ctx->metrics->backpressure_delay_ms = ms;
	if (ms > 0)
		log_msg(LOG_INFO, "smtp: banner delayed by back-pressure",
			"session=%llu client=%s queued=%zu delay_ms=%llu",
			(unsigned long long)s->id, s->ip, spool_count(ctx->spool),
			(unsigned long long)ms);
	if (ms < (uint64_t)c->limits.greeting_delay * 1000)
		ms = (uint64_t)c->limits.greeting_delay * 1000;
	if (ms == 0) {
		s->state = SMTP_STATE_COMMAND;
		smtp_reply(s, "220 %s ESMTP relayguard", c->hostname);
		return;
	}
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
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
	smtp_auth_detach(s);
	smtp_greylist_detach(s);
	smtp_ratelimit_detach(s);
	dnsbl_check_free(s->dnsbl);
	free(s->dnsbl_v);
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
	if (s->peer_counted)
		smtp_peers_remove(ctx->peers, s->client.addr);
	log_msg(LOG_INFO, "smtp: disconnect", "session=%llu client=%s tls=\"%s\"",
		(unsigned long long)s->id, s->ip, s->tls_info);
	smtp_tls_close(s);
	bufferevent_free(s->bev);
	SSL_CTX_free(s->tls_ctx);
	conf_unref(s->conf);
	free(s);
	trim_schedule(ctx);
	if (ctx->draining && ctx->n_sessions == 0 && ctx->on_drained)
		ctx->on_drained(ctx->drained_arg);
}

void smtp_session_drain(struct smtp_session *s)
{
	int idle =
	    s->state == SMTP_STATE_GREETING ||
	    ((s->state == SMTP_STATE_COMMAND || s->state == SMTP_STATE_LIMIT_WAIT) && !s->tx);
	if (!idle)
		return; /* in DATA, waiting for the spool, or with MAIL given: let it finish */
	if (s->greet) {
		event_free(s->greet);
		s->greet = NULL;
	}
	smtp_close(s, "421 4.3.2 %s Service shutting down", s->conf->hostname);
}

void smtp_session_cut(struct smtp_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	struct evbuffer_iovec v[8];
	struct iovec iov[8];
	if (s->state != SMTP_STATE_CLOSING) {
		log_msg(LOG_INFO, "smtp: cut at shutdown", "session=%llu client=%s state=%d",
			(unsigned long long)s->id, s->ip, (int)s->state);
		smtp_reply(s, "421 4.3.2 %s Service shutting down", s->conf->hostname);
	}
	/* one non-blocking send of what waits (the 421 last), never a wait: the loop that
	 * writes for the bufferevent has stopped (and its output may only be read, not drained) */
	if (s->tls) {
		smtp_tls_send_now(s, out);
		smtp_session_free(s);
		return;
	}
	int n = evbuffer_peek(out, -1, NULL, v, 8);
	n = n < 8 ? n : 8;
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){v[i].iov_base, v[i].iov_len};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)(n > 0 ? n : 0)};
	if (n > 0 && sendmsg(bufferevent_getfd(s->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the client is gone or does not read: it is cut all the same */
	}
	smtp_session_free(s);
}

/* A command line has been arriving for limit command-timeout without ending (slowloris): 1 when
 * the session was closed for it. */
static int line_too_slow(struct smtp_session *s)
{
	struct timeval now;
	event_base_gettimeofday_cached(s->ctx->base, &now);
	if (!s->line_since) {
		s->line_since = now.tv_sec;
		return 0;
	}
	if (now.tv_sec - s->line_since < (time_t)s->conf->limits.command_timeout)
		return 0;
	log_msg(LOG_INFO, "smtp: timeout", "session=%llu client=%s state=%d slow_line=yes",
		(unsigned long long)s->id, s->ip, (int)s->state);
	smtp_close(s, "421 4.4.2 %s Timeout, closing connection", s->conf->hostname);
	return 1;
}

/* Drop input up to and including the next LF of a line that was too long. */
static int discard_long_line(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
	if (lf.pos < 0) {
		s->discarded += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (s->discarded <= SMTP_DISCARD_MAX)
			return line_too_slow(s) ? -1 : 0;
		log_msg(LOG_WARN, "smtp: endless command line", "session=%llu client=%s bytes=%zu",
			(unsigned long long)s->id, s->ip, s->discarded);
		smtp_close(s, "500 5.5.6 Line too long (limit %u), closing connection",
			   s->conf->limits.line_length);
		return -1;
	}
	evbuffer_drain(in, (size_t)lf.pos + 1);
	s->discarding = 0;
	s->line_since = 0;
	s->discarded = 0;
	return smtp_error(s, "500 5.5.6 Line too long (limit %u)", s->conf->limits.line_length);
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

/* An AUTH command, or a response inside an AUTH exchange, may be up to SMTP_AUTH_LINE_MAX. */
static int line_may_be_long(const struct smtp_session *s, const char *p, size_t len)
{
	return s->state == SMTP_STATE_AUTH || (len >= 5 && strncasecmp(p, "AUTH ", 5) == 0);
}

/* Handle one command line from the input, if a complete one is there. Returns 1 if the caller
 * should look for more input, 0 to stop. */
static int command_input(struct smtp_session *s, struct evbuffer *in)
{
	unsigned limit = s->conf->limits.line_length;
	size_t max = limit > SMTP_AUTH_LINE_MAX ? limit : SMTP_AUTH_LINE_MAX;
	size_t avail = evbuffer_get_length(in), n = avail < max ? avail : max, linelen, used;
	if (s->discarding)
		return discard_long_line(s, in) == 0 && evbuffer_get_length(in) > 0;
	const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
	if (!p)
		return 0;
	enum smtp_line_status st = smtp_line_split(p, n, max, &linelen, &used);
	if (st == SMTP_LINE_MORE) {
		line_too_slow(s);
		return 0;
	}
	s->line_since = 0;
	if (st == SMTP_LINE_TOO_LONG) {
		s->discarding = 1;
		return 1;
	}
	/* bare-newline normalise: an old client's "NOOP\n" is a line; a CR or NUL inside still
	 * is not (smuggling needs DATA, which never takes a bare LF as a line end) */
	if (st == SMTP_LINE_BARE_LF && s->conf->bare_newline == CONF_BARE_NORMALISE &&
	    !memchr(p, '\r', linelen) && !memchr(p, '\0', linelen))
		st = SMTP_LINE_OK;
	if (st != SMTP_LINE_OK) {
		evbuffer_drain(in, used);
		return smtp_error(s, "%s", line_error_reply(st)) == 0;
	}
	if (used > limit && !line_may_be_long(s, p, linelen)) {
		evbuffer_drain(in, used);
		return smtp_error(s, "500 5.5.6 Line too long (limit %u)", limit) == 0;
	}
	if (s->state == SMTP_STATE_AUTH)
		smtp_auth_response(s, p, linelen);
	else
		smtp_command(s, p, linelen);
	if (s->state == SMTP_STATE_DNSBL_WAIT)
		return 0; /* the line stays: handled again once the lookups are done */
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
		else if ((s->state != SMTP_STATE_COMMAND && s->state != SMTP_STATE_AUTH) ||
			 !command_input(s, in))
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
	if (s->state == SMTP_STATE_CLOSING || s->state == SMTP_STATE_STARTTLS) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
			return;
		if (s->state == SMTP_STATE_CLOSING)
			smtp_session_free(s);
		else
			smtp_tls_switch(s);
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (s->state != SMTP_STATE_COMMIT && s->state != SMTP_STATE_AUTH_WAIT &&
	    s->state != SMTP_STATE_RCPT_WAIT && s->state != SMTP_STATE_LIMIT_WAIT &&
	    s->state != SMTP_STATE_DNSBL_WAIT) {
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
	if (smtp_tls_event(s, what))
		return; /* the TLS handshake finished, or failed and the session is gone */
	int waiting = s->state == SMTP_STATE_COMMIT || s->state == SMTP_STATE_AUTH_WAIT ||
		      s->state == SMTP_STATE_RCPT_WAIT || s->state == SMTP_STATE_LIMIT_WAIT ||
		      s->state == SMTP_STATE_DNSBL_WAIT;
	if (what & BEV_EVENT_TIMEOUT && s->state != SMTP_STATE_CLOSING && !waiting) {
		log_msg(LOG_INFO, "smtp: timeout", "session=%llu client=%s state=%d",
			(unsigned long long)s->id, s->ip, (int)s->state);
		smtp_close(s, "421 4.4.2 %s Timeout, closing connection", s->conf->hostname);
		return;
	}
	/* a commit is still running: its completion answers the client; otherwise (EOF, error,
	 * or a client that never reads its final reply) the session ends now */
	if (what & BEV_EVENT_TIMEOUT && waiting)
		return;
	smtp_session_free(s);
}

void smtp_session_set_data_timeout(struct smtp_session *s, int data)
{
	const struct conf_limits *l = &s->conf->limits;
	session_set_timeout(s, data ? l->data_timeout : l->command_timeout);
}
