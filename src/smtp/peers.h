/* peers.h — live SMTP sessions counted per client (IPv4 address, IPv6 /64), in memory, for
 * limit max-sessions-per-ip. A hash table that grows with the number of distinct clients and
 * holds only those with a session open. Pure: no I/O. */
#ifndef RG_SMTP_PEERS_H
#define RG_SMTP_PEERS_H

#include <stddef.h>
#include <stdint.h>

struct smtp_peers;

/* An empty table, or NULL out of memory. Free with smtp_peers_free. */
struct smtp_peers *smtp_peers_new(void);
void smtp_peers_free(struct smtp_peers *p);
/* One more session of addr (16-byte IPv4-mapped form): the client's count now, 0 when out of
 * memory (nothing counted: the caller does not remove it later). */
unsigned smtp_peers_add(struct smtp_peers *p, const uint8_t addr[16]);
/* A session of addr ended: the count drops, the client is forgotten at 0. */
void smtp_peers_remove(struct smtp_peers *p, const uint8_t addr[16]);
/* The sessions addr's client has open now. */
unsigned smtp_peers_count(const struct smtp_peers *p, const uint8_t addr[16]);
/* Distinct clients with a session open. */
size_t smtp_peers_clients(const struct smtp_peers *p);

#endif
