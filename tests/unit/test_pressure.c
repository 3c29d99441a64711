/* test_pressure.c — the back-pressure banner delay: off below queue-pressure, growing up to
 * queue-pressure-delay before queue-refuse, the edge cases of the limits; when memory goes back
 * to the kernel after a peak of sessions. */
#include "smtp/pressure.h"
#include "check.h"

int main(void)
{
	static const struct {
		unsigned pressure, refuse, delay; /* the limits (delay in s) */
		size_t queued;
		uint64_t want_ms;
	} cases[] = {
	    {0, 0, 5, 1000000, 0},     /* off */
	    {2, 5, 3, 0, 0},	       /* below the threshold */
	    {2, 5, 3, 1, 0},	       /* just below */
	    {2, 5, 3, 2, 1000},	       /* at it: a third of the way */
	    {2, 5, 3, 3, 2000},	       /* growing */
	    {2, 5, 3, 4, 3000},	       /* the last count before refusing: the full delay */
	    {2, 5, 3, 99, 3000},       /* never more (the caller refuses these) */
	    {2, 0, 3, 2, 3000},	       /* no refusal: the full delay at once */
	    {5, 5, 3, 7, 3000},	       /* refuse not above pressure: the full delay */
	    {5000, 20000, 5, 5000, 0}, /* 5000 * 1 / 15000 rounds down to 0 ms */
	    {5000, 20000, 5, 12500, 2500},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf_limits l = {0};
		l.queue_pressure = cases[i].pressure;
		l.queue_refuse = cases[i].refuse;
		l.queue_pressure_delay = cases[i].delay;
		uint64_t got = smtp_pressure_delay_ms(&l, cases[i].queued);
		CHECK(got == cases[i].want_ms, "case %zu: got %llu want %llu", i,
		      (unsigned long long)got, (unsigned long long)cases[i].want_ms);
	}
	static const struct {
		unsigned peak, open;
		int due;
	} trims[] = {
	    {0, 0, 0},	     /* nothing ever opened */
	    {255, 0, 0},     /* a small peak: too little to give back */
	    {256, 0, 1},     /* exactly SMTP_TRIM_MIN_CLOSED closed, all of them */
	    {5000, 2500, 1}, /* half the peak */
	    {5000, 2501, 0}, /* more than half still open */
	    {5000, 4744, 0}, /* 256 closed but most still open */
	    {600, 300, 1},   /* half, 300 closed */
	    {400, 200, 0},   /* half, but only 200 closed */
	    {UINT32_MAX, 0, 1},
	};
	for (size_t i = 0; i < sizeof(trims) / sizeof(trims[0]); i++)
		CHECK(smtp_trim_due(trims[i].peak, trims[i].open) == trims[i].due,
		      "trim case %zu: peak %u open %u", i, trims[i].peak, trims[i].open);
	return check_report("test_pressure");
}
