/* test_auth.c — SCRAM-SHA-256 verifiers against RFC 7677's test vector, SASLprep, login
 * normalisation, and the SQLite credential store on a temporary file. */
#include "auth/auth.h"
#include "check.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* RFC 7677 section 3: user "user", password "pencil". */
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_AUTH_MESSAGE                                                                           \
	"n=user,r=rOprNGfwEbeRWgbNEkqO,"                                                           \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"  \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_CLIENT_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_SIGNATURE "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* `gsasl --mkpasswd --mechanism SCRAM-SHA-256 --password pencil --salt W22ZaJ0SNY7soEsUEjb6gQ==
 * --iteration-count 4096` (GNU SASL 2.2.0) prints
 * {SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,<StoredKey>,<ServerKey>: */
#define GSASL_STORED_KEY "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define GSASL_SERVER_KEY "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

/* Base64 to bytes; the decoded length (padding taken off) or -1. */
static int b64(const char *in, unsigned char *out)
{
	size_t n = strlen(in);
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	for (size_t i = n; i > 0 && in[i - 1] == '='; i--)
		len--;
	return len;
}

static void test_rfc7677_vector(void)
{
	unsigned char salt[32], want[64], proof[64], sig[EVP_MAX_MD_SIZE], key[AUTH_KEY_LEN];
	unsigned siglen = 0;
	struct auth_verifier v;
	int salt_len = b64(RFC_SALT, salt);
	CHECK(salt_len == 16, "salt length %d", salt_len);
	CHECK(auth_verifier_make(S("pencil"), salt, (size_t)salt_len, 4096, &v) == 0, "make");
	CHECK(v.iterations == 4096 && v.salt_len == 16 && !memcmp(v.salt, salt, 16), "params");
	CHECK(b64(GSASL_STORED_KEY, want) == AUTH_KEY_LEN &&
		  !memcmp(v.stored_key, want, AUTH_KEY_LEN),
	      "StoredKey as gsasl --mkpasswd derives it");
	CHECK(b64(GSASL_SERVER_KEY, want) == AUTH_KEY_LEN &&
		  !memcmp(v.server_key, want, AUTH_KEY_LEN),
	      "ServerKey as gsasl --mkpasswd derives it");
	/* The RFC's own exchange: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage) must
	 * hash to StoredKey, and HMAC(ServerKey, AuthMessage) is the server's v=. */
	CHECK(b64(RFC_CLIENT_PROOF, proof) == AUTH_KEY_LEN, "proof");
	HMAC(EVP_sha256(), v.stored_key, AUTH_KEY_LEN, (const unsigned char *)RFC_AUTH_MESSAGE,
	     strlen(RFC_AUTH_MESSAGE), sig, &siglen);
	for (size_t i = 0; i < AUTH_KEY_LEN; i++)
		proof[i] ^= sig[i];
	SHA256(proof, AUTH_KEY_LEN, key);
	CHECK(siglen == AUTH_KEY_LEN && !memcmp(key, v.stored_key, AUTH_KEY_LEN),
	      "RFC ClientProof verifies against StoredKey");
	HMAC(EVP_sha256(), v.server_key, AUTH_KEY_LEN, (const unsigned char *)RFC_AUTH_MESSAGE,
	     strlen(RFC_AUTH_MESSAGE), sig, &siglen);
	CHECK(b64(RFC_SERVER_SIGNATURE, want) == AUTH_KEY_LEN && !memcmp(sig, want, AUTH_KEY_LEN),
	      "ServerSignature is the RFC's v=");

	static const struct {
		const char *pw;
		size_t len;
		int want;
	} checks[] = {
	    {S("pencil"), 1}, {S("Pencil"), 0}, {S("pencil "), 0},	{S("pencil\0"), 0},
	    {S("pencl"), 0},  {S(""), 0},	{S("pencilpencil"), 0},
	};
	for (size_t i = 0; i < N(checks); i++)
		CHECK(auth_verifier_check(&v, checks[i].pw, checks[i].len) == checks[i].want,
		      "check '%s'", esc(checks[i].pw, checks[i].len));
	struct auth_verifier bad = v;
	bad.iterations = 100;
	CHECK(auth_verifier_check(&bad, S("pencil")) == -1, "a verifier below 4096 iterations");
	bad = v;
	bad.salt_len = AUTH_SALT_MAX + 1;
	CHECK(auth_verifier_check(&bad, S("pencil")) == -1, "salt too long");
}

static void test_make_params(void)
{
	unsigned char salt[AUTH_SALT_MAX + 1] = {1};
	struct auth_verifier v, w;
	CHECK(auth_verifier_make(S("pw"), salt, 16, AUTH_MIN_ITERATIONS - 1, &v) == -1, "4095");
	CHECK(auth_verifier_make(S("pw"), salt, 0, 4096, &v) == -1, "empty salt");
	CHECK(auth_verifier_make(S("pw"), salt, AUTH_SALT_MAX + 1, 4096, &v) == -1, "salt 65");
	CHECK(auth_verifier_make(S("pw"), salt, AUTH_SALT_MAX, 4096, &v) == 0, "salt 64");
	CHECK(auth_verifier_make(S("p\0w"), salt, 16, 4096, &v) == -1, "a NUL in the password");
	CHECK(auth_verifier_make(S("pw"), salt, 16, AUTH_MAX_ITERATIONS + 1, &v) == -1, "too many");
	CHECK(auth_verifier_new(S("secret"), 4096, &v) == 0 &&
		  auth_verifier_new(S("secret"), 4096, &w) == 0,
	      "new");
	CHECK(v.salt_len == AUTH_SALT_LEN && memcmp(v.salt, w.salt, AUTH_SALT_LEN),
	      "fresh random salts");
	CHECK(memcmp(v.stored_key, w.stored_key, AUTH_KEY_LEN), "different salts, different keys");
	CHECK(auth_verifier_check(&v, S("secret")) == 1 &&
		  auth_verifier_check(&w, S("secret")) == 1,
	      "both verify");
	CHECK(auth_verifier_make(S("secret"), v.salt, v.salt_len, 5000, &w) == 0 &&
		  memcmp(v.stored_key, w.stored_key, AUTH_KEY_LEN),
	      "the iteration count changes the keys");
}

static void test_password_prep(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want; /* NULL: refused */
	} cases[] = {
	    {S("pencil"), "pencil"},
	    {S("I\xc2\xad"
	       "X"),
	     "IX"}, /* RFC 4013 3: soft hyphen maps to nothing */
	    {S("a\xc2\xa0"
	       "b"),
	     "a b"},		       /* non-ASCII space maps to SPACE */
	    {S("\xe2\x85\xa8"), "IX"}, /* NFKC: ROMAN NUMERAL NINE */
	    {S("\x07"), NULL},	       /* prohibited: control character */
	    {S("a\0b"), NULL},	       /* NUL */
	    {S("\xd8\xa7"
	       "1"),
	     NULL}, /* bidi: RandALCat first, not last */
	};
	char out[AUTH_PASSWORD_MAX + 1];
	for (size_t i = 0; i < N(cases); i++) {
		size_t len = 0;
		int rc = auth_password_prep(cases[i].in, cases[i].len, out, sizeof(out), &len);
		if (cases[i].want)
			CHECK(rc == 0 && len == strlen(cases[i].want) &&
				  !strcmp(out, cases[i].want),
			      "prep '%s' -> '%s'", esc(cases[i].in, cases[i].len),
			      rc ? "(refused)" : esc(out, len));
		else
			CHECK(rc == -1, "prep '%s' refused", esc(cases[i].in, cases[i].len));
	}
	static char big[AUTH_PASSWORD_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	size_t len;
	CHECK(auth_password_prep(big, AUTH_PASSWORD_MAX, out, sizeof(out), &len) == 0 &&
		  len == AUTH_PASSWORD_MAX,
	      "longest password");
	CHECK(auth_password_prep(big, AUTH_PASSWORD_MAX + 1, out, sizeof(out), &len) == -1,
	      "password too long");
	CHECK(auth_password_prep(S("pencil"), out, 6, &len) == -1, "out too small");
}

static void test_login_normalise(void)
{
	static char longest[AUTH_LOGIN_MAX + 2];
	memset(longest, 'a', sizeof(longest) - 1);
	static const struct {
		const char *in, *want; /* want NULL: refused */
	} cases[] = {
	    {"Alice@Example.TEST", "alice@example.test"},
	    {"bob", "bob"},
	    {"J\xc3\x96RG@example.test", "j\xc3\x96rg@example.test"}, /* non-ASCII kept */
	    {"with space", "with space"},
	    {"", NULL},
	    {"a\nb", NULL},
	    {"a\rb", NULL},
	    {"tab\t", NULL},
	    {"del\x7f", NULL},
	    {longest + 1, longest + 1}, /* 255 octets */
	    {longest, NULL},		/* 256 */
	};
	char out[AUTH_LOGIN_MAX + 1];
	for (size_t i = 0; i < N(cases); i++) {
		int rc = auth_login_normalise(cases[i].in, out, sizeof(out));
		if (cases[i].want)
			CHECK(rc == 0 && !strcmp(out, cases[i].want), "login '%s'",
			      esc(cases[i].in, strlen(cases[i].in)));
		else
			CHECK(rc == -1, "login '%s' refused",
			      esc(cases[i].in, strlen(cases[i].in)));
	}
	CHECK(auth_login_normalise("bob", out, 3) == -1, "out too small");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void on_user(void *arg, const struct auth_user_info *u)
{
	struct auth_user_info *last = arg;
	*last = *u;
}

struct reader {
	struct auth_store *st;
	int found;
};

static void *read_many(void *arg)
{
	struct reader *r = arg;
	struct auth_verifier v;
	for (int i = 0; i < 200; i++)
		r->found += auth_store_get(r->st, "ALICE@example.test", &v) == AUTH_FOUND;
	return NULL;
}

/* One handle shared by threads (the server's pool) gives every thread the row. */
static void test_store_threads(struct auth_store *st)
{
	struct reader r[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){.st = st};
		CHECK(pthread_create(&t[i], NULL, read_many, &r[i]) == 0, "thread %d", i);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(r[i].found == 200, "thread %d found %d of 200", i, r[i].found);
	}
}

static void test_store_changes(struct auth_store *st, const struct auth_verifier *v1)
{
	struct auth_verifier got, v2;
	CHECK(auth_store_add(st, "Alice@Example.TEST", v1) == 0, "add");
	CHECK(auth_store_add(st, "alice@example.test", v1) == 1, "a second add is refused");
	CHECK(auth_store_add(st, "a\nb", v1) == 1, "an invalid login is refused");
	CHECK(auth_store_get(st, "ALICE@example.test", &got) == AUTH_FOUND, "get, any case");
	CHECK(!memcmp(&got.salt, v1->salt, v1->salt_len) && got.salt_len == v1->salt_len &&
		  got.iterations == v1->iterations &&
		  !memcmp(got.stored_key, v1->stored_key, AUTH_KEY_LEN) &&
		  !memcmp(got.server_key, v1->server_key, AUTH_KEY_LEN),
	      "the verifier comes back as stored");
	CHECK(auth_verifier_check(&got, S("first")) == 1, "its password checks");
	CHECK(auth_store_get(st, "bob", &got) == AUTH_NO_USER, "unknown login");
	CHECK(auth_store_get(st, "", &got) == AUTH_NO_USER, "empty login");
	CHECK(auth_store_lock(st, "alice@EXAMPLE.test", 1) == 0, "lock");
	CHECK(auth_store_get(st, "alice@example.test", &got) == AUTH_LOCKED &&
		  got.iterations == v1->iterations,
	      "locked, and the verifier still filled");
	CHECK(auth_store_lock(st, "alice@example.test", 0) == 0 &&
		  auth_store_get(st, "alice@example.test", &got) == AUTH_FOUND,
	      "unlock");
	CHECK(auth_store_lock(st, "bob", 1) == 1, "lock an unknown login");
	CHECK(auth_verifier_new(S("second"), 5000, &v2) == 0, "second verifier");
	CHECK(auth_store_set(st, "ALICE@example.test", &v2) == 0, "passwd");
	CHECK(auth_store_set(st, "bob", &v2) == 1, "passwd of an unknown login");
	CHECK(auth_store_get(st, "alice@example.test", &got) == AUTH_FOUND, "get after passwd");
	CHECK(memcmp(got.salt, v1->salt, AUTH_SALT_LEN) &&
		  memcmp(got.stored_key, v1->stored_key, AUTH_KEY_LEN) &&
		  memcmp(got.server_key, v1->server_key, AUTH_KEY_LEN) && got.iterations == 5000,
	      "passwd changes salt, keys and iterations");
	CHECK(auth_verifier_check(&got, S("second")) == 1 &&
		  auth_verifier_check(&got, S("first")) == 0,
	      "the new password checks, the old one not");
	struct auth_user_info last = {0};
	CHECK(auth_store_list(st, on_user, &last) == 1 &&
		  !strcmp(last.login, "alice@example.test") && last.iterations == 5000 &&
		  !last.locked && last.created > 0 && last.updated >= last.created,
	      "list");
}

/* A file with another schema version is not taken for a store (nor changed). */
static void test_store_foreign(const char *dir)
{
	char path[512], err[256];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/other.db", dir);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK &&
		  sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL) == SQLITE_OK,
	      "a foreign file");
	sqlite3_close(db);
	CHECK(auth_store_open(path, 1, err, sizeof(err)) == NULL && strstr(err, "schema 7"),
	      "schema 7 refused: %s", err);
}

static void test_store(void)
{
	char dir[] = "/tmp/rg-test-auth-XXXXXX", path[512], err[256] = "";
	struct auth_verifier v1, got;
	struct stat sb;
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/var/db/users.db", dir);
	CHECK(auth_store_open(path, 0, err, sizeof(err)) == NULL && err[0],
	      "no file, no create: %s", err);
	struct auth_store *st = auth_store_open(path, 1, err, sizeof(err));
	CHECK(st != NULL, "open: %s", err);
	if (!st)
		return;
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "file mode %o",
	      sb.st_mode & 0777);
	CHECK(auth_verifier_new(S("first"), 4096, &v1) == 0, "verifier");
	test_store_changes(st, &v1);
	/* A second handle (the server while the CLI writes) sees committed changes at once. */
	struct auth_store *other = auth_store_open(path, 0, err, sizeof(err));
	CHECK(other != NULL, "second handle: %s", err);
	test_store_threads(other);
	CHECK(auth_store_add(st, "carol", &v1) == 0 &&
		  auth_store_get(other, "carol", &got) == AUTH_FOUND,
	      "a new user is seen by the other handle");
	CHECK(auth_store_del(st, "alice@example.test") == 0, "del");
	CHECK(auth_store_get(other, "alice@example.test", &got) == AUTH_NO_USER, "gone");
	CHECK(auth_store_del(st, "alice@example.test") == 1, "del again");
	auth_store_close(other);
	auth_store_close(st);
	st = auth_store_open(path, 0, err, sizeof(err));
	CHECK(st && auth_store_get(st, "carol", &got) == AUTH_FOUND, "reopened: %s", err);
	auth_store_close(st);
	test_store_foreign(dir);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	test_rfc7677_vector();
	test_make_params();
	test_password_prep();
	test_login_normalise();
	test_store();
	return check_report("test_auth");
}
