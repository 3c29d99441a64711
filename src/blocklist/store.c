/* store.c — the blocklist store in SQLite (WAL): entries (one row per network), the history of
 * every state change, and the clean scans. The CLI and the scanner write while `relayguard
 * dnsbl` reads on its own connection; WAL lets both run at once. */
#include "blocklist.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_MS 5000 /* another process holds the write lock */

struct blocklist {
	sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS entries ("
    " net TEXT PRIMARY KEY, addr BLOB NOT NULL, prefix INTEGER NOT NULL,"
    " code INTEGER NOT NULL, txt TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " last_clean INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL CHECK (state IN ('listed','delisted','expired')),"
    " evidence TEXT);"
    "CREATE INDEX IF NOT EXISTS entries_state ON entries(state);"
    "CREATE TABLE IF NOT EXISTS history ("
    " id INTEGER PRIMARY KEY, net TEXT NOT NULL, time INTEGER NOT NULL,"
    " state TEXT NOT NULL, who TEXT NOT NULL, why TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS history_net ON history(net, id);"
    "CREATE TABLE IF NOT EXISTS scans ("
    " addr BLOB PRIMARY KEY, last_clean INTEGER NOT NULL, scanner TEXT NOT NULL) WITHOUT ROWID;";

static const char *const state_names[] = {"listed", "delisted", "expired"};

const char *blocklist_state_name(enum blocklist_state s)
{
	return (unsigned)s < 3 ? state_names[s] : "?";
}

static enum blocklist_state state_parse(const char *s)
{
	for (unsigned i = 0; i < 3; i++)
		if (s && !strcmp(s, state_names[i]))
			return (enum blocklist_state)i;
	return BLOCKLIST_EXPIRED;
}

static int db_error(struct blocklist *b, const char *what, char *err, size_t errlen)
{
	if (err && errlen)
		snprintf(err, errlen, "blocklist %s: %s", what, sqlite3_errmsg(b->db));
	return -1;
}

/* Prepare sql and bind "t" text, "i" int64, "b" 16-byte blob parameters. NULL on error. */
static sqlite3_stmt *stmt_bind(sqlite3 *db, const char *sql, const char *types, ...)
{
	sqlite3_stmt *q;
	va_list ap;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	va_start(ap, types);
	int rc = SQLITE_OK;
	for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
		if (types[i] == 't')
			rc = sqlite3_bind_text(q, i + 1, va_arg(ap, const char *), -1,
					       SQLITE_TRANSIENT);
		else if (types[i] == 'i')
			rc = sqlite3_bind_int64(q, i + 1, va_arg(ap, int64_t));
		else
			rc = sqlite3_bind_blob(q, i + 1, va_arg(ap, const uint8_t *), 16,
					       SQLITE_TRANSIENT);
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(q);
		return NULL;
	}
	return q;
}

/* Step q once (expecting no row) and finalize it. 0 or -1. */
static int stmt_done(sqlite3_stmt *q)
{
	if (!q)
		return -1;
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int store_schema(struct blocklist *b, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int version = -1;
	if (sqlite3_prepare_v2(b->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version < 0)
		return db_error(b, "schema", err, errlen);
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "blocklist: schema version %d is newer than this program (%d)", version,
			 STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", STORE_SCHEMA_VERSION);
	if (sqlite3_exec(b->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(b->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(b, "schema", err, errlen);
	return 0;
}

int blocklist_open(const char *path, struct blocklist **out, char *err, size_t errlen)
{
	*out = NULL;
	if (util_mkdirs_for(path, 0755) < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(errno));
		return -1;
	}
	struct blocklist *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 b->db ? sqlite3_errmsg(b->db) : "cannot open");
		blocklist_close(b);
		return -1;
	}
	sqlite3_busy_timeout(b->db, STORE_BUSY_MS);
	if (sqlite3_exec(b->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    store_schema(b, err, errlen) < 0) {
		if (!*err)
			db_error(b, "open", err, errlen);
		blocklist_close(b);
		return -1;
	}
	*out = b;
	return 0;
}

void blocklist_close(struct blocklist *b)
{
	if (!b)
		return;
	sqlite3_close(b->db);
	free(b);
}

static int history_add(struct blocklist *b, const char *net, enum blocklist_state s,
		       const char *who, const char *why, int64_t now)
{
	return stmt_done(stmt_bind(b->db,
				   "INSERT INTO history(net,time,state,who,why) VALUES(?,?,?,?,?)",
				   "tittt", net, now, blocklist_state_name(s), who, why));
}

/* ---- evidence as JSON ---- */
/* {"tests":[..],"depth":N,"transcript":"..","time":T,"scanner":".."}; malloc'd or NULL. */
static char *evidence_json(const struct blocklist_evidence *ev)
{
	struct util_buf j = {0};
	char num[64];
	util_buf_add(&j, "{\"tests\":[", 10);
	for (size_t i = 0; i < ev->n_tests; i++) {
		if (i)
			util_buf_add(&j, ",", 1);
		util_buf_json_string(&j, ev->tests[i], ev->tests[i] ? strlen(ev->tests[i]) : 0);
	}
	snprintf(num, sizeof(num), "],\"depth\":%u,\"transcript\":", ev->depth);
	util_buf_add(&j, num, strlen(num));
	util_buf_json_string(&j, ev->transcript, ev->transcript ? strlen(ev->transcript) : 0);
	snprintf(num, sizeof(num), ",\"time\":%lld,\"scanner\":", (long long)ev->time);
	util_buf_add(&j, num, strlen(num));
	util_buf_json_string(&j, ev->scanner, ev->scanner ? strlen(ev->scanner) : 0);
	util_buf_add(&j, "}", 1);
	if (j.err) {
		free(j.p);
		return NULL;
	}
	return j.p;
}

/* ---- writes ---- */
int blocklist_list(struct blocklist *b, const struct cidr *net, unsigned code, const char *txt,
		   const struct blocklist_evidence *ev, const char *who, const char *why,
		   int64_t now, char *err, size_t errlen)
{
	char text[BLOCKLIST_NET_MAX];
	if (code < BLOCKLIST_CODE_MIN || code > BLOCKLIST_CODE_MAX || !txt || !*txt ||
	    strlen(txt) >= BLOCKLIST_TXT_MAX) {
		snprintf(err, errlen, "blocklist: code must be %d..%d and the reason 1..%d bytes",
			 BLOCKLIST_CODE_MIN, BLOCKLIST_CODE_MAX, BLOCKLIST_TXT_MAX - 1);
		return -1;
	}
	char *evj = ev ? evidence_json(ev) : NULL;
	if (ev && !evj) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cidr_format(net, text, sizeof(text));
	int rc = sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_stmt *q =
	    rc ? NULL
	       : stmt_bind(b->db,
			   "INSERT INTO entries(net,addr,prefix,code,txt,first_seen,"
			   "last_seen,state,evidence) VALUES(?,?,?,?,?,?,?,'listed',?)"
			   " ON CONFLICT(net) DO UPDATE SET code=excluded.code,"
			   " txt=excluded.txt, last_seen=excluded.last_seen,"
			   " first_seen=CASE WHEN state='listed' THEN first_seen"
			   " ELSE excluded.first_seen END, state='listed',"
			   " evidence=coalesce(excluded.evidence, evidence)",
			   "tbiitiit", text, net->addr, (int64_t)net->prefix, (int64_t)code, txt,
			   now, now, evj);
	if (!rc && q && !evj)
		sqlite3_bind_null(q, 8);
	if (!rc)
		rc = stmt_done(q);
	if (!rc)
		rc = history_add(b, text, BLOCKLIST_LISTED, who, why, now);
	if (!rc && sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	free(evj);
	if (rc < 0) {
		db_error(b, "list", err, errlen);
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

int blocklist_delist(struct blocklist *b, const struct cidr *net, enum blocklist_state state,
		     const char *who, const char *why, int64_t now, char *err, size_t errlen)
{
	char text[BLOCKLIST_NET_MAX];
	cidr_format(net, text, sizeof(text));
	if (state == BLOCKLIST_LISTED) {
		snprintf(err, errlen, "blocklist: delist to listed");
		return -1;
	}
	if (sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(b, "delist", err, errlen);
	int rc =
	    stmt_done(stmt_bind(b->db, "UPDATE entries SET state=? WHERE net=? AND state='listed'",
				"tt", blocklist_state_name(state), text));
	int changed = rc == 0 ? sqlite3_changes(b->db) : 0;
	if (!rc && changed)
		rc = history_add(b, text, state, who, why, now);
	if (!rc && sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	if (rc < 0) {
		db_error(b, "delist", err, errlen);
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return changed ? 0 : 1;
}

int blocklist_record_clean(struct blocklist *b, const uint8_t addr[16], const char *scanner,
			   int64_t now, char *err, size_t errlen)
{
	struct cidr host;
	char text[BLOCKLIST_NET_MAX];
	memcpy(host.addr, addr, 16);
	host.prefix = 128;
	cidr_format(&host, text, sizeof(text));
	if (stmt_done(stmt_bind(b->db,
				"INSERT INTO scans(addr,last_clean,scanner) VALUES(?,?,?) ON "
				"CONFLICT(addr) DO UPDATE SET last_clean=excluded.last_clean,"
				" scanner=excluded.scanner",
				"bit", addr, now, scanner ? scanner : "")) < 0 ||
	    stmt_done(stmt_bind(b->db, "UPDATE entries SET last_clean=? WHERE net=?", "it", now,
				text)) < 0)
		return db_error(b, "record clean scan", err, errlen);
	return 0;
}

int blocklist_last_clean(struct blocklist *b, const uint8_t addr[16], int64_t *when)
{
	sqlite3_stmt *q = stmt_bind(b->db, "SELECT last_clean FROM scans WHERE addr=?", "b", addr);
	if (!q)
		return -1;
	int rc = sqlite3_step(q);
	*when = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* ---- reads ---- */
#define ENTRY_COLUMNS "addr,prefix,net,code,txt,first_seen,last_seen,last_clean,state,evidence"

static void entry_from_row(sqlite3_stmt *q, struct blocklist_entry *e)
{
	memset(e, 0, sizeof(*e));
	const void *blob = sqlite3_column_blob(q, 0);
	if (blob && sqlite3_column_bytes(q, 0) == 16)
		memcpy(e->net.addr, blob, 16);
	e->net.prefix = (unsigned)sqlite3_column_int(q, 1);
	util_strlcpy(e->net_text, (const char *)sqlite3_column_text(q, 2), sizeof(e->net_text));
	e->code = (unsigned)sqlite3_column_int(q, 3);
	util_strlcpy(e->txt, (const char *)sqlite3_column_text(q, 4), sizeof(e->txt));
	e->first_seen = sqlite3_column_int64(q, 5);
	e->last_seen = sqlite3_column_int64(q, 6);
	e->last_clean = sqlite3_column_int64(q, 7);
	e->state = state_parse((const char *)sqlite3_column_text(q, 8));
}

static int entry_get_where(struct blocklist *b, const char *text, int listed_only,
			   struct blocklist_entry *e)
{
	sqlite3_stmt *q = stmt_bind(
	    b->db,
	    listed_only ? "SELECT " ENTRY_COLUMNS " FROM entries WHERE net=? AND state='listed'"
			: "SELECT " ENTRY_COLUMNS " FROM entries WHERE net=?",
	    "t", text);
	if (!q)
		return -1;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		entry_from_row(q, e);
		const char *ev = (const char *)sqlite3_column_text(q, 9);
		if (ev && !(e->evidence = strdup(ev)))
			rc = SQLITE_NOMEM;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int blocklist_get(struct blocklist *b, const struct cidr *net, struct blocklist_entry *e)
{
	char text[BLOCKLIST_NET_MAX];
	cidr_format(net, text, sizeof(text));
	return entry_get_where(b, text, 0, e);
}

int blocklist_lookup(struct blocklist *b, const uint8_t addr[16], struct blocklist_entry *e)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned lowest = memcmp(addr, v4mapped, 12) == 0 ? 96 : 0;
	for (int p = 128; p >= (int)lowest; p--) {
		struct cidr c = {{0}, (unsigned)p};
		for (int i = 0; i < 16; i++) {
			int bits = p - i * 8;
			uint8_t mask = bits >= 8   ? 0xff
				       : bits <= 0 ? 0
						   : (uint8_t)(0xff << (8 - bits));
			c.addr[i] = addr[i] & mask;
		}
		char text[BLOCKLIST_NET_MAX];
		cidr_format(&c, text, sizeof(text));
		int rc = entry_get_where(b, text, 1, e);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

void blocklist_entry_clear(struct blocklist_entry *e)
{
	free(e->evidence);
	e->evidence = NULL;
}

int blocklist_foreach(struct blocklist *b, int listed_only, blocklist_entry_fn fn, void *arg)
{
	sqlite3_stmt *q =
	    stmt_bind(b->db,
		      listed_only ? "SELECT " ENTRY_COLUMNS " FROM entries WHERE state='listed'"
				  : "SELECT " ENTRY_COLUMNS " FROM entries",
		      "");
	if (!q)
		return -1;
	int rc, stop = 0;
	while (!stop && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct blocklist_entry e;
		entry_from_row(q, &e);
		e.evidence = (char *)sqlite3_column_text(q, 9); /* borrowed for the call */
		stop = fn(arg, &e);
	}
	sqlite3_finalize(q);
	return stop ? stop : rc == SQLITE_DONE ? 0 : -1;
}

int blocklist_history(struct blocklist *b, const struct cidr *net, blocklist_change_fn fn,
		      void *arg)
{
	char text[BLOCKLIST_NET_MAX];
	cidr_format(net, text, sizeof(text));
	sqlite3_stmt *q = stmt_bind(
	    b->db, "SELECT time,state,who,why FROM history WHERE net=? ORDER BY id", "t", text);
	if (!q)
		return -1;
	int rc, stop = 0;
	while (!stop && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct blocklist_change c;
		c.time = sqlite3_column_int64(q, 0);
		c.state = state_parse((const char *)sqlite3_column_text(q, 1));
		util_strlcpy(c.who, (const char *)sqlite3_column_text(q, 2), sizeof(c.who));
		util_strlcpy(c.why, (const char *)sqlite3_column_text(q, 3), sizeof(c.why));
		stop = fn(arg, &c);
	}
	sqlite3_finalize(q);
	return stop ? stop : rc == SQLITE_DONE ? 0 : -1;
}

int blocklist_data_version(struct blocklist *b, int64_t *v)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(b->db, "PRAGMA data_version", -1, &q, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

int blocklist_last_scan(struct blocklist *b, const uint8_t addr[16], int64_t *when)
{
	struct cidr host;
	char text[BLOCKLIST_NET_MAX];
	memcpy(host.addr, addr, 16);
	host.prefix = 128;
	cidr_format(&host, text, sizeof(text));
	sqlite3_stmt *q =
	    stmt_bind(b->db,
		      "SELECT max(coalesce((SELECT last_clean FROM scans WHERE addr=?),0),"
		      " coalesce((SELECT max(last_seen,last_clean) FROM entries"
		      " WHERE net=?),0))",
		      "bt", addr, text);
	if (!q)
		return -1;
	int rc = sqlite3_step(q);
	*when = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* The rate-limit table of delisting requests, made on first use (no schema version change). */
static const char delist_schema[] =
    "CREATE TABLE IF NOT EXISTS delist_requests ("
    " addr BLOB PRIMARY KEY, time INTEGER NOT NULL, requester TEXT NOT NULL) WITHOUT ROWID;";

static int delist_request_check(struct blocklist *b, const uint8_t addr[16], int64_t now,
				int64_t interval, int64_t *next)
{
	sqlite3_stmt *q =
	    stmt_bind(b->db, "SELECT time FROM delist_requests WHERE addr=?", "b", addr);
	if (!q)
		return -1;
	int rc = sqlite3_step(q);
	int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (rc == SQLITE_ROW && now < last + interval) {
		*next = last + interval;
		return 1;
	}
	return 0;
}

int blocklist_delist_request(struct blocklist *b, const uint8_t addr[16], const char *requester,
			     int64_t now, int64_t interval, int64_t *next, char *err, size_t errlen)
{
	*next = 0;
	if (sqlite3_exec(b->db, delist_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(b, "delist request", err, errlen);
	int rc = delist_request_check(b, addr, now, interval, next);
	if (rc == 0 &&
	    stmt_done(stmt_bind(b->db,
				"INSERT INTO delist_requests(addr,time,requester) VALUES(?,?,?)"
				" ON CONFLICT(addr) DO UPDATE SET time=excluded.time,"
				" requester=excluded.requester",
				"bit", addr, now, requester ? requester : "")) < 0)
		rc = -1;
	if (rc >= 0 && sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = -1;
	if (rc < 0) {
		db_error(b, "delist request", err, errlen);
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}
