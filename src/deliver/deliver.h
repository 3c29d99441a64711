/* deliver.h — final delivery. This issue: Maildir for local users. */
#ifndef RG_DELIVER_H
#define RG_DELIVER_H

#include <stddef.h>
#include <stdint.h>

/* The source of a message body: bytes [off, off+len) of fd (read with pread/copy_file_range,
 * so several threads may read one file). */
struct deliver_body {
	int fd;
	uint64_t off, len;
};

/* Deliver to <root>/<user>/Maildir, creating the Maildir if needed. name is the unique file
 * name (the caller derives it from the queue ID and recipient, so a retry reuses it); prefix
 * holds header lines written before the body (Return-Path, Delivered-To). The message is
 * written with LF line ends (Maildir's local form); on return 0 its data is fsync'd and it has
 * been renamed from tmp/ to new/ — durable once maildir_sync of that Maildir returns 0, which
 * the caller runs once for every batch of deliveries to it (group commit of new/).
 * When check_existing is set (a redelivery after a crash) and a file of that name is already
 * in new/ or cur/, nothing is written and 0 is returned: delivery happens exactly once.
 * Returns 0 or -1 with err set. Thread-safe. */
int maildir_deliver(const char *root, const char *user, const char *name, const char *prefix,
		    size_t prefixlen, const struct deliver_body *body, int check_existing,
		    char *err, size_t errlen);

/* fsync <root>/<user>/Maildir/new: makes every rename into it done before the call durable.
 * 0, or -1 with err set. Thread-safe. */
int maildir_sync(const char *root, const char *user, char *err, size_t errlen);

#endif
