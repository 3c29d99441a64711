/* envelope.c — the envelope of a spooled message as "key value" text lines. Pure.
 *   qid 0191D5C2A1B00001 / time 1700000000 / from a@b / helo x / client 127.0.0.1
 *   body 8bit / smtputf8 1 / [ret FULL|HDRS] / [envid XTEXT] /
 *   rcpt x@y, then "user NAME", "rule ID", [notify SUCCESS,FAILURE], [orcpt rfc822;x@y] for it.
 * Keys in brackets are optional (older envelopes have none of them). */
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

static void rcpt_free(struct spool_rcpt *r)
{
	free(r->addr);
	free(r->user);
	free(r->rule);
	free(r->orcpt);
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
	if (!r->addr || !r->rule || (user && !r->user)) {
		rcpt_free(r); /* all or nothing: the envelope is as it was */
		return -ENOMEM;
	}
	e->n_rcpts++;
	return 0;
}

void spool_env_pop_rcpt(struct spool_env *e)
{
	if (e->n_rcpts > 0)
		rcpt_free(&e->rcpts[--e->n_rcpts]);
}

static const struct {
	const char *name;
	unsigned bit;
} notify_kinds[] = {{"NEVER", SPOOL_NOTIFY_NEVER},
		    {"SUCCESS", SPOOL_NOTIFY_SUCCESS},
		    {"FAILURE", SPOOL_NOTIFY_FAILURE},
		    {"DELAY", SPOOL_NOTIFY_DELAY}};
#define N_NOTIFY (sizeof(notify_kinds) / sizeof(notify_kinds[0]))

static int notify_valid(unsigned n)
{
	return n < 16 && (!(n & SPOOL_NOTIFY_NEVER) || n == SPOOL_NOTIFY_NEVER);
}

const char *spool_notify_format(unsigned notify, char *buf, size_t len)
{
	size_t n = 0;
	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t k = 0; k < N_NOTIFY; k++) {
		if (!(notify & notify_kinds[k].bit))
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? "," : "", notify_kinds[k].name);
		if (w < 0 || (size_t)w >= len - n)
			break; /* len too small: the caller passes SPOOL_NOTIFY_TEXT_MAX */
		n += (size_t)w;
	}
	return buf;
}

int spool_notify_parse(const char *s, unsigned *notify)
{
	unsigned bits = 0;
	while (*s) {
		size_t n = strcspn(s, ","), k;
		for (k = 0; k < N_NOTIFY; k++)
			if (strlen(notify_kinds[k].name) == n &&
			    !strncmp(s, notify_kinds[k].name, n))
				break;
		if (k == N_NOTIFY || (bits & notify_kinds[k].bit) || (s[n] == ',' && !s[n + 1]))
			return -EINVAL;
		bits |= notify_kinds[k].bit;
		s += n + (s[n] == ',');
	}
	if (!bits || !notify_valid(bits))
		return -EINVAL;
	*notify = bits;
	return 0;
}

int spool_env_set_dsn(struct spool_env *e, int ret, const char *envid)
{
	if (ret < 0 || ret > SPOOL_RET_HDRS)
		return -EINVAL;
	e->ret = ret;
	free(e->envid);
	e->envid = envid && *envid ? dup_clean(envid) : NULL;
	return envid && *envid && !e->envid ? -ENOMEM : 0;
}

int spool_env_set_rcpt_dsn(struct spool_env *e, unsigned notify, const char *orcpt)
{
	if (e->n_rcpts == 0 || !notify_valid(notify))
		return -EINVAL;
	struct spool_rcpt *r = &e->rcpts[e->n_rcpts - 1];
	r->notify = notify;
	free(r->orcpt);
	r->orcpt = orcpt && *orcpt ? dup_clean(orcpt) : NULL;
	return orcpt && *orcpt && !r->orcpt ? -ENOMEM : 0;
}

void spool_env_clear(struct spool_env *e)
{
	for (size_t i = 0; i < e->n_rcpts; i++)
		rcpt_free(&e->rcpts[i]);
	free(e->rcpts);
	free(e->envid);
	free(e->auth);
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
	if (e->ret)
		fprintf(f, "ret %s\n", e->ret == SPOOL_RET_HDRS ? "HDRS" : "FULL");
	if (e->envid)
		fprintf(f, "envid %s\n", e->envid);
	if (e->auth)
		fprintf(f, "auth %s\n", e->auth);
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const struct spool_rcpt *r = &e->rcpts[i];
		char notify[SPOOL_NOTIFY_TEXT_MAX];
		fprintf(f, "rcpt %s\n", r->addr);
		if (r->user)
			fprintf(f, "user %s\n", r->user);
		fprintf(f, "rule %s\n", r->rule);
		if (r->notify)
			fprintf(f, "notify %s\n",
				spool_notify_format(r->notify, notify, sizeof(notify)));
		if (r->orcpt)
			fprintf(f, "orcpt %s\n", r->orcpt);
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

/* The optional DSN keys (RFC 3461 parameters); each at most once in its place. */
static int env_line_dsn(struct spool_env *e, struct spool_rcpt *last, const char *key,
			const char *v)
{
	if (!strcmp(key, "ret")) {
		if (e->ret)
			return -EINVAL;
		e->ret = !strcmp(v, "FULL")   ? SPOOL_RET_FULL
			 : !strcmp(v, "HDRS") ? SPOOL_RET_HDRS
					      : 0;
		return e->ret ? 0 : -EINVAL;
	}
	if (!strcmp(key, "envid"))
		return !e->envid && *v ? set_str(&e->envid, v) : -EINVAL;
	if (!strcmp(key, "auth"))
		return !e->auth && *v ? set_str(&e->auth, v) : -EINVAL;
	if (!strcmp(key, "notify"))
		return last && !last->notify ? spool_notify_parse(v, &last->notify) : -EINVAL;
	if (!strcmp(key, "orcpt"))
		return last && !last->orcpt && *v ? set_str(&last->orcpt, v) : -EINVAL;
	return -EINVAL;
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
	return env_line_dsn(e, last, key, v);
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
