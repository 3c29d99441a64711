/* tls.h — OpenSSL glue for the server side: the SSL_CTX built from a certificate chain and its
 * key (TLS 1.2 minimum, ECDHE + AEAD only for TLS 1.2, TLS 1.3 defaults), what a session
 * reports about its TLS (version, cipher) and channel bindings for SCRAM-PLUS. */
#ifndef RG_TLS_H
#define RG_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* The TLS 1.2 cipher list: forward secrecy (ECDHE) and AEAD only, strongest first. TLS 1.3
 * suites keep OpenSSL's defaults (all AEAD with forward secrecy). */
#define TLS_CIPHERS_12                                                                             \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"

/* A server context from cert_file (PEM: the certificate, then its chain) and key_file (PEM
 * private key, which must match the certificate). TLS 1.2 minimum, no compression, no
 * renegotiation, the server's cipher order. Returns the context (caller frees with
 * SSL_CTX_free; sessions take their own reference with SSL_CTX_up_ref), or NULL with err set
 * to "tls-certificate FILE: REASON" / "tls-key FILE: REASON" (OpenSSL's reason, or errno's).
 * Safe on any thread. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t errlen);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" of an established connection, into buf ("" if none). */
void tls_describe(const SSL *ssl, char *buf, size_t len);

/* The comment of a Received: header's "with" clause: "TLSv1.3:TLS_AES_256_GCM_SHA384:256"
 * (version, cipher, secret bits), into buf ("" if none). */
void tls_received_comment(const SSL *ssl, char *buf, size_t len);

/* Channel binding data of an established connection, for SCRAM-*-PLUS. type "tls-exporter"
 * (RFC 9266: 32 bytes exported with label "EXPORTER-Channel-Binding", no context; TLS 1.3, or
 * TLS 1.2 with the extended master secret of RFC 7627) or "tls-unique" (RFC 5929: the first
 * Finished message of the latest handshake; TLS 1.2 with the extended master secret only, as
 * RFC 7627 requires against the triple handshake). Works on either side of a connection.
 * Returns 0 with *len bytes in out, or -1 when the type is unknown or not available for this
 * connection, or out (outlen) is too small. */
int tls_channel_binding(SSL *ssl, const char *type, unsigned char *out, size_t outlen, size_t *len);

/* The first OpenSSL error queued on this thread as text ("key values mismatch"), or fallback;
 * clears the thread's error queue. */
const char *tls_error_reason(char *buf, size_t len, const char *fallback);

#endif
