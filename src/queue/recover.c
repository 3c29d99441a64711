/* recover.c — rebuild the queue from the segment files at start. A torn record at the end of
 * the last segment (a crash while writing, never acknowledged) is cut off; every complete
 * message without done records for all its recipients is queued again. */
#include "spool_int.h"

#include "../util/util.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A done, cancel or hold record, in the order the records were written. */
#define MARK_CANCEL UINT64_MAX	      /* every recipient (a cancelled commit, a deletion) */
#define MARK_HOLD (UINT64_MAX - 1)    /* put on hold */
#define MARK_RELEASE (UINT64_MAX - 2) /* released */
struct done_mark {
	uint64_t qid;
	uint64_t seq;  /* record order across segments */
	uint64_t rcpt; /* a recipient index or one of the MARK_* */
};

struct recovery {
	struct spool_msg **msgs;
	size_t n_msgs, cap_msgs;
	struct done_mark *dones;
	size_t n_dones, cap_dones;
	uint64_t seq;
};

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int add_msg(struct recovery *r, struct spool_segment *seg, const char *base, uint64_t off,
		   const struct spool_rec *rec)
{
	struct spool_msg *m = calloc(1, sizeof(*m));
	if (!m || grow((void **)&r->msgs, &r->cap_msgs, r->n_msgs, sizeof(*r->msgs)) < 0) {
		free(m);
		return -ENOMEM;
	}
	if (spool_env_parse(base + off + rec->env_off, rec->env_len, &m->env) < 0 ||
	    m->env.qid != rec->qid) {
		log_msg(LOG_ERR, "spool: unreadable envelope, message kept on disk",
			"segment=%" PRIu64 " offset=%" PRIu64, seg->seq, off);
		free(m);
		return 0;
	}
	spool_qid_format(rec->qid, m->qid);
	m->fd = seg->fd;
	m->seg = seg;
	m->body_off = off + rec->body_off;
	m->body_len = rec->body_len;
	m->recovered = 1;
	r->msgs[r->n_msgs++] = m;
	return 0;
}

static int add_done(struct recovery *r, uint64_t qid, uint64_t rcpt)
{
	if (grow((void **)&r->dones, &r->cap_dones, r->n_dones, sizeof(*r->dones)) < 0)
		return -ENOMEM;
	r->dones[r->n_dones].qid = qid;
	r->dones[r->n_dones].seq = r->seq++;
	r->dones[r->n_dones++].rcpt = rcpt;
	return 0;
}

/* Parse one segment's records; returns the length of its valid prefix or -ENOMEM. */
static long long scan_segment(struct recovery *r, struct spool_segment *seg, const char *p,
			      uint64_t size)
{
	uint64_t off = 0;
	while (off < size) {
		struct spool_rec rec;
		long long n = spool_rec_parse(p + off, size - off, &rec);
		if (n <= 0)
			break;
		int rc = rec.type == SPOOL_REC_MSG    ? add_msg(r, seg, p, off, &rec)
			 : rec.type == SPOOL_REC_DONE ? add_done(r, rec.qid, rec.rcpt)
			 : rec.type == SPOOL_REC_HOLD
			     ? add_done(r, rec.qid, rec.rcpt ? MARK_HOLD : MARK_RELEASE)
			     : add_done(r, rec.qid, MARK_CANCEL);
		if (rc < 0)
			return rc;
		off += (uint64_t)n;
	}
	return (long long)off;
}

static int load_segment(struct spool *sp, struct recovery *r, uint64_t seq, int last)
{
	struct spool_segment *seg = spool_segment_create(sp, seq);
	/* a reader beside a running server: the segment was removed after the directory was
	 * listed, because everything in it was delivered */
	if (!seg && sp->readonly && errno == ENOENT)
		return 0;
	if (!seg)
		return errno ? -errno : -ENOMEM;
	seg->dir_synced = 1;
	if (seg->size == 0)
		return 0;
	void *p = mmap(NULL, seg->size, PROT_READ, MAP_PRIVATE, seg->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	long long valid = scan_segment(r, seg, p, seg->size);
	munmap(p, seg->size);
	if (valid < 0)
		return (int)valid;
	if ((uint64_t)valid < seg->size) {
		if (!sp->readonly)
			log_msg(LOG_WARN,
				last ? "spool: torn record at the end cut off (never acknowledged)"
				     : "spool: corrupt record, rest of segment ignored",
				"segment=%" PRIu64 " offset=%lld size=%" PRIu64, seq, valid,
				seg->size);
		if (last && !sp->readonly && ftruncate(seg->fd, (off_t)valid) == 0)
			seg->size = (uint64_t)valid;
		else
			seg->broken = 1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_mark(const void *a, const void *b)
{
	const struct done_mark *x = a, *y = b;
	int c = cmp_u64(&x->qid, &y->qid);
	return c ? c : cmp_u64(&x->seq, &y->seq);
}

/* Apply one mark to its message. */
static void apply_mark(struct spool_msg *m, uint64_t mark)
{
	if (mark == MARK_HOLD || mark == MARK_RELEASE) {
		m->held = mark == MARK_HOLD;
		return;
	}
	for (size_t k = 0; k < m->env.n_rcpts; k++)
		if (mark == MARK_CANCEL || mark == k)
			m->env.rcpts[k].done = 1;
}

static int cmp_msg(const void *a, const void *b)
{
	return cmp_u64(&(*(struct spool_msg *const *)a)->env.qid,
		       &(*(struct spool_msg *const *)b)->env.qid);
}

/* Segment sequence numbers in the directory, sorted. */
static int list_segments(struct spool *sp, uint64_t **out, size_t *n)
{
	size_t cap = 0;
	int fd = dup(sp->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	*out = NULL;
	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	for (struct dirent *e; (e = readdir(d));) {
		uint64_t seq;
		char tail[8];
		if (sscanf(e->d_name, "S%16" SCNu64 "%7s", &seq, tail) != 2 ||
		    strcmp(tail, ".seg") != 0 || strlen(e->d_name) != 21)
			continue;
		if (grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
			closedir(d);
			return -ENOMEM;
		}
		(*out)[(*n)++] = seq;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_u64);
	return 0;
}

/* Apply done marks (sorted by qid) to the messages (sorted by qid); queue what is pending. */
static long requeue(struct spool *sp, struct recovery *r)
{
	long pending = 0;
	size_t d = 0;
	if (r->n_msgs)
		qsort(r->msgs, r->n_msgs, sizeof(*r->msgs), cmp_msg);
	if (r->n_dones)
		qsort(r->dones, r->n_dones, sizeof(*r->dones), cmp_mark);
	for (size_t i = 0; i < r->n_msgs; i++) {
		struct spool_msg *m = r->msgs[i];
		while (d < r->n_dones && r->dones[d].qid < m->env.qid)
			d++;
		for (; d < r->n_dones && r->dones[d].qid == m->env.qid; d++)
			apply_mark(m, r->dones[d].rcpt);
		if (m->env.qid > sp->last_qid)
			sp->last_qid = m->env.qid;
		for (size_t k = 0; k < m->env.n_rcpts; k++)
			m->pending += !m->env.rcpts[k].done;
		r->msgs[i] = NULL;
		if (m->pending == 0) {
			spool_env_clear(&m->env);
			free(m);
			continue;
		}
		m->seg->pending++;
		spool_msg_link(sp, m);
		pending++;
	}
	return pending;
}

long spool_recover(struct spool *sp, char *err, size_t errlen)
{
	struct recovery r = {0};
	uint64_t *seqs;
	size_t n;
	int rc = list_segments(sp, &seqs, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = load_segment(sp, &r, seqs[i], i + 1 == n);
	free(seqs);
	long pending = rc == 0 ? requeue(sp, &r) : -1;
	for (size_t i = 0; i < r.n_msgs; i++)
		if (r.msgs[i]) {
			spool_env_clear(&r.msgs[i]->env);
			free(r.msgs[i]);
		}
	free(r.msgs);
	free(r.dones);
	if (rc < 0) {
		snprintf(err, errlen, "spool recovery failed: %s", strerror(-rc));
		return -1;
	}
	for (struct spool_msg *m = sp->msg_head, *next; m && sp->on_queued; m = next) {
		next = m->next; /* on_queued may finish and free m */
		sp->on_queued(sp->on_queued_arg, m);
	}
	spool_segments_reap(sp);
	return pending;
}
