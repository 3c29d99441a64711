/* log.c — one line per event on stderr: "ts level msg key=value ...". */
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_msg(enum log_level lvl, const char *msg, const char *fields, ...)
{
	char line[2048], ts[32];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s.%03dZ %s %s", ts, (int)(tv.tv_usec / 1000),
			 level_names[lvl], msg);
	if (fields && n > 0 && (size_t)n < sizeof(line) - 2) {
		va_list ap;
		line[n++] = ' ';
		va_start(ap, fields);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fields, ap);
		va_end(ap);
	}
	fprintf(stderr, "%s\n", line);
}

const char *log_quote(const char *s, size_t slen, char *buf, size_t buflen)
{
	size_t o = 0;
	int quote = slen == 0;
	for (size_t i = 0; i < slen && !quote; i++)
		quote = s[i] == ' ' || s[i] == '"' || s[i] == '=';
	if (buflen < 8) {
		if (buflen)
			buf[0] = '\0';
		return buf;
	}
	if (quote)
		buf[o++] = '"';
	for (size_t i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 8 >= buflen) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (quote)
		buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *log_quote_path(const char *addr, char *buf, size_t buflen)
{
	char path[1200];
	int n = snprintf(path, sizeof(path), "<%s>", addr);
	if (n < 0)
		n = 0;
	return log_quote(path, (size_t)n < sizeof(path) ? (size_t)n : sizeof(path) - 1, buf,
			 buflen);
}

void log_library(const char *msg, const char *fmt, va_list ap)
{
	char text[512], q[1100];
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	log_msg(LOG_WARN, msg, "error=%s", log_quote(text, len, q, sizeof(q)));
}
