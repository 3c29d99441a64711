/* queue_list.c — `relayguard queue list`: what is still queued, read straight from the spool
 * (works while the server runs: segments are append-only and a torn tail is skipped). */
#include "server.h"

#include "../conf/conf.h"
#include "../queue/queue.h"

#include <stdio.h>
#include <time.h>

/* The DSN parameters (RFC 3461), only those given: " ret=HDRS envid=X" / " notify=… orcpt=…". */
static void print_msg_dsn(const struct spool_env *e)
{
	if (e->ret)
		printf(" ret=%s", e->ret == SPOOL_RET_HDRS ? "HDRS" : "FULL");
	if (e->envid)
		printf(" envid=%s", e->envid);
	putchar('\n');
}

static void print_rcpt(const struct spool_rcpt *r)
{
	char notify[SPOOL_NOTIFY_TEXT_MAX];
	printf("    %-8s <%s>  rule=%s", r->user ? "local" : "relay", r->addr, r->rule);
	if (r->notify)
		printf(" notify=%s", spool_notify_format(r->notify, notify, sizeof(notify)));
	if (r->orcpt)
		printf(" orcpt=%s", r->orcpt);
	putchar('\n');
}

static void print_msg(void *arg, const struct spool_msg *m)
{
	size_t *count = arg;
	char when[32];
	time_t t = (time_t)m->env.time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s  %s  %8llu  <%s>", m->qid, when, (unsigned long long)m->body_len, m->env.from);
	print_msg_dsn(&m->env);
	for (size_t i = 0; i < m->env.n_rcpts; i++)
		if (!m->env.rcpts[i].done)
			print_rcpt(&m->env.rcpts[i]);
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
