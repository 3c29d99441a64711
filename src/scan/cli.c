/* cli.c — `relayguard scan`, `relayguard list request-delist IP` and `relayguard dnsbl` with
 * scheduled rescans (scan-rescan yes: a thread rescans the listed hosts every
 * scan-rescan-interval while the DNS server runs). */
#include "scan_int.h"

#include "../privdrop/privdrop.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct scan_args {
	const char *conf, *opt_out, *source, *ports;
	const char **targets, **files;
	size_t n_targets, n_files;
	unsigned long concurrency, rate, timeout, max_hosts;
	uint64_t min_interval;
	int allow_reserved, json, dry_run, rescan_listed;
};

static int scan_usage(FILE *out, int status)
{
	fprintf(out,
		"usage: relayguard scan [-c FILE] TARGET... [-f FILE] [--ports 25,587,465]\n"
		"         [--concurrency N] [--rate N] [--timeout S] [--min-interval DUR]\n"
		"         [--max-hosts N] [--opt-out FILE] [--allow-reserved] [--source ADDR]\n"
		"         [--json] [--dry-run]\n"
		"       relayguard scan [-c FILE] --rescan-listed [--concurrency N] [--rate N] "
		"[--json]\n"
		"TARGET: IP, CIDR (IPv4 or IPv6) or host name. Exit: 0 none open, 1 open relay "
		"found, 2 errors.\n");
	return status;
}

static int num_arg(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* One option at argv[*i]: 1 consumed, 0 not an option, -1 bad. */
static int scan_option(struct scan_args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	int flag = 1;
	if (!strcmp(o, "--allow-reserved"))
		a->allow_reserved = 1;
	else if (!strcmp(o, "--json"))
		a->json = 1;
	else if (!strcmp(o, "--dry-run"))
		a->dry_run = 1;
	else if (!strcmp(o, "--rescan-listed"))
		a->rescan_listed = 1;
	else
		flag = 0;
	if (flag)
		return 1;
	if (o[0] != '-')
		return 0;
	if (!v)
		return -1;
	++*i;
	if (!strcmp(o, "-c"))
		a->conf = v;
	else if (!strcmp(o, "-f"))
		a->files[a->n_files++] = v;
	else if (!strcmp(o, "--opt-out"))
		a->opt_out = v;
	else if (!strcmp(o, "--source"))
		a->source = v;
	else if (!strcmp(o, "--ports"))
		a->ports = v;
	else if (!strcmp(o, "--min-interval"))
		return util_parse_duration(v, &a->min_interval) < 0 ? -1 : 1;
	else if (!strcmp(o, "--concurrency"))
		return num_arg(v, 1024, &a->concurrency) < 0 || !a->concurrency ? -1 : 1;
	else if (!strcmp(o, "--rate"))
		return num_arg(v, 100000, &a->rate) < 0 ? -1 : 1;
	else if (!strcmp(o, "--timeout"))
		return num_arg(v, 600, &a->timeout) < 0 || !a->timeout ? -1 : 1;
	else if (!strcmp(o, "--max-hosts"))
		return num_arg(v, 1UL << 24, &a->max_hosts) < 0 || !a->max_hosts ? -1 : 1;
	else
		return -1;
	return 1;
}

static int scan_parse_args(int argc, char **argv, struct scan_args *a)
{
	a->targets = calloc((size_t)argc + 1, sizeof(*a->targets));
	a->files = calloc((size_t)argc + 1, sizeof(*a->files));
	if (!a->targets || !a->files)
		return -1;
	a->concurrency = 16, a->rate = 10, a->min_interval = 86400, a->max_hosts = SCAN_MAX_HOSTS;
	for (int i = 0; i < argc; i++) {
		int rc = scan_option(a, argc, argv, &i);
		if (rc < 0) {
			fprintf(stderr, "scan: bad option or value: %s\n", argv[i]);
			return -1;
		}
		if (rc == 0)
			a->targets[a->n_targets++] = argv[i];
	}
	return a->rescan_listed || a->n_targets || a->n_files ? 0 : -1;
}

/* Targets from -f FILE: one a line, '#' comments. */
static int targets_file(const char *path, struct scan_addrs *l, size_t max, char *err,
			size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "#\r\n")] = '\0';
		char *t = line + strspn(line, " \t");
		t[strcspn(t, " \t")] = '\0';
		if (*t)
			rc = scan_target_add(l, t, max, err, errlen);
	}
	fclose(f);
	return rc;
}

/* Started as root, the scanner and the delisting rescan give the store to the user and become
 * it, with no capability, before the first connection: what they read comes from hostile
 * servers. (Files named on the command line are read before, as root.) 0, or -1 with err. */
static int scan_drop_root(const struct conf *c, const char *who, char *err, size_t errlen)
{
	struct privdrop pd;
	struct privdrop_path store = {"blocklist-database", conf_blocklist_db(c), PRIVDROP_DB};
	if (geteuid() != 0)
		return 0;
	if (privdrop_init(&pd, who, c->run_user, c->path, err, errlen) < 0)
		return -1;
	return privdrop_store_daemon(&pd, &store, c->path, err, errlen);
}

/* The targets named on the command line and in -f files (--rescan-listed takes its own from
 * the store, after the drop). */
static int scan_targets(const struct scan_args *a, struct scan_addrs *l, char *err, size_t errlen)
{
	for (size_t i = 0; i < a->n_targets; i++)
		if (scan_target_add(l, a->targets[i], a->max_hosts, err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < a->n_files; i++)
		if (targets_file(a->files[i], l, a->max_hosts, err, errlen) < 0)
			return -1;
	return 0;
}

static int scan_opts_make(const struct scan_args *a, const struct conf *c, struct scan_opts *o,
			  uint16_t *ports, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->c = c;
	scan_settings_from_conf(c, &o->set);
	if (a->ports) {
		if (scan_ports_parse(a->ports, ports, CONF_SCAN_PORTS_MAX, &o->set.n_ports) < 0)
			return snprintf(err, errlen, "bad --ports %.40s", a->ports), -1;
		o->set.ports = ports;
	}
	if (a->timeout) {
		o->set.timeout = (unsigned)a->timeout;
		o->set.host_timeout = o->set.timeout * 12 > 60 ? o->set.timeout * 12 : 60;
	}
	if (a->source)
		o->set.source = a->source;
	o->concurrency = (unsigned)a->concurrency;
	o->rate = (double)a->rate;
	o->min_interval = a->rescan_listed ? 0 : (int64_t)a->min_interval;
	o->allow_reserved = a->allow_reserved || c->scan_allow_reserved;
	o->json = a->json, o->dry_run = a->dry_run;
	o->who = a->rescan_listed ? "scan:rescan" : "scan";
	if (c->scan_opt_out &&
	    scan_optout_load(c->scan_opt_out, &o->opt_out, &o->n_opt_out, err, errlen) < 0)
		return -1;
	if (a->opt_out && scan_optout_load(a->opt_out, &o->opt_out, &o->n_opt_out, err, errlen) < 0)
		return -1;
	return 0;
}

static void print_summary(const struct scan_opts *o, const struct scan_stats *s)
{
	double per_min = s->seconds > 0 ? (double)s->scanned * 60 / s->seconds : 0;
	if (o->json)
		printf("{\"summary\":true,\"targets\":%zu,\"scanned\":%zu,\"open\":%zu,"
		       "\"clean\":%zu,\"untestable\":%zu,\"skipped\":%zu,\"listed\":%zu,"
		       "\"expired\":%zu,\"errors\":%zu,\"connections\":%lu,\"seconds\":%.3f,"
		       "\"hosts_per_min\":%.1f}\n",
		       s->targets, s->scanned, s->open, s->clean, s->untestable, s->skipped,
		       s->listed, s->expired, s->errors, s->connections, s->seconds, per_min);
	else
		printf("scan: %zu targets, %zu scanned in %.1fs (%.1f hosts/min, %lu connections): "
		       "%zu open, %zu clean, %zu untestable, %zu skipped; %zu listed, %zu expired"
		       "%s\n",
		       s->targets, s->scanned, s->seconds, per_min, s->connections, s->open,
		       s->clean, s->untestable, s->skipped, s->listed, s->expired,
		       s->errors ? ", store errors" : "");
}

int scan_cli_scan(int argc, char **argv, const char *default_conf)
{
	struct scan_args a = {default_conf};
	struct conf *c = NULL;
	struct scan_addrs l = {0};
	struct scan_opts o = {0};
	struct scan_stats st;
	uint16_t ports[CONF_SCAN_PORTS_MAX];
	char err[512] = "";
	int rc = 2;
	if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")))
		return scan_usage(stdout, 0);
	if (scan_parse_args(argc, argv, &a) < 0) {
		free(a.targets), free(a.files);
		return scan_usage(stderr, 2);
	}
	if (conf_load(a.conf, &c, err, sizeof(err)) == 0 &&
	    scan_opts_make(&a, c, &o, ports, err, sizeof(err)) == 0 &&
	    scan_targets(&a, &l, err, sizeof(err)) == 0 &&
	    scan_drop_root(c, "scan", err, sizeof(err)) == 0 &&
	    (!a.rescan_listed ||
	     scan_listed_due(c, c->scan_rescan_interval, &l, err, sizeof(err)) == 0) &&
	    scan_run(&o, &l, &st, err, sizeof(err)) == 0) {
		print_summary(&o, &st);
		rc = st.errors ? 2 : st.open ? 1 : 0;
	} else
		fprintf(stderr, "scan: %s\n", err);
	scan_addrs_free(&l);
	free(o.opt_out), free(a.targets), free(a.files);
	conf_free(c);
	return rc;
}

/* ---- relayguard list request-delist IP [-c FILE] [--json] ---- */
int scan_cli_request_delist(int argc, char **argv, const char *default_conf)
{
	const char *path = default_conf, *ip = NULL;
	int json = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] != '-' && !ip)
			ip = argv[i];
		else
			ip = NULL, i = argc;
	}
	if (!ip) {
		fprintf(stderr, "usage: relayguard list request-delist IP [-c FILE] [--json]\n");
		return 2;
	}
	struct conf *c = NULL;
	struct scan_delist_result r;
	char err[512];
	if (conf_load(path, &c, err, sizeof(err)) < 0 ||
	    scan_drop_root(c, "request-delist", err, sizeof(err)) < 0 ||
	    scan_request_delist(c, ip, "cli", &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "request-delist: %s\n", err);
		conf_free(c);
		return 2;
	}
	if (json) {
		printf("{\"ip\":");
		util_json_print(stdout, ip);
		printf(",\"status\":\"%s\",\"detail\":", scan_delist_status_name(r.status));
		util_json_print(stdout, r.detail);
		printf(",\"evidence\":%s}\n", r.evidence ? r.evidence : "null");
	} else
		printf("%s: %s\n", scan_delist_status_name(r.status), r.detail);
	free(r.evidence);
	conf_free(c);
	return r.status == SCAN_DELISTED ? 0 : 1;
}
