/* sasl.c — GNU SASL glue: one Gsasl context whose callback answers from the credential store.
 * PLAIN and LOGIN ask GSASL_VALIDATE_SIMPLE (PBKDF2 of the password against the stored SCRAM
 * verifier); SCRAM asks for the verifier's iteration count, salt and keys. Property encodings as
 * libgsasl 2.2.0 reads them (checked by tests/unit/test_sasl.c, the header comments say hex
 * for the keys but the code decodes base64): ITER decimal, SALT, STOREDKEY, SERVERKEY and the
 * channel bindings base64. */
#include "sasl.h"

#include "auth.h"
#include "../util/base64.h"

#include <gsasl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What an unknown login is checked against: as costly as a default `relayguard user add`. */
#ifdef AUTH_DEFAULT_ITERATIONS
#define SASL_DUMMY_ITERATIONS AUTH_DEFAULT_ITERATIONS
#else
#define SASL_DUMMY_ITERATIONS AUTH_MIN_ITERATIONS
#endif
#define SASL_SECRET_LEN 32

struct auth_sasl {
	Gsasl *gsasl;
	char *db_path;
	pthread_mutex_t mu;	  /* guards store (opened by the first worker that needs it) */
	struct auth_store *store; /* NULL until opened */
	unsigned char secret[SASL_SECRET_LEN]; /* per process: the fake salt of unknown logins */
	struct auth_verifier dummy; /* PLAIN/LOGIN of an unknown login run PBKDF2 against it */
};

struct auth_sasl_exchange {
	struct auth_sasl *a;
	Gsasl_session *gs;
	struct auth_sasl_cbind cb;
	char mech[32];
	char login[AUTH_LOGIN_MAX + 1]; /* normalised, "" until known or when invalid */
	int looked_up;			/* SCRAM: v holds the verifier (real or fake) */
	int usable;			/* SCRAM: v is the login's real verifier, not locked */
	int verified;			/* PLAIN/LOGIN: the password matched */
	int temp_error;			/* the store failed: 454, not 535 */
	unsigned steps;
	struct auth_verifier v;
};

static const char *const OFFERED[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN", "LOGIN"};

int auth_sasl_mech_offered(const char *mech, int plus)
{
	for (size_t i = plus ? 0 : 1; i < sizeof(OFFERED) / sizeof(OFFERED[0]); i++)
		if (strcasecmp(mech, OFFERED[i]) == 0)
			return 1;
	return 0;
}

static struct auth_store *sasl_store(struct auth_sasl *a)
{
	char err[256];
	pthread_mutex_lock(&a->mu);
	if (!a->store)
		a->store = auth_store_open(a->db_path, 0, err, sizeof(err));
	struct auth_store *st = a->store;
	pthread_mutex_unlock(&a->mu);
	return st;
}

static void sasl_set_login(struct auth_sasl_exchange *x, const char *id)
{
	if (auth_login_normalise(id, x->login, sizeof(x->login)) < 0)
		x->login[0] = '\0'; /* looked up as nobody: the same work, the same failure */
}

/* The login's verifier into *v; AUTH_NO_USER for an invalid login. */
static enum auth_lookup sasl_lookup(struct auth_sasl_exchange *x, struct auth_verifier *v)
{
	if (!x->login[0])
		return AUTH_NO_USER;
	struct auth_store *st = sasl_store(x->a);
	enum auth_lookup r = st ? auth_store_get(st, x->login, v) : AUTH_STORE_ERROR;
	if (r == AUTH_STORE_ERROR)
		x->temp_error = 1;
	return r;
}

static int hmac_label(const struct auth_sasl *a, const char *label, const char *id,
		      unsigned char out[AUTH_KEY_LEN])
{
	unsigned char msg[AUTH_LOGIN_MAX * 4 + 32];
	size_t ll = strlen(label), il = strnlen(id, sizeof(msg) - ll - 1);
	unsigned len = AUTH_KEY_LEN;
	memcpy(msg, label, ll);
	msg[ll] = '\0';
	memcpy(msg + ll + 1, id, il);
	return HMAC(EVP_sha256(), a->secret, sizeof(a->secret), msg, ll + 1 + il, out, &len) ? 0
											     : -1;
}

/* A verifier for a login that must not be told apart from a real one: a salt that is the same
 * at every try (derived from the secret and the login) and keys no proof can match. */
static void sasl_fake_verifier(const struct auth_sasl *a, const char *id, struct auth_verifier *v)
{
	unsigned char salt[AUTH_KEY_LEN];
	memset(v, 0, sizeof(*v));
	v->iterations = SASL_DUMMY_ITERATIONS;
	v->salt_len = AUTH_SALT_LEN;
	if (hmac_label(a, "salt", id, salt) < 0 || hmac_label(a, "stored", id, v->stored_key) < 0 ||
	    hmac_label(a, "server", id, v->server_key) < 0)
		RAND_bytes(salt, sizeof(salt)); /* keys stay zero: still no proof matches them */
	memcpy(v->salt, salt, AUTH_SALT_LEN);
}

static int validate_simple(struct auth_sasl_exchange *x)
{
	const char *id = gsasl_property_fast(x->gs, GSASL_AUTHID);
	const char *pw = gsasl_property_fast(x->gs, GSASL_PASSWORD);
	char prepped[AUTH_PASSWORD_MAX + 1];
	size_t plen = 0;
	struct auth_verifier v;
	if (!id || !pw)
		return GSASL_AUTHENTICATION_ERROR;
	sasl_set_login(x, id);
	int prep_ok = auth_password_prep(pw, strlen(pw), prepped, sizeof(prepped), &plen) == 0;
	enum auth_lookup r = sasl_lookup(x, &v);
	if (r == AUTH_STORE_ERROR)
		return GSASL_AUTHENTICATION_ERROR;
	/* a locked login is checked against its own verifier, an unknown one against the dummy:
	 * one PBKDF2 whatever the case */
	const struct auth_verifier *check = r == AUTH_NO_USER ? &x->a->dummy : &v;
	int ok = auth_verifier_check(check, prep_ok ? prepped : "", prep_ok ? plen : 0);
	OPENSSL_cleanse(prepped, sizeof(prepped));
	if (ok < 0)
		x->temp_error = 1;
	x->verified = ok == 1 && r == AUTH_FOUND && prep_ok;
	return x->verified ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
}

static int set_base64(Gsasl_session *gs, Gsasl_property prop, const unsigned char *data, size_t len)
{
	char b64[UTIL_BASE64_LEN(AUTH_SALT_MAX + AUTH_SASL_CB_MAX) + 1];
	if (len == 0 || util_base64_encode(data, len, b64, sizeof(b64)) < 0)
		return GSASL_NO_CALLBACK;
	return gsasl_property_set(gs, prop, b64);
}

static int scram_property(struct auth_sasl_exchange *x, Gsasl_property prop)
{
	if (!x->looked_up) {
		const char *id = gsasl_property_fast(x->gs, GSASL_AUTHID);
		sasl_set_login(x, id ? id : "");
		x->usable = sasl_lookup(x, &x->v) == AUTH_FOUND;
		if (!x->usable) /* unknown, locked, or the store failed */
			sasl_fake_verifier(x->a, id ? id : "", &x->v);
		x->looked_up = 1;
	}
	char iter[16];
	switch (prop) {
	case GSASL_SCRAM_ITER:
		snprintf(iter, sizeof(iter), "%u", x->v.iterations);
		return gsasl_property_set(x->gs, prop, iter);
	case GSASL_SCRAM_SALT:
		return set_base64(x->gs, prop, x->v.salt, x->v.salt_len);
	case GSASL_SCRAM_STOREDKEY:
		return set_base64(x->gs, prop, x->v.stored_key, AUTH_KEY_LEN);
	default:
		return set_base64(x->gs, prop, x->v.server_key, AUTH_KEY_LEN);
	}
}

static int sasl_callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
	struct auth_sasl_exchange *x = gsasl_session_hook_get(gs);
	(void)ctx;
	if (!x)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_VALIDATE_SIMPLE:
		return validate_simple(x);
	case GSASL_SCRAM_ITER:
	case GSASL_SCRAM_SALT:
	case GSASL_SCRAM_STOREDKEY:
	case GSASL_SCRAM_SERVERKEY:
		return scram_property(x, prop);
	case GSASL_CB_TLS_EXPORTER:
		return set_base64(gs, prop, x->cb.exporter, x->cb.exporter_len);
	case GSASL_CB_TLS_UNIQUE:
		return set_base64(gs, prop, x->cb.unique, x->cb.unique_len);
	default:
		return GSASL_NO_CALLBACK;
	}
}

struct auth_sasl *auth_sasl_new(const char *db_path, char *err, size_t errlen)
{
	struct auth_sasl *a = calloc(1, sizeof(*a));
	static const char dummy_pw[] = "no such user";
	if (!a || !(a->db_path = strdup(db_path))) {
		snprintf(err, errlen, "out of memory");
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	int rc = gsasl_init(&a->gsasl);
	if (rc != GSASL_OK) {
		snprintf(err, errlen, "GNU SASL: %s", gsasl_strerror(rc));
		a->gsasl = NULL;
		auth_sasl_free(a);
		return NULL;
	}
	gsasl_callback_set(a->gsasl, sasl_callback);
	if (RAND_bytes(a->secret, sizeof(a->secret)) != 1 ||
	    auth_verifier_new(dummy_pw, sizeof(dummy_pw) - 1, SASL_DUMMY_ITERATIONS, &a->dummy) <
		0) {
		snprintf(err, errlen, "cannot draw random bytes for SASL");
		auth_sasl_free(a);
		return NULL;
	}
	return a;
}

void auth_sasl_free(struct auth_sasl *a)
{
	if (!a)
		return;
	if (a->gsasl)
		gsasl_done(a->gsasl);
	if (a->store)
		auth_store_close(a->store);
	pthread_mutex_destroy(&a->mu);
	OPENSSL_cleanse(a->secret, sizeof(a->secret));
	free(a->db_path);
	free(a);
}

int auth_sasl_start(struct auth_sasl *a, const char *mech, const struct auth_sasl_cbind *cb,
		    struct auth_sasl_exchange **out)
{
	struct auth_sasl_exchange *x = calloc(1, sizeof(*x));
	*out = NULL;
	if (!x)
		return -1;
	x->a = a;
	if (cb)
		x->cb = *cb;
	snprintf(x->mech, sizeof(x->mech), "%s", mech);
	for (char *p = x->mech; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (gsasl_server_start(a->gsasl, x->mech, &x->gs) != GSASL_OK) {
		free(x);
		return -1;
	}
	gsasl_session_hook_set(x->gs, x);
	*out = x;
	return 0;
}

/* AUTHZID (PLAIN's first field, SCRAM's a=) may only name the login itself. */
static int authzid_ok(const struct auth_sasl_exchange *x)
{
	const char *z = gsasl_property_fast(x->gs, GSASL_AUTHZID);
	char norm[AUTH_LOGIN_MAX + 1];
	if (!z || !*z)
		return 1;
	return auth_login_normalise(z, norm, sizeof(norm)) == 0 && strcmp(norm, x->login) == 0;
}

enum auth_sasl_result auth_sasl_step(struct auth_sasl_exchange *x, const unsigned char *in,
				     size_t len, unsigned char **out, size_t *outlen)
{
	char *o = NULL;
	size_t ol = 0;
	/* GNU SASL's LOGIN always opens with its "User Name" challenge: an initial response
	 * ("AUTH LOGIN dXNlcg==") answers that challenge */
	if (x->steps++ == 0 && len > 0 && strcmp(x->mech, "LOGIN") == 0 &&
	    gsasl_step(x->gs, "", 0, &o, &ol) == GSASL_NEEDS_MORE) {
		free(o);
		o = NULL;
	}
	int rc = gsasl_step(x->gs, (const char *)in, len, &o, &ol);
	*out = NULL;
	*outlen = 0;
	if (x->temp_error || rc == GSASL_MALLOC_ERROR) {
		free(o);
		return AUTH_SASL_TEMP_ERROR;
	}
	if (rc == GSASL_OK && x->login[0] && (x->verified || x->usable) && authzid_ok(x)) {
		*out = (unsigned char *)o;
		*outlen = ol;
		return AUTH_SASL_OK;
	}
	if (rc == GSASL_NEEDS_MORE) {
		*out = (unsigned char *)o;
		*outlen = ol;
		return AUTH_SASL_MORE;
	}
	free(o);
	return AUTH_SASL_FAIL;
}

const char *auth_sasl_login(const struct auth_sasl_exchange *x)
{
	return x->login;
}

const char *auth_sasl_mech(const struct auth_sasl_exchange *x)
{
	return x->mech;
}

void auth_sasl_finish(struct auth_sasl_exchange *x)
{
	if (!x)
		return;
	if (x->gs)
		gsasl_finish(x->gs);
	OPENSSL_cleanse(&x->v, sizeof(x->v));
	free(x);
}
