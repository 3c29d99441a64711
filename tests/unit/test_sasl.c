/* test_sasl.c — the GNU SASL glue against a real credential store, with GNU SASL's own client
 * in the same process: PLAIN, LOGIN, SCRAM-SHA-256 and -PLUS (tls-exporter, tls-unique) with the
 * right password, a wrong one, an unknown and a locked login (the same failure), an AUTHZID that
 * is not the login, a channel binding that differs, and the `y,,` downgrade while -PLUS is
 * advertised (RFC 5802 6). Also the sasl config directives. */
#include "auth/auth.h"
#include "auth/sasl.h"
#include "conf/conf.h"
#include "check.h"

#include <gsasl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct client {
	const char *authid, *authzid, *password;
	const unsigned char *cb; /* channel binding the client sees (NULL: none) */
	size_t cb_len;
	int cb_unique; /* offer it as tls-unique instead of tls-exporter */
};

static int client_cb(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
	const struct client *c = gsasl_session_hook_get(gs);
	char *b64 = NULL;
	(void)ctx;
	switch (prop) {
	case GSASL_AUTHID:
		return gsasl_property_set(gs, prop, c->authid);
	case GSASL_AUTHZID:
		return c->authzid ? gsasl_property_set(gs, prop, c->authzid) : GSASL_NO_CALLBACK;
	case GSASL_PASSWORD:
		return gsasl_property_set(gs, prop, c->password);
	case GSASL_CB_TLS_EXPORTER:
	case GSASL_CB_TLS_UNIQUE:
		if (!c->cb || (prop == GSASL_CB_TLS_UNIQUE) != c->cb_unique)
			return GSASL_NO_CALLBACK;
		gsasl_base64_to((const char *)c->cb, c->cb_len, &b64, NULL);
		gsasl_property_set(gs, prop, b64);
		free(b64);
		return GSASL_OK;
	default:
		return GSASL_NO_CALLBACK;
	}
}

/* Run one exchange; returns the server's last result. The client must accept the server's
 * final message too (SCRAM v=), so a success is mutual. */
static enum auth_sasl_result run(struct auth_sasl *a, Gsasl *cg, const char *mech,
				 const struct client *c, const struct auth_sasl_cbind *cb,
				 char *login, size_t loginlen)
{
	struct auth_sasl_exchange *x;
	Gsasl_session *cs;
	char *cout = NULL;
	size_t coutlen = 0;
	unsigned char *sout = NULL;
	size_t soutlen = 0;
	enum auth_sasl_result r = AUTH_SASL_TEMP_ERROR;
	if (auth_sasl_start(a, mech, cb, &x) < 0 || gsasl_client_start(cg, mech, &cs) != GSASL_OK)
		return r;
	gsasl_session_hook_set(cs, (void *)c);
	for (int round = 0; round < 6; round++) {
		int crc = gsasl_step(cs, (const char *)sout, soutlen, &cout, &coutlen);
		free(sout);
		sout = NULL;
		if (crc != GSASL_OK && crc != GSASL_NEEDS_MORE) {
			r = AUTH_SASL_TEMP_ERROR; /* the client refused the server */
			break;
		}
		if (r == AUTH_SASL_OK)
			break; /* the client checked the server's final message */
		r = auth_sasl_step(x, (unsigned char *)cout, coutlen, &sout, &soutlen);
		free(cout);
		cout = NULL;
		if (r != AUTH_SASL_MORE && (r != AUTH_SASL_OK || soutlen == 0))
			break; /* failed, or succeeded with nothing more for the client to check */
	}
	free(cout);
	free(sout);
	snprintf(login, loginlen, "%s", auth_sasl_login(x));
	gsasl_finish(cs);
	auth_sasl_finish(x);
	return r;
}

/* The server's answer to one raw first message (the `y,,` case no stock client sends). */
static enum auth_sasl_result first_step(struct auth_sasl *a, const char *mech, const char *msg,
					const struct auth_sasl_cbind *cb)
{
	struct auth_sasl_exchange *x;
	unsigned char *out;
	size_t outlen;
	if (auth_sasl_start(a, mech, cb, &x) < 0)
		return AUTH_SASL_TEMP_ERROR;
	enum auth_sasl_result r =
	    auth_sasl_step(x, (const unsigned char *)msg, strlen(msg), &out, &outlen);
	free(out);
	auth_sasl_finish(x);
	return r;
}

static struct auth_store *make_store(const char *path)
{
	char err[256];
	struct auth_verifier v;
	struct auth_store *st = auth_store_open(path, 1, err, sizeof(err));
	CHECK(st != NULL, "store: %s", err);
	if (!st)
		exit(1);
	CHECK(auth_verifier_new("s3cret pass", 11, 4096, &v) == 0, "verifier");
	CHECK(auth_store_add(st, "alice", &v) == 0, "add alice");
	CHECK(auth_verifier_new("other", 5, 4096, &v) == 0, "verifier");
	CHECK(auth_store_add(st, "locked", &v) == 0, "add locked");
	CHECK(auth_store_lock(st, "locked", 1) == 0, "lock");
	return st;
}

static const unsigned char CB1[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char CB2[32] = "fedcba9876543210fedcba9876543210";

struct row {
	const char *what, *mech;
	struct client c;
	int server_cb; /* 0 none, 1 exporter CB1, 2 unique CB1 */
	enum auth_sasl_result want;
};

static const struct row rows[] = {
    {"plain ok", "PLAIN", {"alice", NULL, "s3cret pass"}, 0, AUTH_SASL_OK},
    {"plain login case", "PLAIN", {"Alice", NULL, "s3cret pass"}, 0, AUTH_SASL_OK},
    {"plain wrong", "PLAIN", {"alice", NULL, "s3cret pasS"}, 0, AUTH_SASL_FAIL},
    {"plain unknown", "PLAIN", {"mallory", NULL, "s3cret pass"}, 0, AUTH_SASL_FAIL},
    {"plain locked", "PLAIN", {"locked", NULL, "other"}, 0, AUTH_SASL_FAIL},
    {"plain authzid self", "PLAIN", {"alice", "alice", "s3cret pass"}, 0, AUTH_SASL_OK},
    {"plain authzid other", "PLAIN", {"alice", "bob", "s3cret pass"}, 0, AUTH_SASL_FAIL},
    {"login ok", "LOGIN", {"alice", NULL, "s3cret pass"}, 0, AUTH_SASL_OK},
    {"login wrong", "LOGIN", {"alice", NULL, "nope"}, 0, AUTH_SASL_FAIL},
    {"scram ok", "SCRAM-SHA-256", {"alice", NULL, "s3cret pass"}, 0, AUTH_SASL_OK},
    {"scram wrong", "SCRAM-SHA-256", {"alice", NULL, "s3cret pasS"}, 0, AUTH_SASL_FAIL},
    {"scram unknown", "SCRAM-SHA-256", {"mallory", NULL, "x"}, 0, AUTH_SASL_FAIL},
    {"scram locked", "SCRAM-SHA-256", {"locked", NULL, "other"}, 0, AUTH_SASL_FAIL},
    {"scram authzid other", "SCRAM-SHA-256", {"alice", "bob", "s3cret pass"}, 0, AUTH_SASL_FAIL},
    {"scram plus exporter",
     "SCRAM-SHA-256-PLUS",
     {"alice", NULL, "s3cret pass", CB1, 32, 0},
     1,
     AUTH_SASL_OK},
    {"scram plus unique",
     "SCRAM-SHA-256-PLUS",
     {"alice", NULL, "s3cret pass", CB1, 32, 1},
     2,
     AUTH_SASL_OK},
    {"scram plus other channel",
     "SCRAM-SHA-256-PLUS",
     {"alice", NULL, "s3cret pass", CB2, 32, 0},
     1,
     AUTH_SASL_FAIL},
    {"scram plus wrong",
     "SCRAM-SHA-256-PLUS",
     {"alice", NULL, "bad", CB1, 32, 0},
     1,
     AUTH_SASL_FAIL},
};

static void test_exchanges(struct auth_sasl *a)
{
	Gsasl *cg;
	char login[AUTH_LOGIN_MAX + 1];
	CHECK(gsasl_init(&cg) == GSASL_OK, "client init");
	gsasl_callback_set(cg, client_cb);
	for (size_t i = 0; i < N(rows); i++) {
		struct auth_sasl_cbind cb = {0};
		if (rows[i].server_cb == 1)
			memcpy(cb.exporter, CB1, cb.exporter_len = 32);
		if (rows[i].server_cb == 2)
			memcpy(cb.unique, CB1, cb.unique_len = 32);
		enum auth_sasl_result r =
		    run(a, cg, rows[i].mech, &rows[i].c, &cb, login, sizeof(login));
		CHECK(r == rows[i].want, "%s: got %d want %d", rows[i].what, (int)r,
		      (int)rows[i].want);
		if (rows[i].want == AUTH_SASL_OK)
			CHECK_STR(login, "alice", "%s", rows[i].what);
	}
	gsasl_done(cg);
}

static void test_downgrade_and_probe(struct auth_sasl *a)
{
	struct auth_sasl_cbind cb = {0};
	memcpy(cb.exporter, CB1, cb.exporter_len = 32);
	/* the client says it could bind but thinks the server cannot: with -PLUS offered, that is a
	 * downgrade (RFC 5802 6) */
	CHECK(first_step(a, "SCRAM-SHA-256", "y,,n=alice,r=abcdef", &cb) == AUTH_SASL_FAIL,
	      "y,, with -PLUS advertised");
	CHECK(first_step(a, "SCRAM-SHA-256", "y,,n=alice,r=abcdef", NULL) == AUTH_SASL_MORE,
	      "y,, without channel binding is fine");
	CHECK(first_step(a, "SCRAM-SHA-256", "n,,n=alice,r=abcdef", &cb) == AUTH_SASL_MORE,
	      "n,, is fine");
	/* an unknown login gets a salt like a real one, the same at every try */
	struct auth_sasl_exchange *x1, *x2;
	unsigned char *o1, *o2;
	size_t l1, l2;
	const char *m = "n,,n=nobody,r=abcdef";
	CHECK(auth_sasl_start(a, "SCRAM-SHA-256", NULL, &x1) == 0, "start");
	CHECK(auth_sasl_start(a, "SCRAM-SHA-256", NULL, &x2) == 0, "start");
	CHECK(auth_sasl_step(x1, (const unsigned char *)m, strlen(m), &o1, &l1) == AUTH_SASL_MORE,
	      "unknown first");
	CHECK(auth_sasl_step(x2, (const unsigned char *)m, strlen(m), &o2, &l2) == AUTH_SASL_MORE,
	      "unknown again");
	const char *s1 = o1 ? strstr((char *)o1, ",s=") : NULL,
		   *s2 = o2 ? strstr((char *)o2, ",s=") : NULL;
	CHECK(s1 && s2 && strcmp(s1, s2) == 0, "stable fake salt");
	CHECK(s1 && strlen(s1) == strlen(",s=") + 24 + strlen(",i=4096"), "16-octet salt: %s",
	      s1 ? s1 : "");
	free(o1);
	free(o2);
	auth_sasl_finish(x1);
	auth_sasl_finish(x2);
	CHECK(auth_sasl_mech_offered("scram-sha-256", 0) && auth_sasl_mech_offered("PLAIN", 0) &&
		  auth_sasl_mech_offered("LOGIN", 0),
	      "offered");
	CHECK(!auth_sasl_mech_offered("SCRAM-SHA-256-PLUS", 0) &&
		  auth_sasl_mech_offered("SCRAM-SHA-256-PLUS", 1),
	      "-PLUS only with channel binding");
	CHECK(!auth_sasl_mech_offered("CRAM-MD5", 1) && !auth_sasl_mech_offered("ANONYMOUS", 1),
	      "GNU SASL's other mechanisms are not offered");
}

static void test_store_missing(void)
{
	char err[256];
	struct auth_sasl *a = auth_sasl_new("/nonexistent/dir/users.db", err, sizeof(err));
	Gsasl *cg;
	char login[AUTH_LOGIN_MAX + 1];
	const struct client c = {"alice", NULL, "s3cret pass"};
	CHECK(a != NULL, "new: %s", err);
	CHECK(gsasl_init(&cg) == GSASL_OK, "client init");
	gsasl_callback_set(cg, client_cb);
	CHECK(run(a, cg, "PLAIN", &c, NULL, login, sizeof(login)) == AUTH_SASL_TEMP_ERROR,
	      "no store: temporary");
	CHECK(run(a, cg, "SCRAM-SHA-256", &c, NULL, login, sizeof(login)) == AUTH_SASL_TEMP_ERROR,
	      "no store: temporary (scram)");
	gsasl_done(cg);
	auth_sasl_free(a);
}

static void test_conf(void)
{
	static const char text[] = "listen 127.0.0.1:2525\n"
				   "auth-allowlist 127.0.0.3 2001:db8::/32\n"
				   "auth-allowlist 10.0.0.0/8\n"
				   "limit auth-failure-delay 0s\n"
				   "limit auth-session-failures 5\n"
				   "limit auth-ip-failures 50\n"
				   "limit auth-block-time 1h\n"
				   "limit auth-guard-size 100\n";
	struct conf *c;
	char err[256];
	CHECK(conf_parse(text, sizeof(text) - 1, "t", &c, err, sizeof(err)) == 0, "%s", err);
	if (!c)
		return;
	CHECK(c->n_auth_allowlist == 3, "allowlist %zu", c->n_auth_allowlist);
	CHECK(c->limits.auth_failure_delay == 0 && c->limits.auth_session_failures == 5 &&
		  c->limits.auth_ip_failures == 50 && c->limits.auth_block_time == 3600 &&
		  c->limits.auth_guard_size == 100,
	      "limits");
	conf_free(c);
	CHECK(conf_parse("", 0, "t", &c, err, sizeof(err)) == 0, "%s", err);
	CHECK(c->limits.auth_failure_delay == 1 && c->limits.auth_session_failures == 3 &&
		  c->limits.auth_ip_failures == 10 && c->limits.auth_block_time == 900 &&
		  c->limits.auth_guard_size == 8192,
	      "defaults");
	conf_free(c);
	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"auth-allowlist 10.0.0.1/8\n", "t:1:16: invalid CIDR '10.0.0.1/8'"},
	    {"limit auth-failure-delay 31s\n", "t:1:26: value 31s out of range 0s..30s for limit "
					       "auth-failure-delay"},
	    {"limit auth-session-failures 0\n", "t:1:29: value 0 out of range 1..100 for limit "
						"auth-session-failures"},
	    {"limit auth-block-time 2d\n",
	     "t:1:23: value 2d out of range 1s..1d for limit auth-block-time"},
	};
	for (size_t i = 0; i < N(bad); i++) {
		CHECK(conf_parse(bad[i].text, strlen(bad[i].text), "t", &c, err, sizeof(err)) < 0,
		      "%s", bad[i].text);
		CHECK_STR(err, bad[i].err, "%s", bad[i].text);
	}
}

int main(void)
{
	char dir[] = "/tmp/test_sasl.XXXXXX", path[sizeof(dir) + 16], err[256];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/users.db", dir);
	struct auth_store *st = make_store(path);
	struct auth_sasl *a = auth_sasl_new(path, err, sizeof(err));
	CHECK(a != NULL, "new: %s", err);
	if (a) {
		test_exchanges(a);
		test_downgrade_and_probe(a);
		auth_sasl_free(a);
	}
	auth_store_close(st);
	test_store_missing();
	test_conf();
	char cmd[sizeof(dir) + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return check_report("test_sasl");
}
