/* workq.h — a thread pool whose results are handled back in the event loop thread. */
#ifndef RG_WORKQ_H
#define RG_WORKQ_H

#include <stddef.h>

typedef void (*workq_fn)(void *arg);
struct workq;

/* Start nthreads workers. NULL on failure. */
struct workq *workq_create(size_t nthreads);
/* Run work(arg) on a worker, then done(arg) in the thread that calls workq_run_completions. */
int workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg);
/* Readable when completions are waiting. */
int workq_notify_fd(const struct workq *q);
void workq_run_completions(struct workq *q);
/* Let the workers finish every submitted job, then join them; workq_run_completions still
 * runs the done callbacks afterwards. */
void workq_stop(struct workq *q);
/* workq_stop, then free; done callbacks not yet run are dropped. */
void workq_destroy(struct workq *q);

#endif
