/* sqlite.c — the abuse store in SQLite (WAL): one connection used by one worker thread of its
 * own (src/util/workq.h), so no blocking call ever runs on the event loop; results come back to
 * the loop through the pool's eventfd. Expiry is a column compared with the request's `now`;
 * expired rows are deleted now and then. */
#include "abuse.h"

#include "../util/util.h"
#include "../util/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SQLITE_BUSY_MS 5000	/* another process (abuse unban) holds the write lock */
#define SQLITE_SWEEP_EVERY 1000 /* writes between two deletions of expired rows */

static const char schema[] = "CREATE TABLE IF NOT EXISTS abuse ("
			     " key TEXT PRIMARY KEY,"
			     " value TEXT NOT NULL,"
			     " expires INTEGER NOT NULL) WITHOUT ROWID;";

struct sqlite_store {
	struct abuse_store pub;
	sqlite3 *db;
	struct workq *q;
	struct event *ev;
	unsigned writes; /* worker thread only */
	int closing;	 /* destroy: requests made by callbacks now fail at once */
};

struct sqlite_job {
	struct sqlite_store *st;
	struct abuse_req req;
	abuse_cb cb;
	void *arg;
	struct abuse_reply reply;
};

static void job_error(struct sqlite_job *j, const char *what)
{
	j->reply.status = ABUSE_ERROR;
	snprintf(j->reply.error, sizeof(j->reply.error), "sqlite %s: %s", what,
		 sqlite3_errmsg(j->st->db));
}

/* One statement with text/int parameters ("t" text, "i" int64), stepped once. */
static int run(sqlite3 *db, sqlite3_stmt **q, const char *sql, const char *types, ...)
{
	va_list ap;
	if (sqlite3_prepare_v2(db, sql, -1, q, NULL) != SQLITE_OK)
		return -1;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(*q, i + 1, va_arg(ap, const char *), -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(*q, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	int rc = sqlite3_step(*q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? rc : -1;
}

/* The live value of key into out (NULL: only whether it exists). 1 found, 0 not, -1 error. */
static int read_value(sqlite3 *db, const char *key, int64_t now, char *out, size_t outlen)
{
	sqlite3_stmt *q = NULL;
	int rc =
	    run(db, &q, "SELECT value FROM abuse WHERE key = ? AND expires > ?", "ti", key, now);
	if (rc == SQLITE_ROW && out)
		util_strlcpy(out, (const char *)sqlite3_column_text(q, 0), outlen);
	sqlite3_finalize(q);
	return rc < 0 ? -1 : rc == SQLITE_ROW;
}

static int write_value(sqlite3 *db, const char *key, const char *value, int64_t expires)
{
	sqlite3_stmt *q = NULL;
	int rc = run(db, &q, "INSERT OR REPLACE INTO abuse (key, value, expires) VALUES (?, ?, ?)",
		     "tti", key, value, expires);
	sqlite3_finalize(q);
	return rc < 0 ? -1 : 0;
}

static void op_get(struct sqlite_job *j)
{
	int rc =
	    read_value(j->st->db, j->req.key, j->req.now, j->reply.value, sizeof(j->reply.value));
	if (rc < 0)
		job_error(j, "get");
	else
		j->reply.status = rc ? ABUSE_OK : ABUSE_NOT_FOUND;
}

/* Inside an IMMEDIATE transaction: the compare and the set are one step for every process. */
static void op_put(struct sqlite_job *j)
{
	const struct abuse_req *r = &j->req;
	char cur[ABUSE_VALUE_MAX];
	int found = read_value(j->st->db, r->key, r->now, cur, sizeof(cur));
	if (found < 0) {
		job_error(j, "put");
		return;
	}
	if ((r->expect == ABUSE_EXPECT_ABSENT && found) ||
	    (r->expect == ABUSE_EXPECT_VALUE && (!found || strcmp(cur, r->expect_value) != 0))) {
		j->reply.status = ABUSE_CONFLICT;
		return;
	}
	if (write_value(j->st->db, r->key, r->value, r->now + r->ttl) < 0) {
		job_error(j, "put");
		return;
	}
	j->reply.status = ABUSE_OK;
}

static void op_incr(struct sqlite_job *j)
{
	const struct abuse_req *r = &j->req;
	sqlite3_stmt *q = NULL;
	int64_t count = r->delta, expires = r->now + r->ttl;
	int rc =
	    run(j->st->db, &q, "SELECT value, expires FROM abuse WHERE key = ? AND expires > ?",
		"ti", r->key, r->now);
	if (rc == SQLITE_ROW) {
		count += strtoll((const char *)sqlite3_column_text(q, 0), NULL, 10);
		expires = sqlite3_column_int64(q, 1); /* a window keeps its end */
	}
	sqlite3_finalize(q);
	char v[32];
	snprintf(v, sizeof(v), "%lld", (long long)count);
	if (rc < 0 || write_value(j->st->db, r->key, v, expires) < 0) {
		job_error(j, "incr");
		return;
	}
	j->reply.status = ABUSE_OK;
	j->reply.count = count;
}

static void op_del(struct sqlite_job *j)
{
	sqlite3_stmt *q = NULL;
	int rc = run(j->st->db, &q, "DELETE FROM abuse WHERE key = ?", "t", j->req.key);
	sqlite3_finalize(q);
	if (rc < 0) {
		job_error(j, "del");
		return;
	}
	j->reply.status = sqlite3_changes(j->st->db) ? ABUSE_OK : ABUSE_NOT_FOUND;
}

static void op_list(struct sqlite_job *j)
{
	const struct abuse_req *r = &j->req;
	sqlite3_stmt *q = NULL;
	size_t cap = 0;
	int rc = run(j->st->db, &q,
		     "SELECT key, value, expires FROM abuse WHERE substr(key, 1, length(?1)) = ?1 "
		     "AND expires > ?2 ORDER BY key",
		     "ti", r->key, r->now);
	while (rc == SQLITE_ROW && j->reply.n_entries < r->max) {
		if (j->reply.n_entries == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct abuse_entry *e = realloc(j->reply.entries, ncap * sizeof(*e));
			if (!e) {
				rc = -1;
				break;
			}
			j->reply.entries = e;
			cap = ncap;
		}
		struct abuse_entry *e = &j->reply.entries[j->reply.n_entries++];
		util_strlcpy(e->key, (const char *)sqlite3_column_text(q, 0), sizeof(e->key));
		util_strlcpy(e->value, (const char *)sqlite3_column_text(q, 1), sizeof(e->value));
		e->expires = sqlite3_column_int64(q, 2);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? rc : -1;
	}
	sqlite3_finalize(q);
	if (rc < 0) {
		job_error(j, "list");
		return;
	}
	j->reply.status = ABUSE_OK;
}

static void sweep(struct sqlite_store *st, int64_t now)
{
	sqlite3_stmt *q = NULL;
	if (++st->writes % SQLITE_SWEEP_EVERY != 0)
		return;
	if (run(st->db, &q, "DELETE FROM abuse WHERE expires <= ?", "i", now) < 0)
		log_msg(LOG_WARN, "abuse: cannot delete expired entries", "error=\"%s\"",
			sqlite3_errmsg(st->db));
	sqlite3_finalize(q);
}

static void job_work(void *arg)
{
	struct sqlite_job *j = arg;
	sqlite3 *db = j->st->db;
	int writes = j->req.op == ABUSE_PUT || j->req.op == ABUSE_INCR;
	if (writes && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		job_error(j, "begin");
		return;
	}
	switch (j->req.op) {
	case ABUSE_GET:
		op_get(j);
		break;
	case ABUSE_PUT:
		op_put(j);
		break;
	case ABUSE_INCR:
		op_incr(j);
		break;
	case ABUSE_DEL:
		op_del(j);
		break;
	case ABUSE_LIST:
		op_list(j);
		break;
	}
	if (!writes)
		return;
	if (sqlite3_exec(db, j->reply.status == ABUSE_ERROR ? "ROLLBACK" : "COMMIT", NULL, NULL,
			 NULL) != SQLITE_OK) {
		job_error(j, "commit");
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	sweep(j->st, j->req.now);
}

static void job_done(void *arg)
{
	struct sqlite_job *j = arg;
	j->cb(j->arg, &j->reply);
	free(j->reply.entries);
	free(j);
}

static void sqlite_submit(void *impl, const struct abuse_req *req, abuse_cb cb, void *arg)
{
	struct sqlite_store *st = impl;
	if (st->closing) { /* the one synchronous answer: nothing will run the loop again */
		struct abuse_reply e = {.status = ABUSE_ERROR};
		snprintf(e.error, sizeof(e.error), "sqlite: store closing");
		cb(arg, &e);
		return;
	}
	struct sqlite_job *j = calloc(1, sizeof(*j));
	if (j) {
		j->st = st;
		j->req = *req;
		j->cb = cb;
		j->arg = arg;
	}
	if (!j || workq_submit(st->q, job_work, job_done, j) < 0) {
		struct abuse_reply e = {.status = ABUSE_ERROR};
		snprintf(e.error, sizeof(e.error), "sqlite: cannot queue the request");
		free(j);
		if (abuse_defer_reply(st->pub.base, &e, cb, arg) < 0)
			cb(arg, &e);
	}
}

static void sqlite_destroy(void *impl)
{
	struct sqlite_store *st = impl;
	st->closing = 1;
	if (st->q) {
		workq_stop(st->q); /* requests under way finish; their callbacks run here */
		workq_run_completions(st->q);
		workq_destroy(st->q);
	}
	if (st->ev)
		event_free(st->ev);
	sqlite3_close(st->db);
	free(st);
}

static const struct abuse_store_ops sqlite_ops = {sqlite_submit, sqlite_destroy};

static void completions_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sqlite_store *st = arg;
	(void)fd, (void)what;
	workq_run_completions(st->q);
}

static int db_open(struct sqlite_store *st, const char *path, int create, char *err, size_t errlen)
{
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (create && util_mkdirs_for(path, 0700) < 0) {
		snprintf(err, errlen, "abuse-store %s: cannot create its directory: %s", path,
			 strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "abuse-store %s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(st->db, SQLITE_BUSY_MS);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "abuse-store %s: %s", path, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

struct abuse_store *abuse_sqlite_open(const char *path, int create, struct event_base *base,
				      char *err, size_t errlen)
{
	struct sqlite_store *st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "abuse-store: out of memory");
		return NULL;
	}
	st->pub.ops = &sqlite_ops;
	st->pub.impl = st;
	st->pub.base = base;
	snprintf(st->pub.name, sizeof(st->pub.name), "sqlite %s", path);
	if (db_open(st, path, create, err, errlen) < 0) {
		sqlite_destroy(st);
		return NULL;
	}
	if (!(st->q = workq_create(1)) ||
	    !(st->ev = event_new(base, workq_notify_fd(st->q), EV_READ | EV_PERSIST, completions_cb,
				 st)) ||
	    event_add(st->ev, NULL) < 0) {
		snprintf(err, errlen, "abuse-store %s: cannot start its thread", path);
		sqlite_destroy(st);
		return NULL;
	}
	return &st->pub;
}
