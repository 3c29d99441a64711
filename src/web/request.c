/* request.c — the values a request carries: the IP address typed into the form or the API,
 * and the fields of a form body. Pure. */
#include "web.h"

#include <arpa/inet.h>
#include <string.h>

int web_parse_ip(const char *in, uint8_t addr[16], char out[WEB_IP_MAX])
{
	char buf[WEB_IP_INPUT_MAX];
	if (!in)
		return -1;
	while (*in == ' ' || *in == '\t')
		in++;
	size_t n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, in, n);
	buf[n] = '\0';
	struct in_addr v4;
	struct in6_addr v6;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &v4, 4);
		return inet_ntop(AF_INET, &v4, out, WEB_IP_MAX) ? 0 : -1;
	}
	if (inet_pton(AF_INET6, buf, &v6) != 1)
		return -1;
	memcpy(addr, &v6, 16);
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(addr, mapped, 12) == 0) /* ::ffff:a.b.c.d is the IPv4 address */
		return inet_ntop(AF_INET, addr + 12, out, WEB_IP_MAX) ? 0 : -1;
	return inet_ntop(AF_INET6, &v6, out, WEB_IP_MAX) ? 0 : -1;
}

static int hex_val(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Decode s[0..len) ('+' = space, %XX) into out. 0 or -1 (bad escape, NUL, too long). */
static int form_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi = i + 2 < len ? hex_val(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_val(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int web_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	if (outlen == 0)
		return -1;
	for (size_t i = 0; i < len;) {
		const char *amp = memchr(body + i, '&', len - i);
		size_t end = amp ? (size_t)(amp - body) : len;
		const char *eq = memchr(body + i, '=', end - i);
		size_t klen = eq ? (size_t)(eq - body) - i : end - i;
		if (klen == nlen && memcmp(body + i, name, nlen) == 0) {
			size_t v = eq ? (size_t)(eq - body) + 1 : end;
			return form_decode(body + v, end - v, out, outlen) < 0 ? -1 : 1;
		}
		i = end + 1;
	}
	return 0;
}
