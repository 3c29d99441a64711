/* test_tls.c — the server SSL_CTX (loading, errors, protocol floor) and channel bindings, with
 * a certificate made here and handshakes over an in-memory BIO pair (no sockets). */
#include "check.h"

#include "tls/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/rg-test-tls-XXXXXX";
static char cert_path[128], key_path[128], key2_path[128], junk_path[128], none_path[128];

static EVP_PKEY *make_key(void)
{
	return EVP_EC_gen("P-256");
}

static X509 *make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n = x ? X509_get_subject_name(x) : NULL;
	if (!n)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"mx.example.test",
				   -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static int write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	int ok =
	    f && (x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static int make_files(void)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/c.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/k.pem", dir);
	snprintf(key2_path, sizeof(key2_path), "%s/other.pem", dir);
	snprintf(junk_path, sizeof(junk_path), "%s/junk.pem", dir);
	snprintf(none_path, sizeof(none_path), "%s/missing.pem", dir);
	EVP_PKEY *k = make_key(), *k2 = make_key();
	X509 *x = k ? make_cert(k) : NULL;
	int rc = x && k2 && write_pem(cert_path, x, NULL) == 0 &&
			 write_pem(key_path, NULL, k) == 0 && write_pem(key2_path, NULL, k2) == 0
		     ? 0
		     : -1;
	FILE *f = fopen(junk_path, "w");
	if (!f || fputs("not a PEM file\n", f) < 0)
		rc = -1;
	if (f)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	return rc;
}

static void test_ctx_errors(void)
{
	const struct {
		const char **cert, **key;
		const char *want_prefix; /* the error names the setting and the file */
		const char *want_reason;
	} cases[] = {
	    {(const char *[]){cert_path}, (const char *[]){none_path}, "tls-key ",
	     "No such file or directory"},
	    {(const char *[]){none_path}, (const char *[]){key_path}, "tls-certificate ",
	     "No such file or directory"},
	    {(const char *[]){junk_path}, (const char *[]){key_path}, "tls-certificate ",
	     "no start line"},
	    {(const char *[]){cert_path}, (const char *[]){junk_path}, "tls-key ", ""},
	    /* a key that is not the certificate's */
	    {(const char *[]){cert_path}, (const char *[]){key2_path}, "tls-key ",
	     "key values mismatch"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "", want[256];
		SSL_CTX *ctx = tls_server_ctx_new(*cases[i].cert, *cases[i].key, err, sizeof(err));
		CHECK(ctx == NULL, "case %zu loads", i);
		SSL_CTX_free(ctx);
		const char *file =
		    !strcmp(cases[i].want_prefix, "tls-key ") ? *cases[i].key : *cases[i].cert;
		snprintf(want, sizeof(want), "%s%s: ", cases[i].want_prefix, file);
		CHECK(strncmp(err, want, strlen(want)) == 0, "case %zu: \"%s\" starts \"%s\"", i,
		      err, want);
		CHECK(strstr(err, cases[i].want_reason) != NULL, "case %zu: \"%s\" has \"%s\"", i,
		      err, cases[i].want_reason);
	}
}

/* Run the handshake of two SSLs joined by a BIO pair; 1 when both finished. Bounded. */
static int handshake(SSL *srv, SSL *cli)
{
	int done_s = 0, done_c = 0;
	for (int i = 0; i < 100 && !(done_s && done_c); i++) {
		if (!done_c) {
			int r = SSL_do_handshake(cli);
			if (r == 1)
				done_c = 1;
			else if (SSL_get_error(cli, r) != SSL_ERROR_WANT_READ)
				return 0;
		}
		if (!done_s) {
			int r = SSL_do_handshake(srv);
			if (r == 1)
				done_s = 1;
			else if (SSL_get_error(srv, r) != SSL_ERROR_WANT_READ)
				return 0;
		}
	}
	return done_s && done_c;
}

struct pair {
	SSL *srv, *cli;
};

static int pair_open(struct pair *p, SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume)
{
	BIO *bs, *bc;
	p->srv = SSL_new(sctx);
	p->cli = SSL_new(cctx);
	if (!p->srv || !p->cli || !BIO_new_bio_pair(&bs, 0, &bc, 0))
		return -1;
	SSL_set_bio(p->srv, bs, bs);
	SSL_set_bio(p->cli, bc, bc);
	SSL_set_accept_state(p->srv);
	SSL_set_connect_state(p->cli);
	if (resume)
		SSL_set_session(p->cli, resume);
	return handshake(p->srv, p->cli) ? 0 : -1;
}

/* A clean close: a session freed without one is not resumable (OpenSSL's rule). */
static void pair_close(struct pair *p)
{
	for (int i = 0; i < 4 && (SSL_shutdown(p->cli) != 1 || SSL_shutdown(p->srv) != 1); i++)
		;
	SSL_free(p->srv);
	SSL_free(p->cli);
}

/* Both ends compute the same binding; the result's length is as the RFC says. */
static void check_binding(struct pair *p, const char *type, size_t want_len, const char *what)
{
	unsigned char a[64], b[64];
	size_t la = 0, lb = 0;
	int ra = tls_channel_binding(p->srv, type, a, sizeof(a), &la);
	int rb = tls_channel_binding(p->cli, type, b, sizeof(b), &lb);
	CHECK(ra == 0 && rb == 0, "%s %s: %d %d", what, type, ra, rb);
	CHECK(la == want_len && lb == want_len && memcmp(a, b, la) == 0, "%s %s: %zu %zu", what,
	      type, la, lb);
	CHECK(tls_channel_binding(p->srv, type, a, want_len - 1, &la) == -1, "%s %s short buffer",
	      what, type);
}

static SSL_CTX *client_ctx(int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (c && max_version)
		SSL_CTX_set_max_proto_version(c, max_version);
	return c;
}

static void test_bindings(SSL_CTX *sctx)
{
	struct pair p;
	unsigned char buf[64];
	size_t len;
	/* TLS 1.3: tls-exporter (RFC 9266); tls-unique is not defined for it */
	SSL_CTX *c13 = client_ctx(0);
	CHECK(pair_open(&p, sctx, c13, NULL) == 0, "TLS 1.3 handshake");
	CHECK(SSL_version(p.srv) == TLS1_3_VERSION, "TLS 1.3 negotiated");
	check_binding(&p, "tls-exporter", 32, "TLS 1.3");
	CHECK(tls_channel_binding(p.srv, "tls-unique", buf, sizeof(buf), &len) == -1,
	      "no tls-unique in TLS 1.3");
	CHECK(tls_channel_binding(p.srv, "tls-server-end-point", buf, sizeof(buf), &len) == -1,
	      "unknown type");
	char info[128], rec[128];
	tls_describe(p.srv, info, sizeof(info));
	tls_received_comment(p.srv, rec, sizeof(rec));
	CHECK(!strncmp(info, "TLSv1.3 TLS_", 12), "describe: %s", info);
	CHECK(!strncmp(rec, "TLSv1.3:TLS_", 12) && (strstr(rec, ":256") || strstr(rec, ":128")),
	      "received: %s", rec);
	pair_close(&p);
	SSL_CTX_free(c13);

	/* TLS 1.2 (with the extended master secret): both bindings, full and resumed handshake */
	SSL_CTX *c12 = client_ctx(TLS1_2_VERSION);
	CHECK(pair_open(&p, sctx, c12, NULL) == 0, "TLS 1.2 handshake");
	CHECK(SSL_version(p.srv) == TLS1_2_VERSION && !SSL_session_reused(p.srv), "TLS 1.2 full");
	CHECK(!strncmp(SSL_get_cipher_name(p.srv), "ECDHE-", 6), "ECDHE cipher: %s",
	      SSL_get_cipher_name(p.srv));
	check_binding(&p, "tls-exporter", 32, "TLS 1.2 full");
	check_binding(&p, "tls-unique", 12, "TLS 1.2 full");
	SSL_SESSION *sess = SSL_get1_session(p.cli);
	pair_close(&p);
	CHECK(pair_open(&p, sctx, c12, sess) == 0, "TLS 1.2 resumed handshake");
	CHECK(SSL_session_reused(p.srv), "TLS 1.2 resumed");
	check_binding(&p, "tls-unique", 12, "TLS 1.2 resumed");
	check_binding(&p, "tls-exporter", 32, "TLS 1.2 resumed");
	pair_close(&p);
	SSL_SESSION_free(sess);
	SSL_CTX_free(c12);
	CHECK(tls_channel_binding(NULL, "tls-exporter", buf, sizeof(buf), &len) == -1, "no SSL");
}

/* TLS 1.1 is refused by the server even when the client would allow it (RFC 8996). */
static void test_old_protocols(SSL_CTX *sctx)
{
	struct pair p;
	SSL_CTX *c11 = client_ctx(TLS1_1_VERSION);
	SSL_CTX_set_security_level(c11, 0);
	SSL_CTX_set_min_proto_version(c11, TLS1_VERSION);
	CHECK(pair_open(&p, sctx, c11, NULL) == -1, "TLS 1.1 handshake refused");
	unsigned long e = ERR_peek_last_error();
	CHECK(ERR_GET_REASON(e) == SSL_R_UNSUPPORTED_PROTOCOL ||
		  ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION,
	      "reason %s", ERR_reason_error_string(e));
	ERR_clear_error();
	pair_close(&p);
	SSL_CTX_free(c11);
	/* a TLS 1.2 client offering only non-ECDHE or non-AEAD suites finds nothing in common */
	SSL_CTX *cbad = client_ctx(TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(cbad, "AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES256-GCM-SHA384");
	CHECK(pair_open(&p, sctx, cbad, NULL) == -1, "no CBC or static-RSA suites");
	ERR_clear_error();
	pair_close(&p);
	SSL_CTX_free(cbad);
}

int main(void)
{
	if (make_files() < 0) {
		fprintf(stderr, "test_tls: cannot make the test certificate in %s\n", dir);
		return 1;
	}
	char err[512] = "";
	SSL_CTX *sctx = tls_server_ctx_new(cert_path, key_path, err, sizeof(err));
	CHECK(sctx != NULL, "load: %s", err);
	if (sctx) {
		CHECK(SSL_CTX_get_min_proto_version(sctx) == TLS1_2_VERSION, "TLS 1.2 minimum");
		CHECK(SSL_CTX_get_options(sctx) & SSL_OP_NO_COMPRESSION, "no compression");
		CHECK(SSL_CTX_get_options(sctx) & SSL_OP_NO_RENEGOTIATION, "no renegotiation");
		CHECK(SSL_CTX_get_options(sctx) & SSL_OP_CIPHER_SERVER_PREFERENCE, "server order");
		test_bindings(sctx);
		test_old_protocols(sctx);
	}
	test_ctx_errors();
	SSL_CTX_free(sctx);
	const char *files[] = {cert_path, key_path, key2_path, junk_path};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(dir);
	return check_report("test_tls");
}
