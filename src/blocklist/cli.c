/* cli.c — `relayguard list add|del|show|export` on the store the config names, and
 * `relayguard dnsbl`. Manual changes need a reason; every change lands in the history with who
 * made it ("cli:USER"). */
#include "blocklist.h"

#include "../conf/conf.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct list_args {
	const char *conf, *reason, *zone, *ip6;
	unsigned code;
	int json;
	const char *pos[4];
	int n_pos;
};

static int list_usage(FILE *out, int status)
{
	fprintf(out, "usage: relayguard list add IP|CIDR --reason TEXT [--code N] [-c FILE]\n"
		     "       relayguard list del IP|CIDR --reason TEXT [-c FILE]\n"
		     "       relayguard list show IP|CIDR [--json] [-c FILE]\n"
		     "       relayguard list export rbldnsd FILE [--ip6 FILE6] [-c FILE]\n"
		     "       relayguard list export bind FILE [--zone NAME] [-c FILE]\n"
		     "       relayguard list request-delist IP [--json] [-c FILE]\n");
	return status;
}

static int list_parse_args(int argc, char **argv, struct list_args *a)
{
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i];
		int has = i + 1 < argc;
		if (!strcmp(o, "-c") && has)
			a->conf = argv[++i];
		else if (!strcmp(o, "--reason") && has)
			a->reason = argv[++i];
		else if (!strcmp(o, "--zone") && has)
			a->zone = argv[++i];
		else if (!strcmp(o, "--ip6") && has)
			a->ip6 = argv[++i];
		else if (!strcmp(o, "--code") && has) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || v < BLOCKLIST_CODE_MIN || v > BLOCKLIST_CODE_MAX) {
				fprintf(stderr, "list: --code must be %d..%d\n", BLOCKLIST_CODE_MIN,
					BLOCKLIST_CODE_MAX);
				return -1;
			}
			a->code = (unsigned)v;
		} else if (!strcmp(o, "--json"))
			a->json = 1;
		else if (o[0] == '-' || a->n_pos == 4)
			return -1;
		else
			a->pos[a->n_pos++] = o;
	}
	return a->n_pos >= 1 ? 0 : -1;
}

static void who_am_i(char *out, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	snprintf(out, len, "cli:%s", pw && pw->pw_name ? pw->pw_name : "?");
}

static int reason_ok(const char *r)
{
	if (!r || !*r || strlen(r) >= BLOCKLIST_TXT_MAX)
		return 0;
	for (; *r; r++)
		if ((unsigned char)*r < 0x20 || *r == 0x7f)
			return 0;
	return 1;
}

static void print_time(const char *name, int64_t t, int json)
{
	char buf[32] = "never";
	struct tm tm;
	time_t tt = (time_t)t;
	if (t > 0 && gmtime_r(&tt, &tm))
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (json)
		printf(",\"%s\":%lld", name, (long long)t);
	else
		printf("%s: %s\n", name, buf);
}

static int print_change(void *arg, const struct blocklist_change *c)
{
	int *json = arg, first = json[1]++ == 0;
	if (json[0]) {
		printf("%s{\"time\":%lld,\"state\":\"%s\",\"who\":", first ? "" : ",",
		       (long long)c->time, blocklist_state_name(c->state));
		util_json_print(stdout, c->who);
		printf(",\"why\":");
		util_json_print(stdout, c->why);
		printf("}");
		return 0;
	}
	char t[32] = "?";
	struct tm tm;
	time_t tt = (time_t)c->time;
	if (gmtime_r(&tt, &tm))
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("  %s %s by %s: %s\n", t, blocklist_state_name(c->state), c->who, c->why);
	return 0;
}

static void print_entry(struct blocklist *b, const struct blocklist_entry *e, int json)
{
	int hs[2] = {json, 0};
	if (json) {
		printf("{\"listed\":%s,\"net\":\"%s\",\"state\":\"%s\",\"code\":%u,\"txt\":",
		       e->state == BLOCKLIST_LISTED ? "true" : "false", e->net_text,
		       blocklist_state_name(e->state), e->code);
		util_json_print(stdout, e->txt);
	} else
		printf("net: %s\nstate: %s\nanswer: 127.0.0.%u\nreason: %s\n", e->net_text,
		       blocklist_state_name(e->state), e->code, e->txt);
	print_time("first_seen", e->first_seen, json);
	print_time("last_seen", e->last_seen, json);
	print_time("last_clean", e->last_clean, json);
	if (json)
		printf(",\"evidence\":%s,\"history\":[", e->evidence ? e->evidence : "null");
	else
		printf("evidence: %s\nhistory:\n", e->evidence ? e->evidence : "none");
	blocklist_history(b, &e->net, print_change, hs);
	if (json)
		printf("]}\n");
}

/* show: the most specific listed entry holding an address, else the exact entry. */
static int list_show(struct blocklist *b, const struct cidr *net, int json)
{
	struct blocklist_entry e;
	int rc = net->prefix == 128 ? blocklist_lookup(b, net->addr, &e) : 1;
	if (rc == 1)
		rc = blocklist_get(b, net, &e);
	if (rc < 0) {
		fprintf(stderr, "list show: cannot read the store\n");
		return 1;
	}
	if (rc == 1) {
		char text[BLOCKLIST_NET_MAX];
		cidr_format(net, text, sizeof(text));
		if (json)
			printf("{\"listed\":false,\"net\":\"%s\"}\n", text);
		else
			printf("%s: not listed\n", text);
		return 1;
	}
	print_entry(b, &e, json);
	blocklist_entry_clear(&e);
	return e.state == BLOCKLIST_LISTED ? 0 : 1;
}

static int list_export(struct blocklist *b, const struct conf *c, const struct list_args *a,
		       char *err, size_t errlen)
{
	if (a->n_pos != 3)
		return list_usage(stderr, 2);
	const char *file = a->pos[2];
	if (!strcmp(a->pos[1], "rbldnsd")) {
		char six[4096];
		snprintf(six, sizeof(six), "%s.ip6", file);
		return blocklist_export_rbldnsd(b, file, a->ip6 ? a->ip6 : six, c->dnsbl_url, err,
						errlen) < 0;
	}
	if (strcmp(a->pos[1], "bind"))
		return list_usage(stderr, 2);
	char hostmaster[300];
	const char *zone = a->zone ? a->zone : c->dnsbl_zone;
	if (!zone) {
		snprintf(err, errlen, "list export bind: no zone (--zone NAME or blocklist-zone)");
		return 1;
	}
	snprintf(hostmaster, sizeof(hostmaster), "hostmaster.%s", zone);
	struct blocklist_zone z = {zone,
				   c->dnsbl_nameserver ? c->dnsbl_nameserver : c->hostname,
				   hostmaster,
				   c->dnsbl_url,
				   c->dnsbl_ttl ? c->dnsbl_ttl : CONF_DEFAULT_DNSBL_TTL,
				   (uint32_t)time(NULL)};
	return blocklist_export_bind(b, &z, file, err, errlen) < 0;
}

static int list_change(struct blocklist *b, const struct list_args *a, char *err, size_t errlen)
{
	struct cidr net;
	char who[BLOCKLIST_WHO_MAX];
	if (a->n_pos != 2 || cidr_parse(a->pos[1], &net) < 0) {
		fprintf(stderr, "list %s: expected an IP or CIDR (host bits zero)\n", a->pos[0]);
		return 2;
	}
	if (!reason_ok(a->reason)) {
		fprintf(stderr, "list %s: --reason TEXT is required (1..%d printable bytes)\n",
			a->pos[0], BLOCKLIST_TXT_MAX - 1);
		return 2;
	}
	who_am_i(who, sizeof(who));
	int64_t now = (int64_t)time(NULL);
	if (!strcmp(a->pos[0], "add"))
		return blocklist_list(b, &net, a->code ? a->code : BLOCKLIST_CODE_OPEN_RELAY,
				      a->reason, NULL, who, a->reason, now, err, errlen) < 0;
	int rc = blocklist_delist(b, &net, BLOCKLIST_DELISTED, who, a->reason, now, err, errlen);
	if (rc == 1)
		snprintf(err, errlen, "list del: %s is not listed", a->pos[1]);
	return rc != 0;
}

int blocklist_list_cli(int argc, char **argv, const char *default_conf)
{
	struct list_args a = {default_conf};
	char err[512] = "";
	struct conf *c = NULL;
	struct blocklist *b = NULL;
	if (argc == 1 && (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help")))
		return list_usage(stdout, 0);
	if (list_parse_args(argc, argv, &a) < 0)
		return list_usage(stderr, 2);
	if (conf_load(a.conf, &c, err, sizeof(err)) < 0 ||
	    blocklist_open(conf_blocklist_db(c), &b, err, sizeof(err)) < 0) {
		fprintf(stderr, "list: %s\n", err);
		conf_free(c);
		return 1;
	}
	int rc;
	struct cidr net;
	if (!strcmp(a.pos[0], "add") || !strcmp(a.pos[0], "del"))
		rc = list_change(b, &a, err, sizeof(err));
	else if (!strcmp(a.pos[0], "show") && a.n_pos == 2 && cidr_parse(a.pos[1], &net) == 0)
		rc = list_show(b, &net, a.json);
	else if (!strcmp(a.pos[0], "export"))
		rc = list_export(b, c, &a, err, sizeof(err));
	else
		rc = list_usage(stderr, 2);
	if (rc == 1 && err[0])
		fprintf(stderr, "%s\n", err);
	blocklist_close(b);
	conf_free(c);
	return rc;
}

/* CONF_DEFAULT_DNSBL_LISTEN, 127.0.0.1:53 */
static int default_listen(struct conf_listen *l)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	l->addrlen = sizeof(*sin);
	util_strlcpy(l->text, CONF_DEFAULT_DNSBL_LISTEN, sizeof(l->text));
	return inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr) == 1 ? 0 : -1;
}

int blocklist_dnsbl_cli(int argc, char **argv, const char *default_conf,
			const struct blocklist_dnsbl_hook *hook)
{
	const char *path = default_conf;
	char err[512] = "";
	struct conf *c = NULL;
	struct conf_listen l = {0};
	if (argc == 2 && !strcmp(argv[0], "-c"))
		path = argv[1];
	else if (argc != 0) {
		fprintf(stderr, "usage: relayguard dnsbl [-c FILE]\n");
		return 2;
	}
	if (conf_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "dnsbl: %s\n", err);
		return 1;
	}
	int rc = 1;
	if (!c->dnsbl_zone)
		fprintf(stderr, "dnsbl: %s: no blocklist-zone\n", path);
	else if (!c->dnsbl_listen && default_listen(&l) < 0)
		fprintf(stderr, "dnsbl: bad default address\n");
	else if (blocklist_dnsbl_run(c, conf_blocklist_db(c),
				     c->dnsbl_listen ? c->dnsbl_listen : &l, hook, err,
				     sizeof(err)) < 0)
		fprintf(stderr, "dnsbl: %s\n", err);
	else
		rc = 0;
	conf_free(c);
	return rc;
}
