/* queue_cmd.c — the `queue` control commands (list, show, flush, hold, release, delete; text or
 * one JSON document with --json) and `mailq`'s Postfix-style listing, on the running server's
 * spool and scheduler. Runs on the loop thread. */
#include "control.h"
#include "server_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_SHOW_HEADER_MAX (64 * 1024) /* `queue show`: the header shown, at most */

struct queue_args {
	int json;
	const char *id; /* NULL when none was given */
};

/* "[--json] [ID]" in any order; need_id: 1 required, 0 optional, -1 none allowed. */
static int queue_parse_args(int argc, char **argv, int need_id, struct queue_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			a->json = 1;
		else if (!a->id && need_id >= 0 && argv[i][0] != '-')
			a->id = argv[i];
		else
			return -1;
	}
	return need_id == 1 && !a->id ? -1 : 0;
}

/* A JSON string, quotes included, escaped in bounded pieces. */
static void json_str(struct evbuffer *b, const char *s, size_t len)
{
	char piece[512];
	evbuffer_add(b, "\"", 1);
	while (len > 0) {
		size_t used, n = util_json_escape(s, len, piece, sizeof(piece), &used);
		evbuffer_add(b, piece, n);
		s += used;
		len -= used;
	}
	evbuffer_add(b, "\"", 1);
}

static void json_key_str(struct evbuffer *b, const char *key, const char *s)
{
	evbuffer_add_printf(b, "\"%s\":", key);
	if (s)
		json_str(b, s, strlen(s));
	else
		evbuffer_add(b, "null", 4);
}

static void iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void rcpt_json(struct evbuffer *b, const struct spool_msg *m, size_t i)
{
	const struct spool_rcpt *r = &m->env.rcpts[i];
	struct sched_rcpt_info info;
	char when[32];
	sched_rcpt_info(m, i, &info);
	evbuffer_add(b, "{", 1);
	json_key_str(b, "address", r->addr);
	evbuffer_add(b, ",", 1);
	json_key_str(b, "state", info.state);
	evbuffer_add(b, ",", 1);
	json_key_str(b, "local_user", r->user);
	evbuffer_add(b, ",", 1);
	json_key_str(b, "rule", r->rule);
	evbuffer_add_printf(b, ",\"attempts\":%u,", info.attempts);
	iso_time(info.next_try, when, sizeof(when));
	json_key_str(b, "next_retry", info.next_try ? when : NULL);
	evbuffer_add(b, ",", 1);
	json_key_str(b, "last_error", info.last_error);
	evbuffer_add(b, ",", 1);
	json_key_str(b, "relay", info.relay);
	evbuffer_add(b, "}", 1);
}

static void msg_json(struct evbuffer *b, const struct spool_msg *m)
{
	char when[32];
	iso_time(m->env.time, when, sizeof(when));
	evbuffer_add(b, "{", 1);
	json_key_str(b, "qid", m->qid);
	evbuffer_add(b, ",", 1);
	json_key_str(b, "arrival", when);
	evbuffer_add_printf(b, ",\"size\":%llu,", (unsigned long long)m->body_len);
	json_key_str(b, "sender", m->env.from);
	evbuffer_add_printf(b, ",\"held\":%s,\"recipients\":[", m->held ? "true" : "false");
	for (size_t i = 0; i < m->env.n_rcpts; i++) {
		if (i > 0)
			evbuffer_add(b, ",", 1);
		rcpt_json(b, m, i);
	}
	evbuffer_add(b, "]", 1);
}

/* The DSN parameters (RFC 3461), only those given: " ret=HDRS envid=X" / " notify=… orcpt=…". */
static void msg_dsn_text(struct evbuffer *b, const struct spool_env *e)
{
	if (e->ret)
		evbuffer_add_printf(b, " ret=%s", e->ret == SPOOL_RET_HDRS ? "HDRS" : "FULL");
	if (e->envid)
		evbuffer_add_printf(b, " envid=%s", e->envid);
}

static void rcpt_state_text(struct evbuffer *b, const struct spool_msg *m, size_t i)
{
	struct sched_rcpt_info info;
	char when[32];
	sched_rcpt_info(m, i, &info);
	evbuffer_add_printf(b, "  state=%s", info.state);
	if (info.attempts)
		evbuffer_add_printf(b, " attempts=%u", info.attempts);
	if (info.next_try) {
		iso_time(info.next_try, when, sizeof(when));
		evbuffer_add_printf(b, " next-retry=%s", when);
	}
	if (info.relay && info.relay[0])
		evbuffer_add_printf(b, " relay=%s", info.relay);
	if (info.last_error && info.last_error[0])
		evbuffer_add_printf(b, " error=\"%s\"", info.last_error);
}

static void rcpt_text(struct evbuffer *b, const struct spool_msg *m, size_t i, int states)
{
	const struct spool_rcpt *r = &m->env.rcpts[i];
	char notify[SPOOL_NOTIFY_TEXT_MAX];
	evbuffer_add_printf(b, "    %-8s <%s>  rule=%s", r->user ? "local" : "relay", r->addr,
			    r->rule);
	if (r->notify)
		evbuffer_add_printf(b, " notify=%s",
				    spool_notify_format(r->notify, notify, sizeof(notify)));
	if (r->orcpt)
		evbuffer_add_printf(b, " orcpt=%s", r->orcpt);
	if (states)
		rcpt_state_text(b, m, i);
	evbuffer_add(b, "\n", 1);
}

/* One message of `queue list`: its line, then a line per recipient still to deliver. */
static void msg_text(struct evbuffer *b, const struct spool_msg *m, int states)
{
	char when[32];
	iso_time(m->env.time, when, sizeof(when));
	evbuffer_add_printf(b, "%s  %s  %8llu  <%s>", m->qid, when, (unsigned long long)m->body_len,
			    m->env.from);
	msg_dsn_text(b, &m->env);
	evbuffer_add(b, m->held ? "  held\n" : "\n", m->held ? 7 : 1);
	for (size_t i = 0; i < m->env.n_rcpts; i++)
		if (!m->env.rcpts[i].done)
			rcpt_text(b, m, i, states);
}

void queue_format_list(struct evbuffer *b, const struct spool_msg *first, int states)
{
	size_t n = 0;
	for (const struct spool_msg *m = first; m; m = m->next, n++)
		msg_text(b, m, states);
	evbuffer_add_printf(b, "%zu message%s queued\n", n, n == 1 ? "" : "s");
}

void queue_cmd_list(struct server *srv, struct control_req *req, int argc, char **argv)
{
	struct queue_args a;
	struct evbuffer *b = control_payload(req);
	size_t n = 0;
	if (queue_parse_args(argc, argv, -1, &a) < 0) {
		control_finish(req, "usage: queue list [--json]");
		return;
	}
	if (!a.json) {
		queue_format_list(b, spool_first(srv->spool), 1);
		control_finish(req, NULL);
		return;
	}
	evbuffer_add(b, "{\"messages\":[", 13);
	for (const struct spool_msg *m = spool_first(srv->spool); m; m = m->next, n++) {
		if (n > 0)
			evbuffer_add(b, ",", 1);
		msg_json(b, m);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]}\n", 3);
	control_finish(req, NULL);
}

/* The message named by a.id, or NULL after answering the error. */
static struct spool_msg *queue_find(struct server *srv, struct control_req *req,
				    const struct queue_args *a)
{
	struct spool_msg *m = spool_find(srv->spool, a->id);
	if (!m) {
		char err[128];
		snprintf(err, sizeof(err), "no message %.32s in the queue", a->id);
		control_finish(req, err);
	}
	return m;
}

/* The message's header: up to the blank line, at most QUEUE_SHOW_HEADER_MAX bytes. Returns
 * its length (0 on a read error), *truncated when the blank line was not within the bound. */
static size_t read_header(const struct spool_msg *m, char *buf, int *truncated)
{
	size_t want =
	    m->body_len < QUEUE_SHOW_HEADER_MAX ? (size_t)m->body_len : QUEUE_SHOW_HEADER_MAX;
	ssize_t n = pread(m->fd, buf, want, (off_t)m->body_off);
	if (n <= 0)
		return 0;
	char *end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
	*truncated = !end && (uint64_t)n < m->body_len;
	return end ? (size_t)(end - buf) + 2 : (size_t)n;
}

/* Text with CRLF line ends as LF lines, for a terminal. */
static void add_lf_lines(struct evbuffer *b, const char *s, size_t len)
{
	while (len > 0) {
		const char *crlf = memmem(s, len, "\r\n", 2);
		size_t n = crlf ? (size_t)(crlf - s) : len;
		evbuffer_add(b, s, n);
		if (crlf)
			evbuffer_add(b, "\n", 1);
		n += crlf ? 2 : 0;
		s += n;
		len -= n;
	}
}

void queue_cmd_show(struct server *srv, struct control_req *req, int argc, char **argv)
{
	struct queue_args a;
	struct evbuffer *b = control_payload(req);
	if (queue_parse_args(argc, argv, 1, &a) < 0) {
		control_finish(req, "usage: queue show [--json] ID");
		return;
	}
	struct spool_msg *m = queue_find(srv, req, &a);
	char *hdr = m ? malloc(QUEUE_SHOW_HEADER_MAX) : NULL;
	if (!m)
		return;
	int truncated = 0;
	size_t len = hdr ? read_header(m, hdr, &truncated) : 0;
	if (!hdr || len == 0) {
		free(hdr);
		control_finish(req,
			       hdr ? "cannot read the message from the spool" : "out of memory");
		return;
	}
	if (a.json) {
		msg_json(b, m);
		evbuffer_add(b, ",\"header\":", 10);
		json_str(b, hdr, len);
		evbuffer_add_printf(b, ",\"header_truncated\":%s}\n", truncated ? "true" : "false");
	} else {
		msg_text(b, m, 1);
		evbuffer_add(b, "\n", 1);
		add_lf_lines(b, hdr, len);
		if (truncated)
			evbuffer_add_printf(b, "[header truncated at %d bytes]\n",
					    QUEUE_SHOW_HEADER_MAX);
	}
	free(hdr);
	control_finish(req, NULL);
}

/* The answer of an action: "QID RESULT" or {"qid":..,"result":..}. */
static void action_done(struct control_req *req, const struct queue_args *a, const char *qid,
			const char *result)
{
	struct evbuffer *b = control_payload(req);
	if (a->json) {
		evbuffer_add(b, "{", 1);
		json_key_str(b, "qid", qid);
		evbuffer_add(b, ",", 1);
		json_key_str(b, "result", result);
		evbuffer_add(b, "}\n", 2);
	} else {
		evbuffer_add_printf(b, "%s %s\n", qid ? qid : "queue", result);
	}
	control_finish(req, NULL);
}

void queue_cmd_flush(struct server *srv, struct control_req *req, int argc, char **argv)
{
	struct queue_args a;
	if (queue_parse_args(argc, argv, 0, &a) < 0) {
		control_finish(req, "usage: queue flush [--json] [ID]");
		return;
	}
	struct spool_msg *m = a.id ? queue_find(srv, req, &a) : NULL;
	if (a.id && !m)
		return;
	if (m && m->held) {
		char err[128];
		snprintf(err, sizeof(err), "message %s is on hold: queue release %s", m->qid,
			 m->qid);
		control_finish(req, err);
		return;
	}
	sched_flush(srv, m);
	log_msg(LOG_INFO, "queue: flushed", "qid=%s", m ? m->qid : "all");
	action_done(req, &a, m ? m->qid : NULL, "flushed");
}

static void hold_or_release(struct server *srv, struct control_req *req, int argc, char **argv,
			    int held)
{
	struct queue_args a;
	if (queue_parse_args(argc, argv, 1, &a) < 0) {
		control_finish(req, held ? "usage: queue hold [--json] ID"
					 : "usage: queue release [--json] ID");
		return;
	}
	struct spool_msg *m = queue_find(srv, req, &a);
	if (!m)
		return;
	char qid[SPOOL_QID_LEN + 1];
	memcpy(qid, m->qid, sizeof(qid));
	int rc = m->held == held ? 0 : sched_hold(srv, m, held);
	if (rc < 0) {
		char err[160];
		snprintf(err, sizeof(err), "cannot %s %s: %s", held ? "hold" : "release", qid,
			 strerror(-rc));
		control_finish(req, err);
		return;
	}
	log_msg(LOG_INFO, held ? "queue: held" : "queue: released", "qid=%s", qid);
	action_done(req, &a, qid, held ? "held" : "released");
}

void queue_cmd_hold(struct server *srv, struct control_req *req, int argc, char **argv)
{
	hold_or_release(srv, req, argc, argv, 1);
}

void queue_cmd_release(struct server *srv, struct control_req *req, int argc, char **argv)
{
	hold_or_release(srv, req, argc, argv, 0);
}

void queue_cmd_delete(struct server *srv, struct control_req *req, int argc, char **argv)
{
	struct queue_args a;
	if (queue_parse_args(argc, argv, 1, &a) < 0) {
		control_finish(req, "usage: queue delete [--json] ID");
		return;
	}
	struct spool_msg *m = queue_find(srv, req, &a);
	if (!m)
		return;
	char qid[SPOOL_QID_LEN + 1];
	memcpy(qid, m->qid, sizeof(qid));
	int rc = sched_delete(srv, m); /* m may be gone */
	if (rc == 0 && spool_find(srv->spool, qid)) {
		control_finish(req, "the spool could not record the delete (see the log)");
		return;
	}
	action_done(req, &a, qid, rc == 0 ? "deleted" : "deleted after the delivery under way");
}

/* ---- mailq ---- */

/* Postfix's long-queue-ID layout (postqueue -p with enable_long_queue_ids, which matches our
 * 16-digit IDs): ID and status mark in 17 columns, size in 8, arrival in 19 (local time,
 * asctime without the year), then the sender; recipients under it at column 60, each reason
 * right-aligned to column 78 before the recipients it applies to. */
#define MAILQ_HEADINGS "%-17s %8s %-19s %s\n"
#define MAILQ_SENDER "%-17s %8llu %19.19s %s\n"
#define MAILQ_RCPT "%59s%s\n"

/* '!' held, '*' some recipient is being delivered now, ' ' otherwise (waiting or deferred). */
static char mailq_mark(const struct spool_msg *m)
{
	if (m->held)
		return '!';
	for (size_t i = 0; i < m->env.n_rcpts; i++) {
		struct sched_rcpt_info info;
		sched_rcpt_info(m, i, &info);
		if (!strcmp(info.state, "connecting") || !strcmp(info.state, "sending"))
			return '*';
	}
	return ' ';
}

static void mailq_message(struct evbuffer *b, const struct spool_msg *m)
{
	char id[SPOOL_QID_LEN + 2], when[32];
	time_t t = (time_t)m->env.time;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	snprintf(id, sizeof(id), "%s%c", m->qid, mailq_mark(m));
	evbuffer_add_printf(b, MAILQ_SENDER, id, (unsigned long long)m->body_len, when,
			    m->env.from[0] ? m->env.from : "MAILER-DAEMON");
	const char *last = "";
	for (size_t i = 0; i < m->env.n_rcpts; i++) {
		struct sched_rcpt_info info;
		if (m->env.rcpts[i].done)
			continue;
		sched_rcpt_info(m, i, &info);
		const char *why = info.last_error ? info.last_error : "";
		if (strcmp(why, last) != 0) {
			const char *shown = why[0] ? why : "reason unavailable";
			int pad = 76 - (int)strlen(shown);
			evbuffer_add_printf(b, "%*s(%s)\n", pad > 0 ? pad : 0, "", shown);
			last = why;
		}
		evbuffer_add_printf(b, MAILQ_RCPT, "", m->env.rcpts[i].addr);
	}
}

void queue_format_mailq(struct evbuffer *b, const struct spool_msg *first)
{
	unsigned long long bytes = 0;
	unsigned long n = 0;
	for (const struct spool_msg *m = first; m; m = m->next, n++) {
		if (n == 0)
			evbuffer_add_printf(b, MAILQ_HEADINGS, "----Queue ID-----", "--Size--",
					    "---Arrival Time----", "--Sender/Recipient------");
		else
			evbuffer_add(b, "\n", 1);
		mailq_message(b, m);
		bytes += m->body_len;
	}
	if (n == 0)
		evbuffer_add_printf(b, "Mail queue is empty\n");
	else
		evbuffer_add_printf(b, "\n-- %llu Kbytes in %lu Request%s.\n", bytes / 1024, n,
				    n == 1 ? "" : "s");
}

void queue_cmd_mailq(struct server *srv, struct control_req *req, int argc, char **argv)
{
	(void)argv;
	if (argc > 0) {
		control_finish(req, "usage: mailq");
		return;
	}
	queue_format_mailq(control_payload(req), spool_first(srv->spool));
	control_finish(req, NULL);
}
