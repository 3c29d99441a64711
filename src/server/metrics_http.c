/* metrics_http.c — the metrics endpoint of `serve`: GET /metrics on the metrics-listen address
 * (src/promhttp), rendering the server's counters and a scan of the queue at each scrape. */
#include "server_int.h"

#include "../promhttp/promhttp.h"

#include <stdlib.h>
#include <time.h>

struct queue_scan {
	struct metrics_queue q;
	int64_t oldest; /* arrival time of the oldest message, when q.messages > 0 */
};

static void queue_count(void *arg, const struct spool_msg *m)
{
	struct queue_scan *s = arg;
	if (s->q.messages == 0 || m->env.time < s->oldest)
		s->oldest = m->env.time;
	s->q.messages++;
	s->q.recipients += m->pending;
	s->q.held += m->held != 0;
}

static char *render(void *arg, size_t *len)
{
	struct server *srv = arg;
	struct queue_scan scan = {0};
	spool_foreach(srv->spool, queue_count, &scan);
	int64_t now = (int64_t)time(NULL);
	if (scan.q.messages > 0 && now > scan.oldest)
		scan.q.oldest_age = (uint64_t)(now - scan.oldest);
	size_t n = metrics_format(&srv->metrics, &scan.q, NULL, 0);
	char *body = malloc(n + 1);
	if (body)
		metrics_format(&srv->metrics, &scan.q, body, n + 1);
	*len = n;
	return body;
}

int metrics_http_start(struct server *srv, char *err, size_t errlen)
{
	const struct conf_listen *cl = srv->conf->metrics_listen;
	if (!cl)
		return 0;
	srv->http =
	    promhttp_start(srv->base, cl, "metrics-listen", "metrics", render, srv, err, errlen);
	return srv->http ? 0 : -1;
}

void metrics_http_stop(struct server *srv)
{
	promhttp_stop(srv->http);
	srv->http = NULL;
}
