/* privdrop.h — giving up root for good, for every daemon relayguard runs (serve, dnsbl, web).
 * Started as root, a daemon looks its service user up (the `user` directive), creates or gives
 * that user the directories and files it will write, binds its sockets, and then becomes the
 * user: its groups, gid and uid (real, effective and saved), at most CAP_NET_BIND_SERVICE kept,
 * no_new_privs; the switch is verified. Started as anyone else nothing changes. Depends on util
 * only (no config: callers pass the user and the paths). Order at start: privdrop_init, own the
 * paths, bind, privdrop_become, and only then start threads or read a client byte. */
#ifndef RG_PRIVDROP_H
#define RG_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct privdrop {
	int drop; /* started as root: privdrop_become switches to uid/gid */
	uid_t uid;
	gid_t gid;
	char user[65];
	const char *who; /* the daemon, first word of its log lines: "server", "dnsbl", "web" */
};

/* What a path the daemon writes needs before the drop. */
enum privdrop_kind {
	PRIVDROP_DIR,	    /* a directory of relayguard's alone: created, and given to the user */
	PRIVDROP_DIR_FILES, /* the same, and the regular files directly inside it (the spool) */
	PRIVDROP_PARENTS,   /* a file: the missing directories above it are created for the user */
	PRIVDROP_DB,	    /* an SQLite file: its directory is relayguard's alone (PRIVDROP_DIR;
			       SQLite writes its -wal and -shm there), the file and those two are
			       given to the user too, where they exist */
};

struct privdrop_path {
	const char *what; /* the directive, for errors: "spool", "blocklist-database" */
	const char *path;
	enum privdrop_kind kind;
};

/* As root: look user up (missing, or uid/gid 0: -1 with err naming the fix and conf_path) and
 * set pd->drop. Not root: pd->drop = 0, and an info line when user names someone else than the
 * one running. who is kept (a string literal). 0, or -1 with err set. */
int privdrop_init(struct privdrop *pd, const char *who, const char *user, const char *conf_path,
		  char *err, size_t errlen);
/* Create p's directories for the user and give it what p->kind says (missing directories above
 * are created for the user; existing ones keep their owner). A directory given away must not be
 * conf_path's own one (the user could then change the config): -1. Nothing when not dropping.
 * 0, or -1 with err set. */
int privdrop_own(const struct privdrop *pd, const struct privdrop_path *p, const char *conf_path,
		 char *err, size_t errlen);
/* Give the regular files directly in dir to the user (symbolic links and subdirectories are
 * left alone). what names the directive in errors. 0, or -1 with err set. */
int privdrop_own_files_in(const struct privdrop *pd, const char *what, const char *dir, char *err,
			  size_t errlen);
/* Give path (a socket or file made as root) to the user; nothing when not dropping. 0 or -1. */
int privdrop_chown(const struct privdrop *pd, const char *path, char *err, size_t errlen);
/* Become the user for good: the bounding set shrunk, initgroups, setresgid, setresuid, then
 * exactly CAP_NET_BIND_SERVICE (keep_bind) or no capability at all, no_new_privs; verified,
 * then "WHO: running as user=NAME uid=N gid=N" is logged. Call before any thread exists.
 * Nothing when not dropping. 0, or -1 with err set. */
int privdrop_become(struct privdrop *pd, int keep_bind, char *err, size_t errlen);
/* As the user now: p's directory (the path of a PRIVDROP_DIR*, the directory holding a
 * PRIVDROP_DB or PRIVDROP_PARENTS file) must be searchable and writable; else -1 with err
 * saying every directory above must be searchable. Nothing when not dropping. */
int privdrop_check(const struct privdrop *pd, const struct privdrop_path *p, char *err,
		   size_t errlen);

/* For a daemon that writes one SQLite store and binds no port after its start (dnsbl, web):
 * after its sockets are bound, give the store (p, a PRIVDROP_DB) to the user, become the user
 * with no capability, and check the store's directory. 0, or -1 with err set. */
int privdrop_store_daemon(struct privdrop *pd, const struct privdrop_path *p, const char *conf_path,
			  char *err, size_t errlen);

#endif
