/* reload.c — SIGHUP and `relayguard reload`. The config file is loaded and audited again on a
 * worker thread (reading and parsing up to 1 MiB must not stall the sessions); back in the loop
 * the new config is applied whole or not at all: listeners first (the only step that can fail),
 * then the switch. Sessions and deliveries keep the config they started with (conf_ref). One
 * reload runs at a time; requests that come meanwhile share the next one. */
#include "server_int.h"

#include "../abuse/abuse.h"
#include "../changelog/changelog.h"
#include "../tls/tls.h"
#include "../util/util.h"

#include <event2/buffer.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reload_waiter {
	struct control_req *req;
	struct reload_waiter *next;
	long uid;	    /* the client's (SO_PEERCRED) */
	char sudo_user[64]; /* its SUDO_USER claim, "" */
};

struct reload {
	struct server *srv;
	char *path;	   /* the file: the current config's */
	struct conf *conf; /* the worker's result, or NULL with err */
	SSL_CTX *tls_ctx;  /* its certificate, loaded with it (NULL: none configured) */
	char err[1024];
	size_t relay_tests; /* audit: battery tests an outside client could relay */
	struct reload_waiter *waiters;
	/* the changelog record of an applied config, made by a worker before the answer */
	long uid; /* who asked: the earliest waiting client, -1 for SIGHUP */
	char sudo_user[64];
	struct conf *applied; /* a reference for the worker */
	int rc;
	unsigned added, removed;
	char kept[256];
};

/* Settings a running server cannot change (the spool is open, the threads started, the socket
 * bound): a reload keeps their old value and says so. One row each. */
enum keep_kind { KEEP_STRING, KEEP_UNSIGNED, KEEP_U64, KEEP_LISTEN, KEEP_STRINGS };
static const struct restart_only {
	const char *name;
	size_t off;
	enum keep_kind kind;
	size_t count_off; /* KEEP_STRINGS: the size_t that counts them */
} restart_only[] = {
    {"spool", offsetof(struct conf, spool_dir), KEEP_STRING, 0},
    {"spool-segment-size", offsetof(struct conf, spool_segment_size), KEEP_U64, 0},
    {"delivery-workers", offsetof(struct conf, delivery_workers), KEEP_UNSIGNED, 0},
    {"control-socket", offsetof(struct conf, control_socket), KEEP_STRING, 0},
    {"state-dir", offsetof(struct conf, state_dir), KEEP_STRING, 0}, /* the changelog's home */
    {"metrics-listen", offsetof(struct conf, metrics_listen), KEEP_LISTEN, 0},
    /* root is gone after the start: the user cannot change again */
    {"user", offsetof(struct conf, run_user), KEEP_STRING, 0},
    /* the resolver is made once, at start */
    {"dns-server", offsetof(struct conf, dns_servers), KEEP_STRINGS,
     offsetof(struct conf, n_dns_servers)},
    /* the abuse store is opened once (at start, or by the first reload that uses it) */
    {"abuse-store", offsetof(struct conf, abuse_store.text), KEEP_STRING, 0},
    /* the DNS list cache is sized once, at start */
    {"dnsbl-cache-size", offsetof(struct conf, dnsbl_cache_size), KEEP_UNSIGNED, 0},
};

static int same_strings(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

/* A list of strings (dns-server): 1 if it differed (old one restored), 0, -1. */
static int keep_strings(char ***n, size_t *nn, char *const *o, size_t on)
{
	if (same_strings(*n, *nn, o, on))
		return 0;
	char **copy = on ? calloc(on, sizeof(*copy)) : NULL;
	size_t i = 0;
	while (i < on && copy && (copy[i] = strdup(o[i])))
		i++;
	if (on && i < on) {
		while (copy && i > 0)
			free(copy[--i]);
		free(copy);
		return -1;
	}
	for (size_t k = 0; k < *nn; k++)
		free((*n)[k]);
	free(*n);
	*n = copy;
	*nn = on;
	return 1;
}

/* metrics-listen: NULL (off) or an address. 1 if it differed (old one restored), 0, -1. */
static int keep_listen(struct conf_listen **n, struct conf_listen *const *o)
{
	if (!*n && !*o)
		return 0;
	if (*n && *o && (*n)->addrlen == (*o)->addrlen &&
	    memcmp(&(*n)->addr, &(*o)->addr, (*o)->addrlen) == 0)
		return 0;
	struct conf_listen *copy = NULL;
	if (*o && !(copy = malloc(sizeof(*copy))))
		return -1;
	if (copy)
		*copy = **o;
	free(*n);
	*n = copy;
	return 1;
}

/* Put the old value of one restart-only setting back into the new config. 1 if it differed,
 * 0 if not, -1 out of memory. */
static int keep_old(struct conf *new, const struct conf *old, const struct restart_only *r)
{
	char *n = (char *)new + r->off;
	const char *o = (const char *)old + r->off;
	if (r->kind == KEEP_UNSIGNED || r->kind == KEEP_U64) {
		size_t size = r->kind == KEEP_U64 ? sizeof(uint64_t) : sizeof(unsigned);
		if (memcmp(n, o, size) == 0)
			return 0;
		memcpy(n, o, size);
		return 1;
	}
	if (r->kind == KEEP_STRINGS)
		return keep_strings(
		    (char ***)(void *)n, (size_t *)(void *)((char *)new + r->count_off),
		    *(char **const *)(const void *)o,
		    *(const size_t *)(const void *)((const char *)old + r->count_off));
	if (r->kind == KEEP_LISTEN)
		return keep_listen((struct conf_listen **)(void *)n,
				   (struct conf_listen *const *)(const void *)o);
	char **ns = (char **)(void *)n;
	char *const *os = (char *const *)(const void *)o;
	if (strcmp(*ns, *os) == 0)
		return 0;
	char *copy = strdup(*os);
	if (!copy)
		return -1;
	free(*ns);
	*ns = copy;
	return 1;
}

/* Keep every restart-only setting; their names, comma-separated, into names. */
static int keep_restart_only(const struct server *srv, struct conf *new, const struct conf *old,
			     char *names, size_t namelen)
{
	names[0] = '\0';
	for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++) {
		if (restart_only[i].off == offsetof(struct conf, abuse_store.text) &&
		    !srv->smtp.abuse)
			continue; /* not opened yet: the new setting is the one it will use */
		int rc = keep_old(new, old, &restart_only[i]);
		if (rc < 0)
			return -1;
		if (rc == 1)
			snprintf(names + strlen(names), namelen - strlen(names), "%s%s",
				 names[0] ? "," : "", restart_only[i].name);
	}
	return 0;
}

/* Runs on a worker thread: touches only r (the file, a new config, the pure audit). */
static void reload_work(void *arg)
{
	struct reload *r = arg;
	struct audit_finding first;
	if (conf_load(r->path, &r->conf, r->err, sizeof(r->err)) < 0)
		return;
	r->relay_tests = server_audit_relays(r->conf, &first);
	if (r->relay_tests > 0 && !r->conf->open_relay_override) {
		server_open_relay_error(r->conf, "load", r->relay_tests, &first, r->err,
					sizeof(r->err));
		conf_free(r->conf);
		r->conf = NULL;
		return;
	}
	/* all or nothing: a certificate that does not load fails the reload, the old one stays */
	if (server_tls_ctx(r->conf, &r->tls_ctx, r->err, sizeof(r->err)) < 0) {
		conf_free(r->conf);
		r->conf = NULL;
	}
}

static void log_reloaded(const struct server *srv, unsigned added, unsigned removed,
			 const char *kept)
{
	const struct conf *c = srv->conf;
	log_msg(LOG_INFO, "server: reloaded",
		"config=%s listeners=%zu added=%u removed=%u local_domains=%zu mailboxes=%zu "
		"relay_rules=%zu trusted_networks=%zu",
		c->path, c->n_listens, added, removed, c->n_local_domains, c->n_mailboxes,
		c->n_rules, c->n_trusted);
	if (kept[0])
		log_msg(LOG_WARN,
			"server: reload: changed settings need a restart, old values kept",
			"settings=%s", kept);
}

/* The answer of a successful reload (the CLI prints it). */
static void add_summary(struct evbuffer *b, const struct server *srv, unsigned added,
			unsigned removed, const char *kept)
{
	const struct conf *c = srv->conf;
	evbuffer_add_printf(b, "reloaded %s\n", c->path);
	evbuffer_add_printf(b, "listeners %zu (%u added, %u removed)\n", c->n_listens, added,
			    removed);
	evbuffer_add_printf(b, "local domains %zu, mailboxes %zu, relay rules %zu\n",
			    c->n_local_domains, c->n_mailboxes, c->n_rules);
	evbuffer_add_printf(b, "tls certificate %s\n",
			    c->tls_cert_file ? c->tls_cert_file : "none");
	if (srv->open_relay_tests)
		evbuffer_add_printf(b,
				    "warning: OPEN RELAY: %zu relay tests pass for outside "
				    "clients (open-relay-override)\n",
				    srv->open_relay_tests);
	if (kept[0])
		evbuffer_add_printf(b,
				    "warning: these settings changed but need a restart; their "
				    "old values stay in force: %s\n",
				    kept);
}

/* Loop thread: switch to r->conf, or leave everything as it was (-1, err). */
/* The first config that uses the abuse store opens it (as the service user: its directory was
 * made at start). A store that cannot be opened fails the reload. */
static int reload_open_store(struct server *srv, const struct conf *c, char *err, size_t errlen)
{
	char why[512];
	if (srv->smtp.abuse || !abuse_store_needed(c))
		return 0;
	if (!(srv->smtp.abuse = abuse_store_open(c, 1, srv->base, why, sizeof(why)))) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	log_msg(LOG_INFO, "server: abuse store opened", "store=\"%s\"", srv->smtp.abuse->name);
	return 0;
}

static int reload_apply(struct server *srv, struct reload *r, char *kept, size_t keptlen,
			unsigned *added, unsigned *removed)
{
	if (srv->stopping) {
		snprintf(r->err, sizeof(r->err), "the server is stopping");
		return -1;
	}
	if (keep_restart_only(srv, r->conf, srv->conf, kept, keptlen) < 0) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return -1;
	}
	if (reload_open_store(srv, r->conf, r->err, sizeof(r->err)) < 0)
		return -1;
	if (smtp_listen_update(&srv->smtp, r->conf, added, removed, r->err, sizeof(r->err)) < 0)
		return -1;
	struct conf *old = srv->conf;
	srv->conf = srv->smtp.conf = r->conf;
	r->conf = NULL;
	SSL_CTX_free(srv->smtp.tls_ctx); /* sessions that started under it keep a reference */
	srv->smtp.tls_ctx = r->tls_ctx;
	r->tls_ctx = NULL;
	conf_unref(old); /* freed when the last session or delivery under it ends */
	dnsbl_engine_update(srv->smtp.dnsbl, srv->conf);
	spool_set_stage_budget(srv->spool, (size_t)srv->conf->limits.stage_memory);
	server_raise_fd_limit(srv->conf);
	srv->open_relay_tests = r->relay_tests;
	srv->conf_loaded = time(NULL);
	srv->reloads++;
	char err[256];
	self_audit_conf_changed(srv);
	self_check_conf_changed(srv);
	if (server_open_relay_timer(srv, err, sizeof(err)) < 0)
		log_msg(LOG_ERR, "server: cannot schedule the open-relay warning", "error=\"%s\"",
			err);
	return 0;
}

static void reload_start(struct server *srv, struct reload_waiter *waiters);

static void answer_all(struct reload_waiter *w, const struct server *srv, const char *error,
		       unsigned added, unsigned removed, const char *kept)
{
	while (w) {
		struct reload_waiter *next = w->next;
		if (!error)
			add_summary(control_payload(w->req), srv, added, removed, kept);
		control_finish(w->req, error);
		free(w);
		w = next;
	}
}

/* Loop thread: log, answer, and start the reload asked for meanwhile. */
static void reload_finish(struct reload *r)
{
	struct server *srv = r->srv;
	char q[1100];
	if (r->rc < 0)
		log_msg(LOG_ERR, "server: reload failed", "config=%s error=%s", r->path,
			log_quote(r->err, strlen(r->err), q, sizeof(q)));
	else
		log_reloaded(srv, r->added, r->removed, r->kept);
	answer_all(r->waiters, srv, r->rc < 0 ? r->err : NULL, r->added, r->removed, r->kept);
	conf_free(r->conf); /* not applied */
	SSL_CTX_free(r->tls_ctx);
	free(r->path);
	free(r);
	srv->reload = NULL;
	if (srv->reload_again) {
		struct reload_waiter *next = srv->reload_next;
		srv->reload_again = 0;
		srv->reload_next = NULL;
		if (srv->stopping)
			answer_all(next, srv, "the server is stopping", 0, 0, "");
		else
			reload_start(srv, next);
	}
}

/* Worker thread: the changelog record (flock, fdatasync) of the config just applied. */
static void record_work(void *arg)
{
	struct reload *r = arg;
	struct changelog_who who;
	unsigned long id;
	changelog_who_uid(&who, r->uid, r->sudo_user[0] ? r->sudo_user : NULL);
	server_record_conf(r->applied, "reload", &who, &id);
}

static void record_done(void *arg)
{
	struct reload *r = arg;
	conf_unref(r->applied);
	r->applied = NULL;
	reload_finish(r);
}

/* Loop thread, after reload_work: apply, record, then answer (so a client that reloaded finds
 * its record in the changelog). */
static void reload_done(void *arg)
{
	struct reload *r = arg;
	struct server *srv = r->srv;
	r->rc =
	    r->conf ? reload_apply(srv, r, r->kept, sizeof(r->kept), &r->added, &r->removed) : -1;
	if (r->rc == 0) {
		r->applied = conf_ref(srv->conf);
		if (workq_submit(srv->workq, record_work, record_done, r) == 0)
			return;
		conf_unref(r->applied);
		r->applied = NULL;
		log_msg(LOG_ERR, "changelog: cannot record the reload", "error=\"out of memory\"");
	}
	reload_finish(r);
}

/* Who asked: the earliest waiting client (the list is newest first), or SIGHUP. */
static void reload_who(struct reload *r, const struct reload_waiter *w)
{
	r->uid = -1;
	for (; w; w = w->next) {
		r->uid = w->uid;
		memcpy(r->sudo_user, w->sudo_user, sizeof(r->sudo_user));
	}
}

static void reload_start(struct server *srv, struct reload_waiter *waiters)
{
	struct reload *r = calloc(1, sizeof(*r));
	if (r && !(r->path = strdup(srv->conf->path))) {
		free(r);
		r = NULL;
	}
	if (r) {
		r->srv = srv;
		r->waiters = waiters;
		reload_who(r, waiters);
		srv->reload = r;
		log_msg(LOG_INFO, "server: reloading", "config=%s", r->path);
		if (workq_submit(srv->workq, reload_work, reload_done, r) == 0)
			return;
		srv->reload = NULL;
		free(r->path);
		free(r);
	}
	log_msg(LOG_ERR, "server: reload failed", "error=\"out of memory\"");
	answer_all(waiters, srv, "out of memory", 0, 0, "");
}

void server_reload(struct server *srv, struct control_req *req, const char *sudo_user)
{
	struct reload_waiter *w = NULL;
	if (srv->stopping) {
		log_msg(LOG_WARN, "server: reload refused: the server is stopping", NULL);
		if (req)
			control_finish(req, "the server is stopping");
		return;
	}
	if (req && !(w = calloc(1, sizeof(*w)))) {
		control_finish(req, "out of memory");
		return;
	}
	if (w) {
		w->req = req;
		w->uid = control_peer_uid(req);
		snprintf(w->sudo_user, sizeof(w->sudo_user), "%s", sudo_user ? sudo_user : "");
	}
	if (!srv->reload) {
		reload_start(srv, w);
		return;
	}
	srv->reload_again = 1; /* the file may have changed since the running one read it */
	if (w) {
		w->next = srv->reload_next;
		srv->reload_next = w;
	}
}

void server_reload_shutdown(struct server *srv)
{
	answer_all(srv->reload_next, srv, "the server is stopping", 0, 0, "");
	srv->reload_next = NULL;
	srv->reload_again = 0;
}
