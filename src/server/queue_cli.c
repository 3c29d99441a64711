/* queue_cli.c — `relayguard queue list|show|flush|hold|release|delete [-c FILE] [--json] [ID]`
 * and `mailq`: the request to the running server over the control socket; when it is down,
 * `queue list` and `mailq` read the spool read-only instead (and say so). */
#include "server.h"
#include "server_int.h"

#include "control.h"

#include <stdio.h>
#include <string.h>

static const char *const queue_subs[] = {"list", "show", "flush", "hold", "release", "delete"};

/* After "relayguard queue SUB" or "mailq": [-c FILE] anywhere, the rest passed on. */
static int split_conf(int argc, char **argv, const char **conf, char **rest, int max)
{
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			*conf = argv[++i];
		else if (strcmp(argv[i], "-c") == 0 || n == max)
			return -1;
		else
			rest[n++] = argv[i];
	}
	return n;
}

int server_queue_cli(int argc, char **argv, const char *default_conf)
{
	const char *conf = default_conf;
	char *words[CONTROL_ARGS_MAX];
	int known = 0;
	for (size_t i = 0; argc > 0 && i < sizeof(queue_subs) / sizeof(queue_subs[0]); i++)
		known |= strcmp(argv[0], queue_subs[i]) == 0;
	int n = known ? split_conf(argc - 1, argv + 1, &conf, words + 2, 8) : -1;
	if (n < 0) {
		fprintf(stderr, "usage: relayguard queue list|show|flush|hold|release|delete "
				"[-c FILE] [--json] [ID]\n");
		return 1;
	}
	words[0] = "queue";
	words[1] = argv[0];
	int r = ctl_client_main(conf, n + 2, words);
	int json = 0;
	for (int i = 0; i < n; i++)
		json |= strcmp(words[2 + i], "--json") == 0;
	if (r == CTL_UNREACHABLE && strcmp(argv[0], "list") == 0 && !json) {
		fprintf(stderr,
			"relayguard: the server is not running: listing the spool read-only "
			"(no delivery states)\n");
		queue_print_readonly(conf, 0);
	}
	return r;
}

int server_mailq_cli(int argc, char **argv, const char *default_conf)
{
	const char *conf = default_conf;
	char *words[2] = {"mailq", NULL};
	if (split_conf(argc, argv, &conf, words + 1, 0) < 0) {
		fprintf(stderr, "usage: mailq [-c FILE]\n");
		return 1;
	}
	int r = ctl_client_main(conf, 1, words);
	if (r != CTL_UNREACHABLE)
		return r;
	fprintf(stderr, "relayguard: the server is not running: reading the spool read-only\n");
	return queue_print_readonly(conf, 1) == 0 ? 2 : 1;
}
