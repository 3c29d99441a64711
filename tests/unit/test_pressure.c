/* test_pressure.c — the back-pressure banner delay: off below queue-pressure, growing up to
 * queue-pressure-delay before queue-refuse, the edge cases of the limits. */
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
	return check_report("test_pressure");
}
