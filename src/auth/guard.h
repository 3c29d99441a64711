/* guard.h — the failed-AUTH guard: failures counted per client address across connections, and
 * addresses that failed too often blocked for a while. An interface (an ops table) so a shared
 * backend (SQLite, Redis: the abuse-controls issue) can replace the in-process table. The caller
 * decides who is exempt (trusted networks, auth-allowlist) and never asks about them. Time is
 * passed in (seconds); the in-process implementation is pure and does no I/O. */
#ifndef RG_AUTH_GUARD_H
#define RG_AUTH_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The knobs, read at each call so a reload applies at once. */
struct auth_guard_limits {
	unsigned ip_failures; /* limit auth-ip-failures: failures within block_time that block */
	unsigned block_time;  /* limit auth-block-time, seconds: the window and the block */
};

enum auth_guard_verdict {
	AUTH_GUARD_OK,
	AUTH_GUARD_BLOCKED,   /* the address is blocked now */
	AUTH_GUARD_NEW_BLOCK, /* (failed) this failure started a block: log it, once */
};

struct auth_guard_ops {
	/* Is addr (16-byte IPv4-mapped form) blocked at now? *until (may be NULL) gets the end. */
	enum auth_guard_verdict (*blocked)(void *impl, const uint8_t addr[16], time_t now,
					   time_t *until);
	/* Count one failed AUTH from addr; AUTH_GUARD_NEW_BLOCK when it reached the limit. */
	enum auth_guard_verdict (*failed)(void *impl, const struct auth_guard_limits *l,
					  const uint8_t addr[16], time_t now);
	/* A successful AUTH from addr: its failure count starts again (a block stays). */
	void (*succeeded)(void *impl, const uint8_t addr[16], time_t now);
	void (*destroy)(void *impl);
};

struct auth_guard {
	const struct auth_guard_ops *ops;
	void *impl;
};

/* The in-process table: at most capacity addresses (IPv6 by /64, IPv4 by address); when full,
 * expired entries go first, then the one whose last failure is oldest (a block in force is
 * evicted last). 0, or -1 out of memory. Free with auth_guard_free. */
int auth_guard_memory_new(struct auth_guard *g, size_t capacity);
void auth_guard_free(struct auth_guard *g);

/* Shorthands for g->ops->... */
enum auth_guard_verdict auth_guard_blocked(const struct auth_guard *g, const uint8_t addr[16],
					   time_t now, time_t *until);
enum auth_guard_verdict auth_guard_failed(const struct auth_guard *g,
					  const struct auth_guard_limits *l, const uint8_t addr[16],
					  time_t now);
void auth_guard_succeeded(const struct auth_guard *g, const uint8_t addr[16], time_t now);

/* The key an address is counted under: IPv4(-mapped) as is, IPv6 cut to its /64. Pure. */
void auth_guard_key(const uint8_t addr[16], uint8_t key[16]);

#endif
