/* cli.c — the command line of `relayguard probe`. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: relayguard probe [--source ADDR] [--timeout SECONDS] "
			"[--max-time SECONDS] [--json] [--verbose] HOST[:PORT]\n"
			"  HOST is a name, an IPv4 address or [IPv6]; PORT defaults to 25.\n"
			"  exit status: 0 closed, 1 open relay, 2 could not test\n");
	return 2;
}

/* "host", "host:port", "[v6]" or "[v6]:port" into host and port (pointing into buf). */
static int split_target(char *buf, const char **host, const char **port)
{
	*port = "25";
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -1;
		*close = '\0';
		*host = buf + 1;
		if (close[1] == ':')
			*port = close + 2;
	} else {
		char *colon = strchr(buf, ':');
		if (colon && strchr(colon + 1, ':'))
			return -1; /* a bare IPv6 address needs brackets */
		if (colon) {
			*colon = '\0';
			*port = colon + 1;
		}
		*host = buf;
	}
	return **host && **port ? 0 : -1;
}

static int seconds(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 3600)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int probe_cli(int argc, char **argv)
{
	struct probe_options o = {NULL, NULL, NULL, 10, 300, 0, 0};
	char target[300] = "";
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			o.json = 1;
		else if (!strcmp(a, "--verbose"))
			o.verbose = 1;
		else if (!strcmp(a, "--source") && i + 1 < argc)
			o.source = argv[++i];
		else if (!strcmp(a, "--timeout") && i + 1 < argc &&
			 seconds(argv[i + 1], &o.timeout) == 0)
			i++;
		else if (!strcmp(a, "--max-time") && i + 1 < argc &&
			 seconds(argv[i + 1], &o.max_time) == 0)
			i++;
		else if (a[0] != '-' && !target[0] && strlen(a) < sizeof(target))
			strcpy(target, a);
		else
			return usage();
	}
	if (!target[0] || split_target(target, &o.host, &o.port) < 0)
		return usage();
	return probe_run(&o);
}
