/* ctl_client.c — the client side of the control socket, for the CLI commands that talk to a
 * running server: find the socket through the config file, send one request line, read the
 * status line and stream the payload. Blocking I/O, bounded by CTL_CLIENT_TIMEOUT_MS. */
#include "control.h"

#include "../conf/conf.h"
#include "../util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The whole answer, from the request on: a reload under load waits for a worker thread. */
#define CTL_CLIENT_TIMEOUT_MS 60000

struct ctl_conn {
	int fd;
	const char *path;
	struct timespec deadline;
	char *err;
	size_t errlen;
};

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* "word word ...\n" into line; -1 (err set) if an argument cannot be sent as one word. */
static int build_line(int argc, char *const *argv, char *line, size_t len, char *err, size_t errlen)
{
	size_t o = 0;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		int bad = n == 0;
		for (size_t j = 0; j < n && !bad; j++)
			bad = (unsigned char)argv[i][j] <= ' ' || argv[i][j] == 0x7f;
		if (bad) {
			snprintf(err, errlen,
				 "argument %d is empty or has a space or control character", i + 1);
			return -1;
		}
		if (o + n + 2 > len) {
			snprintf(err, errlen, "request too long (max %d bytes)", CONTROL_LINE_MAX);
			return -1;
		}
		if (i > 0)
			line[o++] = ' ';
		memcpy(line + o, argv[i], n);
		o += n;
	}
	line[o++] = '\n';
	return (int)o;
}

/* Send len bytes: 0, or 1 when the server stopped reading (it may have answered: read that). */
static int ctl_send_more(struct ctl_conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(c->err, c->errlen, "cannot reach the server at %s: %s", c->path,
				 strerror(errno));
			return 1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Connect and send the request. The send timeout bounds both: a Unix connect waits while the
 * server's backlog is full. */
static int ctl_send(struct ctl_conn *c, const char *line, size_t len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {CTL_CLIENT_TIMEOUT_MS / 1000, 0};
	util_strlcpy(sun.sun_path, c->path, sizeof(sun.sun_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(c->err, c->errlen, "cannot reach the server at %s: %s", c->path,
			 strerror(errno));
		return -1;
	}
	return ctl_send_more(c, line, len);
}

/* Read what is there, waiting until the deadline. Returns bytes (0 = EOF) or -1 (err set). */
static ssize_t ctl_read(struct ctl_conn *c, char *buf, size_t len)
{
	for (;;) {
		long left = ms_left(&c->deadline);
		struct pollfd p = {c->fd, POLLIN, 0};
		int rc = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0) {
			snprintf(c->err, c->errlen, "no answer from the server at %s within %ds",
				 c->path, CTL_CLIENT_TIMEOUT_MS / 1000);
			return -1;
		}
		ssize_t n = rc > 0 ? read(c->fd, buf, len) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		/* a Unix socket reports a reset only once every byte sent before it was read: the
		 * server closed without reading all we sent (it refused us at once) */
		if (n < 0 && errno == ECONNRESET)
			return 0;
		if (n < 0)
			snprintf(c->err, c->errlen, "reading from the server at %s: %s", c->path,
				 strerror(errno));
		return n;
	}
}

/* The status line; what came after it in the same read goes to on_payload. */
static enum ctl_result read_status(struct ctl_conn *c,
				   int (*on_payload)(void *, const char *, size_t), void *arg)
{
	char buf[CONTROL_LINE_MAX + 1];
	size_t used = 0;
	char *lf = NULL;
	while (!lf) {
		if (used == CONTROL_LINE_MAX) {
			snprintf(c->err, c->errlen, "the server at %s gave an invalid answer",
				 c->path);
			return CTL_UNREACHABLE;
		}
		ssize_t n = ctl_read(c, buf + used, CONTROL_LINE_MAX - used);
		if (n < 0)
			return CTL_UNREACHABLE;
		if (n == 0) {
			snprintf(c->err, c->errlen,
				 "the server at %s closed the connection without an answer",
				 c->path);
			return CTL_UNREACHABLE;
		}
		used += (size_t)n;
		lf = memchr(buf, '\n', used);
	}
	*lf = '\0';
	const char *msg = NULL;
	int st = control_parse_status(buf, &msg);
	if (st < 0) {
		snprintf(c->err, c->errlen, "the server at %s gave an invalid answer", c->path);
		return CTL_UNREACHABLE;
	}
	if (st == 1)
		util_strlcpy(c->err, msg, c->errlen);
	size_t rest = used - (size_t)(lf + 1 - buf);
	if (rest > 0 && on_payload(arg, lf + 1, rest) != 0) {
		snprintf(c->err, c->errlen, "cannot write the answer: %s", strerror(errno));
		return CTL_UNREACHABLE;
	}
	return st == 0 ? CTL_OK : CTL_ERROR;
}

/* The rest of the answer, to on_payload. 0 at its end, -1 with err set. */
static int read_payload(struct ctl_conn *c, int (*on_payload)(void *, const char *, size_t),
			void *arg)
{
	char buf[16384];
	for (;;) {
		ssize_t n = ctl_read(c, buf, sizeof(buf));
		if (n <= 0)
			return (int)n;
		if (on_payload(arg, buf, (size_t)n) != 0) {
			snprintf(c->err, c->errlen, "cannot write the answer: %s", strerror(errno));
			return -1;
		}
	}
}

enum ctl_result ctl_client_call(const char *conf_path, int argc, char *const *argv,
				int (*on_payload)(void *arg, const char *data, size_t len),
				void *arg, char *err, size_t errlen)
{
	return ctl_client_call_body(conf_path, argc, argv, NULL, 0, on_payload, arg, err, errlen);
}

enum ctl_result ctl_client_call_body(const char *conf_path, int argc, char *const *argv,
				     const char *body, size_t body_len,
				     int (*on_payload)(void *arg, const char *data, size_t len),
				     void *arg, char *err, size_t errlen)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], line[CONTROL_LINE_MAX];
	struct ctl_conn c = {.fd = -1, .path = path, .err = err, .errlen = errlen};
	if (conf_load_control_socket(conf_path, path, sizeof(path), err, errlen) < 0)
		return CTL_UNREACHABLE;
	int n = build_line(argc, argv, line, sizeof(line), err, errlen);
	if (n < 0)
		return CTL_ERROR;
	clock_gettime(CLOCK_MONOTONIC, &c.deadline);
	c.deadline.tv_sec += CTL_CLIENT_TIMEOUT_MS / 1000;
	enum ctl_result r = CTL_UNREACHABLE;
	int sent = ctl_send(&c, line, (size_t)n);
	if (sent == 0 && body_len > 0)
		sent = ctl_send_more(&c, body, body_len);
	if (sent >= 0) {
		char send_err[512];
		util_strlcpy(send_err, err, sizeof(send_err));
		r = read_status(&c, on_payload, arg);
		if (r == CTL_UNREACHABLE && sent == 1) /* no answer: the send error says why */
			util_strlcpy(err, send_err, errlen);
		if (r != CTL_UNREACHABLE && read_payload(&c, on_payload, arg) < 0)
			r = CTL_UNREACHABLE;
	}
	if (c.fd >= 0)
		close(c.fd);
	return r;
}

static int print_payload(void *arg, const char *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len ? 0 : -1;
}

int ctl_client_main(const char *conf_path, int argc, char *const *argv)
{
	char err[1024] = "";
	enum ctl_result r =
	    ctl_client_call(conf_path, argc, argv, print_payload, stdout, err, sizeof(err));
	if (fflush(stdout) != 0 && r == CTL_OK)
		r = CTL_ERROR;
	if (r != CTL_OK)
		fprintf(stderr, "relayguard: %s\n", err[0] ? err : "cannot write the answer");
	return (int)r;
}

int ctl_client_reload(const char *conf_path)
{
	char arg[96];
	const char *sudo = getenv("SUDO_USER");
	size_t n = sudo ? strspn(sudo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789._-")
			: 0;
	char *argv[] = {"reload", arg};
	if (!sudo || !sudo[0] || sudo[n] || n > 64)
		return ctl_client_main(conf_path, 1, argv);
	snprintf(arg, sizeof(arg), "sudo-user=%s", sudo);
	return ctl_client_main(conf_path, 2, argv);
}
