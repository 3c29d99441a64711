/* rrl.c — response-rate limiting for the DNSBL server (BIND RRL style, simplified): one token
 * bucket per client network (IPv4 /24, IPv6 /56 by default) refilled at `rate` answers per
 * second with one second of burst. Over the limit an answer is dropped, except every `slip`-th
 * one which goes out truncated (TC) so that a real resolver behind a spoofed address retries
 * over TCP. The table is fixed (4-way set-associative, least recently used evicted) so a flood
 * of spoofed sources costs evictions, never memory. Pure: the caller passes the clock. */
#include "blocklist.h"

#include <stdlib.h>
#include <string.h>

#define RRL_WAYS 4
#define RRL_SETS (BLOCKLIST_RRL_SLOTS / RRL_WAYS)
#define RRL_UNIT 1000 /* credit is counted in thousandths of an answer */

struct rrl_slot {
	uint8_t net[16];
	int64_t credit;	  /* in RRL_UNITs, at most rate * RRL_UNIT */
	uint64_t last_ms; /* 0 = empty */
	uint32_t limited; /* answers limited since the bucket was created (slip counter) */
};

struct blocklist_rrl {
	struct blocklist_rrl_conf conf;
	uint64_t seed;
	struct blocklist_rrl_stats stats;
	struct rrl_slot slots[BLOCKLIST_RRL_SLOTS];
};

struct blocklist_rrl *blocklist_rrl_new(const struct blocklist_rrl_conf *c, uint64_t seed)
{
	struct blocklist_rrl *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->conf = *c;
	r->conf.v4_prefix = c->v4_prefix > 32 ? 32 : c->v4_prefix;
	r->conf.v6_prefix = c->v6_prefix > 128 ? 128 : c->v6_prefix;
	r->seed = seed;
	return r;
}

void blocklist_rrl_free(struct blocklist_rrl *r)
{
	free(r);
}

static void rrl_network(const struct blocklist_rrl *r, const uint8_t addr[16], uint8_t net[16])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned prefix =
	    memcmp(addr, v4mapped, 12) == 0 ? 96 + r->conf.v4_prefix : r->conf.v6_prefix;
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
		net[i] = bits >= 8 ? addr[i] : (uint8_t)(addr[i] & (0xff00u >> bits));
	}
}

/* A keyed mix of the network (splitmix64 finaliser): sources cannot aim at one set without
 * knowing the seed. */
static size_t rrl_set(const struct blocklist_rrl *r, const uint8_t net[16])
{
	uint64_t h = r->seed;
	for (int half = 0; half < 2; half++) {
		uint64_t v;
		memcpy(&v, net + half * 8, 8);
		h ^= v;
		h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 27, h *= 0x94d049bb133111ebULL;
		h ^= h >> 31;
	}
	return (size_t)(h % RRL_SETS);
}

/* The bucket of net: found, or the set's empty or least recently used slot, reset full. */
static struct rrl_slot *rrl_slot(struct blocklist_rrl *r, const uint8_t net[16], uint64_t now)
{
	struct rrl_slot *set = &r->slots[rrl_set(r, net) * RRL_WAYS], *victim = set;
	for (int i = 0; i < RRL_WAYS; i++) {
		if (set[i].last_ms && memcmp(set[i].net, net, 16) == 0)
			return &set[i];
		if (set[i].last_ms < victim->last_ms)
			victim = &set[i];
	}
	if (victim->last_ms)
		r->stats.evicted++;
	memcpy(victim->net, net, 16);
	victim->credit = (int64_t)r->conf.rate * RRL_UNIT;
	victim->last_ms = now ? now : 1;
	victim->limited = 0;
	return victim;
}

enum blocklist_rrl_verdict blocklist_rrl_check(struct blocklist_rrl *r, const uint8_t addr[16],
					       uint64_t now_ms)
{
	if (r->conf.rate == 0) {
		r->stats.sent++;
		return BLOCKLIST_RRL_SEND;
	}
	uint8_t net[16];
	rrl_network(r, addr, net);
	struct rrl_slot *s = rrl_slot(r, net, now_ms);
	int64_t full = (int64_t)r->conf.rate * RRL_UNIT;
	if (now_ms > s->last_ms) {
		uint64_t dt = now_ms - s->last_ms;
		s->credit = dt >= RRL_UNIT ? full : s->credit + (int64_t)dt * r->conf.rate;
		if (s->credit > full)
			s->credit = full;
		s->last_ms = now_ms;
	}
	if (s->credit >= RRL_UNIT) {
		s->credit -= RRL_UNIT;
		r->stats.sent++;
		return BLOCKLIST_RRL_SEND;
	}
	s->limited++;
	if (r->conf.slip && s->limited % r->conf.slip == 0) {
		r->stats.slipped++;
		return BLOCKLIST_RRL_SLIP;
	}
	r->stats.dropped++;
	return BLOCKLIST_RRL_DROP;
}

void blocklist_rrl_stats(const struct blocklist_rrl *r, struct blocklist_rrl_stats *out)
{
	*out = r->stats;
}
