/* changelog.h — the config changelog: an append-only, hash-chained log of every configuration
 * the server started with, reloaded, or that `relayguard check --record` looked at, with who
 * did it, the audit verdict and a unified diff against the previous recorded version.
 *
 * The log is STATE_DIR/config-changelog, one JSON object per line, keys in a fixed order:
 *   {"id":N,"time":"…Z","event":"start|reload|check","config":PATH,"sha256":HEX,"uid":N,
 *    "user":NAME,"sudo_user":NAME,"verdict":TEXT,"unchanged":BOOL,"diff":TEXT|null,
 *    "prev":HEX,"hash":HEX}
 * "hash" is the SHA-256 of the line's bytes before ',"hash":'; "prev" is the previous record's
 * hash (64 zeros for the first). Every recorded config is kept as STATE_DIR/configs/SHA256 so
 * the next record can be diffed against it. */
#ifndef RG_CHANGELOG_H
#define RG_CHANGELOG_H

#include <stddef.h>

#define CHANGELOG_FILE "config-changelog"
#define CHANGELOG_CONFIGS "configs"
/* A diff longer than this is cut (at a line) with a note; the versions stay under configs/. */
#define CHANGELOG_DIFF_MAX (256 * 1024)
/* A line longer than this is not a record (an escaped, cut diff fits with room to spare). */
#define CHANGELOG_RECORD_MAX (2 * 1024 * 1024)
/* `relayguard changelog` reads the whole log; a bigger one is refused. */
#define CHANGELOG_FILE_MAX (256 * 1024 * 1024)
#define CHANGELOG_HEX 65 /* a SHA-256 in hex, NUL included */

/* Who loaded a config: uid -1 for a reload by SIGHUP (the sender is not known). */
struct changelog_who {
	long uid;
	char user[64];	    /* the uid's name, or the number when it has none */
	char sudo_user[64]; /* SUDO_USER of the caller, "" when none */
};

struct changelog_record {
	unsigned long id; /* 1, 2, … : the record's line number */
	char time[24];	  /* UTC, "2024-05-01T12:00:00Z" */
	char event[16];	  /* "start", "reload", "check" */
	char config[1024];
	char sha256[CHANGELOG_HEX]; /* of the config bytes */
	struct changelog_who who;
	char verdict[256]; /* "clean", "3 findings", "open relay (override: REASON)" */
	int unchanged;	   /* same sha256 as the record before: no diff */
	char *diff;	   /* unified diff, NUL-terminated; NULL when unchanged. Owned. */
	size_t diff_len;
	char prev[CHANGELOG_HEX];
	char hash[CHANGELOG_HEX];
};

/* Free r->diff (r itself is the caller's). */
void changelog_record_clear(struct changelog_record *r);

/* ---- pure ---- */

/* SHA-256 of data as lower-case hex into out. */
void changelog_sha256_hex(const void *data, size_t len, char out[CHANGELOG_HEX]);

/* Compute r->hash and render r as one line (no LF) into *line (malloc'd, caller frees).
 * 0, or -1 (out of memory, or a field that is not valid: event, hashes). */
int changelog_format(struct changelog_record *r, char **line, size_t *len);

/* Parse one line (no LF) into r (clear it with changelog_record_clear even on error) and check
 * its own hash. 0, or -1 with why ("bad JSON at byte 17", "hash mismatch"). */
int changelog_parse(const char *line, size_t len, struct changelog_record *r, char *why,
		    size_t whylen);

/* The chain so far: records seen and the hash of the last. Start zeroed. */
struct changelog_chain {
	unsigned long n;
	char last[CHANGELOG_HEX];
};
/* Does r follow the chain (id n+1, prev = the last hash)? 0 and the chain moves on, or -1. */
int changelog_chain_next(struct changelog_chain *ch, const struct changelog_record *r, char *why,
			 size_t whylen);

/* Verify a whole log: every line parses and follows the chain; a last line without LF is an
 * "incomplete record". fn (may be NULL) gets each good record in order; it returns non-zero to
 * stop. Returns the number of good records; *bad is 0, or the 1-based number of the first
 * broken record with why set. */
unsigned long changelog_verify(const char *data, size_t len,
			       int (*fn)(void *arg, const struct changelog_record *r), void *arg,
			       unsigned long *bad, char *why, size_t whylen);

/* The unified diff from old to new (either may be empty), headed "--- NAME (OLD_LABEL)" and
 * "+++ NAME (NEW_LABEL)", cut at CHANGELOG_DIFF_MAX with a note. *out is
 * malloc'd and NUL-terminated ("" when there is no difference). 0 or -1. Pure (libgit2's
 * xdiff on two buffers). */
int changelog_diff(const char *old, size_t oldlen, const char *new, size_t newlen, const char *name,
		   const char *old_label, const char *new_label, char **out, size_t *outlen);
/* Lines added and removed by a unified diff (header lines not counted). */
void changelog_diff_stat(const char *diff, size_t len, unsigned *added, unsigned *removed);

/* The audit verdict as recorded: "clean", "1 finding", "N findings", "open relay (override:
 * REASON)", "open relay" (override NULL). relays: battery tests an outside client passes. */
void changelog_verdict(size_t findings, size_t relays, const char *override, char *out, size_t len);

/* ---- I/O ---- */

/* The calling process: uid, its name, SUDO_USER. */
void changelog_who_self(struct changelog_who *w);
/* A peer's uid (control socket): name looked up, sudo_user from the client's claim or NULL. */
void changelog_who_uid(struct changelog_who *w, long uid, const char *sudo_user);

struct changelog_entry {
	const char *event; /* "start", "reload", "check" */
	const char *config_path;
	const char *text; /* the config bytes loaded */
	size_t text_len;
	const struct changelog_who *who;
	const char *verdict;
};

/* Append a record for e to STATE_DIR/config-changelog (created with STATE_DIR and configs/,
 * mode 0700/0600): flock, read the last record, keep the config under configs/, diff, write
 * with O_APPEND, fdatasync. A damaged tail is not repaired: the new record starts on a line
 * of its own and `relayguard changelog` reports the damage. 0 and *id, or -1 with err. */
int changelog_append(const char *state_dir, const struct changelog_entry *e, unsigned long *id,
		     char *err, size_t errlen);

/* `relayguard changelog [-c FILE] [--json] [-n N] [--diff ID] [--verify]` (argv after the
 * subcommand). 0, 1 (no such record), 2 (usage, config, unreadable log), 3 (corrupt log). */
int changelog_cli(int argc, char **argv, const char *default_conf);

#endif
