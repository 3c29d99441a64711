/* route.c — `relayguard route [-c FILE] DOMAIN [--json]`: how mail for DOMAIN would be routed:
 * local, a static route (its host's addresses) or the MX hosts with their addresses, through the
 * server's own resolver and configuration. Exit 0 routable, 1 permanent failure (no such domain,
 * null MX, no address), 2 temporary failure or usage/configuration error. */
#include "server.h"

#include "../conf/conf.h"
#include "../dns/dns.h"
#include "../util/util.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#define ROUTE_DNS_TRIES 2 /* c-ares doubles the timeout per try */

struct route_ctx {
	const struct conf *c;
	char domain[256];
	const struct conf_route *route;
	int json;
	int rc;
	struct event_base *base;
};

static int route_usage(void)
{
	fprintf(stderr, "usage: relayguard route [-c FILE] DOMAIN [--json]\n"
			"  exit status: 0 routable, 1 permanent failure, 2 temporary failure\n");
	return 2;
}

/* "192.0.2.1:25" or "[::1]:25". */
static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	util_sockaddr_ip((const struct sockaddr *)ss, ip, sizeof(ip));
	if (ss->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip,
			 ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	else
		snprintf(buf, len, "%s:%u", ip, ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

static const char *route_kind(const struct route_ctx *x, const struct dns_mx_result *res)
{
	return x->route ? "route" : !res ? "local" : res->implicit ? "implicit" : "mx";
}

static void print_json_hosts(const struct dns_mx_result *res)
{
	char addr[80];
	for (size_t i = 0; res && i < res->n_hosts; i++) {
		const struct dns_host *h = &res->hosts[i];
		printf("%s{\"name\":", i ? "," : "");
		util_json_print(stdout, h->name);
		printf(",\"pref\":%u,\"addresses\":[", h->pref);
		for (size_t j = 0; j < h->n_addrs; j++) {
			format_addr(&h->addrs[j], addr, sizeof(addr));
			printf("%s\"%s\"", j ? "," : "", addr);
		}
		printf("],\"tempfail\":%s}", h->tempfail ? "true" : "false");
	}
}

/* res is NULL for a local domain. */
static void print_json(const struct route_ctx *x, const struct dns_mx_result *res)
{
	printf("{\"domain\":");
	util_json_print(stdout, x->domain);
	printf(",\"kind\":\"%s\",\"status\":\"%s\",\"error\":", route_kind(x, res),
	       res ? dns_status_name(res->status) : "ok");
	util_json_print(stdout, res ? res->error : "");
	if (x->route) {
		printf(",\"route\":{\"host\":");
		util_json_print(stdout, x->route->host);
		printf(",\"port\":%u}", x->route->port);
	}
	if (!res)
		printf(",\"local_delivery\":\"%s\"",
		       x->c->local_delivery == CONF_LOCAL_LMTP ? "lmtp" : "maildir");
	printf(",\"hosts\":[");
	print_json_hosts(res);
	printf("]}\n");
}

static void print_text(const struct route_ctx *x, const struct dns_mx_result *res)
{
	char addr[80];
	if (x->route)
		printf("%s: route via %s port %u\n", x->domain, x->route->host, x->route->port);
	else
		printf("%s: %s\n", x->domain,
		       res->implicit ? "no MX: its own address (implicit MX)" : "MX");
	if (res->status != DNS_OK)
		printf("  %s: %s\n", dns_status_name(res->status), res->error);
	for (size_t i = 0; i < res->n_hosts; i++) {
		const struct dns_host *h = &res->hosts[i];
		printf("  %5u %s", h->pref, h->name);
		for (size_t j = 0; j < h->n_addrs; j++) {
			format_addr(&h->addrs[j], addr, sizeof(addr));
			printf(" %s", addr);
		}
		if (!h->n_addrs)
			printf(" (no address%s)", h->tempfail ? ": temporary failure" : "");
		printf("\n");
	}
}

static void on_route_result(void *arg, const struct dns_mx_result *res)
{
	struct route_ctx *x = arg;
	if (x->json)
		print_json(x, res);
	else
		print_text(x, res);
	x->rc = res->status == DNS_OK ? 0 : res->status == DNS_TEMPFAIL ? 2 : 1;
	event_base_loopbreak(x->base);
}

/* Resolve the route's host or the domain's MX and print the result. */
static int route_resolve(struct route_ctx *x)
{
	struct dns_resolver *r;
	char err[256];
	if (!(x->base = event_base_new())) {
		fprintf(stderr, "relayguard: out of memory\n");
		return 2;
	}
	if (dns_resolver_new(x->base, (const char *const *)x->c->dns_servers, x->c->n_dns_servers,
			     x->c->delivery.dns_timeout * 1000, ROUTE_DNS_TRIES, &r, err,
			     sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		event_base_free(x->base);
		return 2;
	}
	x->rc = -1;
	struct dns_query *q =
	    x->route
		? dns_resolve_host(r, x->route->host, x->route->port, on_route_result, x)
		: dns_resolve_mx(r, x->domain, (uint16_t)x->c->delivery.port, on_route_result, x);
	if (q)
		event_base_dispatch(x->base);
	if (x->rc < 0) {
		fprintf(stderr, "relayguard: the DNS lookup did not finish\n");
		x->rc = 2;
	}
	dns_resolver_free(r);
	event_base_free(x->base);
	return x->rc;
}

static int route_domain(const struct conf *c, const char *arg, int json)
{
	struct route_ctx x = {.c = c, .json = json};
	if (arg[0] == '[') {
		if (util_strlcpy(x.domain, arg, sizeof(x.domain)) >= sizeof(x.domain))
			return route_usage();
	} else if (util_domain_normalise(arg, x.domain, sizeof(x.domain)) < 0) {
		fprintf(stderr, "relayguard: invalid domain '%s'\n", arg);
		return 2;
	}
	if (arg[0] != '[' && conf_is_local_domain(c, x.domain)) {
		if (json)
			print_json(&x, NULL);
		else
			printf("%s: local (%s%s)\n", x.domain,
			       c->local_delivery == CONF_LOCAL_LMTP ? "lmtp " : "maildir",
			       c->local_delivery == CONF_LOCAL_LMTP ? c->lmtp_target : "");
		return 0;
	}
	x.route = arg[0] == '[' ? NULL : conf_find_route(c, x.domain);
	return route_resolve(&x);
}

int server_route(int argc, char **argv, const char *default_conf)
{
	const char *path = default_conf, *domain = NULL;
	int json = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (argv[i][0] != '-' && !domain)
			domain = argv[i];
		else
			return route_usage();
	}
	if (!domain)
		return route_usage();
	struct conf *c;
	char err[1024];
	if (conf_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return 2;
	}
	int rc = route_domain(c, domain, json);
	conf_free(c);
	return rc;
}
