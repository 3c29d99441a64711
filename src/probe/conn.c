/* conn.c — the probe's connection to the server under test: blocking sockets (a command-line
 * tool, one server at a time), every wait bounded by --timeout, plain SMTP, STARTTLS (RFC
 * 3207) or implicit TLS with OpenSSL directly over the fd. No certificate is verified: the
 * probe tests relaying, it decides no trust. Replies are parsed by deliver_reply_parse. */
#include "probe_int.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_HELO "probe.relayguard.invalid"

long long probe_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append one "C: line" / "S: line" to the capture buffer, cutting at its end. */
static void conn_capture_line(struct probe_details *d, const char *tag, const char *s, size_t n)
{
	if (d->truncated)
		return;
	size_t room = sizeof(d->transcript) - d->transcript_len;
	int w = snprintf(d->transcript + d->transcript_len, room, "%s %.*s\n", tag, (int)n, s);
	if (w < 0 || (size_t)w >= room) {
		static const char cut[] = "\n[transcript cut]\n";
		size_t at = sizeof(d->transcript) - sizeof(cut);
		memcpy(d->transcript + at, cut, sizeof(cut));
		d->transcript_len = at + sizeof(cut) - 1;
		d->truncated = 1;
		return;
	}
	d->transcript_len += (size_t)w;
}

/* A multi-line reply becomes one tagged line each. */
static void conn_capture(struct probe_details *d, const char *dir, const char *s, size_t n)
{
	const char *tag = !strcmp(dir, "->") ? "C:" : !strcmp(dir, "<-") ? "S:" : "--";
	while (n > 0) {
		const char *nl = memchr(s, '\n', n);
		size_t len = nl ? (size_t)(nl - s) : n;
		conn_capture_line(d, tag, s, len && s[len - 1] == '\r' ? len - 1 : len);
		if (!nl)
			break;
		n -= len + 1;
		s = nl + 1;
	}
}

void probe_conn_transcript(const struct probe_conn *c, const char *dir, const char *s, size_t n)
{
	if (c->o->verbose)
		fprintf(stderr, "%s %.*s\n", dir, (int)n, s);
	if (c->capture)
		conn_capture(c->capture, dir, s, n);
}

int probe_conn_send(struct probe_conn *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, s, n > 65536 ? 65536 : (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = send(c->fd, s, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t conn_read(struct probe_conn *c)
{
	size_t room = sizeof(c->buf) - c->len;
	if (c->ssl) {
		int r = SSL_read(c->ssl, c->buf + c->len, (int)room);
		return r > 0 ? r : -1;
	}
	ssize_t r;
	do
		r = recv(c->fd, c->buf + c->len, room, 0);
	while (r < 0 && errno == EINTR);
	return r > 0 ? r : -1;
}

/* Take one complete reply off the buffer: its code, 0 if incomplete, -1 if malformed. */
static int conn_take_reply(struct probe_conn *c)
{
	struct deliver_reply rep;
	long n = deliver_reply_parse(c->buf, c->len, &rep);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	struct deliver_ehlo e;
	deliver_ehlo_parse(c->buf, (size_t)n, &e);
	c->ext = e.ext;
	size_t first = strcspn(c->buf, "\r\n");
	snprintf(c->last, sizeof(c->last), "%.*s", (int)first, c->buf);
	probe_conn_transcript(c, "<-", c->buf, (size_t)n - (c->buf[n - 2] == '\r' ? 2 : 1));
	memmove(c->buf, c->buf + n, c->len - (size_t)n);
	c->len -= (size_t)n;
	return rep.code;
}

int probe_conn_reply(struct probe_conn *c)
{
	long long deadline = probe_now_ms() + (long long)c->o->timeout * 1000;
	for (;;) {
		int code = conn_take_reply(c);
		if (code != 0)
			return code;
		if (c->len == sizeof(c->buf))
			return snprintf(c->err, sizeof(c->err), "reply too long"), -1;
		if (!c->ssl || SSL_pending(c->ssl) == 0) {
			long long left = deadline - probe_now_ms();
			if (left <= 0 || probe_catcher_wait(c->catcher, c->fd, (int)left) <= 0)
				return snprintf(c->err, sizeof(c->err), "timed out"), -1;
		}
		ssize_t r = conn_read(c);
		if (r < 0)
			return snprintf(c->err, sizeof(c->err), "connection closed"), -1;
		c->len += (size_t)r;
	}
}

int probe_conn_cmd(struct probe_conn *c, const char *line)
{
	char out[1024];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(out))
		return -1;
	probe_conn_transcript(c, "->", line, strlen(line));
	return probe_conn_send(c, out, (size_t)n) < 0 ? -1 : probe_conn_reply(c);
}

static int bind_source(int fd, const char *source, int family)
{
	struct addrinfo hints = {0}, *ai;
	hints.ai_family = family;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(source, "0", &hints, &ai) != 0)
		return -1;
	int rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return rc;
}

/* TCP connect to the first address that answers; lit gets its literal body. */
static int conn_connect(struct probe_conn *c, char *lit, size_t litlen)
{
	struct addrinfo hints = {0}, *ai, *a;
	struct timeval tv = {(time_t)c->o->timeout, 0};
	hints.ai_socktype = SOCK_STREAM;
	c->len = 0;
	c->fd = -1;
	c->tls[0] = '\0';
	if (getaddrinfo(c->o->host, c->o->port, &hints, &ai) != 0)
		return snprintf(c->err, sizeof(c->err), "cannot resolve %s", c->o->host), -1;
	for (a = ai; a && c->fd < 0; a = a->ai_next) {
		c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		/* bounds the TLS handshake and the connect; replies wait in probe_conn_reply */
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (c->o->before_connect)
			c->o->before_connect(c->o->connect_arg);
		if ((c->o->source && bind_source(c->fd, c->o->source, a->ai_family) < 0) ||
		    connect(c->fd, a->ai_addr, a->ai_addrlen) < 0) {
			snprintf(c->err, sizeof(c->err), "connect: %s", strerror(errno));
			close(c->fd);
			c->fd = -1;
			continue;
		}
		char ip[64];
		struct sockaddr_storage me;
		socklen_t melen = sizeof(me);
		if (getsockname(c->fd, (struct sockaddr *)&me, &melen) == 0)
			util_sockaddr_ip((struct sockaddr *)&me, c->local, sizeof(c->local));
		util_sockaddr_ip(a->ai_addr, ip, sizeof(ip));
		snprintf(lit, litlen, "%s%s", a->ai_family == AF_INET6 ? "IPv6:" : "", ip);
	}
	freeaddrinfo(ai);
	return c->fd < 0 ? -1 : 0;
}

/* SNI carries host names only (RFC 6066 3), never an address literal. */
static int is_host_name(const char *h)
{
	unsigned char a[16];
	return h[0] && inet_pton(AF_INET, h, a) != 1 && inet_pton(AF_INET6, h, a) != 1;
}

static int conn_tls(struct probe_conn *c)
{
	if (!c->ctx && !(c->ctx = deliver_tls_client_ctx(c->err, sizeof(c->err))))
		return -1;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl ||
	    (is_host_name(c->o->host) && !SSL_set_tlsext_host_name(c->ssl, c->o->host)) ||
	    !SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		snprintf(c->err, sizeof(c->err), "TLS handshake failed: %s",
			 e ? ERR_reason_error_string(e) : "connection closed or timed out");
		ERR_clear_error();
		return -1;
	}
	snprintf(c->tls, sizeof(c->tls), "%s %s", SSL_get_version(c->ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
	probe_conn_transcript(c, "==", c->tls, strlen(c->tls));
	return 0;
}

static int conn_starttls(struct probe_conn *c)
{
	if (!(c->ext & DELIVER_EXT_STARTTLS)) {
		snprintf(c->err, sizeof(c->err), "STARTTLS not offered");
		return c->o->tls == PROBE_TLS_STARTTLS ? PROBE_CONN_NO_STARTTLS : PROBE_CONN_OK;
	}
	if (probe_conn_cmd(c, "STARTTLS") != 220)
		return snprintf(c->err, sizeof(c->err), "STARTTLS refused: %.100s", c->last), -1;
	if (c->len != 0) /* bytes sent before the handshake would be read as if protected */
		return snprintf(c->err, sizeof(c->err), "data after the 220 to STARTTLS"), -1;
	if (conn_tls(c) < 0)
		return -1;
	return probe_conn_cmd(c, "EHLO " PROBE_HELO) == 250 ? 0 : -1;
}

int probe_conn_open(struct probe_conn *c, char *name, size_t namelen, char *lit, size_t litlen)
{
	c->err[0] = c->last[0] = '\0';
	if (conn_connect(c, lit, litlen) < 0)
		return PROBE_CONN_FAIL;
	if (c->o->tls == PROBE_TLS_IMPLICIT && conn_tls(c) < 0)
		return PROBE_CONN_FAIL;
	if (probe_conn_reply(c) != 220)
		return PROBE_CONN_FAIL;
	if (probe_reply_name(c->last, strlen(c->last), name, namelen) < 0)
		snprintf(name, namelen, "%s", c->o->host);
	int code = probe_conn_cmd(c, "EHLO " PROBE_HELO);
	if (code != 250 && code > 0) {
		c->ext = 0;
		code = probe_conn_cmd(c, "HELO " PROBE_HELO);
	}
	if (code != 250)
		return PROBE_CONN_FAIL;
	if (c->o->tls == PROBE_TLS_STARTTLS || c->o->tls == PROBE_TLS_STARTTLS_AUTO)
		return conn_starttls(c);
	return PROBE_CONN_OK;
}

void probe_conn_close(struct probe_conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl); /* no close_notify: the session is abandoned or QUIT was said */
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void probe_conn_free(struct probe_conn *c)
{
	probe_conn_close(c);
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}
