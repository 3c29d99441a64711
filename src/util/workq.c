/* workq.c — a fixed pool of threads for blocking work (fsync-heavy deliveries). Results come
 * back to the event loop: the pool signals an eventfd and the loop runs the done callbacks. */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct workq_job {
	struct workq_job *next;
	workq_fn work, done;
	void *arg;
};

struct workq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct workq_job *todo, *todo_tail, *finished;
	int stopping, notify_fd;
	size_t nthreads;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct workq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->todo && !q->stopping)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->todo)
			break;
		struct workq_job *j = q->todo;
		q->todo = j->next;
		if (!q->todo)
			q->todo_tail = NULL;
		pthread_mutex_unlock(&q->mu);
		j->work(j->arg);
		pthread_mutex_lock(&q->mu);
		j->next = q->finished;
		q->finished = j;
		uint64_t one = 1;
		(void)!write(q->notify_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct workq *workq_create(size_t nthreads)
{
	struct workq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->threads = calloc(nthreads, sizeof(*q->threads));
	if (q->notify_fd < 0 || !q->threads) {
		workq_destroy(q);
		return NULL;
	}
	for (; q->nthreads < nthreads; q->nthreads++)
		if (pthread_create(&q->threads[q->nthreads], NULL, worker, q) != 0) {
			workq_destroy(q);
			return NULL;
		}
	return q;
}

int workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg)
{
	struct workq_job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->todo_tail)
		q->todo_tail->next = j;
	else
		q->todo = j;
	q->todo_tail = j;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

int workq_notify_fd(const struct workq *q)
{
	return q->notify_fd;
}

void workq_run_completions(struct workq *q)
{
	uint64_t v;
	(void)!read(q->notify_fd, &v, sizeof(v));
	pthread_mutex_lock(&q->mu);
	struct workq_job *list = q->finished;
	q->finished = NULL;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct workq_job *next = list->next;
		list->done(list->arg);
		free(list);
		list = next;
	}
}

void workq_stop(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
}

void workq_destroy(struct workq *q)
{
	if (!q)
		return;
	workq_stop(q);
	for (struct workq_job *j = q->todo, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	for (struct workq_job *j = q->finished, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	if (q->notify_fd >= 0)
		close(q->notify_fd);
	free(q->threads);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
