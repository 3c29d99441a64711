/* tls_setup.c — the server certificate's SSL_CTX for a config, as serve, reload and check
 * load it: the same checks everywhere, so `relayguard check` says what serve would refuse. */
#include "server_int.h"

#include "../tls/tls.h"

int server_tls_ctx(const struct conf *c, SSL_CTX **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!c->tls_cert_file)
		return 0;
	*out = tls_server_ctx_new(c->tls_cert_file, c->tls_key_file, err, errlen);
	return *out ? 0 : -1;
}
