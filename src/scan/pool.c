/* pool.c — the scanner's worker pool (pthreads, at most `concurrency` hosts at once) and the
 * global connection rate limit every probe connection passes (a one-token bucket: connections
 * are spaced 1/rate seconds apart, whatever the number of workers). */
#include "scan_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void scan_bucket_init(struct scan_bucket *k, double rate)
{
	pthread_mutex_init(&k->mu, NULL);
	k->rate = rate;
	k->next_ns = 0;
	k->taken = 0;
}

void scan_bucket_take(void *bucket)
{
	struct scan_bucket *k = bucket;
	pthread_mutex_lock(&k->mu);
	long long now = now_ns(), at = k->next_ns > now ? k->next_ns : now;
	if (k->rate > 0)
		k->next_ns = at + (long long)(1e9 / k->rate);
	k->taken++;
	pthread_mutex_unlock(&k->mu);
	if (at > now) {
		struct timespec ts = {(time_t)((at - now) / 1000000000LL),
				      (long)((at - now) % 1000000000LL)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

void scan_bucket_destroy(struct scan_bucket *k)
{
	pthread_mutex_destroy(&k->mu);
}

static void *pool_worker(void *arg)
{
	struct scan_pool *p = arg;
	struct scan_host_result *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->mu);
		if (i == p->n)
			break;
		if (scan_host(p->set, p->addrs[i], r) < 0)
			continue; /* out of memory: this host is skipped, the others go on */
		pthread_mutex_lock(&p->mu);
		p->on_result(p->arg, r);
		pthread_mutex_unlock(&p->mu);
		scan_host_free(r);
	}
	free(r);
	return NULL;
}

int scan_pool_run(struct scan_pool *p)
{
	unsigned n = p->concurrency ? p->concurrency : 1;
	if (n > p->n)
		n = p->n ? (unsigned)p->n : 1;
	pthread_t *t = calloc(n, sizeof(*t));
	if (!t)
		return -1;
	pthread_mutex_init(&p->mu, NULL);
	p->next = 0;
	unsigned started = 0;
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, pool_worker, p) == 0)
			started++;
		else
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p->mu);
	free(t);
	return started ? 0 : -1;
}
