/* auth.h — SMTP AUTH credentials: SCRAM-SHA-256 verifiers (RFC 5802/7677) and the SQLite store
 * that keeps them. Never a password: only salt, iteration count, StoredKey and ServerKey, from
 * which PLAIN/LOGIN are verified too. Also `relayguard user`, the CLI that manages the store. */
#ifndef RG_AUTH_H
#define RG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_LEN 32 /* SHA-256 */
#define AUTH_SALT_MAX 64
#define AUTH_SALT_LEN 16 /* what auth_verifier_new draws */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Fuzz builds only (make fuzz-build): one PBKDF2 round, so fuzz_auth runs the same PLAIN/LOGIN
 * code at libFuzzer speed instead of ~1,000 checks/s. Never defined in a server build. */
#define AUTH_MIN_ITERATIONS 1
#else
#define AUTH_MIN_ITERATIONS 4096 /* RFC 7677 5 */
#endif
/* The most a verifier may ask for: it bounds the CPU one check costs (several seconds here). */
#define AUTH_MAX_ITERATIONS 10000000u
#define AUTH_LOGIN_MAX 255
#define AUTH_PASSWORD_MAX 1024 /* octets, after SASLprep */

struct auth_verifier {
	unsigned char salt[AUTH_SALT_MAX];
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[AUTH_KEY_LEN], server_key[AUTH_KEY_LEN];
};

/* RFC 5802/7677: SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i); StoredKey =
 * SHA-256(HMAC(SaltedPassword, "Client Key")); ServerKey = HMAC(SaltedPassword, "Server Key").
 * The password is used as given (the caller SASLpreps it). salt_len 1..AUTH_SALT_MAX,
 * iterations AUTH_MIN_ITERATIONS..AUTH_MAX_ITERATIONS. 0 or -1. */
int auth_verifier_make(const char *password, size_t len, const unsigned char *salt, size_t salt_len,
		       unsigned iterations, struct auth_verifier *out);
/* A fresh random 16-byte salt. */
int auth_verifier_new(const char *password, size_t len, unsigned iterations,
		      struct auth_verifier *out);
/* 1 when password derives v's StoredKey (constant-time compare), 0 when not, -1 on error. */
int auth_verifier_check(const struct auth_verifier *v, const char *password, size_t len);

/* SASLprep (RFC 4013, "stored strings": no unassigned code points) of a UTF-8 password into
 * out (NUL-terminated), *outlen its length; intermediate copies are wiped. 0, or -1 when it is
 * not valid (prohibited characters, bad UTF-8) or does not fit. */
int auth_password_prep(const char *in, size_t len, char *out, size_t outsize, size_t *outlen);

/* A login as the store keys it: 1..AUTH_LOGIN_MAX octets, no control characters (< 0x20, 0x7f),
 * ASCII lower-cased (other octets kept). out needs AUTH_LOGIN_MAX + 1. 0 or -1. Pure. */
int auth_login_normalise(const char *login, char *out, size_t outsize);

enum auth_lookup { AUTH_FOUND, AUTH_NO_USER, AUTH_LOCKED, AUTH_STORE_ERROR };
struct auth_store; /* SQLite, WAL, busy timeout; a handle may be used from several threads */

/* Open the store at path. create: make the file (mode 0600) and its directory (0700) if
 * missing, and the schema in an empty file; else the file must exist with its schema. NULL on
 * error with err set. The caller closes it with auth_store_close. */
struct auth_store *auth_store_open(const char *path, int create, char *err, size_t errlen);
void auth_store_close(struct auth_store *st);
/* login is compared lower-cased. AUTH_LOCKED still fills *out. */
enum auth_lookup auth_store_get(struct auth_store *st, const char *login,
				struct auth_verifier *out);

/* The changes below return 0 when done, 1 when refused (add: the login exists; the others: no
 * such login, or an invalid login), -1 on a store error (see auth_store_last_error). */
int auth_store_add(struct auth_store *st, const char *login, const struct auth_verifier *v);
/* A new verifier for an existing login (`relayguard user passwd`). */
int auth_store_set(struct auth_store *st, const char *login, const struct auth_verifier *v);
int auth_store_del(struct auth_store *st, const char *login);
int auth_store_lock(struct auth_store *st, const char *login, int locked);

/* One row of auth_store_list. */
struct auth_user_info {
	char login[AUTH_LOGIN_MAX + 1];
	int locked;
	unsigned iterations;
	int64_t created, updated; /* Unix time */
};
/* Call fn for every login in order; the info is valid during the call only. Returns the number
 * of logins or -1 on a store error. */
long auth_store_list(struct auth_store *st, void (*fn)(void *arg, const struct auth_user_info *u),
		     void *arg);

/* The message of the last store error on this handle (thread-safe; with several threads it may
 * be another thread's). */
void auth_store_last_error(struct auth_store *st, char *buf, size_t len);

/* `relayguard user add|passwd|del|list|lock|unlock ...` (argv after "user"): manage the store the
 * config's auth-database names. 0 done, 1 refused (the login exists, no such login, the
 * passwords differ, an empty or invalid password), 2 usage, config or store error. */
int auth_user_cli(int argc, char **argv, const char *default_conf);

#endif
