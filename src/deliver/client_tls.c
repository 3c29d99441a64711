/* client_tls.c — opportunistic STARTTLS for the delivery client (RFC 3207): a libevent
 * OpenSSL filter over the plain connection, SNI from the target's name, no certificate
 * verification (like Postfix "may": encryption against passive eavesdropping only). */
#include "client_int.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdio.h>

SSL_CTX *deliver_tls_client_ctx(char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "TLS client context: %s",
			 ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	return ctx;
}

/* SNI carries host names only (RFC 6066 3), never an address literal. */
static int is_host_name(const char *h)
{
	unsigned char a[16];
	return h[0] && inet_pton(AF_INET, h, a) != 1 && inet_pton(AF_INET6, h, a) != 1;
}

int client_tls_start(struct deliver_session *s, char *err, size_t errlen)
{
	const char *host = s->targets[s->ti].host;
	SSL *ssl = SSL_new(s->cc->tls);
	if (!ssl || (is_host_name(host) && !SSL_set_tlsext_host_name(ssl, host))) {
		snprintf(err, errlen, "cannot set up a TLS session");
		SSL_free(ssl);
		return -1;
	}
	bufferevent_setwatermark(s->bev, EV_READ, 0, 0);
	/* the filter encrypts into the socket's buffer only up to its high write watermark: without
	 * one, the whole body would be encrypted into memory as fast as it can be read */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, DELIVER_BODY_CHUNK);
	struct bufferevent *f = bufferevent_openssl_filter_new(
	    s->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!f) {
		snprintf(err, errlen, "cannot set up a TLS filter");
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	s->bev = f;
	s->state = CS_TLS;
	client_set_callbacks(s);
	client_deadline(s, s->cc->command_timeout);
	return 0;
}

void client_tls_record(struct deliver_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	s->tls_on = 1;
	snprintf(s->res.tls, sizeof(s->res.tls), "%s %s", SSL_get_version(ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
}

void client_tls_error(struct deliver_session *s, char *err, size_t errlen)
{
	unsigned long e = bufferevent_get_openssl_error(s->bev);
	if (e)
		ERR_error_string_n(e, err, errlen);
	else
		snprintf(err, errlen, "connection closed during the handshake");
	while (bufferevent_get_openssl_error(s->bev))
		;
}
