/* battery.c — the relay tests, as data. Each row: a stable ID, the MAIL FROM and RCPT TO
 * templates, and what the form exploits. Sources: nmap's smtp-open-relay (its 16 tests, in
 * its order), Greenbone's smtp_relay2 "thorough" tuples, the DSBL/MAPS quoted forms. */
#include "probe.h"

#include <string.h>

const struct probe_test probe_battery[] = {
    {"nmap-01", "<>", "<relaytest@{ext}>", "null sender to a third party"},
    {"nmap-02", "<antispam@{ext2}>", "<relaytest@{ext}>", "external sender to a third party"},
    {"nmap-03", "<antispam@{dom}>", "<relaytest@{ext}>", "sender forged as the server's domain"},
    {"nmap-04", "<antispam@[{ip}]>", "<relaytest@{ext}>",
     "sender forged as the server's IP literal"},
    {"nmap-05", "<antispam@[{ip}]>", "<relaytest%{ext}@[{ip}]>", "percent hack via the IP literal"},
    {"nmap-06", "<antispam@[{ip}]>", "<relaytest%{ext}@{dom}>", "percent hack via the own domain"},
    {"nmap-07", "<antispam@[{ip}]>", "<\"relaytest@{ext}\">", "quoted address, no domain"},
    {"nmap-08", "<antispam@[{ip}]>", "<\"relaytest%{ext}\">", "quoted percent form, no domain"},
    {"nmap-09", "<antispam@[{ip}]>", "<relaytest@{ext}@[{ip}]>", "double @ with the IP literal"},
    {"nmap-10", "<antispam@[{ip}]>", "<\"relaytest@{ext}\"@[{ip}]>",
     "quoted address at the IP literal"},
    {"nmap-11", "<antispam@[{ip}]>", "<relaytest@{ext}@{dom}>", "double @ with the own domain"},
    {"nmap-12", "<antispam@[{ip}]>", "<@[{ip}]:relaytest@{ext}>",
     "source route via the IP literal"},
    {"nmap-13", "<antispam@[{ip}]>", "<@{dom}:relaytest@{ext}>", "source route via the own domain"},
    {"nmap-14", "<antispam@[{ip}]>", "<{ext}!relaytest>", "UUCP bang path, no domain"},
    {"nmap-15", "<antispam@[{ip}]>", "<{ext}!relaytest@[{ip}]>", "bang path at the IP literal"},
    {"nmap-16", "<antispam@[{ip}]>", "<{ext}!relaytest@{dom}>", "bang path at the own domain"},
    {"greenbone-null-sender", "<>", "<nobody@{ext}>", "bounce-like null sender to a third party"},
    {"greenbone-unqualified-sender", "<nobody>", "<nobody@{ext}>", "unqualified sender"},
    {"greenbone-localhost-sender", "<nobody@localhost>", "<nobody@{ext}>", "sender at localhost"},
    {"greenbone-postmaster-sender", "<postmaster@{dom}>", "<nobody@{ext}>",
     "sender forged as the postmaster"},
    {"greenbone-forged-own", "<nobody@{dom}>", "<nobody@{ext}>", "sender forged as a local user"},
    {"greenbone-ip-literal-rcpt", "<nobody@{ext2}>", "<nobody@{ext}@[{ip}]>",
     "recipient behind the IP literal"},
    {"dsbl-quoted-at", "<nobody@{ext2}>", "<\"nobody@{ext}\"@{dom}>",
     "quoted third-party address at the own domain"},
    {"dsbl-quoted-percent", "<nobody@{ext2}>", "<\"nobody%{ext}\"@{dom}>",
     "quoted percent hack at the own domain"},
    {"dsbl-quoted-bang", "<nobody@{ext2}>", "<\"{ext}!nobody\"@{dom}>",
     "quoted bang path at the own domain"},
    {"maps-double-route", "<nobody@{ext2}>", "<@{dom},@{ext}:nobody@{ext}>",
     "two-hop source route"},
    {"case-trailing-dot", "<nobody@{ext2}>", "<NoBody@RELAY-TEST.EXAMPLE.>",
     "upper case and a trailing dot"},
    {"external-to-external", "<sender@{ext2}>", "<recipient@{ext}>", "plain third-party relay"},
};
const size_t probe_battery_len = sizeof(probe_battery) / sizeof(probe_battery[0]);

static const char *placeholder(const char *name, size_t n, const struct probe_target *t)
{
	if (n == 3 && !strncmp(name, "ext", 3))
		return t->ext ? t->ext : PROBE_EXT_DEFAULT;
	if (n == 4 && !strncmp(name, "ext2", 4))
		return "sender.example";
	if (n == 3 && !strncmp(name, "dom", 3))
		return t->dom;
	if (n == 2 && !strncmp(name, "ip", 2))
		return t->ip;
	return NULL;
}

int probe_test_uses_ext(const struct probe_test *t)
{
	return strstr(t->rcpt, "{ext}") != NULL;
}

int probe_expand(const char *tmpl, const struct probe_target *t, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = tmpl; *p;) {
		const char *val = NULL, *close = *p == '{' ? strchr(p, '}') : NULL;
		size_t vlen = 1;
		if (close) {
			val = placeholder(p + 1, (size_t)(close - p - 1), t);
			if (!val)
				return -1;
			vlen = strlen(val);
		}
		if (o + vlen >= len)
			return -1;
		memcpy(out + o, val ? val : p, vlen);
		o += vlen;
		p = close ? close + 1 : p + 1;
	}
	out[o] = '\0';
	return 0;
}
