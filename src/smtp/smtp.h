/* smtp.h — the SMTP server: listeners and sessions (RFC 5321, 1870, 2920, 3463, 6152, 6531).
 * A session parses with the pure functions of parse.h, asks policy_check_rcpt about every
 * recipient and hands complete messages to the spool. */
#ifndef RG_SMTP_H
#define RG_SMTP_H

#include <stdint.h>

#include "../conf/conf.h"
#include "../queue/queue.h"
#include "../util/metrics.h"

struct event_base;
struct smtp_session;

/* What sessions share; owned by the server, outlives every session. */
struct smtp_ctx {
	const struct conf *conf;
	struct event_base *base;
	struct spool *spool;
	struct metrics *metrics; /* the server's counters; sessions and RCPT verdicts */
	unsigned n_sessions;
	uint64_t next_session_id;
	struct smtp_session *sessions; /* all live sessions, for shutdown */
	struct smtp_listener *listeners;
};

/* Bind every "listen" of ctx->conf and start accepting. 0, or -1 with err set. */
int smtp_listen(struct smtp_ctx *ctx, char *err, size_t errlen);
/* Stop accepting and close every session (shutdown). */
void smtp_shutdown(struct smtp_ctx *ctx);

#endif
