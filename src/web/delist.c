/* delist.c — a delisting request from the web page or the API: the rescan is the scanner's
 * (scan_request_delist: rate limit per address, the whole battery, delisted only when every
 * test is refused, else kept listed with the new evidence); this runs it for the client. */
#include "web_int.h"

#include "../scan/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int web_delist_run(const struct conf *c, const char *ip, const char *requester,
		   struct web_delist_outcome *o)
{
	struct scan_delist_result res;
	memset(o, 0, sizeof(*o));
	memset(&res, 0, sizeof(res));
	if (scan_request_delist(c, ip, requester, &res, o->err, sizeof(o->err)) < 0) {
		if (!o->err[0])
			snprintf(o->err, sizeof(o->err), "the rescan could not be run");
		free(res.evidence);
		return -1;
	}
	util_strlcpy(o->status, scan_delist_status_name(res.status), sizeof(o->status));
	util_strlcpy(o->detail, res.detail, sizeof(o->detail));
	o->scan = res.evidence;
	return 0;
}
