/* privsep.c — privilege separation for `serve`: started as root, the server creates what it
 * needs (directories owned by the service user, the sockets bound) and then becomes that user
 * for good, keeping only CAP_NET_BIND_SERVICE. Started as anyone else it changes nothing. */
#include "server_int.h"

#include "../util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a path the server writes needs before the drop. */
enum own_kind {
	OWN_DIR,       /* a directory of relayguard's alone: created, and given to the user */
	OWN_DIR_FILES, /* the same, and the files directly inside it (the spool) */
	OWN_STATE,     /* OWN_DIR_FILES, and its configs/ directory with its files (state-dir:
			  the changelog and the versions it diffs against) */
	OWN_PARENTS,   /* a file: the missing directories above it are created for the user */
	OWN_DB,	       /* an SQLite file: its directory is relayguard's alone (OWN_DIR; SQLite
			  writes its -wal and -shm there), the file and those two are given too */
};

struct owned_path {
	const char *what; /* the directive, for errors */
	const char *path;
	enum own_kind kind;
};

/* Every path the running server writes. */
static size_t owned_paths(const struct conf *c, struct owned_path *out)
{
	size_t n = 0;
	out[n++] = (struct owned_path){"spool", c->spool_dir, OWN_DIR_FILES};
	out[n++] = (struct owned_path){"mail-root", c->mail_root, OWN_DIR};
	out[n++] = (struct owned_path){"control-socket", c->control_socket, OWN_PARENTS};
	out[n++] = (struct owned_path){"auth-database", c->auth_database, OWN_DB};
	out[n++] = (struct owned_path){"state-dir", c->state_dir, OWN_STATE};
	if (c->abuse_store.backend == CONF_ABUSE_SQLITE)
		out[n++] = (struct owned_path){"abuse-store", c->abuse_store.path, OWN_DB};
	return n;
}
#define OWNED_MAX 8

/* Look the user up (getpwnam_r with a bounded buffer). 0, or -1 with err set. */
static int privsep_lookup(struct privsep *ps, const struct conf *c, char *err, size_t errlen)
{
	char buf[16384];
	struct passwd pw, *res = NULL;
	int rc = getpwnam_r(c->run_user, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen,
			 "user %s: %s; create it (`make install` or `scripts/deps.sh build` do: "
			 "useradd --system --home-dir /nonexistent --no-create-home --shell "
			 "/usr/sbin/nologin --user-group %s), or name another one with 'user NAME' "
			 "in %s",
			 c->run_user, rc ? strerror(rc) : "no such user", c->run_user, c->path);
		return -1;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		snprintf(err, errlen, "user %s: has uid or gid 0; name an unprivileged user in %s",
			 c->run_user, c->path);
		return -1;
	}
	ps->uid = pw.pw_uid;
	ps->gid = pw.pw_gid;
	util_strlcpy(ps->user, c->run_user, sizeof(ps->user));
	return 0;
}

/* Create dir if missing, for the user; with own, give an existing one to the user too. */
static int own_dir(const struct privsep *ps, const char *dir, int own)
{
	if (mkdir(dir, 0700) == 0)
		own = 1;
	else if (errno != EEXIST)
		return -1;
	if (!own)
		return 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fchown(fd, ps->uid, ps->gid);
	close(fd);
	return rc;
}

/* Is dir the directory of the config file? (Both may be relative.) */
static int holds_config(const char *dir, const char *conf_path)
{
	char cdir[PATH_MAX];
	const char *slash = strrchr(conf_path, '/');
	if (!slash)
		util_strlcpy(cdir, ".", sizeof(cdir));
	else
		snprintf(cdir, sizeof(cdir), "%.*s",
			 slash == conf_path ? 1 : (int)(slash - conf_path), conf_path);
	struct stat a, b;
	return stat(dir, &a) == 0 && stat(cdir, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* The SQLite file and its -wal and -shm, where they exist (made by `relayguard user` as root). */
static int own_db_files(const struct privsep *ps, const struct owned_path *o, char *err,
			size_t errlen)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[PATH_MAX];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", o->path, suffix[i]);
		if (fchownat(AT_FDCWD, p, ps->uid, ps->gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT) {
			snprintf(err, errlen, "%s %s: cannot give %s to user %s: %s", o->what,
				 o->path, p, ps->user, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* mkdir -p path (without its last component when kind is OWN_PARENTS); every directory made
 * here belongs to the user, and so does the last one of an OWN_DIR. */
static int own_path_dirs(const struct privsep *ps, const struct owned_path *o,
			 const char *conf_path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	if (util_strlcpy(dir, o->path, sizeof(dir)) >= sizeof(dir)) {
		snprintf(err, errlen, "%s %s: path too long", o->what, o->path);
		return -1;
	}
	if (o->kind == OWN_PARENTS || o->kind == OWN_DB) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return 0; /* in the working directory, or in /: never given away */
		*slash = '\0';
	}
	for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (own_dir(ps, dir, 0) < 0)
			goto fail; /* the error names this directory */
		*p = '/';
	}
	if (o->kind != OWN_PARENTS && holds_config(dir, conf_path)) {
		snprintf(err, errlen,
			 "%s %s: %s also holds the config file %s: it would be given to user %s, "
			 "who could then change the config; use a directory of its own",
			 o->what, o->path, dir, conf_path, ps->user);
		return -1;
	}
	if (own_dir(ps, dir, o->kind != OWN_PARENTS) == 0)
		return 0;
fail:
	snprintf(err, errlen, "%s %s: cannot create or give %s to user %s: %s", o->what, o->path,
		 dir, ps->user, strerror(errno));
	return -1;
}

/* The regular files directly inside dir (segments, lock of a spool written by root before)
 * become the user's. Symbolic links and subdirectories are left alone. */
static int own_files_in(const struct privsep *ps, const struct owned_path *o, char *err,
			size_t errlen)
{
	int fd = open(o->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s %s: %s", o->what, o->path, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct stat st;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || (st.st_uid == ps->uid && st.st_gid == ps->gid))
			continue;
		if ((rc = fchownat(dirfd(d), e->d_name, ps->uid, ps->gid, AT_SYMLINK_NOFOLLOW)) < 0)
			snprintf(err, errlen, "%s %s: cannot give %s to user %s: %s", o->what,
				 o->path, e->d_name, ps->user, strerror(errno));
	}
	closedir(d);
	return rc;
}

/* STATE_DIR/configs, when it exists (a `check --record` run by root made it): the directory
 * and its files. */
static int own_state_configs(const struct privsep *ps, const struct owned_path *o, char *err,
			     size_t errlen)
{
	char sub[PATH_MAX];
	struct stat st;
	if ((size_t)snprintf(sub, sizeof(sub), "%s/configs", o->path) >= sizeof(sub)) {
		snprintf(err, errlen, "%s %s: path too long", o->what, o->path);
		return -1;
	}
	if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (fchownat(AT_FDCWD, sub, ps->uid, ps->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s %s: cannot give it to user %s: %s", o->what, sub,
			 ps->user, strerror(errno));
		return -1;
	}
	struct owned_path configs = {o->what, sub, OWN_DIR_FILES};
	return own_files_in(ps, &configs, err, errlen);
}

int privsep_prepare(struct privsep *ps, const struct conf *c, char *err, size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	if (geteuid() != 0) {
		char buf[16384];
		struct passwd pw, *me = NULL;
		getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &me);
		if (!me || strcmp(me->pw_name, c->run_user) != 0)
			log_msg(LOG_INFO, "server: not started as root: 'user' is not used",
				"user=%s uid=%ld configured=%s", me ? me->pw_name : "?",
				(long)geteuid(), c->run_user);
		return 0;
	}
	if (privsep_lookup(ps, c, err, errlen) < 0)
		return -1;
	struct owned_path o[OWNED_MAX];
	size_t n = owned_paths(c, o);
	for (size_t i = 0; i < n; i++) {
		if (own_path_dirs(ps, &o[i], c->path, err, errlen) < 0)
			return -1;
		if ((o[i].kind == OWN_DIR_FILES || o[i].kind == OWN_STATE) &&
		    own_files_in(ps, &o[i], err, errlen) < 0)
			return -1;
		if (o[i].kind == OWN_STATE && own_state_configs(ps, &o[i], err, errlen) < 0)
			return -1;
		if (o[i].kind == OWN_DB && own_db_files(ps, &o[i], err, errlen) < 0)
			return -1;
	}
	ps->drop = 1;
	return 0;
}

int privsep_chown(const struct privsep *ps, const char *path, char *err, size_t errlen)
{
	if (!ps->drop || fchownat(AT_FDCWD, path, ps->uid, ps->gid, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(err, errlen, "%s: cannot give it to user %s: %s", path, ps->user, strerror(errno));
	return -1;
}

/* Groups, gid, uid: all of real, effective and saved, so root cannot come back. Capabilities
 * survive setuid (PR_SET_KEEPCAPS) until keep_bind_cap trims them. */
static int drop_ids(const struct privsep *ps, char *err, size_t errlen)
{
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == 0 && initgroups(ps->user, ps->gid) == 0 &&
	    setresgid(ps->gid, ps->gid, ps->gid) == 0 &&
	    setresuid(ps->uid, ps->uid, ps->uid) == 0 &&
	    prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) == 0)
		return 0;
	snprintf(err, errlen, "cannot become user %s (uid %ld gid %ld): %s", ps->user,
		 (long)ps->uid, (long)ps->gid, strerror(errno));
	return -1;
}

/* The one capability kept (permitted and effective; nothing inheritable, so no ambient set):
 * binding ports below 1024, for a reload that adds such a listener. */
static cap_t bind_caps(void)
{
	cap_value_t keep[] = {CAP_NET_BIND_SERVICE};
	cap_t caps = cap_init();
	if (caps && (cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) < 0 ||
		     cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) < 0)) {
		cap_free(caps);
		return NULL;
	}
	return caps;
}

/* Before the switch: no other capability can ever come back through an exec either. */
static void drop_bounding_set(void)
{
	for (cap_value_t v = 0; v < (cap_value_t)cap_max_bits(); v++)
		if (v != CAP_NET_BIND_SERVICE && cap_drop_bound(v) < 0 && errno != EINVAL) {
			log_msg(LOG_WARN, "server: cannot shrink the capability bounding set",
				"cap=%d error=\"%s\"", (int)v, strerror(errno));
			return;
		}
}

static int keep_bind_cap(char *err, size_t errlen)
{
	cap_t caps = bind_caps();
	if (caps && cap_set_proc(caps) == 0) {
		cap_free(caps);
		return 0;
	}
	snprintf(err, errlen, "cannot keep CAP_NET_BIND_SERVICE: %s", strerror(errno));
	if (caps)
		cap_free(caps);
	return -1;
}

/* Trust, but verify: every id is the user's, root cannot be had back, one capability left. */
static int verify_drop(const struct privsep *ps, char *err, size_t errlen)
{
	uid_t ru = (uid_t)-1, eu = (uid_t)-1, su = (uid_t)-1;
	gid_t rg = (gid_t)-1, eg = (gid_t)-1, sg = (gid_t)-1;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != ps->uid ||
	    eu != ps->uid || su != ps->uid || rg != ps->gid || eg != ps->gid || sg != ps->gid) {
		snprintf(err, errlen, "dropping root failed: uids %ld/%ld/%ld gids %ld/%ld/%ld",
			 (long)ru, (long)eu, (long)su, (long)rg, (long)eg, (long)sg);
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "dropping root failed: root can be regained");
		return -1;
	}
	cap_t want = bind_caps(), have = cap_get_proc();
	int same = want && have && cap_compare(want, have) == 0;
	cap_free(want);
	cap_free(have);
	if (!same) {
		snprintf(err, errlen,
			 "dropping root failed: capabilities other than "
			 "CAP_NET_BIND_SERVICE remain");
		return -1;
	}
	return 0;
}

/* A path the server writes, checked as the user now: an absolute path under a directory the
 * user cannot search is a start error, not a failure at the first message. */
static int check_usable(const struct privsep *ps, const char *what, const char *path, char *err,
			size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && faccessat(fd, ".", W_OK | X_OK, 0) == 0) {
		close(fd);
		return 0;
	}
	int saved = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen,
		 "%s %s: not usable as user %s: %s (every directory above it must be "
		 "searchable by that user; or use a path relative to the working directory)",
		 what, path, ps->user, strerror(saved));
	return -1;
}

static int check_access(const struct privsep *ps, const struct conf *c, char *err, size_t errlen)
{
	if (check_usable(ps, "spool", c->spool_dir, err, errlen) < 0)
		return -1;
	if (c->local_delivery == CONF_LOCAL_MAILDIR &&
	    check_usable(ps, "mail-root", c->mail_root, err, errlen) < 0)
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

int privsep_drop(struct privsep *ps, const struct conf *c, char *err, size_t errlen)
{
	if (!ps->drop)
		return 0;
	drop_bounding_set();
	if (drop_ids(ps, err, errlen) < 0 || keep_bind_cap(err, errlen) < 0 ||
	    verify_drop(ps, err, errlen) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	log_msg(LOG_INFO, "server: running as", "user=%s uid=%ld gid=%ld", ps->user, (long)ps->uid,
		(long)ps->gid);
	return check_access(ps, c, err, errlen);
}
