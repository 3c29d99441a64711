/* maildir.c — Maildir delivery: write in tmp/, fsync, rename into new/, fsync new/. */
#include "deliver.h"

#include "../util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf into a path buffer; -ENAMETOOLONG instead of a silently truncated path. */
__attribute__((format(printf, 3, 4))) static int pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Create dir if missing; a new directory's entry is made durable in its parent. */
static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) < 0)
		return errno == EEXIST ? 0 : -errno;
	char parent[PATH_MAX];
	util_strlcpy(parent, path, sizeof(parent));
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

static int ensure_maildir(const char *root, const char *user, char *md, size_t mdlen)
{
	char p[PATH_MAX];
	int rc;
	if ((rc = pathf(p, sizeof(p), "%s/%s", root, user)) < 0 || (rc = ensure_dir(root)) < 0 ||
	    (rc = ensure_dir(p)) < 0 || (rc = pathf(md, mdlen, "%s/Maildir", p)) < 0)
		return rc;
	static const char *const sub[] = {"", "/tmp", "/new", "/cur"};
	for (size_t i = 0; i < 4; i++)
		if ((rc = pathf(p, sizeof(p), "%s%s", md, sub[i])) < 0 || (rc = ensure_dir(p)) < 0)
			return rc;
	return 0;
}

/* Is name already in new/, or in cur/ (where a reader adds ":2,FLAGS")? */
static int already_delivered(const char *md, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	if (pathf(p, sizeof(p), "%s/new/%s", md, name) == 0 && stat(p, &st) == 0)
		return 1;
	DIR *d = pathf(p, sizeof(p), "%s/cur", md) == 0 ? opendir(p) : NULL;
	size_t n = strlen(name);
	int found = 0;
	for (struct dirent *e; d && !found && (e = readdir(d));)
		found = strncmp(e->d_name, name, n) == 0 && (e->d_name[n] == ':' || !e->d_name[n]);
	if (d)
		closedir(d);
	return found;
}

/* Maildir files hold the message in local form: LF line ends. The spool holds CR LF only
 * (a bare CR was refused or normalised at DATA), so dropping every CR is exact. */
static int copy_body(int out, const struct deliver_body *b)
{
	char in[64 * 1024];
	uint64_t off = b->off, left = b->len;
	while (left > 0) {
		ssize_t n = pread(b->fd, in, left < sizeof(in) ? left : sizeof(in), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint64_t)n;
		left -= (uint64_t)n;
		size_t o = 0;
		for (ssize_t i = 0; i < n; i++)
			if (in[i] != '\r')
				in[o++] = in[i];
		int rc = util_write_all(out, in, o, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int write_file(const char *tmp, const char *prefix, size_t prefixlen,
		      const struct deliver_body *body)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = util_write_all(fd, prefix, prefixlen, -1);
	if (rc == 0)
		rc = copy_body(fd, body);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int maildir_sync(const char *root, const char *user, char *err, size_t errlen)
{
	char p[PATH_MAX];
	int rc = pathf(p, sizeof(p), "%s/%s/Maildir/new", root, user);
	int fd = rc == 0 ? open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd < 0 && rc == 0)
		rc = -errno;
	if (fd >= 0) {
		rc = fsync(fd) < 0 ? -errno : 0;
		close(fd);
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot sync new/: %s", strerror(-rc));
	return rc < 0 ? -1 : 0;
}

int maildir_deliver(const char *root, const char *user, const char *name, const char *prefix,
		    size_t prefixlen, const struct deliver_body *body, int check_existing,
		    char *err, size_t errlen)
{
	char md[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX];
	int rc = ensure_maildir(root, user, md, sizeof(md));
	const char *what = "cannot create Maildir";
	if (rc == 0 && check_existing && already_delivered(md, name))
		return 0;
	if (rc == 0 && ((rc = pathf(tmp, sizeof(tmp), "%s/tmp/%s", md, name)) < 0 ||
			(rc = pathf(dst, sizeof(dst), "%s/new/%s", md, name)) < 0))
		what = "path too long";
	if (rc == 0) {
		what = "cannot write message";
		rc = write_file(tmp, prefix, prefixlen, body);
	}
	if (rc == 0) {
		what = "cannot move message into new/";
		rc = rename(tmp, dst) < 0 ? -errno : 0;
		if (rc < 0)
			unlink(tmp);
	}
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", what, strerror(-rc));
	return rc < 0 ? -1 : 0;
}
