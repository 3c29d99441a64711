/* append.c — adding a record to the changelog: the state directory, the copy of each recorded
 * config under configs/, the last record read back under an exclusive flock (a server and a
 * `check --record` may append at the same time), one O_APPEND write, fdatasync. */
#include "changelog.h"
#include "changelog_int.h"

#include "../conf/conf.h"
#include "../util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void name_of_uid(long uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (uid >= 0 && getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, len, "%s", res->pw_name);
	else if (uid >= 0)
		snprintf(out, len, "%ld", uid);
	else
		snprintf(out, len, "SIGHUP");
}

/* A user name as recorded: printable ASCII only, so a claim cannot forge a line. */
static void copy_name(char *out, size_t len, const char *in)
{
	size_t n = 0;
	while (in && in[n] && n + 1 < len) {
		unsigned char ch = (unsigned char)in[n];
		out[n++] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = '\0';
}

void changelog_who_uid(struct changelog_who *w, long uid, const char *sudo_user)
{
	w->uid = uid;
	name_of_uid(uid, w->user, sizeof(w->user));
	copy_name(w->sudo_user, sizeof(w->sudo_user), sudo_user);
}

void changelog_who_self(struct changelog_who *w)
{
	changelog_who_uid(w, (long)getuid(), getenv("SUDO_USER"));
}

int changelog_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *buf = malloc(max + 1);
	size_t n = 0;
	ssize_t r = 1;
	while (buf && n <= max && (r = read(fd, buf + n, max + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
		if (n == max + 1)
			break;
	}
	int err = !buf ? -ENOMEM : r < 0 ? -errno : n > max ? -EFBIG : 0;
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* configs/HASH: written once (temporary file, fsync, rename). */
static int keep_config(const char *dir, const char *hash, const char *text, size_t len)
{
	char path[1200], tmp[1300];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, hash);
	if (stat(path, &st) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, hash, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = util_write_all(fd, text, len, -1);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* What the log says so far: the next id, the last hash, the last config's hash. */
struct tail {
	unsigned long next_id;
	char prev[CHANGELOG_HEX];
	char last_sha[CHANGELOG_HEX]; /* "" when unknown */
	int need_lf;		      /* the file ends inside a record */
	int damaged;		      /* the last line is not a good record */
};

/* Count the lines of the log (the slow path, for a damaged tail). */
static unsigned long count_lines(int fd)
{
	char buf[65536];
	unsigned long n = 0;
	off_t off = 0;
	ssize_t r;
	while ((r = pread(fd, buf, sizeof(buf), off)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
		off += r;
	}
	return n;
}

/* The last complete line of the window [0, w) that ends the file, or -1 when it does not fit. */
static int last_line(const char *buf, size_t end, int from_start, size_t *start)
{
	if (end == 0)
		return -1;
	size_t s = end - 1;
	while (s > 0 && buf[s - 1] != '\n')
		s--;
	if (s == 0 && !from_start)
		return -1;
	*start = s;
	return 0;
}

static int read_tail(int fd, struct tail *t)
{
	struct stat st;
	memset(t, 0, sizeof(*t));
	t->next_id = 1;
	memset(t->prev, '0', 64);
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	size_t w = (size_t)st.st_size < CHANGELOG_RECORD_MAX + 2 ? (size_t)st.st_size
								 : CHANGELOG_RECORD_MAX + 2;
	char *buf = malloc(w);
	if (!buf)
		return -ENOMEM;
	ssize_t r = pread(fd, buf, w, st.st_size - (off_t)w);
	if (r != (ssize_t)w) {
		free(buf);
		return r < 0 ? -errno : -EIO;
	}
	t->need_lf = buf[w - 1] != '\n';
	size_t end = w, start = 0;
	while (t->need_lf && end > 0 && buf[end - 1] != '\n')
		end--;
	struct changelog_record rec = {0};
	char why[160];
	int found = last_line(buf, end, (size_t)st.st_size == w, &start) == 0;
	if (found && changelog_parse(buf + start, end - 1 - start, &rec, why, sizeof(why)) == 0) {
		t->next_id = rec.id + 1 + (unsigned long)t->need_lf;
		memcpy(t->prev, rec.hash, CHANGELOG_HEX);
		memcpy(t->last_sha, rec.sha256, CHANGELOG_HEX);
		t->damaged = t->need_lf;
	} else {
		t->damaged = 1;
		t->next_id = count_lines(fd) + (unsigned long)t->need_lf + 1;
		if (found)
			changelog_sha256_hex(buf + start, end - 1 - start, t->prev);
	}
	changelog_record_clear(&rec);
	free(buf);
	return 0;
}

/* Bytes that are not UTF-8 (a path is any bytes) become '?': the JSON of the record would
 * carry them as U+FFFD, and the record would not read back as the same bytes. */
static void make_utf8(char *s)
{
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		size_t n = *p < 0x80		      ? 1
			   : *p >= 0xc2 && *p <= 0xdf ? 2
			   : *p >= 0xe0 && *p <= 0xef ? 3
			   : *p >= 0xf0 && *p <= 0xf4 ? 4
						      : 0;
		size_t i = 1;
		while (i < n && (p[i] & 0xc0) == 0x80)
			i++;
		int over = (n == 3 && p[0] == 0xe0 && p[1] < 0xa0) ||
			   (n == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
			   (n == 4 && p[0] == 0xf0 && p[1] < 0x90) ||
			   (n == 4 && p[0] == 0xf4 && p[1] >= 0x90);
		if (n == 0 || i < n || over) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

static void fill_header(struct changelog_record *r, const struct changelog_entry *e,
			const struct tail *t, const char *sha)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	r->id = t->next_id;
	strftime(r->time, sizeof(r->time), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(r->event, sizeof(r->event), "%s", e->event);
	snprintf(r->config, sizeof(r->config), "%s", e->config_path);
	make_utf8(r->config);
	memcpy(r->sha256, sha, CHANGELOG_HEX);
	r->who = *e->who;
	snprintf(r->verdict, sizeof(r->verdict), "%s", e->verdict);
	make_utf8(r->verdict); /* snprintf may cut a character */
	memcpy(r->prev, t->prev, CHANGELOG_HEX);
	r->unchanged = t->last_sha[0] && strcmp(t->last_sha, sha) == 0;
}

/* The diff against the last recorded version (kept under configs/), or against nothing. */
static int make_diff(const char *cfgdir, const struct changelog_entry *e, const struct tail *t,
		     struct changelog_record *r)
{
	char path[1200], old_label[96], new_label[96];
	char *old = NULL;
	size_t oldlen = 0;
	snprintf(old_label, sizeof(old_label), "no earlier record");
	if (t->last_sha[0]) {
		snprintf(path, sizeof(path), "%s/%s", cfgdir, t->last_sha);
		if (changelog_read_file(path, CONF_MAX_SIZE, &old, &oldlen) == 0)
			snprintf(old_label, sizeof(old_label), "record %lu, sha256 %.12s",
				 r->id - 1, t->last_sha);
		else
			snprintf(old_label, sizeof(old_label), "sha256 %.12s, copy missing",
				 t->last_sha);
	}
	snprintf(new_label, sizeof(new_label), "record %lu, sha256 %.12s", r->id, r->sha256);
	int rc = changelog_diff(old, oldlen, e->text, e->text_len, r->config, old_label, new_label,
				&r->diff, &r->diff_len);
	free(old);
	return rc;
}

/* One write: a LF that ends a torn record first, then the line and its LF; then fdatasync. */
static int write_record(int fd, const struct tail *t, char *line, size_t len)
{
	int rc = 0;
	if (t->need_lf)
		rc = util_write_all(fd, "\n", 1, -1);
	line[len] = '\n'; /* formatted lines have their NUL there: room for the LF */
	if (rc == 0)
		rc = util_write_all(fd, line, len + 1, -1);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	return rc;
}

/* Under the lock: read the tail, build, write. */
static int append_locked(int fd, const char *cfgdir, const struct changelog_entry *e,
			 const char *sha, unsigned long *id, const char **what)
{
	struct tail t;
	struct changelog_record r = {0}, back = {0};
	char *line = NULL, why[160];
	size_t len;
	int rc = read_tail(fd, &t);
	*what = "cannot read";
	if (rc < 0)
		return rc;
	fill_header(&r, e, &t, sha);
	*what = "cannot diff the config for";
	if (!r.unchanged && make_diff(cfgdir, e, &t, &r) < 0)
		rc = -ENOMEM;
	*what = "cannot format a record for";
	if (rc == 0 && changelog_format(&r, &line, &len) < 0)
		rc = -EINVAL;
	*what = "a record that would not read back, not written, for";
	if (rc == 0 && changelog_parse(line, len, &back, why, sizeof(why)) < 0)
		rc = -EINVAL;
	changelog_record_clear(&back);
	*what = "cannot write";
	if (rc == 0)
		rc = write_record(fd, &t, line, len);
	if (rc == 0)
		*id = r.id;
	if (rc == 0 && t.damaged)
		log_msg(LOG_WARN, "changelog: appended after a damaged record",
			"record=%lu hint=\"relayguard changelog --verify\"", r.id);
	free(line);
	changelog_record_clear(&r);
	return rc;
}

int changelog_append(const char *state_dir, const struct changelog_entry *e, unsigned long *id,
		     char *err, size_t errlen)
{
	char cfgdir[1100], logpath[1100], sha[CHANGELOG_HEX];
	const char *what = "cannot create";
	int rc;
	if (snprintf(cfgdir, sizeof(cfgdir), "%s/" CHANGELOG_CONFIGS, state_dir) >=
		(int)sizeof(cfgdir) ||
	    strlen(e->config_path) >= sizeof(((struct changelog_record *)0)->config)) {
		snprintf(err, errlen, "%s: path too long", state_dir);
		return -1;
	}
	snprintf(logpath, sizeof(logpath), "%s/" CHANGELOG_FILE, state_dir);
	changelog_sha256_hex(e->text, e->text_len, sha);
	if ((rc = util_mkdirs(cfgdir, 0700) < 0 ? -errno : 0) < 0 ||
	    (rc = keep_config(cfgdir, sha, e->text, e->text_len)) < 0) {
		snprintf(err, errlen, "%s: cannot keep the config: %s", cfgdir, strerror(-rc));
		return -1;
	}
	int fd = open(logpath, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", logpath, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rc = append_locked(fd, cfgdir, e, sha, id, &what);
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s: %s", logpath, what, strerror(-rc));
		return -1;
	}
	return 0;
}
