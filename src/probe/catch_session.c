/* catch_session.c — the catcher's SMTP session for `probe --catch`: any envelope is taken,
 * the message is read, and the tokens of this run found in it are noted once the final dot
 * is answered 250. Nothing is stored or forwarded. Pure: one input line in, one reply out. */
#include "probe.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

uint64_t probe_tokens_find(const char *buf, size_t len, const char *runid)
{
	size_t rl = strlen(runid);
	uint64_t found = 0;
	const char *p = buf, *end = buf + len;
	while (rl && (size_t)(end - p) >= rl + 3) {
		const char *hit = memmem(p, (size_t)(end - p), runid, rl);
		if (!hit || (size_t)(end - hit) < rl + 3)
			break;
		const char *n = hit + rl;
		if (n[0] == '-' && isdigit((unsigned char)n[1]) && isdigit((unsigned char)n[2])) {
			unsigned idx = (unsigned)(n[1] - '0') * 10u + (unsigned)(n[2] - '0');
			if (idx < PROBE_MAX_TESTS)
				found |= (uint64_t)1 << idx;
		}
		p = hit + 1;
	}
	return found;
}

static int catch_data(struct probe_catch_session *s, const char *runid, const char *line,
		      size_t len, char *out, size_t outlen)
{
	int ends = len > 0 && line[len - 1] == '\n';
	if (!s->midline &&
	    ((len == 3 && !memcmp(line, ".\r\n", 3)) || (len == 2 && !memcmp(line, ".\n", 2)))) {
		s->in_data = 0;
		s->mail = 0;
		s->caught |= s->pending;
		s->pending = 0;
		s->messages++;
		snprintf(out, outlen, "250 2.0.0 caught by relayguard probe\r\n");
		return 0;
	}
	s->pending |= probe_tokens_find(line, len, runid);
	s->midline = !ends;
	return 0;
}

static int verb_is(const char *line, size_t len, const char *verb)
{
	size_t n = strlen(verb);
	return len >= n && !strncasecmp(line, verb, n) &&
	       (len == n || line[n] == ' ' || line[n] == '\r' || line[n] == '\n');
}

/* The command table: verb, the state it needs (0 any, 1 after MAIL, 2 after RCPT), the
 * state it leaves (-1 unchanged), the reply. */
static const struct {
	const char *verb;
	int needs, leaves;
	const char *reply;
} catch_cmds[] = {
    {"EHLO", 0, 0, "250 catcher.relayguard.invalid\r\n"},
    {"HELO", 0, 0, "250 catcher.relayguard.invalid\r\n"},
    {"MAIL", 0, 1, "250 2.1.0 Ok\r\n"},
    {"RCPT", 1, 2, "250 2.1.5 Ok\r\n"},
    {"DATA", 2, 2, "354 End data with <CR><LF>.<CR><LF>\r\n"},
    {"RSET", 0, 0, "250 2.0.0 Ok\r\n"},
    {"NOOP", 0, -1, "250 2.0.0 Ok\r\n"},
    {"QUIT", 0, -1, "221 2.0.0 Bye\r\n"},
};

int probe_catch_line(struct probe_catch_session *s, const char *runid, const char *line, size_t len,
		     char *out, size_t outlen)
{
	out[0] = '\0';
	if (s->in_data)
		return catch_data(s, runid, line, len, out, outlen);
	if (len == 0 || line[len - 1] != '\n') {
		snprintf(out, outlen, "500 5.5.6 Line too long\r\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(catch_cmds) / sizeof(catch_cmds[0]); i++) {
		if (!verb_is(line, len, catch_cmds[i].verb))
			continue;
		if (s->mail < catch_cmds[i].needs) {
			snprintf(out, outlen, "503 5.5.1 Bad sequence of commands\r\n");
			return 0;
		}
		if (catch_cmds[i].leaves >= 0)
			s->mail = catch_cmds[i].leaves;
		if (!strcmp(catch_cmds[i].verb, "MAIL"))
			s->pending = 0;
		if (!strcmp(catch_cmds[i].verb, "DATA")) {
			s->in_data = 1;
			s->midline = 0;
		}
		snprintf(out, outlen, "%s", catch_cmds[i].reply);
		return !strcmp(catch_cmds[i].verb, "QUIT");
	}
	snprintf(out, outlen, "502 5.5.2 Command not recognised\r\n");
	return 0;
}
