/* tls.c — the server's SSL_CTX and what a session asks of its TLS connection. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TLS_EXPORTER_LEN 32
#define TLS_EXPORTER_LABEL "EXPORTER-Channel-Binding"

const char *tls_error_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_error(); /* the first: the cause, not the caller giving up */
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	if (r)
		snprintf(buf, len, "%s", r);
	else if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
	ERR_clear_error();
	return buf;
}

/* OpenSSL's reason for a file it cannot open is vague; errno's is not. */
static int file_readable(const char *what, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int ctx_settings(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	       SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) == 1;
}

SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	char why[256];
	ERR_clear_error();
	if (file_readable("tls-certificate", cert_file, err, errlen) < 0 ||
	    file_readable("tls-key", key_file, err, errlen) < 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !ctx_settings(ctx)) {
		snprintf(err, errlen, "TLS server context: %s",
			 tls_error_reason(why, sizeof(why), "out of memory"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "tls-certificate %s: %s", cert_file,
			 tls_error_reason(why, sizeof(why), "cannot load the certificate"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls-key %s: %s", key_file,
			 tls_error_reason(why, sizeof(why), "does not match the certificate"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void tls_describe(const SSL *ssl, char *buf, size_t len)
{
	const SSL_CIPHER *c = ssl ? SSL_get_current_cipher(ssl) : NULL;
	if (!c) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%s %s", SSL_get_version(ssl), SSL_CIPHER_get_name(c));
}

void tls_received_comment(const SSL *ssl, char *buf, size_t len)
{
	const SSL_CIPHER *c = ssl ? SSL_get_current_cipher(ssl) : NULL;
	if (!c) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%s:%s:%d", SSL_get_version(ssl), SSL_CIPHER_get_name(c),
		 SSL_CIPHER_get_bits(c, NULL));
}

/* RFC 5929 3.1: the first Finished of the handshake. In a full handshake the client sends it;
 * in a resumed one (RFC 5246 7.3) the server does. */
static int tls_unique(SSL *ssl, unsigned char *out, size_t outlen, size_t *len)
{
	int mine_first = SSL_is_server(ssl) ? SSL_session_reused(ssl) : !SSL_session_reused(ssl);
	unsigned char fin[EVP_MAX_MD_SIZE];
	size_t n = mine_first ? SSL_get_finished(ssl, fin, sizeof(fin))
			      : SSL_get_peer_finished(ssl, fin, sizeof(fin));
	if (n == 0 || n > sizeof(fin) || n > outlen)
		return -1;
	memcpy(out, fin, n);
	*len = n;
	return 0;
}

int tls_channel_binding(SSL *ssl, const char *type, unsigned char *out, size_t outlen, size_t *len)
{
	if (!ssl || !type || !SSL_is_init_finished(ssl))
		return -1;
	int v = SSL_version(ssl);
	/* TLS 1.2 without the extended master secret: both bindings can be forwarded by a
	 * man in the middle (the triple handshake; RFC 7627, RFC 9266 3) */
	if (v < TLS1_3_VERSION && SSL_get_extms_support(ssl) != 1)
		return -1;
	if (strcmp(type, "tls-unique") == 0)
		return v < TLS1_3_VERSION ? tls_unique(ssl, out, outlen, len) : -1;
	if (strcmp(type, "tls-exporter") != 0 || outlen < TLS_EXPORTER_LEN)
		return -1;
	if (SSL_export_keying_material(ssl, out, TLS_EXPORTER_LEN, TLS_EXPORTER_LABEL,
				       strlen(TLS_EXPORTER_LABEL), NULL, 0, 0) != 1)
		return -1;
	*len = TLS_EXPORTER_LEN;
	return 0;
}
