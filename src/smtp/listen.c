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
#include <unistd.h>

#define SMTP_LISTEN_BACKLOG 1024

struct smtp_listener {
	struct smtp_listener *next;
	struct evconnlistener *ev;
	struct smtp_ctx *ctx;
	const struct conf_listen *conf;
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
	smtp_session_start(l->ctx, fd, peer, (struct sockaddr *)&local);
}

static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
	struct smtp_listener *l = arg;
	(void)ev;
	/* EMFILE and friends: keep the listener, the next accept may succeed */
	log_msg(LOG_ERR, "smtp: accept failed", "listen=%s error=\"%s\"", l->conf->text,
		strerror(errno));
}

static int open_socket(const struct conf_listen *cl, char *err, size_t errlen)
{
	int one = 1;
	int fd = socket(cl->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "listen %s: socket: %s", cl->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cl->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&cl->addr, cl->addrlen) < 0 ||
	    listen(fd, SMTP_LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "listen %s: %s", cl->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int smtp_listen(struct smtp_ctx *ctx, char *err, size_t errlen)
{
	const struct conf *c = ctx->conf;
	for (size_t i = 0; i < c->n_listens; i++) {
		struct smtp_listener *l = calloc(1, sizeof(*l));
		int fd = l ? open_socket(&c->listens[i], err, errlen) : -1;
		if (fd < 0) {
			if (!l)
				snprintf(err, errlen, "out of memory");
			free(l);
			return -1;
		}
		l->ctx = ctx;
		l->conf = &c->listens[i];
		l->ev = evconnlistener_new(ctx->base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (!l->ev) {
			snprintf(err, errlen, "listen %s: cannot watch the socket", l->conf->text);
			close(fd);
			free(l);
			return -1;
		}
		evconnlistener_set_error_cb(l->ev, accept_error_cb);
		l->next = ctx->listeners;
		ctx->listeners = l;
		log_msg(LOG_INFO, "smtp: listening", "listen=%s role=%s", l->conf->text,
			l->conf->role == CONF_ROLE_SUBMISSION ? "submission" : "smtp");
	}
	return 0;
}

void smtp_shutdown(struct smtp_ctx *ctx)
{
	while (ctx->listeners) {
		struct smtp_listener *l = ctx->listeners;
		ctx->listeners = l->next;
		evconnlistener_free(l->ev);
		free(l);
	}
	while (ctx->sessions)
		smtp_session_free(ctx->sessions);
}
