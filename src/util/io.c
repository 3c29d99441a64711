/* io.c — writes that finish (short writes and EINTR are retried), mkdir -p, listening sockets. */
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
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

int util_tcp_listen(const struct sockaddr *sa, socklen_t salen, int nonblock, int backlog,
		    const char *what, const char *text, char *err, size_t errlen)
{
	int one = 1;
	int fd =
	    socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: socket: %s", what, text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "%s %s: %s", what, text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
