/* batch.c — many addresses in many lists at once (`relayguard lookup`, the self-check): one
 * ask per (address, list), all in parallel; the exit status and the printed line (pure). */
#include "dnsbl.h"

#include "../util/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct batch_slot {
	struct dnsbl_batch *b;
	size_t i;
	struct dnsbl_ask *ask;
};

struct dnsbl_batch {
	struct dnsbl_item *items;
	size_t n, pending;
	struct batch_slot *slots;
	struct event *idle; /* done for a batch with nothing to ask */
	void (*done)(void *arg);
	void *arg;
};

static void on_item(void *arg, const struct dnsbl_ask_result *r)
{
	struct batch_slot *s = arg;
	struct dnsbl_batch *b = s->b;
	s->ask = NULL;
	b->items[s->i].state = DNSBL_I_DONE;
	b->items[s->i].r = *r;
	if (--b->pending == 0)
		b->done(b->arg); /* last: b may be freed by it */
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_batch *b = arg;
	(void)fd, (void)what;
	b->done(b->arg);
}

static void item_failed(struct dnsbl_item *it, const char *why)
{
	it->state = DNSBL_I_DONE;
	it->r.answer = DNSBL_ERROR;
	util_strlcpy(it->r.why, why, sizeof(it->r.why));
}

struct dnsbl_batch *dnsbl_batch_start(struct event_base *base, struct dns_resolver *dns,
				      struct dnsbl_item *items, size_t n, unsigned timeout,
				      void (*done)(void *arg), void *arg)
{
	struct dnsbl_batch *b = calloc(1, sizeof(*b));
	if (!b || !(b->slots = calloc(n ? n : 1, sizeof(*b->slots)))) {
		free(b);
		return NULL;
	}
	*b = (struct dnsbl_batch){
	    .items = items, .n = n, .slots = b->slots, .done = done, .arg = arg};
	for (size_t i = 0; i < n; i++) {
		struct dnsbl_item *it = &items[i];
		const struct dnsbl_zone *z = it->zone;
		memset(&it->r, 0, sizeof(it->r));
		it->state = DNSBL_I_PENDING;
		if (!dnsbl_addr_is_v4(it->addr) && !z->ipv6) {
			it->state = DNSBL_I_SKIPPED;
			continue;
		}
		b->slots[i] = (struct batch_slot){.b = b, .i = i};
		b->slots[i].ask =
		    dnsbl_ask_start(base, dns, it->addr, z->zone, z->codes, z->n_codes,
				    z->timeout ? z->timeout : timeout, on_item, &b->slots[i]);
		if (b->slots[i].ask)
			b->pending++;
		else
			item_failed(it, "cannot start the lookup");
	}
	if (b->pending == 0) {
		struct timeval tv = {0, 0};
		if (!(b->idle = evtimer_new(base, on_idle, b)) || evtimer_add(b->idle, &tv) < 0) {
			dnsbl_batch_free(b);
			return NULL;
		}
	}
	return b;
}

void dnsbl_batch_free(struct dnsbl_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		dnsbl_ask_cancel(b->slots[i].ask);
	if (b->idle)
		event_free(b->idle);
	free(b->slots);
	free(b);
}

int dnsbl_items_exit_code(const struct dnsbl_item *items, size_t n)
{
	int errors = 0;
	for (size_t i = 0; i < n; i++) {
		if (items[i].state != DNSBL_I_DONE)
			continue;
		if (items[i].r.answer == DNSBL_LISTED && items[i].zone->kind == DNSBL_KIND_BLOCK)
			return 1;
		errors |= items[i].r.answer == DNSBL_ERROR;
	}
	return errors ? 2 : 0;
}

static const char *item_result(const struct dnsbl_item *it)
{
	if (it->state == DNSBL_I_SKIPPED)
		return "skipped";
	if (it->state != DNSBL_I_DONE)
		return "pending";
	switch (it->r.answer) {
	case DNSBL_LISTED:
		return it->zone->kind == DNSBL_KIND_ALLOW ? "allowlisted" : "listed";
	case DNSBL_ERROR:
		return "error";
	default:
		return "not-listed";
	}
}

static void json_field(struct util_buf *out, const char *key, const char *val)
{
	if (!val || !val[0])
		return;
	util_buf_printf(out, ",\"%s\":", key);
	util_buf_json_string(out, val, strlen(val));
}

static void format_json(const struct dnsbl_item *it, const char *code, const char *meaning,
			struct util_buf *out)
{
	const struct dnsbl_zone *z = it->zone;
	util_buf_printf(out, "{\"address\":");
	util_buf_json_string(out, it->ip, strlen(it->ip));
	json_field(out, "list", z->zone);
	json_field(out, "kind", z->kind == DNSBL_KIND_ALLOW ? "allow" : "block");
	json_field(out, "result", item_result(it));
	json_field(out, "code", code);
	json_field(out, "meaning", meaning);
	json_field(out, "txt", it->r.txt);
	json_field(out, "error", it->r.answer == DNSBL_ERROR ? it->r.why : NULL);
	json_field(out, "delist", it->r.answer == DNSBL_LISTED ? z->delist : NULL);
	util_buf_add(out, "}", 1);
}

void dnsbl_item_format(const struct dnsbl_item *it, int json, struct util_buf *out)
{
	char code[16] = "";
	const char *meaning = NULL;
	uint32_t c = it->r.code;
	if (it->state == DNSBL_I_DONE && it->r.answer != DNSBL_NOT_LISTED && c) {
		snprintf(code, sizeof(code), "%u.%u.%u.%u", c >> 24, (c >> 16) & 0xff,
			 (c >> 8) & 0xff, c & 0xff);
		meaning = dnsbl_zone_meaning(it->zone, c);
	}
	if (json) {
		format_json(it, code, meaning, out);
		return;
	}
	util_buf_printf(out, "%-15s %-28s %s", it->ip, it->zone->zone, item_result(it));
	if (it->state == DNSBL_I_SKIPPED)
		util_buf_printf(out, " (the list is not asked about IPv6)");
	if (it->state != DNSBL_I_DONE || it->r.answer == DNSBL_NOT_LISTED)
		return;
	if (it->r.answer == DNSBL_ERROR)
		util_buf_printf(out, ": %s", it->r.why);
	else
		util_buf_printf(out, " %s", code);
	if (meaning)
		util_buf_printf(out, " (%s)", meaning);
	if (it->r.txt[0])
		util_buf_printf(out, " \"%s\"", it->r.txt);
	if (it->r.answer == DNSBL_LISTED && it->zone->delist)
		util_buf_printf(out, " delist: %s", it->zone->delist);
}
