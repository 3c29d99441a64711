/* delist.c — a delisting request from the web page or the API: the rescan is the scanner's
 * (scan_request_delist: rate limit per address, the whole battery, delisted only when every
 * test is refused); this maps its result to what the page and the API show. */
#include "web_int.h"

#if __has_include("../scan/scan.h")
#include "../scan/scan.h"
#define WEB_HAVE_SCAN 1
#endif

#include <stdio.h>
#include <string.h>

#ifdef WEB_HAVE_SCAN
static const char *status_name(enum scan_delist_status st)
{
	switch (st) {
	case SCAN_DELISTED:
		return "delisted";
	case SCAN_STILL_OPEN:
		return "still_open";
	case SCAN_NOT_LISTED:
		return "not_listed";
	case SCAN_RATE_LIMITED:
		return "rate_limited";
	case SCAN_UNTESTED:
		return "untested";
	}
	return "untested";
}

int web_delist_run(const struct conf *c, const char *ip, const char *requester,
		   struct web_delist_outcome *o)
{
	struct scan_delist_result res;
	memset(o, 0, sizeof(*o));
	memset(&res, 0, sizeof(res));
	if (scan_request_delist(c, ip, requester, &res, o->err, sizeof(o->err)) < 0) {
		if (!o->err[0])
			snprintf(o->err, sizeof(o->err), "the rescan could not be run");
		return -1;
	}
	util_strlcpy(o->status, status_name(res.status), sizeof(o->status));
	util_strlcpy(o->detail, res.detail, sizeof(o->detail));
	o->evidence = res.evidence;
	return 0;
}
#else
/* Built without the scanner (src/scan): the rescan cannot run, and the page says so. */
int web_delist_run(const struct conf *c, const char *ip, const char *requester,
		   struct web_delist_outcome *o)
{
	(void)c, (void)ip, (void)requester;
	memset(o, 0, sizeof(*o));
	snprintf(o->err, sizeof(o->err), "delisting is not available: built without the scanner");
	return -1;
}
#endif
