/* diff.c — the unified diff between two recorded config versions, by libgit2 (git's xdiff on
 * two buffers, Debian libgit2-dev): no repository, no I/O. We print the hunks ourselves so the
 * headers are plain "--- / +++" lines (no "diff --git", no blob ids) and the size is bounded. */
#include "changelog.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct diff_out {
	char *p;
	size_t len, cap;
	int failed, cut;
	size_t room; /* DIFF_NOTE_ROOM once the note may use it */
};

#define DIFF_NOTE_ROOM 64 /* kept free below CHANGELOG_DIFF_MAX for the "cut" note */

static int add(struct diff_out *o, const char *s, size_t n)
{
	if (o->failed || o->cut)
		return -1;
	if (o->len + n > CHANGELOG_DIFF_MAX - DIFF_NOTE_ROOM + o->room) {
		o->cut = 1;
		return -1;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->failed = 1;
			return -1;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

/* One line of libgit2's patch: hunk headers and +/-/context lines (the file header is ours). */
static int on_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
		   const git_diff_line *line, void *arg)
{
	struct diff_out *o = arg;
	(void)delta, (void)hunk;
	switch (line->origin) {
	case GIT_DIFF_LINE_FILE_HDR:
	case GIT_DIFF_LINE_BINARY:
		return 0;
	case GIT_DIFF_LINE_CONTEXT:
	case GIT_DIFF_LINE_ADDITION:
	case GIT_DIFF_LINE_DELETION: {
		char origin = line->origin;
		if (add(o, &origin, 1) < 0)
			return -1;
		break;
	}
	default: /* hunk header, "\ No newline at end of file" */
		break;
	}
	return add(o, line->content, line->content_len) < 0 ? -1 : 0;
}

int changelog_diff(const char *old, size_t oldlen, const char *new, size_t newlen, const char *name,
		   const char *old_label, const char *new_label, char **out, size_t *outlen)
{
	struct diff_out o = {0};
	git_patch *patch = NULL;
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	char head[1536];
	opts.context_lines = 3;
	opts.flags = GIT_DIFF_FORCE_TEXT;
	if (git_libgit2_init() < 0)
		return -1;
	int rc = git_patch_from_buffers(&patch, oldlen ? old : NULL, oldlen, name,
					newlen ? new : NULL, newlen, name, &opts);
	if (rc == 0 && git_patch_num_hunks(patch) > 0) {
		int n = snprintf(head, sizeof(head), "--- %s (%s)\n+++ %s (%s)\n", name, old_label,
				 name, new_label);
		if (n < 0 || (size_t)n >= sizeof(head) || add(&o, head, (size_t)n) < 0)
			o.failed = 1;
		else
			git_patch_print(patch, on_line, &o); /* stops early when cut */
	}
	git_patch_free(patch);
	git_libgit2_shutdown();
	if (rc == 0 && o.cut && !o.failed) {
		while (o.len > 0 && o.p[o.len - 1] != '\n') /* keep whole lines */
			o.len--;
		o.cut = 0;
		char note[DIFF_NOTE_ROOM];
		int n = snprintf(note, sizeof(note), "... diff cut at %d bytes\n",
				 CHANGELOG_DIFF_MAX - DIFF_NOTE_ROOM);
		o.room = DIFF_NOTE_ROOM;
		add(&o, note, (size_t)n);
	}
	if (rc < 0 || o.failed || (!o.p && add(&o, "", 0) < 0)) {
		free(o.p);
		return -1;
	}
	*out = o.p;
	*outlen = o.len;
	return 0;
}

void changelog_diff_stat(const char *diff, size_t len, unsigned *added, unsigned *removed)
{
	size_t pos = 0;
	int in_hunk = 0; /* the "--- / +++" header comes before the first "@@" */
	*added = *removed = 0;
	while (pos < len) {
		const char *nl = memchr(diff + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (diff + pos)) : len - pos;
		const char *l = diff + pos;
		if (n >= 2 && !memcmp(l, "@@", 2))
			in_hunk = 1;
		if (in_hunk && n > 0 && l[0] == '+')
			(*added)++;
		if (in_hunk && n > 0 && l[0] == '-')
			(*removed)++;
		pos += n + 1;
	}
}
