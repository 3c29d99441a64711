/* control.c — the server side of the control socket: accept (same uid or root only), read one
 * request line, run its command from the table, write "ok"/"error" and the payload, close.
 * Every connection is bounded in number (CONTROL_MAX_CLIENTS) and time (CONTROL_TIMEOUT). */
#include "control.h"
#include "server_int.h"

#include "../util/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_MAX_CLIENTS 16 /* connections at once, answered or waiting for a handler */
#define CONTROL_TIMEOUT 10     /* seconds to send the request, and for each write of the answer */
#define CONTROL_BACKLOG 16
#define CONTROL_LINGER_MAX (64 * 1024) /* input discarded after the answer before closing */

/* After the answer: half-close and read what the client still sends until it closes, so its
 * unread bytes do not turn our close into a reset that could destroy the answer in flight. */
enum req_state { REQ_READING, REQ_BODY, REQ_PENDING, REQ_WRITING, REQ_LINGER };

struct control_req {
	struct control *ctl;	 /* NULL once control_close detached it */
	struct bufferevent *bev; /* NULL once the client is gone */
	struct evbuffer *payload;
	enum req_state state;
	struct control_req *prev, *next;
	long uid, pid;
	size_t discarded; /* REQ_LINGER */
	/* REQ_BODY: the payload after the request line (control_read_body) */
	struct evbuffer *body;
	size_t body_left;
	control_body_fn body_fn;
	void (*body_free)(void *arg);
	void *body_arg;
	char line[CONTROL_LINE_MAX];
};

struct control {
	struct server *srv;
	struct evconnlistener *listener;
	char *path;
	dev_t dev; /* the socket file we made: removed at the end only if it is still ours */
	ino_t ino;
	struct control_req *reqs;
	unsigned n_reqs;
};

static void cmd_status(struct server *srv, struct control_req *req, int argc, char **argv);
static void cmd_reload(struct server *srv, struct control_req *req, int argc, char **argv);
static void cmd_audit_now(struct server *srv, struct control_req *req, int argc, char **argv);
static void cmd_self_check_now(struct server *srv, struct control_req *req, int argc, char **argv);

/* The commands: one row each. name may be several words ("queue list"); the handler gets the
 * words after it. */
static const struct control_cmd {
	const char *name;
	control_fn fn;
} control_cmds[] = {
    {"status", cmd_status},
    {"reload", cmd_reload},
    {"queue list", queue_cmd_list},
    {"queue show", queue_cmd_show},
    {"queue flush", queue_cmd_flush},
    {"queue hold", queue_cmd_hold},
    {"queue release", queue_cmd_release},
    {"queue delete", queue_cmd_delete},
    {"mailq", queue_cmd_mailq},
    {"submit", submit_cmd},
    {"audit-now", cmd_audit_now},
    {"self-check-now", cmd_self_check_now},
};

/* ---- requests ---- */

static void req_free(struct control_req *req)
{
	struct control *ctl = req->ctl;
	if (ctl) {
		if (req->prev)
			req->prev->next = req->next;
		else
			ctl->reqs = req->next;
		if (req->next)
			req->next->prev = req->prev;
		ctl->n_reqs--;
	}
	if (req->bev)
		bufferevent_free(req->bev);
	if (req->payload)
		evbuffer_free(req->payload);
	if (req->body)
		evbuffer_free(req->body);
	if (req->body_free) /* the client went away before its payload was complete */
		req->body_free(req->body_arg);
	free(req);
}

struct evbuffer *control_payload(struct control_req *req)
{
	return req->payload;
}

/* "error <msg>\n" with the message on one line, whatever the handler passed. */
static void add_error_line(struct evbuffer *out, const char *error)
{
	char line[1024];
	util_strlcpy(line, error[0] ? error : "failed", sizeof(line));
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	evbuffer_add_printf(out, "error %s\n", line);
}

void control_finish(struct control_req *req, const char *error)
{
	if (!req->bev) { /* the client or the server went away meanwhile */
		req_free(req);
		return;
	}
	struct evbuffer *out = bufferevent_get_output(req->bev);
	if (error)
		add_error_line(out, error);
	else
		evbuffer_add(out, "ok\n", 3);
	evbuffer_add_buffer(out, req->payload);
	req->state = REQ_WRITING;
	bufferevent_enable(req->bev, EV_WRITE);
}

/* How many words of argv the command name matches (all of its words), or 0. */
static int cmd_match(const char *name, int argc, char **argv)
{
	int i = 0;
	while (*name) {
		size_t n = strcspn(name, " ");
		if (i >= argc || strlen(argv[i]) != n || strncmp(argv[i], name, n) != 0)
			return 0;
		i++;
		name += n + (name[n] == ' ');
	}
	return i;
}

static void control_dispatch(struct control_req *req)
{
	char *argv[CONTROL_ARGS_MAX], q[128];
	int argc = control_split(req->line, argv, CONTROL_ARGS_MAX);
	req->state = REQ_PENDING;
	if (argc <= 0) {
		control_finish(req, argc == 0	 ? "empty request"
				    : argc == -1 ? "control character in the request"
						 : "too many words in the request");
		return;
	}
	for (size_t i = 0; i < sizeof(control_cmds) / sizeof(control_cmds[0]); i++) {
		int words = cmd_match(control_cmds[i].name, argc, argv);
		if (!words)
			continue;
		log_msg(LOG_INFO, "control: request", "command=%s uid=%ld pid=%ld",
			log_quote(control_cmds[i].name, strlen(control_cmds[i].name), q, sizeof(q)),
			req->uid, req->pid);
		control_cmds[i].fn(req->ctl->srv, req, argc - words, argv + words);
		return;
	}
	char msg[300];
	snprintf(msg, sizeof(msg), "unknown command '%.200s'", argv[0]);
	control_finish(req, msg);
}

/* REQ_BODY: collect the announced bytes, then hand them to the handler. */
static void req_read_body(struct control_req *req, struct evbuffer *in)
{
	size_t n = evbuffer_get_length(in);
	if (n > req->body_left) {
		req->state = REQ_PENDING;
		bufferevent_disable(req->bev, EV_READ);
		req->body_free(req->body_arg);
		req->body_free = NULL;
		control_finish(req, "more data than the request announced");
		return;
	}
	evbuffer_remove_buffer(in, req->body, n);
	req->body_left -= n;
	if (req->body_left > 0)
		return;
	req->state = REQ_PENDING;
	bufferevent_disable(req->bev, EV_READ);
	req->body_free = NULL; /* the handler owns its argument again */
	req->body_fn(req->ctl->srv, req, req->body, req->body_arg);
}

void control_read_body(struct control_req *req, size_t len, control_body_fn fn,
		       void (*free_arg)(void *arg), void *arg)
{
	req->body = evbuffer_new();
	if (!req->body) {
		free_arg(arg);
		control_finish(req, "out of memory");
		return;
	}
	req->state = REQ_BODY;
	req->body_left = len;
	req->body_fn = fn;
	req->body_free = free_arg;
	req->body_arg = arg;
	bufferevent_enable(req->bev, EV_READ);
	req_read_body(req, bufferevent_get_input(req->bev)); /* what came with the line */
}

static void req_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_req *req = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (req->state == REQ_LINGER) {
		req->discarded += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (req->discarded > CONTROL_LINGER_MAX)
			req_free(req);
		return;
	}
	if (req->state == REQ_BODY) {
		req_read_body(req, in);
		return;
	}
	if (req->state != REQ_READING)
		return;
	struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
	if (lf.pos < 0 && evbuffer_get_length(in) < CONTROL_LINE_MAX)
		return; /* the rest of the line is on its way */
	bufferevent_disable(bev, EV_READ);
	if (lf.pos < 0 || (size_t)lf.pos >= CONTROL_LINE_MAX) {
		req->state = REQ_PENDING;
		control_finish(req, "request line too long");
		return;
	}
	evbuffer_remove(in, req->line, (size_t)lf.pos + 1);
	if (memchr(req->line, '\0', (size_t)lf.pos)) { /* control_split would not see it */
		req->state = REQ_PENDING;
		control_finish(req, "control character in the request");
		return;
	}
	req->line[lf.pos] = '\0';
	if (lf.pos > 0 && req->line[lf.pos - 1] == '\r')
		req->line[lf.pos - 1] = '\0';
	control_dispatch(req);
}

static void req_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_req *req = arg;
	if (req->state != REQ_WRITING || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (shutdown(bufferevent_getfd(bev), SHUT_WR) < 0) {
		req_free(req);
		return;
	}
	req->state = REQ_LINGER;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_enable(bev, EV_READ);
}

static void req_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_req *req = arg;
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_msg(LOG_WARN, "control: client timed out", "uid=%ld pid=%ld state=%d", req->uid,
			req->pid, (int)req->state);
	if (req->state != REQ_PENDING) {
		req_free(req);
		return;
	}
	bufferevent_free(req->bev); /* its handler still owns it: control_finish frees it */
	req->bev = NULL;
}

/* ---- accepting ---- */

/* Best effort, to a socket that was just accepted: a short line always fits its buffer. */
static void refuse(int fd, const char *line)
{
	if (write(fd, line, strlen(line)) < 0) {
		/* the client is gone already: nothing to tell */
	}
	close(fd);
}

static int peer_allowed(int fd, long *uid, long *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	*uid = (long)cred.uid;
	*pid = (long)cred.pid;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void control_accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
			      int salen, void *arg)
{
	struct control *ctl = arg;
	long uid = -1, pid = -1;
	(void)ev, (void)sa, (void)salen;
	if (!peer_allowed(fd, &uid, &pid)) {
		log_msg(LOG_WARN, "control: refused a client", "uid=%ld pid=%ld", uid, pid);
		refuse(fd, "error permission denied\n");
		return;
	}
	if (ctl->n_reqs >= CONTROL_MAX_CLIENTS) {
		log_msg(LOG_WARN, "control: too many clients", "limit=%d", CONTROL_MAX_CLIENTS);
		refuse(fd, "error too many control connections, try again\n");
		return;
	}
	struct control_req *req = calloc(1, sizeof(*req));
	if (req && !(req->payload = evbuffer_new())) {
		free(req);
		req = NULL;
	}
	if (req)
		req->bev = bufferevent_socket_new(ctl->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!req || !req->bev) {
		if (req)
			evbuffer_free(req->payload);
		free(req);
		refuse(fd, "error out of memory\n");
		return;
	}
	req->ctl = ctl;
	req->uid = uid;
	req->pid = pid;
	req->next = ctl->reqs;
	if (ctl->reqs)
		ctl->reqs->prev = req;
	ctl->reqs = req;
	ctl->n_reqs++;
	struct timeval tv = {CONTROL_TIMEOUT, 0};
	bufferevent_setcb(req->bev, req_read_cb, req_write_cb, req_event_cb, req);
	bufferevent_setwatermark(req->bev, EV_READ, 0, CONTROL_LINE_MAX);
	bufferevent_set_timeouts(req->bev, &tv, &tv);
	bufferevent_enable(req->bev, EV_READ | EV_WRITE);
}

/* ---- the socket file ---- */

/* mkdir -p of the socket's directory (0700; the levels above it 0755). */
static int make_parents(const char *path, char *err, size_t errlen)
{
	if (util_mkdirs_for(path, 0700) == 0)
		return 0;
	snprintf(err, errlen, "control-socket %s: cannot create its directory: %s", path,
		 strerror(errno));
	return -1;
}

/* A socket file left at path: remove it if nothing answers there (a crashed server's), refuse
 * if a server does, and never touch anything that is not a socket. */
static int clear_stale(const char *path, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control-socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control-socket %s: exists and is not a socket", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "control-socket %s: another relayguard server is running on it", path);
		return -1;
	}
	if (saved != ECONNREFUSED || unlink(path) < 0) {
		snprintf(err, errlen, "control-socket %s: cannot replace the stale socket: %s",
			 path, strerror(saved != ECONNREFUSED ? saved : errno));
		return -1;
	}
	log_msg(LOG_INFO, "control: removed a stale socket", "path=%s", path);
	return 0;
}

/* Bind with umask 0177, so the socket is 0600 from its first moment. (umask is per process:
 * this runs at start, before any delivery thread has work.) */
static int bind_socket(struct control *ctl, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "control-socket %s: socket: %s", ctl->path, strerror(errno));
		return -1;
	}
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	int saved = errno;
	umask(old);
	struct stat st;
	if (rc < 0 || listen(fd, CONTROL_BACKLOG) < 0 || stat(ctl->path, &st) < 0) {
		snprintf(err, errlen, "control-socket %s: %s", ctl->path,
			 strerror(rc < 0 ? saved : errno));
		close(fd);
		return -1;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	return fd;
}

int control_open(struct server *srv, char *err, size_t errlen)
{
	const char *path = srv->conf->control_socket;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control-socket %s: path too long", path);
		return -1;
	}
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->path = strdup(path))) {
		free(ctl);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ctl->srv = srv;
	srv->control = ctl;
	if (make_parents(path, err, errlen) < 0 || clear_stale(path, &sun, err, errlen) < 0)
		return -1;
	int fd = bind_socket(ctl, &sun, err, errlen);
	if (fd < 0)
		return -1;
	ctl->listener =
	    evconnlistener_new(srv->base, control_accept_cb, ctl, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!ctl->listener) {
		close(fd);
		unlink(path);
		snprintf(err, errlen, "control-socket %s: cannot watch the socket", path);
		return -1;
	}
	log_msg(LOG_INFO, "control: listening", "path=%s", path);
	return 0;
}

void control_stop_accepting(struct control *ctl)
{
	struct stat st;
	if (!ctl || !ctl->listener)
		return;
	evconnlistener_free(ctl->listener);
	ctl->listener = NULL;
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	control_stop_accepting(ctl);
	while (ctl->reqs) {
		struct control_req *req = ctl->reqs;
		if (req->state != REQ_PENDING) {
			req_free(req);
			continue;
		}
		ctl->reqs = req->next;
		if (ctl->reqs)
			ctl->reqs->prev = NULL;
		req->ctl = NULL;
		req->prev = req->next = NULL;
		bufferevent_free(req->bev);
		req->bev = NULL;
	}
	free(ctl->path);
	free(ctl);
}

/* ---- commands ---- */

static void count_msg(void *arg, const struct spool_msg *m)
{
	(void)m;
	(*(size_t *)arg)++;
}

static void add_time(struct evbuffer *b, const char *key, time_t t)
{
	char when[32];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(b, "%s %s\n", key, when);
}

static void cmd_status(struct server *srv, struct control_req *req, int argc, char **argv)
{
	struct evbuffer *b = control_payload(req);
	size_t queued = 0;
	(void)argv;
	if (argc > 0) {
		control_finish(req, "usage: status");
		return;
	}
	spool_foreach(srv->spool, count_msg, &queued);
	evbuffer_add_printf(b, "pid %ld\n", (long)getpid());
	evbuffer_add_printf(b, "state %s\n", srv->stopping ? "stopping" : "running");
	add_time(b, "started", srv->started);
	evbuffer_add_printf(b, "uptime %lld\n", (long long)(time(NULL) - srv->started));
	evbuffer_add_printf(b, "config %s\n", srv->conf->path);
	add_time(b, "config-loaded", srv->conf_loaded);
	evbuffer_add_printf(b, "reloads %lu\n", srv->reloads);
	evbuffer_add_printf(b, "sessions %u\n", srv->smtp.n_sessions);
	evbuffer_add_printf(b, "queued %zu\n", queued);
	self_audit_status(srv, b);
	control_finish(req, NULL);
}

/* audit-now: start a self-audit run (its result goes to the log, the metrics and `status`). */
static void cmd_audit_now(struct server *srv, struct control_req *req, int argc, char **argv)
{
	(void)argv;
	if (argc > 0) {
		control_finish(req, "usage: audit-now");
		return;
	}
	int rc = self_audit_now(srv);
	if (rc < 0) {
		control_finish(req, "the self-audit cannot run now (stopping, or out of memory)");
		return;
	}
	evbuffer_add_printf(control_payload(req), "%s\n",
			    rc == 0 ? "self-audit started: the result goes to the log, the metrics "
				      "and `relayguard status`"
				    : "a self-audit run is under way already");
	control_finish(req, NULL);
}

/* self-check-now: look the outbound addresses up in the lists now (the result goes to the log
 * and the metrics), e.g. after a delisting. */
static void cmd_self_check_now(struct server *srv, struct control_req *req, int argc, char **argv)
{
	(void)argv;
	if (argc > 0) {
		control_finish(req, "usage: self-check-now");
		return;
	}
	int rc = self_check_now(srv);
	if (rc < 0) {
		control_finish(req, "the self-check cannot run now (the server is stopping)");
		return;
	}
	evbuffer_add_printf(control_payload(req), "%s\n",
			    rc == 0 ? "self-check started: the result goes to the log "
				      "(self-check: done) and the metrics"
				    : "a self-check run is under way already");
	control_finish(req, NULL);
}

long control_peer_uid(const struct control_req *req)
{
	return req->uid;
}

/* reload [sudo-user=NAME]: the CLI passes its SUDO_USER for the changelog (a claim, recorded
 * next to the uid the socket vouches for). */
static void cmd_reload(struct server *srv, struct control_req *req, int argc, char **argv)
{
	static const char sudo[] = "sudo-user=";
	if (argc > 1 || (argc == 1 && strncmp(argv[0], sudo, sizeof(sudo) - 1) != 0)) {
		control_finish(req, "usage: reload [sudo-user=NAME]");
		return;
	}
	server_reload(srv, req, argc == 1 ? argv[0] + sizeof(sudo) - 1 : NULL);
}
