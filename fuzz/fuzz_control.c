/* fuzz_control.c — control requests and answers as the server and the CLI read them: any line
 * splits into non-empty words without spaces or control characters (or is refused), and a
 * status line is ok, an error with a message inside the line, or invalid. */
#include "fuzz.h"
#include "server/control.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

FUZZ_CHECKER int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[CONTROL_LINE_MAX + 1], *argv[CONTROL_ARGS_MAX];
	size_t n = size < CONTROL_LINE_MAX ? size : CONTROL_LINE_MAX;
	memcpy(line, data, n);
	line[n] = '\0';
	const char *msg = NULL;
	int st = control_parse_status(line, &msg);
	if (st == 1 && (msg < line || msg >= line + n || !*msg))
		abort();
	int argc = control_split(line, argv, CONTROL_ARGS_MAX);
	if (argc < -2 || argc > CONTROL_ARGS_MAX)
		abort();
	for (int i = 0; i < argc; i++) {
		if (argv[i] < line || argv[i] >= line + n || !*argv[i])
			abort();
		for (const char *p = argv[i]; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				abort();
	}
	return 0;
}
