/* conf_record.c — a loaded config into the changelog (src/changelog): at start, after a
 * successful reload, and for `relayguard check --record`, with the verdict of the same audit
 * `relayguard check` runs. A failure to record is logged and never stops anything. */
#include "server_int.h"

#include "../changelog/changelog.h"
#include "../util/util.h"

#include <string.h>

struct verdict_count {
	size_t findings, relays;
};

static void count_finding(void *arg, const struct audit_finding *f)
{
	struct verdict_count *v = arg;
	v->findings++;
	v->relays += f->relays != 0;
}

void server_conf_verdict(const struct conf *c, char *out, size_t len)
{
	struct verdict_count v = {0, 0};
	audit_config(c, count_finding, &v);
	changelog_verdict(v.findings, v.relays, c->open_relay_override, out, len);
}

int server_record_conf(const struct conf *c, const char *event, const struct changelog_who *who,
		       unsigned long *id)
{
	char verdict[256], err[1400], q[1500];
	*id = 0;
	if (!c->text) {
		log_msg(LOG_ERR, "changelog: cannot record: the config text is not kept",
			"config=%s event=%s", c->path, event);
		return -1;
	}
	server_conf_verdict(c, verdict, sizeof(verdict));
	struct changelog_entry e = {event, c->path, c->text, c->text_len, who, verdict};
	if (changelog_append(c->state_dir, &e, id, err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "changelog: cannot record the config",
			"config=%s event=%s error=%s", c->path, event,
			log_quote(err, strlen(err), q, sizeof(q)));
		return -1;
	}
	log_msg(LOG_INFO, "changelog: recorded", "config=%s event=%s record=%lu uid=%ld verdict=%s",
		c->path, event, *id, who->uid, log_quote(verdict, strlen(verdict), q, sizeof(q)));
	return 0;
}
