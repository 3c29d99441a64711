/* index.c — the in-memory index the DNS server answers from: every listed prefix in one array
 * sorted by (prefix length, address), looked up by masking the address to each length present
 * (longest first) and a binary search: O(L log n) for L distinct lengths (a handful). Addresses
 * are kept as two 64-bit integers so a probe is two integer compares, not a memcmp call. TXT
 * texts live in one arena. Built off the loop thread, read-only once finished. */
#include "blocklist.h"

#include <stdlib.h>
#include <string.h>

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

struct blocklist_index {
	struct index_row *rows;
	size_t n, cap;
	char *arena;
	size_t arena_len, arena_cap;
	size_t first[129], count[129]; /* rows of each prefix length, after finish */
	uint8_t lengths[129];	       /* the lengths present, longest first */
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

static int key_cmp(const struct index_key *a, const struct index_key *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
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

static int row_cmp(const void *a, const void *b)
{
	const struct index_row *x = a, *y = b;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return key_cmp(&x->key, &y->key);
}

void blocklist_index_finish(struct blocklist_index *x)
{
	qsort(x->rows, x->n, sizeof(*x->rows), row_cmp);
	memset(x->count, 0, sizeof(x->count));
	for (size_t i = x->n; i-- > 0;) {
		x->first[x->rows[i].prefix] = i;
		x->count[x->rows[i].prefix]++;
	}
	x->n_lengths = 0;
	for (int p = 128; p >= 0; p--)
		if (x->count[p])
			x->lengths[x->n_lengths++] = (uint8_t)p;
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
	if (memcmp(addr, test_unlisted, 16) == 0)
		return 0;
	struct index_key a = key_of(addr);
	for (size_t l = 0; l < x->n_lengths; l++) {
		unsigned p = x->lengths[l];
		struct index_key key = key_mask(a, p);
		size_t lo = x->first[p], hi = lo + x->count[p];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = key_cmp(&x->rows[mid].key, &key);
			if (c == 0) {
				*code = x->rows[mid].code;
				*txt = x->arena + x->rows[mid].txt;
				return 1;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
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
	blocklist_index_finish(x);
	return x;
}
