/* index.c — the in-memory index the DNS server answers from: every listed prefix in one array
 * and an open-addressing hash table over (prefix length, masked address); a lookup masks the
 * address to each length present (longest first) and probes: O(L) for L distinct lengths (a
 * handful), one cache miss each whatever the size (a binary search over 1,000,000 rows cost
 * twenty, and a third of the server's time). A slot is a copy of its row, so a probe touches
 * nothing else; a large table asks for huge pages (fewer TLB misses, which cost most in a VM).
 * TXT texts live in one arena. Built off the loop thread, read-only once finished. */
#include "blocklist.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define INDEX_TEST_TXT "RFC 5782 test entry"

struct index_key {
	uint64_t hi, lo; /* the address, big-endian halves */
};

struct index_row {
	struct index_key key;
	uint8_t prefix; /* 0..128 in the mapped space */
	uint8_t code;
	uint32_t txt; /* offset into the arena */
};

#define SLOT_EMPTY 0xff /* a prefix no row has */
#define HUGE_PAGE (2u << 20)

struct blocklist_index {
	struct index_row *rows;
	size_t n, cap;
	char *arena;
	size_t arena_len, arena_cap;
	struct index_row *slots; /* after finish: a power of two, at least twice n */
	size_t mask;
	size_t count[129];    /* rows of each prefix length */
	uint8_t lengths[129]; /* the lengths present, longest first */
	size_t n_lengths;
};

static const uint8_t test_listed[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
static const uint8_t test_unlisted[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};

struct blocklist_index *blocklist_index_new(void)
{
	struct blocklist_index *x = calloc(1, sizeof(*x));
	struct cidr t;
	memcpy(t.addr, test_listed, 16);
	t.prefix = 128;
	if (x && blocklist_index_add(x, &t, BLOCKLIST_CODE_OPEN_RELAY, INDEX_TEST_TXT) < 0) {
		blocklist_index_free(x);
		return NULL;
	}
	return x;
}

static int arena_add(struct blocklist_index *x, const char *txt, uint32_t *off)
{
	size_t n = strlen(txt) + 1;
	if (x->arena_len + n > UINT32_MAX)
		return -1;
	if (x->arena_len + n > x->arena_cap) {
		size_t cap = x->arena_cap ? x->arena_cap * 2 : 4096;
		while (cap < x->arena_len + n)
			cap *= 2;
		char *a = realloc(x->arena, cap);
		if (!a)
			return -1;
		x->arena = a, x->arena_cap = cap;
	}
	memcpy(x->arena + x->arena_len, txt, n);
	*off = (uint32_t)x->arena_len;
	x->arena_len += n;
	return 0;
}

static struct index_key key_of(const uint8_t a[16])
{
	struct index_key k = {0, 0};
	for (int i = 0; i < 8; i++) {
		k.hi = k.hi << 8 | a[i];
		k.lo = k.lo << 8 | a[8 + i];
	}
	return k;
}

int blocklist_index_add(struct blocklist_index *x, const struct cidr *net, unsigned code,
			const char *txt)
{
	if (net->prefix > 128 || code > 255)
		return -1;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 1024;
		struct index_row *r = realloc(x->rows, cap * sizeof(*r));
		if (!r)
			return -1;
		x->rows = r, x->cap = cap;
	}
	struct index_row *r = &x->rows[x->n];
	r->key = key_of(net->addr);
	r->prefix = (uint8_t)net->prefix;
	r->code = (uint8_t)code;
	if (arena_add(x, txt ? txt : "", &r->txt) < 0)
		return -1;
	x->n++;
	return 0;
}

static uint64_t key_hash(const struct index_key *k, unsigned prefix)
{
	uint64_t h = k->hi ^ (k->lo * 0x9e3779b97f4a7c15ULL) ^ prefix;
	h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27, h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* The slot holding (prefix, key), or the empty slot where it would go. */
static struct index_row *index_probe(const struct blocklist_index *x, const struct index_key *k,
				     unsigned prefix)
{
	for (size_t i = (size_t)key_hash(k, prefix) & x->mask;; i = (i + 1) & x->mask) {
		struct index_row *s = &x->slots[i];
		if (s->prefix == SLOT_EMPTY ||
		    (s->prefix == prefix && s->key.lo == k->lo && s->key.hi == k->hi))
			return s;
	}
}

/* An empty table of cap slots, on huge pages when it is large (MADV_HUGEPAGE: only a hint). */
static struct index_row *slots_new(size_t cap)
{
	size_t bytes = cap * sizeof(struct index_row);
	void *p = NULL;
	if (bytes >= HUGE_PAGE) {
		bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
		if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
			return NULL;
		madvise(p, bytes, MADV_HUGEPAGE);
	} else if (!(p = malloc(bytes)))
		return NULL;
	struct index_row *t = p;
	for (size_t i = 0; i < cap; i++)
		t[i].prefix = SLOT_EMPTY;
	return t;
}

int blocklist_index_finish(struct blocklist_index *x)
{
	size_t cap = 16;
	while (cap < 2 * x->n)
		cap *= 2;
	free(x->slots);
	x->mask = 0;
	if (!(x->slots = slots_new(cap)))
		return -1;
	x->mask = cap - 1;
	memset(x->count, 0, sizeof(x->count));
	for (size_t i = 0; i < x->n; i++) {
		const struct index_row *r = &x->rows[i];
		struct index_row *s = index_probe(x, &r->key, r->prefix);
		if (s->prefix == SLOT_EMPTY) /* a duplicate keeps the first row */
			*s = *r;
		x->count[r->prefix]++;
	}
	x->n_lengths = 0;
	for (int p = 128; p >= 0; p--)
		if (x->count[p])
			x->lengths[x->n_lengths++] = (uint8_t)p;
	return 0;
}

/* k with only its first prefix bits kept. */
static struct index_key key_mask(struct index_key k, unsigned prefix)
{
	if (prefix <= 64) {
		k.hi = prefix ? k.hi & ~0ULL << (64 - prefix) : 0;
		k.lo = 0;
	} else if (prefix < 128)
		k.lo &= ~0ULL << (128 - prefix);
	return k;
}

int blocklist_index_lookup(const struct blocklist_index *x, const uint8_t addr[16], unsigned *code,
			   const char **txt)
{
	if (!x->slots || memcmp(addr, test_unlisted, 16) == 0)
		return 0;
	struct index_key a = key_of(addr);
	for (size_t l = 0; l < x->n_lengths; l++) {
		unsigned p = x->lengths[l];
		struct index_key key = key_mask(a, p);
		const struct index_row *s = index_probe(x, &key, p);
		if (s->prefix != SLOT_EMPTY) {
			*code = s->code;
			*txt = x->arena + s->txt;
			return 1;
		}
	}
	return 0;
}

size_t blocklist_index_size(const struct blocklist_index *x)
{
	return x->n;
}

void blocklist_index_free(struct blocklist_index *x)
{
	if (!x)
		return;
	free(x->rows);
	free(x->slots);
	free(x->arena);
	free(x);
}

static int index_add_entry(void *arg, const struct blocklist_entry *e)
{
	return blocklist_index_add(arg, &e->net, e->code, e->txt) < 0 ? -2 : 0;
}

struct blocklist_index *blocklist_index_load(struct blocklist *b, char *err, size_t errlen)
{
	struct blocklist_index *x = blocklist_index_new();
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int rc = blocklist_foreach(b, 1, index_add_entry, x);
	if (rc != 0) {
		snprintf(err, errlen,
			 rc == -2 ? "out of memory" : "blocklist: cannot read entries");
		blocklist_index_free(x);
		return NULL;
	}
	if (blocklist_index_finish(x) < 0) {
		snprintf(err, errlen, "out of memory");
		blocklist_index_free(x);
		return NULL;
	}
	return x;
}
