/* client.c — `relayguard probe`: the relay battery over the wire against any SMTP server.
 * Blocking sockets with per-reply timeouts (a command-line tool, one server at a time); every
 * reply is parsed by deliver_reply_parse. The server may close the session after some refusals
 * (error limits): the probe reconnects and goes on. */
#include "probe.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_HELO "probe.relayguard.invalid"

struct conn {
	int fd;
	const struct probe_options *o;
	char buf[16384];
	size_t len;
	char last[512]; /* the last reply, first line, for the report */
};

struct result {
	enum probe_verdict verdict;
	int mail, rcpt, data, end; /* reply codes, 0 = not reached */
	char rcpt_path[600];
	char note[160];
};

static void transcript(const struct conn *c, const char *dir, const char *s, size_t n)
{
	if (c->o->verbose)
		fprintf(stderr, "%s %.*s\n", dir, (int)n, s);
}

static int conn_send(struct conn *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one reply; returns its code, or -1 on timeout, close or garbage. */
static int conn_reply(struct conn *c)
{
	for (;;) {
		struct deliver_reply rep;
		long n = deliver_reply_parse(c->buf, c->len, &rep);
		if (n > 0) {
			size_t first = strcspn(c->buf, "\r\n");
			snprintf(c->last, sizeof(c->last), "%.*s", (int)first, c->buf);
			transcript(c, "<-", c->buf, (size_t)n - (c->buf[n - 2] == '\r' ? 2 : 1));
			memmove(c->buf, c->buf + n, c->len - (size_t)n);
			c->len -= (size_t)n;
			return rep.code;
		}
		if (n < 0 || c->len == sizeof(c->buf))
			return -1;
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static int conn_cmd(struct conn *c, const char *line)
{
	char out[1024];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(out))
		return -1;
	transcript(c, "->", line, strlen(line));
	return conn_send(c, out, (size_t)n) < 0 ? -1 : conn_reply(c);
}

static int bind_source(int fd, const char *source, int family)
{
	struct addrinfo hints = {0}, *ai;
	hints.ai_family = family;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(source, "0", &hints, &ai) != 0)
		return -1;
	int rc = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return rc;
}

/* Connect, read the banner, say EHLO. Fills the server's name and address literal body. */
static int conn_open(struct conn *c, char *name, size_t namelen, char *lit, size_t litlen)
{
	struct addrinfo hints = {0}, *ai, *a;
	struct timeval tv = {(time_t)c->o->timeout, 0};
	hints.ai_socktype = SOCK_STREAM;
	c->len = 0;
	c->fd = -1;
	if (getaddrinfo(c->o->host, c->o->port, &hints, &ai) != 0)
		return -1;
	for (a = ai; a && c->fd < 0; a = a->ai_next) {
		c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if ((c->o->source && bind_source(c->fd, c->o->source, a->ai_family) < 0) ||
		    connect(c->fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(c->fd);
			c->fd = -1;
			continue;
		}
		char ip[64];
		util_sockaddr_ip(a->ai_addr, ip, sizeof(ip));
		snprintf(lit, litlen, "%s%s", a->ai_family == AF_INET6 ? "IPv6:" : "", ip);
	}
	freeaddrinfo(ai);
	if (c->fd < 0 || conn_reply(c) != 220)
		return -1;
	if (probe_reply_name(c->last, strlen(c->last), name, namelen) < 0)
		snprintf(name, namelen, "%s", c->o->host);
	int code = conn_cmd(c, "EHLO " PROBE_HELO);
	if (code != 250 && code > 0)
		code = conn_cmd(c, "HELO " PROBE_HELO);
	return code == 250 ? 0 : -1;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The verdict of a refusal at MAIL or RCPT. */
static enum probe_verdict refused(int code)
{
	return code == 530 ? PROBE_AUTH_NEEDED : PROBE_REFUSED;
}

/* One battery test on an open session. Returns -1 when the connection failed under it. */
static int run_test(struct conn *c, const struct probe_test *t, const struct probe_target *tgt,
		    struct result *r)
{
	char from[600], line[700], msg[1024];
	if (probe_expand(t->from, tgt, from, sizeof(from)) < 0 ||
	    probe_expand(t->rcpt, tgt, r->rcpt_path, sizeof(r->rcpt_path)) < 0)
		return -1;
	if (conn_cmd(c, "RSET") < 0)
		return -1;
	snprintf(line, sizeof(line), "MAIL FROM:%s", from);
	if ((r->mail = conn_cmd(c, line)) < 0)
		return -1;
	if (r->mail / 100 != 2)
		return r->verdict = refused(r->mail), 0;
	snprintf(line, sizeof(line), "RCPT TO:%s", r->rcpt_path);
	if ((r->rcpt = conn_cmd(c, line)) < 0)
		return -1;
	if (r->rcpt / 100 != 2)
		return r->verdict = refused(r->rcpt), 0;
	r->verdict = PROBE_ACCEPTS_RCPT;
	if ((r->data = conn_cmd(c, "DATA")) < 0)
		return -1;
	if (r->data != 354)
		return 0;
	int n = snprintf(
	    msg, sizeof(msg),
	    "From: <probe@relay-test.example>\r\nSubject: relayguard relay test %s\r\n\r\n"
	    "A relay test by relayguard probe (%s). If this arrived, %s relays mail.\r\n.\r\n",
	    t->id, t->why, c->o->host);
	transcript(c, "->", "(test message)", 14);
	if (conn_send(c, msg, (size_t)n) < 0 || (r->end = conn_reply(c)) < 0)
		return -1;
	if (r->end / 100 == 2)
		r->verdict = PROBE_OPEN;
	return 0;
}

/* Run test i, reconnecting once if the server closed the session (error limits). */
static void run_one(struct conn *c, size_t i, struct probe_target *tgt, char *name, size_t namelen,
		    char *lit, size_t litlen, struct result *r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(r, 0, sizeof(*r));
		if (c->fd < 0 && conn_open(c, name, namelen, lit, litlen) < 0) {
			conn_close(c);
			r->verdict = PROBE_ERROR;
			snprintf(r->note, sizeof(r->note), "cannot open a session: %.120s",
				 c->last[0] ? c->last : strerror(errno));
			continue;
		}
		tgt->dom = name;
		tgt->ip = lit;
		if (run_test(c, &probe_battery[i], tgt, r) == 0)
			return;
		conn_close(c);
		r->verdict = PROBE_ERROR;
		snprintf(r->note, sizeof(r->note), "connection lost or timed out (last: %.100s)",
			 c->last);
	}
}

static const char *depth(const struct result *r)
{
	return r->verdict == PROBE_OPEN ? "data" : r->verdict == PROBE_ACCEPTS_RCPT ? "rcpt" : "-";
}

static void print_json(const struct probe_options *o, const char *name, const struct result *res,
		       size_t n, const char *overall)
{
	printf("{\"target\":");
	util_json_print(stdout, o->host);
	printf(",\"port\":");
	util_json_print(stdout, o->port);
	printf(",\"server_name\":");
	util_json_print(stdout, name);
	printf(",\"result\":\"%s\",\"tests\":[", overall);
	for (size_t i = 0; i < n; i++) {
		const struct result *r = &res[i];
		printf("%s{\"id\":\"%s\",\"verdict\":\"%s\",\"depth\":\"%s\",\"rcpt\":",
		       i ? "," : "", probe_battery[i].id, probe_verdict_name(r->verdict), depth(r));
		util_json_print(stdout, r->rcpt_path);
		printf(",\"codes\":{\"mail\":%d,\"rcpt\":%d,\"data\":%d,\"end\":%d},\"note\":",
		       r->mail, r->rcpt, r->data, r->end);
		util_json_print(stdout, r->note);
		putchar('}');
	}
	printf("]}\n");
}

static void print_table(const struct probe_options *o, const char *name, const struct result *res,
			size_t n, const char *overall, size_t open)
{
	printf("relayguard probe %s port %s (server %s%s%s)\n", o->host, o->port, name,
	       o->source ? ", from " : "", o->source ? o->source : "");
	printf("%-30s %4s %4s %4s %4s  %-21s %s\n", "test", "MAIL", "RCPT", "DATA", "END",
	       "verdict", "RCPT TO");
	for (size_t i = 0; i < n; i++) {
		const struct result *r = &res[i];
		printf("%-30s %4d %4d %4d %4d  %-21s %s%s%s\n", probe_battery[i].id, r->mail,
		       r->rcpt, r->data, r->end, probe_verdict_name(r->verdict), r->rcpt_path,
		       r->note[0] ? "  # " : "", r->note);
	}
	printf("result: %s (%zu of %zu tests relayed to DATA; depth: rcpt = RCPT accepted, data = "
	       "message accepted)\n",
	       overall, open, n);
}

int probe_run(const struct probe_options *o)
{
	struct conn c = {.fd = -1, .o = o};
	struct result res[64];
	struct probe_target tgt = {NULL, NULL};
	char name[256] = "", lit[80] = "";
	size_t n = probe_battery_len < 64 ? probe_battery_len : 64, open = 0, errors = 0;
	time_t start = time(NULL);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)(time(NULL) - start) >= o->max_time) {
			memset(&res[i], 0, sizeof(res[i]));
			res[i].verdict = PROBE_ERROR;
			snprintf(res[i].note, sizeof(res[i].note), "time limit of %us reached",
				 o->max_time);
		} else {
			run_one(&c, i, &tgt, name, sizeof(name), lit, sizeof(lit), &res[i]);
		}
		open += res[i].verdict == PROBE_OPEN;
		errors += res[i].verdict == PROBE_ERROR;
	}
	if (c.fd >= 0)
		conn_cmd(&c, "QUIT");
	conn_close(&c);
	const char *overall = open	    ? "OPEN RELAY"
			      : errors == n ? "could not test"
			      : errors	    ? "incomplete (some tests could not run)"
					    : "closed";
	if (o->json)
		print_json(o, name, res, n, overall);
	else
		print_table(o, name, res, n, overall, open);
	return open ? 1 : errors ? 2 : 0;
}
