/* sqlite.c — the abuse store in SQLite (WAL): one connection used by one worker thread of its
 * own, so no blocking call ever runs on the event loop. Group commit: the thread takes every
 * request queued since its last turn and runs them, in order, in ONE transaction (one commit,
 * one WAL append), then hands all their results back to the loop with one eventfd wakeup. If
 * any request of a batch fails, the batch is rolled back and each request runs again in a
 * transaction of its own, so one failure never fails its neighbours. Statements are prepared
 * once. Expiry is a column compared with the request's `now`; expired rows are deleted now and
 * then. */
#include "abuse.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQLITE_BUSY_MS 5000	/* another process (abuse unban) holds the write lock */
#define SQLITE_SWEEP_EVERY 1000 /* writes between two deletions of expired rows */
#define SQLITE_BATCH_MAX 512	/* requests in one transaction at most */

static const char schema[] = "CREATE TABLE IF NOT EXISTS abuse ("
			     " key TEXT PRIMARY KEY,"
			     " value TEXT NOT NULL,"
			     " expires INTEGER NOT NULL) WITHOUT ROWID;";

enum sql_id { SQL_READ, SQL_READ_EXP, SQL_WRITE, SQL_DEL, SQL_LIST, SQL_SWEEP, SQL_N };
static const char *const sql_text[SQL_N] = {
    [SQL_READ] = "SELECT value FROM abuse WHERE key = ? AND expires > ?",
    [SQL_READ_EXP] = "SELECT value, expires FROM abuse WHERE key = ? AND expires > ?",
    [SQL_WRITE] = "INSERT OR REPLACE INTO abuse (key, value, expires) VALUES (?, ?, ?)",
    [SQL_DEL] = "DELETE FROM abuse WHERE key = ?",
    [SQL_LIST] = ("SELECT key, value, expires FROM abuse WHERE substr(key, 1, length(?1)) = ?1 "
		  "AND expires > ?2 ORDER BY key"),
    [SQL_SWEEP] = "DELETE FROM abuse WHERE expires <= ?",
};

struct sqlite_job {
	struct sqlite_job *next;
	struct sqlite_store *st;
	struct abuse_req req;
	abuse_cb cb;
	void *arg;
	struct abuse_reply reply;
};

/* A FIFO of jobs. */
struct job_list {
	struct sqlite_job *head, *tail;
	size_t n;
};

struct sqlite_store {
	struct abuse_store pub;
	sqlite3 *db;
	sqlite3_stmt *stmt[SQL_N]; /* prepared once, worker thread only */
	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu; /* guards todo, finished, stopping */
	pthread_cond_t cv;
	struct job_list todo, finished;
	int stopping;
	int notify_fd; /* eventfd: finished jobs wait */
	struct event *ev;
	unsigned writes;		  /* worker thread only */
	unsigned long long batches, jobs; /* worker thread only: the group-commit ratio */
	int closing;			  /* destroy: requests made by callbacks now fail at once */
};

static void list_push(struct job_list *l, struct sqlite_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void job_error(struct sqlite_job *j, const char *what)
{
	j->reply.status = ABUSE_ERROR;
	snprintf(j->reply.error, sizeof(j->reply.error), "sqlite %s: %s", what,
		 sqlite3_errmsg(j->st->db));
}

/* The cached statement id with text/int parameters ("t" text, "i" int64), stepped once; reset
 * it with stmt_done after reading its columns. SQLITE_ROW, SQLITE_DONE or -1. */
static int run(struct sqlite_store *st, enum sql_id id, sqlite3_stmt **q, const char *types, ...)
{
	va_list ap;
	if (!st->stmt[id] && sqlite3_prepare_v3(st->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT,
						&st->stmt[id], NULL) != SQLITE_OK) {
		*q = NULL;
		return -1;
	}
	*q = st->stmt[id];
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

static void stmt_done(sqlite3_stmt *q)
{
	if (q) {
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
}

/* The live value of key into out (NULL: only whether it exists). 1 found, 0 not, -1 error. */
static int read_value(struct sqlite_store *st, const char *key, int64_t now, char *out,
		      size_t outlen)
{
	sqlite3_stmt *q;
	int rc = run(st, SQL_READ, &q, "ti", key, now);
	if (rc == SQLITE_ROW && out)
		util_strlcpy(out, (const char *)sqlite3_column_text(q, 0), outlen);
	stmt_done(q);
	return rc < 0 ? -1 : rc == SQLITE_ROW;
}

static int write_value(struct sqlite_store *st, const char *key, const char *value, int64_t expires)
{
	sqlite3_stmt *q;
	int rc = run(st, SQL_WRITE, &q, "tti", key, value, expires);
	stmt_done(q);
	return rc < 0 ? -1 : 0;
}

static void op_get(struct sqlite_job *j)
{
	int rc = read_value(j->st, j->req.key, j->req.now, j->reply.value, sizeof(j->reply.value));
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
	int found = read_value(j->st, r->key, r->now, cur, sizeof(cur));
	if (found < 0) {
		job_error(j, "put");
		return;
	}
	if ((r->expect == ABUSE_EXPECT_ABSENT && found) ||
	    (r->expect == ABUSE_EXPECT_VALUE && (!found || strcmp(cur, r->expect_value) != 0))) {
		j->reply.status = ABUSE_CONFLICT;
		return;
	}
	if (write_value(j->st, r->key, r->value, r->now + r->ttl) < 0) {
		job_error(j, "put");
		return;
	}
	j->reply.status = ABUSE_OK;
}

static void op_incr(struct sqlite_job *j)
{
	const struct abuse_req *r = &j->req;
	sqlite3_stmt *q;
	int64_t count = r->delta, expires = r->now + r->ttl;
	int rc = run(j->st, SQL_READ_EXP, &q, "ti", r->key, r->now);
	if (rc == SQLITE_ROW) {
		count += strtoll((const char *)sqlite3_column_text(q, 0), NULL, 10);
		expires = sqlite3_column_int64(q, 1); /* a window keeps its end */
	}
	stmt_done(q);
	char v[32];
	snprintf(v, sizeof(v), "%lld", (long long)count);
	if (rc < 0 || write_value(j->st, r->key, v, expires) < 0) {
		job_error(j, "incr");
		return;
	}
	j->reply.status = ABUSE_OK;
	j->reply.count = count;
}

static void op_del(struct sqlite_job *j)
{
	sqlite3_stmt *q;
	int rc = run(j->st, SQL_DEL, &q, "t", j->req.key);
	stmt_done(q);
	if (rc < 0) {
		job_error(j, "del");
		return;
	}
	j->reply.status = sqlite3_changes(j->st->db) ? ABUSE_OK : ABUSE_NOT_FOUND;
}

static void op_list(struct sqlite_job *j)
{
	const struct abuse_req *r = &j->req;
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc = run(j->st, SQL_LIST, &q, "ti", r->key, r->now);
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
	stmt_done(q);
	if (rc < 0) {
		job_error(j, "list");
		return;
	}
	j->reply.status = ABUSE_OK;
}

/* Delete expired rows once every SQLITE_SWEEP_EVERY writes (in autocommit, after a batch). */
static void sweep(struct sqlite_store *st, unsigned writes, int64_t now)
{
	sqlite3_stmt *q;
	unsigned before = st->writes;
	st->writes += writes;
	if (before / SQLITE_SWEEP_EVERY == st->writes / SQLITE_SWEEP_EVERY)
		return;
	if (run(st, SQL_SWEEP, &q, "i", now) < 0)
		log_msg(LOG_WARN, "abuse: cannot delete expired entries", "error=\"%s\"",
			sqlite3_errmsg(st->db));
	stmt_done(q);
}

static int op_writes(enum abuse_op op)
{
	return op == ABUSE_PUT || op == ABUSE_INCR || op == ABUSE_DEL;
}

static void op_run(struct sqlite_job *j)
{
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
}

static void reply_reset(struct sqlite_job *j)
{
	free(j->reply.entries);
	memset(&j->reply, 0, sizeof(j->reply));
}

/* Run jobs in one transaction (IMMEDIATE when one of them writes: the compare and the set of a
 * PUT are one step for every process). 0 committed, -1 rolled back (nothing of it happened),
 * -2 not begun (another process held the lock past the busy timeout, or the database fails). */
static int batch_run(struct sqlite_store *st, struct sqlite_job *jobs, size_t n, int writes)
{
	sqlite3 *db = st->db;
	if (sqlite3_exec(db, writes ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -2;
	int ok = 1;
	size_t i = 0;
	for (struct sqlite_job *j = jobs; ok && i < n; j = j->next, i++) {
		op_run(j);
		ok = j->reply.status != ABUSE_ERROR && !sqlite3_get_autocommit(db);
	}
	if (ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Run the jobs (a list of n), in order: one transaction for all, or when a request fails, one
 * each (the first attempt's results are discarded: it was rolled back). When the transaction
 * cannot even begin, every job fails. Worker thread. */
static void jobs_run(struct sqlite_store *st, struct sqlite_job *jobs, size_t n)
{
	unsigned writes = 0;
	int64_t now = 0;
	for (struct sqlite_job *j = jobs; j; j = j->next) {
		writes += op_writes(j->req.op);
		now = j->req.now > now ? j->req.now : now;
	}
	st->batches++;
	st->jobs += n;
	int rc = batch_run(st, jobs, n, writes > 0);
	for (struct sqlite_job *j = jobs; rc == -2 && j; j = j->next)
		job_error(j, "begin"); /* the busy timeout passed once: not again for each */
	for (struct sqlite_job *j = jobs; rc == -1 && j; j = j->next) {
		reply_reset(j);
		int one = batch_run(st, j, 1, op_writes(j->req.op));
		if (one == -2 || (one == -1 && j->reply.status != ABUSE_ERROR))
			job_error(j, one == -2 ? "begin" : "transaction");
	}
	if (writes)
		sweep(st, writes, now);
}

/* The worker: take everything queued (up to SQLITE_BATCH_MAX), run it, hand it back. */
static void *worker(void *arg)
{
	struct sqlite_store *st = arg;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (!st->todo.head && !st->stopping)
			pthread_cond_wait(&st->cv, &st->mu);
		if (!st->todo.head)
			break;
		struct sqlite_job *batch = st->todo.head, *last = batch;
		size_t n = 1;
		while (last->next && n < SQLITE_BATCH_MAX) {
			last = last->next;
			n++;
		}
		st->todo.head = last->next;
		if (!st->todo.head)
			st->todo.tail = NULL;
		st->todo.n -= n;
		last->next = NULL;
		pthread_mutex_unlock(&st->mu);
		jobs_run(st, batch, n);
		pthread_mutex_lock(&st->mu);
		int was_empty = st->finished.head == NULL;
		if (st->finished.tail)
			st->finished.tail->next = batch;
		else
			st->finished.head = batch;
		st->finished.tail = last;
		st->finished.n += n;
		uint64_t one = 1;
		if (was_empty) /* else the loop has a wakeup pending already */
			(void)!write(st->notify_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* Loop thread: run the callbacks of every finished job, in the order they were made. */
static void run_completions(struct sqlite_store *st)
{
	uint64_t v;
	pthread_mutex_lock(&st->mu);
	(void)!read(st->notify_fd, &v, sizeof(v));
	struct sqlite_job *list = st->finished.head;
	st->finished = (struct job_list){0};
	pthread_mutex_unlock(&st->mu);
	while (list) {
		struct sqlite_job *next = list->next;
		list->cb(list->arg, &list->reply);
		free(list->reply.entries);
		free(list);
		list = next;
	}
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
	struct sqlite_job *j = malloc(sizeof(*j));
	if (!j) {
		struct abuse_reply e = {.status = ABUSE_ERROR};
		snprintf(e.error, sizeof(e.error), "sqlite: cannot queue the request");
		if (abuse_defer_reply(st->pub.base, &e, cb, arg) < 0)
			cb(arg, &e);
		return;
	}
	memset(&j->reply, 0, sizeof(j->reply));
	j->st = st;
	j->req = *req;
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&st->mu);
	if (!st->todo.head) /* else the worker is awake or has a wakeup pending */
		pthread_cond_signal(&st->cv);
	list_push(&st->todo, j);
	pthread_mutex_unlock(&st->mu);
}

static void worker_stop(struct sqlite_store *st)
{
	if (!st->thread_started)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = 1;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->thread, NULL); /* it finishes every queued job first */
	st->thread_started = 0;
}

static void sqlite_destroy(void *impl)
{
	struct sqlite_store *st = impl;
	st->closing = 1;
	worker_stop(st);
	if (st->notify_fd >= 0)
		run_completions(st); /* requests under way: their callbacks run here */
	if (st->jobs)
		log_msg(LOG_DEBUG, "abuse: sqlite store closed", "requests=%llu transactions=%llu",
			st->jobs, st->batches);
	if (st->ev)
		event_free(st->ev);
	for (int i = 0; i < SQL_N; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	if (st->notify_fd >= 0)
		close(st->notify_fd);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

static const struct abuse_store_ops sqlite_ops = {sqlite_submit, sqlite_destroy};

static void completions_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	run_completions(arg);
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
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->notify_fd = -1;
	if (db_open(st, path, create, err, errlen) < 0) {
		sqlite_destroy(st);
		return NULL;
	}
	if ((st->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    !(st->ev = event_new(base, st->notify_fd, EV_READ | EV_PERSIST, completions_cb, st)) ||
	    event_add(st->ev, NULL) < 0 || pthread_create(&st->thread, NULL, worker, st) != 0) {
		snprintf(err, errlen, "abuse-store %s: cannot start its thread", path);
		sqlite_destroy(st);
		return NULL;
	}
	st->thread_started = 1;
	return &st->pub;
}
