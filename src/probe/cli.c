/* cli.c — the command line of `relayguard probe`. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: relayguard probe [--source ADDR] [--timeout SECONDS] [--max-time SECONDS]\n"
	    "         [--starttls | --starttls=auto | --tls] [--catch ADDR:PORT\n"
	    "         [--catch-domain DOMAIN] [--catch-wait SECONDS]] [--json] [--verbose]\n"
	    "         HOST[:PORT]\n"
	    "  HOST is a name, an IPv4 address or [IPv6]; PORT defaults to 25 (465 with --tls).\n"
	    "  No certificate is verified with --starttls/--tls (a relay test, not a trust\n"
	    "  decision). --catch runs a catcher on ADDR:PORT; test recipients are at\n"
	    "  --catch-domain (default [ADDR]) and a test is \"delivered\" when its message\n"
	    "  arrives there within --catch-wait (default 30 s).\n"
	    "  exit status: 0 closed, 1 open relay, 2 could not test\n");
	return 2;
}

/* "host", "host:port", "[v6]" or "[v6]:port" into host and port (pointing into buf). */
static int split_target(char *buf, const char **host, const char **port, const char *dflt)
{
	*port = dflt;
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
	if (s[0] < '0' || s[0] > '9' || *end || v == 0 || v > 3600)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int option_tls(const char *a, struct probe_options *o)
{
	if (!strcmp(a, "--starttls"))
		o->tls = PROBE_TLS_STARTTLS;
	else if (!strcmp(a, "--starttls=auto"))
		o->tls = PROBE_TLS_STARTTLS_AUTO;
	else if (!strcmp(a, "--tls"))
		o->tls = PROBE_TLS_IMPLICIT;
	else
		return 0;
	return 1;
}

/* Options with a value; returns 1 when a was one (and consumed its value), -1 on a bad
 * value, 0 when a is not one of them. */
static int option_value(const char *a, const char *v, struct probe_options *o, char *catch_buf)
{
	if (!strcmp(a, "--source"))
		o->source = v;
	else if (!strcmp(a, "--timeout"))
		return seconds(v, &o->timeout) == 0 ? 1 : -1;
	else if (!strcmp(a, "--max-time"))
		return seconds(v, &o->max_time) == 0 ? 1 : -1;
	else if (!strcmp(a, "--catch-wait"))
		return seconds(v, &o->catch_wait) == 0 && o->catch_wait <= PROBE_CATCH_WAIT_MAX
			   ? 1
			   : -1;
	else if (!strcmp(a, "--catch-domain"))
		o->catch_domain = v;
	else if (!strcmp(a, "--catch")) {
		if (strlen(v) >= 300)
			return -1;
		strcpy(catch_buf, v);
		if (split_target(catch_buf, &o->catch_addr, &o->catch_port, "") < 0)
			return -1;
	} else
		return 0;
	return 1;
}

int probe_cli(int argc, char **argv)
{
	struct probe_options o = {.timeout = 10, .max_time = 300, .catch_wait = 30};
	char target[300] = "", catch_buf[300], catch_dom[320];
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int rc = i + 1 < argc ? option_value(a, argv[i + 1], &o, catch_buf) : 0;
		if (rc < 0)
			return usage();
		if (rc > 0)
			i++;
		else if (!strcmp(a, "--json"))
			o.json = 1;
		else if (!strcmp(a, "--verbose"))
			o.verbose = 1;
		else if (option_tls(a, &o))
			;
		else if (a[0] != '-' && !target[0] && strlen(a) < sizeof(target))
			strcpy(target, a);
		else
			return usage();
	}
	if (!target[0] ||
	    split_target(target, &o.host, &o.port, o.tls == PROBE_TLS_IMPLICIT ? "465" : "25") < 0)
		return usage();
	if (o.catch_addr && !o.catch_domain) {
		snprintf(catch_dom, sizeof(catch_dom), "[%s%s]",
			 strchr(o.catch_addr, ':') ? "IPv6:" : "", o.catch_addr);
		o.catch_domain = catch_dom;
	}
	return probe_run(&o);
}
