/* greylist.c — greylisting's pure part (RFC 6647): the triplet's key (client network, the
 * sender normalised, the recipient), its record and the decision. No I/O. */
#include "abuse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void mask_bits(uint8_t *a, size_t len, unsigned bits)
{
	for (size_t i = 0; i < len; i++) {
		unsigned keep = bits >= 8 ? 8 : bits;
		a[i] &= (uint8_t)(0xff00u >> keep);
		bits -= keep;
	}
}

void greylist_net(const uint8_t addr[16], unsigned bits4, unsigned bits6, char *out, size_t outlen)
{
	uint8_t a[16];
	char text[INET6_ADDRSTRLEN];
	memcpy(a, addr, 16);
	int v4 = memcmp(a, v4_mapped, 12) == 0;
	unsigned bits = v4 ? (bits4 > 32 ? 32 : bits4) : (bits6 > 128 ? 128 : bits6);
	if (v4)
		mask_bits(a + 12, 4, bits);
	else
		mask_bits(a, 16, bits);
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? (void *)(a + 12) : (void *)a, text,
		       sizeof(text)))
		text[0] = '\0';
	snprintf(out, outlen, "%s/%u", text, bits);
}

static int prefix_ieq(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* "prvs=TAG=local" or "msprvsN=TAG=local" → "local" (BATV; the tag changes per message). */
static const char *batv_strip(const char *local)
{
	const char *p = NULL;
	if (prefix_ieq(local, "prvs="))
		p = local + 5;
	else if (prefix_ieq(local, "msprvs")) {
		p = local + 6;
		while (isdigit((unsigned char)*p))
			p++;
		p = *p == '=' ? p + 1 : NULL;
	}
	const char *eq = p ? strchr(p, '=') : NULL;
	return eq && eq[1] ? eq + 1 : local;
}

int greylist_sender(const struct addr_path *from, char *out, size_t outlen)
{
	char local[sizeof(from->local)];
	if (from->null) {
		if (outlen == 0)
			return -1;
		out[0] = '\0';
		return 0;
	}
	snprintf(local, sizeof(local), "%s", batv_strip(from->local));
	for (char *c = local; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	/* SRS (SRS0=HASH=TT=domain=local) is left whole: its hash may hold '+' */
	char *plus = strchr(local, '+');
	if (!prefix_ieq(local, "srs0=") && !prefix_ieq(local, "srs1=") && plus && plus != local)
		*plus = '\0';
	int n = from->domain[0] ? snprintf(out, outlen, "%s@%s", local, from->domain)
				: snprintf(out, outlen, "%s", local);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int greylist_rcpt(const struct addr_path *rcpt, char *out, size_t outlen)
{
	int n = rcpt->domain[0] ? snprintf(out, outlen, "%s@%s", rcpt->local, rcpt->domain)
				: snprintf(out, outlen, "%s", rcpt->local);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

int greylist_key_triplet(const char *net, const char *sender, const char *rcpt, char *out,
			 size_t outlen)
{
	char s[ABUSE_KEY_MAX], r[ABUSE_KEY_MAX];
	if (abuse_key_escape(sender, s, sizeof(s)) < 0 || abuse_key_escape(rcpt, r, sizeof(r)) < 0)
		return -1;
	int n = snprintf(out, outlen, "gl:%s|t|%s|%s", net, s, r);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void greylist_key_net(const char *net, char kind, char *out, size_t outlen)
{
	if (kind)
		snprintf(out, outlen, "gl:%s|%c", net, kind);
	else
		snprintf(out, outlen, "gl:%s|", net);
}

void greylist_settings_from_conf(const struct conf *c, struct greylist_settings *gs)
{
	gs->delay = c->greylist.delay;
	gs->window = c->greylist.window;
	gs->lifetime = c->greylist.lifetime;
	gs->auto_whitelist = c->greylist.auto_whitelist;
}

int greylist_record_parse(const char *s, struct greylist_record *r)
{
	long long first, passed;
	int used = 0;
	if (sscanf(s, "%lld %lld%n", &first, &passed, &used) != 2 || s[used] != '\0' || first < 0 ||
	    passed < 0)
		return -1;
	r->first = first;
	r->passed = passed;
	return 0;
}

void greylist_record_format(const struct greylist_record *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%" PRId64 " %" PRId64, r->first, r->passed);
}

struct greylist_decision greylist_decide(const struct greylist_record *rec, int64_t now,
					 const struct greylist_settings *gs)
{
	struct greylist_decision d = {0};
	if (rec && rec->passed) { /* RFC 6647 2.2: a passed triplet stays accepted */
		d.result = GREYLIST_KNOWN;
		d.rec = *rec;
		d.write = 1;
		d.ttl = gs->lifetime;
		d.count_pass = 1;
		return d;
	}
	int64_t open = rec ? rec->first + gs->delay : 0;
	/* no record, one from the future (the clock went back), or a retry after the window */
	if (!rec || rec->first > now || now > open + gs->window) {
		d.result = GREYLIST_NEW;
		d.defer = 1;
		d.retry_in = gs->delay;
		d.rec = (struct greylist_record){now, 0};
		d.write = 1;
		d.ttl = gs->delay + gs->window;
		return d;
	}
	if (now < open) {
		d.result = GREYLIST_EARLY;
		d.defer = 1;
		d.retry_in = (unsigned)(open - now);
		return d;
	}
	d.result = GREYLIST_PASS;
	d.rec = (struct greylist_record){rec->first, now};
	d.write = 1;
	d.ttl = gs->lifetime;
	d.count_pass = 1;
	return d;
}
