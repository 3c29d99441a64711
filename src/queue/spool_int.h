/* spool_int.h — the spool's private structures, shared by its files. */
#ifndef RG_SPOOL_INT_H
#define RG_SPOOL_INT_H

#include "queue.h"

#include <pthread.h>

#define SPOOL_STAGE_MEM (256 * 1024) /* bodies up to this size are staged in memory */
#define SPOOL_STAGE_FIRST 2048 /* the first allocation of a stage (doubled as the body grows) */

struct spool_segment {
	uint64_t seq;
	int fd;
	uint64_t size;	 /* bytes written (the loop thread's view) */
	size_t pending;	 /* queued messages stored here */
	size_t inflight; /* commits written here, not yet durable */
	int dir_synced;	 /* its directory entry is durable */
	int broken;	 /* a write failed: never append again */
	struct spool_segment *next;
};

struct spool_commit {
	struct spool_commit *next;
	struct spool_segment *seg;
	struct spool_msg *msg;
	spool_commit_fn cb;
	void *arg;
	int status;
};

struct spool_stage {
	struct spool *sp;
	char *mem;
	size_t len, cap;
	int fd; /* unlinked temporary file once the body outgrew memory */
	uint64_t total;
	uint32_t crc;
};

struct spool {
	int dirfd, lockfd, notify_fd;
	uint64_t segment_size;
	int readonly;
	uint64_t last_qid;
	struct spool_segment *head, *tail;
	struct spool_msg *msg_head, *msg_tail; /* queued messages, oldest first */
	spool_queued_fn on_queued;
	void *on_queued_arg;
	/* shared with the commit thread, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct spool_commit *todo, *todo_tail; /* written, waiting for fdatasync */
	struct spool_commit *finished;	       /* fdatasync done, waiting for the loop */
	int stopping;
	pthread_t thread;
	int thread_started;
	uint64_t fsyncs;  /* statistics: fdatasync calls made (under mu) */
	uint64_t commits; /* statistics: commits made durable (loop thread) */
	size_t n_msgs;	  /* queued messages (the msg_head list), loop thread */
	/* in-memory stages of every transaction together (loop thread): bytes allocated, and the
	 * most they may hold (spool_set_stage_budget; beyond it a stage goes to its file) */
	size_t stage_mem, stage_budget;
};

/* spool.c */
struct spool_segment *spool_segment_create(struct spool *sp, uint64_t seq);
struct spool_segment *spool_segment_current(struct spool *sp);
int spool_segment_append(struct spool_segment *s, const void *buf, size_t len);
void spool_segment_name(uint64_t seq, char *buf, size_t len);
void spool_segments_reap(struct spool *sp);
void spool_append_small_record(struct spool *sp, const char *rec, size_t len);
int spool_stage_copy_to(struct spool_stage *st, struct spool_segment *s);
/* commit.c */
void *spool_commit_thread(void *arg);
void spool_msg_link(struct spool *sp, struct spool_msg *m);
void spool_msg_unlink(struct spool *sp, struct spool_msg *m);

#endif
