/* transfer.c — the DATA phase of a session: Received header, streaming the body into the
 * spool's stage with the limits enforced as it arrives, and the commit before "250". */
#include "session_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Keep only printable ASCII of untrusted text that goes into a header. */
static void header_safe(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	for (; *in && o + 1 < outlen; in++)
		out[o++] = (*in > ' ' && *in < 0x7f && *in != '(' && *in != ')') ? *in : '_';
	out[o] = '\0';
}

/* The "with" protocol (RFC 3848, RFC 6531 for UTF8SMTP): S for TLS, A for AUTH; the TLS
 * version and cipher as its comment. */
static void received_with(const struct smtp_session *s, char *buf, size_t len)
{
	const char *base = s->tx->params.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";
	const char *ext = s->tls && s->login[0] ? "SA" : s->tls ? "S" : s->login[0] ? "A" : "";
	char tls[128];
	tls_received_comment(s->tls, tls, sizeof(tls));
	if (!strcmp(base, "SMTP")) /* HELO: RFC 3848 names no SMTPS, the comment still tells */
		ext = "";
	snprintf(buf, len, "%s%s%s%s%s", base, ext, tls[0] ? " (" : "", tls, tls[0] ? ")" : "");
}

/* RFC 5321 4.4 trace header; "for" only with a single recipient, so Bcc stays private. */
static int received_header(struct smtp_session *s, char *buf, size_t len)
{
	const struct smtp_tx *tx = s->tx;
	char helo[256], date[64], qid[SPOOL_QID_LEN + 1], forpart[ADDR_PATH_MAX * 4 + 16] = "";
	time_t now = time(NULL);
	struct tm tm;
	header_safe(s->helo, helo, sizeof(helo));
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	spool_qid_format(tx->env.qid, qid);
	if (tx->env.n_rcpts == 1)
		snprintf(forpart, sizeof(forpart), "\r\n\tfor <%s>", tx->first_rcpt);
	char proto[192];
	received_with(s, proto, sizeof(proto));
	return snprintf(
	    buf, len,
	    "Received: from %s ([%s])\r\n\tby %s (relayguard) with %s id %s%s;\r\n\t%s\r\n", helo,
	    s->ip, s->conf->hostname, proto, qid, forpart, date);
}

void smtp_data_begin(struct smtp_session *s)
{
	const struct conf *c = s->conf;
	char hdr[2048]; /* helo 255 + hostname 253 + address 256 + fixed text: well below */
	struct smtp_tx *tx = s->tx;
	tx->stage = spool_stage_new(s->ctx->spool);
	int n = received_header(s, hdr, sizeof(hdr));
	if (!tx->stage || n <= 0 || (size_t)n >= sizeof(hdr) ||
	    spool_stage_write(tx->stage, hdr, (size_t)n) < 0) {
		smtp_reply(s, "451 4.3.0 Cannot stage the message, try again later");
		smtp_tx_free(s->tx);
		s->tx = NULL;
		return;
	}
	smtp_data_init(&tx->data, c->limits.message_size, c->limits.header_size,
		       c->bare_newline == CONF_BARE_NORMALISE);
	s->state = SMTP_STATE_DATA;
	smtp_session_set_data_timeout(s, 1);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void commit_done(void *arg, int status, const char *qid)
{
	struct smtp_session *s = arg;
	s->commit = NULL;
	s->state = SMTP_STATE_COMMAND;
	if (status == 0)
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", qid);
	else
		smtp_reply(s, "451 4.3.0 Could not store the message durably, try again later");
	log_msg(status == 0 ? LOG_INFO : LOG_ERR,
		status == 0 ? "smtp: message queued" : "smtp: message commit failed",
		"session=%llu client=%s qid=%s tls=\"%s\"", (unsigned long long)s->id, s->ip, qid,
		s->tls_info);
	smtp_session_resume(s);
}

/* The reply for a message the data parser found unacceptable, or NULL. */
static const char *data_verdict(const struct smtp_data *d)
{
	if (d->too_big)
		return "552 5.3.4 Message size exceeds fixed maximum message size";
	if (d->header_too_big)
		return "552 5.3.4 Message header too large";
	if (d->bad_newline)
		return "554 5.6.0 Bare <CR> or <LF> in message (SMTP smuggling defence)";
	if (d->bad_nul)
		return "554 5.6.0 NUL byte in message";
	return NULL;
}

static void log_message(struct smtp_session *s, const char *qid, const char *result,
			const char *reply)
{
	char qf[ADDR_PATH_MAX * 4 * 4], qr[300];
	log_msg(LOG_INFO, result,
		"session=%llu client=%s qid=%s from=%s size=%llu nrcpt=%zu reply=%s",
		(unsigned long long)s->id, s->ip, qid, smtp_log_addr(&s->tx->from, qf, sizeof(qf)),
		(unsigned long long)s->tx->data.size, s->tx->env.n_rcpts,
		log_quote(reply, strlen(reply), qr, sizeof(qr)));
}

static void fill_envelope(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char from[ADDR_PATH_MAX * 4];
	addr_format(&tx->from, from, sizeof(from));
	tx->env.time = (int64_t)time(NULL);
	tx->env.from = strdup(from);
	tx->env.helo = strdup(s->helo);
	tx->env.client = strdup(s->ip);
	if (s->login[0] && !tx->env.auth) {
		tx->env.auth = strdup(s->login);
		for (char *c = tx->env.auth; c && *c; c++)
			if (*c == '\r' || *c == '\n')
				*c = '?';
	}
	tx->env.eight_bit = tx->params.body_8bit || tx->data.eight_bit;
	tx->env.smtputf8 = tx->params.smtputf8;
}

static void data_end(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char qid[SPOOL_QID_LEN + 1];
	const char *bad =
	    tx->stage_failed ? "452 4.3.1 Insufficient system storage" : data_verdict(&tx->data);
	spool_qid_format(tx->env.qid, qid);
	s->state = SMTP_STATE_COMMAND;
	smtp_session_set_data_timeout(s, 0);
	if (bad) {
		log_message(s, qid, "smtp: message rejected", bad);
		smtp_error(s, "%s", bad);
		smtp_tx_free(s->tx);
		s->tx = NULL;
		return;
	}
	fill_envelope(s);
	log_message(s, qid, "smtp: message received", "commit");
	int err = ENOMEM;
	struct spool_commit *c = NULL;
	if (tx->env.from && tx->env.helo && tx->env.client) {
		c = spool_commit(s->ctx->spool, &tx->env, tx->stage, commit_done, s, &err);
		tx->stage = NULL; /* consumed either way */
	}
	if (!c) {
		const char *reply = err == ENOSPC || err == EDQUOT
					? "452 4.3.1 Insufficient system storage"
					: "451 4.3.0 Could not store the message, try again later";
		log_msg(LOG_ERR, "smtp: message not stored",
			"session=%llu client=%s qid=%s error=\"%s\"", (unsigned long long)s->id,
			s->ip, qid, strerror(err));
		smtp_reply(s, "%s", reply);
	} else {
		s->commit = c;
		s->state = SMTP_STATE_COMMIT;
		bufferevent_disable(s->bev, EV_READ);
	}
	smtp_tx_free(s->tx);
	s->tx = NULL;
}

/* Feed buffered input to the data parser, one contiguous chunk at a time. */
void smtp_data_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	char out[2 * SMTP_DATA_CHUNK + 2];
	size_t n = evbuffer_get_contiguous_space(in), outlen;
	if (n > SMTP_DATA_CHUNK)
		n = SMTP_DATA_CHUNK;
	const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
	struct smtp_tx *tx = s->tx;
	size_t used = smtp_data_feed(&tx->data, p, n, out, &outlen);
	evbuffer_drain(in, used);
	if (outlen > 0 && !tx->stage_failed && !data_verdict(&tx->data) &&
	    spool_stage_write(tx->stage, out, outlen) < 0)
		tx->stage_failed = 1; /* refused at the end; nothing half-stored */
	if (tx->data.done)
		data_end(s);
}
