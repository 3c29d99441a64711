/* dns.h — asynchronous DNS for delivery: where mail for a domain goes (MX, else A/AAAA, RFC 5321
 * 5.1) and the addresses of one host, on c-ares, driven by the caller's libevent event_base.
 * Callbacks always run from the event loop, never from inside the resolve call that started them.
 */
#ifndef RG_DNS_H
#define RG_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct dns_resolver;
struct dns_query;

#define DNS_MAX_HOSTS 20 /* MX hosts kept (the lowest preferences) */
#define DNS_MAX_ADDRS 16 /* addresses kept per host */

/* servers: "IP", "IP:PORT", "[IPv6]:PORT" strings; n == 0 -> the system's /etc/resolv.conf.
 * timeout_ms: the first try's timeout (c-ares doubles it on each round over the servers);
 * tries: tries per server in total. Search domains are never applied (mail domains are fully
 * qualified); with explicit servers /etc/hosts is not consulted either.
 * Returns 0 and *out (free with dns_resolver_free), or -1 with err set. */
int dns_resolver_new(struct event_base *base, const char *const *servers, size_t n,
		     unsigned timeout_ms, unsigned tries, struct dns_resolver **out, char *err,
		     size_t errlen);

/* Cancels pending queries: their callbacks are NOT called. May be called from a callback. */
void dns_resolver_free(struct dns_resolver *r);

enum dns_status {
	DNS_OK,
	DNS_NOTFOUND, /* NXDOMAIN or no address at all: permanent */
	DNS_NULLMX,   /* RFC 7505 null MX: permanent, 556 5.1.10 */
	DNS_TEMPFAIL, /* SERVFAIL, timeout, refused: retry later */
};

/* One MX host (or the implicit MX), with its addresses. A host with n_addrs == 0 has no usable
 * address and is to be skipped; tempfail says whether that is a temporary failure. */
struct dns_host {
	char name[256]; /* lower-case, no trailing dot */
	unsigned pref;
	struct sockaddr_storage *addrs; /* v6 and v4, each carrying the requested port */
	socklen_t *addrlens;
	size_t n_addrs;
	int tempfail; /* its address lookup failed temporarily */
};

struct dns_mx_result {
	enum dns_status status;
	int implicit; /* no MX: the domain's own A/AAAA (RFC 5321 5.1) */
	struct dns_host *hosts;
	size_t n_hosts;	 /* preference order; equal prefs shuffled */
	char error[256]; /* human-readable, for logs/DSN: "Host not found", ...; "" when OK */
};

/* res (and everything it points to) is valid during the call only. */
typedef void (*dns_mx_fn)(void *arg, const struct dns_mx_result *res);

/* Resolve where mail for domain (normalised; or an address literal "[192.0.2.1]",
 * "[IPv6:2001:db8::1]") goes: MX (sorted, addresses of each host), else A/AAAA.
 * port is put into every returned sockaddr. Returns a handle, valid until the callback is
 * called or the query cancelled, or NULL (ENOMEM): then fn is never called. */
struct dns_query *dns_resolve_mx(struct dns_resolver *r, const char *domain, uint16_t port,
				 dns_mx_fn fn, void *arg);

/* Addresses of one host (for static routes): the same result shape, one dns_host, implicit=1.
 * An IP literal ("192.0.2.1", "::1", "[::1]") resolves without DNS. */
struct dns_query *dns_resolve_host(struct dns_resolver *r, const char *host, uint16_t port,
				   dns_mx_fn fn, void *arg);

/* ---- single record sets (DNSBL lookups, RFC 5782) ---- */

enum dns_rr_type { DNS_RR_A, DNS_RR_TXT };

#define DNS_RR_MAX_A 16	   /* A records kept */
#define DNS_RR_TXT_MAX 512 /* TXT text kept (the strings joined, cut here) */

struct dns_rr_result {
	enum dns_status status;	  /* OK; NOTFOUND: NXDOMAIN or no record of the type (NODATA);
				     TEMPFAIL: SERVFAIL, REFUSED, timeout, a malformed answer */
	uint32_t a[DNS_RR_MAX_A]; /* DNS_RR_A: the addresses, host byte order */
	size_t n_a;
	uint32_t ttl;		  /* DNS_RR_A: the smallest TTL among them; 0 otherwise */
	char txt[DNS_RR_TXT_MAX]; /* DNS_RR_TXT: the first record's strings joined, raw bytes
				     except NUL (dropped); NUL-terminated */
	char error[128];	  /* "" when OK or NOTFOUND */
};

/* res is valid during the call only. */
typedef void (*dns_rr_fn)(void *arg, const struct dns_rr_result *res);

/* The A or TXT records of name (fully qualified, no search list). Same handle rules as
 * dns_resolve_mx. */
struct dns_query *dns_resolve_rr(struct dns_resolver *r, const char *name, enum dns_rr_type type,
				 dns_rr_fn fn, void *arg);

/* Pure: a DNS reply message (as the resolver received it) into out (status OK or TEMPFAIL for a
 * malformed or empty answer). 0, or -1 when the message does not parse. */
int dns_parse_rr_reply(const unsigned char *abuf, size_t alen, enum dns_rr_type type,
		       struct dns_rr_result *out);

/* The callback will not be called. Only for a query whose callback has not run yet. */
void dns_query_cancel(struct dns_query *q);

/* "ok", "notfound", "nullmx", "tempfail". */
const char *dns_status_name(enum dns_status s);

#endif
