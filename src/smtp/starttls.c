/* starttls.c — TLS for a session: STARTTLS (RFC 3207) and implicit-TLS listeners (RFC 8314).
 * The TLS bufferevent sits directly on the socket (bufferevent_openssl_socket_new), not on a
 * plaintext bufferevent: there is one output buffer, so the reply limit (SMTP_OUT_MAX) bounds
 * what is held for a client that does not read, and "output empty" means "handed to the
 * kernel", so a final reply (221, 421) is not lost when the session is freed. */
#include "session_int.h"

#include "../util/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <string.h>
#include <unistd.h>

int smtp_tls_offered(const struct smtp_session *s)
{
	return s->tls_ctx && !s->tls;
}

/* Put a TLS bufferevent (server side, handshake pending) on fd as s->bev. On failure fd is
 * closed and s->bev is unchanged. */
static int tls_wrap(struct smtp_session *s, int fd)
{
	SSL *ssl = SSL_new(s->tls_ctx);
	struct bufferevent *bev =
	    ssl ? bufferevent_openssl_socket_new(s->ctx->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						 BEV_OPT_CLOSE_ON_FREE)
		: NULL;
	if (!bev) {
		if (!ssl) /* else libevent freed it with the failed bufferevent */
			ERR_clear_error();
		close(fd);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	s->tls = ssl;
	s->bev = bev;
	return 0;
}

int smtp_tls_wrap_new(struct smtp_session *s, int fd)
{
	if (!s->tls_ctx) {
		close(fd);
		return -1;
	}
	return tls_wrap(s, fd);
}

void smtp_tls_switch(struct smtp_session *s)
{
	struct bufferevent *old = s->bev;
	struct evbuffer *in = bufferevent_get_input(old);
	size_t junk = evbuffer_get_length(in);
	/* CVE-2011-0411: whatever came in plaintext after STARTTLS was sent before the client
	 * could know TLS would start; executing it inside TLS would let a man in the middle
	 * inject commands into the protected session */
	if (junk > 0)
		log_msg(LOG_WARN, "smtp: plaintext pipelined after STARTTLS discarded",
			"session=%llu client=%s bytes=%zu", (unsigned long long)s->id, s->ip, junk);
	evbuffer_drain(in, junk);
	int fd = fcntl(bufferevent_getfd(old), F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || tls_wrap(s, fd) < 0) {
		log_msg(LOG_ERR, "smtp: cannot start TLS", "session=%llu client=%s",
			(unsigned long long)s->id, s->ip);
		smtp_session_free(s);
		return;
	}
	bufferevent_free(old); /* closes the old descriptor; the socket lives on in fd */
	s->state = SMTP_STATE_COMMAND;
	smtp_session_attach(s);
}

static void tls_failed(struct smtp_session *s, short what)
{
	char reason[256];
	unsigned long e = bufferevent_get_openssl_error(s->bev);
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		util_strlcpy(reason,
			     what & BEV_EVENT_TIMEOUT ? "timeout"
			     : what & BEV_EVENT_EOF   ? "connection closed during the handshake"
						      : "connection error during the handshake",
			     sizeof(reason));
	while (bufferevent_get_openssl_error(s->bev))
		;
	char q[300];
	log_msg(LOG_WARN, "smtp: TLS handshake failed", "session=%llu client=%s reason=%s",
		(unsigned long long)s->id, s->ip, log_quote(reason, strlen(reason), q, sizeof(q)));
	s->ctx->metrics->tls_handshakes_failed++;
}

int smtp_tls_event(struct smtp_session *s, short what)
{
	if (!s->tls || s->tls_info[0])
		return 0; /* plaintext, or established: the usual handling */
	if (what & BEV_EVENT_CONNECTED) {
		tls_describe(s->tls, s->tls_info, sizeof(s->tls_info));
		log_msg(LOG_INFO, "smtp: TLS established", "session=%llu client=%s tls=\"%s\"",
			(unsigned long long)s->id, s->ip, s->tls_info);
		s->ctx->metrics->tls_handshakes++;
		return 1;
	}
	tls_failed(s, what);
	smtp_session_free(s);
	return 1;
}

void smtp_tls_close(struct smtp_session *s)
{
	if (!s->tls || !s->tls_info[0])
		return;
	/* the SSL writes to the socket itself: one non-blocking try, its result does not matter */
	SSL_shutdown(s->tls);
	ERR_clear_error();
}

void smtp_tls_send_now(struct smtp_session *s, struct evbuffer *out)
{
	struct evbuffer_iovec v[8];
	if (!s->tls || !s->tls_info[0])
		return;
	int n = evbuffer_peek(out, -1, NULL, v, 8);
	for (int i = 0; i < n && i < 8; i++)
		if (SSL_write(s->tls, v[i].iov_base, (int)v[i].iov_len) <= 0)
			break;
	ERR_clear_error();
}
