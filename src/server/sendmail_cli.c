/* sendmail_cli.c — `relayguard sendmail` (and a program named sendmail): the sendmail(1)
 * command line that cron, PHP and scripts use. Reads the message on stdin (at most the
 * server's message-size), completes it (sendmail.h) and submits it with the control command
 * `submit` (see submit.c). Exit 0 queued, 1 refused (bad or missing recipients, too big),
 * 64 usage, 75 (EX_TEMPFAIL) the server cannot be reached. */
#include "sendmail.h"
#include "server.h"

#include "control.h"

#include "../conf/conf.h"
#include "../util/util.h"

#include <event2/buffer.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EX_USAGE 64
#define EX_TEMPFAIL 75

struct sm_opts {
	const char *conf, *from, *fullname;
	int t, dot_ends, mailq;
	char **args; /* recipient arguments */
	int n_args;
};

/* An option with a value, given as "-fVALUE" or "-f VALUE". */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (argv[*i][2])
		return argv[*i] + 2;
	return *i + 1 < argc ? argv[++*i] : NULL;
}

/* sendmail's options, with Postfix's meaning for those accepted and ignored. 0 or -1. */
static int sm_parse(int argc, char **argv, struct sm_opts *o)
{
	int i = 0;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[1] == 'f' && !(o->from = opt_value(argc, argv, &i)))
			return -1;
		else if (a[1] == 'F' && !(o->fullname = opt_value(argc, argv, &i)))
			return -1;
		else if ((a[1] == 'C' || a[1] == 'c') && !(o->conf = opt_value(argc, argv, &i)))
			return -1;
		else if (!strcmp(a, "-t"))
			o->t = 1;
		else if (!strcmp(a, "-i") || !strcmp(a, "-oi"))
			o->dot_ends = 0;
		else if (!strcmp(a, "-bp"))
			o->mailq = 1;
		else if (a[1] == 'B' && !a[2] && !opt_value(argc, argv, &i))
			return -1; /* -B type: the body type, ignored like -B8BITMIME */
		else if (!strchr("fFCcB", a[1]) && strncmp(a, "-o", 2) && strcmp(a, "-bm") &&
			 strcmp(a, "-v"))
			return -1;
	}
	o->args = argv + i;
	o->n_args = argc - i;
	return 0;
}

struct rcpt_list {
	char *words[CONTROL_ARGS_MAX];
	int n;
	int overflow;
};

/* Each recipient as the xtext of "<addr>", one control word. */
static int rcpt_add(void *arg, const char *addr, size_t len)
{
	struct rcpt_list *r = arg;
	char path[1024], *x;
	if (len + 3 > sizeof(path) || r->n >= CONTROL_ARGS_MAX - 3) {
		r->overflow = 1;
		return -1;
	}
	snprintf(path, sizeof(path), "<%.*s>", (int)len, addr);
	size_t need = util_xtext_encode(path, strlen(path), NULL, 0) + 1;
	if (!(x = malloc(need)))
		return -1;
	util_xtext_encode(path, strlen(path), x, need);
	r->words[r->n++] = x;
	return 0;
}

/* stdin, at most max bytes: 0, 1 when there is more, -1 on a read error. */
static int read_stdin(struct evbuffer *in, size_t max)
{
	for (;;) {
		int n = evbuffer_read(in, 0, 65536);
		if (n < 0)
			return -1;
		if (evbuffer_get_length(in) > max)
			return 1;
		if (n == 0)
			return 0;
	}
}

/* The envelope sender: -f (brackets optional, "<>" or "" the null sender) or user@hostname. */
static void sm_sender(const struct sm_opts *o, const char *hostname, char *out, size_t len)
{
	if (o->from) {
		size_t n = strlen(o->from);
		int br = n >= 2 && o->from[0] == '<' && o->from[n - 1] == '>';
		snprintf(out, len, "%.*s", (int)(br ? n - 2 : n), o->from + br);
		return;
	}
	struct passwd *pw = getpwuid(getuid());
	snprintf(out, len, "%s@%s", pw ? pw->pw_name : "nobody", hostname);
}

/* From:, Date: and Message-ID: for a message that lacks them. */
static void sm_headers(const struct sm_opts *o, const char *sender, const char *hostname,
		       char *from, char *date, char *msgid, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_t now = ts.tv_sec;
	struct tm tm;
	char when[64], quoted[512];
	size_t q = 0;
	for (const char *p = o->fullname; p && *p && q + 3 < sizeof(quoted); p++) {
		if (*p == '"' || *p == '\\')
			quoted[q++] = '\\';
		quoted[q++] = (*p == '\r' || *p == '\n') ? ' ' : *p;
	}
	quoted[q] = '\0';
	if (o->fullname)
		snprintf(from, len, "From: \"%s\" <%s>", quoted, sender);
	else
		snprintf(from, len, "From: %s", sender);
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(date, len, "Date: %s", when);
	strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm);
	snprintf(msgid, len, "Message-ID: <%s.%ld.%08lx@%s>", when, (long)getpid(),
		 (unsigned long)ts.tv_nsec, hostname);
}

static int print_payload(void *arg, const char *data, size_t len)
{
	(void)arg, (void)data, (void)len; /* the queue ID: sendmail says nothing when it worked */
	return 0;
}

/* The request words: submit FROM LEN RCPT..., then the message. Returns the exit status. */
static int sm_submit(const char *conf, const char *sender, struct rcpt_list *r,
		     struct evbuffer *msg)
{
	char len[32], from[1024 * 3 + 8], fromx[sizeof(from)], err[1024] = "";
	size_t n = evbuffer_get_length(msg);
	snprintf(from, sizeof(from), "<%s>", sender);
	if (util_xtext_encode(from, strlen(from), fromx, sizeof(fromx)) >= sizeof(fromx)) {
		fprintf(stderr, "relayguard: sender address too long\n");
		return 1;
	}
	snprintf(len, sizeof(len), "%zu", n);
	r->words[0] = "submit";
	r->words[1] = fromx;
	r->words[2] = len;
	const char *body = (const char *)evbuffer_pullup(msg, -1);
	enum ctl_result res = ctl_client_call_body(conf, r->n, r->words, body ? body : "", n,
						   print_payload, NULL, err, sizeof(err));
	if (res != CTL_OK)
		fprintf(stderr, "relayguard: %s\n", err);
	return res == CTL_OK ? 0 : res == CTL_ERROR ? 1 : EX_TEMPFAIL;
}

/* The message from stdin, completed; the -t recipients into r. 0 or an exit status. */
static int sm_message(const struct sm_opts *o, const struct conf *c, const char *sender,
		      struct rcpt_list *r, struct evbuffer *out)
{
	char from[2048], date[2048], msgid[2048];
	struct evbuffer *in = evbuffer_new();
	int rc = in ? read_stdin(in, c->limits.message_size) : -1;
	if (rc != 0) {
		if (rc > 0)
			fprintf(stderr,
				"relayguard: message too big (message-size is %llu bytes)\n",
				(unsigned long long)c->limits.message_size);
		else
			fprintf(stderr, "relayguard: cannot read the message\n");
		if (in)
			evbuffer_free(in);
		return 1;
	}
	sm_headers(o, sender, c->hostname, from, date, msgid, sizeof(msgid));
	struct sendmail_prep p = {.dot_ends = o->dot_ends,
				  .from_hdr = from,
				  .date_hdr = date,
				  .msgid_hdr = msgid,
				  .on_rcpt_hdr = o->t ? rcpt_add : NULL,
				  .arg = r};
	const char *text = (const char *)evbuffer_pullup(in, -1);
	rc = sendmail_prepare(text ? text : "", evbuffer_get_length(in), &p, out);
	evbuffer_free(in);
	if (rc < 0) {
		fprintf(stderr, "relayguard: %s\n",
			r->overflow ? "too many recipients (at most 61, 4 KiB in all)"
				    : "out of memory");
		return 1;
	}
	return 0;
}

static int sm_run(const struct sm_opts *o, const struct conf *c, struct rcpt_list *r,
		  struct evbuffer *msg)
{
	char sender[1024];
	sm_sender(o, c->hostname, sender, sizeof(sender));
	for (int i = 0; i < o->n_args; i++)
		if (sendmail_addr_list(o->args[i], strlen(o->args[i]), rcpt_add, r) < 0) {
			fprintf(stderr,
				"relayguard: too many recipients (at most 61, 4 KiB in all)\n");
			return 1;
		}
	int rc = sm_message(o, c, sender, r, msg);
	if (rc != 0)
		return rc;
	if (r->n == 3) {
		fprintf(stderr, "relayguard: no recipients (give them as arguments, or -t)\n");
		return 1;
	}
	return sm_submit(o->conf, sender, r, msg);
}

int server_sendmail_cli(int argc, char **argv, const char *default_conf)
{
	struct sm_opts o = {.conf = default_conf, .dot_ends = 1};
	if (sm_parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: sendmail [-t] [-i] [-f SENDER] [-F NAME] [-C FILE] "
				"[--] [RECIPIENT...]\n");
		return EX_USAGE;
	}
	if (o.mailq)
		return server_mailq_cli(0, NULL, o.conf);
	struct conf *c;
	char err[1024];
	if (conf_load(o.conf, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "relayguard: %s\n", err);
		return EX_TEMPFAIL;
	}
	struct rcpt_list r = {.n = 3}; /* words 0..2: submit FROM LEN */
	struct evbuffer *msg = evbuffer_new();
	int rc = msg ? sm_run(&o, c, &r, msg) : 1;
	for (int i = 3; i < r.n; i++)
		free(r.words[i]);
	if (msg)
		evbuffer_free(msg);
	conf_free(c);
	return rc;
}
