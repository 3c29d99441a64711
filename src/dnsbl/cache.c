/* cache.c — answers of DNSBL lookups per (list, address), bounded: a set-associative table whose
 * size is fixed at start, so a flood of new addresses only replaces entries. Pure. */
#include "dnsbl.h"

#include "../util/util.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a over the list id and the address. */
static size_t set_of(const struct dnsbl_cache *c, uint32_t list_id, const uint8_t addr[16])
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < 4; i++)
		h = (h ^ ((list_id >> (8 * i)) & 0xff)) * 1099511628211ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 1099511628211ULL;
	return (size_t)(h % c->n_sets);
}

int dnsbl_cache_init(struct dnsbl_cache *c, size_t capacity)
{
	c->n_sets = (capacity + DNSBL_CACHE_WAYS - 1) / DNSBL_CACHE_WAYS;
	c->e = NULL;
	if (c->n_sets == 0)
		return 0;
	c->e = calloc(c->n_sets * DNSBL_CACHE_WAYS, sizeof(*c->e));
	if (!c->e) {
		c->n_sets = 0;
		return -1;
	}
	return 0;
}

void dnsbl_cache_free(struct dnsbl_cache *c)
{
	free(c->e);
	c->e = NULL;
	c->n_sets = 0;
}

const struct dnsbl_cache_entry *dnsbl_cache_get(const struct dnsbl_cache *c, uint32_t list_id,
						const uint8_t addr[16], time_t now)
{
	if (c->n_sets == 0 || list_id == 0)
		return NULL;
	const struct dnsbl_cache_entry *set = &c->e[set_of(c, list_id, addr) * DNSBL_CACHE_WAYS];
	for (size_t i = 0; i < DNSBL_CACHE_WAYS; i++)
		if (set[i].list_id == list_id && !memcmp(set[i].addr, addr, 16) &&
		    set[i].expires > now)
			return &set[i];
	return NULL;
}

void dnsbl_cache_put(struct dnsbl_cache *c, uint32_t list_id, const uint8_t addr[16],
		     enum dnsbl_answer answer, uint32_t code, const char *txt, uint32_t ttl,
		     time_t now)
{
	if (c->n_sets == 0 || list_id == 0 || answer == DNSBL_ERROR)
		return;
	struct dnsbl_cache_entry *set = &c->e[set_of(c, list_id, addr) * DNSBL_CACHE_WAYS];
	struct dnsbl_cache_entry *slot = NULL;
	for (size_t i = 0; i < DNSBL_CACHE_WAYS && !slot; i++) /* the same key: replaced */
		if (set[i].list_id == list_id && !memcmp(set[i].addr, addr, 16))
			slot = &set[i];
	for (size_t i = 0; i < DNSBL_CACHE_WAYS && !slot; i++) /* a free or expired entry */
		if (set[i].list_id == 0 || set[i].expires <= now)
			slot = &set[i];
	if (!slot) { /* a full set: the entry that expires first */
		slot = &set[0];
		for (size_t i = 1; i < DNSBL_CACHE_WAYS; i++)
			if (set[i].expires < slot->expires)
				slot = &set[i];
	}
	uint32_t t = ttl < DNSBL_TTL_MIN   ? DNSBL_TTL_MIN
		     : ttl > DNSBL_TTL_MAX ? DNSBL_TTL_MAX
					   : ttl;
	slot->list_id = list_id;
	memcpy(slot->addr, addr, 16);
	slot->expires = now + (time_t)t;
	slot->answer = answer;
	slot->code = code;
	util_strlcpy(slot->txt, txt ? txt : "", sizeof(slot->txt));
}
