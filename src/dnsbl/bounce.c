/* bounce.c — does a remote server's rejection name a blocklist? (pure) A permanent reply whose
 * text says "blocklist", "listed", "spamhaus", ... or names a zone we know means our outbound
 * address is listed somewhere: the self-check counts it per destination and alerts. */
#include "dnsbl.h"

#include "../util/util.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Words that name a listing in rejection texts; whole = the word must also end there. */
static const struct {
	const char *word;
	int whole;
} bounce_words[] = {
    {"blocklist", 0}, {"blacklist", 0}, {"block list", 0}, {"black list", 0},
    {"listed", 1},    {"spamhaus", 0},	{"dnsbl", 0},	   {"rbl", 1},
};

static int is_word_char(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* Is needle in hay (case-insensitive) at a word start (and end, when whole)? For a zone
 * (dotted) a preceding '.' or '-' is inside the name: "x.bl.test" is not "bl.test". */
static int find_word(const char *hay, const char *needle, int whole, int dotted)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p; p++) {
		if (strncasecmp(p, needle, n) != 0)
			continue;
		if (p > hay && (is_word_char(p[-1]) || (dotted && (p[-1] == '.' || p[-1] == '-'))))
			continue;
		if (whole && is_word_char(p[n]))
			continue;
		if (!dotted && p - hay >= 4 && !strncasecmp(p - 4, "not ", 4))
			continue; /* "not listed in the directory" */
		return 1;
	}
	return 0;
}

int dnsbl_bounce_match(int code, const char *enh, const char *text, const struct dnsbl_zones *zones,
		       char *what, size_t whatlen)
{
	if (whatlen)
		what[0] = '\0';
	if (code / 100 != 5 && !(enh && !strcmp(enh, "5.7.1")))
		return 0;
	if (enh && !strncmp(enh, "5.1.", 4)) /* addressing: "5.1.1 not listed in directory" */
		return 0;
	if (!text)
		return 0;
	for (size_t i = 0; zones && i < zones->n; i++) /* a zone is the most precise answer */
		if (find_word(text, zones->z[i].zone, 1, 1)) {
			util_strlcpy(what, zones->z[i].zone, whatlen);
			return 1;
		}
	for (size_t i = 0; i < sizeof(bounce_words) / sizeof(bounce_words[0]); i++)
		if (find_word(text, bounce_words[i].word, bounce_words[i].whole, 0)) {
			util_strlcpy(what, bounce_words[i].word, whatlen);
			return 1;
		}
	return 0;
}
