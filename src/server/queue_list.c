/* queue_list.c — `queue list` and `mailq` without the server: what is still queued, read
 * straight from the spool (works while the server runs: segments are append-only and a torn
 * tail is skipped), in the server's formats without the delivery states. */
#include "server_int.h"

#include "../conf/conf.h"
#include "../queue/queue.h"

#include <event2/buffer.h>
#include <stdio.h>

int queue_print_readonly(const char *conf_path, int mailq)
{
	struct conf *c;
	struct spool *sp;
	char err[1024];
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 1;
	}
	struct evbuffer *b = evbuffer_new();
	int rc = 1;
	if (!b)
		fprintf(stderr, "relayguard: out of memory\n");
	else if (spool_open_readonly(c->spool_dir, &sp, err, sizeof(err)) < 0)
		fprintf(stderr, "relayguard: %s\n", err);
	else {
		if (spool_recover(sp, err, sizeof(err)) < 0) {
			fprintf(stderr, "relayguard: %s\n", err);
		} else {
			if (mailq)
				queue_format_mailq(b, spool_first(sp));
			else
				queue_format_list(b, spool_first(sp), 0);
			rc = 0;
			while (evbuffer_get_length(b) > 0 && rc == 0)
				rc = evbuffer_write(b, 1) < 0 ? 1 : 0;
		}
		spool_close(sp);
	}
	if (b)
		evbuffer_free(b);
	conf_free(c);
	return rc;
}
