/* abuse_store.c — the abuse store alone under the load of bench/abuse.sh: S sessions at once,
 * each message the requests a session with every control on makes (INCR connections, INCR
 * messages, INCR recipients, GET the greylist whitelist entry), one after the other as the
 * session does. Prints messages/s, and the CPU seconds (all threads) per 1000 messages, which
 * a shared machine disturbs less than the rate. Built and run by bench/abuse_store.sh. */
#include "abuse/abuse.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define SESSIONS_MAX 1000

struct bench {
	struct abuse_store *st;
	long messages, started, done, errors;
};

struct session {
	struct bench *b;
	int id, step;
};

static void on_reply(void *arg, const struct abuse_reply *r);

static void session_step(struct session *s)
{
	static const char *const what[] = {"conn", "msg", "rcpt"};
	char key[128];
	int64_t now = 1000000;
	if (s->step == 0 && s->b->started >= s->b->messages)
		return; /* this session is finished */
	if (s->step == 0)
		s->b->started++;
	if (s->step < 3) {
		snprintf(key, sizeof(key), "rl:ip:10.0.%d.%d|%s|3600|999000", s->id / 250,
			 s->id % 250, what[s->step]);
		abuse_incr(s->b->st, key, 1, 3600, now, on_reply, s);
	} else {
		abuse_get(s->b->st, "gl:10.0.0.0/24|w", now, on_reply, s);
	}
}

static void on_reply(void *arg, const struct abuse_reply *r)
{
	struct session *s = arg;
	s->b->errors += r->status == ABUSE_ERROR;
	if (++s->step == 4) {
		s->step = 0;
		s->b->done++;
	}
	session_step(s);
}

static void on_put(void *arg, const struct abuse_reply *r)
{
	struct bench *b = arg;
	b->errors += r->status != ABUSE_OK;
	b->done = -1; /* written */
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: abuse_store DB SESSIONS MESSAGES\n");
		return 2;
	}
	static struct session ss[SESSIONS_MAX];
	struct bench b = {0};
	char err[256];
	int n = atoi(argv[2]);
	b.messages = atol(argv[3]);
	if (n < 1 || n > SESSIONS_MAX || b.messages < 1)
		return 2;
	struct event_base *base = event_base_new();
	if (!base || !(b.st = abuse_sqlite_open(argv[1], 1, base, err, sizeof(err)))) {
		fprintf(stderr, "abuse_store: %s\n", base ? err : "no event base");
		return 1;
	}
	/* the greylist whitelist entry, as after the warm-up */
	abuse_put(b.st, "gl:10.0.0.0/24|w", "1", 86400, ABUSE_EXPECT_ANY, NULL, 1000000, on_put,
		  &b);
	while (b.done != -1)
		event_base_loop(base, EVLOOP_ONCE);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double c0 = cpu_seconds();
	b.done = 0;
	for (int i = 0; i < n; i++) {
		ss[i] = (struct session){&b, i, 0};
		session_step(&ss[i]);
	}
	while (b.done < b.messages)
		event_base_loop(base, EVLOOP_ONCE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	double cpu = cpu_seconds() - c0;
	printf("sessions=%d messages=%ld requests=%ld wall_s=%.3f msgs_per_s=%.0f "
	       "cpu_s_per_1000_msgs=%.3f errors=%ld\n",
	       n, b.done, b.done * 4, wall, b.done / wall, cpu * 1000 / b.done, b.errors);
	abuse_store_free(b.st);
	event_base_free(base);
	return b.errors != 0;
}
