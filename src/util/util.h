/* util.h — small shared helpers: bounded strings, CIDR sets, key=value logging, sizes/times. */
#ifndef RG_UTIL_H
#define RG_UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>

/* Copy at most dstlen-1 bytes of src into dst, always NUL-terminated (dstlen > 0).
 * Returns strlen(src); truncation happened if the result is >= dstlen. */
size_t util_strlcpy(char *dst, const char *src, size_t dstlen);

/* ASCII lower-case in place. */
void util_str_lower(char *s);

/* Case-insensitive ASCII comparison of two NUL-terminated strings. */
int util_str_ieq(const char *a, const char *b);

/* Parse "10", "10K", "64M", "1G" (powers of 1024). Returns 0 or -1 on syntax/overflow. */
int util_parse_size(const char *s, uint64_t *out);

/* Parse "30", "30s", "5m", "2h", "1d" into seconds. Returns 0 or -1. */
int util_parse_duration(const char *s, uint64_t *out);

/* A network prefix, IPv4 or IPv6. IPv4 is stored as an IPv4-mapped IPv6 address with prefix
 * 96+n, so one comparison routine serves both families. */
struct cidr {
	uint8_t addr[16];
	unsigned prefix; /* 0..128, in the IPv6 (mapped) space */
};

/* Parse "192.0.2.0/24", "2001:db8::/32", "127.0.0.1" (= /32) or "::1" (= /128).
 * Host bits beyond the prefix must be zero. Returns 0 or -1. Pure. */
int cidr_parse(const char *s, struct cidr *out);

/* Write the canonical text of c into buf ("192.0.2.0/24"). */
void cidr_format(const struct cidr *c, char *buf, size_t len);

/* Convert a socket address to the 16-byte (mapped) form. Returns 0, or -1 for other families. */
int cidr_addr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);

/* Does addr (16-byte mapped form) fall inside c? */
int cidr_contains(const struct cidr *c, const uint8_t addr[16]);

/* Does addr fall inside any of the n prefixes? */
int cidr_set_contains(const struct cidr *set, size_t n, const uint8_t addr[16]);

/* Text of a socket address without port ("127.0.0.2", "::1"). */
void util_sockaddr_ip(const struct sockaddr *sa, char *buf, size_t len);

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * at most U+10FFFF; len >= 1), or 0. Pure. */
size_t util_utf8_seq_len(const unsigned char *s, size_t len);

/* A TCP socket bound to sa and listening (SO_REUSEADDR, IPV6_V6ONLY for an IPv6 address,
 * close-on-exec, non-blocking when nonblock): the fd, or -1 with err "WHAT TEXT: reason". */
int util_tcp_listen(const struct sockaddr *sa, socklen_t salen, int nonblock, int backlog,
		    const char *what, const char *text, char *err, size_t errlen);

/* Write all len bytes to fd, at offset off (pwrite), or at the file position when off < 0.
 * Retries short writes and EINTR. Returns 0 or -errno. */
int util_write_all(int fd, const void *buf, size_t len, long long off);

/* mkdir -p dir: every missing directory above it is made 0755 (so that a service user may
 * search it), dir itself, if missing, with mode (e.g. 0700). 0, or -1 with errno. */
int util_mkdirs(const char *dir, mode_t mode);
/* A growable string, always NUL-terminated once something was added. The first failure
 * (-ENOMEM, or -EINVAL for a bad format) sticks in err and later appends do nothing. */
struct util_buf {
	char *p;
	size_t len, cap;
	int err;
};
void util_buf_add(struct util_buf *b, const char *s, size_t n);
void util_buf_printf(struct util_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s (len bytes, may be NULL) as a quoted JSON string (util_json_escape). */
void util_buf_json_string(struct util_buf *b, const char *s, size_t len);
void util_buf_free(struct util_buf *b);

/* util_mkdirs of the directory a file path is in (nothing for a file in the working directory
 * or in /). 0, or -1 with errno. */
int util_mkdirs_for(const char *file, mode_t mode);

/* Logging: one line per event, "ts level msg key=value ..." on stderr.
 * fields is a printf format of the key=value part (may be NULL). Values containing spaces or
 * quotes should be passed through log_quote first. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };
void log_msg(enum log_level lvl, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Render s as a log-safe value into buf: printable ASCII kept, others as \xNN, quoted if it
 * contains a space, quote or '='. Always NUL-terminated; truncated with "..." if too long. */
const char *log_quote(const char *s, size_t slen, char *buf, size_t buflen);

/* A library's own printf-style error message (libmicrohttpd's logger) as one warn line:
 * "msg error=QUOTED", trailing line ends dropped, cut at 511 bytes. */
void log_library(const char *msg, const char *fmt, va_list ap);

/* An address as one log value: "<addr>" rendered by log_quote, brackets inside the quotes, so
 * client text cannot pose as another field. */
const char *log_quote_path(const char *addr, char *buf, size_t buflen);

/* Normalise a domain name for comparison: one trailing dot removed, UTF-8 labels converted to
 * A-labels (IDNA2008 with UTS#46 mapping, libidn2), lower-case. Pure. Returns 0, or -1 when in is
 * not a valid host name (empty label, bad characters, too long). */
int util_domain_normalise(const char *in, char *out, size_t outlen);

/* xtext (RFC 3461 4), the encoding of the DSN parameters ENVID and ORCPT: printable ASCII
 * except '+' and '=' stands for itself, any other byte is "+HH" (two upper-case hex digits).
 * Pure. */
/* Is s[0..len) well-formed xtext? 1 or 0. */
int util_xtext_valid(const char *s, size_t len);
/* Decode into out (outlen bytes, NUL-terminated). Returns the decoded length, or -1 when s is
 * not xtext, decodes to a control character (< 0x20 or 0x7f, NUL included) or does not fit.
 * 8-bit bytes (UTF-8 addresses) pass. */
long util_xtext_decode(const char *s, size_t len, char *out, size_t outlen);
/* Encode len bytes of s into out (NUL-terminated when outlen > 0). Returns the length of the
 * whole encoding, like snprintf: when it is >= outlen, out holds only whole units that fit. */
size_t util_xtext_encode(const char *s, size_t len, char *out, size_t outlen);

/* JSON string content (RFC 8259 7, without the quotes) of s[0..len) into out (NUL-terminated
 * when outlen > 0): '"', '\\' and control characters escaped, well-formed UTF-8 kept, any other
 * byte (not UTF-8) as U+FFFD. Never splits an escape or a character: *consumed is how much of s
 * was escaped (call again with the rest). Returns the length written. Pure. */
size_t util_json_escape(const char *s, size_t len, char *out, size_t outlen, size_t *consumed);
/* s as a quoted JSON string on f. */
void util_json_print(FILE *f, const char *s);

#endif
