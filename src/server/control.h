/* control.h — the control socket's protocol and its client, used by the CLI commands that talk
 * to a running server (`relayguard status`, `reload`, later `queue`, `mailq`, `sendmail`).
 *
 * A Unix stream socket (control-socket PATH, mode 0600, same uid or root only). The client
 * sends one request line, "<command> [args...]\n" (at most CONTROL_LINE_MAX bytes with the LF,
 * words separated by spaces); the server answers "ok\n" or "error <message>\n", then a free-form
 * payload, then closes. */
#ifndef RG_SERVER_CONTROL_H
#define RG_SERVER_CONTROL_H

#include <stddef.h>

#define CONTROL_LINE_MAX 4096 /* a request line, LF included */
#define CONTROL_ARGS_MAX 64   /* words in a request */

/* ---- pure protocol helpers ---- */

/* Split a request line (without its LF; NUL-terminated, so the caller refuses a line with a NUL
 * inside) into words in place: argv[i] point into line. Runs of spaces separate words. Returns
 * the number of words (0 for a blank line), -1 if the line holds a control character (tab, CR,
 * DEL, ...), -2 if it has more than max words. */
int control_split(char *line, char **argv, int max);

/* The status line of an answer (without its LF): 0 for "ok", 1 for "error <message>" with
 * *msg pointing at the message inside line, -1 for anything else. */
int control_parse_status(const char *line, const char **msg);

/* ---- the client ---- */
enum ctl_result {
	CTL_OK = 0,	     /* the server answered "ok" */
	CTL_ERROR = 1,	     /* the server answered "error": err holds its message */
	CTL_UNREACHABLE = 2, /* no answer: not running, no permission, config unreadable, ... */
};

/* Send the request argv[0..argc) (joined by spaces) to the server whose config file is
 * conf_path (its control-socket line, or the default, relative to the working directory).
 * Each piece of the payload is passed to on_payload as it arrives (a non-zero return stops
 * reading: CTL_UNREACHABLE). err receives the server's message (CTL_ERROR) or why it could
 * not be reached ("cannot reach the server at PATH: ..."). */
enum ctl_result ctl_client_call(const char *conf_path, int argc, char *const *argv,
				int (*on_payload)(void *arg, const char *data, size_t len),
				void *arg, char *err, size_t errlen);

/* The same, with body_len bytes of body sent after the request line (submit). */
enum ctl_result ctl_client_call_body(const char *conf_path, int argc, char *const *argv,
				     const char *body, size_t body_len,
				     int (*on_payload)(void *arg, const char *data, size_t len),
				     void *arg, char *err, size_t errlen);

/* The CLI around ctl_client_call: payload to stdout, "relayguard: <message>" on stderr.
 * Returns the exit status: 0 ok, 1 the server answered an error, 2 it could not be reached. */
int ctl_client_main(const char *conf_path, int argc, char *const *argv);

/* `relayguard reload`: ctl_client_main with "reload", plus "sudo-user=NAME" when SUDO_USER is
 * set (and a plain name), for the changelog. */
int ctl_client_reload(const char *conf_path);

#endif
