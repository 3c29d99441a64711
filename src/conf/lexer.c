/* lexer.c — the configuration tokeniser. Strict on purpose: a config is written by a person, so a
 * NUL byte, a control character or broken UTF-8 is a mistake (or a corrupted file) worth a clear
 * error at its exact position rather than a silently different directive. */
#include "lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lex_init(struct lexer *lx, const char *text, size_t len, char *arena, size_t arena_cap)
{
	lx->p = text;
	lx->end = text + len;
	lx->line = 1;
	lx->col = 1;
	lx->arena = arena;
	lx->arena_used = 0;
	lx->arena_cap = arena_cap;
	/* Some editors start a UTF-8 file with a byte order mark; it is not part of a directive. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		lx->p += 3;
}

__attribute__((format(printf, 4, 5))) static int fail(struct lex_error *e, unsigned line,
						      unsigned col, const char *fmt, ...)
{
	va_list ap;
	e->line = line;
	e->col = col;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Length of the well-formed UTF-8 sequence at p, or 0. Overlong forms, surrogates and code points
 * above U+10FFFF are ill-formed (RFC 3629 section 4). */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90)) /* overlong */
		return 0;
	if ((c == 0xed && p[1] > 0x9f) || (c == 0xf4 && p[1] > 0x8f)) /* surrogate, > U+10FFFF */
		return 0;
	return n;
}

/* Byte length of the character at lx->p (not a line end), or 0 with *e set. */
static size_t check_char(const struct lexer *lx, struct lex_error *e)
{
	unsigned char c = (unsigned char)*lx->p;
	size_t n = 0;
	if (c == '\0')
		fail(e, lx->line, lx->col, "NUL byte");
	else if ((c < 0x20 && c != '\t') || c == 0x7f)
		fail(e, lx->line, lx->col, "control character 0x%02x", c);
	else if ((n = utf8_len((const unsigned char *)lx->p, (size_t)(lx->end - lx->p))) == 0)
		fail(e, lx->line, lx->col, "invalid UTF-8");
	return n;
}

/* Step over one character of n bytes: a column is a character, so a tab or an "ü" counts 1. */
static void advance(struct lexer *lx, size_t n)
{
	lx->p += n;
	lx->col++;
}

/* A line ends with LF or CRLF (a file edited on Windows is still a valid config). */
static size_t eol_len(const struct lexer *lx)
{
	if (lx->p < lx->end && *lx->p == '\n')
		return 1;
	if (lx->end - lx->p >= 2 && lx->p[0] == '\r' && lx->p[1] == '\n')
		return 2;
	return 0;
}

static int at_delim(const struct lexer *lx)
{
	return lx->p == lx->end || *lx->p == ' ' || *lx->p == '\t' || *lx->p == '#' ||
	       eol_len(lx) > 0;
}

/* Append n bytes to the arena. The size argument in lex_init makes overflow impossible; the
 * check keeps the write bounded even if that reasoning were ever wrong. */
static int put(struct lexer *lx, const char *s, size_t n, struct lex_error *e)
{
	if (lx->arena_cap - lx->arena_used < n)
		return fail(e, lx->line, lx->col, "internal error: token buffer too small");
	memcpy(lx->arena + lx->arena_used, s, n);
	lx->arena_used += n;
	return 0;
}

static void start_text(const struct lexer *lx, struct lex_token *tok)
{
	tok->text = lx->arena + lx->arena_used;
}

static int end_text(struct lexer *lx, struct lex_error *e)
{
	if (lx->arena_used >= lx->arena_cap)
		return fail(e, lx->line, lx->col, "internal error: token buffer too small");
	lx->arena[lx->arena_used++] = '\0';
	return 0;
}

static int lex_word(struct lexer *lx, struct lex_token *tok, struct lex_error *e)
{
	const char *start = lx->p;
	while (!at_delim(lx)) {
		/* abc"def" is almost certainly a typo; refusing it keeps quoting rules simple. */
		if (*lx->p == '"')
			return fail(e, lx->line, lx->col, "unexpected '\"' inside a word");
		size_t n = check_char(lx, e);
		if (n == 0)
			return -1;
		advance(lx, n);
	}
	start_text(lx, tok);
	if (put(lx, start, (size_t)(lx->p - start), e) < 0)
		return -1;
	return end_text(lx, e);
}

/* One character of a quoted string's body: an escape, or a plain character. */
static int lex_quoted_char(struct lexer *lx, struct lex_error *e)
{
	if (*lx->p == '\\') {
		if (lx->end - lx->p < 2 || (lx->p[1] != '"' && lx->p[1] != '\\'))
			return fail(e, lx->line, lx->col,
				    "invalid escape in quoted string (only \\\" and \\\\)");
		advance(lx, 1);
		if (put(lx, lx->p, 1, e) < 0)
			return -1;
		advance(lx, 1);
		return 0;
	}
	size_t n = check_char(lx, e);
	if (n == 0 || put(lx, lx->p, n, e) < 0)
		return -1;
	advance(lx, n);
	return 0;
}

static int lex_quoted(struct lexer *lx, struct lex_token *tok, struct lex_error *e)
{
	unsigned line = lx->line, col = lx->col;
	advance(lx, 1);
	start_text(lx, tok);
	for (;;) {
		/* A string never spans lines: a forgotten quote must not swallow the rest. */
		if (lx->p == lx->end || eol_len(lx) > 0)
			return fail(e, line, col, "unterminated quoted string");
		if (*lx->p == '"')
			break;
		if (lex_quoted_char(lx, e) < 0)
			return -1;
	}
	advance(lx, 1);
	if (!at_delim(lx))
		return fail(e, lx->line, lx->col, "expected a space after the quoted string");
	return end_text(lx, e);
}

static int skip_comment(struct lexer *lx, struct lex_error *e)
{
	while (lx->p < lx->end && eol_len(lx) == 0) {
		size_t n = check_char(lx, e);
		if (n == 0)
			return -1;
		advance(lx, n);
	}
	return 0;
}

int lex_next(struct lexer *lx, struct lex_token *tok, struct lex_error *e)
{
	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
			advance(lx, 1);
		tok->line = lx->line;
		tok->col = lx->col;
		tok->text = "";
		tok->quoted = 0;
		size_t eol = eol_len(lx);
		if (lx->p == lx->end) {
			tok->kind = LEX_EOF;
			return 0;
		}
		if (eol > 0) {
			tok->kind = LEX_EOL;
			lx->p += eol;
			lx->line++;
			lx->col = 1;
			return 0;
		}
		if (*lx->p != '#')
			break;
		if (skip_comment(lx, e) < 0)
			return -1;
	}
	tok->kind = LEX_WORD;
	if (*lx->p == '"') {
		tok->quoted = 1;
		return lex_quoted(lx, tok, e);
	}
	return lex_word(lx, tok, e);
}
