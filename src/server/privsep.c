/* privsep.c — privilege separation for `serve`: started as root, the server creates what it
 * needs (directories owned by the service user, the sockets bound) and then becomes that user
 * for good, keeping only CAP_NET_BIND_SERVICE. Started as anyone else it changes nothing. The
 * lookup, the chowns, the switch and its check are src/privdrop's, shared with dnsbl and web;
 * what is serve's own is here: the paths it writes. */
#include "server_int.h"

#include "../util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every path the running server writes. state-dir is a PRIVDROP_DIR_FILES whose configs/
 * directory (the changelog's versions) is given too (own_state_configs). */
static size_t owned_paths(const struct conf *c, struct privdrop_path *out)
{
	size_t n = 0;
	out[n++] = (struct privdrop_path){"spool", c->spool_dir, PRIVDROP_DIR_FILES};
	out[n++] = (struct privdrop_path){"mail-root", c->mail_root, PRIVDROP_DIR};
	out[n++] = (struct privdrop_path){"control-socket", c->control_socket, PRIVDROP_PARENTS};
	out[n++] = (struct privdrop_path){"auth-database", c->auth_database, PRIVDROP_DB};
	out[n++] = (struct privdrop_path){"state-dir", c->state_dir, PRIVDROP_DIR_FILES};
	if (c->abuse_store.backend == CONF_ABUSE_SQLITE)
		out[n++] = (struct privdrop_path){"abuse-store", c->abuse_store.path, PRIVDROP_DB};
	return n;
}
#define OWNED_MAX 8

/* STATE_DIR/configs, when it exists (a `check --record` run by root made it): the directory
 * and its files. */
static int own_state_configs(const struct privdrop *ps, const char *state_dir, char *err,
			     size_t errlen)
{
	char sub[PATH_MAX];
	struct stat st;
	if ((size_t)snprintf(sub, sizeof(sub), "%s/configs", state_dir) >= sizeof(sub)) {
		snprintf(err, errlen, "state-dir %s: path too long", state_dir);
		return -1;
	}
	if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (fchownat(AT_FDCWD, sub, ps->uid, ps->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "state-dir %s: cannot give it to user %s: %s", sub, ps->user,
			 strerror(errno));
		return -1;
	}
	return privdrop_own_files_in(ps, "state-dir", sub, err, errlen);
}

int privsep_prepare(struct privdrop *ps, const struct conf *c, char *err, size_t errlen)
{
	if (privdrop_init(ps, "server", c->run_user, c->path, err, errlen) < 0)
		return -1;
	if (!ps->drop)
		return 0;
	struct privdrop_path o[OWNED_MAX];
	size_t n = owned_paths(c, o);
	for (size_t i = 0; i < n; i++)
		if (privdrop_own(ps, &o[i], c->path, err, errlen) < 0)
			return -1;
	return own_state_configs(ps, c->state_dir, err, errlen);
}

/* The spool and mail root, checked as the user now: an absolute path under a directory the
 * user cannot search is a start error, not a failure at the first message. */
static int check_access(const struct privdrop *ps, const struct conf *c, char *err, size_t errlen)
{
	struct privdrop_path spool = {"spool", c->spool_dir, PRIVDROP_DIR};
	struct privdrop_path mail = {"mail-root", c->mail_root, PRIVDROP_DIR};
	if (privdrop_check(ps, &spool, err, errlen) < 0)
		return -1;
	if (c->local_delivery == CONF_LOCAL_MAILDIR && privdrop_check(ps, &mail, err, errlen) < 0)
		return -1;
	if (access(c->path, R_OK) < 0)
		log_msg(LOG_WARN,
			"server: the config file is not readable by the user: reload "
			"will fail",
			"config=%s user=%s error=\"%s\"", c->path, ps->user, strerror(errno));
	else if (access(c->path, W_OK) == 0)
		log_msg(LOG_WARN,
			"server: the config file is writable by the user: a start as root "
			"would trust what the user wrote there",
			"config=%s user=%s", c->path, ps->user);
	return 0;
}

int privsep_drop(struct privdrop *ps, const struct conf *c, char *err, size_t errlen)
{
	if (!ps->drop)
		return 0;
	if (privdrop_become(ps, 1, err, errlen) < 0)
		return -1;
	return check_access(ps, c, err, errlen);
}
