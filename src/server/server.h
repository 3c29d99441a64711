/* server.h — `relayguard serve`: wires the config, spool, SMTP listeners and local delivery
 * into one event loop. The top module: it may use every module below it. */
#ifndef RG_SERVER_H
#define RG_SERVER_H

/* Run the server on the config file at path until SIGTERM/SIGINT. Returns the exit status. */
int server_run(const char *conf_path);

/* `relayguard check`: parse the config, print the relay policy, the matrix and the audit (json:
 * as one JSON document); record: append the config to the changelog (event "check"). 0 clean,
 * 1 findings, 2 configuration error (or the record could not be written). */
int server_check(const char *conf_path, int json, int record);
/* `relayguard check [-c FILE] [--json] [--record]` (argv after "check"); -1 on bad usage
 * (nothing printed: the caller shows the usage). */
int server_check_cli(int argc, char **argv, const char *default_conf);

/* `relayguard queue SUB [-c FILE] [--json] [ID]` (argv after "queue"): list, show, flush, hold,
 * release, delete through the control socket. 0 done, 1 error (usage, unknown ID), 2 the
 * server is down (`list` then prints the spool read, without delivery states). */
int server_queue_cli(int argc, char **argv, const char *default_conf);
/* `mailq [-c FILE]` (argv after the name): Postfix's `postqueue -p` listing. 0, 1 or 2 as
 * above (when down, the listing comes from the spool read, without delivery states). */
int server_mailq_cli(int argc, char **argv, const char *default_conf);

/* `relayguard sendmail` / a program named sendmail (argv after the name): sendmail(1)'s
 * interface; the message from stdin goes to the running server (control command submit).
 * 0 queued, 1 refused, 64 usage, 75 the server cannot be reached. */
int server_sendmail_cli(int argc, char **argv, const char *default_conf);

/* `relayguard route [-c FILE] DOMAIN [--json]` (argv after "route"): print how mail for DOMAIN
 * would be routed (local, static route, MX hosts and their addresses). 0 routable, 1 permanent
 * failure, 2 temporary failure or usage/configuration error. */
int server_route(int argc, char **argv, const char *default_conf);

#endif
