/* conf.c — the configuration parser. One table row per directive (name, usage, arity, handler),
 * Postfix/OpenSMTPD style: adding a directive is a row and a small function. conf_parse is pure;
 * conf_load adds the file and the checks that only matter for a server about to run. */
#include "conf.h"
#include "lexer.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_MAX_LEN 64	  /* user names (directory names) and relay rule IDs */
#define LOGIN_MAX_LEN 255 /* an SMTP AUTH identity (sender-grant) */
#define SHOW_MAX 64	  /* longest token quoted in an error message */
#define UNLIMITED 0	  /* directive takes any number of arguments */

enum once { MANY, ONCE };

struct parser;

/* One directive line as its handler sees it. */
struct stmt {
	const struct directive *d;
	const struct lex_token *name; /* the directive word */
	const struct lex_token *arg;  /* its arguments */
	size_t n;
};

struct directive {
	const char *name;
	const char *usage; /* the arguments, shown in "'NAME' expects USAGE" */
	unsigned min, max; /* argument count; max UNLIMITED = no upper bound */
	enum once once;	   /* given twice is an error */
	int (*handle)(struct parser *p, const struct stmt *s);
};

static int do_hostname(struct parser *p, const struct stmt *s);
static int do_listen(struct parser *p, const struct stmt *s);
static int do_spool(struct parser *p, const struct stmt *s);
static int do_mail_root(struct parser *p, const struct stmt *s);
static int do_local_domain(struct parser *p, const struct stmt *s);
static int do_mailbox(struct parser *p, const struct stmt *s);
static int do_trusted(struct parser *p, const struct stmt *s);
static int do_relay(struct parser *p, const struct stmt *s);
static int do_ip_literal(struct parser *p, const struct stmt *s);
static int do_bare_newline(struct parser *p, const struct stmt *s);
static int do_workers(struct parser *p, const struct stmt *s);
static int do_segment_size(struct parser *p, const struct stmt *s);
static int do_limit(struct parser *p, const struct stmt *s);
static int do_open_relay_override(struct parser *p, const struct stmt *s);
static int do_route(struct parser *p, const struct stmt *s);
static int do_dns_server(struct parser *p, const struct stmt *s);
static int do_delivery(struct parser *p, const struct stmt *s);
static int do_delivery_tls(struct parser *p, const struct stmt *s);
static int do_local_delivery(struct parser *p, const struct stmt *s);
static int do_control_socket(struct parser *p, const struct stmt *s);
static int do_auth_database(struct parser *p, const struct stmt *s);
static int do_metrics_listen(struct parser *p, const struct stmt *s);
static int do_auth_allowlist(struct parser *p, const struct stmt *s);
static int do_state_dir(struct parser *p, const struct stmt *s);
static int do_tls_certificate(struct parser *p, const struct stmt *s);
static int do_tls_key(struct parser *p, const struct stmt *s);
static int do_sender_grant(struct parser *p, const struct stmt *s);
static int do_relay_recipient(struct parser *p, const struct stmt *s);
static int do_user(struct parser *p, const struct stmt *s);
static int do_self_audit(struct parser *p, const struct stmt *s);
static int do_self_audit_source(struct parser *p, const struct stmt *s);
static int do_abuse_store(struct parser *p, const struct stmt *s);
static int do_greylist(struct parser *p, const struct stmt *s);
static int do_greylist_value(struct parser *p, const struct stmt *s);
static int do_greylist_netmask(struct parser *p, const struct stmt *s);
static int do_clock_offset(struct parser *p, const struct stmt *s);
static int do_ratelimit(struct parser *p, const struct stmt *s);
static int do_ratelimit_store_error(struct parser *p, const struct stmt *s);
static int do_dnsbl(struct parser *p, const struct stmt *s);
static int do_dnsbl_threshold(struct parser *p, const struct stmt *s);
static int do_dnsbl_action(struct parser *p, const struct stmt *s);
static int do_dnsbl_health_interval(struct parser *p, const struct stmt *s);
static int do_dnsbl_cache_size(struct parser *p, const struct stmt *s);
static int do_scan_value(struct parser *p, const struct stmt *s);
static int do_scan_ports(struct parser *p, const struct stmt *s);
static int do_scan_path(struct parser *p, const struct stmt *s);

/* The grammar, in the order of docs/config.md. */
static int do_blocklist_database(struct parser *p, const struct stmt *s);
static int do_dnsbl_zone(struct parser *p, const struct stmt *s);
static int do_dnsbl_listen(struct parser *p, const struct stmt *s);
static int do_dnsbl_metrics_listen(struct parser *p, const struct stmt *s);
static int do_dnsbl_ttl(struct parser *p, const struct stmt *s);
static int do_dnsbl_url(struct parser *p, const struct stmt *s);
static int do_dnsbl_nameserver(struct parser *p, const struct stmt *s);
static int do_outbound_address(struct parser *p, const struct stmt *s);
const char *conf_blocklist_db(const struct conf *c)
{
	return c->blocklist_database ? c->blocklist_database : CONF_DEFAULT_BLOCKLIST_DB;
}

static int do_self_check_interval(struct parser *p, const struct stmt *s);
static int do_self_check_lists(struct parser *p, const struct stmt *s);
static int do_web_listen(struct parser *p, const struct stmt *s);
static int do_blocklist_rate_limit(struct parser *p, const struct stmt *s);
static int do_blocklist_rate_slip(struct parser *p, const struct stmt *s);
static int do_blocklist_rate_prefix(struct parser *p, const struct stmt *s);

static const struct directive directives[] = {
    {"hostname", "NAME", 1, 1, ONCE, do_hostname},
    {"listen", "ADDR:PORT [role smtp|submission] [tls implicit] [auth yes|no]", 1, 7, MANY,
     do_listen},
    {"spool", "DIR", 1, 1, ONCE, do_spool},
    {"mail-root", "DIR", 1, 1, ONCE, do_mail_root},
    {"local-domain", "DOMAIN...", 1, UNLIMITED, MANY, do_local_domain},
    {"mailbox", "LOCAL[@DOMAIN] [user NAME]", 1, 3, MANY, do_mailbox},
    {"trusted-network", "CIDR...", 1, UNLIMITED, MANY, do_trusted},
    {"relay", "allow|deny from SOURCE [to DEST] [id NAME]", 3, 7, MANY, do_relay},
    {"ip-literal-recipients", "yes|no", 1, 1, ONCE, do_ip_literal},
    {"bare-newline", "reject|normalise", 1, 1, ONCE, do_bare_newline},
    {"delivery-workers", "N", 1, 1, ONCE, do_workers},
    {"spool-segment-size", "SIZE", 1, 1, ONCE, do_segment_size},
    {"limit", "NAME VALUE", 2, 2, MANY, do_limit},
    {"open-relay-override", "REASON", 1, 1, ONCE, do_open_relay_override},
    {"route", "DOMAIN|* via HOST[:PORT]", 3, 3, MANY, do_route},
    {"dns-server", "ADDR[:PORT]...", 1, UNLIMITED, MANY, do_dns_server},
    {"delivery", "NAME VALUE", 2, 2, MANY, do_delivery},
    {"delivery-tls", "may|none", 1, 1, ONCE, do_delivery_tls},
    {"local-delivery", "maildir | lmtp HOST:PORT|unix:PATH", 1, 2, ONCE, do_local_delivery},
    {"control-socket", "PATH", 1, 1, ONCE, do_control_socket},
    {"auth-database", "PATH", 1, 1, ONCE, do_auth_database},
    {"metrics-listen", "ADDR:PORT", 1, 1, ONCE, do_metrics_listen},
    {"auth-allowlist", "CIDR...", 1, UNLIMITED, MANY, do_auth_allowlist},
    {"state-dir", "DIR", 1, 1, ONCE, do_state_dir},
    {"tls-certificate", "PATH", 1, 1, ONCE, do_tls_certificate},
    {"tls-key", "PATH", 1, 1, ONCE, do_tls_key},
    {"sender-grant", "LOGIN ADDRESS|@DOMAIN...", 2, UNLIMITED, MANY, do_sender_grant},
    {"relay-recipient", "ADDRESS...", 1, UNLIMITED, MANY, do_relay_recipient},
    {"user", "NAME", 1, 1, ONCE, do_user},
    {"self-audit", "INTERVAL|off", 1, 1, ONCE, do_self_audit},
    {"self-audit-source", "ADDR [ADDR]", 1, 2, ONCE, do_self_audit_source},
    {"abuse-store", "sqlite PATH | redis HOST:PORT|unix:PATH [prefix P]", 2, 4, ONCE,
     do_abuse_store},
    {"greylist", "on|off", 1, 1, ONCE, do_greylist},
    {"greylist-delay", "DURATION", 1, 1, ONCE, do_greylist_value},
    {"greylist-window", "DURATION", 1, 1, ONCE, do_greylist_value},
    {"greylist-lifetime", "DURATION", 1, 1, ONCE, do_greylist_value},
    {"greylist-auto-whitelist", "N", 1, 1, ONCE, do_greylist_value},
    {"greylist-netmask", "V4-BITS V6-BITS", 2, 2, ONCE, do_greylist_netmask},
    {"clock-offset", "DURATION", 1, 1, ONCE, do_clock_offset},
    {"ratelimit", "NAME COUNT/WINDOW|off", 2, 2, MANY, do_ratelimit},
    {"ratelimit-on-store-error", "accept|tempfail", 1, 1, ONCE, do_ratelimit_store_error},
    {"blocklist-database", "PATH", 1, 1, ONCE, do_blocklist_database},
    {"blocklist-zone", "NAME", 1, 1, ONCE, do_dnsbl_zone},
    {"blocklist-listen", "ADDR:PORT", 1, 1, ONCE, do_dnsbl_listen},
    {"blocklist-metrics-listen", "ADDR:PORT", 1, 1, ONCE, do_dnsbl_metrics_listen},
    {"blocklist-ttl", "DURATION", 1, 1, ONCE, do_dnsbl_ttl},
    {"blocklist-url", "URL", 1, 1, ONCE, do_dnsbl_url},
    {"blocklist-nameserver", "NAME", 1, 1, ONCE, do_dnsbl_nameserver},
    {"dnsbl", "ZONE [weight N] [codes A[-B],...] [timeout DURATION] [ipv6 yes|no]", 1, 9, MANY,
     do_dnsbl},
    {"dnsbl-threshold", "N", 1, 1, ONCE, do_dnsbl_threshold},
    {"dnsbl-action", "reject|defer|tag", 1, 1, ONCE, do_dnsbl_action},
    {"dnsbl-health-interval", "DURATION", 1, 1, ONCE, do_dnsbl_health_interval},
    {"dnsbl-cache-size", "N", 1, 1, ONCE, do_dnsbl_cache_size},
    {"scan-opt-out", "FILE", 1, 1, ONCE, do_scan_path},
    {"scan-ports", "PORT[,PORT...]", 1, CONF_SCAN_PORTS_MAX, ONCE, do_scan_ports},
    {"scan-timeout", "DURATION", 1, 1, ONCE, do_scan_value},
    {"scan-delist-interval", "DURATION", 1, 1, ONCE, do_scan_value},
    {"scan-rescan-interval", "DURATION", 1, 1, ONCE, do_scan_value},
    {"scan-rescan", "yes|no", 1, 1, ONCE, do_scan_value},
    {"blocklist-expire-after", "DURATION", 1, 1, ONCE, do_scan_value},
    {"scan-allow-reserved", "yes|no", 1, 1, ONCE, do_scan_value},
    {"scan-source", "ADDR", 1, 1, ONCE, do_scan_path},
    {"outbound-address", "ADDR...", 1, UNLIMITED, MANY, do_outbound_address},
    {"self-check-interval", "DURATION|off", 1, 1, ONCE, do_self_check_interval},
    {"self-check-lists", "FILE", 1, 1, ONCE, do_self_check_lists},
    {"blocklist-web-listen", "ADDR:PORT", 1, 1, ONCE, do_web_listen},
    {"blocklist-rate-limit", "N/s|off", 1, 1, ONCE, do_blocklist_rate_limit},
    {"blocklist-rate-slip", "N", 1, 1, ONCE, do_blocklist_rate_slip},
    {"blocklist-rate-prefix", "IPV4_PREFIX IPV6_PREFIX", 2, 2, ONCE, do_blocklist_rate_prefix},
};
#define N_DIRECTIVES (sizeof(directives) / sizeof(directives[0]))

/* A numeric value: its syntax and its allowed range, with the range as the admin writes it. */
enum num_kind { NUM_COUNT, NUM_SIZE, NUM_DURATION, NUM_SIZE_PERCENT /* SIZE or 0%..99% */ };
struct num_spec {
	enum num_kind kind;
	uint64_t min, max;
	const char *range;
};

/* "limit NAME VALUE" and "delivery NAME VALUE": every setting has a name, a range and a
 * default, and lives in one of these tables only. */
struct limit_def {
	const char *name;
	struct num_spec spec;
	uint64_t def;
	size_t off; /* in struct conf_limits / conf_delivery */
	int wide;   /* uint64_t field, else unsigned */
};

#define LIMIT_FIELD(f)                                                                             \
	offsetof(struct conf_limits, f), sizeof(((struct conf_limits *)0)->f) == sizeof(uint64_t)
static const struct limit_def limit_defs[] = {
    {"message-size", {NUM_SIZE, 1024, 1u << 30, "1K..1G"}, 10u << 20, LIMIT_FIELD(message_size)},
    {"recipients", {NUM_COUNT, 1, 100000, "1..100000"}, 100, LIMIT_FIELD(recipients)},
    {"line-length", {NUM_COUNT, 512, 65536, "512..65536"}, 1000, LIMIT_FIELD(line_length)},
    {"header-size", {NUM_SIZE, 1024, 1u << 30, "1K..1G"}, 256u << 10, LIMIT_FIELD(header_size)},
    {"command-timeout", {NUM_DURATION, 1, 3600, "1s..1h"}, 300, LIMIT_FIELD(command_timeout)},
    {"data-timeout", {NUM_DURATION, 1, 3600, "1s..1h"}, 600, LIMIT_FIELD(data_timeout)},
    {"max-sessions", {NUM_COUNT, 1, 1000000, "1..1000000"}, 1000, LIMIT_FIELD(max_sessions)},
    {"max-errors", {NUM_COUNT, 1, 1000, "1..1000"}, 10, LIMIT_FIELD(max_errors)},
    {"greeting-delay", {NUM_DURATION, 0, 60, "0s..60s"}, 0, LIMIT_FIELD(greeting_delay)},
    {"shutdown-grace", {NUM_DURATION, 0, 300, "0s..5m"}, 10, LIMIT_FIELD(shutdown_grace)},
    {"auth-failure-delay", {NUM_DURATION, 0, 30, "0s..30s"}, 1, LIMIT_FIELD(auth_failure_delay)},
    {"auth-session-failures", {NUM_COUNT, 1, 100, "1..100"}, 3, LIMIT_FIELD(auth_session_failures)},
    {"auth-ip-failures", {NUM_COUNT, 1, 100000, "1..100000"}, 10, LIMIT_FIELD(auth_ip_failures)},
    {"auth-block-time",
     {NUM_DURATION, 1, 24 * 3600, "1s..1d"},
     15 * 60,
     LIMIT_FIELD(auth_block_time)},
    {"auth-guard-size", {NUM_COUNT, 64, 65536, "64..65536"}, 8192, LIMIT_FIELD(auth_guard_size)},
    {"max-sessions-per-ip",
     {NUM_COUNT, 0, 1000000, "0..1000000"},
     50,
     LIMIT_FIELD(max_sessions_per_ip)},
    {"queue-pressure",
     {NUM_COUNT, 0, 100000000, "0..100000000"},
     5000,
     LIMIT_FIELD(queue_pressure)},
    {"queue-refuse", {NUM_COUNT, 0, 100000000, "0..100000000"}, 20000, LIMIT_FIELD(queue_refuse)},
    {"queue-pressure-delay",
     {NUM_DURATION, 1, 60, "1s..60s"},
     5,
     LIMIT_FIELD(queue_pressure_delay)},
    {"spool-min-free",
     {NUM_SIZE_PERCENT, 0, 1ull << 40, "0..1T or 0%..99%"},
     0,
     LIMIT_FIELD(spool_min_free)},
    {"stage-memory", {NUM_SIZE, 0, 16ull << 30, "0..16G"}, 64u << 20, LIMIT_FIELD(stage_memory)},
};
#define N_LIMITS (sizeof(limit_defs) / sizeof(limit_defs[0]))

#define DELIVERY_FIELD(f)                                                                          \
	offsetof(struct conf_delivery, f),                                                         \
	    sizeof(((struct conf_delivery *)0)->f) == sizeof(uint64_t)
#define DAY (24 * 3600)
static const struct limit_def delivery_defs[] = {
    {"concurrency", {NUM_COUNT, 1, 10000, "1..10000"}, 100, DELIVERY_FIELD(concurrency)},
    {"destination-concurrency",
     {NUM_COUNT, 1, 1000, "1..1000"},
     20,
     DELIVERY_FIELD(destination_concurrency)},
    {"destination-rate-delay",
     {NUM_DURATION, 0, 3600, "0s..1h"},
     0,
     DELIVERY_FIELD(destination_rate_delay)},
    {"retry-min", {NUM_DURATION, 1, DAY, "1s..1d"}, 300, DELIVERY_FIELD(retry_min)},
    {"retry-max", {NUM_DURATION, 1, DAY, "1s..1d"}, 3600, DELIVERY_FIELD(retry_max)},
    {"lifetime", {NUM_DURATION, 1, 100 * DAY, "1s..100d"}, 5 * DAY, DELIVERY_FIELD(lifetime)},
    {"delay-warning", {NUM_DURATION, 0, 100 * DAY, "0s..100d"}, 0, DELIVERY_FIELD(delay_warning)},
    {"connect-timeout", {NUM_DURATION, 1, 600, "1s..10m"}, 30, DELIVERY_FIELD(connect_timeout)},
    {"command-timeout", {NUM_DURATION, 1, 3600, "1s..1h"}, 300, DELIVERY_FIELD(command_timeout)},
    {"data-timeout", {NUM_DURATION, 1, 3600, "1s..1h"}, 600, DELIVERY_FIELD(data_timeout)},
    {"port", {NUM_COUNT, 1, 65535, "1..65535"}, 25, DELIVERY_FIELD(port)},
    {"bounce-size-limit",
     {NUM_SIZE, 0, 1u << 30, "0..1G"},
     50u << 10,
     DELIVERY_FIELD(bounce_size_limit)},
    {"local-retry", {NUM_DURATION, 1, 3600, "1s..1h"}, 60, DELIVERY_FIELD(local_retry)},
    {"dns-timeout", {NUM_DURATION, 1, 60, "1s..1m"}, 5, DELIVERY_FIELD(dns_timeout)},
};
#define N_DELIVERY (sizeof(delivery_defs) / sizeof(delivery_defs[0]))

static const struct num_spec workers_spec = {NUM_COUNT, 1, 64, "1..64"};
static const struct num_spec segment_spec = {NUM_SIZE, 1u << 20, 1u << 30, "1M..1G"};

#define DEFAULT_SPOOL "var/spool"
#define DEFAULT_MAIL_ROOT "var/mail"
#define DEFAULT_WORKERS 4
#define DEFAULT_SEGMENT_SIZE (64u << 20)
#define DEFAULT_SMTP_PORT 25
#define DEFAULT_DNSBL_THRESHOLD 1
#define DEFAULT_DNSBL_HEALTH_INTERVAL 600
#define DEFAULT_DNSBL_CACHE_SIZE 10000

/* Things whose position is needed after their line: for "first at line N" and for the checks
 * made once the whole file is read. */
enum item { ITEM_LISTEN, ITEM_DOMAIN, ITEM_MAILBOX, ITEM_RULE, N_ITEMS };
struct pos {
	unsigned line, col;
};

struct parser {
	struct conf *c;
	const char *name;
	char *err;
	size_t errlen;
	unsigned seen[N_DIRECTIVES];   /* line of the first occurrence, 0 = not yet */
	unsigned limit_seen[N_LIMITS]; /* same, per limit */
	unsigned delivery_seen[N_DELIVERY];
	struct pos *pos[N_ITEMS]; /* parallel to the conf arrays */
};

/* ---- errors ---- */

/* A token as quoted in a message: bounded, cut on a character boundary. The struct is returned
 * by value so callers can write show(t).s inside the printf arguments. */
struct shown {
	char s[SHOW_MAX + 4];
};

static struct shown show(const char *text)
{
	struct shown r;
	size_t n = strlen(text);
	if (n <= SHOW_MAX) {
		memcpy(r.s, text, n + 1);
		return r;
	}
	n = SHOW_MAX;
	while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
		n--;
	memcpy(r.s, text, n);
	memcpy(r.s + n, "...", 4);
	return r;
}

__attribute__((format(printf, 4, 5))) static int error_at(struct parser *p, unsigned line,
							  unsigned col, const char *fmt, ...)
{
	if (!p->err || p->errlen == 0)
		return -1;
	int n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->name, line, col);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define error_tok(p, t, ...) error_at((p), (t)->line, (t)->col, __VA_ARGS__)

static int oom(struct parser *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: out of memory", p->name);
	return -1;
}

/* Wrong arity or a misplaced keyword: the directive's usage line, at the token to blame. */
static int usage(struct parser *p, const struct stmt *s, const struct lex_token *t)
{
	return error_tok(p, t, "'%s' expects %s", s->d->name, s->d->usage);
}

/* ---- growable arrays ---- */

/* Room for element n of an array that only grows. Capacity doubles and is implied by the length
 * (8, 16, 32...), so no capacity field is needed. Returns the (maybe moved) array, or NULL with
 * arr untouched on overflow or allocation failure. */
static void *append_slot(void *arr, size_t n, size_t size)
{
	if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
		return arr;
	size_t cap = n == 0 ? 8 : n * 2;
	if (cap < n || cap > SIZE_MAX / size)
		return NULL;
	return realloc(arr, cap * size);
}

/* Remember where element n of kind k was written. */
static int note_pos(struct parser *p, enum item k, size_t n, const struct lex_token *t)
{
	struct pos *a = append_slot(p->pos[k], n, sizeof(*a));
	if (!a)
		return oom(p);
	p->pos[k] = a;
	a[n].line = t->line;
	a[n].col = t->col;
	return 0;
}

static int set_str(struct parser *p, char **dst, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return oom(p);
	free(*dst);
	*dst = copy;
	return 0;
}

/* ---- values ---- */

static int parse_count(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int parse_value(struct parser *p, const struct lex_token *t, const struct num_spec *spec,
		       const char *what, uint64_t *out)
{
	static const char *const kind_names[] = {"number", "size", "duration",
						 "size or percentage"};
	uint64_t v = 0;
	size_t len = strlen(t->text);
	if (spec->kind == NUM_SIZE_PERCENT && len > 1 && len <= 3 && t->text[len - 1] == '%') {
		char pct[3] = {t->text[0], len == 3 ? t->text[1] : '\0', '\0'};
		if (parse_count(pct, &v) < 0)
			return error_tok(p, t, "invalid percentage '%s' for %s", show(t->text).s,
					 what);
		*out = CONF_PERCENT | v;
		return 0;
	}
	int rc = spec->kind == NUM_SIZE || spec->kind == NUM_SIZE_PERCENT
		     ? util_parse_size(t->text, &v)
		 : spec->kind == NUM_DURATION ? util_parse_duration(t->text, &v)
					      : parse_count(t->text, &v);
	if (rc < 0)
		return error_tok(p, t, "invalid %s '%s' for %s", kind_names[spec->kind],
				 show(t->text).s, what);
	if (v < spec->min || v > spec->max)
		return error_tok(p, t, "value %s out of range %s for %s", show(t->text).s,
				 spec->range, what);
	*out = v;
	return 0;
}

/* A name that becomes a directory (mailbox user) or a log field (rule ID): letters, digits, '.',
 * '_', '-', at most 64. No '/' and no leading '.' rules out "..", hidden and nested paths. */
static int name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr("._-", *s))
			return 0;
	return 1;
}

/* ---- directives with a single simple value ---- */

static int do_hostname(struct parser *p, const struct stmt *s)
{
	char norm[256];
	if (util_domain_normalise(s->arg[0].text, norm, sizeof(norm)) < 0)
		return error_tok(p, &s->arg[0], "invalid hostname '%s'", show(s->arg[0].text).s);
	return set_str(p, &p->c->hostname, norm);
}

/* The admin's named reason for running a config that relays for outside clients. */
static int do_open_relay_override(struct parser *p, const struct stmt *s)
{
	if (s->arg[0].text[0] == '\0')
		return error_tok(p, &s->arg[0], "'open-relay-override' needs a reason");
	return set_str(p, &p->c->open_relay_override, s->arg[0].text);
}

static int set_path(struct parser *p, const struct stmt *s, char **dst)
{
	const struct lex_token *t = &s->arg[0];
	if (t->text[0] == '\0')
		return error_tok(p, t, "empty path for '%s'", s->d->name);
	if (strlen(t->text) >= PATH_MAX)
		return error_tok(p, t, "path too long for '%s'", s->d->name);
	return set_str(p, dst, t->text);
}

static int do_spool(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->spool_dir);
}

static int do_mail_root(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->mail_root);
}

static int do_ip_literal(struct parser *p, const struct stmt *s)
{
	const char *v = s->arg[0].text;
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
		return error_tok(p, &s->arg[0], "invalid value '%s' for '%s' (expected yes or no)",
				 show(v).s, s->d->name);
	p->c->ip_literal_recipients = strcmp(v, "yes") == 0;
	return 0;
}

static int do_bare_newline(struct parser *p, const struct stmt *s)
{
	const char *v = s->arg[0].text;
	if (strcmp(v, "reject") == 0)
		p->c->bare_newline = CONF_BARE_REJECT;
	else if (strcmp(v, "normalise") == 0)
		p->c->bare_newline = CONF_BARE_NORMALISE;
	else
		return error_tok(p, &s->arg[0],
				 "invalid value '%s' for '%s' (expected reject or normalise)",
				 show(v).s, s->d->name);
	return 0;
}

static int do_workers(struct parser *p, const struct stmt *s)
{
	uint64_t v;
	if (parse_value(p, &s->arg[0], &workers_spec, s->d->name, &v) < 0)
		return -1;
	p->c->delivery_workers = (unsigned)v;
	return 0;
}

static int do_segment_size(struct parser *p, const struct stmt *s)
{
	return parse_value(p, &s->arg[0], &segment_spec, s->d->name, &p->c->spool_segment_size);
}

/* A table of named numeric settings ("limit NAME VALUE", "delivery NAME VALUE"). */
struct value_table {
	const struct limit_def *defs;
	size_t n;
	unsigned *seen;
	void *base; /* the struct the fields are in */
};

static void table_store(const struct limit_def *l, void *base, uint64_t v)
{
	unsigned char *field = (unsigned char *)base + l->off;
	unsigned narrow = (unsigned)v; /* every narrow range fits in unsigned */
	if (l->wide)
		memcpy(field, &v, sizeof(v));
	else
		memcpy(field, &narrow, sizeof(narrow));
}

static void table_defaults(const struct limit_def *defs, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++)
		table_store(&defs[i], base, defs[i].def);
}

static int table_set(struct parser *p, const struct stmt *s, const struct value_table *t)
{
	const struct lex_token *name = &s->arg[0];
	const char *kind = s->d->name;
	size_t i = 0;
	while (i < t->n && strcmp(t->defs[i].name, name->text) != 0)
		i++;
	if (i == t->n)
		return error_tok(p, name, "unknown %s '%s'", kind, show(name->text).s);
	const struct limit_def *l = &t->defs[i];
	if (t->seen[i])
		return error_tok(p, s->name, "duplicate '%s %s' (first at line %u)", kind, l->name,
				 t->seen[i]);
	t->seen[i] = s->name->line;
	char what[64];
	snprintf(what, sizeof(what), "%s %s", kind, l->name);
	uint64_t v;
	if (parse_value(p, &s->arg[1], &l->spec, what, &v) < 0)
		return -1;
	table_store(l, t->base, v);
	return 0;
}

static int do_limit(struct parser *p, const struct stmt *s)
{
	struct value_table t = {limit_defs, N_LIMITS, p->limit_seen, &p->c->limits};
	return table_set(p, s, &t);
}

static int do_delivery(struct parser *p, const struct stmt *s)
{
	struct value_table t = {delivery_defs, N_DELIVERY, p->delivery_seen, &p->c->delivery};
	return table_set(p, s, &t);
}

/* ---- listen ---- */

static int parse_port(const char *s, uint16_t *out)
{
	uint64_t v;
	if (strlen(s) > 5 || parse_count(s, &v) < 0 || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "A.B.C.D:PORT" or "[IPV6]:PORT" into l (network byte order). Returns 0, -1 for a bad address,
 * -2 for a bad port. Only literals: a name would need DNS, and a listener must not. */
static int parse_hostport(const char *s, struct conf_listen *l)
{
	char host[INET6_ADDRSTRLEN];
	int v6 = s[0] == '[';
	const char *h = s + v6, *end = v6 ? strchr(s, ']') : strrchr(s, ':');
	if (!end || (v6 && end[1] != ':'))
		return -1;
	size_t hlen = (size_t)(end - h);
	if (hlen == 0 || hlen >= sizeof(host) || strlen(s) >= sizeof(l->text))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&l->addr, 0, sizeof(l->addr));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&l->addr;
	if (v6 ? inet_pton(AF_INET6, host, &a6->sin6_addr) != 1
	       : inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return -1;
	uint16_t port;
	if (parse_port(end + 1 + v6, &port) < 0)
		return -2;
	if (v6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		l->addrlen = sizeof(*a6);
	} else {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		l->addrlen = sizeof(*a4);
	}
	util_strlcpy(l->text, s, sizeof(l->text));
	return 0;
}

static int same_sockaddr(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static int listen_role(struct parser *p, const struct lex_token *v, struct conf_listen *l)
{
	if (strcmp(v->text, "smtp") == 0)
		l->role = CONF_ROLE_SMTP;
	else if (strcmp(v->text, "submission") == 0)
		l->role = CONF_ROLE_SUBMISSION;
	else
		return error_tok(p, v, "invalid role '%s' (expected smtp or submission)",
				 show(v->text).s);
	return 0;
}

static int parse_yes_no(const char *v)
{
	return strcmp(v, "yes") == 0 ? 1 : strcmp(v, "no") == 0 ? 0 : -1;
}

static int listen_key(const char *k)
{
	return !strcmp(k, "role") || !strcmp(k, "tls") || !strcmp(k, "auth");
}

/* The "KEY VALUE" options after the address, each at most once, in any order. */
static int listen_options(struct parser *p, const struct stmt *s, struct conf_listen *l)
{
	int auth = -1, seen_role = 0, seen_tls = 0;
	if (s->n % 2 == 0)
		return usage(p, s,
			     listen_key(s->arg[s->n - 1].text) ? s->name /* no value */
							       : &s->arg[s->n - 1]);
	for (size_t i = 1; i + 1 < s->n; i += 2) {
		const struct lex_token *k = &s->arg[i], *v = &s->arg[i + 1];
		if (strcmp(k->text, "role") == 0 && !seen_role++) {
			if (listen_role(p, v, l) < 0)
				return -1;
		} else if (strcmp(k->text, "tls") == 0 && !seen_tls++) {
			if (strcmp(v->text, "implicit") != 0)
				return error_tok(p, v, "invalid tls mode '%s' (expected implicit)",
						 show(v->text).s);
			l->tls_implicit = 1;
		} else if (strcmp(k->text, "auth") == 0 && auth < 0) {
			if ((auth = parse_yes_no(v->text)) < 0)
				return error_tok(p, v, "invalid auth '%s' (expected yes or no)",
						 show(v->text).s);
		} else {
			return usage(p, s, k);
		}
	}
	l->auth = auth >= 0 ? auth : l->role == CONF_ROLE_SUBMISSION;
	return 0;
}

static int do_listen(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	const struct lex_token *t = &s->arg[0];
	struct conf_listen l = {0};
	int rc = parse_hostport(t->text, &l);
	if (rc == -1)
		return error_tok(p, t,
				 "invalid listen address '%s' (expected IPV4:PORT or [IPV6]:PORT)",
				 show(t->text).s);
	if (rc == -2)
		return error_tok(p, t, "invalid port in '%s' (expected 1..65535)", show(t->text).s);
	if (listen_options(p, s, &l) < 0)
		return -1;
	for (size_t i = 0; i < c->n_listens; i++)
		if (same_sockaddr(&c->listens[i], &l))
			return error_tok(p, t, "duplicate listen '%s' (first at line %u)",
					 show(t->text).s, p->pos[ITEM_LISTEN][i].line);
	struct conf_listen *a = append_slot(c->listens, c->n_listens, sizeof(*a));
	if (!a)
		return oom(p);
	c->listens = a;
	if (note_pos(p, ITEM_LISTEN, c->n_listens, t) < 0)
		return -1;
	l.line = t->line;
	a[c->n_listens++] = l;
	return 0;
}

/* ---- domains, mailboxes, networks ---- */

static int add_local_domain(struct parser *p, const struct lex_token *t)
{
	struct conf *c = p->c;
	char norm[256];
	if (util_domain_normalise(t->text, norm, sizeof(norm)) < 0)
		return error_tok(p, t, "invalid domain '%s'", show(t->text).s);
	for (size_t i = 0; i < c->n_local_domains; i++)
		if (strcmp(c->local_domains[i], norm) == 0)
			return error_tok(p, t, "duplicate local-domain '%s' (first at line %u)",
					 show(t->text).s, p->pos[ITEM_DOMAIN][i].line);
	char **a = append_slot(c->local_domains, c->n_local_domains, sizeof(*a));
	if (!a)
		return oom(p);
	c->local_domains = a;
	if (note_pos(p, ITEM_DOMAIN, c->n_local_domains, t) < 0)
		return -1;
	if (!(a[c->n_local_domains] = strdup(norm)))
		return oom(p);
	c->n_local_domains++;
	return 0;
}

static int do_local_domain(struct parser *p, const struct stmt *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (add_local_domain(p, &s->arg[i]) < 0)
			return -1;
	return 0;
}

/* RFC 5322 dot-atom: atext runs separated by single dots. */
static int dot_atom_valid(const char *s, size_t n)
{
	static const char atext_punct[] = "!#$%&'*+-/=?^_`{|}~";
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.' ? s[i + 1] == '.'
			      : !(ch < 0x80 && (isalnum(ch) || strchr(atext_punct, ch))))
			return 0;
	}
	return 1;
}

/* LOCAL[@DOMAIN] into local (lower-case) and domain (normalised, "" when absent). */
static int split_mailbox(struct parser *p, const struct lex_token *t, char *local, size_t locallen,
			 char *domain, size_t domainlen)
{
	const char *at = strchr(t->text, '@');
	size_t n = at ? (size_t)(at - t->text) : strlen(t->text);
	if (n >= locallen || !dot_atom_valid(t->text, n))
		return error_tok(p, t, "invalid local part in mailbox '%s'", show(t->text).s);
	memcpy(local, t->text, n);
	local[n] = '\0';
	util_str_lower(local);
	domain[0] = '\0';
	if (at && util_domain_normalise(at + 1, domain, domainlen) < 0)
		return error_tok(p, t, "invalid domain in mailbox '%s'", show(t->text).s);
	return 0;
}

static int mailbox_user(struct parser *p, const struct stmt *s, const char *local,
			const char **user)
{
	if (s->n == 2 || (s->n == 3 && strcmp(s->arg[1].text, "user") != 0))
		return usage(p, s, s->n == 3 ? &s->arg[1] : s->name);
	*user = s->n == 3 ? s->arg[2].text : local;
	if (name_valid(*user))
		return 0;
	if (s->n == 3)
		return error_tok(p, &s->arg[2],
				 "invalid user name '%s' (letters, digits, '.', '_', '-'; "
				 "no leading '.'; at most 64)",
				 show(*user).s);
	return error_tok(p, &s->arg[0], "local part '%s' is not a valid user name; add 'user NAME'",
			 show(local).s);
}

static int find_mailbox_index(const struct conf *c, const char *local, const char *domain)
{
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		const struct conf_mailbox *m = &c->mailboxes[i];
		if (strcmp(m->local, local) == 0 &&
		    (m->domain ? domain && strcmp(m->domain, domain) == 0 : !domain))
			return (int)i;
	}
	return -1;
}

static int do_mailbox(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	const struct lex_token *t = &s->arg[0];
	char local[65], domain[256];
	const char *user = NULL;
	if (split_mailbox(p, t, local, sizeof(local), domain, sizeof(domain)) < 0 ||
	    mailbox_user(p, s, local, &user) < 0)
		return -1;
	const char *dom = domain[0] ? domain : NULL;
	int dup = find_mailbox_index(c, local, dom);
	if (dup >= 0)
		return error_tok(p, t, "duplicate mailbox '%s' (first at line %u)", show(t->text).s,
				 p->pos[ITEM_MAILBOX][dup].line);
	struct conf_mailbox *a = append_slot(c->mailboxes, c->n_mailboxes, sizeof(*a));
	if (!a)
		return oom(p);
	c->mailboxes = a;
	if (note_pos(p, ITEM_MAILBOX, c->n_mailboxes, t) < 0)
		return -1;
	struct conf_mailbox *m = &a[c->n_mailboxes++];
	m->local = strdup(local);
	m->domain = dom ? strdup(dom) : NULL;
	m->user = strdup(user);
	if (!m->local || (dom && !m->domain) || !m->user)
		return oom(p);
	return 0;
}

/* Parse t as a CIDR and append it to *arr (length *n). 0, or -1 with the error set. */
static int append_cidr(struct parser *p, const struct lex_token *t, struct cidr **arr, size_t *n)
{
	struct cidr net;
	if (cidr_parse(t->text, &net) < 0)
		return error_tok(p, t, "invalid CIDR '%s'", show(t->text).s);
	struct cidr *a = append_slot(*arr, *n, sizeof(*a));
	if (!a)
		return oom(p);
	*arr = a;
	a[(*n)++] = net;
	return 0;
}

static int do_trusted(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	for (size_t i = 0; i < s->n; i++) {
		unsigned *l = append_slot(c->trusted_lines, c->n_trusted, sizeof(*l));
		if (!l)
			return oom(p);
		c->trusted_lines = l;
		l[c->n_trusted] = s->arg[i].line;
		if (append_cidr(p, &s->arg[i], &c->trusted, &c->n_trusted) < 0)
			return -1;
	}
	return 0;
}

/* auth-allowlist CIDR...: addresses never blocked for failed AUTH (like trusted networks). */
static int do_auth_allowlist(struct parser *p, const struct stmt *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (append_cidr(p, &s->arg[i], &p->c->auth_allowlist, &p->c->n_auth_allowlist) < 0)
			return -1;
	return 0;
}

/* ---- sender grants ---- */

/* An SMTP AUTH identity as written: printable, no control characters, at most 255 bytes. */
static int login_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LOGIN_MAX_LEN)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

/* "local@domain" (or "@domain" when allow_domain) into its stored form: local part
 * lower-case, domain normalised like a local-domain. what names the directive in errors. */
static int stored_address(struct parser *p, const struct lex_token *t, int allow_domain,
			  const char *what, char *out, size_t outlen)
{
	const char *at = strchr(t->text, '@');
	char domain[256];
	size_t n = at ? (size_t)(at - t->text) : 0;
	if (!at || (n == 0 && !allow_domain))
		return error_tok(p, t, "%s expects an address%s, not '%s'", what,
				 allow_domain ? " or @DOMAIN" : "", show(t->text).s);
	if (n > 64 || (n > 0 && !dot_atom_valid(t->text, n)))
		return error_tok(p, t, "invalid local part in %s '%s'", what, show(t->text).s);
	if (util_domain_normalise(at + 1, domain, sizeof(domain)) < 0)
		return error_tok(p, t, "invalid domain in %s '%s'", what, show(t->text).s);
	snprintf(out, outlen, "%.*s@%s", (int)n, t->text, domain);
	util_str_lower(out);
	return 0;
}

static int do_sender_grant(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	if (!login_valid(s->arg[0].text))
		return error_tok(p, &s->arg[0],
				 "invalid login '%s' (printable, no spaces, at most 255 bytes)",
				 show(s->arg[0].text).s);
	struct conf_sender_grant *a = append_slot(c->sender_grants, c->n_sender_grants, sizeof(*a));
	if (!a)
		return oom(p);
	c->sender_grants = a;
	/* stored (zeroed) before it is filled, so conf_free releases whatever part was made */
	struct conf_sender_grant *g = &a[c->n_sender_grants++];
	memset(g, 0, sizeof(*g));
	if (!(g->login = strdup(s->arg[0].text)) ||
	    !(g->senders = calloc(s->n - 1, sizeof(*g->senders))))
		return oom(p);
	util_str_lower(g->login);
	for (size_t i = 1; i < s->n; i++) {
		char sender[64 + 1 + 256];
		if (stored_address(p, &s->arg[i], 1, "sender-grant", sender, sizeof(sender)) < 0)
			return -1;
		if (!(g->senders[g->n_senders] = strdup(sender)))
			return oom(p);
		g->n_senders++;
	}
	return 0;
}

/* relay-recipient ADDRESS...: the valid recipients of a relay domain (a backup MX): once a
 * domain has one, RCPT to any other address in it is refused (no backscatter). */
static int do_relay_recipient(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	for (size_t i = 0; i < s->n; i++) {
		char addr[64 + 1 + 256];
		if (stored_address(p, &s->arg[i], 0, "relay-recipient", addr, sizeof(addr)) < 0)
			return -1;
		char **a = append_slot(c->relay_recipients, c->n_relay_recipients, sizeof(*a));
		if (!a)
			return oom(p);
		c->relay_recipients = a;
		if (!(a[c->n_relay_recipients] = strdup(addr)))
			return oom(p);
		c->n_relay_recipients++;
	}
	return 0;
}

/* ---- relay rules ---- */

/* Copy the next element of a comma-separated list into buf and step past it. Returns the
 * element's full length: when it is >= len the copy was cut (and the element cannot be valid). */
static size_t next_elem(const char **list, char *buf, size_t len)
{
	const char *s = *list, *comma = strchr(s, ',');
	size_t n = comma ? (size_t)(comma - s) : strlen(s);
	size_t k = n < len - 1 ? n : len - 1;
	memcpy(buf, s, k);
	buf[k] = '\0';
	*list = comma ? comma + 1 : s + n;
	return n;
}

static size_t count_elems(const char *list)
{
	size_t n = 1;
	for (; *list; list++)
		n += *list == ',';
	return n;
}

static int parse_source_nets(struct parser *p, struct conf_relay_rule *r, const struct lex_token *t)
{
	size_t n = count_elems(t->text);
	const char *rest = t->text;
	if (!(r->nets = calloc(n, sizeof(*r->nets))))
		return oom(p);
	r->from = CONF_FROM_NETS;
	for (size_t i = 0; i < n; i++) {
		char elem[INET6_ADDRSTRLEN + 8];
		size_t len = next_elem(&rest, elem, sizeof(elem));
		if (!strcmp(elem, "any") || !strcmp(elem, "trusted") ||
		    !strcmp(elem, "authenticated"))
			return error_tok(p, t, "'%s' cannot be combined with other sources", elem);
		if (len >= sizeof(elem) || cidr_parse(elem, &r->nets[i]) < 0)
			return error_tok(p, t, "invalid CIDR '%s'", show(elem).s);
		r->n_nets++;
	}
	return 0;
}

static int parse_source(struct parser *p, struct conf_relay_rule *r, const struct lex_token *t)
{
	static const struct {
		const char *word;
		enum conf_relay_from from;
	} words[] = {{"any", CONF_FROM_ANY},
		     {"trusted", CONF_FROM_TRUSTED},
		     {"authenticated", CONF_FROM_AUTHENTICATED}};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(t->text, words[i].word) == 0) {
			r->from = words[i].from;
			return 0;
		}
	return parse_source_nets(p, r, t);
}

static int parse_dest(struct parser *p, struct conf_relay_rule *r, const struct lex_token *t)
{
	if (strcmp(t->text, "any") == 0)
		return 0;
	size_t n = count_elems(t->text);
	const char *rest = t->text;
	if (!(r->to_domains = calloc(n, sizeof(*r->to_domains))))
		return oom(p);
	for (size_t i = 0; i < n; i++) {
		char elem[256], norm[256];
		size_t len = next_elem(&rest, elem, sizeof(elem));
		if (strcmp(elem, "any") == 0)
			return error_tok(p, t, "'any' cannot be combined with domains");
		if (len >= sizeof(elem) || util_domain_normalise(elem, norm, sizeof(norm)) < 0)
			return error_tok(p, t, "invalid domain '%s'", show(elem).s);
		if (!(r->to_domains[i] = strdup(norm)))
			return oom(p);
		r->n_to++;
	}
	return 0;
}

/* The rule's ID: "id NAME", or "FILE:LINE", which an admin can find in the file. */
static int set_rule_id(struct parser *p, struct conf_relay_rule *r, const struct lex_token *id,
		       const struct lex_token *directive)
{
	const struct conf *c = p->c;
	if (id && !name_valid(id->text))
		return error_tok(p, id,
				 "invalid relay id '%s' (letters, digits, '.', '_', '-'; "
				 "no leading '.'; at most 64)",
				 show(id->text).s);
	if (id && strcmp(id->text, "implicit-reject") == 0)
		return error_tok(p, id, "relay id 'implicit-reject' is reserved");
	size_t len = id ? strlen(id->text) + 1 : strlen(p->name) + 12;
	if (!(r->id = malloc(len)))
		return oom(p);
	if (id)
		memcpy(r->id, id->text, len);
	else
		snprintf(r->id, len, "%s:%u", p->name, directive->line);
	for (size_t i = 0; i + 1 < c->n_rules; i++)
		if (strcmp(c->rules[i].id, r->id) == 0)
			return error_tok(p, id ? id : directive,
					 "duplicate relay id '%s' (first at line %u)",
					 show(r->id).s, p->pos[ITEM_RULE][i].line);
	return 0;
}

/* The optional "to DEST" and "id NAME" clauses, in either order, each at most once. */
static int relay_clauses(struct parser *p, const struct stmt *s, const struct lex_token **to,
			 const struct lex_token **id)
{
	*to = *id = NULL;
	for (size_t i = 3; i < s->n; i += 2) {
		const struct lex_token *kw = &s->arg[i], **slot = NULL;
		if (strcmp(kw->text, "to") == 0)
			slot = to;
		else if (strcmp(kw->text, "id") == 0)
			slot = id;
		if (!slot || i + 1 >= s->n)
			return usage(p, s, kw);
		if (*slot)
			return error_tok(p, kw, "duplicate '%s' in relay rule", kw->text);
		*slot = &s->arg[i + 1];
	}
	return 0;
}

static int do_relay(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	const struct lex_token *to, *id;
	const char *action = s->arg[0].text;
	if (strcmp(action, "allow") != 0 && strcmp(action, "deny") != 0)
		return error_tok(p, &s->arg[0],
				 "invalid relay action '%s' (expected allow or deny)",
				 show(action).s);
	if (strcmp(s->arg[1].text, "from") != 0)
		return usage(p, s, &s->arg[1]);
	if (relay_clauses(p, s, &to, &id) < 0)
		return -1;
	/* The rule is stored (zeroed) before it is filled, so conf_free releases whatever part
	 * of it was allocated when a later check fails. */
	struct conf_relay_rule *a = append_slot(c->rules, c->n_rules, sizeof(*a));
	if (!a)
		return oom(p);
	c->rules = a;
	if (note_pos(p, ITEM_RULE, c->n_rules, s->name) < 0)
		return -1;
	struct conf_relay_rule *r = &a[c->n_rules++];
	memset(r, 0, sizeof(*r));
	r->action = strcmp(action, "allow") == 0 ? CONF_RELAY_ALLOW : CONF_RELAY_DENY;
	if (parse_source(p, r, &s->arg[2]) < 0 || (to && parse_dest(p, r, to) < 0))
		return -1;
	return set_rule_id(p, r, id, s->name);
}

/* ---- delivery ---- */

int conf_split_host_port(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	char buf[300];
	unsigned char tmp[16];
	if (strlen(s) >= sizeof(buf))
		return -1;
	util_strlcpy(buf, s, sizeof(buf));
	char *h = buf, *p = NULL;
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		*end = '\0';
		h = buf + 1;
		p = end[1] ? end + 2 : NULL;
		if (inet_pton(AF_INET6, h, tmp) != 1)
			return -1;
	} else if (strchr(buf, ':') && strchr(buf, ':') == strrchr(buf, ':')) {
		p = strchr(buf, ':');
		*p++ = '\0';
	}
	if (p && parse_port(p, port) < 0)
		return -1;
	if (inet_pton(AF_INET6, h, tmp) == 1 || inet_pton(AF_INET, h, tmp) == 1)
		return util_strlcpy(host, h, hostlen) < hostlen ? 0 : -1;
	return util_domain_normalise(h, host, hostlen);
}

static int do_route(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	const struct lex_token *dom = &s->arg[0], *to = &s->arg[2];
	char norm[256], host[256];
	uint16_t port = DEFAULT_SMTP_PORT;
	if (strcmp(s->arg[1].text, "via") != 0)
		return usage(p, s, &s->arg[1]);
	int any = strcmp(dom->text, "*") == 0;
	if (!any && util_domain_normalise(dom->text, norm, sizeof(norm)) < 0)
		return error_tok(p, dom, "invalid domain '%s' in route", show(dom->text).s);
	if (conf_split_host_port(to->text, host, sizeof(host), &port) < 0)
		return error_tok(p, to,
				 "invalid next hop '%s' (expected HOST[:PORT] or [IPV6]:PORT)",
				 show(to->text).s);
	for (size_t i = 0; i < c->n_routes; i++)
		if (any ? !c->routes[i].domain
			: c->routes[i].domain && strcmp(c->routes[i].domain, norm) == 0)
			return error_tok(p, dom, "duplicate route for '%s'", show(dom->text).s);
	struct conf_route *a = append_slot(c->routes, c->n_routes, sizeof(*a));
	if (!a)
		return oom(p);
	c->routes = a;
	struct conf_route *r = &a[c->n_routes++];
	memset(r, 0, sizeof(*r));
	r->port = port;
	if ((!any && !(r->domain = strdup(norm))) || !(r->host = strdup(host)))
		return oom(p);
	return 0;
}

static int do_dns_server(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	for (size_t i = 0; i < s->n; i++) {
		const struct lex_token *t = &s->arg[i];
		char host[256];
		uint16_t port = 53;
		unsigned char tmp[16];
		int lit =
		    conf_split_host_port(t->text, host, sizeof(host), &port) == 0 &&
		    (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1);
		if (!lit && inet_pton(AF_INET6, t->text, tmp) != 1)
			return error_tok(
			    p, t,
			    "invalid dns-server '%s' (expected an IP address, IPV4:PORT "
			    "or [IPV6]:PORT)",
			    show(t->text).s);
		char **a = append_slot(c->dns_servers, c->n_dns_servers, sizeof(*a));
		if (!a)
			return oom(p);
		c->dns_servers = a;
		if (!(a[c->n_dns_servers] = strdup(t->text)))
			return oom(p);
		c->n_dns_servers++;
	}
	return 0;
}

static int do_delivery_tls(struct parser *p, const struct stmt *s)
{
	const char *v = s->arg[0].text;
	if (strcmp(v, "may") == 0)
		p->c->delivery_tls = CONF_TLS_CLIENT_MAY;
	else if (strcmp(v, "none") == 0)
		p->c->delivery_tls = CONF_TLS_CLIENT_NONE;
	else
		return error_tok(p, &s->arg[0],
				 "invalid value '%s' for '%s' (expected may or none)", show(v).s,
				 s->d->name);
	return 0;
}

static int do_local_delivery(struct parser *p, const struct stmt *s)
{
	const char *m = s->arg[0].text;
	if (strcmp(m, "maildir") == 0 && s->n == 1) {
		p->c->local_delivery = CONF_LOCAL_MAILDIR;
		return 0;
	}
	if (strcmp(m, "lmtp") != 0 || s->n != 2)
		return usage(p, s, s->n == 2 ? &s->arg[0] : s->name);
	const struct lex_token *t = &s->arg[1];
	char host[256];
	uint16_t port = 0;
	if (strncmp(t->text, "unix:", 5) == 0) {
		if (t->text[5] == '\0' ||
		    strlen(t->text + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return error_tok(p, t, "invalid LMTP socket path '%s'", show(t->text).s);
	} else if (conf_split_host_port(t->text, host, sizeof(host), &port) < 0 || port == 0) {
		return error_tok(p, t, "invalid LMTP target '%s' (expected HOST:PORT or unix:PATH)",
				 show(t->text).s);
	}
	p->c->local_delivery = CONF_LOCAL_LMTP;
	return set_str(p, &p->c->lmtp_target, t->text);
}

static int do_control_socket(struct parser *p, const struct stmt *s)
{
	if (strlen(s->arg[0].text) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return error_tok(p, &s->arg[0], "control-socket path too long (max %zu bytes)",
				 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	return set_path(p, s, &p->c->control_socket);
}

/* The SMTP AUTH credential store (src/auth), written by `relayguard user`. */
static int do_auth_database(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->auth_database);
}

/* Where the server keeps its own state (the config changelog, src/changelog). */
static int do_state_dir(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->state_dir);
}

static int do_metrics_listen(struct parser *p, const struct stmt *s)
{
	const struct lex_token *t = &s->arg[0];
	struct conf_listen l = {0};
	if (parse_hostport(t->text, &l) < 0)
		return error_tok(p, t,
				 "invalid metrics-listen address '%s' (expected IPV4:PORT or "
				 "[IPV6]:PORT)",
				 show(t->text).s);
	struct conf_listen *m = malloc(sizeof(*m));
	if (!m)
		return oom(p);
	*m = l;
	p->c->metrics_listen = m;
	return 0;
}

/* ---- TLS ---- */

static int do_tls_certificate(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->tls_cert_file);
}

static int do_tls_key(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->tls_key_file);
}

static const struct directive *find_directive(const char *name);

/* Certificate and key come together; an implicit-TLS listener needs them. Whether the files
 * load is checked where they are read (serve, reload, check), not by this pure parser. */
static int check_tls(struct parser *p)
{
	const struct conf *c = p->c;
	unsigned cert = p->seen[find_directive("tls-certificate") - directives];
	unsigned key = p->seen[find_directive("tls-key") - directives];
	if (cert && !key)
		return error_at(p, cert, 1, "tls-certificate without tls-key");
	if (key && !cert)
		return error_at(p, key, 1, "tls-key without tls-certificate");
	for (size_t i = 0; i < c->n_listens && !cert; i++)
		if (c->listens[i].tls_implicit)
			return error_at(
			    p, p->pos[ITEM_LISTEN][i].line, p->pos[ITEM_LISTEN][i].col,
			    "listen %s: 'tls implicit' needs tls-certificate and tls-key",
			    c->listens[i].text);
	return 0;
}

/* The account serve becomes when started as root. Never root itself: the point is that no
 * session parses untrusted input with root's rights. */
static int do_user(struct parser *p, const struct stmt *s)
{
	const struct lex_token *t = &s->arg[0];
	if (!name_valid(t->text))
		return error_tok(p, t,
				 "invalid user name '%s' (letters, digits, '.', '_', '-'; no "
				 "leading '.'; at most 64)",
				 show(t->text).s);
	if (strcmp(t->text, "root") == 0)
		return error_tok(p, t,
				 "'user root' is refused: serve drops root to run its sessions; "
				 "name an unprivileged user (default %s)",
				 CONF_DEFAULT_USER);
	return set_str(p, &p->c->run_user, t->text);
}

/* ---- the self-audit ---- */

static const struct num_spec self_audit_spec = {NUM_DURATION, 1, 30 * DAY, "1s..30d"};

/* self-audit INTERVAL|off: how often serve runs the relay probe against its own listeners. */
static int do_self_audit(struct parser *p, const struct stmt *s)
{
	uint64_t v = 0;
	if (strcmp(s->arg[0].text, "off") != 0 &&
	    parse_value(p, &s->arg[0], &self_audit_spec, s->d->name, &v) < 0)
		return -1;
	p->c->self_audit = (unsigned)v;
	return 0;
}

/* self-audit-source ADDR [ADDR]: the address the self-audit connects from, at most one IPv4
 * and one IPv6. */
static int do_self_audit_source(struct parser *p, const struct stmt *s)
{
	for (size_t i = 0; i < s->n; i++) {
		unsigned char buf[16];
		const char *a = s->arg[i].text;
		int v6 = inet_pton(AF_INET6, a, buf) == 1;
		if (!v6 && inet_pton(AF_INET, a, buf) != 1)
			return error_tok(p, &s->arg[i],
					 "invalid self-audit-source '%s' (expected an IPv4 or "
					 "IPv6 address)",
					 show(a).s);
		char **slot = v6 ? &p->c->self_audit_source6 : &p->c->self_audit_source4;
		if (*slot)
			return error_tok(p, &s->arg[i],
					 "self-audit-source: one address per family");
		if (set_str(p, slot, a) < 0)
			return -1;
	}
	return 0;
}

/* ---- the parse ---- */

static const struct directive *find_directive(const char *name)
{
	for (size_t i = 0; i < N_DIRECTIVES; i++)
		if (strcmp(directives[i].name, name) == 0)
			return &directives[i];
	return NULL;
}

static int run_directive(struct parser *p, const struct lex_token *t, size_t n)
{
	const struct directive *d = find_directive(t[0].text);
	if (!d)
		return error_tok(p, &t[0], "unknown directive '%s'", show(t[0].text).s);
	struct stmt s = {d, &t[0], &t[1], n - 1};
	if (s.n < d->min)
		return usage(p, &s, &t[0]);
	if (d->max != UNLIMITED && s.n > d->max)
		return usage(p, &s, &s.arg[d->max]);
	size_t i = (size_t)(d - directives);
	if (d->once && p->seen[i])
		return error_tok(p, &t[0], "duplicate '%s' (first at line %u)", d->name,
				 p->seen[i]);
	if (!p->seen[i])
		p->seen[i] = t[0].line;
	return d->handle(p, &s);
}

/* The words of the current line; the array is reused from line to line. */
static int push_token(struct parser *p, struct lex_token **toks, size_t *n, size_t *cap,
		      const struct lex_token *t)
{
	if (*n == *cap) {
		size_t want = *cap ? *cap * 2 : 16;
		struct lex_token *a =
		    want < SIZE_MAX / sizeof(*a) ? realloc(*toks, want * sizeof(*a)) : NULL;
		if (!a)
			return oom(p);
		*toks = a;
		*cap = want;
	}
	(*toks)[(*n)++] = *t;
	return 0;
}

/* Lex the text line by line and hand each non-empty line to its directive. */
static int parse_lines(struct parser *p, const char *text, size_t len, char *arena)
{
	struct lexer lx;
	struct lex_token tok, *toks = NULL;
	struct lex_error e;
	size_t n = 0, cap = 0;
	int rc = 0;
	lex_init(&lx, text, len, arena, len + 1);
	do {
		if (lex_next(&lx, &tok, &e) < 0) {
			rc = error_at(p, e.line, e.col, "%s", e.msg);
		} else if (tok.kind == LEX_WORD) {
			rc = push_token(p, &toks, &n, &cap, &tok);
		} else {
			rc = n > 0 ? run_directive(p, toks, n) : 0;
			n = 0;
		}
	} while (rc == 0 && tok.kind != LEX_EOF);
	free(toks);
	return rc;
}

/* Checks that need the whole file, so that the order of lines does not matter. */
/* ---- DNSBL / DNSWL (RFC 5782) ---- */

#define DEFAULT_DNSBL_WEIGHT 1
#define DEFAULT_DNSBL_TIMEOUT 5
static const struct num_spec dnsbl_timeout_spec = {NUM_DURATION, 1, 60, "1s..60s"};
static const struct num_spec dnsbl_threshold_spec = {NUM_COUNT, 1, 1000, "1..1000"};
static const struct num_spec dnsbl_health_spec = {NUM_DURATION, 1, DAY, "1s..1d"};
static const struct num_spec dnsbl_cache_spec = {NUM_COUNT, 0, 1000000, "0..1000000"};

/* "-N" or "N", |N| <= 100. */
static int dnsbl_weight(struct parser *p, const struct lex_token *t, int *out)
{
	int neg = t->text[0] == '-';
	uint64_t v;
	if (parse_count(t->text + neg, &v) < 0)
		return error_tok(p, t, "invalid number '%s' for dnsbl weight", show(t->text).s);
	if (v > 100)
		return error_tok(p, t, "value %s out of range -100..100 for dnsbl weight",
				 show(t->text).s);
	*out = neg ? -(int)v : (int)v;
	return 0;
}

/* One answer code of a codes list: an IPv4 address in 127.0.0.0/8. */
static int dnsbl_code(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "127.0.0.2,127.0.0.4-127.0.0.7" */
static int dnsbl_codes(struct parser *p, const struct lex_token *t, struct conf_dnsbl *l)
{
	char buf[1024], *save = NULL;
	if (util_strlcpy(buf, t->text, sizeof(buf)) >= sizeof(buf))
		return error_tok(p, t, "dnsbl codes list too long");
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		struct conf_dnsbl_codes r;
		char *dash = strchr(item, '-');
		if (dash)
			*dash = '\0';
		if (dnsbl_code(item, &r.lo) < 0 || dnsbl_code(dash ? dash + 1 : item, &r.hi) < 0 ||
		    r.lo > r.hi)
			return error_tok(p, t,
					 "invalid dnsbl code '%s' (expected 127.X.Y.Z or "
					 "127.X.Y.Z-127.X.Y.Z, comma-separated)",
					 show(t->text).s);
		struct conf_dnsbl_codes *a = append_slot(l->codes, l->n_codes, sizeof(*a));
		if (!a)
			return oom(p);
		l->codes = a;
		a[l->n_codes++] = r;
	}
	if (l->n_codes == 0)
		return error_tok(p, t, "empty dnsbl codes list");
	return 0;
}

static int dnsbl_option(struct parser *p, const struct stmt *s, size_t i, struct conf_dnsbl *l)
{
	const char *k = s->arg[i].text;
	const struct lex_token *v = &s->arg[i + 1];
	uint64_t n;
	if (!strcmp(k, "weight"))
		return dnsbl_weight(p, v, &l->weight);
	if (!strcmp(k, "codes"))
		return l->n_codes ? usage(p, s, &s->arg[i]) : dnsbl_codes(p, v, l);
	if (!strcmp(k, "timeout")) {
		if (parse_value(p, v, &dnsbl_timeout_spec, "dnsbl timeout", &n) < 0)
			return -1;
		l->timeout = (unsigned)n;
		return 0;
	}
	if (!strcmp(k, "ipv6")) {
		if ((l->ipv6 = parse_yes_no(v->text)) < 0)
			return error_tok(p, v, "expected yes or no, not '%s'", show(v->text).s);
		return 0;
	}
	return usage(p, s, &s->arg[i]);
}

static int do_dnsbl(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	char zone[256];
	if (util_domain_normalise(s->arg[0].text, zone, sizeof(zone)) < 0 || !strchr(zone, '.'))
		return error_tok(p, &s->arg[0], "invalid dnsbl zone '%s'", show(s->arg[0].text).s);
	if (strlen(zone) > 200) /* room for the 64 octets of an IPv6 query name */
		return error_tok(p, &s->arg[0], "dnsbl zone '%s' too long (max 200)", show(zone).s);
	const struct conf_dnsbl *dup = conf_find_dnsbl(c, zone);
	if (dup)
		return error_tok(p, &s->arg[0], "dnsbl zone '%s' already given at line %u",
				 show(zone).s, dup->line);
	if (s->n % 2 == 0)
		return usage(p, s, &s->arg[s->n - 1]);
	struct conf_dnsbl *a = append_slot(c->dnsbls, c->n_dnsbls, sizeof(*a));
	if (!a)
		return oom(p);
	c->dnsbls = a;
	struct conf_dnsbl *l = &a[c->n_dnsbls];
	*l = (struct conf_dnsbl){.weight = DEFAULT_DNSBL_WEIGHT,
				 .timeout = DEFAULT_DNSBL_TIMEOUT,
				 .ipv6 = 1,
				 .line = s->name->line};
	if (!(l->zone = strdup(zone)))
		return oom(p);
	c->n_dnsbls++; /* owned by c from here on, freed with it on error */
	for (size_t i = 1; i + 1 < s->n; i += 2)
		if (dnsbl_option(p, s, i, l) < 0)
			return -1;
	return 0;
}

static int do_dnsbl_threshold(struct parser *p, const struct stmt *s)
{
	uint64_t v;
	if (parse_value(p, &s->arg[0], &dnsbl_threshold_spec, "dnsbl-threshold", &v) < 0)
		return -1;
	p->c->dnsbl_threshold = (int)v;
	return 0;
}

static int do_dnsbl_action(struct parser *p, const struct stmt *s)
{
	const char *v = s->arg[0].text;
	if (!strcmp(v, "reject"))
		p->c->dnsbl_action = CONF_DNSBL_REJECT;
	else if (!strcmp(v, "defer"))
		p->c->dnsbl_action = CONF_DNSBL_DEFER;
	else if (!strcmp(v, "tag"))
		p->c->dnsbl_action = CONF_DNSBL_TAG;
	else
		return usage(p, s, &s->arg[0]);
	return 0;
}

static int do_dnsbl_health_interval(struct parser *p, const struct stmt *s)
{
	uint64_t v;
	if (parse_value(p, &s->arg[0], &dnsbl_health_spec, "dnsbl-health-interval", &v) < 0)
		return -1;
	p->c->dnsbl_health_interval = (unsigned)v;
	return 0;
}

static int do_dnsbl_cache_size(struct parser *p, const struct stmt *s)
{
	uint64_t v;
	if (parse_value(p, &s->arg[0], &dnsbl_cache_spec, "dnsbl-cache-size", &v) < 0)
		return -1;
	p->c->dnsbl_cache_size = (unsigned)v;
	return 0;
}

const struct conf_dnsbl *conf_find_dnsbl(const struct conf *c, const char *zone)
{
	for (size_t i = 0; i < c->n_dnsbls; i++)
		if (!strcmp(c->dnsbls[i].zone, zone))
			return &c->dnsbls[i];
	return NULL;
}

static int check_whole(struct parser *p)
{
	const struct conf *c = p->c;
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		const struct conf_mailbox *m = &c->mailboxes[i];
		if (m->domain && !conf_is_local_domain(c, m->domain))
			return error_at(p, p->pos[ITEM_MAILBOX][i].line,
					p->pos[ITEM_MAILBOX][i].col,
					"mailbox domain '%s' is not a local-domain", m->domain);
	}
	return check_tls(p);
}

/* ---- abuse controls (src/abuse) ---- */

/* abuse-store sqlite PATH | redis HOST:PORT|unix:PATH [prefix P] */
static int do_abuse_store(struct parser *p, const struct stmt *s)
{
	struct conf_abuse_store *a = &p->c->abuse_store;
	const char *kind = s->arg[0].text, *where = s->arg[1].text;
	char host[256];
	uint16_t port = 0;
	if (!strcmp(kind, "sqlite") && s->n == 2) {
		if (where[0] == '\0' || strlen(where) >= PATH_MAX)
			return error_tok(p, &s->arg[1], "invalid abuse-store path");
		a->backend = CONF_ABUSE_SQLITE;
		return set_str(p, &a->path, where);
	}
	if (strcmp(kind, "redis") != 0 || s->n == 3 ||
	    (s->n == 4 && strcmp(s->arg[2].text, "prefix") != 0))
		return usage(p, s, s->n > 2 ? &s->arg[2] : &s->arg[0]);
	if (strncmp(where, "unix:", 5) == 0) {
		if (where[5] == '\0' ||
		    strlen(where + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return error_tok(p, &s->arg[1], "invalid Redis socket path '%s'",
					 show(where).s);
	} else if (conf_split_host_port(where, host, sizeof(host), &port) < 0 || port == 0) {
		return error_tok(p, &s->arg[1],
				 "invalid Redis address '%s' (expected HOST:PORT or unix:PATH)",
				 show(where).s);
	}
	if (s->n == 4 && (s->arg[3].text[0] == '\0' || strlen(s->arg[3].text) > 64))
		return error_tok(p, &s->arg[3], "Redis key prefix must be 1..64 characters");
	a->backend = CONF_ABUSE_REDIS;
	if (set_str(p, &a->redis, where) < 0)
		return -1;
	return s->n == 4 ? set_str(p, &a->prefix, s->arg[3].text) : 0;
}

static int abuse_store_defaults(struct parser *p)
{
	struct conf_abuse_store *a = &p->c->abuse_store;
	char text[PATH_MAX + 128];
	if (a->backend == CONF_ABUSE_SQLITE && !a->path &&
	    set_str(p, &a->path, CONF_DEFAULT_ABUSE_DATABASE) < 0)
		return -1;
	if (a->backend == CONF_ABUSE_REDIS && !a->prefix &&
	    set_str(p, &a->prefix, CONF_DEFAULT_ABUSE_PREFIX) < 0)
		return -1;
	if (a->backend == CONF_ABUSE_SQLITE)
		snprintf(text, sizeof(text), "sqlite %s", a->path);
	else
		snprintf(text, sizeof(text), "redis %s prefix %s", a->redis, a->prefix);
	return set_str(p, &a->text, text);
}

static int do_greylist(struct parser *p, const struct stmt *s)
{
	const char *v = s->arg[0].text;
	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
		return usage(p, s, &s->arg[0]);
	p->c->greylist.enabled = !strcmp(v, "on");
	return 0;
}

/* greylist-delay, -window, -lifetime, -auto-whitelist: one row each. */
static const struct greylist_def {
	const char *name;
	struct num_spec spec;
	size_t off;
} greylist_defs[] = {
    {"greylist-delay", {NUM_DURATION, 1, 86400, "1s..1d"}, offsetof(struct conf_greylist, delay)},
    {"greylist-window",
     {NUM_DURATION, 60, 30 * 86400, "1m..30d"},
     offsetof(struct conf_greylist, window)},
    {"greylist-lifetime",
     {NUM_DURATION, 3600, 400 * 86400, "1h..400d"},
     offsetof(struct conf_greylist, lifetime)},
    {"greylist-auto-whitelist",
     {NUM_COUNT, 0, 1000000, "0..1000000"},
     offsetof(struct conf_greylist, auto_whitelist)},
};

static int do_greylist_value(struct parser *p, const struct stmt *s)
{
	for (size_t i = 0; i < sizeof(greylist_defs) / sizeof(greylist_defs[0]); i++) {
		const struct greylist_def *d = &greylist_defs[i];
		uint64_t v;
		if (strcmp(d->name, s->d->name) != 0)
			continue;
		if (parse_value(p, &s->arg[0], &d->spec, d->name, &v) < 0)
			return -1;
		*(unsigned *)((char *)&p->c->greylist + d->off) = (unsigned)v;
		return 0;
	}
	return usage(p, s, s->name);
}

static int do_greylist_netmask(struct parser *p, const struct stmt *s)
{
	static const struct num_spec v4 = {NUM_COUNT, 8, 32, "8..32"};
	static const struct num_spec v6 = {NUM_COUNT, 16, 128, "16..128"};
	uint64_t a, b;
	if (parse_value(p, &s->arg[0], &v4, "greylist-netmask (IPv4)", &a) < 0 ||
	    parse_value(p, &s->arg[1], &v6, "greylist-netmask (IPv6)", &b) < 0)
		return -1;
	p->c->greylist.netmask4 = (unsigned)a;
	p->c->greylist.netmask6 = (unsigned)b;
	return 0;
}

/* TEST ONLY: moves the abuse logic's clock forward (docs/config.md). */
static int do_clock_offset(struct parser *p, const struct stmt *s)
{
	static const struct num_spec spec = {NUM_DURATION, 0, 3650 * 86400ull, "0..3650d"};
	uint64_t v;
	if (parse_value(p, &s->arg[0], &spec, "clock-offset", &v) < 0)
		return -1;
	p->c->clock_offset = (unsigned)v;
	return 0;
}

/* ---- rate limits (src/abuse/ratelimit.c) ---- */

#define RATE_FIELD(f) offsetof(struct conf_ratelimit, f)
static const struct rate_def {
	const char *name;
	size_t off;
	unsigned def_window; /* the window a bare COUNT gets; 0 = a plain number (ip-sessions) */
} rate_defs[] = {
    {"ip-connections", RATE_FIELD(ip_connections), 60},
    {"ip-sessions", 0, 0}, /* another name of limit max-sessions-per-ip */
    {"ip-messages", RATE_FIELD(ip_messages), 3600},
    {"ip-recipients", RATE_FIELD(ip_recipients), 3600},
    {"user-messages-hour", RATE_FIELD(user_messages[0]), 3600},
    {"user-messages-day", RATE_FIELD(user_messages[1]), 86400},
    {"user-recipients-hour", RATE_FIELD(user_recipients[0]), 3600},
    {"user-recipients-day", RATE_FIELD(user_recipients[1]), 86400},
    {"circuit-breaker", RATE_FIELD(circuit_breaker), 3600},
};

/* ratelimit NAME COUNT/WINDOW|COUNT|off (ip-sessions: N|off). */
static int do_ratelimit(struct parser *p, const struct stmt *s)
{
	static const struct num_spec count = {NUM_COUNT, 1, 100000000, "1..100000000"};
	static const struct num_spec window = {NUM_DURATION, 1, 30 * 86400, "1s..30d"};
	const struct rate_def *d = NULL;
	for (size_t i = 0; i < sizeof(rate_defs) / sizeof(rate_defs[0]); i++)
		if (!strcmp(rate_defs[i].name, s->arg[0].text))
			d = &rate_defs[i];
	if (!d)
		return error_tok(p, &s->arg[0], "unknown ratelimit '%s'", show(s->arg[0].text).s);
	char *field = (char *)&p->c->ratelimit + d->off;
	struct lex_token t = s->arg[1];
	char text[64];
	uint64_t n = 0, w = d->def_window;
	if (strcmp(t.text, "off") != 0) {
		const char *slash = strchr(t.text, '/');
		if (strlen(t.text) >= sizeof(text) || (slash && d->def_window == 0))
			return usage(p, s, &s->arg[1]);
		size_t cut = slash ? (size_t)(slash - t.text) : strlen(t.text);
		util_strlcpy(text, t.text, sizeof(text));
		text[cut] = '\0';
		t.text = text;
		if (parse_value(p, &t, &count, d->name, &n) < 0)
			return -1;
		t.text = text + cut + 1;
		if (slash && parse_value(p, &t, &window, d->name, &w) < 0)
			return -1;
	}
	if (d->def_window == 0) {
		p->c->limits.max_sessions_per_ip = (unsigned)n;
		return 0;
	}
	*(struct conf_rate *)field = (struct conf_rate){(unsigned)n, (unsigned)w};
	return 0;
}

static int do_ratelimit_store_error(struct parser *p, const struct stmt *s)
{
	const char *v = s->arg[0].text;
	if (strcmp(v, "accept") != 0 && strcmp(v, "tempfail") != 0)
		return usage(p, s, &s->arg[0]);
	p->c->ratelimit.tempfail_on_store_error = !strcmp(v, "tempfail");
	return 0;
}

static int set_defaults(struct parser *p)
{
	struct conf *c = p->c;
	if (!c->spool_dir && set_str(p, &c->spool_dir, DEFAULT_SPOOL) < 0)
		return -1;
	if (!c->mail_root && set_str(p, &c->mail_root, DEFAULT_MAIL_ROOT) < 0)
		return -1;
	if (!c->control_socket && set_str(p, &c->control_socket, CONF_DEFAULT_CONTROL_SOCKET) < 0)
		return -1;
	if (!c->auth_database && set_str(p, &c->auth_database, CONF_DEFAULT_AUTH_DATABASE) < 0)
		return -1;
	if (!c->state_dir && set_str(p, &c->state_dir, CONF_DEFAULT_STATE_DIR) < 0)
		return -1;
	if (!c->run_user && set_str(p, &c->run_user, CONF_DEFAULT_USER) < 0)
		return -1;
	return abuse_store_defaults(p);
}

static struct conf *conf_new(const char *name)
{
	struct conf *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (!(c->path = strdup(name))) {
		free(c);
		return NULL;
	}
	c->refs = 1;
	table_defaults(limit_defs, N_LIMITS, &c->limits);
	table_defaults(delivery_defs, N_DELIVERY, &c->delivery);
	c->ip_literal_recipients = 0;
	c->bare_newline = CONF_BARE_REJECT;
	c->delivery_workers = DEFAULT_WORKERS;
	c->spool_segment_size = DEFAULT_SEGMENT_SIZE;
	c->self_audit = CONF_DEFAULT_SELF_AUDIT;
	c->self_check_interval = CONF_DEFAULT_SELF_CHECK;
	c->greylist = (struct conf_greylist){0, 300, 2 * 86400, 36 * 86400, 5, 24, 64};
	c->dnsbl_threshold = DEFAULT_DNSBL_THRESHOLD;
	c->dnsbl_action = CONF_DNSBL_REJECT;
	c->dnsbl_health_interval = DEFAULT_DNSBL_HEALTH_INTERVAL;
	c->dnsbl_cache_size = DEFAULT_DNSBL_CACHE_SIZE;
	c->scan_ports[0] = 25, c->scan_ports[1] = 587, c->scan_ports[2] = 465, c->n_scan_ports = 3;
	c->scan_timeout = CONF_DEFAULT_SCAN_TIMEOUT;
	c->scan_delist_interval = CONF_DEFAULT_SCAN_DELIST_INTERVAL;
	c->scan_rescan_interval = CONF_DEFAULT_SCAN_RESCAN_INTERVAL;
	c->blocklist_expire_after = CONF_DEFAULT_EXPIRE_AFTER;
	c->blocklist_rate = (struct conf_blocklist_rate){
	    CONF_DEFAULT_BLOCKLIST_RATE, CONF_DEFAULT_BLOCKLIST_SLIP,
	    CONF_DEFAULT_BLOCKLIST_RATE_V4, CONF_DEFAULT_BLOCKLIST_RATE_V6};
	return c;
}

int conf_parse(const char *text, size_t len, const char *name, struct conf **out, char *err,
	       size_t errlen)
{
	struct parser p = {.name = name ? name : "config", .err = err, .errlen = errlen};
	char *arena = NULL;
	int rc = -1;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > CONF_MAX_SIZE) {
		if (err && errlen)
			snprintf(err, errlen, "%s: too large (max 1 MiB)", p.name);
		return -1;
	}
	if (!(p.c = conf_new(p.name)) || !(arena = malloc(len + 1)))
		rc = oom(&p);
	else if ((rc = parse_lines(&p, text, len, arena)) == 0 && (rc = check_whole(&p)) == 0)
		rc = set_defaults(&p);
	free(arena);
	for (size_t i = 0; i < N_ITEMS; i++)
		free(p.pos[i]);
	if (rc < 0) {
		conf_free(p.c);
		return -1;
	}
	*out = p.c;
	return 0;
}

/* ---- the file ---- */

static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	*len = 0;
	while (*len < cap) {
		ssize_t r = read(fd, buf + *len, cap - *len);
		if (r == 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		*len += r > 0 ? (size_t)r : 0;
	}
	return 0;
}

/* Read all of path into a new buffer (caller frees). One byte more than CONF_MAX_SIZE is read so
 * that a file which is too large is refused rather than silently cut. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(CONF_MAX_SIZE + 1);
	size_t len = 0;
	int rc = buf ? read_all(fd, buf, CONF_MAX_SIZE + 1, &len) : 0;
	int saved = errno;
	close(fd);
	if (!buf)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (rc < 0)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(saved));
	else if (len > CONF_MAX_SIZE)
		snprintf(err, errlen, "%s: too large (max 1 MiB)", path);
	else {
		*out = buf;
		*outlen = len;
		return 0;
	}
	free(buf);
	return -1;
}

/* No "hostname": the machine's own name, as it must appear in a banner. */
static int fill_hostname(struct conf *c, const char *path, char *err, size_t errlen)
{
	char host[256], norm[256];
	if (gethostname(host, sizeof(host)) < 0) {
		snprintf(err, errlen, "%s: no 'hostname' and gethostname failed: %s", path,
			 strerror(errno));
		return -1;
	}
	host[sizeof(host) - 1] = '\0';
	if (util_domain_normalise(host, norm, sizeof(norm)) < 0) {
		snprintf(err, errlen,
			 "%s: no 'hostname' and the system name '%s' is not a valid "
			 "host name",
			 path, show(host).s);
		return -1;
	}
	if (!(c->hostname = strdup(norm))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	char dummy[1], *text;
	size_t len;
	struct conf *c;
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	*out = NULL;
	err[0] = '\0';
	if (read_file(path, &text, &len, err, errlen) < 0)
		return -1;
	int rc = conf_parse(text, len, path, &c, err, errlen);
	if (rc < 0) {
		free(text);
		return -1;
	}
	char *fit = realloc(text, len + 1); /* read_file's buffer is CONF_MAX_SIZE */
	c->text = fit ? fit : text;	    /* the bytes parsed: the changelog's hash and diff */
	c->text_len = len;
	if (c->n_listens == 0) {
		snprintf(err, errlen, "%s: no 'listen' directive", path);
		conf_free(c);
		return -1;
	}
	if (!c->hostname && fill_hostname(c, path, err, errlen) < 0) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int conf_load_control_socket(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char *text;
	size_t len;
	if (read_file(path, &text, &len, err, errlen) < 0)
		return -1;
	int rc = conf_peek_control_socket(text, len, out, outlen);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "%s: control-socket path too long", path);
	return rc;
}

/* ---- queries ---- */

struct conf *conf_ref(struct conf *c)
{
	if (c)
		c->refs++;
	return c;
}

void conf_unref(struct conf *c)
{
	if (c && --c->refs == 0)
		conf_free(c);
}

/* Free an array of n strings and the array. */
static void free_strings(char **a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

static void free_lists(struct conf *c)
{
	free_strings(c->local_domains, c->n_local_domains);
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		free(c->mailboxes[i].local);
		free(c->mailboxes[i].domain);
		free(c->mailboxes[i].user);
	}
	free(c->mailboxes);
	for (size_t i = 0; i < c->n_rules; i++) {
		free_strings(c->rules[i].to_domains, c->rules[i].n_to);
		free(c->rules[i].nets);
		free(c->rules[i].id);
	}
	free(c->rules);
	for (size_t i = 0; i < c->n_routes; i++) {
		free(c->routes[i].domain);
		free(c->routes[i].host);
	}
	free(c->routes);
	free_strings(c->dns_servers, c->n_dns_servers);
	for (size_t i = 0; i < c->n_sender_grants; i++) {
		free_strings(c->sender_grants[i].senders, c->sender_grants[i].n_senders);
		free(c->sender_grants[i].login);
	}
	free(c->sender_grants);
	free_strings(c->relay_recipients, c->n_relay_recipients);
	for (size_t i = 0; i < c->n_dnsbls; i++) {
		free(c->dnsbls[i].zone);
		free(c->dnsbls[i].codes);
	}
	free(c->dnsbls);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	free_lists(c);
	free(c->trusted), free(c->trusted_lines), free(c->auth_allowlist);
	free(c->listens), free(c->metrics_listen);
	free(c->mail_root), free(c->spool_dir), free(c->state_dir), free(c->control_socket);
	free(c->hostname), free(c->open_relay_override), free(c->lmtp_target);
	free(c->auth_database), free(c->tls_cert_file), free(c->tls_key_file);
	free(c->self_audit_source4), free(c->self_audit_source6);
	free(c->blocklist_database), free(c->dnsbl_zone), free(c->dnsbl_listen);
	free(c->dnsbl_url), free(c->dnsbl_nameserver), free(c->dnsbl_metrics_listen);
	free(c->scan_opt_out), free(c->scan_source);
	free_strings(c->outbound_addrs, c->n_outbound_addrs), free(c->self_check_lists);
	free(c->web_listen);
	free(c->abuse_store.path), free(c->abuse_store.redis), free(c->abuse_store.prefix);
	free(c->abuse_store.text);
	free(c->run_user), free(c->text), free(c->path);
	free(c);
}

int conf_is_local_domain(const struct conf *c, const char *domain)
{
	if (!domain)
		return 0;
	for (size_t i = 0; i < c->n_local_domains; i++)
		if (strcmp(c->local_domains[i], domain) == 0)
			return 1;
	return 0;
}

/* A mailbox written for this very domain wins over one written for every local domain. */
const struct conf_mailbox *conf_find_mailbox(const struct conf *c, const char *local,
					     const char *domain)
{
	if (!local || !conf_is_local_domain(c, domain))
		return NULL;
	int i = find_mailbox_index(c, local, domain);
	if (i < 0)
		i = find_mailbox_index(c, local, NULL);
	return i < 0 ? NULL : &c->mailboxes[i];
}

const struct conf_route *conf_find_route(const struct conf *c, const char *domain)
{
	const struct conf_route *any = NULL;
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct conf_route *r = &c->routes[i];
		if (!r->domain)
			any = r;
		else if (domain && strcmp(r->domain, domain) == 0)
			return r;
	}
	return any;
}

void conf_rule_describe(const struct conf_relay_rule *r, char *buf, size_t len)
{
	size_t o = 0;
	o += (size_t)snprintf(buf, len, "%s from ",
			      r->action == CONF_RELAY_ALLOW ? "allow" : "deny");
	static const char *const sources[] = {"any", "trusted", "authenticated"};
	if (r->from != CONF_FROM_NETS && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%s", sources[r->from]);
	for (size_t i = 0; r->from == CONF_FROM_NETS && i < r->n_nets && o < len; i++) {
		char net[64];
		cidr_format(&r->nets[i], net, sizeof(net));
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", net);
	}
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, " to %s", r->n_to ? "" : "any");
	for (size_t i = 0; i < r->n_to && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", r->to_domains[i]);
}

/* ---- the blocklist store and the DNSBL server (src/blocklist) ---- */

static int do_blocklist_database(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->blocklist_database);
}

static int set_domain(struct parser *p, const struct stmt *s, char **dst)
{
	char norm[256];
	if (util_domain_normalise(s->arg[0].text, norm, sizeof(norm)) < 0 || !strchr(norm, '.'))
		return error_tok(p, &s->arg[0], "invalid %s '%s' (expected a domain name)",
				 s->d->name, show(s->arg[0].text).s);
	return set_str(p, dst, norm);
}

static int do_dnsbl_zone(struct parser *p, const struct stmt *s)
{
	return set_domain(p, s, &p->c->dnsbl_zone);
}

static int do_dnsbl_nameserver(struct parser *p, const struct stmt *s)
{
	return set_domain(p, s, &p->c->dnsbl_nameserver);
}

/* A daemon's one listening address (blocklist-listen, blocklist-web-listen,
 * blocklist-metrics-listen): HOST:PORT. */
static int set_hostport(struct parser *p, const struct stmt *s, struct conf_listen **dst)
{
	const struct lex_token *t = &s->arg[0];
	struct conf_listen *m = calloc(1, sizeof(*m));
	if (!m)
		return oom(p);
	if (parse_hostport(t->text, m) < 0) {
		free(m);
		return error_tok(p, t,
				 "invalid %s address '%s' (expected IPV4:PORT or [IPV6]:PORT)",
				 s->d->name, show(t->text).s);
	}
	*dst = m;
	return 0;
}

static int do_dnsbl_listen(struct parser *p, const struct stmt *s)
{
	return set_hostport(p, s, &p->c->dnsbl_listen);
}

static int do_dnsbl_metrics_listen(struct parser *p, const struct stmt *s)
{
	return set_hostport(p, s, &p->c->dnsbl_metrics_listen);
}

static int do_dnsbl_ttl(struct parser *p, const struct stmt *s)
{
	static const struct num_spec spec = {NUM_DURATION, 1, 86400, "1s..1d"};
	uint64_t v;
	if (parse_value(p, &s->arg[0], &spec, "blocklist-ttl", &v) < 0)
		return -1;
	p->c->dnsbl_ttl = (unsigned)v;
	return 0;
}

/* The TXT answer is "REASON; URL<ip>": the URL must be printable and short. */
static int do_dnsbl_url(struct parser *p, const struct stmt *s)
{
	const char *u = s->arg[0].text;
	size_t n = strlen(u);
	int ok = n > 0 && n <= 128;
	for (size_t i = 0; ok && i < n; i++)
		ok = u[i] > ' ' && u[i] < 0x7f && u[i] != '"';
	if (!ok)
		return error_tok(p, &s->arg[0],
				 "invalid blocklist-url (1..128 printable characters)");
	return set_str(p, &p->c->dnsbl_url, u);
}

/* ---- the scanner, delisting and rescans (src/scan) ---- */

static int do_scan_path(struct parser *p, const struct stmt *s)
{
	if (!strcmp(s->d->name, "scan-opt-out"))
		return set_path(p, s, &p->c->scan_opt_out);
	struct cidr a;
	if (cidr_parse(s->arg[0].text, &a) < 0 || a.prefix != 128)
		return error_tok(p, &s->arg[0], "invalid scan-source '%s' (expected an IP address)",
				 show(s->arg[0].text).s);
	return set_str(p, &p->c->scan_source, s->arg[0].text);
}

/* scan-ports 25,587,465 (or 25 587 465): 465 is spoken with implicit TLS. */
static int do_scan_ports(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	c->n_scan_ports = 0;
	for (size_t i = 0; i < s->n; i++) {
		const char *t = s->arg[i].text;
		while (*t) {
			char *end;
			unsigned long v = strtoul(t, &end, 10);
			if (end == t || v < 1 || v > 65535 || (*end && *end != ',') ||
			    c->n_scan_ports == CONF_SCAN_PORTS_MAX)
				return error_tok(p, &s->arg[i],
						 "invalid scan-ports '%s' (1..%d ports 1..65535)",
						 show(s->arg[i].text).s, CONF_SCAN_PORTS_MAX);
			c->scan_ports[c->n_scan_ports++] = (uint16_t)v;
			t = *end ? end + 1 : end;
		}
	}
	return c->n_scan_ports ? 0 : usage(p, s, &s->arg[0]);
}

static int scan_duration(struct parser *p, const struct stmt *s, uint64_t min, unsigned *dst)
{
	static const char *const range[2] = {"1s..365d", "0s..365d"};
	const struct num_spec spec = {NUM_DURATION, min, 365 * DAY, range[min == 0]};
	uint64_t v;
	if (parse_value(p, &s->arg[0], &spec, s->d->name, &v) < 0)
		return -1;
	*dst = (unsigned)v;
	return 0;
}

static int do_scan_value(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	const char *n = s->d->name;
	if (!strcmp(n, "scan-rescan") || !strcmp(n, "scan-allow-reserved")) {
		int v = parse_yes_no(s->arg[0].text);
		if (v < 0)
			return usage(p, s, &s->arg[0]);
		*(!strcmp(n, "scan-rescan") ? &c->scan_rescan : &c->scan_allow_reserved) = v;
		return 0;
	}
	if (!strcmp(n, "scan-timeout"))
		return scan_duration(p, s, 1, &c->scan_timeout);
	if (!strcmp(n, "scan-delist-interval"))
		return scan_duration(p, s, 0, &c->scan_delist_interval);
	if (!strcmp(n, "scan-rescan-interval"))
		return scan_duration(p, s, 0, &c->scan_rescan_interval);
	return scan_duration(p, s, 0, &c->blocklist_expire_after);
}

/* ---- the self-check (src/server/self_check.c) ---- */

/* outbound-address ADDR...: IP addresses only (a loopback or private one too: the self-check
 * checks what the admin names). */
static int do_outbound_address(struct parser *p, const struct stmt *s)
{
	struct conf *c = p->c;
	for (size_t i = 0; i < s->n; i++) {
		unsigned char buf[16];
		const char *a = s->arg[i].text;
		if (inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1)
			return error_tok(p, &s->arg[i],
					 "invalid outbound-address '%s' (expected an IPv4 or IPv6 "
					 "address)",
					 show(a).s);
		char **arr = append_slot(c->outbound_addrs, c->n_outbound_addrs, sizeof(*arr));
		if (!arr)
			return oom(p);
		c->outbound_addrs = arr;
		if (!(arr[c->n_outbound_addrs] = strdup(a)))
			return oom(p);
		c->n_outbound_addrs++;
	}
	return 0;
}

const char *conf_outbound_addr(const struct conf *c, int family)
{
	for (size_t i = 0; i < c->n_outbound_addrs; i++) {
		int v6 = strchr(c->outbound_addrs[i], ':') != NULL;
		if (v6 == (family == AF_INET6))
			return c->outbound_addrs[i];
	}
	return NULL;
}

static int do_self_check_interval(struct parser *p, const struct stmt *s)
{
	static const struct num_spec spec = {NUM_DURATION, 60, 7 * DAY, "1m..7d"};
	uint64_t v = 0;
	if (strcmp(s->arg[0].text, "off") != 0 &&
	    parse_value(p, &s->arg[0], &spec, s->d->name, &v) < 0)
		return -1;
	p->c->self_check_interval = (unsigned)v;
	return 0;
}

static int do_self_check_lists(struct parser *p, const struct stmt *s)
{
	return set_path(p, s, &p->c->self_check_lists);
}

/* The blocklist's web page and JSON API (src/web, `relayguard web`). */
static int do_web_listen(struct parser *p, const struct stmt *s)
{
	return set_hostport(p, s, &p->c->web_listen);
}

/* blocklist-rate-limit N/s|off: answers per second per client network of `relayguard dnsbl`. */
static int do_blocklist_rate_limit(struct parser *p, const struct stmt *s)
{
	static const struct num_spec spec = {NUM_COUNT, 1, 10000000, "1..10000000"};
	struct lex_token t = s->arg[0];
	char text[32];
	size_t n = strlen(t.text);
	if (!strcmp(t.text, "off")) {
		p->c->blocklist_rate.rate = 0;
		return 0;
	}
	if (n < 3 || n >= sizeof(text) || strcmp(t.text + n - 2, "/s") != 0)
		return usage(p, s, &s->arg[0]);
	util_strlcpy(text, t.text, n - 1);
	t.text = text;
	uint64_t v;
	if (parse_value(p, &t, &spec, "blocklist-rate-limit", &v) < 0)
		return -1;
	p->c->blocklist_rate.rate = (unsigned)v;
	return 0;
}

/* blocklist-rate-slip N: every Nth limited answer goes out truncated; 0 drops them all. */
static int do_blocklist_rate_slip(struct parser *p, const struct stmt *s)
{
	static const struct num_spec spec = {NUM_COUNT, 0, 10, "0..10"};
	uint64_t v;
	if (parse_value(p, &s->arg[0], &spec, "blocklist-rate-slip", &v) < 0)
		return -1;
	p->c->blocklist_rate.slip = (unsigned)v;
	return 0;
}

/* blocklist-rate-prefix V4 V6: the client network one bucket covers. */
static int do_blocklist_rate_prefix(struct parser *p, const struct stmt *s)
{
	static const struct num_spec v4 = {NUM_COUNT, 8, 32, "8..32"};
	static const struct num_spec v6 = {NUM_COUNT, 16, 128, "16..128"};
	uint64_t a, b;
	if (parse_value(p, &s->arg[0], &v4, "blocklist-rate-prefix", &a) < 0 ||
	    parse_value(p, &s->arg[1], &v6, "blocklist-rate-prefix", &b) < 0)
		return -1;
	p->c->blocklist_rate.v4_prefix = (unsigned)a;
	p->c->blocklist_rate.v6_prefix = (unsigned)b;
	return 0;
}
