/* sched_int.h — the delivery scheduler's private state, shared by remote.c (jobs,
 * destinations, the entry points) and notice.c (the DSNs a message owes). */
#ifndef RG_SCHED_INT_H
#define RG_SCHED_INT_H

#include "server_int.h"

#include "../queue/dsn.h"

struct job;
struct event;

struct notice {
	size_t idx;
	enum dsn_action action;
	char status[16];
	char remote[300];
	char diag[600];
};

struct msgstate {
	struct server *srv;
	struct job *jobs;
	struct notice *notices;
	size_t n_notices;
	unsigned inflight;   /* jobs resolving/sending, local deliveries, DSN commits */
	int delete_pending;  /* queue delete arrived while busy */
	int delay_warned;    /* the delay DSN was sent (not durable: at most once per run) */
	int local_started;   /* local recipients were handed to local delivery */
	struct event *retry; /* a DSN commit failed: try again later */
};

/* notice.c */
struct msgstate *msgstate_get(struct server *srv, struct spool_msg *msg); /* NULL: ENOMEM */
void msgstate_free(struct spool_msg *msg);
/* Record a recipient as done (the message's state goes with the last one, and the spool frees
 * msg). Returns 1 when msg is gone. */
int sched_rcpt_done(struct server *srv, struct spool_msg *msg, size_t idx);
/* A recipient reached a state the sender may be told about. Returns 1 when msg is gone. */
int notice_add(struct server *srv, struct spool_msg *msg, const struct notice *n);
/* Send the notices that wait, one DSN per action (may free msg). */
void notice_flush(struct server *srv, struct spool_msg *msg);

/* remote.c: nothing runs for msg any more: a pending delete, or the notices it owes. */
void sched_msg_idle(struct server *srv, struct spool_msg *msg);

#endif
