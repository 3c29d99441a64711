/* mx.h — the pure parts of the resolver (no I/O): MX ordering and null MX (RFC 5321 5.1,
 * RFC 7505), the final status of a lookup from its partial results, IP literals and server
 * addresses. Used by resolve.c; unit-tested in tests/unit/test_dns.c. */
#ifndef RG_DNS_MX_H
#define RG_DNS_MX_H

#include "dns.h"

#include <netinet/in.h>

/* A random number in [0, bound) (bound > 0); injected so the order is testable. */
typedef uint32_t (*dns_rand_fn)(void *ctx, uint32_t bound);

/* One MX record as it came from the wire (name points into the parsed reply). */
struct dns_mx_rr {
	const char *name; /* exchange; "" or "." is the root (null MX) */
	unsigned pref;
};

/* Does the exchange name the root (RFC 7505: a null MX, no host)? */
int dns_mx_is_root(const char *name);

/* Order an MX set in place for delivery: root exchanges dropped, sorted by preference, equal
 * preferences in random order (rnd), at most max kept (the lowest preferences). Returns the
 * number kept. An MX set with records of which none is kept (only root exchanges) is a null
 * MX: the caller reports DNS_NULLMX. */
size_t dns_mx_order(struct dns_mx_rr *rrs, size_t n, size_t max, dns_rand_fn rnd, void *ctx);

/* The status of a lookup whose hosts all have their address results: DNS_OK if any host has
 * an address, else DNS_TEMPFAIL if any failed temporarily, else DNS_NOTFOUND (also n == 0). */
enum dns_status dns_mx_status(const struct dns_host *hosts, size_t n);

/* Append an address (AF_INET or AF_INET6) with port to h, which has room for DNS_MAX_ADDRS.
 * Returns 0, or -1 when h is full or the family is not IP (nothing added). */
int dns_host_add_addr(struct dns_host *h, const struct sockaddr *sa, socklen_t len, uint16_t port);

/* Parse an IP literal: "192.0.2.1", "::1", "[192.0.2.1]", "[::1]", "[IPv6:2001:db8::1]"
 * (RFC 5321 4.1.3). Fills *ss and *len, with port. Returns 0, or -1 when s is not one. */
int dns_parse_ip_literal(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/* A DNS server: "IP", "IPV4:PORT", "[IPV6]:PORT" (port 53 by default). */
struct dns_server {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint16_t port;
};

/* Returns 0, or -1 when s is not a server address. */
int dns_parse_server(const char *s, struct dns_server *out);

#endif
