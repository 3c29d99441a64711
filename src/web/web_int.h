/* web_int.h — shared inside src/web only: the page frame and the HTTP server. */
#ifndef RG_WEB_INT_H
#define RG_WEB_INT_H

#include "web.h"

struct conf;

/* The start of a page up to <main> (title escaped), and its end. */
void web_page_head(struct util_buf *b, const char *title);
void web_page_foot(struct util_buf *b);

/* A delisting request's outcome (status: the names of struct web_delist_view). */
struct web_delist_outcome {
	char status[16];
	char detail[512];
	char *scan;    /* the rescan's result as JSON (malloc'd, caller frees) or NULL */
	char err[512]; /* when the request could not be run */
};
/* Run a delisting request for ip (canonical text) by requester (the client's address): the
 * rescan (blocking, seconds). 0 with o filled, or -1 with o->err. */
int web_delist_run(const struct conf *c, const char *ip, const char *requester,
		   struct web_delist_outcome *o);

/* Run the HTTP server for c on its blocklist-web-listen address until SIGINT/SIGTERM.
 * 0, or -1 with err. */
int web_http_run(const struct conf *c, const char *db_path, char *err, size_t errlen);

#endif
