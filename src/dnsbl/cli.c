/* cli.c — `relayguard lookup IP|HOST`: "am I listed?" The address (or every address of the
 * host) asked in the config's lists and the known public lists (etc/dnsbl-lists) at once, on
 * the config's dns-server; one line per address and list. */
#include "dnsbl.h"

#include "../util/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOOKUP_TIMEOUT 5    /* s per list when neither the config nor --timeout says */
#define LOOKUP_MAX_ADDRS 16 /* addresses of a host name looked up */
#define LOOKUP_DNS_TRY_MS 1000
#define LOOKUP_DNS_TRIES 3
#define LOOKUP_EXIT_USAGE 3
/* The shipped lists file: installed by make install, else the source tree's. */
static const char *const lists_default[] = {"/etc/relayguard/dnsbl-lists", "etc/dnsbl-lists"};

struct lookup_opts {
	const char *target, *conf_path, *lists;
	int json;
	unsigned timeout;
};

static int usage(void)
{
	fprintf(stderr, "usage: relayguard lookup IP|HOST [-c FILE] [--lists FILE] [--json] "
			"[--timeout SECONDS]\n");
	return LOOKUP_EXIT_USAGE;
}

static int parse_opts(int argc, char **argv, struct lookup_opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		uint64_t t;
		if (!strcmp(a, "--json"))
			o->json = 1;
		else if (!strcmp(a, "-c") && i + 1 < argc)
			o->conf_path = argv[++i];
		else if (!strcmp(a, "--lists") && i + 1 < argc)
			o->lists = argv[++i];
		else if (!strcmp(a, "--timeout") && i + 1 < argc) {
			if (util_parse_duration(argv[++i], &t) < 0 || t < 1 || t > 60)
				return -1;
			o->timeout = (unsigned)t;
		} else if (a[0] != '-' && !o->target)
			o->target = a;
		else
			return -1;
	}
	return o->target ? 0 : -1;
}

int dnsbl_zones_load(const char *path, struct dnsbl_zones *z, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 20, len = 0; /* a lists file is text written by a person: 1 MB */
	if ((text = malloc(cap)))
		len = fread(text, 1, cap, f);
	int bad = !text || ferror(f) || len == cap;
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: cannot read (or larger than 1 MB)", path);
		free(text);
		return -1;
	}
	int rc = dnsbl_zones_parse(text, len, path, z, err, errlen);
	free(text);
	return rc;
}

/* The addresses of target: itself when an IP literal, else its A and AAAA records (the
 * system's resolver: /etc/hosts included). Returns how many, or -1 with err. */
static int target_addrs(const char *target, uint8_t addrs[][16], char ips[][64], char *err,
			size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int n = 0, rc = getaddrinfo(target, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", target, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai && n < LOOKUP_MAX_ADDRS; ai = ai->ai_next) {
		uint8_t a[16];
		int dup = 0;
		if (cidr_addr_from_sockaddr(ai->ai_addr, a) < 0)
			continue;
		for (int i = 0; i < n; i++)
			dup |= !memcmp(addrs[i], a, 16);
		if (dup)
			continue;
		memcpy(addrs[n], a, 16);
		util_sockaddr_ip(ai->ai_addr, ips[n], 64);
		n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		snprintf(err, errlen, "%s: no address", target);
	return n ? n : -1;
}

/* The known lists: --lists FILE, else the shipped file when there is one; then the config's. */
static int load_zones(const struct lookup_opts *o, const struct conf *c, struct dnsbl_zones *z,
		      char *err, size_t errlen)
{
	const char *path = o->lists;
	struct stat st;
	for (size_t i = 0; !path && i < sizeof(lists_default) / sizeof(lists_default[0]); i++)
		if (stat(lists_default[i], &st) == 0)
			path = lists_default[i];
	if (path && dnsbl_zones_load(path, z, err, errlen) < 0)
		return -1;
	if (dnsbl_zones_add_conf(z, c) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (z->n == 0) {
		snprintf(err, errlen, "no lists: no dnsbl line in %s and no lists file", c->path);
		return -1;
	}
	return 0;
}

static void on_done(void *arg)
{
	event_base_loopexit(arg, NULL);
}

/* Ask every (address, list) pair at once and print them. */
static int run(const struct lookup_opts *o, const struct conf *c, const struct dnsbl_zones *z,
	       uint8_t addrs[][16], char ips[][64], size_t n_addrs)
{
	char err[512];
	size_t n = n_addrs * z->n;
	struct dnsbl_item *items = calloc(n, sizeof(*items));
	struct event_base *base = event_base_new();
	struct dns_resolver *dns = NULL;
	struct dnsbl_batch *b = NULL;
	int rc = LOOKUP_EXIT_USAGE;
	if (!items || !base) {
		fprintf(stderr, "lookup: out of memory\n");
		goto out;
	}
	for (size_t a = 0; a < n_addrs; a++)
		for (size_t l = 0; l < z->n; l++) {
			struct dnsbl_item *it = &items[a * z->n + l];
			memcpy(it->addr, addrs[a], 16);
			util_strlcpy(it->ip, ips[a], sizeof(it->ip));
			it->zone = &z->z[l];
		}
	if (dns_resolver_new(base, (const char *const *)c->dns_servers, c->n_dns_servers,
			     LOOKUP_DNS_TRY_MS, LOOKUP_DNS_TRIES, &dns, err, sizeof(err)) < 0) {
		fprintf(stderr, "lookup: %s\n", err);
		goto out;
	}
	if (!(b = dnsbl_batch_start(base, dns, items, n, o->timeout, on_done, base))) {
		fprintf(stderr, "lookup: out of memory\n");
		goto out;
	}
	event_base_dispatch(base);
	for (size_t i = 0; i < n; i++) {
		struct util_buf line = {0};
		dnsbl_item_format(&items[i], o->json, &line);
		printf("%s\n", line.p ? line.p : "");
		util_buf_free(&line);
	}
	rc = dnsbl_items_exit_code(items, n);
out:
	dnsbl_batch_free(b);
	dns_resolver_free(dns);
	if (base)
		event_base_free(base);
	free(items);
	return rc;
}

int dnsbl_lookup_cli(int argc, char **argv, const char *default_conf)
{
	struct lookup_opts o = {.conf_path = default_conf, .timeout = LOOKUP_TIMEOUT};
	struct conf *c = NULL;
	struct dnsbl_zones z = {0};
	uint8_t addrs[LOOKUP_MAX_ADDRS][16];
	char ips[LOOKUP_MAX_ADDRS][64], err[512];
	int rc = LOOKUP_EXIT_USAGE, n;
	if (parse_opts(argc, argv, &o) < 0)
		return usage();
	if (conf_load(o.conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "lookup: %s\n", err);
		return LOOKUP_EXIT_USAGE;
	}
	if (load_zones(&o, c, &z, err, sizeof(err)) < 0 ||
	    (n = target_addrs(o.target, addrs, ips, err, sizeof(err))) < 0)
		fprintf(stderr, "lookup: %s\n", err);
	else
		rc = run(&o, c, &z, addrs, ips, (size_t)n);
	dnsbl_zones_free(&z);
	conf_free(c);
	return rc;
}
