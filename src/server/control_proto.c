/* control_proto.c — the control protocol's two parsers (request words, answer status line).
 * Pure: no I/O. */
#include "control.h"

#include <string.h>

int control_split(char *line, char **argv, int max)
{
	int argc = 0;
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -1;
	char *p = line;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return argc;
		if (argc == max)
			return -2;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

int control_parse_status(const char *line, const char **msg)
{
	if (strcmp(line, "ok") == 0)
		return 0;
	if (strncmp(line, "error ", 6) == 0 && line[6]) {
		*msg = line + 6;
		return 1;
	}
	return -1;
}
