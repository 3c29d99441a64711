/* catch.c — the catcher of `probe --catch ADDR:PORT`: a listening socket inside the probe,
 * served with poll() whenever the probe waits (for a reply, or for deliveries at the end),
 * so a relay that delivers at once is not kept waiting. Sessions are probe_catch_line;
 * nothing received is kept beyond the tokens found. */
#include "probe_int.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CATCH_CONNS 16 /* simultaneous sessions; more wait in the listen backlog */

struct catch_conn {
	int fd;
	size_t len;
	struct probe_catch_session s;
	char buf[PROBE_CATCH_LINE_MAX];
};

struct probe_catcher {
	int lfd, verbose;
	char runid[PROBE_RUNID_LEN + 1];
	uint64_t caught;
	unsigned messages;
	long long last_ms;
	struct catch_conn conns[CATCH_CONNS];
};

struct probe_catcher *probe_catcher_open(const char *addr, const char *port, const char *runid,
					 int verbose, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *ai;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	int rc = getaddrinfo(addr, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "catcher %s:%s: %s", addr, port, gai_strerror(rc));
		return NULL;
	}
	struct probe_catcher *k = calloc(1, sizeof(*k));
	int one = 1;
	int fd = k ? socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0) : -1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "catcher %s:%s: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(k);
		freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	k->lfd = fd;
	k->verbose = verbose;
	snprintf(k->runid, sizeof(k->runid), "%s", runid);
	for (size_t i = 0; i < CATCH_CONNS; i++)
		k->conns[i].fd = -1;
	return k;
}

static void catch_drop(struct catch_conn *cc)
{
	close(cc->fd);
	cc->fd = -1;
}

static int catch_send(struct catch_conn *cc, const char *s)
{
	size_t n = strlen(s);
	return n == 0 || send(cc->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n ? 0 : -1;
}

static void catch_accept(struct probe_catcher *k)
{
	for (size_t i = 0; i < CATCH_CONNS; i++) {
		struct catch_conn *cc = &k->conns[i];
		if (cc->fd >= 0)
			continue;
		cc->fd = accept4(k->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cc->fd < 0)
			return;
		memset(&cc->s, 0, sizeof(cc->s));
		cc->len = 0;
		if (catch_send(cc,
			       "220 catcher.relayguard.invalid ESMTP relayguard probe catcher\r\n"))
			catch_drop(cc);
		return;
	}
}

/* Feed every complete line (or a full buffer) to the session. Returns -1 to drop. */
static int catch_lines(struct probe_catcher *k, struct catch_conn *cc)
{
	for (;;) {
		char *nl = memchr(cc->buf, '\n', cc->len);
		size_t n = nl				? (size_t)(nl - cc->buf) + 1
			   : cc->len == sizeof(cc->buf) ? cc->len
							: 0;
		if (n == 0)
			return 0;
		char reply[128];
		unsigned before = cc->s.messages;
		int end = probe_catch_line(&cc->s, k->runid, cc->buf, n, reply, sizeof(reply));
		memmove(cc->buf, cc->buf + n, cc->len - n);
		cc->len -= n;
		if (cc->s.messages != before) {
			k->messages++;
			k->last_ms = probe_now_ms();
			k->caught |= cc->s.caught;
			if (k->verbose)
				fprintf(stderr, "catcher: message %u received\n", k->messages);
		}
		if (catch_send(cc, reply) < 0 || end)
			return -1;
	}
}

static void catch_read(struct probe_catcher *k, struct catch_conn *cc)
{
	ssize_t r = recv(cc->fd, cc->buf + cc->len, sizeof(cc->buf) - cc->len, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		catch_drop(cc);
		return;
	}
	cc->len += (size_t)r;
	if (catch_lines(k, cc) < 0)
		catch_drop(cc);
}

int probe_catcher_wait(struct probe_catcher *k, int fd, int timeout_ms)
{
	long long deadline = probe_now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p[CATCH_CONNS + 2];
		size_t n = 0;
		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		if (k) {
			/* the listener only while a slot is free: else poll would return at once */
			int room = 0;
			for (size_t i = 0; i < CATCH_CONNS; i++)
				room |= k->conns[i].fd < 0;
			p[n++] = (struct pollfd){.fd = room ? k->lfd : -1, .events = POLLIN};
			for (size_t i = 0; i < CATCH_CONNS; i++)
				p[n++] = (struct pollfd){.fd = k->conns[i].fd, .events = POLLIN};
		}
		long long left = deadline - probe_now_ms();
		int rc = poll(p, n, left > 0 ? (int)left : 0);
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc > 0 && fd >= 0 && p[0].revents)
			return 1;
		for (size_t i = 0; k && rc > 0 && i < CATCH_CONNS; i++)
			if (p[2 + i].revents && k->conns[i].fd >= 0)
				catch_read(k, &k->conns[i]);
		if (k && rc > 0 && p[1].revents)
			catch_accept(k);
		if (left <= 0)
			return 0;
	}
}

uint64_t probe_catcher_caught(const struct probe_catcher *k)
{
	return k ? k->caught : 0;
}

unsigned probe_catcher_messages(const struct probe_catcher *k)
{
	return k ? k->messages : 0;
}

long long probe_catcher_last(const struct probe_catcher *k)
{
	return k ? k->last_ms : 0;
}

void probe_catcher_close(struct probe_catcher *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < CATCH_CONNS; i++)
		if (k->conns[i].fd >= 0)
			close(k->conns[i].fd);
	close(k->lfd);
	free(k);
}
