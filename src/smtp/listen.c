/* listen.c — the listening sockets of the "listen" directives. */
#include "session_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define SMTP_LISTEN_BACKLOG 1024

struct smtp_listener {
	struct smtp_listener *next;
	struct evconnlistener *ev;
	struct smtp_ctx *ctx;
	struct conf_listen conf; /* a copy: the listener outlives the config it came from */
};

static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *peer,
		      int peerlen, void *arg)
{
	struct smtp_listener *l = arg;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	(void)ev;
	(void)peerlen;
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0) {
		close(fd);
		return;
	}
	/* replies go out as soon as they are written: no Nagle wait for the client's delayed ACK
	 * between two replies of one pipelined batch */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	smtp_session_start(l->ctx, fd, peer, (struct sockaddr *)&local, &l->conf);
}

static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
	struct smtp_listener *l = arg;
	(void)ev;
	/* EMFILE and friends: keep the listener, the next accept may succeed */
	log_msg(LOG_ERR, "smtp: accept failed", "listen=%s error=\"%s\"", l->conf.text,
		strerror(errno));
}

static int open_socket(const struct conf_listen *cl, char *err, size_t errlen)
{
	return util_tcp_listen((const struct sockaddr *)&cl->addr, cl->addrlen, 1,
			       SMTP_LISTEN_BACKLOG, "listen", cl->text, err, errlen);
}

static void log_listening(const struct smtp_listener *l, const char *what)
{
	log_msg(LOG_INFO, what, "listen=%s role=%s tls=%s auth=%s", l->conf.text,
		l->conf.role == CONF_ROLE_SUBMISSION ? "submission" : "smtp",
		l->conf.tls_implicit ? "implicit" : "starttls", l->conf.auth ? "yes" : "no");
}

static struct smtp_listener *listener_open(struct smtp_ctx *ctx, const struct conf_listen *cl,
					   char *err, size_t errlen)
{
	struct smtp_listener *l = calloc(1, sizeof(*l));
	int fd = l ? open_socket(cl, err, errlen) : -1;
	if (fd < 0) {
		if (!l)
			snprintf(err, errlen, "out of memory");
		free(l);
		return NULL;
	}
	l->ctx = ctx;
	l->conf = *cl;
	l->ev = evconnlistener_new(ctx->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!l->ev) {
		snprintf(err, errlen, "listen %s: cannot watch the socket", cl->text);
		close(fd);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->ev, accept_error_cb);
	return l;
}

static void listeners_free(struct smtp_listener *l, const char *what)
{
	while (l) {
		struct smtp_listener *next = l->next;
		if (what)
			log_listening(l, what);
		evconnlistener_free(l->ev);
		free(l);
		l = next;
	}
}

static int same_addr(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static struct smtp_listener *listener_find(struct smtp_listener *l, const struct conf_listen *cl)
{
	while (l && !same_addr(&l->conf, cl))
		l = l->next;
	return l;
}

/* Bind the listen lines of conf that no listener has yet, into *fresh (all or none). */
static int listeners_bind_new(struct smtp_ctx *ctx, const struct conf *conf,
			      struct smtp_listener **fresh, char *err, size_t errlen)
{
	*fresh = NULL;
	for (size_t i = 0; i < conf->n_listens; i++) {
		const struct conf_listen *cl = &conf->listens[i];
		if (listener_find(ctx->listeners, cl) || listener_find(*fresh, cl))
			continue;
		struct smtp_listener *l = listener_open(ctx, cl, err, errlen);
		if (!l) {
			listeners_free(*fresh, NULL);
			*fresh = NULL;
			return -1;
		}
		l->next = *fresh;
		*fresh = l;
	}
	return 0;
}

int smtp_listen_update(struct smtp_ctx *ctx, const struct conf *conf, unsigned *added,
		       unsigned *removed, char *err, size_t errlen)
{
	struct smtp_listener *fresh, *gone = NULL, **p = &ctx->listeners;
	*added = *removed = 0;
	if (listeners_bind_new(ctx, conf, &fresh, err, errlen) < 0)
		return -1;
	while (*p) { /* keep what is still listed (with its new role), take out the rest */
		struct smtp_listener *l = *p;
		const struct conf_listen *cl = NULL;
		for (size_t i = 0; i < conf->n_listens && !cl; i++)
			if (same_addr(&l->conf, &conf->listens[i]))
				cl = &conf->listens[i];
		if (cl) {
			l->conf = *cl;
			p = &l->next;
			continue;
		}
		*p = l->next;
		l->next = gone;
		gone = l;
		(*removed)++;
	}
	listeners_free(gone, "smtp: listener closed");
	while (fresh) {
		struct smtp_listener *l = fresh;
		fresh = l->next;
		l->next = ctx->listeners;
		ctx->listeners = l;
		log_listening(l, "smtp: listening");
		(*added)++;
	}
	return 0;
}

int smtp_listen(struct smtp_ctx *ctx, char *err, size_t errlen)
{
	unsigned added, removed;
	return smtp_listen_update(ctx, ctx->conf, &added, &removed, err, errlen);
}

void smtp_drain(struct smtp_ctx *ctx)
{
	ctx->draining = 1;
	listeners_free(ctx->listeners, NULL);
	ctx->listeners = NULL;
	for (struct smtp_session *s = ctx->sessions; s; s = s->next)
		smtp_session_drain(s); /* never frees s here: a close waits for its reply */
	if (ctx->n_sessions == 0 && ctx->on_drained)
		ctx->on_drained(ctx->drained_arg);
}

void smtp_shutdown(struct smtp_ctx *ctx)
{
	ctx->on_drained = NULL;
	listeners_free(ctx->listeners, NULL);
	ctx->listeners = NULL;
	while (ctx->sessions)
		smtp_session_cut(ctx->sessions);
	smtp_peers_free(ctx->peers);
	ctx->peers = NULL;
	if (ctx->trim_ev)
		event_free(ctx->trim_ev);
	ctx->trim_ev = NULL;
}
