/* server_int.h — the running server's context, shared by the files of src/server. */
#ifndef RG_SERVER_INT_H
#define RG_SERVER_INT_H

#include "server.h"

#include "../conf/conf.h"
#include "../privdrop/privdrop.h"
#include "../probe/probe.h"
#include "../queue/queue.h"
#include "../smtp/smtp.h"
#include "../util/metrics.h"
#include "../util/workq.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct delivery;
struct dirsync;
struct control;
struct control_req;
struct reload;
struct reload_waiter;
struct promhttp;
struct dest;
struct dns_resolver;
struct evbuffer;
typedef struct ssl_ctx_st SSL_CTX;

/* Outbound delivery (remote.c). */
struct remote {
	struct dns_resolver *dns;
	SSL_CTX *tls;	    /* client context for opportunistic STARTTLS */
	struct dest *dests; /* next hops seen so far */
	unsigned active;    /* sessions running, all destinations */
	struct event *kick; /* runs the destinations' ready jobs from the loop */
};

struct server {
	struct conf *conf; /* the current config: the server's reference (conf_ref) */
	struct event_base *base;
	struct spool *spool;
	struct workq *workq;
	struct smtp_ctx smtp;
	struct control *control; /* the control socket */
	struct event *ev_spool, *ev_workq, *ev_term, *ev_int, *ev_hup;
	struct event *ev_grace;	     /* graceful stop: the end of limit shutdown-grace */
	struct event *ev_open_relay; /* hourly warning while open-relay-override is in force */
	size_t open_relay_tests;     /* battery tests an outside client could relay */
	struct delivery *deferred;   /* waiting for their retry timer */
	struct dirsync *dirsyncs;    /* Maildirs with renames waiting for their new/ fsync */
	unsigned long dirsync_calls; /* fsyncs of Maildir new/ (for the stop line) */
	time_t started, conf_loaded; /* the server's start; the last (re)load of the config */
	unsigned long reloads;	     /* successful reloads */
	int stopping;		     /* the first SIGTERM/SIGINT came: draining */
	struct reload *reload;	     /* the reload running now, or NULL */
	int reload_again;	     /* another one was asked for meanwhile */
	struct reload_waiter *reload_next; /* the clients waiting for that next one */
	struct metrics metrics; /* counters for the metrics endpoint (loop thread only) */
	struct promhttp *http;	/* the metrics-listen endpoint, or NULL */
	struct remote remote;
	struct privdrop privsep;       /* privsep.c: who serve becomes when started as root */
	struct self_audit *self_audit; /* the self-audit timer and its thread (self_audit.c) */
	struct self_check *self_check; /* the DNS-list self-check (self_check.c) */
};

/* tls_setup.c: the SSL_CTX of c's tls-certificate and tls-key into *out (NULL when c has
 * none): 0, or -1 with err naming the file and the reason. Safe on a worker thread. */
int server_tls_ctx(const struct conf *c, SSL_CTX **out, char *err, size_t errlen);

/* serve.c: the open-relay gate, at start and at reload */
/* The relay battery through conf's policy (the audit of `relayguard check`): how many tests an
 * outside client could relay, the first one in *first. Pure: safe on a worker thread. */
size_t server_audit_relays(const struct conf *c, struct audit_finding *first);
/* The refusal of such a config without open-relay-override ("refusing to ACTION an open
 * relay: ..."), into err. */
void server_open_relay_error(const struct conf *c, const char *action, size_t n,
			     const struct audit_finding *first, char *err, size_t errlen);
/* After srv->conf and srv->open_relay_tests changed: start (and announce) or stop the hourly
 * OPEN RELAY warning. 0, or -1 with err set when the timer cannot be made. */
int server_open_relay_timer(struct server *srv, char *err, size_t errlen);
void server_raise_fd_limit(const struct conf *c);

/* conf_record.c: the config changelog */
struct changelog_who;
/* The audit verdict as the changelog records it ("clean", "N findings", "open relay
 * (override: …)"). Pure: safe on a worker thread. */
void server_conf_verdict(const struct conf *c, char *out, size_t len);
/* Append a record for c (event "start", "reload", "check") by who; a failure is logged.
 * Blocking I/O (flock, fdatasync): a worker thread, or before the loop runs. 0 and *id, or -1. */
int server_record_conf(const struct conf *c, const char *event, const struct changelog_who *who,
		       unsigned long *id);

/* remote.c: the scheduler. The spool's on_queued callback; outbound SMTP/LMTP jobs, retries,
 * expiry and DSNs; and what `queue` commands do to a message. */
void sched_on_queued(void *arg, struct spool_msg *msg);
int sched_init(struct server *srv, char *err, size_t errlen);
void sched_shutdown(struct server *srv);
/* Start msg's waiting deliveries now (queue flush / release); msg NULL: every message. */
void sched_flush(struct server *srv, struct spool_msg *msg);
void sched_release(struct server *srv, struct spool_msg *msg);
/* queue hold / release: durable; 0 or -errno. */
int sched_hold(struct server *srv, struct spool_msg *msg, int held);
/* queue delete: 0 deleted, 1 deleted once the attempts under way end. */
int sched_delete(struct server *srv, struct spool_msg *msg);
/* Local delivery tells the scheduler a delivery of msg started (+1) or ended (-1). */
void sched_busy(struct server *srv, struct spool_msg *msg, int delta);
/* A local recipient was delivered: done, or a "delivered" DSN first when NOTIFY=SUCCESS asked
 * for one. Returns 1 when msg is gone. */
int sched_local_delivered(struct server *srv, struct spool_msg *msg, size_t idx);

/* Where a recipient stands, for `queue list/show`. Strings live as long as msg's state. */
struct sched_rcpt_info {
	const char *state; /* done, held, local (Maildir), deferred, waiting, connecting, sending */
	unsigned attempts; /* remote attempts so far (this run) */
	int64_t next_try;  /* deferred: epoch seconds of the next attempt */
	const char *last_error; /* the reply or error of the last deferred attempt, or "" */
	const char *relay;	/* the next hop (domain or LMTP target), or NULL */
};
void sched_rcpt_info(const struct spool_msg *msg, size_t idx, struct sched_rcpt_info *out);

/* local.c: Maildir delivery of local recipients */
void local_start(struct server *srv, struct spool_msg *msg);
/* Forget msg's deliveries that wait for a retry (queue delete). */
void local_cancel(struct server *srv, struct spool_msg *msg);
void local_shutdown(struct server *srv);

/* reload.c: SIGHUP (req NULL) and `relayguard reload` (answered through req; sudo_user: the
 * client's SUDO_USER or NULL). The file is loaded and audited on a worker thread; the loop
 * applies the result whole or not at all; a worker records it in the changelog. */
void server_reload(struct server *srv, struct control_req *req, const char *sudo_user);
/* At shutdown, after the worker pool's last completions: answer whoever still waits. */
void server_reload_shutdown(struct server *srv);

/* control.c: the control socket (see control.h for the protocol) */
/* Create the socket at srv->conf->control_socket (mode 0600; missing parent directories
 * 0700; a stale socket is replaced, one a live server answers on is not). 0, or -1 + err. */
int control_open(struct server *srv, char *err, size_t errlen);
/* Stop accepting and remove the socket (graceful stop); requests under way are answered. */
void control_stop_accepting(struct control *ctl);
/* Close everything. A request still waiting for an asynchronous handler is detached: its
 * handler's control_finish then only frees it. NULL is ignored. */
void control_close(struct control *ctl);

/* A command handler gets the arguments after the command's own words (argv[0] is the first
 * argument, argc may be 0). It writes its payload into control_payload(req) and calls
 * control_finish exactly once, now or later (from the loop thread): error NULL sends "ok",
 * else "error <error>" (one line; newlines become spaces), then the payload. */
typedef void (*control_fn)(struct server *srv, struct control_req *req, int argc, char **argv);
struct evbuffer *control_payload(struct control_req *req);
/* The client's uid (SO_PEERCRED). */
long control_peer_uid(const struct control_req *req);
/* For a command followed by a payload (submit): instead of control_finish, read the next len
 * bytes the client sends, then call fn with them (body: the handler may drain it; freed with
 * req), and fn calls control_finish. Until then arg belongs to the request: free_arg(arg) runs
 * if the client goes away, times out or sends more than len. */
typedef void (*control_body_fn)(struct server *srv, struct control_req *req, struct evbuffer *body,
				void *arg);
void control_read_body(struct control_req *req, size_t len, control_body_fn fn,
		       void (*free_arg)(void *arg), void *arg);
void control_finish(struct control_req *req, const char *error);
/* queue_cmd.c: the `queue` control commands and `mailq` (control_fn handlers) */
void queue_cmd_list(struct server *srv, struct control_req *req, int argc, char **argv);
void queue_cmd_show(struct server *srv, struct control_req *req, int argc, char **argv);
void queue_cmd_flush(struct server *srv, struct control_req *req, int argc, char **argv);
void queue_cmd_hold(struct server *srv, struct control_req *req, int argc, char **argv);
void queue_cmd_release(struct server *srv, struct control_req *req, int argc, char **argv);
void queue_cmd_delete(struct server *srv, struct control_req *req, int argc, char **argv);
void queue_cmd_mailq(struct server *srv, struct control_req *req, int argc, char **argv);
/* The `queue list` text of the messages from first on: a line per message, one per recipient
 * still to deliver (with its delivery state when states), then "N messages queued". */
void queue_format_list(struct evbuffer *b, const struct spool_msg *first, int states);
/* The Postfix `mailq` listing of the messages from first on (also for the read-only spool of a
 * server that is down: no scheduler state then). */
void queue_format_mailq(struct evbuffer *b, const struct spool_msg *first);
/* queue_list.c: the spool of conf_path read (the server may be down or running), printed on
 * stdout as `queue list` (mailq 0) or `mailq` (1) without delivery states. 0, or 1 (said on
 * stderr). */
int queue_print_readonly(const char *conf_path, int mailq);

/* submit.c: `submit FROM LEN RCPT...` + LEN bytes, behind `relayguard sendmail` */
void submit_cmd(struct server *srv, struct control_req *req, int argc, char **argv);

/* metrics_http.c: GET /metrics on metrics-listen, served from the event loop (libmicrohttpd
 * without a thread). start: 0 (also when metrics-listen is absent), or -1 with err set. */
int metrics_http_start(struct server *srv, char *err, size_t errlen);
void metrics_http_stop(struct server *srv);

/* privsep.c: started as root, serve runs as conf->run_user (src/privdrop does the work; this
 * says which paths serve writes and keeps CAP_NET_BIND_SERVICE). Order at start: prepare, bind
 * every socket (and read what only root may), privdrop_chown the control socket, drop; only
 * then start threads or read a client byte. */
/* As root: look the user up (missing, or uid/gid 0: error naming the fix) and create the
 * spool, mail-root and the control socket's directory for it (the spool and mail-root, and
 * the files directly in the spool, are given to the user even when they exist). Not root:
 * nothing to do (an info line when user names someone else). 0, or -1 with err set. */
int privsep_prepare(struct privdrop *ps, const struct conf *c, char *err, size_t errlen);
/* Become the user for good: its groups, gid, uid (real, effective, saved), only
 * CAP_NET_BIND_SERVICE kept, no_new_privs; verified, then "server: running as" is logged and
 * the spool and mail-root are checked as the user. Nothing when not dropping. 0 or -1 + err. */
int privsep_drop(struct privdrop *ps, const struct conf *c, char *err, size_t errlen);

/* self_audit.c: the relay probe against the server's own listeners, every `self-audit`
 * interval (the first run SELF_AUDIT_FIRST_DELAY seconds after start, or sooner when the
 * interval is shorter), on a thread of its own, one run at a time. */
#define SELF_AUDIT_FIRST_DELAY 60
/* After the privilege drop (it starts a thread). 0, or -1 with err set. */
int self_audit_start(struct server *srv, char *err, size_t errlen);
/* After a reload switched srv->conf: follow a changed interval (or off). */
void self_audit_conf_changed(struct server *srv);
/* Start a run now: 0 started, 1 one is running already, -1 the self-audit is not running. */
int self_audit_now(struct server *srv);
/* "self-audit ..." lines for `status`: the interval and the last run's result per listener. */
void self_audit_status(const struct server *srv, struct evbuffer *b);
/* At shutdown, after the listeners and sessions are closed: wait for a run under way (it
 * ends quickly once nothing answers), log it and free everything. NULL srv->self_audit is
 * ignored. */
void self_audit_stop(struct server *srv);

/* self_check.c: "am I listed?" by the server itself: at start and every self-check-interval
 * the outbound addresses (outbound-address, else the listeners' public addresses) are looked up
 * in the config's lists and the self-check-lists file; a listing is an ALERT line and the
 * gauge relayguard_self_listed. Also: remote rejections that name a blocklist. */
/* 0, or -1 with err set (a self-check-lists file that does not parse). */
int self_check_start(struct server *srv, char *err, size_t errlen);
/* After a reload switched srv->conf: the lists and the interval followed (a bad lists file
 * keeps the old lists, logged). */
void self_check_conf_changed(struct server *srv);
/* Start a run now (also with self-check-interval off): 0 started, 1 one is running already, -1
 * the server is stopping. */
int self_check_now(struct server *srv);
/* A remote reply for a recipient of destination (a domain) through relay: when it rejects
 * naming a blocklist (dnsbl_bounce_match), counted and, once per destination and interval,
 * an ALERT line. */
void self_check_note_bounce(struct server *srv, const char *destination, const char *relay,
			    int code, const char *enh, const char *text);
/* At shutdown: cancel a run under way and free everything. NULL srv->self_check is ignored. */
void self_check_stop(struct server *srv);

#endif
