/* spool.c — durable spool: segment files, staging, group commit, done records, recovery.
 * Threads: the loop thread appends records and runs completions; one commit thread runs
 * fdatasync for every batch of commits that piled up while the previous one ran. */
#include "queue.h"
#include "spool_int.h"

#include "../util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	if (util_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A spool with nothing open yet, and its directory opened; NULL with err set on failure. */
static struct spool *spool_alloc(const char *dir, int readonly, char *err, size_t errlen)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sp->dirfd = sp->lockfd = sp->notify_fd = -1;
	sp->readonly = readonly;
	sp->stage_budget = SPOOL_STAGE_BUDGET_DEFAULT;
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->cv, NULL);
	int rc = readonly ? 0 : mkdir_p(dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create spool directory: %s", dir, strerror(-rc));
	} else {
		sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sp->dirfd < 0)
			snprintf(err, errlen, "%s: cannot open spool: %s", dir, strerror(errno));
	}
	if (sp->dirfd < 0) {
		spool_close(sp);
		return NULL;
	}
	return sp;
}

int spool_open(const char *dir, uint64_t segment_size, spool_queued_fn on_queued, void *arg,
	       struct spool **out, char *err, size_t errlen)
{
	struct spool *sp = spool_alloc(dir, 0, err, errlen);
	if (!sp)
		return -1;
	sp->segment_size = segment_size;
	sp->on_queued = on_queued;
	sp->on_queued_arg = arg;
	sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lockfd < 0 || flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: spool is in use by another relayguard (lock: %s)", dir,
			 strerror(errno));
		goto fail;
	}
	sp->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sp->notify_fd < 0 || pthread_create(&sp->thread, NULL, spool_commit_thread, sp) != 0) {
		snprintf(err, errlen, "cannot start the commit thread: %s", strerror(errno));
		goto fail;
	}
	sp->thread_started = 1;
	*out = sp;
	return 0;
fail:
	spool_close(sp);
	return -1;
}

int spool_open_readonly(const char *dir, struct spool **out, char *err, size_t errlen)
{
	return (*out = spool_alloc(dir, 1, err, errlen)) ? 0 : -1;
}

uint64_t spool_qid_new(struct spool *sp)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	uint64_t q = ms << 20;
	/* Monotonic even if the clock steps back or 2^20 messages arrive in one millisecond. */
	if (q <= sp->last_qid)
		q = sp->last_qid + 1;
	sp->last_qid = q;
	return q;
}

int spool_notify_fd(const struct spool *sp)
{
	return sp->notify_fd;
}

/* ---- segments ---- */

void spool_segment_name(uint64_t seq, char *buf, size_t len)
{
	snprintf(buf, len, "S%016" PRIu64 ".seg", seq);
}

struct spool_segment *spool_segment_create(struct spool *sp, uint64_t seq)
{
	char name[64];
	struct spool_segment *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	spool_segment_name(seq, name, sizeof(name));
	s->seq = seq;
	s->fd = sp->readonly ? openat(sp->dirfd, name, O_RDONLY | O_CLOEXEC)
			     : openat(sp->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	struct stat st;
	s->size = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	/* its directory entry must be durable before any commit in it is acknowledged */
	s->dir_synced = 0;
	if (sp->tail)
		sp->tail->next = s;
	else
		sp->head = s;
	sp->tail = s;
	return s;
}

/* The segment that new records go to, rotating when it is full. */
struct spool_segment *spool_segment_current(struct spool *sp)
{
	if (sp->tail && sp->tail->size < sp->segment_size && !sp->tail->broken)
		return sp->tail;
	return spool_segment_create(sp, sp->tail ? sp->tail->seq + 1 : 1);
}

/* Drop segments from the front while nothing in them is pending. Done records in a segment
 * only ever refer to messages in it or in older segments, so dropping in order never loses
 * the record that a message still present was delivered. */
void spool_segments_reap(struct spool *sp)
{
	while (!sp->readonly && sp->head && sp->head != sp->tail && sp->head->pending == 0 &&
	       sp->head->inflight == 0) {
		struct spool_segment *s = sp->head;
		char name[64];
		spool_segment_name(s->seq, name, sizeof(name));
		if (unlinkat(sp->dirfd, name, 0) < 0)
			log_msg(LOG_WARN, "spool: cannot remove segment", "segment=%s error=\"%s\"",
				name, strerror(errno));
		close(s->fd);
		sp->head = s->next;
		free(s);
	}
}

/* Append bytes at the end of the segment: the loop thread is the only writer, so the end is
 * known (no O_APPEND, which copy_file_range refuses). */
int spool_segment_append(struct spool_segment *s, const void *buf, size_t len)
{
	int rc = util_write_all(s->fd, buf, len, (long long)s->size);
	if (rc == 0)
		s->size += len;
	return rc;
}

/* A small record that needs no fsync: a redelivery after a crash is made harmless by
 * the idempotent delivery, never by this record. */
void spool_append_small_record(struct spool *sp, const char *rec, size_t len)
{
	struct spool_segment *s = spool_segment_current(sp);
	int rc = s ? spool_segment_append(s, rec, len) : -ENOMEM;
	if (rc < 0)
		log_msg(LOG_WARN, "spool: cannot append record", "record=\"%.*s\" error=\"%s\"",
			(int)len - 1, rec, strerror(-rc));
}

void spool_rcpt_done(struct spool *sp, struct spool_msg *msg, size_t idx)
{
	char rec[64];
	if (idx >= msg->env.n_rcpts || msg->env.rcpts[idx].done)
		return;
	int n = snprintf(rec, sizeof(rec), "RGD1 %s %zu\n", msg->qid, idx);
	spool_append_small_record(sp, rec, (size_t)n);
	msg->env.rcpts[idx].done = 1;
	if (--msg->pending > 0)
		return;
	msg->seg->pending--;
	spool_msg_unlink(sp, msg);
	spool_env_clear(&msg->env);
	free(msg);
	spool_segments_reap(sp);
}

/* An administrative record (hold, release, delete): appended and fdatasync'd at once, so the
 * admin's command is durable when it returns. Rare, so the loop thread may wait for it. */
static int append_synced(struct spool *sp, const char *rec, size_t len)
{
	struct spool_segment *s = spool_segment_current(sp);
	if (!s)
		return -ENOMEM;
	int rc = spool_segment_append(s, rec, len);
	if (rc == 0 && fdatasync(s->fd) < 0)
		rc = -errno;
	return rc;
}

int spool_msg_hold(struct spool *sp, struct spool_msg *msg, int held)
{
	char rec[64];
	int n = snprintf(rec, sizeof(rec), "RGH1 %s %d\n", msg->qid, held ? 1 : 0);
	int rc = append_synced(sp, rec, (size_t)n);
	if (rc == 0)
		msg->held = held ? 1 : 0;
	return rc;
}

int spool_msg_delete(struct spool *sp, struct spool_msg *msg)
{
	char rec[64];
	int n = snprintf(rec, sizeof(rec), "RGX1 %s\n", msg->qid);
	int rc = append_synced(sp, rec, (size_t)n);
	if (rc < 0)
		return rc;
	msg->seg->pending--;
	spool_msg_unlink(sp, msg);
	spool_env_clear(&msg->env);
	free(msg);
	spool_segments_reap(sp);
	return 0;
}

struct spool_msg *spool_first(struct spool *sp)
{
	return sp->msg_head;
}

struct spool_msg *spool_find(struct spool *sp, const char *qid)
{
	if (strlen(qid) != SPOOL_QID_LEN)
		return NULL;
	for (struct spool_msg *m = sp->msg_head; m; m = m->next)
		if (strcasecmp(m->qid, qid) == 0)
			return m;
	return NULL;
}

void spool_msg_link(struct spool *sp, struct spool_msg *m)
{
	m->next = NULL;
	m->prev = sp->msg_tail;
	if (sp->msg_tail)
		sp->msg_tail->next = m;
	else
		sp->msg_head = m;
	sp->msg_tail = m;
	sp->n_msgs++;
}

void spool_msg_unlink(struct spool *sp, struct spool_msg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		sp->msg_head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		sp->msg_tail = m->prev;
	m->prev = m->next = NULL;
	sp->n_msgs--;
}

int spool_space_low(struct spool *sp, uint64_t min_bytes, unsigned min_percent, uint64_t *avail)
{
	struct statvfs v;
	*avail = 0;
	if ((!min_bytes && !min_percent) || fstatvfs(sp->dirfd, &v) < 0)
		return 0;
	*avail = (uint64_t)v.f_bavail * v.f_frsize;
	uint64_t total = (uint64_t)v.f_blocks * v.f_frsize;
	return (min_bytes && *avail < min_bytes) ||
	       (min_percent && *avail < total / 100 * min_percent);
}

size_t spool_count(const struct spool *sp)
{
	return sp ? sp->n_msgs : 0;
}

void spool_foreach(struct spool *sp, void (*fn)(void *arg, const struct spool_msg *m), void *arg)
{
	for (struct spool_msg *m = sp->msg_head; m; m = m->next)
		fn(arg, m);
}

/* ---- staging ---- */

struct spool_stage *spool_stage_new(struct spool *sp)
{
	struct spool_stage *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->sp = sp;
	st->fd = -1;
	st->crc = crc32(0L, Z_NULL, 0);
	return st;
}

void spool_set_stage_budget(struct spool *sp, size_t bytes)
{
	sp->stage_budget = bytes;
}

/* The stage's memory goes back to the spool's budget. */
static void stage_release(struct spool_stage *st)
{
	st->sp->stage_mem -= st->cap;
	free(st->mem);
	st->mem = NULL;
	st->cap = 0;
}

static int stage_spill(struct spool_stage *st)
{
	/* in the spool's own file system, unlinked: an abort or a crash leaves nothing */
	st->fd = openat(st->sp->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (st->fd < 0)
		return -errno;
	int rc = util_write_all(st->fd, st->mem, st->len, -1);
	if (rc < 0)
		return rc;
	stage_release(st);
	return 0;
}

/* Room for len more bytes in memory: 0, 1 when the stage must go to its file instead (past
 * SPOOL_STAGE_MEM, or past the budget of all stages), -ENOMEM. */
static int stage_grow(struct spool_stage *st, size_t len)
{
	struct spool *sp = st->sp;
	if (st->fd >= 0 || st->len + len > SPOOL_STAGE_MEM)
		return 1;
	if (st->len + len <= st->cap)
		return 0;
	size_t cap = st->cap ? st->cap * 2 : SPOOL_STAGE_FIRST;
	while (cap < st->len + len)
		cap *= 2;
	if (sp->stage_mem - st->cap + cap > sp->stage_budget)
		return 1;
	char *m = realloc(st->mem, cap);
	if (!m)
		return -ENOMEM;
	sp->stage_mem += cap - st->cap;
	st->mem = m;
	st->cap = cap;
	return 0;
}

int spool_stage_write(struct spool_stage *st, const void *buf, size_t len)
{
	st->crc = (uint32_t)crc32(st->crc, buf, (uInt)len);
	st->total += len;
	int rc = stage_grow(st, len);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		memcpy(st->mem + st->len, buf, len);
		st->len += len;
		return 0;
	}
	rc = st->fd < 0 ? stage_spill(st) : 0;
	return rc == 0 ? util_write_all(st->fd, buf, len, -1) : rc;
}

void spool_stage_free(struct spool_stage *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	stage_release(st);
	free(st);
}

/* Copy the staged body to the end of segment s. */
int spool_stage_copy_to(struct spool_stage *st, struct spool_segment *s)
{
	if (st->fd < 0)
		return spool_segment_append(s, st->mem, st->len);
	loff_t in = 0;
	uint64_t left = st->total;
	while (left > 0) {
		loff_t outoff = (loff_t)s->size;
		ssize_t n = copy_file_range(st->fd, &in, s->fd, &outoff, left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		left -= (uint64_t)n;
		s->size += (uint64_t)n;
	}
	return 0;
}
