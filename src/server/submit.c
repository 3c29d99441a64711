/* submit.c — the `submit` control command behind `relayguard sendmail`: a local submission
 * judged like mail from the local host (a local domain needs a mailbox, anything else is
 * relayed under rule "local-submit"), staged with a Received header and committed to the
 * spool; the answer (its queue ID) is sent once the message is durable.
 *
 * Request: "submit FROM LEN RCPT...\n" then LEN bytes of message (CRLF lines). FROM and each
 * RCPT are the xtext (RFC 3461) of an RFC 5321 path with its brackets ("<a+2Bb@x.example>",
 * "<>" for the null sender), so no address can break the line; an unqualified one gets
 * @hostname (sender) or @the first local domain (recipient). */
#include "control.h"
#include "server_int.h"

#include "../addr/addr.h"
#include "../util/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBMIT_RULE "local-submit"

struct submit {
	struct server *srv;
	struct control_req *req;
	struct spool_env env;
	struct conf *conf; /* pinned for the rcpt decisions made with it */
};

static void submit_free(void *arg)
{
	struct submit *sb = arg;
	spool_env_clear(&sb->env);
	conf_unref(sb->conf);
	free(sb);
}

/* Decode and parse one xtext-encoded path; qualify with domain when unqualified. */
static int submit_path(const char *word, const char *domain, struct addr_path *out, char *err,
		       size_t errlen)
{
	char raw[ADDR_PATH_MAX * 4 + 1];
	size_t used;
	long n = util_xtext_decode(word, strlen(word), raw, sizeof(raw));
	enum addr_status st =
	    n < 0 ? ADDR_ERR_SYNTAX : addr_parse_path(raw, (size_t)n, 1, out, &used);
	if (st == ADDR_OK && used != (size_t)n)
		st = ADDR_ERR_SYNTAX;
	if (st == ADDR_OK && out->unqualified && !out->null && domain && domain[0]) {
		char q[sizeof(raw) + ADDR_DOMAIN_MAX + 2];
		snprintf(q, sizeof(q), "<%s@%s>", out->local, domain);
		st = addr_parse_path(q, strlen(q), 1, out, &used);
	}
	if (st != ADDR_OK || (out->unqualified && !out->null) || out->routing) {
		snprintf(err, errlen, "bad address %.300s: %s", n < 0 ? word : raw,
			 st != ADDR_OK	? addr_status_text(st)
			 : out->routing ? "routing addresses are not accepted"
					: "not fully qualified");
		return -1;
	}
	return 0;
}

/* One recipient: a local domain needs a mailbox; the rest is relayed. */
static int submit_rcpt(struct submit *sb, const char *word, char *err, size_t errlen)
{
	const struct conf *c = sb->conf;
	struct addr_path a;
	char to[ADDR_PATH_MAX * 4], local[sizeof(a.local)];
	if (submit_path(word, c->n_local_domains ? c->local_domains[0] : c->hostname, &a, err,
			errlen) < 0)
		return -1;
	if (a.null) {
		snprintf(err, errlen, "<> is not a recipient");
		return -1;
	}
	if (sb->env.n_rcpts >= c->limits.recipients) {
		snprintf(err, errlen, "too many recipients (limit recipients is %u)",
			 (unsigned)c->limits.recipients);
		return -1;
	}
	addr_format(&a, to, sizeof(to));
	const struct conf_mailbox *mb = NULL;
	if (conf_is_local_domain(c, a.domain)) {
		util_strlcpy(local, a.local, sizeof(local));
		util_str_lower(local);
		if (!(mb = conf_find_mailbox(c, local, a.domain))) {
			snprintf(err, errlen, "unknown local user <%.400s>", to);
			return -1;
		}
	}
	sb->env.smtputf8 |= a.utf8;
	if (spool_env_add_rcpt(&sb->env, to, mb ? mb->user : NULL,
			       mb ? "local-mailbox" : SUBMIT_RULE) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The request line: sender, length (bounded by message-size), recipients. */
static int submit_parse(struct submit *sb, int argc, char **argv, size_t *len, char *err,
			size_t errlen)
{
	const struct conf *c = sb->conf;
	struct addr_path from;
	char f[ADDR_PATH_MAX * 4], *end;
	if (argc < 3) {
		snprintf(err, errlen,
			 "usage: submit FROM LEN RCPT... (FROM, RCPT: xtext of <path>)");
		return -1;
	}
	unsigned long long n = strtoull(argv[1], &end, 10);
	if (*end || argv[1][0] < '0' || argv[1][0] > '9') {
		snprintf(err, errlen, "bad length %.40s", argv[1]);
		return -1;
	}
	if (n > c->limits.message_size) {
		snprintf(err, errlen, "message too big: %llu bytes (message-size is %llu)", n,
			 (unsigned long long)c->limits.message_size);
		return -1;
	}
	if (submit_path(argv[0], c->hostname, &from, err, errlen) < 0)
		return -1;
	addr_format(&from, f, sizeof(f));
	sb->env.from = strdup(f);
	sb->env.helo = strdup("localhost");
	sb->env.client = strdup("127.0.0.1");
	if (!sb->env.from || !sb->env.helo || !sb->env.client) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sb->env.smtputf8 = from.utf8;
	for (int i = 2; i < argc; i++)
		if (submit_rcpt(sb, argv[i], err, errlen) < 0)
			return -1;
	*len = (size_t)n;
	return 0;
}

static void submit_committed(void *arg, int status, const char *qid)
{
	struct submit *sb = arg;
	char err[160];
	if (status != 0) {
		log_msg(LOG_ERR, "submit: message not stored", "qid=%s error=\"%s\"", qid,
			strerror(-status));
		snprintf(err, sizeof(err), "could not store the message: %s", strerror(-status));
		control_finish(sb->req, err);
	} else {
		log_msg(LOG_INFO, "submit: message queued", "qid=%s", qid);
		evbuffer_add_printf(control_payload(sb->req), "%s\n", qid);
		control_finish(sb->req, NULL);
	}
	submit_free(sb);
}

/* RFC 5321 4.4 trace header of a local submission. */
static int submit_received(const struct submit *sb, char *buf, size_t len)
{
	char date[64], qid[SPOOL_QID_LEN + 1];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	spool_qid_format(sb->env.qid, qid);
	return snprintf(buf, len,
			"Received: by %s (relayguard) with local-submit id %s;\r\n\t%s\r\n",
			sb->conf->hostname, qid, date);
}

/* Stage the Received header and the message, piece by piece, noting 8-bit content. */
static int submit_stage(struct submit *sb, struct evbuffer *body, struct spool_stage *st)
{
	char hdr[512];
	int n = submit_received(sb, hdr, sizeof(hdr));
	if (n <= 0 || (size_t)n >= sizeof(hdr) || spool_stage_write(st, hdr, (size_t)n) < 0)
		return -1;
	struct evbuffer_iovec v[8];
	while (evbuffer_get_length(body) > 0) {
		int k = evbuffer_peek(body, -1, NULL, v, 8);
		size_t used = 0;
		for (int i = 0; i < k && i < 8; i++) {
			for (size_t j = 0; j < v[i].iov_len && !sb->env.eight_bit; j++)
				sb->env.eight_bit = ((unsigned char *)v[i].iov_base)[j] >= 0x80;
			if (spool_stage_write(st, v[i].iov_base, v[i].iov_len) < 0)
				return -1;
			used += v[i].iov_len;
		}
		evbuffer_drain(body, used);
	}
	return 0;
}

static void submit_body(struct server *srv, struct control_req *req, struct evbuffer *body,
			void *arg)
{
	struct submit *sb = arg;
	struct spool_stage *st = spool_stage_new(srv->spool);
	int err = ENOMEM;
	if (!st || submit_stage(sb, body, st) < 0) {
		spool_stage_free(st);
		submit_free(sb);
		control_finish(req, "cannot stage the message");
		return;
	}
	sb->env.time = (int64_t)time(NULL);
	if (!spool_commit(srv->spool, &sb->env, st, submit_committed, sb, &err)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "could not store the message: %s", strerror(err));
		submit_free(sb);
		control_finish(req, msg);
	}
}

void submit_cmd(struct server *srv, struct control_req *req, int argc, char **argv)
{
	struct submit *sb = calloc(1, sizeof(*sb));
	char err[512];
	size_t len = 0;
	if (!sb) {
		control_finish(req, "out of memory");
		return;
	}
	sb->srv = srv;
	sb->req = req;
	sb->conf = conf_ref(srv->conf);
	sb->env.qid = spool_qid_new(srv->spool);
	if (srv->stopping) {
		snprintf(err, sizeof(err), "the server is shutting down");
	} else if (submit_parse(sb, argc, argv, &len, err, sizeof(err)) == 0) {
		control_read_body(req, len, submit_body, submit_free, sb);
		return;
	}
	submit_free(sb);
	control_finish(req, err);
}
