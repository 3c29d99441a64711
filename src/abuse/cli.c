/* cli.c — `relayguard abuse list|show IP|unban IP [-c FILE] [--json]`: the store read and
 * changed directly (the SQLite file or Redis the config names), with a private event loop. */
#include "abuse.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_CONNECT_TRIES 30 /* x 100 ms: how long a Redis store may take to connect */

struct cli_wait {
	int done;
	struct abuse_reply r;
	struct abuse_entry *entries; /* a copy (the store's is freed after the callback) */
};

static void cli_cb(void *arg, const struct abuse_reply *r)
{
	struct cli_wait *w = arg;
	w->r = *r;
	w->entries = NULL;
	if (r->n_entries && (w->entries = malloc(r->n_entries * sizeof(*w->entries))))
		memcpy(w->entries, r->entries, r->n_entries * sizeof(*w->entries));
	else
		w->r.n_entries = 0;
	w->done = 1;
}

/* One request, waited for; a Redis store still connecting is given a moment. */
static void cli_run(struct abuse_store *st, int list, const char *key, int64_t now,
		    struct cli_wait *w)
{
	for (int i = 0; i < CLI_CONNECT_TRIES; i++) {
		memset(w, 0, sizeof(*w));
		if (list)
			abuse_list(st, key, ABUSE_LIST_MAX, now, cli_cb, w);
		else
			abuse_del(st, key, now, cli_cb, w);
		while (!w->done)
			event_base_loop(st->base, EVLOOP_ONCE);
		if (w->r.status != ABUSE_ERROR || !strstr(w->r.error, "not connected"))
			return;
		struct timeval tv = {0, 100000};
		event_base_loopexit(st->base, &tv);
		event_base_dispatch(st->base);
	}
}

static void print_time(const char *name, int64_t t)
{
	char buf[32];
	struct tm tm;
	time_t tt = (time_t)t;
	if (t <= 0 || t == INT64_MAX || !gmtime_r(&tt, &tm))
		printf(" %s=%s", name, t <= 0 ? "never" : "none");
	else if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		printf(" %s=%s", name, buf);
}

/* "gl:NET|t|SENDER|RCPT" → kind, net, sender, rcpt (pointers into copy). */
static const char *entry_split(char *copy, const char **net, const char **sender, const char **rcpt)
{
	*net = *sender = *rcpt = "";
	if (strncmp(copy, "gl:", 3) != 0)
		return "other";
	char *bar = strchr(copy + 3, '|');
	if (!bar)
		return "other";
	*bar = '\0';
	*net = copy + 3;
	if (!strcmp(bar + 1, "w"))
		return "whitelisted";
	if (!strcmp(bar + 1, "p"))
		return "passes";
	if (strncmp(bar + 1, "t|", 2) != 0)
		return "other";
	char *s = bar + 3, *r = strrchr(s, '|');
	if (!r)
		return "other";
	*r = '\0';
	abuse_key_unescape(s);
	abuse_key_unescape(r + 1);
	*sender = s;
	*rcpt = r + 1;
	return "triplet";
}

static void print_entry_text(const struct abuse_entry *e)
{
	char copy[ABUSE_KEY_MAX];
	const char *net, *sender, *rcpt;
	util_strlcpy(copy, e->key, sizeof(copy));
	const char *kind = entry_split(copy, &net, &sender, &rcpt);
	struct greylist_record rec;
	if (!strcmp(kind, "triplet") && greylist_record_parse(e->value, &rec) == 0) {
		printf("triplet net=%s sender=<%s> rcpt=<%s>", net, sender, rcpt);
		print_time("first", rec.first);
		print_time("passed", rec.passed);
	} else if (!strcmp(kind, "whitelisted")) {
		printf("whitelisted net=%s", net);
		print_time("since", strtoll(e->value, NULL, 10));
	} else if (!strncmp(e->key, "rl:", 3) && strstr(e->key, "|tripped")) {
		printf("tripped key=%s since/count=%s", e->key, e->value);
	} else if (!strncmp(e->key, "rl:", 3)) {
		printf("rate key=%s count=%s", e->key, e->value);
	} else if (!strcmp(kind, "passes")) {
		printf("passes net=%s count=%s", net, e->value);
	} else {
		printf("entry key=%s value=%s", e->key, e->value);
	}
	print_time("expires", e->expires);
	putchar('\n');
}

static void print_entry_json(const struct abuse_entry *e, int first)
{
	char copy[ABUSE_KEY_MAX];
	const char *net, *sender, *rcpt;
	util_strlcpy(copy, e->key, sizeof(copy));
	const char *kind = entry_split(copy, &net, &sender, &rcpt);
	if (!strncmp(e->key, "rl:", 3))
		kind = strstr(e->key, "|tripped") ? "tripped" : "rate";
	printf("%s\n  {\"kind\": \"%s\", \"key\": ", first ? "" : ",", kind);
	util_json_print(stdout, e->key);
	printf(", \"net\": ");
	util_json_print(stdout, net);
	printf(", \"sender\": ");
	util_json_print(stdout, sender);
	printf(", \"rcpt\": ");
	util_json_print(stdout, rcpt);
	printf(", \"value\": ");
	util_json_print(stdout, e->value);
	printf(", \"expires\": %lld}", (long long)(e->expires == INT64_MAX ? 0 : e->expires));
}

static void print_entries(const struct cli_wait *w, int json)
{
	if (json)
		printf("[");
	for (size_t i = 0; i < w->r.n_entries; i++)
		json ? print_entry_json(&w->entries[i], i == 0) : print_entry_text(&w->entries[i]);
	if (json)
		printf("%s]\n", w->r.n_entries ? "\n" : "");
}

/* The prefixes of what show/unban ARG name: an IP's greylist network "gl:NET|" and its rate
 * counters "rl:ip:IP|" (the address as the server writes it), or a login's "rl:u:LOGIN|".
 * Returns how many (1 or 2). */
static int arg_prefixes(const struct conf *c, const char *arg, char out[2][ABUSE_KEY_MAX])
{
	uint8_t a[16] = {0};
	char net[GREYLIST_NET_MAX], text[INET6_ADDRSTRLEN];
	int v4 = inet_pton(AF_INET, arg, a + 12) == 1;
	if (v4)
		a[10] = a[11] = 0xff;
	else if (inet_pton(AF_INET6, arg, a) != 1)
		return ratelimit_prefix_user(arg, out[0], ABUSE_KEY_MAX) < 0 ? -1 : 1;
	greylist_net(a, c->greylist.netmask4, c->greylist.netmask6, net, sizeof(net));
	greylist_key_net(net, 0, out[0], ABUSE_KEY_MAX);
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? (void *)(a + 12) : (void *)a, text,
		       sizeof(text)))
		util_strlcpy(text, arg, sizeof(text));
	return ratelimit_prefix_ip(text, out[1], ABUSE_KEY_MAX) < 0 ? -1 : 2;
}

static int cli_usage(void)
{
	fprintf(stderr, "usage: relayguard abuse list|show IP|LOGIN|unban IP|LOGIN [-c FILE] "
			"[--json]\n");
	return 2;
}

/* Every entry under any of the prefixes, into one list (w->entries, caller frees). */
static int cli_collect(struct abuse_store *st, char prefixes[][ABUSE_KEY_MAX], int n, int64_t now,
		       const char *cmd, struct cli_wait *all)
{
	memset(all, 0, sizeof(*all));
	for (int k = 0; k < n; k++) {
		struct cli_wait w;
		cli_run(st, 1, prefixes[k], now, &w);
		if (w.r.status == ABUSE_ERROR) {
			fprintf(stderr, "relayguard: abuse %s: %s\n", cmd, w.r.error);
			free(all->entries);
			return -1;
		}
		size_t total = all->r.n_entries + w.r.n_entries;
		struct abuse_entry *e =
		    total ? realloc(all->entries, total * sizeof(*e)) : all->entries;
		if (total && !e) {
			free(w.entries);
			free(all->entries);
			fprintf(stderr, "relayguard: abuse %s: out of memory\n", cmd);
			return -1;
		}
		if (w.r.n_entries)
			memcpy(e + all->r.n_entries, w.entries, w.r.n_entries * sizeof(*e));
		all->entries = e;
		all->r.n_entries = total;
		free(w.entries);
	}
	return 0;
}

static int cli_act(struct abuse_store *st, const struct conf *c, const char *cmd,
		   char prefixes[][ABUSE_KEY_MAX], int n, const char *what, int json)
{
	struct cli_wait w;
	int64_t now = abuse_now(c);
	if (cli_collect(st, prefixes, n, now, cmd, &w) < 0)
		return 1;
	if (strcmp(cmd, "unban") != 0) {
		print_entries(&w, json);
		free(w.entries);
		return 0;
	}
	size_t removed = 0;
	int rc = 0;
	for (size_t i = 0; i < w.r.n_entries && rc == 0; i++) {
		struct cli_wait d;
		cli_run(st, 0, w.entries[i].key, now, &d);
		if (d.r.status == ABUSE_ERROR) {
			fprintf(stderr, "relayguard: abuse unban: %s\n", d.r.error);
			rc = 1;
		}
		removed += d.r.status == ABUSE_OK;
	}
	printf("removed %zu entries for %s\n", removed, what);
	free(w.entries);
	return rc;
}

/* Open the store the config names and run cmd over the prefixes. */
static int cli_with_store(const struct conf *c, const char *cmd, char prefixes[][ABUSE_KEY_MAX],
			  int n, const char *what, int json)
{
	char err[1024];
	struct event_base *base = event_base_new();
	struct abuse_store *st = base ? abuse_store_open(c, 0, base, err, sizeof(err)) : NULL;
	int rc = 1;
	if (st)
		rc = cli_act(st, c, cmd, prefixes, n, what, json);
	else if (base && c->abuse_store.backend == CONF_ABUSE_SQLITE &&
		 access(c->abuse_store.path, F_OK) < 0 && errno == ENOENT)
		rc = strcmp(cmd, "unban") ? (print_entries(&(struct cli_wait){0}, json), 0)
					  : (printf("removed 0 entries for %s\n", what), 0);
	else
		fprintf(stderr, "relayguard: %s\n", base ? err : "cannot create an event loop");
	abuse_store_free(st);
	if (base)
		event_base_free(base);
	return rc;
}

int abuse_cli(int argc, char **argv, const char *default_conf)
{
	const char *conf_path = default_conf, *cmd = NULL, *ip = NULL;
	int json = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf_path = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!cmd)
			cmd = argv[i];
		else if (!ip)
			ip = argv[i];
		else
			return cli_usage();
	}
	int wants_ip = cmd && (!strcmp(cmd, "show") || !strcmp(cmd, "unban"));
	if (!cmd || (strcmp(cmd, "list") != 0 && !wants_ip) || (wants_ip != (ip != NULL)))
		return cli_usage();
	char err[1024], prefixes[2][ABUSE_KEY_MAX] = {"gl:", "rl:"};
	struct conf *c = NULL;
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 1;
	}
	int n = ip ? arg_prefixes(c, ip, prefixes) : 2;
	if (n < 0) {
		fprintf(stderr, "relayguard: %s: too long\n", ip);
		conf_free(c);
		return 1;
	}
	int rc = cli_with_store(c, cmd, prefixes, n, ip ? ip : "everything", json);
	conf_free(c);
	return rc;
}

int abuse_user_unlock(const char *login, const char *conf_path)
{
	char err[1024], prefixes[1][ABUSE_KEY_MAX];
	struct conf *c = NULL;
	if (conf_load(conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 1;
	}
	if (ratelimit_prefix_user(login, prefixes[0], ABUSE_KEY_MAX) < 0) {
		fprintf(stderr, "relayguard: login too long\n");
		conf_free(c);
		return 1;
	}
	int rc = cli_with_store(c, "unban", prefixes, 1, login, 0);
	conf_free(c);
	return rc;
}
