/* redis.c — the abuse store in Redis, for a fleet of servers sharing greylist (and later rate
 * and ban) state. hiredis's asynchronous API on the server's libevent loop; each update is one
 * Lua script (atomic on the server) and every key has an expiry. Scripts are called by their
 * SHA1 (EVALSHA); a server that does not know one yet (NOSCRIPT: first use, a restart, SCRIPT
 * FLUSH) gets the same request once more as EVAL, which caches it. When Redis is unreachable,
 * requests fail at once (ABUSE_ERROR) and the connection is retried with a growing delay; a
 * request unanswered for REDIS_REQ_TIMEOUT_MS drops the connection (a hung server). */
#include "abuse.h"

#include "../util/util.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_REQ_TIMEOUT_MS 2000
#define REDIS_PREFIX_MAX 65

/* compare-and-set: ARGV value, ttl, "any"|"absent"|"value", expected value */
static const char lua_put[] = "local v = redis.call('GET', KEYS[1])\n"
			      "if ARGV[3] == 'absent' and v then return 0 end\n"
			      "if ARGV[3] == 'value' and v ~= ARGV[4] then return 0 end\n"
			      "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
			      "return 1\n";
/* a counter in a window: the first increment (or a key without expiry) sets the window */
static const char lua_incr[] = "local n = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
			       "if redis.call('TTL', KEYS[1]) < 0 then\n"
			       "  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
			       "end\n"
			       "return n\n";
/* ARGV pattern, max: flat list of key, value, ttl */
static const char lua_list[] =
    "local out, cursor, n = {}, '0', 0\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)\n"
    "  cursor = r[1]\n"
    "  for _, k in ipairs(r[2]) do\n"
    "    if n >= tonumber(ARGV[2]) then return out end\n"
    "    local v = redis.call('GET', k)\n"
    "    if v then\n"
    "      out[#out + 1] = k; out[#out + 1] = v; out[#out + 1] = redis.call('TTL', k)\n"
    "      n = n + 1\n"
    "    end\n"
    "  end\n"
    "until cursor == '0'\n"
    "return out\n";

enum redis_script { SCRIPT_PUT, SCRIPT_INCR, SCRIPT_LIST, SCRIPTS, SCRIPT_NONE = SCRIPTS };
static const char *const scripts[SCRIPTS] = {lua_put, lua_incr, lua_list};

struct redis_store {
	struct abuse_store pub;
	char sha[SCRIPTS][41]; /* each script's SHA1 in hex, for EVALSHA */
	char where[256];       /* "HOST:PORT" or "unix:PATH" */
	char prefix[REDIS_PREFIX_MAX];
	redisAsyncContext *ac; /* NULL while disconnected */
	int connected;
	int was_up; /* for logging each change once */
	unsigned backoff_ms;
	struct event *retry; /* reconnect timer, also the connect timeout */
	unsigned pending;    /* requests sent, not answered */
	int closing;	     /* destroy: requests made by callbacks now fail at once */
};

struct redis_req {
	struct redis_store *st;
	enum abuse_op op;
	int64_t now;
	abuse_cb cb;
	void *arg;
	struct event *timer;
	int answered; /* the caller got its reply (a timeout); the late one is dropped */
	/* an EVALSHA, kept to be sent again as EVAL after NOSCRIPT: its arguments from the
	 * fourth on (keys and values) in one allocation */
	enum redis_script script;
	int argc;
	char *args[8];
	size_t lens[8];
};

static void redis_connect(struct redis_store *st);

static void ms_timeval(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static void schedule_retry(struct redis_store *st)
{
	struct timeval tv;
	ms_timeval(st->backoff_ms, &tv);
	evtimer_add(st->retry, &tv);
	st->backoff_ms =
	    st->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : st->backoff_ms * 2;
}

static void went_down(struct redis_store *st, const char *why)
{
	st->ac = NULL;
	st->connected = 0;
	if (st->was_up || st->backoff_ms == REDIS_BACKOFF_MIN_MS)
		log_msg(LOG_WARN, "abuse: redis unreachable", "store=\"%s\" error=\"%s\"",
			st->where, why);
	st->was_up = 0;
	schedule_retry(st);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct redis_store *st = ac->data;
	if (!st)
		return;
	evtimer_del(st->retry);
	if (status != REDIS_OK) { /* hiredis frees ac after this */
		went_down(st, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	st->connected = 1;
	st->was_up = 1;
	st->backoff_ms = REDIS_BACKOFF_MIN_MS;
	log_msg(LOG_INFO, "abuse: redis connected", "store=\"%s\"", st->where);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis_store *st = ac->data;
	(void)status;
	if (st)
		went_down(st, ac->errstr[0] ? ac->errstr : "connection closed");
}

/* The retry timer: connect again, or give up on a connect that takes too long. */
static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_store *st = arg;
	(void)fd, (void)what;
	if (st->ac && !st->connected) { /* connect timeout */
		redisAsyncContext *ac = st->ac;
		ac->data = NULL;
		redisAsyncFree(ac);
		went_down(st, "connect timeout");
		return;
	}
	if (!st->ac)
		redis_connect(st);
}

static void redis_connect(struct redis_store *st)
{
	char host[256];
	uint16_t port = 0;
	redisAsyncContext *ac = NULL;
	if (!strncmp(st->where, "unix:", 5))
		ac = redisAsyncConnectUnix(st->where + 5);
	else if (conf_split_host_port(st->where, host, sizeof(host), &port) == 0)
		ac = redisAsyncConnect(host, port);
	if (!ac || ac->err) {
		if (ac)
			redisAsyncFree(ac);
		went_down(st, "cannot start a connection");
		return;
	}
	ac->data = st;
	if (redisLibeventAttach(ac, st->pub.base) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		went_down(st, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	st->ac = ac;
	struct timeval tv;
	ms_timeval(REDIS_CONNECT_TIMEOUT_MS, &tv);
	evtimer_add(st->retry, &tv);
}

static void fail_now(struct redis_store *st, abuse_cb cb, void *arg, const char *why)
{
	struct abuse_reply e = {.status = ABUSE_ERROR};
	snprintf(e.error, sizeof(e.error), "redis %.100s: %.40s", st->where, why);
	if (abuse_defer_reply(st->pub.base, &e, cb, arg) < 0)
		cb(arg, &e);
}

static int list_entries(const struct redis_store *st, const redisReply *r, int64_t now,
			struct abuse_reply *out)
{
	size_t plen = strlen(st->prefix), n = r->elements / 3;
	if (n == 0)
		return 0;
	if (!(out->entries = calloc(n, sizeof(*out->entries))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const redisReply *k = r->element[3 * i], *v = r->element[3 * i + 1],
				 *t = r->element[3 * i + 2];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    t->type != REDIS_REPLY_INTEGER || k->len < plen)
			continue;
		struct abuse_entry *e = &out->entries[out->n_entries++];
		snprintf(e->key, sizeof(e->key), "%.*s", (int)(k->len - plen), k->str + plen);
		snprintf(e->value, sizeof(e->value), "%.*s", (int)v->len, v->str);
		e->expires = t->integer < 0 ? INT64_MAX : now + t->integer;
	}
	return 0;
}

/* A Redis reply as the store's reply. */
static void convert(const struct redis_req *rq, const redisReply *r, struct abuse_reply *out)
{
	out->status = ABUSE_OK;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		out->status = ABUSE_ERROR;
		snprintf(out->error, sizeof(out->error), "redis %.60s: %.80s", rq->st->where,
			 r ? r->str : "connection lost");
		return;
	}
	switch (rq->op) {
	case ABUSE_GET:
		if (r->type != REDIS_REPLY_STRING)
			out->status = ABUSE_NOT_FOUND;
		else
			snprintf(out->value, sizeof(out->value), "%.*s", (int)r->len, r->str);
		break;
	case ABUSE_PUT:
		out->status =
		    r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? ABUSE_OK : ABUSE_CONFLICT;
		break;
	case ABUSE_INCR:
		out->count = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
		break;
	case ABUSE_DEL:
		out->status =
		    r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? ABUSE_OK : ABUSE_NOT_FOUND;
		break;
	case ABUSE_LIST:
		if (r->type != REDIS_REPLY_ARRAY || list_entries(rq->st, r, rq->now, out) < 0) {
			out->status = ABUSE_ERROR;
			snprintf(out->error, sizeof(out->error), "redis: bad list reply");
		}
		break;
	}
}

static void req_free(struct redis_req *rq)
{
	if (rq->timer)
		event_free(rq->timer);
	free(rq->args[0]);
	free(rq);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Send rq's script again as EVAL (the server answered NOSCRIPT): 0 when sent. */
static int resend_as_eval(redisAsyncContext *ac, struct redis_req *rq)
{
	const char *argv[8];
	size_t lens[8];
	if (rq->answered)
		return -1;
	argv[0] = "EVAL", lens[0] = 4;
	argv[1] = scripts[rq->script], lens[1] = strlen(scripts[rq->script]);
	for (int i = 2; i < rq->argc; i++)
		argv[i] = rq->args[i], lens[i] = rq->lens[i];
	rq->script = SCRIPT_NONE; /* once */
	return redisAsyncCommandArgv(ac, on_reply, rq, rq->argc, argv, lens) == REDIS_OK ? 0 : -1;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_req *rq = privdata;
	struct abuse_reply out = {0};
	const redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ERROR && rq->script != SCRIPT_NONE &&
	    !strncmp(r->str, "NOSCRIPT", 8) && resend_as_eval(ac, rq) == 0)
		return; /* still pending */
	rq->st->pending--;
	if (!rq->answered) {
		convert(rq, reply, &out);
		rq->cb(rq->arg, &out);
		free(out.entries);
	}
	req_free(rq);
}

/* Unanswered for too long: answer the caller, and drop the connection (every request on it
 * then completes with an error, and the connection is made again). */
static void req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_req *rq = arg;
	struct redis_store *st = rq->st;
	struct abuse_reply e = {.status = ABUSE_ERROR};
	(void)fd, (void)what;
	rq->answered = 1;
	snprintf(e.error, sizeof(e.error), "redis %.100s: no answer within %u ms", st->where,
		 REDIS_REQ_TIMEOUT_MS);
	rq->cb(rq->arg, &e);
	if (st->ac && st->connected)
		redisAsyncDisconnect(st->ac);
}

/* Glob-escape the key prefix for SCAN MATCH. */
static void glob_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *s && o + 3 < outlen; s++) {
		if (strchr("*?[]\\", *s))
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

/* The script an operation runs, SCRIPT_NONE for plain commands. */
static enum redis_script op_script(enum abuse_op op)
{
	return op == ABUSE_PUT	  ? SCRIPT_PUT
	       : op == ABUSE_INCR ? SCRIPT_INCR
	       : op == ABUSE_LIST ? SCRIPT_LIST
				  : SCRIPT_NONE;
}

/* Keep a copy of an EVALSHA's arguments in rq, for resend_as_eval. 0, or -1 out of memory. */
static int keep_args(struct redis_req *rq, int argc, const char *const argv[8],
		     const size_t lens[8])
{
	size_t total = 0;
	for (int i = 2; i < argc; i++)
		total += lens[i] + 1;
	char *p = malloc(total ? total : 1);
	if (!p)
		return -1;
	rq->argc = argc;
	for (int i = 2; i < argc; i++) {
		memcpy(p, argv[i], lens[i] + 1);
		rq->args[i] = p, rq->lens[i] = lens[i];
		p += lens[i] + 1;
	}
	rq->args[0] = rq->args[2]; /* the allocation, for req_free */
	return 0;
}

/* The command for req: argv strings in bufs. Returns argc. */
static int build_argv(const struct redis_store *st, const struct abuse_req *req,
		      const char *argv[8], char bufs[4][ABUSE_KEY_MAX + REDIS_PREFIX_MAX + 4])
{
	static const char *const expect_names[] = {"any", "absent", "value"};
	snprintf(bufs[0], sizeof(bufs[0]), "%s%s", st->prefix, req->key);
	switch (req->op) {
	case ABUSE_GET:
	case ABUSE_DEL:
		argv[0] = req->op == ABUSE_GET ? "GET" : "DEL";
		argv[1] = bufs[0];
		return 2;
	case ABUSE_PUT:
		snprintf(bufs[1], sizeof(bufs[1]), "%u", req->ttl ? req->ttl : 1);
		argv[0] = "EVALSHA", argv[1] = st->sha[SCRIPT_PUT], argv[2] = "1",
		argv[3] = bufs[0];
		argv[4] = req->value, argv[5] = bufs[1], argv[6] = expect_names[req->expect];
		argv[7] = req->expect_value;
		return 8;
	case ABUSE_INCR:
		snprintf(bufs[1], sizeof(bufs[1]), "%lld", (long long)req->delta);
		snprintf(bufs[2], sizeof(bufs[2]), "%u", req->ttl ? req->ttl : 1);
		argv[0] = "EVALSHA", argv[1] = st->sha[SCRIPT_INCR], argv[2] = "1",
		argv[3] = bufs[0];
		argv[4] = bufs[1], argv[5] = bufs[2];
		return 6;
	case ABUSE_LIST:
		glob_escape(bufs[0], bufs[1], sizeof(bufs[1]) - 1);
		strcat(bufs[1], "*");
		snprintf(bufs[2], sizeof(bufs[2]), "%zu", req->max);
		argv[0] = "EVALSHA", argv[1] = st->sha[SCRIPT_LIST], argv[2] = "0",
		argv[3] = bufs[1];
		argv[4] = bufs[2];
		return 5;
	}
	return 0;
}

static void redis_submit(void *impl, const struct abuse_req *req, abuse_cb cb, void *arg)
{
	struct redis_store *st = impl;
	const char *argv[8];
	if (st->closing) { /* the one synchronous answer: nothing will run the loop again */
		struct abuse_reply e = {.status = ABUSE_ERROR};
		snprintf(e.error, sizeof(e.error), "redis: store closing");
		cb(arg, &e);
		return;
	}
	char bufs[4][ABUSE_KEY_MAX + REDIS_PREFIX_MAX + 4];
	if (!st->connected || !st->ac) {
		fail_now(st, cb, arg, "not connected");
		return;
	}
	struct redis_req *rq = calloc(1, sizeof(*rq));
	if (!rq || !(rq->timer = evtimer_new(st->pub.base, req_timeout_cb, rq))) {
		free(rq);
		{
			fail_now(st, cb, arg, "out of memory");
			return;
		}
	}
	*rq = (struct redis_req){st, req->op, req->now, cb, arg, rq->timer, 0};
	int argc = build_argv(st, req, argv, bufs);
	size_t lens[8];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	rq->script = op_script(req->op);
	if ((rq->script != SCRIPT_NONE && keep_args(rq, argc, argv, lens) < 0) ||
	    redisAsyncCommandArgv(st->ac, on_reply, rq, argc, argv, lens) != REDIS_OK) {
		req_free(rq);
		{
			fail_now(st, cb, arg, "cannot send");
			return;
		}
	}
	st->pending++;
	struct timeval tv;
	ms_timeval(REDIS_REQ_TIMEOUT_MS, &tv);
	evtimer_add(rq->timer, &tv);
}

static void redis_destroy(void *impl)
{
	struct redis_store *st = impl;
	st->closing = 1;
	st->connected = 0;
	if (st->ac) {
		redisAsyncContext *ac = st->ac;
		ac->data = NULL; /* no reconnect; pending requests complete with errors now */
		st->ac = NULL;
		redisAsyncFree(ac);
	}
	if (st->retry)
		event_free(st->retry);
	free(st);
}

static const struct abuse_store_ops redis_ops = {redis_submit, redis_destroy};

/* Each script's SHA1 in hex, as Redis names it in its script cache. */
static int script_shas(struct redis_store *st)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < SCRIPTS; i++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		if (!EVP_Digest(scripts[i], strlen(scripts[i]), md, &n, EVP_sha1(), NULL) ||
		    n != 20)
			return -1;
		for (unsigned j = 0; j < n; j++) {
			st->sha[i][2 * j] = hex[md[j] >> 4];
			st->sha[i][2 * j + 1] = hex[md[j] & 15];
		}
		st->sha[i][40] = '\0';
	}
	return 0;
}

struct abuse_store *abuse_redis_open(const char *where, const char *prefix, struct event_base *base,
				     char *err, size_t errlen)
{
	struct redis_store *st = calloc(1, sizeof(*st));
	if (!st || !(st->retry = evtimer_new(base, retry_cb, st))) {
		free(st);
		snprintf(err, errlen, "abuse-store: out of memory");
		return NULL;
	}
	if (util_strlcpy(st->where, where, sizeof(st->where)) >= sizeof(st->where) ||
	    util_strlcpy(st->prefix, prefix ? prefix : "", sizeof(st->prefix)) >=
		sizeof(st->prefix)) {
		snprintf(err, errlen, "abuse-store: address or prefix too long");
		redis_destroy(st);
		return NULL;
	}
	if (script_shas(st) < 0) {
		snprintf(err, errlen, "abuse-store: cannot hash the Lua scripts");
		redis_destroy(st);
		return NULL;
	}
	st->pub.ops = &redis_ops;
	st->pub.impl = st;
	st->pub.base = base;
	snprintf(st->pub.name, sizeof(st->pub.name), "redis %s", where);
	st->backoff_ms = REDIS_BACKOFF_MIN_MS;
	redis_connect(st);
	return &st->pub;
}
