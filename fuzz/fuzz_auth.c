/* fuzz_auth.c — an SMTP AUTH exchange driven by the input: the first byte picks the mechanism
 * (PLAIN, LOGIN, SCRAM-SHA-256, SCRAM-SHA-256-PLUS with fixed channel-binding data), the rest is
 * the client's decoded responses separated by 0xff bytes, stepped through GNU SASL against a
 * store holding one user (4096 iterations) until the exchange ends. Also SASLprep and login
 * normalisation of the whole input. Checks the results are bounded and consistent. */
#include "fuzz.h"
#include "auth/auth.h"
#include "auth/sasl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STEPS 8

static struct auth_sasl *fuzz_sasl;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char path[64], err[256];
	snprintf(path, sizeof path, "/tmp/relayguard-fuzz-auth-%ld.db", (long)getpid());
	unlink(path);
	struct auth_store *st = auth_store_open(path, 1, err, sizeof err);
	REQUIRE(st);
	struct auth_verifier v;
	REQUIRE(auth_verifier_new("secret", 6, AUTH_MIN_ITERATIONS, &v) == 0);
	REQUIRE(auth_store_add(st, "alice", &v) == 0);
	auth_store_close(st);
	fuzz_sasl = auth_sasl_new(path, err, sizeof err);
	REQUIRE(fuzz_sasl);
	return 0;
}

FUZZ_CHECKER static void check_prep(const uint8_t *data, size_t size)
{
	char out[AUTH_PASSWORD_MAX + 1];
	size_t outlen = 0;
	if (auth_password_prep((const char *)data, size, out, sizeof out, &outlen) == 0)
		REQUIRE(outlen < sizeof out && out[outlen] == '\0');
	char login[AUTH_LOGIN_MAX + 1], in[AUTH_LOGIN_MAX + 2];
	size_t n = size < sizeof in - 1 ? size : sizeof in - 1;
	memcpy(in, data, n);
	in[n] = '\0';
	if (auth_login_normalise(in, login, sizeof login) == 0)
		REQUIRE(strlen(login) >= 1 && strlen(login) <= AUTH_LOGIN_MAX);
}

static const char *const mechs[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check_prep(data + 1, size - 1);
	struct auth_sasl_cbind cb = {.exporter_len = 32, .unique_len = 12};
	memset(cb.exporter, 0xab, cb.exporter_len);
	memset(cb.unique, 0xcd, cb.unique_len);
	struct auth_sasl_exchange *x = NULL;
	if (auth_sasl_start(fuzz_sasl, mechs[data[0] % 4], &cb, &x) != 0)
		return 0;
	const uint8_t *p = data + 1, *end = data + size;
	enum auth_sasl_result r = AUTH_SASL_MORE;
	for (int step = 0; step < MAX_STEPS && r == AUTH_SASL_MORE && p <= end; step++) {
		const uint8_t *sep = memchr(p, 0xff, (size_t)(end - p));
		size_t len = (size_t)((sep ? sep : end) - p);
		unsigned char *out = NULL;
		size_t outlen = 0;
		r = auth_sasl_step(x, p, len, &out, &outlen);
		REQUIRE(out || outlen == 0);
		free(out);
		p += len + 1;
	}
	if (r == AUTH_SASL_OK)
		REQUIRE(strcmp(auth_sasl_login(x), "alice") == 0);
	REQUIRE(strlen(auth_sasl_login(x)) <= AUTH_LOGIN_MAX);
	auth_sasl_finish(x);
	return 0;
}
