/* cli.c — `relayguard changelog`: list the records, show one record's diff, and verify the
 * whole chain on every invocation (the first broken record is reported, exit 3). */
#include "changelog.h"
#include "changelog_int.h"

#include "../conf/conf.h"
#include "../util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
	const char *conf;
	int json, verify;
	unsigned long last; /* -n: the last N records (0: all) */
	unsigned long diff; /* --diff ID (0: none) */
};

struct show {
	const struct opts *o;
	unsigned long total, from; /* print records with id >= from */
	unsigned long shown;
	struct changelog_record found; /* --diff: the record, its diff taken over */
	int have;
};

static int parse_num(const char *s, unsigned long *v)
{
	char *end;
	errno = 0;
	*v = s && *s >= '0' && *s <= '9' ? strtoul(s, &end, 10) : 0;
	return s && *s >= '0' && *s <= '9' && !*end && !errno && *v > 0 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, const char *def, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->conf = def;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--json"))
			o->json = 1;
		else if (!strcmp(a, "--verify"))
			o->verify = 1;
		else if (!strcmp(a, "-c") && v && ++i)
			o->conf = v;
		else if (!strcmp(a, "-n") && parse_num(v, &o->last) == 0)
			i++;
		else if (!strcmp(a, "--diff") && parse_num(v, &o->diff) == 0)
			i++;
		else
			return -1;
	}
	return 0;
}

static void who_text(const struct changelog_who *w, char *out, size_t len)
{
	if (w->uid < 0)
		snprintf(out, len, "%s", w->user);
	else
		snprintf(out, len, "%s (%ld)%s%s", w->user, w->uid, w->sudo_user[0] ? " sudo:" : "",
			 w->sudo_user);
}

static void change_text(const struct changelog_record *r, char *out, size_t len)
{
	unsigned added, removed;
	if (r->unchanged) {
		snprintf(out, len, "unchanged");
		return;
	}
	changelog_diff_stat(r->diff, r->diff_len, &added, &removed);
	snprintf(out, len, "+%u -%u", added, removed);
}

static void print_json_record(const struct changelog_record *r, int with_diff)
{
	char change[32];
	change_text(r, change, sizeof(change));
	printf("{\"id\":%lu,\"time\":\"%s\",\"event\":\"%s\",\"config\":", r->id, r->time,
	       r->event);
	util_json_print(stdout, r->config);
	printf(",\"sha256\":\"%s\",\"uid\":%ld,\"user\":", r->sha256, r->who.uid);
	util_json_print(stdout, r->who.user);
	printf(",\"sudo_user\":");
	util_json_print(stdout, r->who.sudo_user);
	printf(",\"verdict\":");
	util_json_print(stdout, r->verdict);
	printf(",\"unchanged\":%s,\"change\":\"%s\",\"prev\":\"%s\",\"hash\":\"%s\"",
	       r->unchanged ? "true" : "false", change, r->prev, r->hash);
	if (with_diff) {
		printf(",\"diff\":");
		if (r->diff)
			util_json_print(stdout, r->diff);
		else
			printf("null");
	}
	printf("}");
}

static int on_record(void *arg, const struct changelog_record *r)
{
	struct show *s = arg;
	char who[160], change[32];
	if (s->o->diff) {
		if (r->id == s->o->diff && !s->have) {
			s->found = *r;
			s->found.diff = r->diff ? strdup(r->diff) : NULL;
			s->have = r->diff == NULL || s->found.diff != NULL;
		}
		return 0;
	}
	if (s->o->verify || r->id < s->from)
		return 0;
	if (s->o->json) {
		printf("%s\n    ", s->shown ? "," : "");
		print_json_record(r, 0);
		s->shown++;
		return 0;
	}
	if (s->shown++ == 0)
		printf("%-4s %-20s %-6s %-24s %-12s %-10s %s\n", "ID", "TIME", "EVENT", "WHO",
		       "SHA256", "CHANGE", "VERDICT");
	who_text(&r->who, who, sizeof(who));
	change_text(r, change, sizeof(change));
	printf("%-4lu %-20s %-6s %-24s %.12s %-10s %s\n", r->id, r->time, r->event, who, r->sha256,
	       change, r->verdict);
	return 0;
}

/* The log under the config's state-dir, read whole ("" when there is none yet). The
 * state-dir is peeked at, not parsed: the history must be readable while the file is broken. */
static int load_log(const char *conf_path, char *logpath, size_t len, char **data, size_t *n)
{
	char *text, dir[1024];
	size_t textlen;
	int rc = changelog_read_file(conf_path, CONF_MAX_SIZE, &text, &textlen);
	if (rc < 0) {
		fprintf(stderr, "relayguard: %s: cannot read: %s\n", conf_path, strerror(-rc));
		return -1;
	}
	rc = conf_peek_state_dir(text, textlen, dir, sizeof(dir));
	free(text);
	if (rc < 0) {
		fprintf(stderr, "relayguard: %s: state-dir path too long\n", conf_path);
		return -1;
	}
	snprintf(logpath, len, "%s/" CHANGELOG_FILE, dir);
	rc = changelog_read_file(logpath, CHANGELOG_FILE_MAX, data, n);
	if (rc == -ENOENT && (*data = calloc(1, 1))) {
		*n = 0;
		return 0;
	}
	if (rc < 0)
		fprintf(stderr, "relayguard: %s: cannot read: %s\n", logpath,
			rc == -EFBIG ? "larger than 256 MiB" : strerror(-rc));
	return rc < 0 ? -1 : 0;
}

static void finish_json_list(const char *logpath, unsigned long total, unsigned long bad,
			     const char *why)
{
	printf("%s],\"records_verified\":%lu,\"verified\":%s,\"broken\":", total ? "\n  " : "",
	       total, bad ? "false" : "true");
	if (bad) {
		printf("{\"record\":%lu,\"reason\":", bad);
		util_json_print(stdout, why);
		printf("}");
	} else {
		printf("null");
	}
	printf(",\"log\":");
	util_json_print(stdout, logpath);
	printf("}\n");
}

static void print_json_verify(const char *logpath, unsigned long total, unsigned long bad)
{
	printf("{\"log\":");
	util_json_print(stdout, logpath);
	printf(",\"records_verified\":%lu,\"verified\":%s}\n", total, bad ? "false" : "true");
}

/* --diff ID: 0 shown, 1 no such record. */
static int show_diff(const struct show *s, const char *logpath)
{
	const struct changelog_record *r = &s->found;
	if (!s->have) {
		fprintf(stderr, "relayguard: %s: no verified record %lu\n", logpath, s->o->diff);
		return 1;
	}
	if (s->o->json) {
		print_json_record(r, 1);
		printf("\n");
	} else if (r->unchanged) {
		printf("record %lu (%s, %s): config unchanged, sha256 %s\n", r->id, r->event,
		       r->time, r->sha256);
	} else {
		fputs(r->diff, stdout);
	}
	return 0;
}

int changelog_cli(int argc, char **argv, const char *default_conf)
{
	struct opts o;
	char logpath[1200], why[256];
	char *data;
	size_t len;
	unsigned long bad;
	if (parse_opts(argc, argv, default_conf, &o) < 0) {
		fprintf(stderr, "usage: relayguard changelog [-c FILE] [--json] [-n N] [--diff ID] "
				"[--verify]\n");
		return 2;
	}
	if (load_log(o.conf, logpath, sizeof(logpath), &data, &len) < 0)
		return 2;
	unsigned long total = changelog_verify(data, len, NULL, NULL, &bad, why, sizeof(why));
	struct show s = {&o, total, o.last && total > o.last ? total - o.last + 1 : 1, 0};
	if (o.json && !o.diff && !o.verify)
		printf("{\"records\":[");
	changelog_verify(data, len, on_record, &s, &bad, why, sizeof(why));
	free(data);
	int rc = 0;
	if (o.diff)
		rc = show_diff(&s, logpath);
	else if (o.json && !o.verify)
		finish_json_list(logpath, total, bad, why);
	else if (o.json)
		print_json_verify(logpath, total, bad);
	else if (!bad)
		printf("%s: %lu record%s, chain verified\n", logpath, total, total == 1 ? "" : "s");
	changelog_record_clear(&s.found);
	if (bad) {
		fprintf(stderr, "%s:record %lu: %s\n", logpath, bad, why);
		return 3;
	}
	return rc;
}
