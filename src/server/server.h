/* server.h — `relayguard serve`: wires the config, spool, SMTP listeners and local delivery
 * into one event loop. The top module: it may use every module below it. */
#ifndef RG_SERVER_H
#define RG_SERVER_H

/* Run the server on the config file at path until SIGTERM/SIGINT. Returns the exit status. */
int server_run(const char *conf_path);

/* `relayguard check`: parse the config, print the relay policy; 0 OK, 1 on an error. */
int server_check(const char *conf_path);

/* `relayguard queue list`: print the messages still queued in the spool of the config. */
int server_queue_list(const char *conf_path);

/* `relayguard route [-c FILE] DOMAIN [--json]` (argv after "route"): print how mail for DOMAIN
 * would be routed (local, static route, MX hosts and their addresses). 0 routable, 1 permanent
 * failure, 2 temporary failure or usage/configuration error. */
int server_route(int argc, char **argv, const char *default_conf);

#endif
