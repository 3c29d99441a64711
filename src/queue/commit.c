/* commit.c — writing a message record and group commit: the loop thread appends, the commit
 * thread makes everything appended so far durable with one fdatasync per segment, and the loop
 * thread then answers every waiting client. */
#include "spool_int.h"

#include "../util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Write header, envelope and body; on failure cut the segment back to where it was. */
static int write_record(struct spool_segment *seg, const char *env, size_t envlen,
			struct spool_stage *st, uint64_t qid, uint64_t *body_off)
{
	char hdr[128];
	uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)env, (uInt)envlen);
	crc = (uint32_t)crc32_combine(crc, st->crc, (z_off_t)st->total);
	size_t hlen = spool_rec_msg_header(hdr, sizeof(hdr), qid, envlen, st->total, crc);
	uint64_t start = seg->size;
	int rc = spool_segment_append(seg, hdr, hlen);
	if (rc == 0)
		rc = spool_segment_append(seg, env, envlen);
	if (rc == 0)
		rc = spool_stage_copy_to(st, seg);
	if (rc == 0) {
		*body_off = start + hlen + envlen;
		return 0;
	}
	if (ftruncate(seg->fd, (off_t)start) == 0)
		seg->size = start;
	else
		seg->broken = 1;
	return rc;
}

struct spool_commit *spool_commit(struct spool *sp, struct spool_env *env, struct spool_stage *st,
				  spool_commit_fn cb, void *arg, int *errnum)
{
	char *envtext = NULL;
	size_t envlen = 0;
	struct spool_msg *msg = calloc(1, sizeof(*msg));
	struct spool_commit *c = calloc(1, sizeof(*c));
	struct spool_segment *seg = spool_segment_current(sp);
	int rc = !msg || !c || !seg ? -ENOMEM : spool_env_format(env, &envtext, &envlen);
	if (rc == 0)
		rc = write_record(seg, envtext, envlen, st, env->qid, &msg->body_off);
	free(envtext);
	if (rc < 0) {
		free(msg);
		free(c);
		spool_stage_free(st);
		*errnum = -rc;
		return NULL;
	}
	msg->env = *env;
	memset(env, 0, sizeof(*env));
	spool_qid_format(msg->env.qid, msg->qid);
	msg->fd = seg->fd;
	msg->body_len = st->total;
	msg->pending = msg->env.n_rcpts;
	msg->seg = seg;
	spool_stage_free(st);
	c->seg = seg;
	c->msg = msg;
	c->cb = cb;
	c->arg = arg;
	seg->inflight++;
	pthread_mutex_lock(&sp->mu);
	if (sp->todo_tail)
		sp->todo_tail->next = c;
	else
		sp->todo = c;
	sp->todo_tail = c;
	pthread_cond_signal(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	return c;
}

void spool_commit_detach(struct spool_commit *c)
{
	c->cb = NULL;
	c->arg = NULL;
}

/* One fdatasync per segment in the batch (and one directory fsync for a new segment). */
static uint64_t sync_batch(struct spool *sp, struct spool_commit *batch)
{
	uint64_t calls = 0;
	struct spool_segment *done[8];
	int status[8];
	size_t ndone = 0;
	for (struct spool_commit *c = batch; c; c = c->next) {
		size_t i;
		for (i = 0; i < ndone && done[i] != c->seg; i++)
			;
		if (i == ndone) {
			int rc = 0;
			if (!c->seg->dir_synced)
				rc = fsync(sp->dirfd) < 0 ? -errno : 0;
			if (rc == 0)
				rc = fdatasync(c->seg->fd) < 0 ? -errno : 0;
			if (rc == 0)
				c->seg->dir_synced = 1;
			calls++;
			if (ndone < 8) {
				done[ndone] = c->seg;
				status[ndone++] = rc;
			}
			c->status = rc;
		} else {
			c->status = status[i];
		}
	}
	return calls;
}

void *spool_commit_thread(void *arg)
{
	struct spool *sp = arg;
	pthread_mutex_lock(&sp->mu);
	for (;;) {
		while (!sp->todo && !sp->stopping)
			pthread_cond_wait(&sp->cv, &sp->mu);
		if (!sp->todo)
			break;
		struct spool_commit *batch = sp->todo;
		sp->todo = sp->todo_tail = NULL;
		pthread_mutex_unlock(&sp->mu);
		uint64_t n = sync_batch(sp, batch);
		pthread_mutex_lock(&sp->mu);
		sp->fsyncs += n;
		struct spool_commit **end = &sp->finished;
		while (*end)
			end = &(*end)->next;
		*end = batch;
		uint64_t one = 1;
		if (write(sp->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_msg(LOG_ERR, "spool: cannot notify the loop", "error=\"%s\"",
				strerror(errno));
	}
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

static void complete_one(struct spool *sp, struct spool_commit *c)
{
	struct spool_msg *msg = c->msg;
	c->seg->inflight--;
	if (c->status == 0) {
		sp->commits++;
		c->seg->pending++;
		spool_msg_link(sp, msg);
		if (c->cb)
			c->cb(c->arg, 0, msg->qid);
		sp->on_queued(sp->on_queued_arg, msg);
		return;
	}
	char rec[64];
	int n = snprintf(rec, sizeof(rec), "RGX1 %s\n", msg->qid);
	c->seg->broken = 1; /* after a failed fdatasync nothing in it can be trusted */
	log_msg(LOG_ERR, "spool: commit failed", "qid=%s error=\"%s\"", msg->qid,
		strerror(-c->status));
	spool_append_small_record(sp, rec, (size_t)n);
	if (c->cb)
		c->cb(c->arg, c->status, msg->qid);
	spool_env_clear(&msg->env);
	free(msg);
}

void spool_stats(struct spool *sp, uint64_t *commits, uint64_t *syncs)
{
	pthread_mutex_lock(&sp->mu);
	*syncs = sp->fsyncs;
	pthread_mutex_unlock(&sp->mu);
	*commits = sp->commits;
}

void spool_run_completions(struct spool *sp)
{
	uint64_t v;
	if (read(sp->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "spool: notify read failed", "error=\"%s\"", strerror(errno));
	pthread_mutex_lock(&sp->mu);
	struct spool_commit *list = sp->finished;
	sp->finished = NULL;
	pthread_mutex_unlock(&sp->mu);
	while (list) {
		struct spool_commit *next = list->next;
		complete_one(sp, list);
		free(list);
		list = next;
	}
	spool_segments_reap(sp);
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->thread_started) {
		pthread_mutex_lock(&sp->mu);
		sp->stopping = 1;
		pthread_cond_signal(&sp->cv);
		pthread_mutex_unlock(&sp->mu);
		pthread_join(sp->thread, NULL);
	}
	for (struct spool_commit *c = sp->finished, *n; c; c = n) {
		n = c->next;
		spool_env_clear(&c->msg->env);
		free(c->msg);
		free(c);
	}
	while (sp->msg_head) {
		struct spool_msg *m = sp->msg_head;
		spool_msg_unlink(sp, m);
		spool_env_clear(&m->env);
		free(m);
	}
	while (sp->head) {
		struct spool_segment *s = sp->head;
		sp->head = s->next;
		close(s->fd);
		free(s);
	}
	if (sp->notify_fd >= 0)
		close(sp->notify_fd);
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	pthread_cond_destroy(&sp->cv);
	pthread_mutex_destroy(&sp->mu);
	free(sp);
}
