/* store.c — the credential store: one SQLite file in WAL mode, so `relayguard user` writes while
 * the server reads without a restart. One connection per handle (SQLITE_OPEN_FULLMUTEX makes it
 * safe to share between threads); every statement is prepared per call with bound parameters,
 * so no two threads ever share a statement's bind/step/reset sequence. */
#include "auth.h"

#include "../util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_MS 5000 /* a writer holds the lock for one short transaction */

struct auth_store {
	sqlite3 *db;
};

static const char schema_sql[] = "CREATE TABLE IF NOT EXISTS users ("
				 " login TEXT PRIMARY KEY NOT NULL,"
				 " salt BLOB NOT NULL,"
				 " iterations INTEGER NOT NULL,"
				 " stored_key BLOB NOT NULL,"
				 " server_key BLOB NOT NULL,"
				 " locked INTEGER NOT NULL DEFAULT 0,"
				 " created INTEGER NOT NULL,"
				 " updated INTEGER NOT NULL);"
				 "PRAGMA user_version = 1;"; /* STORE_SCHEMA_VERSION */

/* A file root creates belongs to the owner of its directory (/var/lib/relayguard, the server's
 * user): `sudo relayguard user add` must not make a store the server cannot read. SQLite gives
 * its -wal and -shm files the owner of the database file in turn. */
static int give_to_dir_owner(int fd, const char *path)
{
	char dir[PATH_MAX];
	struct stat sb;
	const char *slash = strrchr(path, '/');
	if (geteuid() != 0)
		return 0;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &sb) < 0)
		return -1;
	return sb.st_uid == 0 ? 0 : fchown(fd, sb.st_uid, sb.st_gid);
}

/* The file exists before SQLite opens it, with mode 0600: SQLite would make it 0644 (less the
 * umask), and it gives its -wal and -shm files the mode of the database file. */
static int make_db_file(const char *path, char *err, size_t errlen)
{
	if (util_mkdirs_for(path, 0700) < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0 || give_to_dir_owner(fd, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return -1;
	}
	close(fd);
	return 0;
}

static int schema_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(q) == SQLITE_ROW ? 0 : -1;
	*version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return rc;
}

/* WAL, then the schema: made in an empty file when create, else it must be ours. */
static int store_setup(sqlite3 *db, const char *path, int create, char *err, size_t errlen)
{
	int version = 0;
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    schema_version(db, &version) < 0) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	if (version != 0 || !create) {
		snprintf(err, errlen,
			 "%s: not a credential store of this version (schema %d, want %d)", path,
			 version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot create the schema: %s", path, sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

struct auth_store *auth_store_open(const char *path, int create, char *err, size_t errlen)
{
	struct auth_store *st;
	if (create && make_db_file(path, err, errlen) < 0)
		return NULL;
	if (!(st = calloc(1, sizeof(*st)))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		auth_store_close(st);
		return NULL;
	}
	if (store_setup(st->db, path, create, err, errlen) < 0) {
		auth_store_close(st);
		return NULL;
	}
	return st;
}

void auth_store_close(struct auth_store *st)
{
	if (!st)
		return;
	sqlite3_close_v2(st->db);
	free(st);
}

void auth_store_last_error(struct auth_store *st, char *buf, size_t len)
{
	if (!len)
		return;
	sqlite3_mutex *m = sqlite3_db_mutex(st->db);
	sqlite3_mutex_enter(m);
	snprintf(buf, len, "%s", sqlite3_errmsg(st->db));
	sqlite3_mutex_leave(m);
}

/* Prepare sql and bind the normalised login as ?1. NULL on error; *refused = 1 when the login
 * itself is invalid (no statement then either). */
static sqlite3_stmt *prepare_login(struct auth_store *st, const char *sql, const char *login,
				   int *refused)
{
	char norm[AUTH_LOGIN_MAX + 1];
	sqlite3_stmt *q;
	*refused = 0;
	if (auth_login_normalise(login, norm, sizeof(norm)) < 0) {
		*refused = 1;
		return NULL;
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	if (sqlite3_bind_text(q, 1, norm, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		sqlite3_finalize(q);
		return NULL;
	}
	return q;
}

/* A row's verifier columns (from column first on) into *out; -1 when they are not a valid
 * verifier (a damaged or foreign row is an error, never a login). */
static int row_verifier(sqlite3_stmt *q, int first, struct auth_verifier *out)
{
	const void *salt = sqlite3_column_blob(q, first);
	int salt_len = sqlite3_column_bytes(q, first);
	sqlite3_int64 iter = sqlite3_column_int64(q, first + 1);
	const void *sk = sqlite3_column_blob(q, first + 2);
	int sk_len = sqlite3_column_bytes(q, first + 2);
	const void *vk = sqlite3_column_blob(q, first + 3);
	int vk_len = sqlite3_column_bytes(q, first + 3);
	memset(out, 0, sizeof(*out));
	if (!salt || salt_len < 1 || salt_len > AUTH_SALT_MAX || iter < AUTH_MIN_ITERATIONS ||
	    iter > AUTH_MAX_ITERATIONS || !sk || sk_len != AUTH_KEY_LEN || !vk ||
	    vk_len != AUTH_KEY_LEN)
		return -1;
	memcpy(out->salt, salt, (size_t)salt_len);
	out->salt_len = (size_t)salt_len;
	out->iterations = (unsigned)iter;
	memcpy(out->stored_key, sk, AUTH_KEY_LEN);
	memcpy(out->server_key, vk, AUTH_KEY_LEN);
	return 0;
}

enum auth_lookup auth_store_get(struct auth_store *st, const char *login, struct auth_verifier *out)
{
	int refused;
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *q = prepare_login(
	    st,
	    "SELECT locked, salt, iterations, stored_key, server_key FROM users WHERE login = ?1",
	    login, &refused);
	if (!q)
		return refused ? AUTH_NO_USER : AUTH_STORE_ERROR;
	enum auth_lookup res = AUTH_STORE_ERROR;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_DONE)
		res = AUTH_NO_USER;
	else if (rc == SQLITE_ROW && row_verifier(q, 1, out) == 0)
		res = sqlite3_column_int(q, 0) ? AUTH_LOCKED : AUTH_FOUND;
	sqlite3_finalize(q);
	return res;
}

/* Bind a verifier as ?2 salt, ?3 iterations, ?4 stored_key, ?5 server_key, ?6 now. */
static int bind_verifier(sqlite3_stmt *q, const struct auth_verifier *v)
{
	if (v->salt_len < 1 || v->salt_len > AUTH_SALT_MAX || v->iterations < AUTH_MIN_ITERATIONS ||
	    v->iterations > AUTH_MAX_ITERATIONS)
		return -1;
	return sqlite3_bind_blob(q, 2, v->salt, (int)v->salt_len, SQLITE_TRANSIENT) == SQLITE_OK &&
		       sqlite3_bind_int64(q, 3, v->iterations) == SQLITE_OK &&
		       sqlite3_bind_blob(q, 4, v->stored_key, AUTH_KEY_LEN, SQLITE_TRANSIENT) ==
			   SQLITE_OK &&
		       sqlite3_bind_blob(q, 5, v->server_key, AUTH_KEY_LEN, SQLITE_TRANSIENT) ==
			   SQLITE_OK &&
		       sqlite3_bind_int64(q, 6, (sqlite3_int64)time(NULL)) == SQLITE_OK
		   ? 0
		   : -1;
}

/* Run a one-row change ending in "RETURNING login" (a row back = done: unlike
 * sqlite3_changes, no other thread's statement can change that answer). 0 done, 1 refused (no
 * such row / the row exists already), -1 error. */
static int run_change(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q), res;
	if (rc == SQLITE_ROW)
		res = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	else if (rc == SQLITE_DONE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		res = 1;
	else
		res = -1;
	sqlite3_finalize(q);
	return res;
}

static int change_verifier(struct auth_store *st, const char *sql, const char *login,
			   const struct auth_verifier *v)
{
	int refused;
	sqlite3_stmt *q = prepare_login(st, sql, login, &refused);
	if (!q)
		return refused ? 1 : -1;
	if (bind_verifier(q, v) < 0) {
		sqlite3_finalize(q);
		return -1;
	}
	return run_change(q);
}

int auth_store_add(struct auth_store *st, const char *login, const struct auth_verifier *v)
{
	return change_verifier(st,
			       "INSERT INTO users (login, salt, iterations, stored_key, server_key,"
			       " locked, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)"
			       " RETURNING login",
			       login, v);
}

int auth_store_set(struct auth_store *st, const char *login, const struct auth_verifier *v)
{
	return change_verifier(st,
			       "UPDATE users SET salt = ?2, iterations = ?3, stored_key = ?4,"
			       " server_key = ?5, updated = ?6 WHERE login = ?1 RETURNING login",
			       login, v);
}

int auth_store_del(struct auth_store *st, const char *login)
{
	int refused;
	sqlite3_stmt *q = prepare_login(st, "DELETE FROM users WHERE login = ?1 RETURNING login",
					login, &refused);
	return q ? run_change(q) : refused ? 1 : -1;
}

int auth_store_lock(struct auth_store *st, const char *login, int locked)
{
	int refused;
	sqlite3_stmt *q = prepare_login(
	    st, "UPDATE users SET locked = ?2, updated = ?3 WHERE login = ?1 RETURNING login",
	    login, &refused);
	if (!q)
		return refused ? 1 : -1;
	if (sqlite3_bind_int(q, 2, locked ? 1 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL)) != SQLITE_OK) {
		sqlite3_finalize(q);
		return -1;
	}
	return run_change(q);
}

long auth_store_list(struct auth_store *st, void (*fn)(void *arg, const struct auth_user_info *u),
		     void *arg)
{
	sqlite3_stmt *q;
	struct auth_user_info u;
	long n = 0;
	int rc;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT login, locked, iterations, created, updated FROM users"
			       " ORDER BY login",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *login = sqlite3_column_text(q, 0);
		memset(&u, 0, sizeof(u));
		snprintf(u.login, sizeof(u.login), "%s", login ? (const char *)login : "");
		u.locked = sqlite3_column_int(q, 1) != 0;
		u.iterations = (unsigned)sqlite3_column_int64(q, 2);
		u.created = sqlite3_column_int64(q, 3);
		u.updated = sqlite3_column_int64(q, 4);
		fn(arg, &u);
		n++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? n : -1;
}
