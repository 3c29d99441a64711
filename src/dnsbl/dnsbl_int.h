/* dnsbl_int.h — the engine's state, shared by engine.c (lists, health tests) and check.c
 * (the lookups of one session). */
#ifndef RG_DNSBL_INT_H
#define RG_DNSBL_INT_H

#include "dnsbl.h"

enum dnsbl_health { DNSBL_H_UNKNOWN, DNSBL_H_OK, DNSBL_H_SUSPENDED };

#define DNSBL_FAMILY_V4 0
#define DNSBL_FAMILY_V6 1

struct dnsbl_test;

/* One list as the engine knows it, by zone; it survives reloads that keep the zone. */
struct dnsbl_list {
	struct dnsbl_engine *e;
	char zone[256];
	uint32_t id; /* the cache key: never reused, so a list removed and added again starts
			anew */
	unsigned timeout;
	int ipv6;
	enum dnsbl_health health[2]; /* per family */
	struct dnsbl_test *test;     /* the health test running, or NULL */
	struct event *timer;	     /* the next health test */
	time_t last_test;
	struct metrics_dnsbl *m; /* may be NULL (metrics table full) */
	struct dnsbl_list *next;
};

struct dnsbl_engine {
	struct event_base *base;
	struct dns_resolver *dns;
	struct metrics *metrics;
	struct dnsbl_cache cache;
	struct dnsbl_list *lists;
	uint32_t next_id;
	unsigned health_interval;
};

/* engine.c */
struct dnsbl_list *dnsbl_engine_find(struct dnsbl_engine *e, const char *zone);
/* A lookup of list gave an error answer: test its health soon (at most every 30 s). */
void dnsbl_list_note_error(struct dnsbl_list *l);
/* The list may be used for a client of this family (not suspended). */
int dnsbl_list_usable(const struct dnsbl_list *l, int family);

#endif
