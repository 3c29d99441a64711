/* envelope.c — the envelope of a spooled message as "key value" text lines. Pure.
 *   qid 0191D5C2A1B00001 / time 1700000000 / from a@b / helo x / client 127.0.0.1
 *   body 8bit / smtputf8 1 / rcpt x@y, then "user NAME" and "rule ID" for that recipient. */
#include "queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_clean(const char *s)
{
	char *d = strdup(s ? s : "");
	if (d)
		for (char *p = d; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = '?'; /* values are single lines; the parsers never yield these
					   */
	return d;
}

int spool_env_add_rcpt(struct spool_env *e, const char *addr, const char *user, const char *rule)
{
	struct spool_rcpt *n = realloc(e->rcpts, (e->n_rcpts + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	e->rcpts = n;
	struct spool_rcpt *r = &n[e->n_rcpts];
	memset(r, 0, sizeof(*r));
	r->addr = dup_clean(addr);
	r->user = user ? dup_clean(user) : NULL;
	r->rule = dup_clean(rule);
	e->n_rcpts++;
	if (!r->addr || !r->rule || (user && !r->user))
		return -ENOMEM; /* the partial entry is freed by spool_env_clear */
	return 0;
}

void spool_env_clear(struct spool_env *e)
{
	for (size_t i = 0; i < e->n_rcpts; i++) {
		free(e->rcpts[i].addr);
		free(e->rcpts[i].user);
		free(e->rcpts[i].rule);
	}
	free(e->rcpts);
	free(e->from);
	free(e->helo);
	free(e->client);
	memset(e, 0, sizeof(*e));
}

int spool_env_format(const struct spool_env *e, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "qid %016" PRIX64 "\ntime %" PRId64 "\nfrom %s\nhelo %s\nclient %s\n", e->qid,
		e->time, e->from ? e->from : "", e->helo ? e->helo : "",
		e->client ? e->client : "");
	fprintf(f, "body %s\nsmtputf8 %d\n", e->eight_bit ? "8bit" : "7bit", e->smtputf8 ? 1 : 0);
	for (size_t i = 0; i < e->n_rcpts; i++) {
		fprintf(f, "rcpt %s\n", e->rcpts[i].addr);
		if (e->rcpts[i].user)
			fprintf(f, "user %s\n", e->rcpts[i].user);
		fprintf(f, "rule %s\n", e->rcpts[i].rule);
	}
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int parse_int(const char *v, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return -1;
	*out = x;
	return 0;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* One "key value" line into e. */
static int env_line(struct spool_env *e, const char *key, const char *v)
{
	int64_t x;
	struct spool_rcpt *last = e->n_rcpts ? &e->rcpts[e->n_rcpts - 1] : NULL;
	if (!strcmp(key, "qid")) {
		char *end;
		e->qid = strtoull(v, &end, 16);
		return *v && !*end ? 0 : -EINVAL;
	}
	if (!strcmp(key, "time")) {
		if (parse_int(v, &x) < 0)
			return -EINVAL;
		e->time = x;
		return 0;
	}
	if (!strcmp(key, "from"))
		return set_str(&e->from, v);
	if (!strcmp(key, "helo"))
		return set_str(&e->helo, v);
	if (!strcmp(key, "client"))
		return set_str(&e->client, v);
	if (!strcmp(key, "body"))
		return (e->eight_bit = !strcmp(v, "8bit")) || !strcmp(v, "7bit") ? 0 : -EINVAL;
	if (!strcmp(key, "smtputf8"))
		return (e->smtputf8 = !strcmp(v, "1")) || !strcmp(v, "0") ? 0 : -EINVAL;
	if (!strcmp(key, "rcpt"))
		return spool_env_add_rcpt(e, v, NULL, "");
	if (!strcmp(key, "user"))
		return last && !last->user ? set_str(&last->user, v) : -EINVAL;
	if (!strcmp(key, "rule"))
		return last ? set_str(&last->rule, v) : -EINVAL;
	return -EINVAL;
}

int spool_env_parse(const char *s, size_t len, struct spool_env *e)
{
	char line[1024];
	size_t i = 0;
	int rc = 0;
	memset(e, 0, sizeof(*e));
	while (i < len && rc == 0) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (s + i)) : len - i;
		char *sp;
		if (!nl || n >= sizeof(line) || memchr(s + i, '\0', n)) {
			rc = -EINVAL;
			break;
		}
		memcpy(line, s + i, n);
		line[n] = '\0';
		i += n + 1;
		sp = strchr(line, ' ');
		if (!sp) {
			rc = -EINVAL;
			break;
		}
		*sp = '\0';
		rc = env_line(e, line, sp + 1);
	}
	if (rc == 0 && (e->qid == 0 || !e->from || e->n_rcpts == 0))
		rc = -EINVAL;
	if (rc)
		spool_env_clear(e);
	return rc;
}
