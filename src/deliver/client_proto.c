/* client_proto.c — the dialogue of one delivery: one handler per reply we wait for (a table, in
 * the order of RFC 5321's client), MAIL/RCPT with their ESMTP parameters, the body through the
 * streaming encoder with write backpressure. */
#include "client_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void client_send_ehlo(struct deliver_session *s)
{
	s->state = CS_EHLO;
	client_send(s, "%s %s", s->cc->lmtp ? "LHLO" : "EHLO", s->cc->helo);
}

static int offered(const struct deliver_session *s, unsigned ext)
{
	return (s->ehlo.ext & ext) != 0;
}

static void rcpt_set(struct deliver_rcpt *rc, const struct deliver_reply *r)
{
	rc->code = r->code;
	util_strlcpy(rc->enh, r->enh, sizeof(rc->enh));
	util_strlcpy(rc->text, r->text, sizeof(rc->text));
}

/* The same reply for every recipient the server accepted at RCPT. */
static void accepted_set(struct deliver_session *s, const struct deliver_reply *r)
{
	for (size_t i = 0; i < s->msg->n_rcpts; i++)
		if (s->accepted[i])
			rcpt_set(&s->msg->rcpts[i], r);
}

static void send_mail(struct deliver_session *s)
{
	const struct deliver_msg *m = s->msg;
	struct evbuffer *out = bufferevent_get_output(s->bev);
	evbuffer_add_printf(out, "MAIL FROM:<%s>", m->from);
	if (offered(s, DELIVER_EXT_SIZE))
		evbuffer_add_printf(out, " SIZE=%llu", (unsigned long long)m->body.len);
	if (m->eight_bit && offered(s, DELIVER_EXT_8BITMIME))
		evbuffer_add_printf(out, " BODY=8BITMIME");
	if (m->smtputf8)
		evbuffer_add_printf(out, " SMTPUTF8");
	if (m->ret && offered(s, DELIVER_EXT_DSN))
		evbuffer_add_printf(out, " RET=%s", m->ret == 1 ? "FULL" : "HDRS");
	if (m->envid && offered(s, DELIVER_EXT_DSN))
		evbuffer_add_printf(out, " ENVID=%s", m->envid);
	client_send(s, "%s", "");
	s->state = CS_MAIL;
}

static void send_rcpt(struct deliver_session *s, size_t i)
{
	const struct deliver_rcpt *rc = &s->msg->rcpts[i];
	struct evbuffer *out = bufferevent_get_output(s->bev);
	evbuffer_add_printf(out, "RCPT TO:<%s>", rc->addr);
	if (rc->notify && offered(s, DELIVER_EXT_DSN)) {
		if (rc->notify & DELIVER_NOTIFY_NEVER) {
			evbuffer_add_printf(out, " NOTIFY=NEVER");
		} else {
			static const char *const names[] = {"SUCCESS", "FAILURE", "DELAY"};
			const char *sep = " NOTIFY=";
			for (unsigned b = 0; b < 3; b++)
				if (rc->notify & (DELIVER_NOTIFY_SUCCESS << b)) {
					evbuffer_add_printf(out, "%s%s", sep, names[b]);
					sep = ",";
				}
		}
	}
	if (rc->orcpt && offered(s, DELIVER_EXT_DSN))
		evbuffer_add_printf(out, " ORCPT=%s", rc->orcpt);
	client_send(s, "%s", "");
}

/* The EHLO reply decides whether the message can go to this server at all. */
static int transaction_possible(struct deliver_session *s)
{
	const struct deliver_msg *m = s->msg;
	if (m->smtputf8 && !offered(s, DELIVER_EXT_SMTPUTF8)) {
		struct deliver_reply r = {.code = 553, .enh = "5.6.7"};
		snprintf(r.text, sizeof(r.text), "SMTPUTF8 is required, but was not offered by %s",
			 s->res.host);
		client_note_reply(s, &r);
		return 0;
	}
	if (offered(s, DELIVER_EXT_SIZE) && s->ehlo.size && m->body.len > s->ehlo.size) {
		struct deliver_reply r = {.code = 552, .enh = "5.3.4"};
		snprintf(r.text, sizeof(r.text), "message size %llu exceeds the limit %llu of %s",
			 (unsigned long long)m->body.len, (unsigned long long)s->ehlo.size,
			 s->res.host);
		client_note_reply(s, &r);
		return 0;
	}
	return 1;
}

/* MAIL, and with PIPELINING every RCPT and DATA in the same write (RFC 2920). */
static void begin_transaction(struct deliver_session *s)
{
	s->res.ext = s->ehlo.ext;
	if (!transaction_possible(s)) {
		client_outcome(s, DELIVER_PERMFAIL, 1);
		return;
	}
	s->rcpt_i = 0;
	s->n_accepted = 0;
	send_mail(s);
	if (!offered(s, DELIVER_EXT_PIPELINING))
		return;
	for (size_t i = 0; i < s->msg->n_rcpts; i++)
		send_rcpt(s, i);
	client_send(s, "DATA");
}

static void on_greeting(struct deliver_session *s, const struct deliver_reply *r)
{
	if (r->code / 100 != 2) {
		client_note_reply(s, r);
		client_next_target(s);
		return;
	}
	client_send_ehlo(s);
}

static void on_ehlo(struct deliver_session *s, const struct deliver_reply *r)
{
	if (r->code / 100 == 2 && offered(s, DELIVER_EXT_STARTTLS) && s->cc->tls && !s->tls_on) {
		s->state = CS_STARTTLS;
		client_send(s, "STARTTLS");
	} else if (r->code / 100 == 2) {
		begin_transaction(s);
	} else if (r->code / 100 == 5 && !s->cc->lmtp) {
		s->ehlo = (struct deliver_ehlo){0};
		s->state = CS_HELO;
		client_send(s, "HELO %s", s->cc->helo);
	} else {
		client_note_reply(s, r);
		client_next_target(s);
	}
}

static void on_helo(struct deliver_session *s, const struct deliver_reply *r)
{
	if (r->code / 100 == 2) {
		begin_transaction(s);
		return;
	}
	client_note_reply(s, r);
	client_next_target(s);
}

/* RFC 3207: 220 starts the handshake; any other answer but 421 leaves the session in the
 * clear (opportunistic TLS). Bytes after the 220 were not protected by TLS and would be read
 * as if they were (CVE-2011-0411 style injection): that server is skipped. */
static void on_starttls(struct deliver_session *s, const struct deliver_reply *r)
{
	char err[256];
	if (r->code == 421) {
		client_note_reply(s, r);
		client_next_target(s);
	} else if (r->code != 220) {
		begin_transaction(s);
	} else if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		client_fail(s, "plaintext after the STARTTLS reply");
	} else if (client_tls_start(s, err, sizeof(err)) < 0) {
		client_fail(s, "TLS: %s", err);
	}
}

/* After MAIL, replies other than 2xx/4xx/5xx (a 354 out of turn) mean the dialogue is lost. */
static int reply_odd(struct deliver_session *s, const struct deliver_reply *r)
{
	if (r->code / 100 != 3)
		return 0;
	client_fail(s, "unexpected reply after %s: %d %s", client_stage(s->state), r->code,
		    r->text);
	return 1;
}

static void on_mail(struct deliver_session *s, const struct deliver_reply *r)
{
	if (reply_odd(s, r))
		return;
	if (r->code / 100 != 2) {
		client_note_reply(s, r);
		client_outcome(s, r->code / 100 == 5 ? DELIVER_PERMFAIL : DELIVER_TEMPFAIL, 1);
		return;
	}
	s->state = CS_RCPT;
	if (!offered(s, DELIVER_EXT_PIPELINING))
		send_rcpt(s, 0);
}

/* Every RCPT answered: DATA, unless nobody was accepted. */
static void rcpts_answered(struct deliver_session *s, const struct deliver_reply *last)
{
	s->state = CS_DATA;
	if (offered(s, DELIVER_EXT_PIPELINING))
		return; /* DATA is on its way already */
	if (s->n_accepted > 0) {
		client_send(s, "DATA");
		return;
	}
	client_note_reply(s, last);
	client_outcome(s, DELIVER_DONE, 1);
}

static void on_rcpt(struct deliver_session *s, const struct deliver_reply *r)
{
	if (reply_odd(s, r))
		return;
	if (r->code == 421) { /* the server is closing: this recipient got no answer */
		client_note_reply(s, r);
		client_outcome(s, DELIVER_TEMPFAIL, 1);
		return;
	}
	if (r->code / 100 == 2) {
		s->accepted[s->rcpt_i] = 1;
		s->n_accepted++;
	} else {
		rcpt_set(&s->msg->rcpts[s->rcpt_i], r);
	}
	if (++s->rcpt_i == s->msg->n_rcpts)
		rcpts_answered(s, r);
	else if (!offered(s, DELIVER_EXT_PIPELINING))
		send_rcpt(s, s->rcpt_i);
}

static void on_data(struct deliver_session *s, const struct deliver_reply *r)
{
	if (r->code == 354 && s->n_accepted == 0) {
		/* RFC 2920 3.1: a server should not, but if it does, end an empty message */
		client_send(s, ".");
		client_outcome(s, DELIVER_DONE, 1);
	} else if (r->code == 354) {
		s->state = CS_BODY;
		deliver_encode_init(&s->enc);
		s->body_done = 0;
		client_deadline(s, s->cc->data_timeout);
		bufferevent_setwatermark(s->bev, EV_WRITE, DELIVER_BODY_LOW_WATER, 0);
		client_body_fill(s);
	} else if (r->code / 100 == 4 || r->code / 100 == 5) {
		accepted_set(s, r);
		client_note_reply(s, r);
		client_outcome(s, DELIVER_DONE, 1);
	} else {
		client_fail(s, "unexpected reply after DATA: %d %s", r->code, r->text);
	}
}

/* The final reply: SMTP one for all accepted recipients, LMTP one per accepted recipient in
 * the order of RCPT (RFC 2033 4.2). */
static void on_dot(struct deliver_session *s, const struct deliver_reply *r)
{
	if (reply_odd(s, r))
		return;
	if (!s->cc->lmtp) {
		accepted_set(s, r);
		client_note_reply(s, r);
		client_outcome(s, DELIVER_DONE, 1);
		return;
	}
	while (s->rcpt_i < s->msg->n_rcpts && !s->accepted[s->rcpt_i])
		s->rcpt_i++;
	if (s->rcpt_i < s->msg->n_rcpts)
		rcpt_set(&s->msg->rcpts[s->rcpt_i++], r);
	if (s->pending == 0) {
		client_note_reply(s, r);
		client_outcome(s, DELIVER_DONE, 1);
	}
}

static void on_quit(struct deliver_session *s, const struct deliver_reply *r)
{
	(void)r;
	if (s->pending == 0)
		client_outcome(s, s->res.status, 0);
}

void client_on_reply(struct deliver_session *s, const struct deliver_reply *r)
{
	static void (*const handlers[])(struct deliver_session *, const struct deliver_reply *) = {
	    [CS_GREETING] = on_greeting, [CS_EHLO] = on_ehlo, [CS_HELO] = on_helo,
	    [CS_STARTTLS] = on_starttls, [CS_MAIL] = on_mail, [CS_RCPT] = on_rcpt,
	    [CS_DATA] = on_data,	 [CS_DOT] = on_dot,   [CS_QUIT] = on_quit,
	};
	if ((size_t)s->state < sizeof(handlers) / sizeof(handlers[0]) && handlers[s->state])
		handlers[s->state](s, r);
}

/* The body ends: the encoder's tail and ".\r\n"; then one reply per accepted recipient
 * (LMTP) or one reply. */
static void body_end(struct deliver_session *s, struct evbuffer *out)
{
	char tail[DELIVER_ENCODE_FINISH_MAX];
	evbuffer_add(out, tail, deliver_encode_finish(&s->enc, tail));
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	s->state = CS_DOT;
	s->rcpt_i = 0;
	s->pending += s->cc->lmtp ? (unsigned)s->n_accepted : 1;
}

/* One chunk from the spool, encoded straight into the output buffer. */
static int body_chunk(struct deliver_session *s, struct evbuffer *out)
{
	const struct deliver_body *b = &s->msg->body;
	uint64_t left = b->len - s->body_done;
	size_t want = left < DELIVER_BODY_CHUNK ? (size_t)left : DELIVER_BODY_CHUNK;
	ssize_t n = pread(b->fd, s->chunk, want, (off_t)(b->off + s->body_done));
	if (n <= 0) {
		client_fail(s, "reading the queued message: %s",
			    n < 0 ? strerror(errno) : "file ends early");
		return -1;
	}
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(out, (ev_ssize_t)DELIVER_ENCODE_MAX(n), &v, 1) < 1) {
		client_fail(s, "out of memory while sending the message");
		return -1;
	}
	v.iov_len = deliver_encode(&s->enc, s->chunk, (size_t)n, v.iov_base);
	evbuffer_commit_space(out, &v, 1);
	s->body_done += (uint64_t)n;
	return 0;
}

void client_body_fill(struct deliver_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	while (s->body_done < s->msg->body.len && evbuffer_get_length(out) < DELIVER_BODY_CHUNK)
		if (body_chunk(s, out) < 0)
			return;
	if (s->body_done == s->msg->body.len)
		body_end(s, out);
}
