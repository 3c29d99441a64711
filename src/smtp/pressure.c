/* pressure.c — the banner delay of back-pressure: short while the queue is just past its
 * threshold, longer as it nears the point where sessions are refused. */
#include "pressure.h"

uint64_t smtp_pressure_delay_ms(const struct conf_limits *l, size_t queued)
{
	if (l->queue_pressure == 0 || queued < l->queue_pressure)
		return 0;
	uint64_t max = (uint64_t)l->queue_pressure_delay * 1000;
	if (l->queue_refuse <= l->queue_pressure)
		return max;
	uint64_t span = l->queue_refuse - l->queue_pressure; /* counts that are delayed */
	uint64_t d = max * ((uint64_t)queued - l->queue_pressure + 1) / span;
	return d < max ? d : max;
}

int smtp_trim_due(unsigned peak, unsigned open)
{
	return open <= peak / 2 && peak - open >= SMTP_TRIM_MIN_CLOSED;
}
