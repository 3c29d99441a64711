/* pressure.h — back-pressure from the queue (limit queue-pressure, queue-refuse,
 * queue-pressure-delay): how long a new session waits for its banner. Pure: no I/O. */
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

#endif
