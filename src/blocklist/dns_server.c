/* dns_server.c — `relayguard dnsbl`: the blocklist served as an RFC 5782 zone over UDP and TCP
 * on one libevent loop. Answers come from an in-memory index; a worker thread polls the store's
 * PRAGMA data_version every DNSBL_REFRESH_MS and, when another connection committed, builds a
 * new index that the loop swaps in, so no query ever waits on SQLite. */
#include "blocklist.h"

#include "../conf/conf.h"
#include "../privdrop/privdrop.h"
#include "../promhttp/promhttp.h"
#include "../util/workq.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DNSBL_REFRESH_MS 250  /* how often the store is checked for changes */
#define DNSBL_UDP_BATCH 64    /* datagrams per recvmmsg/sendmmsg */
#define DNSBL_UDP_ROUNDS 4    /* batches per readable event (fair to TCP and the refresh) */
#define DNSBL_UDP_IN_MAX 4096 /* a longer datagram is cut (a query is a few dozen bytes) */
#define DNSBL_RRL_LOG_S 10    /* how often the rate limiter's counters are logged */
#define DNSBL_TCP_MAX 256     /* concurrent TCP connections */
#define DNSBL_TCP_IDLE_S 10   /* a TCP connection idle this long is closed */

/* The UDP batch: buffers for DNSBL_UDP_BATCH queries and their answers, set up once. */
struct dnsbl_udp {
	struct mmsghdr in_msgs[DNSBL_UDP_BATCH], out_msgs[DNSBL_UDP_BATCH];
	struct iovec in_iov[DNSBL_UDP_BATCH], out_iov[DNSBL_UDP_BATCH];
	struct sockaddr_storage peers[DNSBL_UDP_BATCH];
	uint8_t in[DNSBL_UDP_BATCH][DNSBL_UDP_IN_MAX];
	uint8_t out[DNSBL_UDP_BATCH][BLOCKLIST_EDNS_MAX];
};

struct dnsbl_server {
	struct event_base *base;
	struct blocklist_zone zone;
	char hostmaster[300];
	struct blocklist_index *index; /* loop thread */
	struct blocklist *db;	       /* worker thread only */
	struct workq *q;
	struct event *q_ev, *tick, *udp_ev, *sig_int, *sig_term;
	struct evconnlistener *tcp;
	int udp_fd;
	unsigned n_tcp;
	/* the refresh job */
	int refreshing;
	int64_t version;
	struct blocklist_index *fresh;
	char err[256];
	struct blocklist_rrl *rrl; /* NULL: blocklist-rate-limit off */
	struct blocklist_rrl_stats rrl_logged;
	uint64_t rrl_logged_ms;
	struct blocklist_dns_metrics m;
	struct promhttp *http; /* blocklist-metrics-listen, NULL = none */
	struct dnsbl_udp udp;
	uint8_t in[BLOCKLIST_MSG_MAX], out[BLOCKLIST_MSG_MAX]; /* TCP */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The limiter's counters, when they moved (every DNSBL_RRL_LOG_S, and at the end). */
static void rrl_log(struct dnsbl_server *s, int force)
{
	struct blocklist_rrl_stats st;
	uint64_t now = now_ms();
	if (!s->rrl || (!force && now - s->rrl_logged_ms < DNSBL_RRL_LOG_S * 1000))
		return;
	blocklist_rrl_stats(s->rrl, &st);
	s->rrl_logged_ms = now;
	if (st.dropped == s->rrl_logged.dropped && st.slipped == s->rrl_logged.slipped && !force)
		return;
	s->rrl_logged = st;
	log_msg(LOG_INFO, "dnsbl rate limit", "sent=%llu dropped=%llu slipped=%llu evicted=%llu",
		(unsigned long long)st.sent, (unsigned long long)st.dropped,
		(unsigned long long)st.slipped, (unsigned long long)st.evicted);
}

/* Count one message read and what came of it: r bytes of answer in ans, 0 = no answer. */
static void count_answer(struct dnsbl_server *s, const uint8_t *ans, size_t r)
{
	if (r == 0)
		s->m.ignored++;
	else
		s->m.rcodes[ans[3] & 0x0f]++;
}

/* The scrape: the counters, and the gauges read now. */
static char *metrics_render(void *arg, size_t *len)
{
	struct dnsbl_server *s = arg;
	s->m.tcp_open = s->n_tcp;
	s->m.entries = blocklist_index_size(s->index);
	s->m.serial = s->zone.serial;
	s->m.rrl_on = s->rrl != NULL;
	if (s->rrl)
		blocklist_rrl_stats(s->rrl, &s->m.rrl);
	size_t n = blocklist_metrics_format(&s->m, NULL, 0);
	char *body = malloc(n + 1);
	if (body)
		blocklist_metrics_format(&s->m, body, n + 1);
	*len = n;
	return body;
}

/* ---- the index refresh ---- */
static void refresh_work(void *arg)
{
	struct dnsbl_server *s = arg;
	int64_t v = -1;
	s->fresh = NULL;
	s->err[0] = '\0';
	if (blocklist_data_version(s->db, &v) < 0) {
		snprintf(s->err, sizeof(s->err), "cannot read data_version");
		return;
	}
	if (v == s->version && s->index)
		return;
	s->fresh = blocklist_index_load(s->db, s->err, sizeof(s->err));
	if (s->fresh)
		s->version = v;
}

static void refresh_done(void *arg)
{
	struct dnsbl_server *s = arg;
	s->refreshing = 0;
	if (s->err[0]) {
		s->m.index_failures++;
		log_msg(LOG_WARN, "dnsbl index refresh failed", "error=\"%s\"", s->err);
	}
	if (!s->fresh)
		return;
	s->m.index_loads++;
	blocklist_index_free(s->index);
	s->index = s->fresh;
	s->fresh = NULL;
	s->zone.serial = (uint32_t)time(NULL);
	log_msg(LOG_INFO, "dnsbl index loaded", "entries=%zu serial=%u",
		blocklist_index_size(s->index), s->zone.serial);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_server *s = arg;
	(void)fd, (void)what;
	rrl_log(s, 0);
	if (s->refreshing)
		return;
	s->refreshing = 1;
	if (workq_submit(s->q, refresh_work, refresh_done, s) < 0)
		s->refreshing = 0;
}

static void on_completions(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	workq_run_completions(((struct dnsbl_server *)arg)->q);
}

/* ---- UDP: a batch of datagrams per system call each way ---- */
static void udp_setup(struct dnsbl_udp *u)
{
	for (int i = 0; i < DNSBL_UDP_BATCH; i++) {
		u->in_iov[i] = (struct iovec){u->in[i], sizeof(u->in[i])};
		u->in_msgs[i].msg_hdr = (struct msghdr){
		    .msg_name = &u->peers[i], .msg_iov = &u->in_iov[i], .msg_iovlen = 1};
	}
}

/* Answer datagram i into the next free answer slot; 1 when there is an answer to send. */
static int udp_answer(struct dnsbl_server *s, int i, int slot, uint64_t now)
{
	struct dnsbl_udp *u = &s->udp;
	size_t r = blocklist_query_answer(&s->zone, s->index, u->in[i], u->in_msgs[i].msg_len,
					  u->out[slot], sizeof(u->out[slot]), 0);
	uint8_t addr[16];
	count_answer(s, u->out[slot], r);
	if (r == 0)
		return 0;
	if (s->rrl && cidr_addr_from_sockaddr((struct sockaddr *)&u->peers[i], addr) == 0) {
		enum blocklist_rrl_verdict v = blocklist_rrl_check(s->rrl, addr, now);
		if (v == BLOCKLIST_RRL_DROP)
			return 0;
		if (v == BLOCKLIST_RRL_SLIP && !(r = blocklist_answer_truncate(u->out[slot], r)))
			return 0;
	}
	u->out_iov[slot] = (struct iovec){u->out[slot], r};
	u->out_msgs[slot].msg_hdr =
	    (struct msghdr){.msg_name = &u->peers[i],
			    .msg_namelen = u->in_msgs[i].msg_hdr.msg_namelen,
			    .msg_iov = &u->out_iov[slot],
			    .msg_iovlen = 1};
	return 1;
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_server *s = arg;
	struct dnsbl_udp *u = &s->udp;
	(void)what;
	for (int round = 0; round < DNSBL_UDP_ROUNDS; round++) {
		for (int i = 0; i < DNSBL_UDP_BATCH; i++)
			u->in_msgs[i].msg_hdr.msg_namelen = sizeof(u->peers[i]);
		int n = recvmmsg(fd, u->in_msgs, DNSBL_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* EAGAIN, or an ICMP error reported on the socket */
		uint64_t now = s->rrl ? now_ms() : 0;
		int m = 0;
		s->m.queries[BLOCKLIST_UDP] += (uint64_t)n;
		for (int i = 0; i < n; i++)
			m += udp_answer(s, i, m, now);
		for (int sent = 0; sent < m;) {
			int k =
			    sendmmsg(fd, u->out_msgs + sent, (unsigned)(m - sent), MSG_DONTWAIT);
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;	       /* a full send buffer: UDP answers may be lost */
			sent += k > 0 ? k : 1; /* one bad destination does not lose the rest */
		}
		if (n < DNSBL_UDP_BATCH)
			return;
	}
}

/* ---- TCP: two-byte length, message (RFC 1035 4.2.2), several per connection ---- */
static void tcp_close(struct bufferevent *bev, void *arg)
{
	struct dnsbl_server *s = arg;
	bufferevent_free(bev);
	s->n_tcp--;
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct dnsbl_server *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2];
	while (evbuffer_copyout(in, hdr, 2) == 2) {
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(in) < len + 2)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, s->in, len);
		size_t r = blocklist_query_answer(&s->zone, s->index, s->in, len, s->out,
						  sizeof(s->out), 1);
		s->m.queries[BLOCKLIST_TCP]++;
		count_answer(s, s->out, r);
		if (r == 0) {
			tcp_close(bev, s);
			return;
		}
		uint8_t rh[2] = {(uint8_t)(r >> 8), (uint8_t)r};
		bufferevent_write(bev, rh, 2);
		bufferevent_write(bev, s->out, r);
	}
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	tcp_close(bev, arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct dnsbl_server *s = arg;
	(void)l, (void)sa, (void)salen;
	if (s->n_tcp >= DNSBL_TCP_MAX) {
		s->m.tcp_refused++;
		close(fd);
		return;
	}
	struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	s->n_tcp++;
	struct timeval idle = {DNSBL_TCP_IDLE_S, 0};
	bufferevent_set_timeouts(bev, &idle, &idle);
	bufferevent_setcb(bev, on_tcp_read, NULL, on_tcp_event, s);
	bufferevent_setwatermark(bev, EV_READ, 0, BLOCKLIST_MSG_MAX + 2);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct dnsbl_server *s = arg;
	(void)what;
	log_msg(LOG_INFO, "dnsbl stopping", "signal=%d", (int)sig);
	event_base_loopbreak(s->base);
}

/* ---- setup ---- */
static int server_sockets(struct dnsbl_server *s, const struct conf_listen *l, char *err,
			  size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
	s->udp_fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->udp_fd < 0 || bind(s->udp_fd, sa, l->addrlen) < 0) {
		snprintf(err, errlen, "blocklist-listen %s (udp): %s", l->text, strerror(errno));
		return -1;
	}
	s->tcp = evconnlistener_new_bind(s->base, on_accept, s,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					     LEV_OPT_CLOSE_ON_EXEC,
					 64, sa, (int)l->addrlen);
	if (!s->tcp) {
		snprintf(err, errlen, "blocklist-listen %s (tcp): %s", l->text, strerror(errno));
		return -1;
	}
	s->udp_ev = event_new(s->base, s->udp_fd, EV_READ | EV_PERSIST, on_udp, s);
	return s->udp_ev && event_add(s->udp_ev, NULL) == 0 ? 0 : -1;
}

static int server_events(struct dnsbl_server *s)
{
	struct timeval every = {0, DNSBL_REFRESH_MS * 1000};
	s->q_ev =
	    event_new(s->base, workq_notify_fd(s->q), EV_READ | EV_PERSIST, on_completions, s);
	s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
	s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
	if (!s->q_ev || !s->tick || !s->sig_int || !s->sig_term)
		return -1;
	return event_add(s->q_ev, NULL) || event_add(s->tick, &every) ||
		       event_add(s->sig_int, NULL) || event_add(s->sig_term, NULL)
		   ? -1
		   : 0;
}

static int server_rrl(struct dnsbl_server *s, const struct conf_blocklist_rate *r, char *err,
		      size_t errlen)
{
	uint64_t seed = 0;
	struct blocklist_rrl_conf rc = {r->rate, r->slip, r->v4_prefix, r->v6_prefix};
	if (r->rate == 0)
		return 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	if (!(s->rrl = blocklist_rrl_new(&rc, seed))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void server_free(struct dnsbl_server *s)
{
	promhttp_stop(s->http);
	if (s->q)
		workq_destroy(s->q);
	if (s->tcp)
		evconnlistener_free(s->tcp);
	struct event *evs[] = {s->q_ev, s->tick, s->udp_ev, s->sig_int, s->sig_term};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	rrl_log(s, 1);
	blocklist_rrl_free(s->rrl);
	blocklist_index_free(s->index);
	blocklist_index_free(s->fresh);
	blocklist_close(s->db);
	if (s->base)
		event_base_free(s->base);
	free(s);
}

/* Root (when started as root) only to bind: the store is given to the user, root dropped, and
 * only then is the store opened and are the threads (the refresh worker, the hook's) started. */
static int server_start(struct dnsbl_server *s, const struct conf *c, const char *db_path,
			const struct conf_listen *l, const struct blocklist_dnsbl_hook *hook,
			char *err, size_t errlen)
{
	struct privdrop pd;
	struct privdrop_path store = {"blocklist-database", db_path, PRIVDROP_DB};
	if (server_rrl(s, &c->blocklist_rate, err, errlen) < 0 ||
	    privdrop_init(&pd, "dnsbl", c->run_user, c->path, err, errlen) < 0)
		return -1;
	if (!(s->base = event_base_new())) {
		snprintf(err, errlen, "dnsbl: cannot set up the event loop");
		return -1;
	}
	if (server_sockets(s, l, err, errlen) < 0)
		return -1;
	if (c->dnsbl_metrics_listen &&
	    !(s->http = promhttp_start(s->base, c->dnsbl_metrics_listen, "blocklist-metrics-listen",
				       "dnsbl metrics", metrics_render, s, err, errlen)))
		return -1;
	if (privdrop_store_daemon(&pd, &store, c->path, err, errlen) < 0 ||
	    blocklist_open(db_path, &s->db, err, errlen) < 0)
		return -1;
	if (!(s->index = blocklist_index_load(s->db, err, errlen)) ||
	    blocklist_data_version(s->db, &s->version) < 0)
		return -1;
	s->m.index_loads++;
	if (!(s->q = workq_create(1)) || server_events(s) < 0) {
		snprintf(err, errlen, "dnsbl: cannot set up the event loop");
		return -1;
	}
	return hook && hook->started ? hook->started(hook->arg, err, errlen) : 0;
}

int blocklist_dnsbl_run(const struct conf *c, const char *db_path, const struct conf_listen *l,
			const struct blocklist_dnsbl_hook *hook, char *err, size_t errlen)
{
	struct dnsbl_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->udp_fd = -1;
	s->version = -1;
	s->zone = (struct blocklist_zone){c->dnsbl_zone,
					  c->dnsbl_nameserver ? c->dnsbl_nameserver : c->hostname,
					  s->hostmaster,
					  c->dnsbl_url,
					  c->dnsbl_ttl ? c->dnsbl_ttl : CONF_DEFAULT_DNSBL_TTL,
					  (uint32_t)time(NULL)};
	snprintf(s->hostmaster, sizeof(s->hostmaster), "hostmaster.%s", c->dnsbl_zone);
	if (blocklist_zone_prepare(&s->zone) < 0) {
		snprintf(err, errlen,
			 "dnsbl: blocklist-zone or its name server is no valid DNS name");
		free(s);
		return -1;
	}
	int rc = -1;
	udp_setup(&s->udp);
	signal(SIGPIPE, SIG_IGN);
	if (server_start(s, c, db_path, l, hook, err, errlen) < 0)
		goto out;
	log_msg(LOG_INFO, "dnsbl serving", "zone=%s listen=%s entries=%zu rate-limit=%u/s slip=%u",
		s->zone.zone, l->text, blocklist_index_size(s->index), c->blocklist_rate.rate,
		c->blocklist_rate.slip);
	rc = event_base_dispatch(s->base) < 0 ? -1 : 0;
	if (rc)
		snprintf(err, errlen, "dnsbl: event loop failed");
out:
	server_free(s);
	return rc;
}
