/* peers.c — the per-client session counts behind limit max-sessions-per-ip: chained buckets,
 * doubled when the clients outnumber them, entries freed as soon as their count reaches 0. */
#include "peers.h"

#include "../auth/guard.h"

#include <stdlib.h>
#include <string.h>

#define PEERS_MIN_BUCKETS 64

struct peer {
	struct peer *next;
	uint8_t key[16];
	unsigned count;
};

struct smtp_peers {
	struct peer **b;
	size_t nb; /* a power of two */
	size_t n;  /* entries */
};

static size_t key_hash(const uint8_t key[16], size_t nb)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 32)) & (nb - 1);
}

struct smtp_peers *smtp_peers_new(void)
{
	struct smtp_peers *p = calloc(1, sizeof(*p));
	if (p && !(p->b = calloc(PEERS_MIN_BUCKETS, sizeof(*p->b)))) {
		free(p);
		return NULL;
	}
	if (p)
		p->nb = PEERS_MIN_BUCKETS;
	return p;
}

void smtp_peers_free(struct smtp_peers *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nb; i++)
		for (struct peer *e = p->b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(p->b);
	free(p);
}

static struct peer **peer_slot(const struct smtp_peers *p, const uint8_t addr[16])
{
	uint8_t key[16];
	auth_guard_key(addr, key);
	struct peer **e = &p->b[key_hash(key, p->nb)];
	while (*e && memcmp((*e)->key, key, 16) != 0)
		e = &(*e)->next;
	return e;
}

/* Twice the buckets; left as it is when that memory is not there (chains just get longer). */
static void peers_grow(struct smtp_peers *p)
{
	size_t nb = p->nb * 2;
	struct peer **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < p->nb; i++)
		for (struct peer *e = p->b[i], *next; e; e = next) {
			next = e->next;
			size_t h = key_hash(e->key, nb);
			e->next = b[h];
			b[h] = e;
		}
	free(p->b);
	p->b = b;
	p->nb = nb;
}

unsigned smtp_peers_add(struct smtp_peers *p, const uint8_t addr[16])
{
	struct peer **slot = peer_slot(p, addr);
	if (*slot)
		return ++(*slot)->count;
	struct peer *e = calloc(1, sizeof(*e));
	if (!e)
		return 0;
	auth_guard_key(addr, e->key);
	e->count = 1;
	*slot = e;
	if (++p->n > p->nb)
		peers_grow(p);
	return 1;
}

void smtp_peers_remove(struct smtp_peers *p, const uint8_t addr[16])
{
	struct peer **slot = peer_slot(p, addr), *e = *slot;
	if (!e || --e->count > 0)
		return;
	*slot = e->next;
	free(e);
	p->n--;
}

unsigned smtp_peers_count(const struct smtp_peers *p, const uint8_t addr[16])
{
	struct peer *e = *peer_slot(p, addr);
	return e ? e->count : 0;
}

size_t smtp_peers_clients(const struct smtp_peers *p)
{
	return p->n;
}
