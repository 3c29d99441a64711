/* io.c — writes that finish: short writes and EINTR are retried. */
#include "util.h"

#include <errno.h>
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
