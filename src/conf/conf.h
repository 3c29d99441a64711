/* conf.h — the configuration: parsed once from one file, immutable afterwards.
 * A reload builds a new struct conf; nothing ever modifies a loaded one. */
#ifndef RG_CONF_H
#define RG_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../util/util.h"

/* The largest configuration file accepted (conf_load and conf_parse): a config is text written
 * by a person, so anything bigger is a mistake, and the bound keeps parsing cheap. */
#define CONF_MAX_SIZE (1024 * 1024)

/* control-socket when the file names none (relative to the working directory, like spool). */
#define CONF_DEFAULT_CONTROL_SOCKET "var/run/relayguard.sock"
/* auth-database when the file names none (relative to the working directory, like spool). */
#define CONF_DEFAULT_AUTH_DATABASE "var/db/users.db"
/* state-dir when the file names none (relative to the working directory, like spool). */
#define CONF_DEFAULT_STATE_DIR "var/lib"

/* user when the file names none: the account `relayguard serve` started as root becomes. */
#define CONF_DEFAULT_USER "relayguard"

/* abuse-store when the file names none (relative to the working directory, like spool). */
#define CONF_DEFAULT_ABUSE_DATABASE "var/db/abuse.db"
/* the Redis key prefix of abuse-store redis when none is given */
#define CONF_DEFAULT_ABUSE_PREFIX "relayguard:"

enum conf_role {
	CONF_ROLE_SMTP,	      /* port-25 style: inbound mail from the world */
	CONF_ROLE_SUBMISSION, /* port-587 style: mail from our own users */
};

struct conf_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[64]; /* "127.0.0.1:2525", "[::1]:2525" as written */
	enum conf_role role;
	int tls_implicit; /* "tls implicit": TLS from the first byte (the port-465 role, RFC 8314)
			   */
	int auth;	  /* AUTH offered here: "auth yes|no", default yes for role submission */
	unsigned line;	  /* the line it was written on (for the audit); 0 for metrics-listen */
};

/* One entry of the user table: a local part that exists in one local domain (domain != NULL)
 * or in every local domain (domain == NULL). Mail for it goes to <mail-root>/<user>/Maildir. */
struct conf_mailbox {
	char *local;  /* lower-case */
	char *domain; /* normalised (lower-case A-label) or NULL = every local domain */
	char *user;   /* Maildir owner name; defaults to local */
};

enum conf_relay_action { CONF_RELAY_ALLOW, CONF_RELAY_DENY };
enum conf_relay_from {
	CONF_FROM_ANY,
	CONF_FROM_TRUSTED,	 /* any of the trusted-network prefixes */
	CONF_FROM_AUTHENTICATED, /* an SMTP AUTH session */
	CONF_FROM_NETS,		 /* the rule's own prefixes */
};

/* relay allow|deny from SOURCE [to DEST] [id NAME] — ordered, first match wins, followed by an
 * implicit "deny from any to any" whose id is "implicit-reject". */
struct conf_relay_rule {
	char *id; /* "id NAME" or "file:line" */
	enum conf_relay_action action;
	enum conf_relay_from from;
	struct cidr *nets; /* CONF_FROM_NETS only */
	size_t n_nets;
	char **to_domains; /* normalised; n_to == 0 means "to any" */
	size_t n_to;
};

enum conf_bare_newline { CONF_BARE_REJECT, CONF_BARE_NORMALISE };

struct conf_limits {
	uint64_t message_size;	  /* limit message-size, default 10M */
	unsigned recipients;	  /* limit recipients, default 100 */
	unsigned line_length;	  /* limit line-length (command lines, incl. CRLF), default 1000 */
	uint64_t header_size;	  /* limit header-size, default 256K */
	unsigned command_timeout; /* limit command-timeout, seconds, default 300 */
	unsigned data_timeout;	  /* limit data-timeout, seconds, default 600 */
	unsigned max_sessions;	  /* limit max-sessions, default 1000 */
	unsigned max_errors;	  /* limit max-errors, default 10 */
	unsigned greeting_delay;  /* limit greeting-delay, seconds, default 0: banner delay; a
				     client that talks before the banner is dropped */
	unsigned shutdown_grace;  /* limit shutdown-grace, seconds, default 10: at SIGTERM, time
				     a session inside a transaction gets to finish it */
	unsigned auth_failure_delay;	/* limit auth-failure-delay, s, 1: the Nth failed AUTH of a
					   session waits N x this (at most 10 x) before its 535 */
	unsigned auth_session_failures; /* limit auth-session-failures, 3: then 421 and close */
	unsigned auth_ip_failures;	/* limit auth-ip-failures, 10: failures from one IP within
					   auth-block-time that block it */
	unsigned auth_block_time; /* limit auth-block-time, s, 15m: the window and the block */
	unsigned auth_guard_size; /* limit auth-guard-size, 8192: client addresses (IPv6 /64s) the
				   failed-AUTH guard remembers; restart to change */
	unsigned max_sessions_per_ip; /* limit max-sessions-per-ip, 50: sessions of one client
					 (IPv4 address, IPv6 /64) at once; 0 = no limit; trusted
					 networks are exempt */
	/* back-pressure (docs/operations.md "Under load"): with this many messages queued, the
	 * banner of a new session is delayed, growing up to queue_pressure_delay at queue_refuse;
	 * from queue_refuse on, new sessions get 421 4.3.2. 0 = off. */
	unsigned queue_pressure;       /* limit queue-pressure N, default 5000 */
	unsigned queue_refuse;	       /* limit queue-refuse N, default 20000 */
	unsigned queue_pressure_delay; /* limit queue-pressure-delay DURATION, default 5s */
	/* limit spool-min-free SIZE|PERCENT, default 0 = off: with less free space than this on the
	 * spool's filesystem, MAIL and DATA get 452 4.3.1. Bytes, or CONF_PERCENT | N for N % of
	 * the filesystem (spool_space_low reads it) */
	uint64_t spool_min_free;
	/* limit stage-memory SIZE, default 64M: what the message bodies being received may hold in
	 * memory together (each at most 256 KiB); beyond it they go to their temporary files */
	uint64_t stage_memory;
};
#define CONF_PERCENT (1ull << 63) /* a limit given as a percentage (spool-min-free) */

/* route DOMAIN|* via HOST[:PORT]: a static next hop (its A/AAAA, never its MX). */
struct conf_route {
	char *domain; /* normalised; NULL for "*" (every non-local domain: a smarthost) */
	char *host;   /* host name (normalised) or IP literal */
	uint16_t port;
};

/* "delivery NAME VALUE": outbound delivery, retries and expiry. */
struct conf_delivery {
	unsigned concurrency;		  /* concurrency: outbound sessions in total, 100 */
	unsigned destination_concurrency; /* destination-concurrency: per next hop, 20 */
	unsigned destination_rate_delay;  /* destination-rate-delay: s between connections, 0 */
	unsigned retry_min;		  /* retry-min: first retry after, 300 s */
	unsigned retry_max;		  /* retry-max: the longest backoff, 3600 s */
	unsigned lifetime;		  /* lifetime: a message bounces after, 5 d */
	unsigned delay_warning;		  /* delay-warning: delay DSN after, 0 = never */
	unsigned connect_timeout;	  /* connect-timeout: 30 s */
	unsigned command_timeout;	  /* command-timeout: 300 s */
	unsigned data_timeout;		  /* data-timeout: 600 s */
	unsigned port;			  /* port: of MX hosts, 25 */
	uint64_t bounce_size_limit;	  /* bounce-size-limit: original returned up to, 50K */
	unsigned local_retry; /* local-retry: a failed Maildir delivery again after, 60 s */
	unsigned dns_timeout; /* dns-timeout: first DNS try (doubled per try, 2 tries), 5 s */
};

/* sender-grant LOGIN ADDRESS|@DOMAIN...: sender addresses an authenticated login may use besides
 * its own (the login itself when it is an address, and the mailboxes whose user it is). */
struct conf_sender_grant {
	char *login;	/* lower-case */
	char **senders; /* "local@domain" (local lower-case, domain normalised) or "@domain" */
	size_t n_senders;
};

enum conf_tls_client { CONF_TLS_CLIENT_MAY, CONF_TLS_CLIENT_NONE };

/* abuse-store sqlite PATH | redis HOST:PORT|unix:PATH [prefix P]: where greylist (and later
 * rate and ban) state lives. Restart-only. */
enum conf_abuse_backend { CONF_ABUSE_SQLITE, CONF_ABUSE_REDIS };
struct conf_abuse_store {
	enum conf_abuse_backend backend;
	char *path;   /* sqlite: the database file, default var/db/abuse.db */
	char *redis;  /* redis: "HOST:PORT" or "unix:PATH" */
	char *prefix; /* redis: prepended to every key, default "relayguard:" */
	char *text;   /* the setting as one canonical line, compared at reload */
};

/* greylist on|off and greylist-* (RFC 6647): the triplet's timings and the network grouping. */
struct conf_greylist {
	int enabled;		 /* greylist on|off, default off */
	unsigned delay;		 /* greylist-delay: a retry is accepted after, 5m */
	unsigned window;	 /* greylist-window: ... and within this after the delay, 2d */
	unsigned lifetime;	 /* greylist-lifetime: a passed triplet (or a whitelisted network)
				    is kept this long after its last use, 36d */
	unsigned auto_whitelist; /* greylist-auto-whitelist N: a network whose triplets passed N
				    times is not greylisted for lifetime; 0 = never; default 5 */
	unsigned netmask4;	 /* greylist-netmask V4 V6: client grouping, 24 and 64 */
	unsigned netmask6;
};
/* dnsbl ZONE [weight N] [codes A[-B],...] [timeout DURATION] [ipv6 yes|no]: one DNS list
 * (RFC 5782). A negative weight makes it an allow-list (DNSWL). */
struct conf_dnsbl_codes {
	uint32_t lo, hi; /* host order, both in 127.0.0.0/8, lo <= hi */
};
struct conf_dnsbl {
	char *zone;			/* normalised, no trailing dot */
	int weight;			/* -100..100, default 1 */
	struct conf_dnsbl_codes *codes; /* n_codes == 0: any 127.0.0.0/8 code that is no error */
	size_t n_codes;
	unsigned timeout; /* seconds: the lookup (A, then TXT) may take at most this, default 5 */
	int ipv6;	  /* also asked about IPv6 clients (and health-tested for it), default 1 */
	unsigned line;	  /* where it was written */
};
enum conf_dnsbl_action { CONF_DNSBL_REJECT, CONF_DNSBL_DEFER, CONF_DNSBL_TAG };
enum conf_local_method { CONF_LOCAL_MAILDIR, CONF_LOCAL_LMTP };

/* ratelimit NAME COUNT/WINDOW|off: at most count events per fixed window of window seconds;
 * count 0 = off. */
struct conf_rate {
	unsigned count, window;
};
/* The ratelimit table (docs/config.md "Rate limits"); every row off by default except
 * ip-sessions 50. */
struct conf_ratelimit {
	struct conf_rate ip_connections;     /* per client IP: connections (421 4.7.0 at connect) */
	struct conf_rate ip_messages;	     /* per client IP: MAIL commands (450 4.7.1) */
	struct conf_rate ip_recipients;	     /* per client IP: RCPT commands (450 4.7.1) */
	struct conf_rate user_messages[2];   /* per login: relayed messages, [0] hour [1] day */
	struct conf_rate user_recipients[2]; /* per login: distinct relayed recipients */
	struct conf_rate circuit_breaker;    /* per login: distinct relayed recipients that trip */
	int tempfail_on_store_error; /* ratelimit-on-store-error tempfail (default accept) */
};

#define CONF_SCAN_PORTS_MAX 8 /* scan-ports: at most this many */

struct conf {
	/* References (conf_ref/conf_unref): the server holds one on its current config, every SMTP
	 * session and every delivery one on the config it started with, so a reload never pulls a
	 * config from under them. Changed by the event loop thread only; 1 after conf_parse. */
	unsigned refs;
	char *path;	/* file it came from */
	char *hostname; /* NULL in the parse result when absent; conf_load fills gethostname() */
	struct conf_listen *listens;
	size_t n_listens;
	char *spool_dir;      /* default "var/spool" */
	char *mail_root;      /* default "var/mail" */
	char **local_domains; /* normalised: lower-case, A-label, no trailing dot */
	size_t n_local_domains;
	struct conf_mailbox *mailboxes;
	size_t n_mailboxes;
	struct cidr *trusted;
	unsigned *trusted_lines; /* the line each prefix was written on (for the audit) */
	size_t n_trusted;
	struct conf_relay_rule *rules;
	size_t n_rules;
	struct conf_limits limits;
	int ip_literal_recipients;	     /* accept RCPT to [our own address]; default 0 */
	enum conf_bare_newline bare_newline; /* default reject */
	unsigned delivery_workers;	     /* default 4 */
	/* the reason given to run although outside clients can relay (serve refuses such a config
	 * without one), or NULL */
	char *open_relay_override;
	uint64_t spool_segment_size; /* default 64M */
	struct conf_route *routes;
	size_t n_routes;
	char **dns_servers; /* dns-server ADDR[:PORT]...; none = /etc/resolv.conf */
	size_t n_dns_servers;
	struct conf_delivery delivery;
	enum conf_tls_client delivery_tls;     /* delivery-tls may|none, default may */
	enum conf_local_method local_delivery; /* local-delivery maildir | lmtp TARGET */
	char *lmtp_target;		       /* "HOST:PORT" or "unix:/path" */
	char *control_socket;		       /* default var/run/relayguard.sock */
	struct conf_listen *metrics_listen;    /* metrics-listen ADDR:PORT, NULL = off */
	/* tls-certificate PATH (PEM, chain after the certificate) and tls-key PATH: both or
	 * neither; with them, STARTTLS is offered and "tls implicit" listeners are possible */
	char *tls_cert_file, *tls_key_file;
	char *auth_database; /* auth-database PATH: the credential store, default var/db/users.db */
	struct cidr *auth_allowlist; /* auth-allowlist CIDR...: never blocked for failed AUTH */
	size_t n_auth_allowlist;
	/* sender-grant lines, in file order; a login may have several */
	struct conf_sender_grant *sender_grants;
	size_t n_sender_grants;
	char *state_dir; /* state-dir DIR: the server's own state, default var/lib */
	char *text;	 /* conf_load: the file's bytes as parsed (NULL from conf_parse) */
	size_t text_len;
	char *run_user; /* user NAME: serve started as root runs as it; default "relayguard" */
	/* self-audit INTERVAL|off: seconds between runs of the relay probe against the server's
	 * own listeners, 0 = off; default CONF_DEFAULT_SELF_AUDIT */
	unsigned self_audit;
	/* self-audit-source ADDR [ADDR]: where it connects from, one per family (NULL: for an IPv4
	 * loopback listener the first of 127.0.0.2..254 outside every trusted network and relay
	 * rule; else the listener's own address, if it is outside them) */
	char *self_audit_source4, *self_audit_source6;
	/* relay-recipient ADDRESS...: "local@domain" (local lower-case, domain normalised), the
	 * valid recipients of relay domains; a domain without any accepts every address */
	char **relay_recipients;
	size_t n_relay_recipients;
	/* abuse controls (src/abuse) */
	struct conf_abuse_store abuse_store;
	struct conf_greylist greylist;
	/* clock-offset DURATION: TEST ONLY. Added to the clock of the abuse logic (greylist times,
	 * store expiry), so tests move time with a reload instead of sleeping. Default 0. */
	unsigned clock_offset;
	struct conf_ratelimit ratelimit; /* ratelimit NAME VALUE, ratelimit-on-store-error */
	/* the blocklist store and the DNSBL server (src/blocklist); defaults applied by users */
	char *blocklist_database; /* blocklist-database PATH, NULL = CONF_DEFAULT_BLOCKLIST_DB */
	char *dnsbl_zone;	  /* blocklist-zone NAME (normalised), NULL = none */
	struct conf_listen
	    *dnsbl_listen;	/* blocklist-listen ADDR:PORT, NULL = CONF_DEFAULT_DNSBL_LISTEN */
	unsigned dnsbl_ttl;	/* blocklist-ttl DURATION, 0 = CONF_DEFAULT_DNSBL_TTL */
	char *dnsbl_url;	/* blocklist-url URL: TXT evidence link (the IP appended) */
	char *dnsbl_nameserver; /* blocklist-nameserver NAME: NS and SOA, NULL = hostname */
	/* the DNS server's scrape endpoint: blocklist-metrics-listen ADDR:PORT, NULL = none */
	struct conf_listen *dnsbl_metrics_listen;
	/* DNSBL/DNSWL client (src/dnsbl) */
	struct conf_dnsbl *dnsbls; /* in file order */
	size_t n_dnsbls;
	int dnsbl_threshold;		     /* dnsbl-threshold N: score that acts, default 1 */
	enum conf_dnsbl_action dnsbl_action; /* dnsbl-action reject|defer|tag, default reject */
	unsigned dnsbl_health_interval;	     /* dnsbl-health-interval: s between tests, 10m */
	unsigned dnsbl_cache_size;	     /* dnsbl-cache-size: cached answers, 10000; 0 = none */
	/* the scanner, delisting and rescans (src/scan); defaults set by conf_new */
	char *scan_opt_out; /* scan-opt-out FILE: networks never scanned, NULL = none */
	uint16_t scan_ports[CONF_SCAN_PORTS_MAX]; /* scan-ports PORT,...: default 25,587,465 */
	size_t n_scan_ports;
	unsigned scan_timeout;		 /* scan-timeout DURATION: per reply, default 10s */
	unsigned scan_delist_interval;	 /* scan-delist-interval DURATION: per IP, default 1h */
	unsigned scan_rescan_interval;	 /* scan-rescan-interval DURATION: default 1d */
	int scan_rescan;		 /* scan-rescan yes|no: rescans from `dnsbl`, default no */
	unsigned blocklist_expire_after; /* blocklist-expire-after DURATION: default 7d, 0 ok */
	int scan_allow_reserved;	 /* scan-allow-reserved yes|no: default no */
	char *scan_source;		 /* scan-source ADDR: connect from, NULL = any */
	/* the self-check (src/server/self_check.c): outbound-address ADDR...: the addresses the
	 * server sends mail from (IP text as written, validated), looked up in the lists; none:
	 * the listeners' public addresses */
	char **outbound_addrs;
	size_t n_outbound_addrs;
	unsigned self_check_interval; /* self-check-interval DURATION|off: 6h; 0 = off */
	char *self_check_lists;	      /* self-check-lists FILE: a lists file also used, or NULL */
	/* the blocklist's web page (src/web): blocklist-web-listen ADDR:PORT, NULL = not set */
	struct conf_listen *web_listen;
	/* response-rate limiting of `relayguard dnsbl` (src/blocklist/rrl.c) */
	struct conf_blocklist_rate {
		unsigned rate; /* blocklist-rate-limit N/s|off: answers/s per network, 0 = off */
		unsigned slip; /* blocklist-rate-slip N: every Nth limited answer TC, 0 = none */
		unsigned v4_prefix; /* blocklist-rate-prefix V4 V6: the client network */
		unsigned v6_prefix;
	} blocklist_rate;
};
#define CONF_DEFAULT_BLOCKLIST_RATE 100
#define CONF_DEFAULT_BLOCKLIST_SLIP 2
#define CONF_DEFAULT_BLOCKLIST_RATE_V4 24
#define CONF_DEFAULT_BLOCKLIST_RATE_V6 56

#define CONF_DEFAULT_SCAN_TIMEOUT 10
#define CONF_DEFAULT_SCAN_DELIST_INTERVAL 3600
#define CONF_DEFAULT_SCAN_RESCAN_INTERVAL 86400
#define CONF_DEFAULT_EXPIRE_AFTER (7 * 86400)
#define CONF_DEFAULT_BLOCKLIST_DB "var/db/blocklist.db"
#define CONF_DEFAULT_DNSBL_LISTEN "127.0.0.1:53"
#define CONF_DEFAULT_DNSBL_TTL 300

#define CONF_DEFAULT_SELF_AUDIT 86400	   /* once a day */
#define CONF_DEFAULT_SELF_CHECK (6 * 3600) /* self-check-interval */

/* Parse a configuration from memory. Pure: no I/O. name is used in error messages and in rule
 * IDs ("name:line"). On success returns 0 and *out (caller frees with conf_free). On error
 * returns -1, *out is NULL and err holds "name:line:col: problem". */
int conf_parse(const char *text, size_t len, const char *name, struct conf **out, char *err,
	       size_t errlen);

/* Read path and conf_parse it; fills hostname from gethostname() when absent and checks that
 * at least one listen exists. Same error convention (errors about the file itself name it). */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen);

/* Free c whatever its reference count (the parse path, and programs that never share it). */
void conf_free(struct conf *c);

/* Take one more reference to c and return it (NULL stays NULL). Loop thread only. */
struct conf *conf_ref(struct conf *c);
/* Drop one reference; the last one frees c. NULL is ignored. Loop thread only. */
void conf_unref(struct conf *c);

/* The control-socket path a config file names (its default when it names none), found without
 * parsing the rest: a CLI must reach the server even when the file now has an error elsewhere
 * (that is when `relayguard reload` must report it). Lines are lexed one by one and a line
 * that does not lex is skipped. Pure. 0, or -1 when the path does not fit in out. */
int conf_peek_control_socket(const char *text, size_t len, char *out, size_t outlen);
/* Read path and conf_peek_control_socket it. 0, or -1 with err set ("PATH: cannot read: ..."). */
int conf_load_control_socket(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* The state-dir the same way (`relayguard changelog` must work while the file has an error).
 * Pure. 0, or -1 when the path does not fit. */
int conf_peek_state_dir(const char *text, size_t len, char *out, size_t outlen);

/* "HOST", "HOST:PORT", "[IPV6]" or "[IPV6]:PORT" (a bare IPv6 address takes no port): the host
 * (an IP literal, or a name, normalised) into host, the port into *port when one is given.
 * 0 or -1. Pure. */
int conf_split_host_port(const char *s, char *host, size_t hostlen, uint16_t *port);

/* The dnsbl line for zone (normalised), or NULL. */
const struct conf_dnsbl *conf_find_dnsbl(const struct conf *c, const char *zone);

/* The first outbound-address of family (AF_INET or AF_INET6), or NULL. */
const char *conf_outbound_addr(const struct conf *c, int family);

/* blocklist-database, or its default. */
const char *conf_blocklist_db(const struct conf *c);

/* The route for a normalised domain: "route DOMAIN" for it, else "route *", else NULL. */
const struct conf_route *conf_find_route(const struct conf *c, const char *domain);

/* One line describing a relay rule: "allow from trusted to any". Pure. */
void conf_rule_describe(const struct conf_relay_rule *r, char *buf, size_t len);

/* Is domain (normalised) one of the local domains? */
int conf_is_local_domain(const struct conf *c, const char *domain);

/* The mailbox for local@domain (both normalised, local lower-case), or NULL. */
const struct conf_mailbox *conf_find_mailbox(const struct conf *c, const char *local,
					     const char *domain);

#endif
