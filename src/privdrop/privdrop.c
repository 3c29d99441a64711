/* privdrop.c — a daemon started as root becomes its service user for good (privdrop.h): the
 * user looked up, its directories and files given to it, then the switch, verified. */
#include "privdrop.h"

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

/* Not root: say so when the configured user is someone else (it is not used). */
static void note_not_root(const char *who, const char *user)
{
	char buf[16384], msg[64];
	struct passwd pw, *me = NULL;
	getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &me);
	if (me && strcmp(me->pw_name, user) == 0)
		return;
	snprintf(msg, sizeof(msg), "%s: not started as root: 'user' is not used", who);
	log_msg(LOG_INFO, msg, "user=%s uid=%ld configured=%s", me ? me->pw_name : "?",
		(long)geteuid(), user);
}

int privdrop_init(struct privdrop *pd, const char *who, const char *user, const char *conf_path,
		  char *err, size_t errlen)
{
	memset(pd, 0, sizeof(*pd));
	pd->who = who;
	if (geteuid() != 0) {
		note_not_root(who, user);
		return 0;
	}
	char buf[16384];
	struct passwd pw, *res = NULL;
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen,
			 "user %s: %s; create it (`make install` or `scripts/deps.sh build` do: "
			 "useradd --system --home-dir /nonexistent --no-create-home --shell "
			 "/usr/sbin/nologin --user-group %s), or name another one with 'user NAME' "
			 "in %s",
			 user, rc ? strerror(rc) : "no such user", user, conf_path);
		return -1;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		snprintf(err, errlen, "user %s: has uid or gid 0; name an unprivileged user in %s",
			 user, conf_path);
		return -1;
	}
	if (util_strlcpy(pd->user, user, sizeof(pd->user)) >= sizeof(pd->user)) {
		snprintf(err, errlen, "user %s: name too long", user);
		return -1;
	}
	pd->uid = pw.pw_uid;
	pd->gid = pw.pw_gid;
	pd->drop = 1;
	return 0;
}

/* Create dir if missing, for the user; with own, give an existing one to the user too. */
static int own_dir(const struct privdrop *pd, const char *dir, int own)
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
	int rc = fchown(fd, pd->uid, pd->gid);
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

/* The SQLite file and its -wal and -shm, where they exist (made by a command run as root). */
static int own_db_files(const struct privdrop *pd, const struct privdrop_path *p, char *err,
			size_t errlen)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char f[PATH_MAX];
	for (size_t i = 0; i < 3; i++) {
		if ((size_t)snprintf(f, sizeof(f), "%s%s", p->path, suffix[i]) >= sizeof(f)) {
			snprintf(err, errlen, "%s %s: path too long", p->what, p->path);
			return -1;
		}
		if (fchownat(AT_FDCWD, f, pd->uid, pd->gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != ENOENT) {
			snprintf(err, errlen, "%s %s: cannot give %s to user %s: %s", p->what,
				 p->path, f, pd->user, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* dir: p's directory (p's path, or the one holding the file); 0, or 1 when the file is in the
 * working directory or in / (never given away), or -1 when too long. */
static int path_dir(const struct privdrop_path *p, char *dir, size_t len)
{
	if (util_strlcpy(dir, p->path, len) >= len)
		return -1;
	if (p->kind == PRIVDROP_PARENTS || p->kind == PRIVDROP_DB) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			util_strlcpy(dir, slash ? "/" : ".", len);
			return 1;
		}
		*slash = '\0';
	}
	return 0;
}

/* mkdir -p p's directory; every directory made here belongs to the user, and so does the last
 * one unless p is PRIVDROP_PARENTS. */
static int own_path_dirs(const struct privdrop *pd, const struct privdrop_path *p,
			 const char *conf_path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int rc = path_dir(p, dir, sizeof(dir));
	if (rc != 0) {
		if (rc < 0)
			snprintf(err, errlen, "%s %s: path too long", p->what, p->path);
		return rc < 0 ? -1 : 0;
	}
	for (char *s = strchr(dir + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (own_dir(pd, dir, 0) < 0)
			goto fail; /* the error names this directory */
		*s = '/';
	}
	if (p->kind != PRIVDROP_PARENTS && holds_config(dir, conf_path)) {
		snprintf(err, errlen,
			 "%s %s: %s also holds the config file %s: it would be given to user %s, "
			 "who could then change the config; use a directory of its own",
			 p->what, p->path, dir, conf_path, pd->user);
		return -1;
	}
	if (own_dir(pd, dir, p->kind != PRIVDROP_PARENTS) == 0)
		return 0;
fail:
	snprintf(err, errlen, "%s %s: cannot create or give %s to user %s: %s", p->what, p->path,
		 dir, pd->user, strerror(errno));
	return -1;
}

int privdrop_own_files_in(const struct privdrop *pd, const char *what, const char *dir, char *err,
			  size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s %s: %s", what, dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct stat st;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || (st.st_uid == pd->uid && st.st_gid == pd->gid))
			continue;
		if ((rc = fchownat(dirfd(d), e->d_name, pd->uid, pd->gid, AT_SYMLINK_NOFOLLOW)) < 0)
			snprintf(err, errlen, "%s %s: cannot give %s to user %s: %s", what, dir,
				 e->d_name, pd->user, strerror(errno));
	}
	closedir(d);
	return rc;
}

int privdrop_own(const struct privdrop *pd, const struct privdrop_path *p, const char *conf_path,
		 char *err, size_t errlen)
{
	if (!pd->drop)
		return 0;
	if (own_path_dirs(pd, p, conf_path, err, errlen) < 0)
		return -1;
	if (p->kind == PRIVDROP_DIR_FILES)
		return privdrop_own_files_in(pd, p->what, p->path, err, errlen);
	if (p->kind == PRIVDROP_DB)
		return own_db_files(pd, p, err, errlen);
	return 0;
}

int privdrop_chown(const struct privdrop *pd, const char *path, char *err, size_t errlen)
{
	if (!pd->drop || fchownat(AT_FDCWD, path, pd->uid, pd->gid, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(err, errlen, "%s: cannot give it to user %s: %s", path, pd->user, strerror(errno));
	return -1;
}

/* Groups, gid, uid: all of real, effective and saved, so root cannot come back. Capabilities
 * survive setuid (PR_SET_KEEPCAPS) until set_caps trims them. */
static int drop_ids(const struct privdrop *pd, char *err, size_t errlen)
{
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == 0 && initgroups(pd->user, pd->gid) == 0 &&
	    setresgid(pd->gid, pd->gid, pd->gid) == 0 &&
	    setresuid(pd->uid, pd->uid, pd->uid) == 0 &&
	    prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) == 0)
		return 0;
	snprintf(err, errlen, "cannot become user %s (uid %ld gid %ld): %s", pd->user,
		 (long)pd->uid, (long)pd->gid, strerror(errno));
	return -1;
}

/* The capabilities kept (permitted and effective; nothing inheritable, so no ambient set):
 * binding ports below 1024 (keep_bind: serve, for a reload that adds such a listener), or
 * none at all. */
static cap_t kept_caps(int keep_bind)
{
	cap_value_t keep[] = {CAP_NET_BIND_SERVICE};
	cap_t caps = cap_init();
	if (caps && keep_bind &&
	    (cap_set_flag(caps, CAP_PERMITTED, 1, keep, CAP_SET) < 0 ||
	     cap_set_flag(caps, CAP_EFFECTIVE, 1, keep, CAP_SET) < 0)) {
		cap_free(caps);
		return NULL;
	}
	return caps;
}

/* Before the switch: no other capability can ever come back through an exec either. */
static void drop_bounding_set(const struct privdrop *pd, int keep_bind)
{
	for (cap_value_t v = 0; v < (cap_value_t)cap_max_bits(); v++)
		if (!(keep_bind && v == CAP_NET_BIND_SERVICE) && cap_drop_bound(v) < 0 &&
		    errno != EINVAL) {
			char msg[80];
			snprintf(msg, sizeof(msg), "%s: cannot shrink the capability bounding set",
				 pd->who);
			log_msg(LOG_WARN, msg, "cap=%d error=\"%s\"", (int)v, strerror(errno));
			return;
		}
}

static int set_caps(int keep_bind, char *err, size_t errlen)
{
	cap_t caps = kept_caps(keep_bind);
	if (caps && cap_set_proc(caps) == 0) {
		cap_free(caps);
		return 0;
	}
	snprintf(err, errlen, "cannot %s: %s",
		 keep_bind ? "keep CAP_NET_BIND_SERVICE" : "clear the capabilities",
		 strerror(errno));
	if (caps)
		cap_free(caps);
	return -1;
}

/* Trust, but verify: every id is the user's, root cannot be had back, only what was kept. */
static int verify_drop(const struct privdrop *pd, int keep_bind, char *err, size_t errlen)
{
	uid_t ru = (uid_t)-1, eu = (uid_t)-1, su = (uid_t)-1;
	gid_t rg = (gid_t)-1, eg = (gid_t)-1, sg = (gid_t)-1;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != pd->uid ||
	    eu != pd->uid || su != pd->uid || rg != pd->gid || eg != pd->gid || sg != pd->gid) {
		snprintf(err, errlen, "dropping root failed: uids %ld/%ld/%ld gids %ld/%ld/%ld",
			 (long)ru, (long)eu, (long)su, (long)rg, (long)eg, (long)sg);
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "dropping root failed: root can be regained");
		return -1;
	}
	cap_t want = kept_caps(keep_bind), have = cap_get_proc();
	int same = want && have && cap_compare(want, have) == 0;
	cap_free(want);
	cap_free(have);
	if (!same) {
		snprintf(err, errlen, "dropping root failed: %s remain",
			 keep_bind ? "capabilities other than CAP_NET_BIND_SERVICE"
				   : "capabilities");
		return -1;
	}
	return 0;
}

int privdrop_become(struct privdrop *pd, int keep_bind, char *err, size_t errlen)
{
	if (!pd->drop)
		return 0;
	drop_bounding_set(pd, keep_bind);
	if (drop_ids(pd, err, errlen) < 0 || set_caps(keep_bind, err, errlen) < 0 ||
	    verify_drop(pd, keep_bind, err, errlen) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "%s: running as", pd->who);
	log_msg(LOG_INFO, msg, "user=%s uid=%ld gid=%ld", pd->user, (long)pd->uid, (long)pd->gid);
	return 0;
}

int privdrop_check(const struct privdrop *pd, const struct privdrop_path *p, char *err,
		   size_t errlen)
{
	char dir[PATH_MAX];
	if (!pd->drop)
		return 0;
	if (path_dir(p, dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "%s %s: path too long", p->what, p->path);
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
		 p->what, p->path, pd->user, strerror(saved));
	return -1;
}

int privdrop_store_daemon(struct privdrop *pd, const struct privdrop_path *p, const char *conf_path,
			  char *err, size_t errlen)
{
	if (privdrop_own(pd, p, conf_path, err, errlen) < 0 ||
	    privdrop_become(pd, 0, err, errlen) < 0)
		return -1;
	return privdrop_check(pd, p, err, errlen);
}
