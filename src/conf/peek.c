/* peek.c — the control-socket path of a config file without the full parse, for the CLI
 * commands that talk to the running server (see conf_peek_control_socket in conf.h). */
#include "conf.h"
#include "lexer.h"

#include <stdlib.h>
#include <string.h>

#define PEEK_WORDS 3 /* "control-socket PATH" and one more, to see a line with too many */

/* The words of one line (at most PEEK_WORDS; *n counts them all). -1 if the line does not lex. */
static int peek_line(const char *line, size_t len, char *arena, struct lex_token *words, size_t *n)
{
	struct lexer lx;
	struct lex_token t;
	struct lex_error e;
	*n = 0;
	lex_init(&lx, line, len, arena, len + 1);
	for (;;) {
		if (lex_next(&lx, &t, &e) < 0)
			return -1;
		if (t.kind != LEX_WORD)
			return 0;
		if (*n < PEEK_WORDS)
			words[*n] = t;
		(*n)++;
	}
}

/* Found: the value of the first well-formed "NAME VALUE" line (the directives peeked at may
 * appear once, so that is the one a valid file means), else def. */
static const char *peek_find(const char *text, size_t len, char *arena, const char *name,
			     const char *def)
{
	size_t off = 0;
	while (off < len) {
		const char *line = text + off, *lf = memchr(line, '\n', len - off);
		size_t linelen = lf ? (size_t)(lf - line) + 1 : len - off, n;
		struct lex_token w[PEEK_WORDS];
		/* lex_init skips a byte order mark: right for the file's start only */
		int bom = off > 0 && linelen >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0;
		off += linelen;
		if (bom || peek_line(line, linelen, arena, w, &n) < 0)
			continue;
		if (n == 2 && strcmp(w[0].text, name) == 0 && w[1].text[0])
			return w[1].text;
	}
	return def;
}

static int peek_value(const char *text, size_t len, const char *name, const char *def, char *out,
		      size_t outlen)
{
	char *arena = malloc(len + 1);
	if (!arena || outlen == 0) {
		free(arena);
		return -1;
	}
	const char *found = peek_find(text, len, arena, name, def);
	size_t n = strlen(found);
	int rc = n < outlen ? 0 : -1;
	if (rc == 0)
		memcpy(out, found, n + 1);
	free(arena);
	return rc;
}

int conf_peek_control_socket(const char *text, size_t len, char *out, size_t outlen)
{
	return peek_value(text, len, "control-socket", CONF_DEFAULT_CONTROL_SOCKET, out, outlen);
}

int conf_peek_state_dir(const char *text, size_t len, char *out, size_t outlen)
{
	return peek_value(text, len, "state-dir", CONF_DEFAULT_STATE_DIR, out, outlen);
}
