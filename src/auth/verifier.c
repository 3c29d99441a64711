/* verifier.c — SCRAM-SHA-256 verifiers (RFC 5802 section 3, RFC 7677) with OpenSSL, and the
 * SASLprep every password goes through before it is derived. No password is kept: every buffer
 * that held one, or the SaltedPassword/ClientKey derived from it, is wiped before return.
 * A password never holds a NUL octet (SASL has none, and HMAC could not tell "pw" from "pw\0"). */
#include "auth.h"

#include <gsasl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

/* HMAC-SHA-256(key, text) into out[AUTH_KEY_LEN]. 0 or -1. */
static int hmac_sha256(const unsigned char *key, size_t keylen, const char *text,
		       unsigned char *out)
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)text, strlen(text), out,
		  &len))
		return -1;
	return len == AUTH_KEY_LEN ? 0 : -1;
}

/* StoredKey and ServerKey from the password, with salt and iterations already set in out. */
static int derive_keys(const char *password, size_t len, struct auth_verifier *out)
{
	unsigned char salted[AUTH_KEY_LEN], client_key[AUTH_KEY_LEN];
	int rc = -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)len, out->salt, (int)out->salt_len,
			      (int)out->iterations, EVP_sha256(), sizeof(salted), salted) != 1)
		goto done;
	if (hmac_sha256(salted, sizeof(salted), "Client Key", client_key) < 0 ||
	    hmac_sha256(salted, sizeof(salted), "Server Key", out->server_key) < 0)
		goto done;
	if (!SHA256(client_key, sizeof(client_key), out->stored_key))
		goto done;
	rc = 0;
done:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return rc;
}

static int params_valid(size_t len, size_t salt_len, unsigned iterations)
{
	return len <= INT_MAX && salt_len >= 1 && salt_len <= AUTH_SALT_MAX &&
	       iterations >= AUTH_MIN_ITERATIONS && iterations <= AUTH_MAX_ITERATIONS;
}

int auth_verifier_make(const char *password, size_t len, const unsigned char *salt, size_t salt_len,
		       unsigned iterations, struct auth_verifier *out)
{
	memset(out, 0, sizeof(*out));
	if (!password || !salt || !params_valid(len, salt_len, iterations) ||
	    memchr(password, '\0', len))
		return -1;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	if (derive_keys(password, len, out) < 0) {
		OPENSSL_cleanse(out, sizeof(*out));
		return -1;
	}
	return 0;
}

int auth_verifier_new(const char *password, size_t len, unsigned iterations,
		      struct auth_verifier *out)
{
	unsigned char salt[AUTH_SALT_LEN];
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return auth_verifier_make(password, len, salt, sizeof(salt), iterations, out);
}

int auth_verifier_check(const struct auth_verifier *v, const char *password, size_t len)
{
	struct auth_verifier probe;
	if (!v || !password || !params_valid(len, v->salt_len, v->iterations))
		return -1;
	/* HMAC pads a short key with zeros: "pw" and "pw\0" would derive the same keys. No SASL
	 * password holds a NUL, so one that does is wrong. */
	if (memchr(password, '\0', len))
		return 0;
	if (auth_verifier_make(password, len, v->salt, v->salt_len, v->iterations, &probe) < 0)
		return -1;
	int same = CRYPTO_memcmp(probe.stored_key, v->stored_key, AUTH_KEY_LEN) == 0;
	OPENSSL_cleanse(&probe, sizeof(probe));
	return same;
}

int auth_password_prep(const char *in, size_t len, char *out, size_t outsize, size_t *outlen)
{
	char copy[AUTH_PASSWORD_MAX + 1];
	char *prepped = NULL;
	int rc = -1;
	if (len > AUTH_PASSWORD_MAX || memchr(in, '\0', len))
		return -1;
	memcpy(copy, in, len);
	copy[len] = '\0';
	if (gsasl_saslprep(copy, 0, &prepped, NULL) == GSASL_OK) {
		size_t n = strlen(prepped);
		if (n + 1 <= outsize && n <= AUTH_PASSWORD_MAX) {
			memcpy(out, prepped, n + 1);
			*outlen = n;
			rc = 0;
		}
		OPENSSL_cleanse(prepped, n);
		gsasl_free(prepped);
	}
	OPENSSL_cleanse(copy, sizeof(copy));
	return rc;
}

int auth_login_normalise(const char *login, char *out, size_t outsize)
{
	size_t n = login ? strlen(login) : 0;
	if (n == 0 || n > AUTH_LOGIN_MAX || n + 1 > outsize)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)login[i];
		if (c < 0x20 || c == 0x7f)
			return -1;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n] = '\0';
	return 0;
}
