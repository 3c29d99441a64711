/* sasl.h — the SMTP AUTH mechanisms (PLAIN, LOGIN, SCRAM-SHA-256, SCRAM-SHA-256-PLUS) through
 * GNU SASL, answered from the credential store (auth.h). No event loop here: auth_sasl_step
 * blocks (PBKDF2, SQLite) and is meant for a worker thread; the SMTP side (src/smtp/auth.c)
 * carries the bytes, base64 and replies. An unknown or locked login costs the same work and
 * gets the same answer as a wrong password. */
#ifndef RG_AUTH_SASL_H
#define RG_AUTH_SASL_H

#include <stddef.h>

struct auth_sasl;	   /* one per server: the Gsasl context and the store */
struct auth_sasl_exchange; /* one AUTH command, from its start to 235/535 */

/* The mechanisms, best first, as the EHLO keyword lists them; -PLUS only with channel
 * binding data. */
#define AUTH_SASL_MECHS "SCRAM-SHA-256 PLAIN LOGIN"
#define AUTH_SASL_MECHS_PLUS "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN"
#define AUTH_SASL_CB_MAX 64 /* channel binding data, octets */

/* The GNU SASL context for the store at db_path (opened at the first AUTH, on the worker, and
 * again after a failure). NULL with err set when GNU SASL cannot start. Free with
 * auth_sasl_free once no exchange is left. */
struct auth_sasl *auth_sasl_new(const char *db_path, char *err, size_t errlen);
void auth_sasl_free(struct auth_sasl *a);

/* Is mech (case-insensitive) one we offer (plus: with channel binding)? 1 or 0. */
int auth_sasl_mech_offered(const char *mech, int plus);

/* Channel bindings of the session's TLS connection, raw octets (len 0 = not available). */
struct auth_sasl_cbind {
	unsigned char exporter[AUTH_SASL_CB_MAX]; /* RFC 9266 tls-exporter */
	size_t exporter_len;
	unsigned char unique[AUTH_SASL_CB_MAX]; /* RFC 5929 tls-unique */
	size_t unique_len;
};

/* Start an exchange for an offered mechanism (cb may be NULL). 0, or -1 (out of memory, or a
 * mechanism GNU SASL lacks). Loop thread or worker; cheap. */
int auth_sasl_start(struct auth_sasl *a, const char *mech, const struct auth_sasl_cbind *cb,
		    struct auth_sasl_exchange **out);

enum auth_sasl_result {
	AUTH_SASL_MORE,	      /* *out is a challenge: 334 */
	AUTH_SASL_OK,	      /* authenticated; *out may hold final server data (SCRAM v=) */
	AUTH_SASL_FAIL,	      /* 535: wrong password, unknown or locked login, bad message */
	AUTH_SASL_TEMP_ERROR, /* 454: the store could not be read, out of memory */
};

/* One step with the client's (decoded) response. Blocks: call it on a worker thread, one step
 * of an exchange at a time. *out (malloc'd, caller frees; NULL when there is none) gets the
 * server's next data, raw, *outlen its length. */
enum auth_sasl_result auth_sasl_step(struct auth_sasl_exchange *x, const unsigned char *in,
				     size_t len, unsigned char **out, size_t *outlen);

/* The login the client gave (normalised: lower-case), "" before it gave one. Authenticated
 * only after AUTH_SASL_OK. */
const char *auth_sasl_login(const struct auth_sasl_exchange *x);
/* The mechanism's name ("SCRAM-SHA-256"). */
const char *auth_sasl_mech(const struct auth_sasl_exchange *x);
void auth_sasl_finish(struct auth_sasl_exchange *x);

#endif
