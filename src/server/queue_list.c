/* queue_list.c — `relayguard queue list`: what is still queued, read straight from the spool
 * (works while the server runs: segments are append-only and a torn tail is skipped). */
#include "server.h"

#include "../conf/conf.h"
#include "../queue/queue.h"

#include <stdio.h>
#include <time.h>

static void print_msg(void *arg, const struct spool_msg *m)
{
	size_t *count = arg;
	char when[32];
	time_t t = (time_t)m->env.time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s  %s  %8llu  <%s>\n", m->qid, when, (unsigned long long)m->body_len, m->env.from);
	for (size_t i = 0; i < m->env.n_rcpts; i++) {
		const struct spool_rcpt *r = &m->env.rcpts[i];
		if (!r->done)
			printf("    %-8s <%s>  rule=%s\n", r->user ? "local" : "relay", r->addr,
			       r->rule);
	}
	(*count)++;
}

int server_queue_list(const char *conf_path)
{
	struct conf *c;
	struct spool *sp;
	char err[1024];
	size_t count = 0;
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 1;
	}
	if (spool_open_readonly(c->spool_dir, &sp, err, sizeof(err)) < 0 ||
	    spool_recover(sp, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		conf_free(c);
		return 1;
	}
	spool_foreach(sp, print_msg, &count);
	printf("%zu message%s queued\n", count, count == 1 ? "" : "s");
	spool_close(sp);
	conf_free(c);
	return 0;
}
