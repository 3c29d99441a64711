/* cli.c — `relayguard user add|passwd|del|list|lock|unlock`: manage the credential store named by
 * the config's auth-database. Passwords come from the terminal (no echo, twice) or as one line
 * on stdin (--stdin); they are read with read(2) into one buffer (no stdio copy), SASLprepped,
 * turned into a SCRAM verifier and wiped. Exit 0 done, 1 refused, 2 usage/config/store error. */
#include "auth.h"

#include "../conf/conf.h"
#include "../util/util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CLI_DEFAULT_ITERATIONS AUTH_MIN_ITERATIONS

enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_ERROR = 2 };

struct user_cli {
	const char *cmd, *conf_path, *arg;
	char login[AUTH_LOGIN_MAX + 1];
	int use_stdin, json, iterations_given;
	unsigned iterations;
	const char *db_path;
	struct auth_store *st;
};

static int user_usage(void)
{
	fprintf(stderr,
		"usage: relayguard user add|passwd LOGIN [-c FILE] [--stdin] [--iterations N]\n"
		"       relayguard user del|lock|unlock LOGIN [-c FILE]\n"
		"       relayguard user list [-c FILE] [--json]\n"
		"  --stdin: the password is the first line of stdin (else asked twice on the "
		"terminal)\n"
		"  --iterations N: PBKDF2 iterations, %u..%u (default %u)\n"
		"  exit status: 0 done, 1 refused (exists, no such user, passwords differ, empty "
		"password), 2 usage or store error\n",
		AUTH_MIN_ITERATIONS, AUTH_MAX_ITERATIONS, CLI_DEFAULT_ITERATIONS);
	return CLI_ERROR;
}

static int parse_iterations(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || n < AUTH_MIN_ITERATIONS ||
	    n > AUTH_MAX_ITERATIONS) {
		fprintf(stderr, "relayguard: --iterations must be a number in %u..%u\n",
			AUTH_MIN_ITERATIONS, AUTH_MAX_ITERATIONS);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* Options and the one LOGIN argument; which options fit which command is checked after. */
static int parse_args(struct user_cli *x, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			x->conf_path = argv[++i];
		else if (!strcmp(argv[i], "--stdin"))
			x->use_stdin = 1;
		else if (!strcmp(argv[i], "--json"))
			x->json = 1;
		else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
			if (parse_iterations(argv[++i], &x->iterations) < 0)
				return -1;
			x->iterations_given = 1;
		} else if (argv[i][0] != '-' && !x->arg)
			x->arg = argv[i];
		else
			return user_usage(), -1;
	}
	int secret = !strcmp(x->cmd, "add") || !strcmp(x->cmd, "passwd");
	int list = !strcmp(x->cmd, "list");
	if ((list && x->arg) || (!list && !x->arg) || (x->json && !list) ||
	    ((x->use_stdin || x->iterations_given) && !secret))
		return user_usage(), -1;
	if (x->arg && auth_login_normalise(x->arg, x->login, sizeof(x->login)) < 0) {
		fprintf(stderr, "relayguard: invalid login (1..%d octets, no control characters)\n",
			AUTH_LOGIN_MAX);
		return -1;
	}
	return 0;
}

/* One line from fd 0 into buf (NUL-terminated, without its CR LF). 0, or -1 when it does not
 * fit (the rest of the line is not read) or on a read error. */
static int read_line(char *buf, size_t size, size_t *len)
{
	size_t n = 0;
	char c;
	ssize_t r;
	while ((r = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n') {
		if (n + 1 >= size)
			return -1;
		buf[n++] = c;
	}
	if (r < 0)
		return -1;
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Prompt on stderr and read one line from the terminal with echo off. */
static int read_hidden(const char *prompt, char *buf, size_t size, size_t *len)
{
	struct termios old, quiet;
	if (tcgetattr(STDIN_FILENO, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
		return -1;
	int rc = read_line(buf, size, len);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

/* The raw password from stdin or, twice, the terminal. CLI_OK, CLI_REFUSED (they differ) or
 * CLI_ERROR. */
static int read_raw(const struct user_cli *x, char *pw, size_t size, size_t *len)
{
	char again[AUTH_PASSWORD_MAX + 1];
	size_t len2;
	int rc = CLI_ERROR;
	if (x->use_stdin) {
		if (read_line(pw, size, len) == 0)
			return CLI_OK;
		fprintf(stderr, "relayguard: cannot read the password (at most %d octets)\n",
			AUTH_PASSWORD_MAX);
		return CLI_ERROR;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "relayguard: no terminal to ask the password on: use --stdin\n");
		return CLI_ERROR;
	}
	if (read_hidden("New password: ", pw, size, len) < 0 ||
	    read_hidden("Again: ", again, sizeof(again), &len2) < 0)
		fprintf(stderr, "relayguard: cannot read the password (at most %d octets)\n",
			AUTH_PASSWORD_MAX);
	else if (*len != len2 || CRYPTO_memcmp(pw, again, len2))
		fprintf(stderr, "relayguard: the passwords differ\n"), rc = CLI_REFUSED;
	else
		rc = CLI_OK;
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

/* The verifier of a password read as x says. CLI_OK, CLI_REFUSED or CLI_ERROR. */
static int read_verifier(const struct user_cli *x, struct auth_verifier *v)
{
	char raw[AUTH_PASSWORD_MAX + 1], pw[AUTH_PASSWORD_MAX + 1];
	size_t raw_len = 0, len = 0;
	int rc = read_raw(x, raw, sizeof(raw), &raw_len);
	if (rc == CLI_OK && raw_len == 0) {
		fprintf(stderr, "relayguard: empty password refused\n");
		rc = CLI_REFUSED;
	} else if (rc == CLI_OK && auth_password_prep(raw, raw_len, pw, sizeof(pw), &len) < 0) {
		fprintf(stderr, "relayguard: password refused: it has characters SASLprep "
				"(RFC 4013) prohibits, or is not UTF-8\n");
		rc = CLI_REFUSED;
	} else if (rc == CLI_OK && auth_verifier_new(pw, len, x->iterations, v) < 0) {
		fprintf(stderr, "relayguard: cannot derive the SCRAM keys\n");
		rc = CLI_ERROR;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

static int store_failed(const struct user_cli *x)
{
	char msg[256];
	auth_store_last_error(x->st, msg, sizeof(msg));
	fprintf(stderr, "relayguard: %s: %s\n", x->db_path, msg);
	return CLI_ERROR;
}

/* 0 done, 1 refused, -1 store error (auth_store_* convention) to the exit status. */
static int change_result(const struct user_cli *x, int rc, const char *done)
{
	if (rc < 0)
		return store_failed(x);
	if (rc > 0) {
		fprintf(stderr, "relayguard: %s: %s\n", x->login,
			!strcmp(x->cmd, "add") ? "exists already" : "no such user");
		return CLI_REFUSED;
	}
	printf("%s: %s\n", x->login, done);
	return CLI_OK;
}

/* Does the login exist? 1 yes, 0 no, -1 store error. */
static int user_exists(const struct user_cli *x)
{
	struct auth_verifier v;
	enum auth_lookup r = auth_store_get(x->st, x->login, &v);
	return r == AUTH_STORE_ERROR ? -1 : r != AUTH_NO_USER;
}

/* add and passwd: the existence is checked before asking for a password (a typo in the login is
 * told at once); the change itself checks again. */
static int cmd_secret(struct user_cli *x)
{
	int add = !strcmp(x->cmd, "add");
	struct auth_verifier v;
	int exists = user_exists(x);
	if (exists < 0)
		return store_failed(x);
	if (exists == add)
		return change_result(x, 1, "");
	int rc = read_verifier(x, &v);
	if (rc != CLI_OK)
		return rc;
	rc = add ? auth_store_add(x->st, x->login, &v) : auth_store_set(x->st, x->login, &v);
	OPENSSL_cleanse(&v, sizeof(v));
	return change_result(x, rc, add ? "added" : "password changed");
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

struct list_ctx {
	int json;
	long n;
};

static void print_user(void *arg, const struct auth_user_info *u)
{
	struct list_ctx *l = arg;
	char created[32], updated[32];
	format_time(u->created, created, sizeof(created));
	format_time(u->updated, updated, sizeof(updated));
	if (l->json) {
		printf("%s{\"login\":", l->n ? "," : "");
		util_json_print(stdout, u->login);
		printf(",\"locked\":%s,\"iterations\":%u,\"created\":\"%s\",\"updated\":\"%s\"}",
		       u->locked ? "true" : "false", u->iterations, created, updated);
	} else {
		printf("%-32s %-6s %10u  %s  %s\n", u->login, u->locked ? "locked" : "active",
		       u->iterations, created, updated);
	}
	l->n++;
}

/* The listing; st NULL = no store file yet (no users). */
static int cmd_list(struct user_cli *x)
{
	struct list_ctx l = {.json = x->json};
	if (x->json)
		printf("[");
	else
		printf("%-32s %-6s %10s  %-20s  %s\n", "LOGIN", "STATE", "ITERATIONS", "CREATED",
		       "UPDATED");
	if (x->st && auth_store_list(x->st, print_user, &l) < 0) {
		if (x->json)
			printf("]\n");
		return store_failed(x);
	}
	if (x->json)
		printf("]\n");
	return CLI_OK;
}

static int cmd_other(struct user_cli *x)
{
	if (!strcmp(x->cmd, "list"))
		return cmd_list(x);
	if (!x->st) /* no store file: nobody to change */
		return change_result(x, 1, "");
	if (!strcmp(x->cmd, "del"))
		return change_result(x, auth_store_del(x->st, x->login), "deleted");
	int lock = !strcmp(x->cmd, "lock");
	return change_result(x, auth_store_lock(x->st, x->login, lock),
			     lock ? "locked" : "unlocked");
}

/* Open the store (add makes it; the others leave a missing file missing: x->st stays NULL). */
static int open_store(struct user_cli *x)
{
	char err[512];
	struct stat sb;
	int create = !strcmp(x->cmd, "add");
	if (!create && stat(x->db_path, &sb) < 0 && errno == ENOENT)
		return 0;
	if (!(x->st = auth_store_open(x->db_path, create, err, sizeof(err)))) {
		fprintf(stderr, "relayguard: %s\n", err);
		return -1;
	}
	return 0;
}

static int known_command(const char *cmd)
{
	static const char *const cmds[] = {"add", "passwd", "del", "list", "lock", "unlock"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i]))
			return 1;
	return 0;
}

int auth_user_cli(int argc, char **argv, const char *default_conf)
{
	struct user_cli x = {.conf_path = default_conf, .iterations = CLI_DEFAULT_ITERATIONS};
	struct conf *c;
	char err[1024];
	if (argc < 1 || !known_command(argv[0]))
		return user_usage();
	x.cmd = argv[0];
	if (parse_args(&x, argc, argv) < 0)
		return CLI_ERROR;
	if (conf_load(x.conf_path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return CLI_ERROR;
	}
	x.db_path = c->auth_database;
	int rc = CLI_ERROR;
	if (open_store(&x) == 0) {
		int secret = !strcmp(x.cmd, "add") || (!strcmp(x.cmd, "passwd") && x.st);
		rc = secret ? cmd_secret(&x) : cmd_other(&x);
	}
	auth_store_close(x.st);
	conf_free(c);
	return rc;
}
