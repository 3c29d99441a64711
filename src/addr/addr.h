/* addr.h — RFC 5321 paths ("<local@domain>") parsed and normalised by pure functions, so that
 * every hostile form used by relay testers reaches the policy in a form it cannot misread. */
#ifndef RG_ADDR_H
#define RG_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define ADDR_LOCAL_MAX 64   /* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX 256   /* RFC 5321 4.5.3.1.3, including the brackets */

enum addr_status {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,   /* not a Path per RFC 5321 4.1.2 */
	ADDR_ERR_TOO_LONG, /* a length limit of 4.5.3.1 exceeded */
	ADDR_ERR_8BIT,	   /* non-ASCII without SMTPUTF8 */
	ADDR_ERR_DOMAIN,   /* domain part is not a valid name or address literal */
};

struct addr_path {
	int null;	  /* "<>" */
	int unqualified;  /* no "@domain" at all, e.g. "<postmaster>" */
	int quoted;	  /* local part was a quoted-string */
	int routing;	  /* local part holds '%', '!' or '@' (percent hack, UUCP bang, …) */
	int source_route; /* "<@a,@b:x@y>" was given; the route was dropped (RFC 5321 C) */
	int trailing_dot; /* "x@example.org." was given; the dot was dropped */
	int utf8;	  /* local part or domain held UTF-8 */
	int literal;	  /* domain is an address literal */
	uint8_t literal_addr[16];	    /* its address, IPv4 as IPv4-mapped IPv6 */
	char local[ADDR_LOCAL_MAX * 4 + 1]; /* local part, unquoted (escapes resolved), case kept */
	char domain[ADDR_DOMAIN_MAX + 1];   /* lower-case A-label, or canonical "[192.0.2.1]" /
					       "[IPv6:2001:db8::1]"; "" when unqualified/null */
};

/* Parse a Path at the start of s (len bytes; not NUL-terminated necessarily): "<...>" with an
 * optional source route. smtputf8 allows UTF-8 (RFC 6531). On ADDR_OK, *out is filled and
 * *consumed is the number of bytes up to and including '>'. Pure. */
enum addr_status addr_parse_path(const char *s, size_t len, int smtputf8, struct addr_path *out,
				 size_t *consumed);

/* "local@domain" (quoting the local part when needed), "" for the null path. */
void addr_format(const struct addr_path *a, char *buf, size_t len);

/* Human-readable text of a status, for replies ("syntax error in address"). */
const char *addr_status_text(enum addr_status st);

#endif
