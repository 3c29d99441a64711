/* lexer.h — private to src/conf: splits a configuration text into tokens (words, quoted strings,
 * ends of line) and tracks the 1-based line and column of each. Pure: no I/O, no allocation. */
#ifndef RG_CONF_LEXER_H
#define RG_CONF_LEXER_H

#include <stddef.h>

enum lex_kind {
	LEX_WORD, /* a bare word or a double-quoted string, text unescaped */
	LEX_EOL,  /* end of a line: ends a directive */
	LEX_EOF,  /* end of the text (also ends a directive) */
};

struct lex_token {
	enum lex_kind kind;
	const char *text; /* NUL-terminated, inside the lexer's arena; "" for EOL/EOF */
	unsigned line, col;
	int quoted; /* written as "..." (so "" is an empty word, not nothing) */
};

/* A lexing error: where, and what (a short phrase without position). */
struct lex_error {
	unsigned line, col;
	char msg[80];
};

struct lexer {
	const char *p, *end;
	unsigned line, col;
	char *arena; /* unescaped token texts, each NUL-terminated */
	size_t arena_used, arena_cap;
};

/* Start lexing text[0..len). arena must hold at least len + 1 bytes: every token's text plus its
 * NUL never needs more bytes than the token and the delimiter after it occupy in the input. The
 * caller owns text and arena; tokens point into arena and stay valid until it is freed. */
void lex_init(struct lexer *lx, const char *text, size_t len, char *arena, size_t arena_cap);

/* The next token. Returns 0, or -1 with *e filled: NUL byte, invalid UTF-8, control character,
 * unterminated quoted string, bad escape, a quote inside a word. After LEX_EOF it keeps
 * returning LEX_EOF. */
int lex_next(struct lexer *lx, struct lex_token *tok, struct lex_error *e);

#endif
