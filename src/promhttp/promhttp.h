/* promhttp.h — a Prometheus scrape endpoint: GET (or HEAD) /metrics over HTTP on one address,
 * served by libmicrohttpd inside the caller's libevent loop, with no thread of its own: its
 * epoll fd is watched by libevent, its timeouts by a libevent timer. Any other path gets 404,
 * any other method 405. Used by `serve` (metrics-listen) and `dnsbl` (blocklist-metrics-listen).
 * The socket is bound by promhttp_start: call it before dropping root. */
#ifndef RG_PROMHTTP_H
#define RG_PROMHTTP_H

#include <stddef.h>

struct event_base;
struct conf_listen;
struct promhttp;

/* The scrape's body in the Prometheus text format 0.0.4: a malloc'd buffer (the endpoint frees
 * it) and its length in *len; NULL when out of memory (the connection is closed). Runs in the
 * loop thread. */
typedef char *(*promhttp_render_fn)(void *arg, size_t *len);

/* Bind cl and serve it from base. directive names the setting in errors ("metrics-listen") and
 * who the component in the log line ("metrics", "dnsbl metrics"). The endpoint, or NULL with err
 * set. */
struct promhttp *promhttp_start(struct event_base *base, const struct conf_listen *cl,
				const char *directive, const char *who, promhttp_render_fn render,
				void *arg, char *err, size_t errlen);
/* Close the socket and every connection; NULL is fine. */
void promhttp_stop(struct promhttp *h);

#endif
