/* test_conf.c — the configuration language: tokens and their positions, every directive's
 * accepted values and defaults, every error with its exact "name:line:col: problem" text, the
 * user-table lookups, and conf_load on real files (including the shipped etc/relayguard.conf). */
#include "conf/conf.h"
#include "conf/lexer.h"
#include "check.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* Append to a bounded text buffer. */
__attribute__((format(printf, 3, 4))) static void add(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* ---- lexer: tokens and positions ---- */

static void lex_describe(const char *text, size_t len, char *out, size_t outlen)
{
	char arena[256];
	struct lexer lx;
	struct lex_token t;
	struct lex_error e;
	out[0] = '\0';
	lex_init(&lx, text, len, arena, len + 1);
	do {
		if (lex_next(&lx, &t, &e) < 0) {
			add(out, outlen, "ERR %u:%u %s", e.line, e.col, e.msg);
			return;
		}
		if (t.kind == LEX_WORD)
			add(out, outlen, "%s[%s]@%u:%u ", t.quoted ? "Q" : "W", t.text, t.line,
			    t.col);
		else
			add(out, outlen, "%s@%u:%u ", t.kind == LEX_EOL ? "EOL" : "EOF", t.line,
			    t.col);
	} while (t.kind != LEX_EOF);
}

static void test_lexer(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
	    {"", "EOF@1:1 "},
	    {"a b\n", "W[a]@1:1 W[b]@1:3 EOL@1:4 EOF@2:1 "},
	    {"\ta\t\tb", "W[a]@1:2 W[b]@1:5 EOF@1:6 "}, /* a tab is one column */
	    {"a # c \"x\n b", "W[a]@1:1 EOL@1:9 W[b]@2:2 EOF@2:3 "},
	    {"a#c\n", "W[a]@1:1 EOL@1:4 EOF@2:1 "}, /* '#' starts a comment anywhere */
	    {"\"a b\" \"\"", "Q[a b]@1:1 Q[]@1:7 EOF@1:9 "},
	    {"\"a\\\"b\\\\c\" d", "Q[a\"b\\c]@1:1 W[d]@1:11 EOF@1:12 "},
	    {"\"#x\"", "Q[#x]@1:1 EOF@1:5 "},
	    {"a\r\nb\r\n", "W[a]@1:1 EOL@1:2 W[b]@2:1 EOL@2:2 EOF@3:1 "},
	    {"\xc3\xbc x", "W[\xc3\xbc]@1:1 W[x]@1:3 EOF@1:4 "},  /* a character is one column */
	    {"\xef\xbb\xbfhostname", "W[hostname]@1:1 EOF@1:9 "}, /* byte order mark skipped */
	    {"\"abc", "ERR 1:1 unterminated quoted string"},
	    {"x \"abc\ny\"", "W[x]@1:1 ERR 1:3 unterminated quoted string"},
	    {"\"a\\nb\"", "ERR 1:3 invalid escape in quoted string (only \\\" and \\\\)"},
	    {"\"a\\", "ERR 1:3 invalid escape in quoted string (only \\\" and \\\\)"},
	    {"ab\"c\"", "ERR 1:3 unexpected '\"' inside a word"},
	    {"\"a\"b", "ERR 1:4 expected a space after the quoted string"},
	    {"a\x01", "ERR 1:2 control character 0x01"},
	    {"a\rb", "ERR 1:2 control character 0x0d"},
	    {"a\x7f", "ERR 1:2 control character 0x7f"},
	    {"# \x80", "ERR 1:3 invalid UTF-8"},
	    {"\xc0\xaf", "ERR 1:1 invalid UTF-8"},
	    {"\xe0\x80\xaf", "ERR 1:1 invalid UTF-8"},	      /* overlong '/' */
	    {"\xed\xa0\x80", "ERR 1:1 invalid UTF-8"},	      /* surrogate */
	    {"\xf4\x90\x80\x80", "ERR 1:1 invalid UTF-8"},    /* above U+10FFFF */
	    {"x \xe2\x82", "W[x]@1:1 ERR 1:3 invalid UTF-8"}, /* truncated at the end */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[512];
		lex_describe(cases[i].in, strlen(cases[i].in), got, sizeof(got));
		CHECK_STR(got, cases[i].want, "lex \"%s\"", cases[i].in);
	}
	char got[512];
	lex_describe("a\0b", 3, got, sizeof(got));
	CHECK_STR(got, "ERR 1:2 NUL byte", "lex NUL");

	/* The arena bound holds even if a caller gets its size wrong. */
	static const char *const small[] = {"abc", "\"abc\"", "\"a\\\"bc\""};
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		char arena[2];
		struct lexer lx;
		struct lex_token t;
		struct lex_error e;
		lex_init(&lx, small[i], strlen(small[i]), arena, sizeof(arena));
		CHECK(lex_next(&lx, &t, &e) == -1, "small arena %s", small[i]);
		CHECK_STR(e.msg, "internal error: token buffer too small", "small arena %s",
			  small[i]);
	}
}

/* ---- valid configurations ---- */

static void describe_listens(const struct conf *c, char *out, size_t len)
{
	for (size_t i = 0; i < c->n_listens; i++)
		add(out, len, "%s%s/%s%s%s", i ? " " : "", c->listens[i].text,
		    c->listens[i].role == CONF_ROLE_SMTP ? "smtp" : "submission",
		    c->listens[i].tls_implicit ? "/tls" : "", c->listens[i].auth ? "/auth" : "");
}

static void describe_mailboxes(const struct conf *c, char *out, size_t len)
{
	for (size_t i = 0; i < c->n_mailboxes; i++) {
		const struct conf_mailbox *m = &c->mailboxes[i];
		add(out, len, "%s%s@%s=%s", i ? " " : "", m->local, m->domain ? m->domain : "*",
		    m->user);
	}
}

static void describe_cidrs(const struct cidr *nets, size_t n, const char *sep, char *out,
			   size_t len)
{
	for (size_t i = 0; i < n; i++) {
		char b[64];
		cidr_format(&nets[i], b, sizeof(b));
		add(out, len, "%s%s", i ? sep : "", b);
	}
}

static void describe_rules(const struct conf *c, char *out, size_t len)
{
	static const char *const from[] = {"any", "trusted", "authenticated", ""};
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct conf_relay_rule *r = &c->rules[i];
		add(out, len, "%s%s %s", i ? "; " : "",
		    r->action == CONF_RELAY_ALLOW ? "allow" : "deny", from[r->from]);
		describe_cidrs(r->nets, r->n_nets, ",", out, len);
		add(out, len, "->%s", r->n_to ? "" : "any");
		for (size_t j = 0; j < r->n_to; j++)
			add(out, len, "%s%s", j ? "," : "", r->to_domains[j]);
		add(out, len, " [%s]", r->id);
	}
}

/* One aspect of a parsed configuration as text, so that a table row can state it. */
static void describe(const struct conf *c, const char *key, char *out, size_t len)
{
	const struct conf_limits *l = &c->limits;
	out[0] = '\0';
	if (!strcmp(key, "hostname"))
		add(out, len, "%s", c->hostname ? c->hostname : "(none)");
	else if (!strcmp(key, "listen"))
		describe_listens(c, out, len);
	else if (!strcmp(key, "tls"))
		add(out, len, "cert=%s key=%s", c->tls_cert_file ? c->tls_cert_file : "-",
		    c->tls_key_file ? c->tls_key_file : "-");
	else if (!strcmp(key, "paths"))
		add(out, len, "spool=%s mail-root=%s", c->spool_dir, c->mail_root);
	else if (!strcmp(key, "domains"))
		for (size_t i = 0; i < c->n_local_domains; i++)
			add(out, len, "%s%s", i ? " " : "", c->local_domains[i]);
	else if (!strcmp(key, "mailboxes"))
		describe_mailboxes(c, out, len);
	else if (!strcmp(key, "trusted"))
		describe_cidrs(c->trusted, c->n_trusted, " ", out, len);
	else if (!strcmp(key, "rules"))
		describe_rules(c, out, len);
	else if (!strcmp(key, "grants"))
		for (size_t i = 0; i < c->n_sender_grants; i++)
			for (size_t j = 0; j < c->sender_grants[i].n_senders; j++)
				add(out, len, "%s%s:%s", i || j ? " " : "",
				    c->sender_grants[i].login, c->sender_grants[i].senders[j]);
	else if (!strcmp(key, "limits"))
		add(out, len,
		    "msg=%llu rcpt=%u line=%u hdr=%llu cmd=%u data=%u sess=%u err=%u greet=%u",
		    (unsigned long long)l->message_size, l->recipients, l->line_length,
		    (unsigned long long)l->header_size, l->command_timeout, l->data_timeout,
		    l->max_sessions, l->max_errors, l->greeting_delay);
	else if (!strcmp(key, "scale"))
		add(out, len, "per-ip=%u pressure=%u refuse=%u delay=%u min-free=%llu%s",
		    l->max_sessions_per_ip, l->queue_pressure, l->queue_refuse,
		    l->queue_pressure_delay,
		    (unsigned long long)(l->spool_min_free & ~CONF_PERCENT),
		    l->spool_min_free & CONF_PERCENT ? "%" : "");
	else if (!strcmp(key, "misc"))
		add(out, len, "ip-literal=%d bare=%s workers=%u segment=%llu",
		    c->ip_literal_recipients,
		    c->bare_newline == CONF_BARE_REJECT ? "reject" : "normalise",
		    c->delivery_workers, (unsigned long long)c->spool_segment_size);
	else
		add(out, len, "unknown key %s", key);
}

static void test_valid(void)
{
	static const struct {
		const char *text, *key, *want;
	} cases[] = {
	    /* Defaults: an empty file is a valid fragment. */
	    {"", "hostname", "(none)"},
	    {"", "listen", ""},
	    {"", "paths", "spool=var/spool mail-root=var/mail"},
	    {"", "limits",
	     "msg=10485760 rcpt=100 line=1000 hdr=262144 cmd=300 data=600 sess=1000 err=10 "
	     "greet=0"},
	    {"", "misc", "ip-literal=0 bare=reject workers=4 segment=67108864"},
	    {"", "rules", ""},
	    {"# only a comment\n\n   \n\t# indented\n", "rules", ""},
	    /* hostname */
	    {"hostname MX.Example.TEST.\n", "hostname", "mx.example.test"},
	    {"hostname \"b\xc3\xbc"
	     "cher.example\" # quoted\n",
	     "hostname", "xn--bcher-kva.example"},
	    {"hostname a.test#comment right after\n", "hostname", "a.test"},
	    {"\xef\xbb\xbfhostname a.test\r\n", "hostname", "a.test"},
	    {"hostname a.test", "hostname", "a.test"}, /* no final newline */
	    /* listen */
	    {"listen 127.0.0.1:2525\n", "listen", "127.0.0.1:2525/smtp"},
	    /* AUTH is on by default on submission only; "auth yes|no" overrides; options in any
	       order */
	    {"listen 127.0.0.1:587 role submission\nlisten 127.0.0.1:588 role submission auth no\n",
	     "listen", "127.0.0.1:587/submission/auth 127.0.0.1:588/submission"},
	    {"listen 127.0.0.1:25 auth yes\n", "listen", "127.0.0.1:25/smtp/auth"},
	    {"tls-certificate c.pem\ntls-key k.pem\nlisten 127.0.0.1:465 tls implicit role "
	     "submission\n"
	     "listen 127.0.0.1:466 auth no tls implicit\n",
	     "listen", "127.0.0.1:465/submission/tls/auth 127.0.0.1:466/smtp/tls"},
	    {"listen 127.0.0.1:465 tls implicit\ntls-key /k.pem\ntls-certificate /c.pem\n", "tls",
	     "cert=/c.pem key=/k.pem"},
	    {"", "tls", "cert=- key=-"},
	    {"listen [::1]:2525 role submission\nlisten 0.0.0.0:25 role smtp\n", "listen",
	     "[::1]:2525/submission/auth 0.0.0.0:25/smtp"},
	    {"listen 127.0.0.1:25\nlisten 127.0.0.1:587\nlisten [::ffff:127.0.0.1]:25\n", "listen",
	     "127.0.0.1:25/smtp 127.0.0.1:587/smtp [::ffff:127.0.0.1]:25/smtp"},
	    {"listen 192.0.2.1:65535\n", "listen", "192.0.2.1:65535/smtp"},
	    /* paths */
	    {"spool /var/spool/relayguard\nmail-root \"my mail\"\n", "paths",
	     "spool=/var/spool/relayguard mail-root=my mail"},
	    {"spool \"a\\\"b\\\\c#d\"\n", "paths", "spool=a\"b\\c#d mail-root=var/mail"},
	    /* local domains and the user table */
	    {"local-domain Example.TEST. b\xc3\xbc"
	     "cher.example\nlocal-domain localhost\n",
	     "domains", "example.test xn--bcher-kva.example localhost"},
	    {"mailbox alice\nmailbox Bob@EXAMPLE.test user robert\nlocal-domain example.test\n",
	     "mailboxes", "alice@*=alice bob@example.test=robert"},
	    {"local-domain a.test\nmailbox alice\nmailbox alice@a.test user alice.a\n", "mailboxes",
	     "alice@*=alice alice@a.test=alice.a"},
	    {"mailbox first.last\nmailbox x+tag user x_1-2.b\n", "mailboxes",
	     "first.last@*=first.last x+tag@*=x_1-2.b"},
	    /* networks and relay rules */
	    {"trusted-network 127.0.0.1 ::1\ntrusted-network 10.0.0.0/8\n", "trusted",
	     "127.0.0.1/32 ::1/128 10.0.0.0/8"},
	    {"relay allow from trusted id local-host\n", "rules",
	     "allow trusted->any [local-host]"},
	    {"\n\nrelay deny from any to Spam.TEST,b.test\n", "rules",
	     "deny any->spam.test,b.test [t:3]"},
	    {"relay allow from authenticated\nrelay allow from 192.0.2.0/24,2001:db8::/32 to any\n",
	     "rules",
	     "allow authenticated->any [t:1]; allow 192.0.2.0/24,2001:db8::/32->any [t:2]"},
	    {"relay allow from any id x to a.test\n", "rules", "allow any->a.test [x]"},
	    /* sender grants: login lower-cased, addresses normalised like mailbox domains */
	    {"", "grants", ""},
	    {"sender-grant alice sales@example.test @Alice.EXAMPLE.\n"
	     "sender-grant Bob@Example.Test Info@B\xc3\xbc"
	     "cher.example\nsender-grant alice x.y+z@a.test\n",
	     "grants",
	     "alice:sales@example.test alice:@alice.example "
	     "bob@example.test:info@xn--bcher-kva.example "
	     "alice:x.y+z@a.test"},
	    /* single values */
	    {"ip-literal-recipients yes\nbare-newline normalise\ndelivery-workers 64\n"
	     "spool-segment-size 1G\n",
	     "misc", "ip-literal=1 bare=normalise workers=64 segment=1073741824"},
	    {"ip-literal-recipients no\nbare-newline reject\ndelivery-workers 1\n"
	     "spool-segment-size 1M\n",
	     "misc", "ip-literal=0 bare=reject workers=1 segment=1048576"},
	    {"limit message-size 50M\nlimit recipients 100000\nlimit line-length 512\n"
	     "limit header-size 1K\nlimit command-timeout 1h\nlimit data-timeout 90\n"
	     "limit max-sessions 1\nlimit max-errors 1000\nlimit greeting-delay 1m\n",
	     "limits",
	     "msg=52428800 rcpt=100000 line=512 hdr=1024 cmd=3600 data=90 sess=1 err=1000 "
	     "greet=60"},
	    {"", "scale", "per-ip=50 pressure=5000 refuse=20000 delay=5 min-free=0"},
	    {"limit max-sessions-per-ip 0\nlimit queue-pressure 10\nlimit queue-refuse 0\n"
	     "limit queue-pressure-delay 1m\nlimit spool-min-free 5%\n",
	     "scale", "per-ip=0 pressure=10 refuse=0 delay=60 min-free=5%"},
	    {"limit spool-min-free 100M\n", "scale",
	     "per-ip=50 pressure=5000 refuse=20000 delay=5 min-free=104857600"},
	    {"limit message-size 1G\nlimit line-length 65536\nlimit command-timeout 1s\n", "limits",
	     "msg=1073741824 rcpt=100 line=65536 hdr=262144 cmd=1 data=600 sess=1000 err=10 "
	     "greet=0"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c = NULL;
		char err[256], got[1024];
		int rc =
		    conf_parse(cases[i].text, strlen(cases[i].text), "t", &c, err, sizeof(err));
		CHECK(rc == 0 && c, "valid case %zu: %s", i, err);
		if (rc != 0)
			continue;
		describe(c, cases[i].key, got, sizeof(got));
		CHECK_STR(got, cases[i].want, "case %zu key %s", i, cases[i].key);
		conf_free(c);
	}
}

static void test_listen_sockaddr(void)
{
	struct conf *c;
	char err[256];
	const char *text = "listen 127.0.0.1:2525\nlisten [2001:db8::1]:587 role submission\n";
	CHECK(conf_parse(text, strlen(text), "t", &c, err, sizeof(err)) == 0, "%s", err);
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&c->listens[0].addr;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&c->listens[1].addr;
	struct in6_addr want6;
	inet_pton(AF_INET6, "2001:db8::1", &want6);
	CHECK(a4->sin_family == AF_INET && c->listens[0].addrlen == sizeof(*a4), "v4 family");
	CHECK(a4->sin_port == htons(2525) && a4->sin_addr.s_addr == htonl(0x7f000001), "v4 addr");
	CHECK(a6->sin6_family == AF_INET6 && c->listens[1].addrlen == sizeof(*a6), "v6 family");
	CHECK(a6->sin6_port == htons(587) && !memcmp(&a6->sin6_addr, &want6, 16), "v6 addr");
	CHECK(c->listens[1].role == CONF_ROLE_SUBMISSION, "role");
	CHECK_STR(c->path, "t", "path is the name");
	conf_free(c);
}

/* ---- errors ---- */

/* Long tokens are quoted cut to 64 bytes, never inside a UTF-8 character. */
#define L16 "aaaaaaaaaaaaaaaa"
#define L63 L16 L16 L16 "aaaaaaaaaaaaaaa"
#define L64 L16 L16 L16 L16
#define USER_RULE "(letters, digits, '.', '_', '-'; no leading '.'; at most 64)"
#define LISTEN_USAGE                                                                               \
	"'listen' expects ADDR:PORT [role smtp|submission] [tls implicit] [auth yes|no]"
#define MAILBOX_USAGE "'mailbox' expects LOCAL[@DOMAIN] [user NAME]"
#define RELAY_USAGE "'relay' expects allow|deny from SOURCE [to DEST] [id NAME]"
#define LISTEN_ADDR "(expected IPV4:PORT or [IPV6]:PORT)"

static const struct {
	const char *text, *want;
} error_cases[] = {
    /* the file itself: bytes, quoting, positions (tabs and UTF-8 characters are one column) */
    {"hostname \"abc\n", "t:1:10: unterminated quoted string"},
    {"# caf\xc3 comment\n", "t:1:6: invalid UTF-8"},
    {"hostname \xc0\xafx\n", "t:1:10: invalid UTF-8"},
    {"hostname a\x01\n", "t:1:11: control character 0x01"},
    {"hostname a\rb\n", "t:1:11: control character 0x0d"},
    {"hostname \"a\\nb\"\n", "t:1:12: invalid escape in quoted string (only \\\" and \\\\)"},
    {"hostname ab\"c\"\n", "t:1:12: unexpected '\"' inside a word"},
    {"hostname \"a\"b\n", "t:1:13: expected a space after the quoted string"},
    {"\thostname\tx\ty\n", "t:1:13: 'hostname' expects NAME"},
    {"local-domain \xc3\xbc.test b..c\n", "t:1:21: invalid domain 'b..c'"},
    {"hostname a\r\nhostname b\r\n", "t:2:1: duplicate 'hostname' (first at line 1)"},
    /* directives in general */
    {"relya allow from any\n", "t:1:1: unknown directive 'relya'"},
    {"Hostname a.test\n", "t:1:1: unknown directive 'Hostname'"},
    {"  hostname\n", "t:1:3: 'hostname' expects NAME"},
    {"hostname a b\n", "t:1:12: 'hostname' expects NAME"},
    {"hostname a.test\n\n\nhostname b.test\n", "t:4:1: duplicate 'hostname' (first at line 1)"},
    {L64 "-long\n", "t:1:1: unknown directive '" L64 "...'"},
    {L63 "\xc3\xbc-long\n", "t:1:1: unknown directive '" L63 "...'"},
    /* hostname, paths */
    {"hostname a..test\n", "t:1:10: invalid hostname 'a..test'"},
    {"hostname 127.0.0.1:25\n", "t:1:10: invalid hostname '127.0.0.1:25'"},
    {"spool \"\"\n", "t:1:7: empty path for 'spool'"},
    {"mail-root a\nmail-root b\n", "t:2:1: duplicate 'mail-root' (first at line 1)"},
    {"spool a b\n", "t:1:9: 'spool' expects DIR"},
    /* listen */
    {"listen\n", "t:1:1: " LISTEN_USAGE},
    {"listen 127.0.0.1:25 role\n", "t:1:1: " LISTEN_USAGE},
    {"listen 127.0.0.1:25 mode smtp\n", "t:1:21: " LISTEN_USAGE},
    {"listen 127.0.0.1:25 role smtp extra\n", "t:1:31: " LISTEN_USAGE},
    {"listen 127.0.0.1:25 role mx\n", "t:1:26: invalid role 'mx' (expected smtp or submission)"},
    /* listen options and TLS (RFC 8314 implicit TLS needs a certificate) */
    {"listen 127.0.0.1:25 tls yes\n", "t:1:25: invalid tls mode 'yes' (expected implicit)"},
    {"listen 127.0.0.1:25 auth maybe\n", "t:1:26: invalid auth 'maybe' (expected yes or no)"},
    {"listen 127.0.0.1:25 role smtp role smtp\n", "t:1:31: " LISTEN_USAGE},
    {"listen 127.0.0.1:25 auth no tls implicit auth no\n", "t:1:42: " LISTEN_USAGE},
    {"listen 127.0.0.1:25 role smtp tls implicit auth yes x\n", "t:1:53: " LISTEN_USAGE},
    {"listen 127.0.0.1:465 tls implicit\n",
     "t:1:8: listen 127.0.0.1:465: 'tls implicit' needs tls-certificate and tls-key"},
    {"tls-key k.pem\nlisten 127.0.0.1:465 tls implicit\n",
     "t:1:1: tls-key without tls-certificate"},
    {"\ntls-certificate c.pem\n", "t:2:1: tls-certificate without tls-key"},
    {"tls-certificate c.pem\ntls-certificate d.pem\n",
     "t:2:1: duplicate 'tls-certificate' (first at line 1)"},
    {"tls-key \"\"\n", "t:1:9: empty path for 'tls-key'"},
    {"listen localhost:25\n", "t:1:8: invalid listen address 'localhost:25' " LISTEN_ADDR},
    {"listen ::1:25\n", "t:1:8: invalid listen address '::1:25' " LISTEN_ADDR},
    {"listen [::1]25\n", "t:1:8: invalid listen address '[::1]25' " LISTEN_ADDR},
    {"listen [127.0.0.1]:25\n", "t:1:8: invalid listen address '[127.0.0.1]:25' " LISTEN_ADDR},
    {"listen 127.0.0.1\n", "t:1:8: invalid listen address '127.0.0.1' " LISTEN_ADDR},
    {"listen :25\n", "t:1:8: invalid listen address ':25' " LISTEN_ADDR},
    {"listen []:25\n", "t:1:8: invalid listen address '[]:25' " LISTEN_ADDR},
    {"listen 127.0.0.1:2525x\n", "t:1:8: invalid port in '127.0.0.1:2525x' (expected 1..65535)"},
    {"listen 127.0.0.1:0\n", "t:1:8: invalid port in '127.0.0.1:0' (expected 1..65535)"},
    {"listen [::1]:65536\n", "t:1:8: invalid port in '[::1]:65536' (expected 1..65535)"},
    {"listen 127.0.0.1:\n", "t:1:8: invalid port in '127.0.0.1:' (expected 1..65535)"},
    {"listen 127.0.0.1:+25\n", "t:1:8: invalid port in '127.0.0.1:+25' (expected 1..65535)"},
    {"listen 127.0.0.1:25\nlisten 127.0.0.1:0025 role submission\n",
     "t:2:8: duplicate listen '127.0.0.1:0025' (first at line 1)"},
    {"listen [::1]:25\n# x\nlisten [0:0::1]:25\n",
     "t:3:8: duplicate listen '[0:0::1]:25' (first at line 1)"},
    /* local-domain, mailbox */
    {"local-domain\n", "t:1:1: 'local-domain' expects DOMAIN..."},
    {"local-domain a.test b..test\n", "t:1:21: invalid domain 'b..test'"},
    {"local-domain a.test\nlocal-domain B.TEST A.test.\n",
     "t:2:21: duplicate local-domain 'A.test.' (first at line 1)"},
    {"mailbox bob@other.test\nlocal-domain example.test\n",
     "t:1:9: mailbox domain 'other.test' is not a local-domain"},
    {"local-domain a.test\nmailbox x@a.test\n\n  mailbox y@B.test user y\n",
     "t:4:11: mailbox domain 'b.test' is not a local-domain"},
    {"mailbox a..b\n", "t:1:9: invalid local part in mailbox 'a..b'"},
    {"mailbox @x.test\n", "t:1:9: invalid local part in mailbox '@x.test'"},
    {"mailbox \"a b\"\n", "t:1:9: invalid local part in mailbox 'a b'"},
    {"mailbox \xc3\xbc\n", "t:1:9: invalid local part in mailbox '\xc3\xbc'"},
    {"mailbox " L64 "a\n", "t:1:9: invalid local part in mailbox '" L64 "...'"},
    {"mailbox a@\n", "t:1:9: invalid domain in mailbox 'a@'"},
    {"mailbox a@b@c.test\n", "t:1:9: invalid domain in mailbox 'a@b@c.test'"},
    {"mailbox alice user ../etc\n", "t:1:20: invalid user name '../etc' " USER_RULE},
    {"mailbox alice user a/b\n", "t:1:20: invalid user name 'a/b' " USER_RULE},
    {"mailbox alice user .hidden\n", "t:1:20: invalid user name '.hidden' " USER_RULE},
    {"mailbox alice user " L64 "a\n", "t:1:20: invalid user name '" L64 "...' " USER_RULE},
    {"mailbox a+b\n", "t:1:9: local part 'a+b' is not a valid user name; add 'user NAME'"},
    {"mailbox alice as bob\n", "t:1:15: " MAILBOX_USAGE},
    {"mailbox alice user\n", "t:1:1: " MAILBOX_USAGE},
    {"mailbox alice\nmailbox ALICE user a2\n",
     "t:2:9: duplicate mailbox 'ALICE' (first at line 1)"},
    /* trusted-network */
    {"trusted-network\n", "t:1:1: 'trusted-network' expects CIDR..."},
    {"trusted-network 127.0.0.1 10.0.0.1/8\n", "t:1:27: invalid CIDR '10.0.0.1/8'"},
    /* relay */
    {"relay permit from any\n", "t:1:7: invalid relay action 'permit' (expected allow or deny)"},
    {"relay allow any\n", "t:1:1: " RELAY_USAGE},
    {"relay allow to any from any\n", "t:1:13: " RELAY_USAGE},
    {"relay allow from any to\n", "t:1:22: " RELAY_USAGE},
    {"relay allow from any via x\n", "t:1:22: " RELAY_USAGE},
    {"relay allow from any to a.test id x y\n", "t:1:37: " RELAY_USAGE},
    {"relay allow from 10.0.0.0/8,10.0.0.1/8\n", "t:1:18: invalid CIDR '10.0.0.1/8'"},
    {"relay allow from 10.0.0.0/8,\n", "t:1:18: invalid CIDR ''"},
    {"relay allow from localhost\n", "t:1:18: invalid CIDR 'localhost'"},
    {"relay allow from 10.0.0.0/8,trusted\n",
     "t:1:18: 'trusted' cannot be combined with other sources"},
    {"relay allow from any to a..test\n", "t:1:25: invalid domain 'a..test'"},
    {"relay allow from any to a.test,\n", "t:1:25: invalid domain ''"},
    {"relay allow from any to any,a.test\n", "t:1:25: 'any' cannot be combined with domains"},
    {"relay allow from any to a.test to b.test\n", "t:1:32: duplicate 'to' in relay rule"},
    {"relay allow from any id a/b\n", "t:1:25: invalid relay id 'a/b' " USER_RULE},
    {"relay deny from any id implicit-reject\n", "t:1:24: relay id 'implicit-reject' is reserved"},
    {"relay allow from trusted id x\n\nrelay deny from any id x\n",
     "t:3:24: duplicate relay id 'x' (first at line 1)"},
    /* single values */
    {"ip-literal-recipients maybe\n",
     "t:1:23: invalid value 'maybe' for 'ip-literal-recipients' (expected yes or no)"},
    {"ip-literal-recipients yes\nip-literal-recipients no\n",
     "t:2:1: duplicate 'ip-literal-recipients' (first at line 1)"},
    {"bare-newline normalize\n",
     "t:1:14: invalid value 'normalize' for 'bare-newline' (expected reject or normalise)"},
    {"delivery-workers 0\n", "t:1:18: value 0 out of range 1..64 for delivery-workers"},
    {"delivery-workers 65\n", "t:1:18: value 65 out of range 1..64 for delivery-workers"},
    {"delivery-workers four\n", "t:1:18: invalid number 'four' for delivery-workers"},
    {"delivery-workers 4K\n", "t:1:18: invalid number '4K' for delivery-workers"},
    {"delivery-workers -1\n", "t:1:18: invalid number '-1' for delivery-workers"},
    {"spool-segment-size 512K\n", "t:1:20: value 512K out of range 1M..1G for spool-segment-size"},
    {"spool-segment-size 2G\n", "t:1:20: value 2G out of range 1M..1G for spool-segment-size"},
    /* limit */
    {"limit message-size 10X\n", "t:1:20: invalid size '10X' for limit message-size"},
    {"limit message-size 99999999999999999999\n",
     "t:1:20: invalid size '99999999999999999999' for limit message-size"},
    {"limit message-size 1023\n", "t:1:20: value 1023 out of range 1K..1G for limit message-size"},
    {"limit line-length 5\n", "t:1:19: value 5 out of range 512..65536 for limit line-length"},
    {"limit header-size 2G\n", "t:1:19: value 2G out of range 1K..1G for limit header-size"},
    {"limit recipients 0\n", "t:1:18: value 0 out of range 1..100000 for limit recipients"},
    {"limit auth-guard-size 63\n",
     "t:1:23: value 63 out of range 64..65536 for limit auth-guard-size"},
    {"limit recipients 10K\n", "t:1:18: invalid number '10K' for limit recipients"},
    {"limit command-timeout 2h\n",
     "t:1:23: value 2h out of range 1s..1h for limit command-timeout"},
    {"limit data-timeout 0s\n", "t:1:20: value 0s out of range 1s..1h for limit data-timeout"},
    {"limit data-timeout 3w\n", "t:1:20: invalid duration '3w' for limit data-timeout"},
    {"limit max-sessions 1000001\n",
     "t:1:20: value 1000001 out of range 1..1000000 for limit max-sessions"},
    {"limit max-errors 1001\n", "t:1:18: value 1001 out of range 1..1000 for limit max-errors"},
    {"limit greeting-delay 61s\n",
     "t:1:22: value 61s out of range 0s..60s for limit greeting-delay"},
    {"limit spool-min-free 100%\n",
     "t:1:22: invalid size or percentage '100%' for limit spool-min-free"},
    {"limit spool-min-free x%\n", "t:1:22: invalid percentage 'x%' for limit spool-min-free"},
    {"limit spool-min-free 2000G\n",
     "t:1:22: value 2000G out of range 0..1T or 0%..99% for limit spool-min-free"},
    {"limit queue-pressure-delay 0s\n",
     "t:1:28: value 0s out of range 1s..60s for limit queue-pressure-delay"},
    {"blocklist-metrics-listen localhost\n",
     "t:1:26: invalid blocklist-metrics-listen address 'localhost' (expected IPV4:PORT or "
     "[IPV6]:PORT)"},
    {"blocklist-metrics-listen 127.0.0.1:1\nblocklist-metrics-listen 127.0.0.1:2\n",
     "t:2:1: duplicate 'blocklist-metrics-listen' (first at line 1)"},
    {"limit max-recipients 10\n", "t:1:7: unknown limit 'max-recipients'"},
    {"limit recipients\n", "t:1:1: 'limit' expects NAME VALUE"},
    {"limit recipients 1 2\n", "t:1:20: 'limit' expects NAME VALUE"},
    /* sender-grant */
    {"sender-grant alice\n", "t:1:1: 'sender-grant' expects LOGIN ADDRESS|@DOMAIN..."},
    {"sender-grant alice sales\n",
     "t:1:20: sender-grant expects an address or @DOMAIN, not 'sales'"},
    {"sender-grant alice a..b@x.test\n",
     "t:1:20: invalid local part in sender-grant 'a..b@x.test'"},
    {"sender-grant alice \"a b@x.test\"\n",
     "t:1:20: invalid local part in sender-grant 'a b@x.test'"},
    {"sender-grant alice ok@x.test\n  sender-grant alice @\n",
     "t:2:22: invalid domain in sender-grant '@'"},
    {"sender-grant alice @a@b.test\n", "t:1:20: invalid domain in sender-grant '@a@b.test'"},
    {"sender-grant alice x@[192.0.2.1]\n",
     "t:1:20: invalid domain in sender-grant 'x@[192.0.2.1]'"},
    /* relay-recipient */
    {"relay-recipient\n", "t:1:1: 'relay-recipient' expects ADDRESS..."},
    {"relay-recipient ann@b.test @b.test\n",
     "t:1:28: relay-recipient expects an address, not '@b.test'"},
    {"relay-recipient ann\n", "t:1:17: relay-recipient expects an address, not 'ann'"},
    {"relay-recipient a..b@b.test\n",
     "t:1:17: invalid local part in relay-recipient 'a..b@b.test'"},
    {"sender-grant alice x@a.test y@-bad.test\n",
     "t:1:29: invalid domain in sender-grant 'y@-bad.test'"},
    {"sender-grant \"al ice\" x@a.test\n",
     "t:1:14: invalid login 'al ice' (printable, no spaces, at most 255 bytes)"},
    {"limit recipients 10\nlimit recipients 20\n",
     "t:2:1: duplicate 'limit recipients' (first at line 1)"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct conf *c = (struct conf *)&c; /* must be reset to NULL */
		char err[512];
		memset(err, 'x', sizeof(err));
		int rc = conf_parse(error_cases[i].text, strlen(error_cases[i].text), "t", &c, err,
				    sizeof(err));
		CHECK(rc == -1 && c == NULL, "error case %zu must fail", i);
		CHECK_STR(err, error_cases[i].want, "error case %zu", i);
	}
	/* A NUL byte needs an explicit length. */
	struct conf *c;
	char err[256];
	CHECK(conf_parse("hostname a\0b\n", 13, "t", &c, err, sizeof(err)) == -1, "NUL");
	CHECK_STR(err, "t:1:11: NUL byte", "NUL position");

	/* A path longer than PATH_MAX cannot be opened: refuse it here, not at run time. */
	char text[PATH_MAX + 32];
	snprintf(text, sizeof(text), "spool %0*d\n", PATH_MAX, 0);
	CHECK(conf_parse(text, strlen(text), "t", &c, err, sizeof(err)) == -1, "long path");
	CHECK_STR(err, "t:1:7: path too long for 'spool'", "long path");
}

/* The error buffer is always NUL-terminated and never overrun, whatever its size. */
static void test_error_buffer(void)
{
	static const char text[] = "relya allow from any\n";
	struct conf *c;
	char err[32];
	for (size_t len = 1; len <= 16; len++) {
		memset(err, 'x', sizeof(err));
		CHECK(conf_parse(text, strlen(text), "t", &c, err, len) == -1, "len %zu", len);
		CHECK(strlen(err) == len - 1 && err[len] == 'x', "truncated to %zu", len);
		CHECK(!strncmp(err, "t:1:1: unknown directive 'relya'", len - 1), "prefix %zu",
		      len);
	}
	CHECK(conf_parse(text, strlen(text), "t", &c, NULL, 0) == -1 && !c, "no buffer");
	CHECK(conf_load("/nonexistent/relayguard.conf", &c, NULL, 0) == -1 && !c,
	      "load, no buffer");

	char *big = malloc(CONF_MAX_SIZE + 1);
	CHECK(big != NULL, "malloc");
	if (big) {
		memset(big, '\n', CONF_MAX_SIZE + 1);
		CHECK(conf_parse(big, CONF_MAX_SIZE, "t", &c, err, sizeof(err)) == 0, "1 MiB ok");
		conf_free(c);
		CHECK(conf_parse(big, CONF_MAX_SIZE + 1, "t", &c, err, sizeof(err)) == -1,
		      "too big");
		CHECK_STR(err, "t: too large (max 1 MiB)", "too big");
		free(big);
	}
	conf_free(NULL);
}

/* ---- the user table ---- */

static void test_lookup(void)
{
	static const char text[] = "local-domain example.test other.test\n"
				   "mailbox alice\n"
				   "mailbox bob@example.test user robert\n"
				   "mailbox alice@other.test user alice2\n";
	static const struct {
		const char *local, *domain, *user; /* user NULL = no mailbox */
	} cases[] = {
	    {"alice", "example.test", "alice"},
	    {"alice", "other.test", "alice2"},
	    {"bob", "example.test", "robert"},
	    {"bob", "other.test", NULL},
	    {"alice", "remote.test", NULL},
	    {"carol", "example.test", NULL},
	    {"alice", NULL, NULL},
	};
	struct conf *c;
	char err[256];
	CHECK(conf_parse(text, strlen(text), "t", &c, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct conf_mailbox *m =
		    conf_find_mailbox(c, cases[i].local, cases[i].domain);
		if (cases[i].user)
			CHECK(m && !strcmp(m->user, cases[i].user), "%s@%s", cases[i].local,
			      cases[i].domain);
		else
			CHECK(m == NULL, "%s@%s has no mailbox", cases[i].local, cases[i].domain);
	}
	CHECK(conf_is_local_domain(c, "other.test"), "local");
	CHECK(!conf_is_local_domain(c, "sub.other.test"), "subdomain is not local");
	CHECK(!conf_is_local_domain(c, NULL), "NULL");
	conf_free(c);
}

/* ---- conf_load: real files ---- */

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL, "create %s", path);
	if (f) {
		CHECK(fwrite(text, 1, len, f) == len, "write %s", path);
		fclose(f);
	}
}

static void test_load_shipped(void)
{
	struct conf *c;
	char err[256], got[1024];
	CHECK(conf_load("etc/relayguard.conf", &c, err, sizeof(err)) == 0, "%s", err);
	if (!c)
		return;
	static const struct {
		const char *key, *want;
	} cases[] = {
	    {"hostname", "relayguard.localhost"},
	    {"listen", "127.0.0.1:2525/smtp"},
	    {"paths", "spool=var/spool mail-root=var/mail"},
	    {"domains", "localhost example.test"},
	    {"mailboxes", "postmaster@*=postmaster abuse@*=postmaster alice@*=alice "
			  "bob@example.test=bob"},
	    {"trusted", "127.0.0.1/32 ::1/128"},
	    /* the users rule is commented out with the submission listeners */
	    {"rules", "allow trusted->any [local-host]"},
	    {"limits", "msg=10485760 rcpt=100 line=1000 hdr=262144 cmd=300 data=600 sess=1000 "
		       "err=10 greet=0"},
	    {"misc", "ip-literal=0 bare=reject workers=4 segment=67108864"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		describe(c, cases[i].key, got, sizeof(got));
		CHECK_STR(got, cases[i].want, "etc/relayguard.conf %s", cases[i].key);
	}
	CHECK_STR(c->path, "etc/relayguard.conf", "path");
	conf_free(c);
}

static void test_load_errors(void)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[128], want[256], err[256];
	struct conf *c;
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");

	CHECK(conf_load("/nonexistent/relayguard.conf", &c, err, sizeof(err)) == -1, "missing");
	CHECK_STR(err, "/nonexistent/relayguard.conf: cannot read: No such file or directory",
		  "missing");
	CHECK(conf_load(dir, &c, err, sizeof(err)) == -1, "directory");
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	CHECK_STR(err, want, "directory");

	snprintf(path, sizeof(path), "%s/nolisten.conf", dir);
	write_file(path, "hostname a.test\n", 16);
	CHECK(conf_load(path, &c, err, sizeof(err)) == -1 && !c, "no listen");
	snprintf(want, sizeof(want), "%s: no 'listen' directive", path);
	CHECK_STR(err, want, "no listen");

	write_file(path, "listen 127.0.0.1:2525\nbogus\n", 28);
	CHECK(conf_load(path, &c, err, sizeof(err)) == -1, "syntax");
	snprintf(want, sizeof(want), "%s:2:1: unknown directive 'bogus'", path);
	CHECK_STR(err, want, "errors name the file");

	write_file(path, "listen 127.0.0.1:2525\n", 22);
	CHECK(conf_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	CHECK(c && c->hostname && c->hostname[0], "hostname from gethostname()");
	conf_free(c);

	char *big = malloc(CONF_MAX_SIZE + 1);
	if (big) {
		memset(big, '#', CONF_MAX_SIZE + 1);
		write_file(path, big, CONF_MAX_SIZE + 1);
		free(big);
	}
	CHECK(conf_load(path, &c, err, sizeof(err)) == -1, "too large");
	snprintf(want, sizeof(want), "%s: too large (max 1 MiB)", path);
	CHECK_STR(err, want, "too large");
	unlink(path);
	rmdir(dir);
}

/* conf_rule_describe: the one-line form `relayguard check` prints. */
static void test_open_relay_override(void)
{
	static const char text[] = "open-relay-override \"lab, ticket 42\"\n";
	struct conf *c = NULL;
	char err[256];
	CHECK(conf_parse(text, sizeof(text) - 1, "t", &c, err, sizeof(err)) == 0, "%s", err);
	if (c)
		CHECK_STR(c->open_relay_override, "lab, ticket 42", "reason kept as written");
	conf_free(c);
	CHECK(conf_parse("", 0, "t", &c, err, sizeof(err)) == 0 && c->open_relay_override == NULL,
	      "absent by default");
	conf_free(c);
}

static void test_rule_describe(void)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
	    {"relay allow from trusted\n", "allow from trusted to any"},
	    {"relay deny from any to a.test,b.test\n", "deny from any to a.test,b.test"},
	    {"relay allow from authenticated id x\n", "allow from authenticated to any"},
	    {"relay deny from 192.0.2.0/24,2001:db8::/32\n",
	     "deny from 192.0.2.0/24,2001:db8::/32 to any"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c = NULL;
		char err[256], got[256];
		if (conf_parse(cases[i].line, strlen(cases[i].line), "t", &c, err, sizeof(err)) <
		    0) {
			CHECK(0, "%s: %s", cases[i].line, err);
			continue;
		}
		conf_rule_describe(&c->rules[0], got, sizeof(got));
		CHECK_STR(got, cases[i].want, "%s", cases[i].line);
		conf_free(c);
	}
}

/* ---- delivery: routes, resolver, delivery settings ---- */

static struct conf *parse_ok(const char *text)
{
	struct conf *c;
	char err[256];
	int rc = conf_parse(text, strlen(text), "t", &c, err, sizeof(err));
	CHECK(rc == 0, "parse \"%s\": %s", text, err);
	return rc == 0 ? c : NULL;
}

static void test_delivery(void)
{
	struct conf *c = parse_ok("");
	if (c) {
		CHECK(c->delivery.concurrency == 100 && c->delivery.destination_concurrency == 20,
		      "concurrency defaults");
		CHECK(c->delivery.retry_min == 300 && c->delivery.retry_max == 3600,
		      "retry defaults");
		CHECK(c->delivery.lifetime == 5 * 86400 && c->delivery.delay_warning == 0,
		      "lifetime defaults");
		CHECK(c->delivery.port == 25 && c->delivery.bounce_size_limit == 50 * 1024,
		      "port, bounce size");
		CHECK(c->delivery.local_retry == 60 && c->delivery.dns_timeout == 5,
		      "local retry, dns timeout");
		CHECK(c->delivery_tls == CONF_TLS_CLIENT_MAY &&
			  c->local_delivery == CONF_LOCAL_MAILDIR,
		      "tls, local method");
		CHECK_STR(c->control_socket, "var/run/relayguard.sock", "control socket default");
		CHECK(!c->metrics_listen && c->n_routes == 0 && c->n_dns_servers == 0, "off");
		conf_free(c);
	}
	c = parse_ok(
	    "route Example.NET via mx.example.net:2526\nroute * via [::1]:25\n"
	    "route b.test via 127.0.0.9\ndns-server 127.0.0.1:5353 ::1 [::1]:53\n"
	    "delivery retry-min 2s\ndelivery lifetime 1h\ndelivery port 2525\n"
	    "delivery-tls none\nlocal-delivery lmtp 127.0.0.1:24\ndelivery local-retry 5s\n"
	    "control-socket /tmp/rg.sock\nmetrics-listen 127.0.0.1:9125\n");
	if (c) {
		const struct conf_route *r = conf_find_route(c, "example.net");
		CHECK(r && !strcmp(r->host, "mx.example.net") && r->port == 2526, "exact route");
		r = conf_find_route(c, "other.test");
		CHECK(r && !r->domain && !strcmp(r->host, "::1") && r->port == 25, "smarthost");
		r = conf_find_route(c, "b.test");
		CHECK(r && !strcmp(r->host, "127.0.0.9") && r->port == 25, "default port");
		CHECK(c->n_dns_servers == 3 && !strcmp(c->dns_servers[1], "::1"), "dns servers");
		CHECK(c->delivery.retry_min == 2 && c->delivery.lifetime == 3600 &&
			  c->delivery.port == 2525,
		      "delivery values");
		CHECK(c->delivery_tls == CONF_TLS_CLIENT_NONE, "tls none");
		CHECK(c->delivery.local_retry == 5, "local retry");
		CHECK(c->local_delivery == CONF_LOCAL_LMTP &&
			  !strcmp(c->lmtp_target, "127.0.0.1:24"),
		      "lmtp");
		CHECK_STR(c->control_socket, "/tmp/rg.sock", "control socket");
		CHECK(c->metrics_listen && !strcmp(c->metrics_listen->text, "127.0.0.1:9125"),
		      "metrics");
		conf_free(c);
	}
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"route a.test to b", "t:1:14: 'route' expects DOMAIN|* via HOST[:PORT]"},
	    {"route a.test via b:0", "t:1:18: invalid next hop 'b:0' (expected HOST[:PORT] or "
				     "[IPV6]:PORT)"},
	    {"route a.test via x\nroute A.test via y", "t:2:7: duplicate route for 'A.test'"},
	    {"dns-server resolver.test", "t:1:12: invalid dns-server 'resolver.test' (expected an "
					 "IP address, IPV4:PORT or [IPV6]:PORT)"},
	    {"delivery retry-min 0s",
	     "t:1:20: value 0s out of range 1s..1d for delivery retry-min"},
	    {"delivery retries 3", "t:1:10: unknown delivery 'retries'"},
	    {"delivery port 25\ndelivery port 26",
	     "t:2:1: duplicate 'delivery port' (first at line 1)"},
	    {"delivery-tls must", "t:1:14: invalid value 'must' for 'delivery-tls' (expected may "
				  "or none)"},
	    {"local-delivery lmtp", "t:1:1: 'local-delivery' expects maildir | lmtp "
				    "HOST:PORT|unix:PATH"},
	    {"local-delivery lmtp host", "t:1:21: invalid LMTP target 'host' (expected HOST:PORT "
					 "or unix:PATH)"},
	    {"metrics-listen localhost:9", "t:1:16: invalid metrics-listen address 'localhost:9' "
					   "(expected IPV4:PORT or [IPV6]:PORT)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256];
		CHECK(conf_parse(bad[i].text, strlen(bad[i].text), "t", &c, err, sizeof(err)) == -1,
		      "bad %zu must fail", i);
		CHECK_STR(err, bad[i].want, "bad %zu", i);
	}
}

/* ---- operations: shutdown-grace, references, the control socket found without a full parse */

static void test_shutdown_grace(void)
{
	static const struct {
		const char *text;
		unsigned want; /* seconds, or UINT_MAX for an error */
		const char *err;
	} cases[] = {
	    {"", 10, ""},
	    {"limit shutdown-grace 0\n", 0, ""},
	    {"limit shutdown-grace 5m\n", 300, ""},
	    {"limit shutdown-grace 301s\n", UINT_MAX,
	     "t:1:22: value 301s out of range 0s..5m for limit shutdown-grace"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c = NULL;
		char err[256] = "";
		int rc =
		    conf_parse(cases[i].text, strlen(cases[i].text), "t", &c, err, sizeof(err));
		if (cases[i].want == UINT_MAX) {
			CHECK(rc < 0, "grace case %zu parsed", i);
			CHECK_STR(err, cases[i].err, "grace case %zu", i);
			continue;
		}
		CHECK(rc == 0 && c && c->limits.shutdown_grace == cases[i].want,
		      "grace case %zu: %s", i, err);
		conf_free(c);
	}
}

static void test_refs(void)
{
	struct conf *c = NULL;
	char err[256];
	CHECK(conf_parse("hostname a.test\n", 16, "t", &c, err, sizeof(err)) == 0, "%s", err);
	if (!c)
		return;
	CHECK(c->refs == 1, "a parsed config holds one reference, got %u", c->refs);
	CHECK(conf_ref(c) == c && c->refs == 2, "conf_ref counts");
	conf_unref(c);
	CHECK(c->refs == 1, "conf_unref counts down, got %u", c->refs);
	CHECK(conf_ref(NULL) == NULL, "conf_ref(NULL)");
	conf_unref(NULL);
	conf_unref(c); /* the last one frees it (ASan/valgrind see a leak or double free) */
}

static void test_peek_control_socket(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"", CONF_DEFAULT_CONTROL_SOCKET},
	    {"listen 127.0.0.1:25\n", CONF_DEFAULT_CONTROL_SOCKET},
	    {"control-socket /run/rg.sock\n", "/run/rg.sock"},
	    {"control-socket \"/run/my dir/rg.sock\" # quoted\n", "/run/my dir/rg.sock"},
	    {"\xef\xbb\xbf"
	     "control-socket a.sock\r\n",
	     "a.sock"},
	    {"control-socket last-line-without-newline", "last-line-without-newline"},
	    /* the rest of the file may be broken: that is when reload must reach the server */
	    {"relya x\nhostname \"unterminated\ncontrol-socket /x.sock\nlimit foo\n", "/x.sock"},
	    {"bad \x01 control\ncontrol-socket /y.sock\n", "/y.sock"},
	    /* only a well-formed line counts; the first one is the one the parser keeps */
	    {"control-socket\ncontrol-socket a b\ncontrol-socket \"\"\ncontrol-socket /z\n", "/z"},
	    {"control-socket /first\ncontrol-socket /second\n", "/first"},
	    {"  control-socket   /indented  \n", "/indented"},
	    {"# control-socket /commented\n", CONF_DEFAULT_CONTROL_SOCKET},
	    {"hostname x\n\xef\xbb\xbf"
	     "control-socket /bom-mid-file\n",
	     CONF_DEFAULT_CONTROL_SOCKET},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[108];
		int rc = conf_peek_control_socket(cases[i].text, strlen(cases[i].text), out,
						  sizeof(out));
		CHECK(rc == 0, "peek case %zu", i);
		if (rc == 0)
			CHECK_STR(out, cases[i].want, "peek case %zu", i);
	}
	char small[4];
	CHECK(conf_peek_control_socket("control-socket /long\n", 21, small, sizeof(small)) < 0,
	      "a path that does not fit is an error");
	char err[256], out[108];
	CHECK(conf_load_control_socket("/nonexistent/relayguard.conf", out, sizeof(out), err,
				       sizeof(err)) < 0,
	      "missing file");
	CHECK_STR(err, "/nonexistent/relayguard.conf: cannot read: No such file or directory",
		  "missing file message");
	CHECK(conf_load_control_socket("etc/relayguard.conf", out, sizeof(out), err, sizeof(err)) ==
		  0,
	      "%s", err);
	CHECK_STR(out, CONF_DEFAULT_CONTROL_SOCKET, "shipped config");
	CHECK(conf_load_control_socket("etc/relayguard.system.conf", out, sizeof(out), err,
				       sizeof(err)) == 0,
	      "%s", err);
	CHECK_STR(out, "/run/relayguard/relayguard.sock", "installed config");
}

/* auth-database PATH (issue 5): the credential store's file. */
static void test_auth_database(void)
{
	struct conf *c = parse_ok("");
	if (c)
		CHECK_STR(c->auth_database, "var/db/users.db", "auth-database default");
	conf_free(c);
	c = parse_ok("auth-database /var/lib/relayguard/users.db\n");
	if (c)
		CHECK_STR(c->auth_database, "/var/lib/relayguard/users.db", "auth-database");
	conf_free(c);
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"auth-database", "t:1:1: 'auth-database' expects PATH"},
	    {"auth-database a b", "t:1:17: 'auth-database' expects PATH"},
	    {"auth-database \"\"", "t:1:15: empty path for 'auth-database'"},
	    {"auth-database a\nauth-database b", NULL},
	};
	for (size_t i = 0; i < N(bad); i++) {
		char err[256] = "";
		CHECK(conf_parse(bad[i].text, strlen(bad[i].text), "t", &c, err, sizeof(err)) < 0,
		      "refused: %s", bad[i].text);
		if (bad[i].want)
			CHECK_STR(err, bad[i].want, "%s", bad[i].text);
	}
}

/* user NAME: the account serve started as root becomes (privilege separation). */
static void test_user(void)
{
	struct conf *c = parse_ok("");
	if (c)
		CHECK_STR(c->run_user, "relayguard", "user default");
	conf_free(c);
	c = parse_ok("user mail-relay\n");
	if (c)
		CHECK_STR(c->run_user, "mail-relay", "user");
	conf_free(c);
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"user root", "t:1:6: 'user root' is refused: serve drops root to run its sessions; "
			  "name an unprivileged user (default relayguard)"},
	    {"user ../x", "t:1:6: invalid user name '../x' (letters, digits, '.', '_', '-'; no "
			  "leading '.'; at most 64)"},
	    {"user a b", "t:1:8: 'user' expects NAME"},
	    {"user a\nuser b", "t:2:1: duplicate 'user' (first at line 1)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256];
		CHECK(conf_parse(bad[i].text, strlen(bad[i].text), "t", &c, err, sizeof(err)) == -1,
		      "bad user %zu must fail", i);
		CHECK_STR(err, bad[i].want, "bad user %zu", i);
	}
}

static void test_self_audit(void)
{
	struct conf *c = parse_ok("");
	if (c)
		CHECK(c->self_audit == 86400 && !c->self_audit_source4 && !c->self_audit_source6,
		      "self-audit default: daily, default source");
	conf_free(c);
	c = parse_ok("self-audit 2h\nself-audit-source ::5 127.0.0.7\n");
	if (c) {
		CHECK(c->self_audit == 7200, "self-audit 2h: %u", c->self_audit);
		CHECK_STR(c->self_audit_source4, "127.0.0.7", "self-audit-source v4");
		CHECK_STR(c->self_audit_source6, "::5", "self-audit-source v6");
	}
	conf_free(c);
	c = parse_ok("self-audit off\n");
	if (c)
		CHECK(c->self_audit == 0, "self-audit off");
	conf_free(c);
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"self-audit 0", "t:1:12: value 0 out of range 1s..30d for self-audit"},
	    {"self-audit never", "t:1:12: invalid duration 'never' for self-audit"},
	    {"self-audit-source mx.example", "t:1:19: invalid self-audit-source 'mx.example' "
					     "(expected an IPv4 or IPv6 address)"},
	    {"self-audit-source ::1 ::2", "t:1:23: self-audit-source: one address per family"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256];
		CHECK(conf_parse(bad[i].text, strlen(bad[i].text), "t", &c, err, sizeof(err)) == -1,
		      "bad self-audit %zu must fail", i);
		CHECK_STR(err, bad[i].want, "bad self-audit %zu", i);
	}
}

/* blocklist-rate-limit / -slip / -prefix: the DNSBL server's response-rate limiting. */
static void test_blocklist_rate(void)
{
	static const struct {
		const char *text;
		unsigned rate, slip, v4, v6;
		const char *err; /* NULL: valid */
	} cases[] = {
	    {"", 100, 2, 24, 56, NULL}, /* the defaults */
	    {"blocklist-rate-limit 500/s\nblocklist-rate-slip 0\n", 500, 0, 24, 56, NULL},
	    {"blocklist-rate-limit off\n", 0, 2, 24, 56, NULL},
	    {"blocklist-rate-prefix 32 128\n", 100, 2, 32, 128, NULL},
	    {"blocklist-rate-limit 500\n", 0, 0, 0, 0,
	     "t:1:22: 'blocklist-rate-limit' expects N/s|off"},
	    {"blocklist-rate-limit 0/s\n", 0, 0, 0, 0,
	     "t:1:22: value 0 out of range 1..10000000 for blocklist-rate-limit"},
	    {"blocklist-rate-slip 11\n", 0, 0, 0, 0,
	     "t:1:21: value 11 out of range 0..10 for blocklist-rate-slip"},
	    {"blocklist-rate-prefix 24\n", 0, 0, 0, 0,
	     "t:1:1: 'blocklist-rate-prefix' expects IPV4_PREFIX IPV6_PREFIX"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c = NULL;
		char err[256] = "";
		int rc =
		    conf_parse(cases[i].text, strlen(cases[i].text), "t", &c, err, sizeof(err));
		if (cases[i].err) {
			CHECK(rc < 0, "%s: must fail", cases[i].text);
			CHECK_STR(err, cases[i].err, "%s", cases[i].text);
		} else {
			CHECK(rc == 0 && c->blocklist_rate.rate == cases[i].rate &&
				  c->blocklist_rate.slip == cases[i].slip &&
				  c->blocklist_rate.v4_prefix == cases[i].v4 &&
				  c->blocklist_rate.v6_prefix == cases[i].v6,
			      "%s: %s", cases[i].text, err);
		}
		conf_free(c);
	}
}

int main(void)
{
	test_self_audit();
	test_user();
	test_auth_database();
	test_shutdown_grace();
	test_refs();
	test_peek_control_socket();
	test_delivery();
	test_rule_describe();
	test_open_relay_override();
	test_lexer();
	test_valid();
	test_listen_sockaddr();
	test_errors();
	test_error_buffer();
	test_lookup();
	test_load_shipped();
	test_load_errors();
	test_blocklist_rate();
	return check_report("test_conf");
}
