/* main.c — subcommand dispatch only. */
#include "auth/auth.h"
#include "abuse/abuse.h"
#include "blocklist/blocklist.h"
#include "changelog/changelog.h"
#include "dnsbl/dnsbl.h"
#include "probe/probe.h"
#include "scan/scan.h"
#include "server/control.h"
#include "server/server.h"
#include "web/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONF "etc/relayguard.conf"
/* The config of the `sendmail` and `mailq` links, which cron, PHP and scripts call without -c:
 * the one make install puts in place, or $RELAYGUARD_CONF. */
#define SYSTEM_CONF "/etc/relayguard/relayguard.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: relayguard serve [-c FILE]          run the mail server\n"
		"       relayguard check [-c FILE] [--json] [--record]\n"
		"                                           check the configuration, print the "
		"relay policy\n"
		"       relayguard status [-c FILE]         ask the running server how it is\n"
		"       relayguard audit-now [-c FILE]      run the server's self-audit now\n"
		"       relayguard self-check-now [-c FILE] look the server's addresses up in the "
		"DNS lists now\n"
		"       relayguard reload [-c FILE]         make the running server load its "
		"configuration again\n"
		"       relayguard queue list|show|flush|hold|release|delete [-c FILE] [--json] "
		"[ID]\n"
		"                                           the queue of the running server\n"
		"       relayguard mailq [-c FILE]          the queue as Postfix's mailq shows it "
		"(also: mailq)\n"
		"       relayguard sendmail [-t] [-i] [-f SENDER] [-F NAME] [-C FILE] [RCPT...]\n"
		"                                           submit the message on stdin (also: "
		"sendmail)\n"
		"       relayguard probe [OPTIONS] HOST[:PORT]  test a server for open relaying\n"
		"       relayguard route [-c FILE] DOMAIN [--json]  show how mail for DOMAIN "
		"is routed\n"
		"       relayguard user add|passwd|del|list|lock|unlock [LOGIN] [-c FILE] "
		"[--stdin] [--iterations N] [--json]\n"
		"                                           SMTP AUTH users (SCRAM keys, never "
		"passwords)\n"
		"       relayguard changelog [-c FILE] [--json] [-n N] [--diff ID] [--verify]\n"
		"                                           the recorded history of the "
		"configuration\n"
		"       relayguard abuse list|show IP|LOGIN|unban IP|LOGIN [-c FILE] [--json]\n"
		"                                           greylist, rate-limit and ban state\n"
		"       relayguard list add|del|show|export ... [-c FILE]\n"
		"                                           the blocklist store (list help)\n"
		"       relayguard dnsbl [-c FILE]          serve the blocklist as a DNSBL "
		"zone\n"
		"       relayguard scan TARGET... [OPTIONS] scan for open relays (scan --help)\n"
		"       relayguard list request-delist IP [-c FILE] [--json]\n"
		"       relayguard lookup IP|HOST [-c FILE] [--lists FILE] [--json] [--timeout S]\n"
		"                                           is the address listed in DNS "
		"blocklists?\n"
		"       relayguard web [-c FILE]            the blocklist's web page and JSON API\n"
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

/* The name the program was called by, without its directory. */
static const char *prog_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	return slash ? slash + 1 : argv0;
}

static const char *link_conf(void)
{
	const char *env = getenv("RELAYGUARD_CONF");
	return env && *env ? env : SYSTEM_CONF;
}

/* `user unlock LOGIN` also lifts the circuit breaker (the abuse store's trip and counters). */
static int user_cli(int argc, char **argv)
{
	int rc = auth_user_cli(argc, argv, DEFAULT_CONF);
	if (argc < 2 || strcmp(argv[0], "unlock") != 0 || rc == 2)
		return rc;
	const char *conf_path = DEFAULT_CONF;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "-c"))
			conf_path = argv[i + 1];
	int trip = abuse_user_unlock(argv[1], conf_path);
	return rc ? rc : trip;
}

int main(int argc, char **argv)
{
	const char *path;
	int rc;
	if (argc >= 1 && !strcmp(prog_name(argv[0]), "mailq"))
		return server_mailq_cli(argc - 1, argv + 1, link_conf());
	if (argc >= 1 && !strcmp(prog_name(argv[0]), "sendmail"))
		return server_sendmail_cli(argc - 1, argv + 1, link_conf());
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
	if (!strcmp(argv[1], "check") &&
	    (rc = server_check_cli(argc - 2, argv + 2, DEFAULT_CONF)) >= 0)
		return rc;
	if (!strcmp(argv[1], "changelog"))
		return changelog_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "abuse"))
		return abuse_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if ((rc = scan_main(argc, argv, DEFAULT_CONF)) >= 0) /* scan, list request-delist, dnsbl */
		return rc;
	if (!strcmp(argv[1], "list"))
		return blocklist_list_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "dnsbl"))
		return blocklist_dnsbl_cli(argc - 2, argv + 2, DEFAULT_CONF, NULL);
	if (!strcmp(argv[1], "status") && (path = conf_arg(argc, argv, 2)))
		return ctl_client_main(path, 1, argv + 1);
	if ((!strcmp(argv[1], "audit-now") || !strcmp(argv[1], "self-check-now")) &&
	    (path = conf_arg(argc, argv, 2)))
		return ctl_client_main(path, 1, argv + 1);
	if (!strcmp(argv[1], "reload") && (path = conf_arg(argc, argv, 2)))
		return ctl_client_reload(path);
	if (!strcmp(argv[1], "queue"))
		return server_queue_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "mailq"))
		return server_mailq_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "user"))
		return user_cli(argc - 2, argv + 2);
	if (!strcmp(argv[1], "sendmail"))
		return server_sendmail_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "lookup"))
		return dnsbl_lookup_cli(argc - 2, argv + 2, DEFAULT_CONF);
	if (!strcmp(argv[1], "web"))
		return web_cli(argc - 2, argv + 2, DEFAULT_CONF);
	usage(stderr);
	return 2;
}
