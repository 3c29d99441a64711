/* test_queue.c — the spool: record and envelope codecs as tables, then a real spool in a
 * temporary directory (commit → done → recover), and staging past the memory threshold. */
#include "queue/queue.h"
#include "queue/spool_int.h" /* the stage budget test looks inside a stage */
#include "check.h"

#include <ctype.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static void test_records(void)
{
	char rec[256];
	const char *env = "qid 1\n", *body = "hello";
	uint32_t crc = (uint32_t)crc32(crc32(0, (const Bytef *)env, 6), (const Bytef *)body, 5);
	size_t h = spool_rec_msg_header(rec, sizeof(rec), 0xABC, 6, 5, crc);
	memcpy(rec + h, env, 6);
	memcpy(rec + h + 6, body, 5);
	size_t total = h + 11;
	struct spool_rec r;
	CHECK(spool_rec_parse(rec, total, &r) == (long long)total, "whole MSG record");
	CHECK(r.type == SPOOL_REC_MSG && r.qid == 0xABC && r.env_len == 6 && r.body_len == 5,
	      "fields");
	CHECK(memcmp(rec + r.body_off, "hello", 5) == 0, "body offset");
	for (size_t cut = 0; cut < total; cut++) /* every torn tail is "incomplete", never valid */
		CHECK(spool_rec_parse(rec, cut, &r) == 0, "torn at %zu", cut);
	rec[total - 1] ^= 1;
	CHECK(spool_rec_parse(rec, total, &r) == -1, "CRC mismatch is corrupt");
	static const struct {
		const char *in;
		long long want;
		enum spool_rec_type type;
	} small[] = {
	    {"RGD1 0000000000000ABC 3\n", 24, SPOOL_REC_DONE},
	    {"RGX1 0000000000000ABC\n", 22, SPOOL_REC_CANCEL},
	    {"RGH1 0000000000000ABC 1\n", 24, SPOOL_REC_HOLD},
	    {"RGH1 0000000000000ABC 0\n", 24, SPOOL_REC_HOLD},
	    {"RGH1 0000000000000ABC 2\n", -1, 0},		   /* hold is 0 or 1 */
	    {"RGH1 0000000000000ABC\n", -1, 0},			   /* hold without state */
	    {"RGD1 0000000000000ABC\n", -1, 0},			   /* DONE without index */
	    {"RGD1 ABC 3\n", -1, 0},				   /* qid not 16 digits */
	    {"RGQ1 0000000000000ABC\n", -1, 0},			   /* unknown type */
	    {"RGD1 0000000000000abc 3\n", -1, 0},		   /* lower-case hex is not ours */
	    {"RGD1 0000000000000ABC 3 \n", -1, 0},		   /* trailing junk */
	    {"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\n", -1, 0}, /* zeroed block */
	};
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		long long n = spool_rec_parse(small[i].in,
					      strlen(small[i].in) ? strlen(small[i].in) : 21, &r);
		CHECK(n == small[i].want && (n < 0 || r.type == small[i].type), "record %zu", i);
	}
}

static void test_envelope(void)
{
	struct spool_env e = {0}, back;
	char *text;
	size_t len;
	e.qid = 0x1234;
	e.time = 1700000000;
	e.from = strdup("");
	e.helo = strdup("client.example with spaces");
	e.client = strdup("127.0.0.2");
	e.eight_bit = 1;
	CHECK(spool_env_add_rcpt(&e, "alice@example.test", "alice", "local-mailbox") == 0, "add");
	CHECK(spool_env_add_rcpt(&e, "\"a b\"@remote.example", NULL, "rule with\nnewline") == 0,
	      "add");
	CHECK(spool_env_format(&e, &text, &len) == 0, "format");
	CHECK(spool_env_parse(text, len, &back) == 0, "parse back");
	CHECK(back.qid == 0x1234 && back.time == 1700000000 && back.eight_bit && !back.smtputf8,
	      "scalars");
	CHECK_STR(back.from, "", "null sender");
	CHECK_STR(back.helo, "client.example with spaces", "helo");
	CHECK(back.n_rcpts == 2, "rcpts");
	CHECK_STR(back.rcpts[0].user, "alice", "user");
	CHECK(back.rcpts[1].user == NULL, "relay has no user");
	CHECK_STR(back.rcpts[1].addr, "\"a b\"@remote.example", "quoted addr");
	CHECK_STR(back.rcpts[1].rule, "rule with?newline", "newline cannot break the format");
	spool_env_clear(&back);
	static const char *const bad[] = {
	    "",
	    "qid 1\n",
	    "qid 1\nfrom a\n",		       /* no recipient */
	    "qid 1\nfrom a\nuser x\nrcpt b\n", /* user before rcpt */
	    "qid 1\nfrom a\nrcpt b\nbody 9bit\n",
	    "qid zz\nfrom a\nrcpt b\n",
	    "qid 1\nfrom a\nrcpt b\nbogus 1\n",
	    "qid 1\nfrom a\nrcpt b", /* no final newline */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(spool_env_parse(bad[i], strlen(bad[i]), &back) == -EINVAL, "bad envelope %zu",
		      i);
	free(text);
	spool_env_clear(&e);
}

/* RFC 3461 parameters in the envelope: optional keys, round trip, older envelopes. */
static void test_envelope_dsn(void)
{
	struct spool_env e = {0}, back;
	char *text, notify[SPOOL_NOTIFY_TEXT_MAX];
	size_t len;
	e.qid = 0x1234;
	e.from = strdup("a@b.example");
	CHECK(spool_env_set_dsn(&e, SPOOL_RET_HDRS, "QQ+2B1") == 0, "set dsn");
	CHECK(spool_env_set_rcpt_dsn(&e, 0, NULL) == -EINVAL, "no recipient yet");
	CHECK(spool_env_add_rcpt(&e, "x@y.example", NULL, "r1") == 0, "add");
	CHECK(spool_env_set_rcpt_dsn(&e, SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY,
				     "rfc822;X+2By@y.example") == 0,
	      "rcpt dsn");
	CHECK(spool_env_add_rcpt(&e, "z@y.example", NULL, "r1") == 0, "add");
	CHECK(spool_env_set_rcpt_dsn(&e, SPOOL_NOTIFY_NEVER | SPOOL_NOTIFY_FAILURE, NULL) ==
		  -EINVAL,
	      "NEVER is never combined");
	CHECK(spool_env_set_rcpt_dsn(&e, SPOOL_NOTIFY_NEVER, "") == 0, "NEVER, empty ORCPT");
	CHECK(spool_env_add_rcpt(&e, "w@y.example", NULL, "r1") == 0, "add, no DSN parameters");
	e.auth = strdup("alice@y.example"); /* the AUTH login (the circuit breaker's hold) */
	CHECK(spool_env_format(&e, &text, &len) == 0, "format");
	CHECK(strstr(text, "\nauth alice@y.example\n") != NULL, "auth key: %s", text);
	CHECK(strstr(text, "\nret HDRS\nenvid QQ+2B1\nauth alice@y.example\nrcpt x@y.example\n") &&
		  strstr(text, "\nnotify SUCCESS,DELAY\norcpt rfc822;X+2By@y.example\n") &&
		  strstr(text, "\nnotify NEVER\n") && !strstr(text, "orcpt \n"),
	      "keys: %s", text);
	CHECK(spool_env_parse(text, len, &back) == 0, "parse back");
	CHECK(back.ret == SPOOL_RET_HDRS && back.envid && !strcmp(back.envid, "QQ+2B1"), "message");
	CHECK_STR(back.auth, "alice@y.example", "auth parsed back");
	CHECK(back.n_rcpts == 3 &&
		  back.rcpts[0].notify == (SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_DELAY),
	      "notify");
	CHECK_STR(back.rcpts[0].orcpt, "rfc822;X+2By@y.example", "orcpt");
	CHECK(back.rcpts[1].notify == SPOOL_NOTIFY_NEVER && !back.rcpts[1].orcpt, "NEVER");
	CHECK(back.rcpts[2].notify == 0 && !back.rcpts[2].orcpt, "none given");
	spool_env_clear(&back);
	free(text);
	spool_env_pop_rcpt(&e);
	CHECK(e.n_rcpts == 2, "pop the last recipient");
	spool_env_clear(&e);

	const char *old = "qid 1\ntime 5\nfrom a\nhelo h\nclient c\nbody 7bit\nsmtputf8 0\n"
			  "rcpt b\nrule r\n";
	CHECK(spool_env_parse(old, strlen(old), &back) == 0 && back.ret == 0 && !back.envid &&
		  !back.auth && back.rcpts[0].notify == 0 && !back.rcpts[0].orcpt,
	      "an envelope from before DSN parses");
	spool_env_clear(&back);
	static const char *const bad[] = {
	    "qid 1\nfrom a\nret BODY\nrcpt b\n",		     /* RET value */
	    "qid 1\nfrom a\nret FULL\nret HDRS\nrcpt b\n",	     /* twice */
	    "qid 1\nfrom a\nenvid \nrcpt b\n",			     /* empty ENVID */
	    "qid 1\nfrom a\nenvid x\nenvid y\nrcpt b\n",	     /* twice */
	    "qid 1\nfrom a\nauth x\nauth y\nrcpt b\n",		     /* auth twice */
	    "qid 1\nfrom a\nnotify NEVER\nrcpt b\n",		     /* before any rcpt */
	    "qid 1\nfrom a\nrcpt b\nnotify NEVER,DELAY\n",	     /* NEVER combined */
	    "qid 1\nfrom a\nrcpt b\nnotify DELAY,DELAY\n",	     /* twice in the list */
	    "qid 1\nfrom a\nrcpt b\nnotify DELAY,\n",		     /* trailing comma */
	    "qid 1\nfrom a\nrcpt b\nnotify \n",			     /* empty */
	    "qid 1\nfrom a\nrcpt b\nnotify delay\n",		     /* ours are upper-case */
	    "qid 1\nfrom a\nrcpt b\nnotify FAILURE\nnotify DELAY\n", /* twice */
	    "qid 1\nfrom a\norcpt rfc822;x\nrcpt b\n",		     /* before any rcpt */
	    "qid 1\nfrom a\nrcpt b\norcpt \n",			     /* empty */
	    "qid 1\nfrom a\nrcpt b\norcpt a;b\norcpt a;c\n",	     /* twice */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(spool_env_parse(bad[i], strlen(bad[i]), &back) == -EINVAL, "bad DSN key %zu",
		      i);
	static const struct {
		unsigned bits;
		const char *text;
	} nt[] = {{0, ""},
		  {SPOOL_NOTIFY_NEVER, "NEVER"},
		  {SPOOL_NOTIFY_FAILURE, "FAILURE"},
		  {SPOOL_NOTIFY_SUCCESS | SPOOL_NOTIFY_FAILURE | SPOOL_NOTIFY_DELAY,
		   "SUCCESS,FAILURE,DELAY"}};
	for (size_t i = 0; i < sizeof(nt) / sizeof(nt[0]); i++) {
		unsigned got = 99;
		CHECK_STR(spool_notify_format(nt[i].bits, notify, sizeof(notify)), nt[i].text,
			  "notify text %zu", i);
		CHECK(nt[i].bits == 0
			  ? spool_notify_parse(nt[i].text, &got) == -EINVAL
			  : spool_notify_parse(nt[i].text, &got) == 0 && got == nt[i].bits,
		      "notify parse %zu", i);
	}
}

struct seen {
	struct spool_msg *msgs[16];
	size_t n;
	int status;
	char qid[SPOOL_QID_LEN + 1];
};

static void on_queued(void *arg, struct spool_msg *m)
{
	struct seen *s = arg;
	if (s->n < 16)
		s->msgs[s->n++] = m;
}

static void on_commit(void *arg, int status, const char *qid)
{
	struct seen *s = arg;
	s->status = status;
	snprintf(s->qid, sizeof(s->qid), "%s", qid);
}

static void wait_completions(struct spool *sp)
{
	struct pollfd p = {spool_notify_fd(sp), POLLIN, 0};
	CHECK(poll(&p, 1, 5000) == 1, "commit completes");
	spool_run_completions(sp);
}

static void commit_one(struct spool *sp, struct seen *seen, size_t body_len, size_t nrcpt)
{
	struct spool_env e = {0};
	struct spool_stage *st = spool_stage_new(sp);
	char chunk[4096];
	int err;
	e.qid = spool_qid_new(sp);
	e.time = 1;
	e.from = strdup("a@b.example");
	for (size_t i = 0; i < nrcpt; i++)
		spool_env_add_rcpt(&e, "alice@example.test", "alice", "local-mailbox");
	memset(chunk, 'x', sizeof(chunk));
	for (size_t done = 0; done < body_len; done += sizeof(chunk))
		CHECK(spool_stage_write(st, chunk,
					body_len - done < sizeof(chunk) ? body_len - done
									: sizeof(chunk)) == 0,
		      "stage");
	CHECK(spool_commit(sp, &e, st, on_commit, seen, &err) != NULL, "commit");
	wait_completions(sp);
	CHECK(seen->status == 0, "durable");
}

static void test_spool_cycle(void)
{
	char dir[] = "/tmp/rg-test-spool-XXXXXX", err[256];
	struct spool *sp;
	struct seen seen = {0};
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(spool_open(dir, 1 << 20, on_queued, &seen, &sp, err, sizeof(err)) == 0, "%s", err);
	struct spool *second;
	CHECK(spool_open(dir, 1 << 20, on_queued, &seen, &second, err, sizeof(err)) == -1,
	      "a second server on the same spool is refused");
	CHECK(spool_recover(sp, err, sizeof(err)) == 0, "empty spool");
	commit_one(sp, &seen, 100, 2);	      /* small: staged in memory */
	commit_one(sp, &seen, 600 * 1024, 1); /* large: staged in an unlinked file */
	CHECK(seen.n == 2, "both queued");
	CHECK(seen.msgs[1]->body_len == 600 * 1024, "large body length");
	char c;
	CHECK(pread(seen.msgs[1]->fd, &c, 1, (off_t)seen.msgs[1]->body_off) == 1 && c == 'x',
	      "body readable");
	CHECK(strcmp(seen.msgs[0]->qid, seen.msgs[1]->qid) < 0, "queue IDs sort by arrival");
	spool_rcpt_done(sp, seen.msgs[0], 0); /* message 0: one of two recipients done */
	spool_rcpt_done(sp, seen.msgs[1], 0); /* message 1: finished (freed) */
	spool_close(sp);
	struct seen again = {0};
	CHECK(spool_open(dir, 1 << 20, on_queued, &again, &sp, err, sizeof(err)) == 0, "%s", err);
	CHECK(spool_recover(sp, err, sizeof(err)) == 1, "one message still pending");
	CHECK(again.n == 1 && again.msgs[0]->recovered && again.msgs[0]->pending == 1,
	      "recovered state");
	CHECK(again.msgs[0]->env.rcpts[0].done && !again.msgs[0]->env.rcpts[1].done,
	      "per-recipient progress");
	spool_rcpt_done(sp, again.msgs[0], 1);
	spool_close(sp);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* hold, release and delete are durable and replayed in the order they were written */
static void test_spool_admin(void)
{
	char dir[] = "/tmp/rg-test-spool-XXXXXX", err[256];
	struct spool *sp;
	struct seen seen = {0};
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(spool_open(dir, 1 << 20, on_queued, &seen, &sp, err, sizeof(err)) == 0, "%s", err);
	CHECK(spool_recover(sp, err, sizeof(err)) == 0, "empty spool");
	for (int i = 0; i < 3; i++)
		commit_one(sp, &seen, 10, 1);
	char q0[SPOOL_QID_LEN + 1], q1[SPOOL_QID_LEN + 1], lower[SPOOL_QID_LEN + 1];
	memcpy(q0, seen.msgs[0]->qid, sizeof(q0));
	memcpy(q1, seen.msgs[1]->qid, sizeof(q1));
	for (size_t i = 0; i <= SPOOL_QID_LEN; i++)
		lower[i] = (char)tolower((unsigned char)q1[i]);
	CHECK(spool_find(sp, lower) == seen.msgs[1], "find ignores case");
	CHECK(spool_find(sp, "0123") == NULL, "short ID");
	CHECK(spool_msg_hold(sp, seen.msgs[0], 1) == 0 && seen.msgs[0]->held, "hold");
	CHECK(spool_msg_hold(sp, seen.msgs[1], 1) == 0, "hold 1");
	CHECK(spool_msg_hold(sp, seen.msgs[1], 0) == 0 && !seen.msgs[1]->held, "release 1");
	CHECK(spool_msg_delete(sp, seen.msgs[2]) == 0, "delete 2");
	spool_close(sp);
	struct seen again = {0};
	CHECK(spool_open(dir, 1 << 20, on_queued, &again, &sp, err, sizeof(err)) == 0, "%s", err);
	CHECK(spool_recover(sp, err, sizeof(err)) == 2, "deleted message gone");
	CHECK(again.n == 2 && !strcmp(again.msgs[0]->qid, q0) && again.msgs[0]->held,
	      "held after restart");
	CHECK(!strcmp(again.msgs[1]->qid, q1) && !again.msgs[1]->held, "released after restart");
	spool_close(sp);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* limit stage-memory: the stages of all transactions share one budget; a stage that would pass
 * it goes to its file at once, and what a freed stage held is given back. */
static void test_stage_budget(void)
{
	char dir[] = "/tmp/rg-test-stage-XXXXXX", err[256], body[3000];
	struct spool *sp;
	struct seen seen = {0};
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(spool_open(dir, 1 << 20, on_queued, &seen, &sp, err, sizeof(err)) == 0, "%s", err);
	memset(body, 'x', sizeof(body));
	spool_set_stage_budget(sp, 4096);
	struct spool_stage *a = spool_stage_new(sp), *b = spool_stage_new(sp);
	CHECK(spool_stage_write(a, body, sizeof(body)) == 0 && a->fd < 0 && a->cap == 4096,
	      "the first stage in memory, the whole budget");
	CHECK(sp->stage_mem == 4096, "counted: %zu", sp->stage_mem);
	CHECK(spool_stage_write(b, body, 100) == 0 && b->fd >= 0 && !b->mem,
	      "the second goes to its file");
	CHECK(spool_stage_write(b, body, sizeof(body)) == 0 && b->total == 3100, "and stays there");
	spool_stage_free(a);
	CHECK(sp->stage_mem == 0, "a freed stage gives its memory back");
	struct spool_stage *c = spool_stage_new(sp);
	CHECK(spool_stage_write(c, body, 100) == 0 && c->fd < 0, "then memory again");
	spool_stage_free(b);
	spool_stage_free(c);
	CHECK(sp->stage_mem == 0, "all given back");
	spool_close(sp);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	test_spool_admin();
	test_records();
	test_envelope();
	test_envelope_dsn();
	test_spool_cycle();
	test_stage_budget();
	return check_report("test_queue");
}
