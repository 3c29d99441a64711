/* csrf.c — the token of the delisting form: an HMAC of a per-process random secret and a time
 * slot. A page carries the token of its slot; a POST is accepted with the token of the current
 * or the previous slot, so a form stays good for WEB_CSRF_SLOT to 2 * WEB_CSRF_SLOT seconds.
 * Another site cannot read our page, so it cannot get a token. Pure (the secret and the clock
 * are given). */
#include "web.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define CSRF_HEX_LEN 64

static void csrf_mac(const uint8_t secret[WEB_CSRF_SECRET_LEN], int64_t slot,
		     char hex[CSRF_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	char msg[48];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	int n = snprintf(msg, sizeof(msg), "relayguard-web-delist %lld", (long long)slot);
	if (!HMAC(EVP_sha256(), secret, WEB_CSRF_SECRET_LEN, (const unsigned char *)msg, (size_t)n,
		  mac, &maclen) ||
	    maclen * 2 != CSRF_HEX_LEN) {
		memset(hex, 'x', CSRF_HEX_LEN); /* never equal to a hex MAC */
		hex[CSRF_HEX_LEN] = '\0';
		return;
	}
	for (unsigned i = 0; i < maclen; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[CSRF_HEX_LEN] = '\0';
}

void web_csrf_make(const uint8_t secret[WEB_CSRF_SECRET_LEN], int64_t now,
		   char out[WEB_CSRF_TOKEN_MAX])
{
	char hex[CSRF_HEX_LEN + 1];
	int64_t slot = now / WEB_CSRF_SLOT;
	csrf_mac(secret, slot, hex);
	snprintf(out, WEB_CSRF_TOKEN_MAX, "%lld.%s", (long long)slot, hex);
}

int web_csrf_check(const uint8_t secret[WEB_CSRF_SECRET_LEN], int64_t now, const char *token)
{
	if (!token)
		return 0;
	int64_t slot = 0, cur = now / WEB_CSRF_SLOT;
	size_t i = 0;
	for (; token[i] >= '0' && token[i] <= '9' && i < 18; i++)
		slot = slot * 10 + (token[i] - '0');
	if (i == 0 || token[i] != '.' || (slot != cur && slot != cur - 1))
		return 0;
	const char *mac = token + i + 1;
	if (strlen(mac) != CSRF_HEX_LEN)
		return 0;
	char want[CSRF_HEX_LEN + 1];
	csrf_mac(secret, slot, want);
	return CRYPTO_memcmp(mac, want, CSRF_HEX_LEN) == 0;
}
