/* queue.h — the durable spool: messages are appended to segment files and acknowledged only
 * after fdatasync; concurrent commits share one fdatasync (group commit). Also the pure codecs
 * of the on-disk record and envelope formats (see docs/design.md, "Spool format"). */
#ifndef RG_QUEUE_H
#define RG_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_QID_LEN 16 /* hex digits: 44 bits of milliseconds, 20 bits of sequence */

/* ---- envelope (pure) ---- */
/* DSN parameters (RFC 3461); a bounce itself is recognisable by from == "". */
enum { SPOOL_RET_FULL = 1, SPOOL_RET_HDRS = 2 };
enum {
	SPOOL_NOTIFY_NEVER = 1,
	SPOOL_NOTIFY_SUCCESS = 2,
	SPOOL_NOTIFY_FAILURE = 4,
	SPOOL_NOTIFY_DELAY = 8,
};

struct spool_rcpt {
	char *addr; /* recipient as formatted by addr_format */
	char *user; /* local Maildir user, or NULL when relayed */
	char *rule; /* the policy rule that accepted it */
	int done;
	unsigned notify; /* RFC 3461 NOTIFY: SPOOL_NOTIFY_* bits, 0 = not given */
	char *orcpt;	 /* RFC 3461 ORCPT "addr-type;xtext" as received, or NULL */
};

struct spool_env {
	uint64_t qid;
	int64_t time; /* seconds since the epoch, when DATA ended */
	char *from;   /* "" for the null sender */
	char *helo;
	char *client; /* client IP text */
	int eight_bit, smtputf8;
	int ret;     /* RFC 3461 RET: 0 not given, SPOOL_RET_FULL, SPOOL_RET_HDRS */
	char *envid; /* RFC 3461 ENVID (xtext as received), or NULL */
	char
	    *auth; /* the SMTP AUTH login that submitted it (the circuit breaker's hold), or NULL */
	struct spool_rcpt *rcpts;
	size_t n_rcpts;
};

/* Append a recipient (copies the strings). Returns 0 or -ENOMEM (then e is unchanged). */
int spool_env_add_rcpt(struct spool_env *e, const char *addr, const char *user, const char *rule);
/* Remove the last recipient added (one refused after all). */
void spool_env_pop_rcpt(struct spool_env *e);
/* The message's DSN parameters: ret (0 or SPOOL_RET_*) and envid (copied; NULL for none).
 * 0, -EINVAL (ret out of range) or -ENOMEM. */
int spool_env_set_dsn(struct spool_env *e, int ret, const char *envid);
/* The DSN parameters of the last recipient added: notify (SPOOL_NOTIFY_* bits) and orcpt
 * (copied; NULL for none). 0, -EINVAL (no recipient, bad bits) or -ENOMEM. */
int spool_env_set_rcpt_dsn(struct spool_env *e, unsigned notify, const char *orcpt);
/* "NEVER", "SUCCESS,FAILURE,DELAY", … for notify bits into buf (SPOOL_NOTIFY_TEXT_MAX bytes);
 * "" for 0. Returns buf. */
#define SPOOL_NOTIFY_TEXT_MAX 32
const char *spool_notify_format(unsigned notify, char *buf, size_t len);
/* The reverse: 0 and the bits, or -EINVAL. */
int spool_notify_parse(const char *s, unsigned *notify);
/* Serialise into a newly allocated buffer (*out, *outlen; caller frees). 0 or -ENOMEM. */
int spool_env_format(const struct spool_env *e, char **out, size_t *outlen);
/* Parse a serialised envelope. 0, -EINVAL (malformed) or -ENOMEM. On error e is cleared. */
int spool_env_parse(const char *s, size_t len, struct spool_env *e);
void spool_env_clear(struct spool_env *e);

void spool_qid_format(uint64_t qid, char out[SPOOL_QID_LEN + 1]);

/* ---- records (pure) ---- */
enum spool_rec_type { SPOOL_REC_MSG, SPOOL_REC_DONE, SPOOL_REC_CANCEL, SPOOL_REC_HOLD };
struct spool_rec {
	enum spool_rec_type type;
	uint64_t qid;
	uint64_t rcpt;		   /* DONE: recipient index; HOLD: 1 held, 0 released */
	uint64_t env_off, env_len; /* MSG: offsets relative to the record start */
	uint64_t body_off, body_len;
	uint32_t crc; /* MSG: CRC-32 of envelope then body */
};
/* Parse the record at the start of buf. Returns the record length (> 0), 0 when buf holds an
 * incomplete record (a torn tail), or -1 when it is corrupt (bad header or CRC). */
long long spool_rec_parse(const char *buf, size_t len, struct spool_rec *out);
/* The header line of a MSG record into buf (>= 96 bytes). Returns its length. */
size_t spool_rec_msg_header(char *buf, size_t len, uint64_t qid, uint64_t env_len,
			    uint64_t body_len, uint32_t crc);

/* ---- the spool (I/O) ---- */
struct spool;
struct spool_segment;

/* A queued message, owned by the spool from commit (or recovery) until every recipient is
 * done. Its body can be read from fd at body_off (pread/copy_file_range are thread-safe). */
struct spool_msg {
	struct spool_env env;
	char qid[SPOOL_QID_LEN + 1];
	int fd;
	uint64_t body_off, body_len;
	size_t pending;
	int recovered; /* from a restart: a delivery may already have happened */
	int held;      /* on hold (queue hold): not delivered until released */
	void *owner;   /* the scheduler's state for this message (the spool never touches it) */
	struct spool_segment *seg;
	struct spool_msg *prev, *next; /* the spool's list, oldest first */
};

/* The body of a message being received: memory first, an unlinked temporary file beyond
 * SPOOL_STAGE_MEM bytes, so a large message costs no memory and an abort leaves nothing. */
struct spool_stage;

typedef void (*spool_queued_fn)(void *arg, struct spool_msg *msg);
typedef void (*spool_commit_fn)(void *arg, int status, const char *qid);

/* Open (creating) dir, take its lock, start the commit thread. on_queued is called in the loop
 * thread for every message that becomes durable (also for recovered ones). */
int spool_open(const char *dir, uint64_t segment_size, spool_queued_fn on_queued, void *arg,
	       struct spool **out, char *err, size_t errlen);
/* Open dir only to read it (no lock, no commit thread, nothing written): for listing the
 * queue of a running server. Then spool_recover (torn tails are skipped, not cut). */
int spool_open_readonly(const char *dir, struct spool **out, char *err, size_t errlen);
/* Read every segment, rebuild the queue, hand each pending message to on_queued. Returns the
 * number of pending messages or -1 (err set). */
long spool_recover(struct spool *sp, char *err, size_t errlen);
void spool_close(struct spool *sp);

uint64_t spool_qid_new(struct spool *sp);

struct spool_stage *spool_stage_new(struct spool *sp);
/* limit stage-memory: what the in-memory stages of all transactions may hold together (the
 * default, until called: SPOOL_STAGE_BUDGET_DEFAULT). A stage that would pass it goes to
 * its temporary file at once, so 5,000 stalled DATA transactions cost no more than this. */
void spool_set_stage_budget(struct spool *sp, size_t bytes);
#define SPOOL_STAGE_BUDGET_DEFAULT (64u << 20)
int spool_stage_write(struct spool_stage *st, const void *buf, size_t len); /* 0 or -errno */
void spool_stage_free(struct spool_stage *st);

/* Write env + staged body as one record and queue it for the next group fdatasync. env is
 * moved into the spool (cleared on return), stage is consumed. cb runs in the loop thread
 * with status 0 once durable, or -errno; it may be detached with spool_commit_detach(ticket).
 * Returns a ticket, or NULL with *errnum set when the write failed at once (nothing queued). */
struct spool_commit *spool_commit(struct spool *sp, struct spool_env *env, struct spool_stage *st,
				  spool_commit_fn cb, void *arg, int *errnum);
void spool_commit_detach(struct spool_commit *c);

/* The file descriptor the loop watches for finished commits; then call spool_run_completions. */
int spool_notify_fd(const struct spool *sp);
void spool_run_completions(struct spool *sp);

/* Recipient idx of msg is delivered (or failed for good). Records it; frees msg when it was
 * the last one and drops segments that hold nothing pending. */
void spool_rcpt_done(struct spool *sp, struct spool_msg *msg, size_t idx);

/* Put msg on hold (held = 1) or release it (0), durably (the record is fdatasync'd before
 * return). 0 or -errno. */
int spool_msg_hold(struct spool *sp, struct spool_msg *msg, int held);
/* Remove msg from the queue for good (queue delete), durably, and free it. The caller makes sure
 * no delivery still uses it. 0 or -errno (then msg is unchanged). */
int spool_msg_delete(struct spool *sp, struct spool_msg *msg);
/* The oldest queued message (then follow ->next), or NULL. */
struct spool_msg *spool_first(struct spool *sp);
/* How many messages are queued now (held ones included); 0 for NULL. O(1), loop thread. */
size_t spool_count(const struct spool *sp);
/* Is the free space of the spool's filesystem (for an unprivileged writer) below min_bytes, or
 * below min_percent % of its size (either 0 = not checked)? 1 or 0; *avail gets the free
 * bytes. One fstatvfs: cheap enough for every MAIL. A failing fstatvfs is not "low" (0). */
int spool_space_low(struct spool *sp, uint64_t min_bytes, unsigned min_percent, uint64_t *avail);
/* The queued message with this queue ID (16 hex digits, any case), or NULL. */
struct spool_msg *spool_find(struct spool *sp, const char *qid);

/* Statistics: messages committed, and fdatasync calls the commit thread made for them. */
void spool_stats(struct spool *sp, uint64_t *commits, uint64_t *syncs);

/* Calls fn for every message still queued (for listing). */
void spool_foreach(struct spool *sp, void (*fn)(void *arg, const struct spool_msg *m), void *arg);

#endif
