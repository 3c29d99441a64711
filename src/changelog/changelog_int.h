/* changelog_int.h — shared by the files of src/changelog. */
#ifndef RG_CHANGELOG_INT_H
#define RG_CHANGELOG_INT_H

#include <stddef.h>

/* Read a whole file of at most max bytes into *out (malloc'd, NUL-terminated). 0 or -errno
 * (-EFBIG when larger). */
int changelog_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
