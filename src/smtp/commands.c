/* commands.c — the SMTP verbs: one row each in a table of {verb, need, handler}, so the
 * dispatch reads like the RFC's list. Each handler checks its arguments and replies. */
#include "session_int.h"

#include "../util/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum need { NEED_NOTHING, NEED_HELO, NEED_TX };

/* The parser's DSN values are stored in the envelope unchanged. */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(SMTP_RET_FULL, SPOOL_RET_FULL) && SAME(SMTP_RET_HDRS, SPOOL_RET_HDRS), "RET");
_Static_assert(SAME(SMTP_NOTIFY_NEVER, SPOOL_NOTIFY_NEVER) &&
		   SAME(SMTP_NOTIFY_SUCCESS, SPOOL_NOTIFY_SUCCESS) &&
		   SAME(SMTP_NOTIFY_FAILURE, SPOOL_NOTIFY_FAILURE) &&
		   SAME(SMTP_NOTIFY_DELAY, SPOOL_NOTIFY_DELAY),
	       "NOTIFY");
#undef SAME

static void tx_reset(struct smtp_session *s)
{
	smtp_tx_free(s->tx);
	s->tx = NULL;
}

static int helo_arg_valid(const char *arg, size_t len)
{
	if (len == 0 || len > 255)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)arg[i] <= ' ' || (unsigned char)arg[i] >= 0x7f)
			return 0;
	return 1;
}

static void cmd_helo(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	const struct conf *c = s->conf;
	if (!helo_arg_valid(arg, len)) {
		smtp_error(s, "501 5.5.4 Syntax: %s hostname",
			   verb == SMTP_VERB_EHLO ? "EHLO" : "HELO");
		return;
	}
	tx_reset(s);
	memcpy(s->helo, arg, len);
	s->helo[len] = '\0';
	s->esmtp = verb == SMTP_VERB_EHLO;
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", c->hostname);
		return;
	}
	smtp_reply(s, "250-%s Hello %s [%s]", c->hostname, s->helo, s->ip);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)c->limits.message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-DSN");
	if (smtp_tls_offered(s))
		smtp_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply(s, "250-AUTH %s", smtp_auth_mechs(s));
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250 SMTPUTF8");
}

static const char *path_error(enum addr_status st, int sender)
{
	switch (st) {
	case ADDR_ERR_TOO_LONG:
		return sender ? "501 5.1.7 Sender address too long"
			      : "501 5.1.3 Recipient address too long";
	case ADDR_ERR_8BIT:
		return "553 5.6.7 Non-ASCII address requires SMTPUTF8";
	case ADDR_ERR_DOMAIN:
		return sender ? "501 5.1.7 Invalid sender domain"
			      : "501 5.1.3 Invalid recipient domain";
	default:
		return sender ? "501 5.1.7 Bad sender address syntax"
			      : "501 5.1.3 Bad recipient address syntax";
	}
}

static const char *param_error(enum smtp_param_status st)
{
	return st == SMTP_PARAM_UNKNOWN ? "555 5.5.4 Unsupported parameter"
					: "501 5.5.4 Invalid parameter syntax";
}

/* Parse "<path> [params]": the path first, so SMTPUTF8 among the params can apply to it. */
static int parse_path_arg(struct smtp_session *s, const char *arg, size_t len, int sender,
			  struct addr_path *path, size_t *used)
{
	enum addr_status st = addr_parse_path(arg, len, 1, path, used);
	if (st != ADDR_OK) {
		smtp_error(s, "%s", path_error(st, sender));
		return -1;
	}
	if (*used < len && arg[*used] != ' ') {
		smtp_error(s, "%s", path_error(ADDR_ERR_SYNTAX, sender));
		return -1;
	}
	return 0;
}

static void log_mail(struct smtp_session *s, const struct addr_path *from,
		     const struct policy_verdict *v)
{
	char qf[ADDR_PATH_MAX * 4 * 4], qh[1100], qr[300],
	    ql[sizeof(s->login) * 4 + 8] = "", qid[SPOOL_QID_LEN + 1];
	spool_qid_format(s->tx->env.qid, qid);
	if (s->login[0]) {
		memcpy(ql, " login=", 8);
		log_quote(s->login, strlen(s->login), ql + 7, sizeof(ql) - 7);
	}
	log_msg(v->result == POLICY_REJECT ? LOG_WARN : LOG_INFO,
		v->result == POLICY_REJECT ? "smtp: sender rejected" : "smtp: sender accepted",
		"session=%llu client=%s qid=%s helo=%s from=%s%s rule=%s reply=%s",
		(unsigned long long)s->id, s->ip, qid,
		log_quote(s->helo, strlen(s->helo), qh, sizeof(qh)),
		smtp_log_addr(from, qf, sizeof(qf)), ql, v->rule_id,
		log_quote(v->reply, strlen(v->reply), qr, sizeof(qr)));
}

/* The sender rules (policy_check_sender), once the transaction has its queue ID: logged and
 * counted like RCPT verdicts. A refusal is replied here; returns -1 then. */
static int mail_policy(struct smtp_session *s, const struct addr_path *from)
{
	struct policy_verdict v =
	    policy_check_sender(s->conf, &s->client, s->login[0] ? s->login : NULL, from);
	char reply[sizeof(s->login) + 64];
	/* the one reply that names the login (static storage cannot hold it) */
	if (v.result == POLICY_REJECT && !strcmp(v.rule_id, "sender-login-mismatch"))
		snprintf(reply, sizeof(reply), "%s %s", v.reply, s->login);
	else
		util_strlcpy(reply, v.reply, sizeof(reply));
	v.reply = reply;
	log_mail(s, from, &v);
	metrics_count_sender(s->ctx->metrics, v.rule_id,
			     v.result == POLICY_REJECT ? METRICS_REJECT : METRICS_ACCEPT);
	if (v.result != POLICY_REJECT)
		return 0;
	smtp_error(s, "%s", v.reply);
	return -1;
}

/* limit spool-min-free: the spool's filesystem is nearly full. 1 when the 452 was given. */
static int spool_space_refused(struct smtp_session *s)
{
	uint64_t v = s->conf->limits.spool_min_free, avail;
	int pct = (v & CONF_PERCENT) != 0;
	if (!spool_space_low(s->ctx->spool, pct ? 0 : v, pct ? (unsigned)(v & ~CONF_PERCENT) : 0,
			     &avail))
		return 0;
	log_msg(LOG_WARN, "smtp: spool space low, mail refused",
		"session=%llu client=%s free=%llu limit=%llu%s", (unsigned long long)s->id, s->ip,
		(unsigned long long)avail, (unsigned long long)(v & ~CONF_PERCENT), pct ? "%" : "");
	smtp_reply(s, "452 4.3.1 Insufficient system storage");
	return 1;
}

static void cmd_mail(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	struct addr_path from;
	struct smtp_mail_params params;
	size_t used;
	(void)verb;
	if (s->tx) {
		smtp_error(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if (s->listener.role == CONF_ROLE_SUBMISSION && !s->login[0]) {
		smtp_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if (spool_space_refused(s))
		return;
	if (parse_path_arg(s, arg, len, 1, &from, &used) < 0)
		return;
	enum smtp_param_status ps = smtp_mail_params_parse(arg + used, len - used, &params);
	if (ps != SMTP_PARAM_OK) {
		smtp_error(s, "%s", param_error(ps));
		return;
	}
	if (from.utf8 && !params.smtputf8) {
		smtp_error(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		return;
	}
	if (params.has_size && params.size > s->conf->limits.message_size) {
		smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	char envid[SMTP_ENVID_MAX + 1] = "";
	if (params.envid)
		snprintf(envid, sizeof(envid), "%.*s", (int)params.envid_len, params.envid);
	s->tx = calloc(1, sizeof(*s->tx));
	if (!s->tx || spool_env_set_dsn(&s->tx->env, params.ret, envid) < 0) {
		tx_reset(s);
		smtp_reply(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	/* the queue ID names the transaction from MAIL on, so RCPT log lines carry it too */
	s->tx->env.qid = spool_qid_new(s->ctx->spool);
	s->tx->from = from;
	s->tx->params = params;
	s->tx->params.envid = NULL; /* pointed into the command line; the envelope has a copy */
	s->tx->utf8_addr = from.utf8;
	if (mail_policy(s, &from) < 0) {
		tx_reset(s);
		return;
	}
	if (smtp_ratelimit_mail(s) == 0)
		smtp_reply(s, "250 2.1.0 Ok"); /* else: once the store answered */
}

static void log_rcpt(struct smtp_session *s, const char *to, const struct policy_verdict *v)
{
	char qf[ADDR_PATH_MAX * 4 * 4], qt[sizeof(qf)], qh[1100], qr[300], qid[SPOOL_QID_LEN + 1];
	spool_qid_format(s->tx->env.qid, qid);
	log_msg(v->result == POLICY_REJECT ? LOG_WARN : LOG_INFO,
		v->result == POLICY_REJECT ? "smtp: rcpt rejected" : "smtp: rcpt accepted",
		"session=%llu client=%s qid=%s helo=%s from=%s to=%s rule=%s reply=%s",
		(unsigned long long)s->id, s->ip, qid,
		log_quote(s->helo, strlen(s->helo), qh, sizeof(qh)),
		smtp_log_addr(&s->tx->from, qf, sizeof(qf)), log_quote_path(to, qt, sizeof(qt)),
		v->rule_id, log_quote(v->reply, strlen(v->reply), qr, sizeof(qr)));
}

/* RCPT waits while DNS list lookups run, for a client they may judge. 1 when it waits. */
static int rcpt_dnsbl_wait(struct smtp_session *s)
{
	if (!dnsbl_check_pending(s->dnsbl) || smtp_dnsbl_exempt(s))
		return 0;
	s->state = SMTP_STATE_DNSBL_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	return 1;
}

/* An accepted recipient of a client the DNS lists score at dnsbl-threshold or above: refused
 * (reject 554, defer 450; rule "dnsbl:ZONE"), or accepted with the tag header. */
static void rcpt_dnsbl(struct smtp_session *s, struct policy_verdict *v)
{
	if (v->result == POLICY_REJECT || !s->dnsbl || smtp_dnsbl_exempt(s))
		return;
	if (!s->dnsbl_v && !(s->dnsbl_v = malloc(sizeof(*s->dnsbl_v)))) {
		v->result = POLICY_REJECT; /* the reply is a 451: try again */
		v->rule_id = "dnsbl";
		v->reply = "451 4.3.0 Out of resources, try again later";
		v->mailbox = NULL;
		return;
	}
	struct dnsbl_verdict *d = s->dnsbl_v;
	dnsbl_check_verdict(s->dnsbl, d);
	s->dnswl_listed = d->allow_listed; /* no greylisting for it */
	if (!d->acts)
		return;
	if (s->conf->dnsbl_action == CONF_DNSBL_TAG) {
		snprintf(s->tx->dnsbl_tag, sizeof(s->tx->dnsbl_tag), "score=%d lists=%s", d->score,
			 d->lists);
		return;
	}
	v->result = POLICY_REJECT;
	v->rule_id = d->rule_id;
	v->reply = d->reply;
	v->mailbox = NULL;
}

static void cmd_rcpt(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	struct addr_path rcpt;
	struct smtp_rcpt_params params;
	size_t used;
	char to[ADDR_PATH_MAX * 4], orcpt[SMTP_ORCPT_MAX + 1] = "";
	(void)verb;
	if (rcpt_dnsbl_wait(s))
		return;
	s->tx->rcpt_tries++;
	if (s->tx->env.n_rcpts >= s->conf->limits.recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (parse_path_arg(s, arg, len, 0, &rcpt, &used) < 0)
		return;
	enum smtp_param_status ps = smtp_rcpt_params_parse(arg + used, len - used, &params);
	if (ps != SMTP_PARAM_OK) {
		smtp_error(s, "%s", param_error(ps));
		return;
	}
	if (rcpt.utf8 && !s->tx->params.smtputf8) {
		smtp_error(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		return;
	}
	addr_format(&rcpt, to, sizeof(to));
	struct policy_verdict v = policy_check_rcpt(s->conf, &s->client, &s->tx->from, &rcpt);
	rcpt_dnsbl(s, &v);
	if (v.result == POLICY_REJECT) {
		smtp_rcpt_verdict(s, to, &v);
		smtp_error(s, "%s", v.reply);
		return;
	}
	if (params.orcpt)
		snprintf(orcpt, sizeof(orcpt), "%.*s", (int)params.orcpt_len, params.orcpt);
	if (smtp_ratelimit_rcpt(s, &rcpt, to, &v, params.notify, orcpt) == 0)
		smtp_rcpt_continue(s, &rcpt, to, &v, params.notify, orcpt);
}

void smtp_rcpt_continue(struct smtp_session *s, const struct addr_path *rcpt, const char *to,
			const struct policy_verdict *v, unsigned notify, const char *orcpt)
{
	if (smtp_greylist_applies(s) && smtp_greylist_start(s, rcpt, to, v, notify, orcpt) == 0)
		return; /* answered when the store has */
	smtp_rcpt_accept(s, to, v, notify, orcpt, rcpt->utf8);
}

void smtp_rcpt_verdict(struct smtp_session *s, const char *to, const struct policy_verdict *v)
{
	log_rcpt(s, to, v);
	metrics_count_rcpt(s->ctx->metrics, v->rule_id,
			   v->result == POLICY_REJECT ? METRICS_REJECT : METRICS_ACCEPT);
}

void smtp_rcpt_accept(struct smtp_session *s, const char *to, const struct policy_verdict *v,
		      unsigned notify, const char *orcpt, int utf8)
{
	smtp_rcpt_verdict(s, to, v);
	if (spool_env_add_rcpt(&s->tx->env, to, v->mailbox ? v->mailbox->user : NULL, v->rule_id) <
	    0) {
		smtp_reply(s, "452 4.3.1 Out of memory, try again later");
		return;
	}
	if (spool_env_set_rcpt_dsn(&s->tx->env, notify, orcpt) < 0) {
		spool_env_pop_rcpt(&s->tx->env); /* refused, so it must not be delivered */
		smtp_reply(s, "452 4.3.1 Out of memory, try again later");
		return;
	}
	if (s->tx->env.n_rcpts == 1)
		util_strlcpy(s->tx->first_rcpt, to, sizeof(s->tx->first_rcpt));
	s->tx->utf8_addr |= utf8;
	smtp_reply(s, "%s", v->reply);
}

static void cmd_data(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb;
	(void)arg;
	(void)len;
	/* RFC 5321 3.3: 503 when no RCPT came at all; 554 when every one was refused (the
	 * pipelining case of RFC 2920, where the client sent DATA before seeing the replies). */
	if (s->tx->rcpt_tries == 0) {
		smtp_error(s, "503 5.5.1 Need RCPT command first");
		return;
	}
	if (s->tx->env.n_rcpts == 0) {
		smtp_error(s, "554 5.5.1 No valid recipients");
		return;
	}
	if (spool_space_refused(s))
		return;
	smtp_data_begin(s);
}

/* RFC 3207. The 220 goes out in plaintext; then the session forgets everything the client
 * said (4.2: HELO, the transaction, AUTH) and TLS starts once the 220 is written. */
static void cmd_starttls(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb, (void)arg, (void)len;
	if (s->tls) {
		smtp_error(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!smtp_tls_offered(s)) {
		smtp_error(s, "454 4.7.0 TLS not available");
		return;
	}
	tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->login[0] = '\0';
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SMTP_STATE_STARTTLS;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_enable(s->bev, EV_WRITE);
}

/* RFC 4954 4. Offered only under TLS (RFC 8314: no password over plaintext), and on the
 * listeners the config says (role submission by default, "auth yes" elsewhere). */
static void cmd_auth(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb;
	if (s->login[0]) {
		smtp_error(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (s->tx) {
		smtp_error(s, "503 5.5.1 AUTH not permitted inside a mail transaction");
		return;
	}
	if (!s->listener.auth || !s->ctx->sasl) {
		smtp_error(s, "503 5.5.1 AUTH not available on this service");
		return;
	}
	if (!s->tls && !s->listener.tls_implicit) {
		smtp_error(s,
			   "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	smtp_auth_command(s, arg, len);
}

static void cmd_rset(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb, (void)arg, (void)len;
	tx_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb, (void)arg, (void)len;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb, (void)arg, (void)len;
	smtp_close(s, "221 2.0.0 %s Bye", s->conf->hostname);
}

static void cmd_help(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb, (void)arg, (void)len;
	smtp_reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY EXPN "
		      "STARTTLS AUTH");
	smtp_reply(s, "214 2.0.0 See RFC 5321");
}

/* Never disclose which users exist (RFC 5321 3.5.3). */
static void cmd_vrfy(struct smtp_session *s, enum smtp_verb verb, const char *arg, size_t len)
{
	(void)verb, (void)arg, (void)len;
	smtp_reply(
	    s, "252 2.5.2 Cannot verify the user, but will accept a message and attempt delivery");
}

typedef void (*cmd_fn)(struct smtp_session *, enum smtp_verb, const char *, size_t);

static const struct {
	enum smtp_verb verb;
	const char *name;
	enum need need;
	cmd_fn fn;
} commands[] = {
    {SMTP_VERB_HELO, "HELO", NEED_NOTHING, cmd_helo},
    {SMTP_VERB_EHLO, "EHLO", NEED_NOTHING, cmd_helo},
    {SMTP_VERB_MAIL, "MAIL", NEED_HELO, cmd_mail},
    {SMTP_VERB_RCPT, "RCPT", NEED_TX, cmd_rcpt},
    {SMTP_VERB_DATA, "DATA", NEED_TX, cmd_data},
    {SMTP_VERB_RSET, "RSET", NEED_NOTHING, cmd_rset},
    {SMTP_VERB_NOOP, "NOOP", NEED_NOTHING, cmd_noop},
    {SMTP_VERB_QUIT, "QUIT", NEED_NOTHING, cmd_quit},
    {SMTP_VERB_HELP, "HELP", NEED_NOTHING, cmd_help},
    {SMTP_VERB_VRFY, "VRFY", NEED_NOTHING, cmd_vrfy},
    {SMTP_VERB_EXPN, "EXPN", NEED_NOTHING, cmd_vrfy},
    {SMTP_VERB_STARTTLS, "STARTTLS", NEED_HELO, cmd_starttls},
    {SMTP_VERB_AUTH, "AUTH", NEED_HELO, cmd_auth},
};

/* 501 for an argument where none belongs or none where one is needed. */
static int args_ok(struct smtp_session *s, enum smtp_verb verb, const char *name, size_t len)
{
	enum smtp_arg_rule rule = smtp_verb_arg_rule(verb);
	if (rule == SMTP_ARG_NONE && len > 0)
		return smtp_error(s, "501 5.5.4 Syntax: %s takes no arguments", name), 0;
	if (rule == SMTP_ARG_REQUIRED && len == 0)
		return smtp_error(s, "501 5.5.4 Syntax: %s needs an argument", name), 0;
	return 1;
}

void smtp_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	enum smtp_cmd_status st = smtp_command_parse(line, len, &cmd);
	/* shutting down: a session that was let finish its transaction ends at its next command */
	if (s->ctx->draining && !s->tx && !(st == SMTP_CMD_OK && cmd.verb == SMTP_VERB_QUIT)) {
		smtp_close(s, "421 4.3.2 %s Service shutting down", s->conf->hostname);
		return;
	}
	if (st == SMTP_CMD_UNKNOWN) {
		smtp_error(s, "500 5.5.1 Command unrecognized");
		return;
	}
	if (st == SMTP_CMD_SYNTAX) {
		smtp_error(s, "501 5.5.2 Syntax: MAIL FROM:<address> / RCPT TO:<address>");
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].verb != cmd.verb)
			continue;
		if (!args_ok(s, cmd.verb, commands[i].name, cmd.arg_len))
			return;
		if (commands[i].need == NEED_HELO && !s->helo[0]) {
			smtp_error(s, "503 5.5.1 Send HELO/EHLO first");
			return;
		}
		if (commands[i].need == NEED_TX && !s->tx) {
			smtp_error(s, "503 5.5.1 Need MAIL command first");
			return;
		}
		commands[i].fn(s, cmd.verb, cmd.arg, cmd.arg_len);
		return;
	}
}
