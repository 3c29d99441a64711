/* guard.c — the in-process failed-AUTH table behind struct auth_guard: a fixed array searched
 * linearly (a few thousand entries are scanned in microseconds, only on AUTH), so its memory is
 * bounded whatever a botnet does. */
#include "guard.h"

#include <stdlib.h>
#include <string.h>

struct guard_entry {
	uint8_t key[16];
	int used;
	unsigned count;	     /* failures in the current window */
	time_t window_start; /* the first of them */
	time_t last;	     /* the latest failure */
	time_t blocked_until;
};

struct guard_table {
	struct guard_entry *e;
	size_t cap;
};

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void auth_guard_key(const uint8_t addr[16], uint8_t key[16])
{
	memcpy(key, addr, 16);
	if (memcmp(addr, V4_MAPPED, sizeof(V4_MAPPED)) != 0)
		memset(key + 8, 0, 8); /* one IPv6 /64 is one client: it holds 2^64 addresses */
}

static struct guard_entry *table_find(struct guard_table *t, const uint8_t addr[16])
{
	uint8_t key[16];
	auth_guard_key(addr, key);
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].used && memcmp(t->e[i].key, key, 16) == 0)
			return &t->e[i];
	return NULL;
}

static int entry_expired(const struct guard_entry *e, const struct auth_guard_limits *l, time_t now)
{
	return e->blocked_until <= now &&
	       (e->count == 0 || now - e->window_start >= (time_t)l->block_time);
}

/* A slot for a new key: a free one, an expired one, else the least recently failed, blocks
 * in force kept as long as anything else can go. */
static struct guard_entry *table_slot(struct guard_table *t, const struct auth_guard_limits *l,
				      time_t now)
{
	struct guard_entry *victim = NULL;
	for (size_t i = 0; i < t->cap; i++) {
		struct guard_entry *e = &t->e[i];
		if (!e->used || entry_expired(e, l, now))
			return e;
		int e_blocked = e->blocked_until > now;
		int v_blocked = victim && victim->blocked_until > now;
		if (!victim || e_blocked < v_blocked ||
		    (e_blocked == v_blocked && e->last < victim->last))
			victim = e;
	}
	return victim;
}

static enum auth_guard_verdict mem_blocked(void *impl, const uint8_t addr[16], time_t now,
					   time_t *until)
{
	struct guard_entry *e = table_find(impl, addr);
	if (!e || e->blocked_until <= now)
		return AUTH_GUARD_OK;
	if (until)
		*until = e->blocked_until;
	return AUTH_GUARD_BLOCKED;
}

static enum auth_guard_verdict mem_failed(void *impl, const struct auth_guard_limits *l,
					  const uint8_t addr[16], time_t now)
{
	struct guard_table *t = impl;
	struct guard_entry *e = table_find(t, addr);
	if (!e) {
		if (!(e = table_slot(t, l, now)))
			return AUTH_GUARD_OK; /* capacity 0: nothing is counted */
		memset(e, 0, sizeof(*e));
		e->used = 1;
		auth_guard_key(addr, e->key);
	}
	if (e->blocked_until > now)
		return AUTH_GUARD_BLOCKED;
	if (e->count > 0 && now - e->window_start >= (time_t)l->block_time)
		e->count = 0;
	if (e->count++ == 0)
		e->window_start = now;
	e->last = now;
	if (e->count < l->ip_failures)
		return AUTH_GUARD_OK;
	e->count = 0;
	e->blocked_until = now + (time_t)l->block_time;
	return AUTH_GUARD_NEW_BLOCK;
}

static void mem_succeeded(void *impl, const uint8_t addr[16], time_t now)
{
	struct guard_entry *e = table_find(impl, addr);
	(void)now;
	if (e)
		e->count = 0;
}

static void mem_destroy(void *impl)
{
	struct guard_table *t = impl;
	if (t)
		free(t->e);
	free(t);
}

static const struct auth_guard_ops memory_ops = {mem_blocked, mem_failed, mem_succeeded,
						 mem_destroy};

int auth_guard_memory_new(struct auth_guard *g, size_t capacity)
{
	struct guard_table *t = calloc(1, sizeof(*t));
	if (!t || (capacity && !(t->e = calloc(capacity, sizeof(*t->e))))) {
		free(t);
		return -1;
	}
	t->cap = capacity;
	g->ops = &memory_ops;
	g->impl = t;
	return 0;
}

void auth_guard_free(struct auth_guard *g)
{
	if (g && g->ops)
		g->ops->destroy(g->impl);
	if (g)
		g->ops = NULL, g->impl = NULL;
}

enum auth_guard_verdict auth_guard_blocked(const struct auth_guard *g, const uint8_t addr[16],
					   time_t now, time_t *until)
{
	return g->ops->blocked(g->impl, addr, now, until);
}

enum auth_guard_verdict auth_guard_failed(const struct auth_guard *g,
					  const struct auth_guard_limits *l, const uint8_t addr[16],
					  time_t now)
{
	return g->ops->failed(g->impl, l, addr, now);
}

void auth_guard_succeeded(const struct auth_guard *g, const uint8_t addr[16], time_t now)
{
	g->ops->succeeded(g->impl, addr, now);
}
