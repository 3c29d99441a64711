/* io.c — writes that finish (short writes and EINTR are retried), and mkdir -p. */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int util_write_all(int fd, const void *buf, size_t len, long long off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int util_mkdirs(const char *dir, mode_t mode)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(p))
		return errno = n ? ENAMETOOLONG : ENOENT, -1;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/' || s[-1] == '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int util_mkdirs_for(const char *file, mode_t mode)
{
	char dir[PATH_MAX];
	size_t n = strlen(file);
	if (n >= sizeof(dir))
		return errno = ENAMETOOLONG, -1;
	memcpy(dir, file, n + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	return util_mkdirs(dir, mode);
}
