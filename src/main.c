/* main.c — subcommand dispatch only. */
#include "probe/probe.h"
#include "server/server.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_CONF "etc/relayguard.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: relayguard serve [-c FILE]          run the mail server\n"
		"       relayguard check [-c FILE]          check the configuration, print the "
		"relay policy\n"
		"       relayguard queue list [-c FILE]     list queued messages\n"
		"       relayguard probe [OPTIONS] HOST[:PORT]  test a server for open relaying\n"
		"       relayguard route [-c FILE] DOMAIN [--json]  show how mail for DOMAIN "
		"is routed\n"
		"       relayguard help\n"
		"FILE defaults to " DEFAULT_CONF ".\n");
}

/* Parse "[-c FILE]" from argv[first..]; returns the config path or NULL on bad usage. */
static const char *conf_arg(int argc, char **argv, int first)
{
	if (argc == first)
		return DEFAULT_CONF;
	if (argc == first + 2 && strcmp(argv[first], "-c") == 0)
		return argv[first + 1];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *path;
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "probe"))
		return probe_cli(argc - 2, argv + 2);
	if (!strcmp(argv[1], "route"))
		return server_route(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "serve") && (path = conf_arg(argc, argv, 2)))
		return server_run(path);
	if (!strcmp(argv[1], "check") && (path = conf_arg(argc, argv, 2)))
		return server_check(path);
	if (argc >= 3 && !strcmp(argv[1], "queue") && !strcmp(argv[2], "list") &&
	    (path = conf_arg(argc, argv, 3)))
		return server_queue_list(path);
	usage(stderr);
	return 2;
}
