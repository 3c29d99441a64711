/* cli.c — `relayguard web [-c FILE]`: the blocklist's web page and JSON API on
 * blocklist-web-listen, reading the store the config names (blocklist-database). */
#include "web_int.h"

#include "../conf/conf.h"

#include <stdio.h>
#include <string.h>

int web_cli(int argc, char **argv, const char *default_conf)
{
	const char *path = default_conf;
	char err[512] = "";
	struct conf *c = NULL;
	if (argc == 2 && !strcmp(argv[0], "-c"))
		path = argv[1];
	else if (argc != 0) {
		fprintf(stderr, "usage: relayguard web [-c FILE]\n");
		return 2;
	}
	if (conf_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "web: %s\n", err);
		return 1;
	}
	int rc = 1;
	const char *db = conf_blocklist_db(c);
	if (!c->web_listen)
		fprintf(stderr, "web: %s: no blocklist-web-listen ADDR:PORT\n", path);
	else if (web_http_run(c, db, err, sizeof(err)) < 0)
		fprintf(stderr, "web: %s\n", err);
	else
		rc = 0;
	conf_free(c);
	return rc;
}
