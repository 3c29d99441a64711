/* pressure.h — load: back-pressure from the queue (limit queue-pressure, queue-refuse,
 * queue-pressure-delay), how long a new session waits for its banner; and when memory freed
 * after a peak of sessions is given back to the kernel. Pure: no I/O. */
#ifndef RG_SMTP_PRESSURE_H
#define RG_SMTP_PRESSURE_H

#include <stddef.h>
#include <stdint.h>

#include "../conf/conf.h"

/* The banner delay in milliseconds with queued messages in the queue: 0 below queue-pressure
 * (or with it 0 = off), then growing linearly, reaching queue-pressure-delay at the last
 * count before queue-refuse (queue-pressure-delay at once when queue-refuse is off or not
 * above queue-pressure). Refusing at queue-refuse is the caller's. */
uint64_t smtp_pressure_delay_ms(const struct conf_limits *l, size_t queued);

/* Sessions that must have closed since the peak before freed memory is given back (malloc_trim):
 * below that, what was freed is little and the next sessions reuse it. */
#define SMTP_TRIM_MIN_CLOSED 256

/* 1 when the sessions open now are at most half the peak since the last trim, and at least
 * SMTP_TRIM_MIN_CLOSED fewer: the load has passed, its memory can go back to the kernel. */
int smtp_trim_due(unsigned peak, unsigned open);

#endif
