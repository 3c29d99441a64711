/* http.c — `relayguard web`'s HTTP server: libmicrohttpd with a thread per connection (a
 * delisting rescan blocks its connection for seconds, and only that one), a bounded number of
 * connections in all and per client address, bounded request bodies, GET and POST only. Each
 * request opens its own store connection (SQLite WAL: readers never wait for the scanner).
 * Routes are rows of a table; every answer carries the same security headers. */
#include "web_int.h"

#include "../conf/conf.h"
#include "../privdrop/privdrop.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WEB_HTTP_BACKLOG 64
#define WEB_HTTP_MAX_CONNECTIONS 64 /* threads at once; more wait in the listen queue */
#define WEB_HTTP_PER_IP 8	    /* connections per client address */
#define WEB_HTTP_TIMEOUT 120	    /* idle seconds; above the longest rescan a request waits for */
#define WEB_HTTP_MEMORY (32 * 1024) /* per connection: request line and headers */
#define WEB_BODY_MAX 4096	    /* a POST body (a form or a JSON object) */

#define TYPE_HTML "text/html; charset=utf-8"
#define TYPE_JSON "application/json"

struct web_server {
	const struct conf *conf;
	const char *db_path;
	uint8_t secret[WEB_CSRF_SECRET_LEN];
	char csp[256];
};

struct web_req {
	const struct route *route;
	struct util_buf body;
	int too_big;
};

typedef enum MHD_Result (*route_fn)(struct web_server *s, struct MHD_Connection *conn,
				    struct web_req *r);

struct route {
	const char *path, *method;
	int json;	       /* answers (errors included) are JSON */
	const char *body_type; /* POST: the Content-Type required */
	route_fn fn;
};

/* ---- answers ---- */

static enum MHD_Result answer(struct web_server *s, struct MHD_Connection *conn, unsigned status,
			      struct util_buf *b, int json, const char *allow)
{
	if (b->err || !b->p) {
		util_buf_free(b);
		return MHD_NO; /* out of memory: MHD closes the connection */
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(b->len, b->p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		util_buf_free(b);
		return MHD_NO;
	}
	*b = (struct util_buf){0};
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, json ? TYPE_JSON : TYPE_HTML);
	MHD_add_response_header(r, "Content-Security-Policy", s->csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_error(struct web_server *s, struct MHD_Connection *conn,
				    unsigned status, int json, const char *title, const char *text,
				    const char *allow)
{
	struct util_buf b = {0};
	if (json)
		web_json_error(&b, text);
	else
		web_page_error(&b, title, text);
	return answer(s, conn, status, &b, json, allow);
}

/* ---- the routes ---- */

static enum MHD_Result do_index(struct web_server *s, struct MHD_Connection *conn,
				struct web_req *r)
{
	struct util_buf b = {0};
	(void)r;
	web_page_index(&b);
	return answer(s, conn, MHD_HTTP_OK, &b, 0, NULL);
}

static enum MHD_Result do_howto(struct web_server *s, struct MHD_Connection *conn,
				struct web_req *r)
{
	struct util_buf b = {0};
	(void)r;
	web_page_howto(&b);
	return answer(s, conn, MHD_HTTP_OK, &b, 0, NULL);
}

static enum MHD_Result bad_ip(struct web_server *s, struct MHD_Connection *conn, int json,
			      const char *ip)
{
	char text[160];
	if (!ip || !*ip)
		snprintf(text, sizeof(text), "No IP address given: add ip=ADDRESS.");
	else
		snprintf(text, sizeof(text), "'%.*s' is not an IPv4 or IPv6 address.",
			 WEB_IP_INPUT_MAX, ip);
	return answer_error(s, conn, MHD_HTTP_BAD_REQUEST, json, "Bad address", text, NULL);
}

/* What the store says about ip (canonical text), on a connection of this request's own. */
static int lookup_ip(struct web_server *s, const char *ip, struct web_lookup *l)
{
	uint8_t addr[16];
	char canon[WEB_IP_MAX], err[512] = "cannot read it", q[600];
	struct blocklist *db = NULL;
	int rc = -1;
	if (web_parse_ip(ip, addr, canon) == 0 &&
	    blocklist_open(s->db_path, &db, err, sizeof(err)) == 0)
		rc = web_lookup_load(db, addr, canon, l);
	blocklist_close(db);
	if (rc < 0)
		log_msg(LOG_ERR, "web: cannot read the blocklist store", "error=%s",
			log_quote(err, strlen(err), q, sizeof(q)));
	return rc;
}

/* GET /lookup and /api/v1/lookup */
static enum MHD_Result do_lookup(struct web_server *s, struct MHD_Connection *conn,
				 struct web_req *r)
{
	const char *in = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ip");
	uint8_t addr[16];
	char ip[WEB_IP_MAX], csrf[WEB_CSRF_TOKEN_MAX];
	struct web_lookup l;
	int json = r->route->json;
	if (web_parse_ip(in, addr, ip) < 0)
		return bad_ip(s, conn, json, in);
	if (lookup_ip(s, ip, &l) < 0)
		return answer_error(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, json,
				    "Store unavailable", "The blocklist cannot be read now.", NULL);
	struct util_buf b = {0};
	if (json)
		web_json_lookup(&b, &l);
	else {
		web_csrf_make(s->secret, (int64_t)time(NULL), csrf);
		web_page_lookup(&b, &l, csrf);
	}
	web_lookup_clear(&l);
	return answer(s, conn, MHD_HTTP_OK, &b, json, NULL);
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr)
		util_sockaddr_ip(ci->client_addr, out, len);
	else
		util_strlcpy(out, "unknown", len);
}

/* The rescan and its answer, for the form (json 0) and the API. */
static enum MHD_Result run_delist(struct web_server *s, struct MHD_Connection *conn, int json,
				  const char *ip)
{
	char requester[WEB_IP_MAX];
	struct web_delist_outcome o;
	client_ip(conn, requester, sizeof(requester));
	if (web_delist_run(s->conf, ip, requester, &o) < 0) {
		char q[600];
		log_msg(LOG_ERR, "web: delisting request failed", "ip=%s requester=%s error=%s", ip,
			requester, log_quote(o.err, strlen(o.err), q, sizeof(q)));
		return answer_error(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, json,
				    "Could not run the rescan", o.err, NULL);
	}
	log_msg(LOG_INFO, "web: delisting request", "ip=%s requester=%s status=%s", ip, requester,
		o.status);
	struct web_lookup after; /* the entry as the rescan left it (with the new evidence) */
	int have_after = lookup_ip(s, ip, &after) == 0;
	struct web_delist_view v = {ip, o.status, o.detail, o.scan, have_after ? &after : NULL};
	struct util_buf b = {0};
	if (json)
		web_json_delist(&b, &v);
	else
		web_page_delist(&b, &v);
	free(o.scan);
	if (have_after)
		web_lookup_clear(&after);
	return answer(s, conn, MHD_HTTP_OK, &b, json, NULL);
}

/* POST /delist: the form (ip, csrf). */
static enum MHD_Result do_delist_form(struct web_server *s, struct MHD_Connection *conn,
				      struct web_req *r)
{
	char csrf[WEB_CSRF_TOKEN_MAX], in[WEB_IP_INPUT_MAX], ip[WEB_IP_MAX];
	uint8_t addr[16];
	if (web_form_get(r->body.p, r->body.len, "csrf", csrf, sizeof(csrf)) != 1 ||
	    !web_csrf_check(s->secret, (int64_t)time(NULL), csrf))
		return answer_error(s, conn, MHD_HTTP_FORBIDDEN, 0, "Form expired or forged",
				    "This request did not carry a valid form token: it is too old "
				    "or did not come from this site's page. Look the address up "
				    "again and press the button on that page.",
				    NULL);
	int got = web_form_get(r->body.p, r->body.len, "ip", in, sizeof(in));
	if (web_parse_ip(got == 1 ? in : NULL, addr, ip) < 0)
		return bad_ip(s, conn, 0, got == 1 ? in : NULL);
	return run_delist(s, conn, 0, ip);
}

/* POST /api/v1/delist: {"ip":"..."} */
static enum MHD_Result do_delist_api(struct web_server *s, struct MHD_Connection *conn,
				     struct web_req *r)
{
	char in[WEB_IP_INPUT_MAX], ip[WEB_IP_MAX];
	uint8_t addr[16];
	int got = web_json_get_string(r->body.p, r->body.len, "ip", in, sizeof(in));
	if (got < 0)
		return answer_error(s, conn, MHD_HTTP_BAD_REQUEST, 1, "Bad request",
				    "The body must be a JSON object with a string member ip.",
				    NULL);
	if (web_parse_ip(got == 1 ? in : NULL, addr, ip) < 0)
		return bad_ip(s, conn, 1, got == 1 ? in : NULL);
	return run_delist(s, conn, 1, ip);
}

static const struct route routes[] = {
    {"/", "GET", 0, NULL, do_index},
    {"/lookup", "GET", 0, NULL, do_lookup},
    {"/howto", "GET", 0, NULL, do_howto},
    {"/delist", "POST", 0, "application/x-www-form-urlencoded", do_delist_form},
    {"/api/v1/lookup", "GET", 1, NULL, do_lookup},
    {"/api/v1/delist", "POST", 1, TYPE_JSON, do_delist_api},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- dispatch ---- */

/* The route for url and method (HEAD takes a GET route: libmicrohttpd sends the headers of the
 * answer without its body); NULL with *allow set (the Allow header) when only the method
 * differs. */
static const struct route *route_find(const char *url, const char *method, const char **allow)
{
	int head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
	*allow = NULL;
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (strcmp(routes[i].path, url) != 0)
			continue;
		int get = !strcmp(routes[i].method, MHD_HTTP_METHOD_GET);
		if (!strcmp(routes[i].method, method) || (head && get))
			return &routes[i];
		*allow = get ? "GET, HEAD" : routes[i].method;
	}
	return NULL;
}

/* Does the request's Content-Type name type (parameters such as charset allowed)? */
static int body_type_ok(struct MHD_Connection *conn, const char *type)
{
	const char *ct =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(type);
	if (!ct || strncasecmp(ct, type, n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* The first call of a request: route, method, body type and announced size. */
static enum MHD_Result request_start(struct web_server *s, struct MHD_Connection *conn,
				     const char *url, const char *method, void **con_cls)
{
	const char *allow;
	int api = !strncmp(url, "/api/", 5);
	const struct route *rt = route_find(url, method, &allow);
	if (!rt && allow)
		return answer_error(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, api, "Method not allowed",
				    "This page does not take that method.", allow);
	if (!rt)
		return answer_error(s, conn, MHD_HTTP_NOT_FOUND, api, "Not found",
				    "There is no such page here.", NULL);
	if (rt->body_type && !body_type_ok(conn, rt->body_type)) {
		char text[128];
		snprintf(text, sizeof(text), "The request body must be %s.", rt->body_type);
		return answer_error(s, conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, rt->json,
				    "Unsupported request", text, NULL);
	}
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > WEB_BODY_MAX)
		return answer_error(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, rt->json,
				    "Request too large", "The request body is too large.", NULL);
	struct web_req *r = calloc(1, sizeof(*r));
	if (!r)
		return MHD_NO;
	r->route = rt;
	*con_cls = r;
	return MHD_YES;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	struct web_server *s = cls;
	struct web_req *r = *con_cls;
	(void)version;
	if (!r)
		return request_start(s, conn, url, method, con_cls);
	if (*upload_data_size > 0) {
		if (r->body.len + *upload_data_size > WEB_BODY_MAX)
			r->too_big = 1;
		else
			util_buf_add(&r->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return answer_error(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, r->route->json,
				    "Request too large", "The request body is too large.", NULL);
	if (r->body.err)
		return MHD_NO;
	return r->route->fn(s, conn, r);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode code)
{
	struct web_req *r = *con_cls;
	(void)cls, (void)conn, (void)code;
	if (r) {
		util_buf_free(&r->body);
		free(r);
		*con_cls = NULL;
	}
}

static void http_log(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	log_library("web: http", fmt, ap);
}

/* ---- start and stop ---- */

/* The CSP: nothing but our own inline style sheet (by its hash) and forms posting here. */
static int csp_make(struct web_server *s)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[64];
	unsigned mdlen = 0;
	const char *css = web_page_css();
	if (!EVP_Digest(css, strlen(css), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(s->csp, sizeof(s->csp),
		 "default-src 'none'; style-src 'sha256-%s'; form-action 'self'; "
		 "frame-ancestors 'none'; base-uri 'none'",
		 (const char *)b64);
	return 0;
}

static int open_socket(const struct conf_listen *cl, char *err, size_t errlen)
{
	return util_tcp_listen((const struct sockaddr *)&cl->addr, cl->addrlen, 0, WEB_HTTP_BACKLOG,
			       "blocklist-web-listen", cl->text, err, errlen);
}

static struct MHD_Daemon *daemon_start(struct web_server *s, int fd)
{
	return MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, http_access, s, MHD_OPTION_EXTERNAL_LOGGER, http_log, (void *)NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)WEB_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)WEB_HTTP_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_HTTP_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, (void *)s, MHD_OPTION_END);
}

/* Started as root: the listening socket is bound, MHD has no thread yet; the store (written
 * by delisting requests) is given to the user and root is dropped for good. */
static int web_drop_root(const struct conf *c, const char *db_path, char *err, size_t errlen)
{
	struct privdrop pd;
	struct privdrop_path store = {"blocklist-database", db_path, PRIVDROP_DB};
	if (privdrop_init(&pd, "web", c->run_user, c->path, err, errlen) < 0)
		return -1;
	return privdrop_store_daemon(&pd, &store, c->path, err, errlen);
}

/* SIGINT and SIGTERM are blocked before MHD makes its threads (they inherit the mask) and
 * taken here with sigwait: no signal handler, no flag shared with the threads. */
static void wait_for_stop(const sigset_t *set)
{
	int sig = 0;
	while (sigwait(set, &sig) != 0)
		;
	log_msg(LOG_INFO, "web: stopping", "signal=%d", sig);
}

int web_http_run(const struct conf *c, const char *db_path, char *err, size_t errlen)
{
	struct web_server s = {c, db_path};
	const struct conf_listen *cl = c->web_listen;
	sigset_t set;
	if (RAND_bytes(s.secret, sizeof(s.secret)) != 1 || csp_make(&s) < 0) {
		snprintf(err, errlen, "cannot make the form secret");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int fd = open_socket(cl, err, errlen);
	if (fd < 0)
		return -1;
	if (web_drop_root(c, db_path, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	struct MHD_Daemon *d = daemon_start(&s, fd);
	if (!d) {
		close(fd);
		snprintf(err, errlen, "blocklist-web-listen %s: cannot start the HTTP server",
			 cl->text);
		return -1;
	}
	log_msg(LOG_INFO, "web: listening", "listen=%s database=%s", cl->text, db_path);
	wait_for_stop(&set);
	MHD_stop_daemon(d);
	OPENSSL_cleanse(s.secret, sizeof(s.secret));
	return 0;
}
