/* The subordinate id files (/etc/subuid, /etc/subgid: shadow-utils' format,
 * "owner:start:count" a line) and podman-hpc-subid's decisions on them:
 * which block each user gets, which entries overlap, what is appended.
 * Pure: texts and a user list in, lines, a diff and reports out; nothing
 * here opens a file, asks NSS or prints. docs/subid.md is the design. */
#ifndef PHPC_SUBID_H
#define PHPC_SUBID_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2^32: ids are 32-bit, so no block may end after this (start + count). */
#define PHPC_SUBID_LIMIT 4294967296ULL

/* One "owner:start:count" line of a file. */
struct phpc_subid_entry {
	char *owner; /* owned: a user name, or a uid written as a number */
	uint64_t start, count;
	size_t line; /* 1-based */
};

/* A parsed file. The text is kept, byte for byte: entries are only ever
 * appended to it (phpc_subid_render). */
struct phpc_subid_file {
	char *name; /* owned: the path, for messages */
	char *text; /* owned copy, NUL-terminated (text may hold NULs too) */
	size_t len;
	size_t lines; /* a last line without '\n' counts */
	struct phpc_subid_entry *v;
	size_t n;
	/* Lines kept as they are but not read as entries, and entries that
	 * newuidmap cannot use in full: "NAME line N: why, what to do". */
	struct phpc_strv warnings;
	/* Lines over which podman or newuidmap refuses the whole file, so that
	 * no user of the node can start a container: not three fields (podman),
	 * a NUL byte (newer shadow-utils), longer than 64 KiB (podman). The
	 * same form; an administrator must fix them. */
	struct phpc_strv broken;
};

/* Parses text (len bytes, NULs allowed) as shadow-utils reads a subid file:
 * three fields split on ':', the numbers decimal, 0x hexadecimal or
 * 0-prefixed octal (strtoul's base 0). Blank lines, "#" comments and NIS
 * "+"/"-" lines are not entries; any other line that is not an entry is a
 * warning, or in broken when podman or newuidmap refuses the whole file
 * over it (as podman reads the file: every line). A last line without a
 * newline is a warning: phpc_subid_render adds it. Never fails; clear f
 * with phpc_subid_file_clear. */
void phpc_subid_parse(const char *name, const char *text, size_t len, struct phpc_subid_file *f);
void phpc_subid_file_clear(struct phpc_subid_file *f);

enum phpc_subid_scheme {
	/* start = uid * multiplier + offset */
	PHPC_SUBID_MULTIPLY,
	/* start = base + (uid - uid_min) * count */
	PHPC_SUBID_OFFSET,
};

struct phpc_subid_params {
	enum phpc_subid_scheme scheme;
	uint64_t multiplier, offset; /* PHPC_SUBID_MULTIPLY */
	uint64_t base;               /* PHPC_SUBID_OFFSET */
	uint64_t count;              /* ids a user */
	uint32_t uid_min, uid_max;   /* the users who get a block */
};

/* The defaults, and why, are in docs/subid.md, "Schemes". */
#define PHPC_SUBID_DEFAULT_COUNT      65536
#define PHPC_SUBID_DEFAULT_MULTIPLIER 65536
#define PHPC_SUBID_DEFAULT_BASE       100000
#define PHPC_SUBID_DEFAULT_UID_MIN    1000
#define PHPC_SUBID_DEFAULT_UID_MAX    60000

/* -EINVAL with one message naming the option(s) to change when the
 * parameters cannot give every user a block of their own: a count of 0 or
 * past 2^32, uid_min above uid_max, a multiplier smaller than the count
 * (the blocks of adjacent uids would overlap), a first block that starts at
 * or below uid_max (it would hold the uids of users in range) or that ends
 * past 2^32 (nobody would get one). Option names are podman-hpc-subid's. */
int phpc_subid_params_check(const struct phpc_subid_params *p, struct phpc_error **err);

/* The first id of uid's block (p checked). False when the block would end
 * past 2^32 (*start is then still set). */
bool phpc_subid_block(const struct phpc_subid_params *p, uint32_t uid, uint64_t *start);

/* A user as NSS gives it. */
struct phpc_subid_user {
	const char *name;
	uint32_t uid;
	uint32_t gid; /* the primary group's */
};

/* A group as NSS gives it. */
struct phpc_subid_group {
	const char *name;
	uint32_t gid;
};

/* An entry to append. */
struct phpc_subid_new {
	const char *name; /* points into the users given to phpc_subid_plan */
	uint32_t uid;
	bool by_uid; /* the owner written is the uid in decimal: the name cannot be */
	uint64_t start, count;
};

struct phpc_subid_plan {
	struct phpc_subid_new *uid_new, *gid_new; /* in uid order */
	size_t n_uid_new, n_gid_new;
	size_t users;            /* distinct uids in range */
	size_t had_uid, had_gid; /* of those, how many had an entry */
	/* One line per user in range who gets no block in a file that lacks
	 * one: why, and what to do. */
	struct phpc_strv left_out;
	/* Existing entries that overlap each other, entries whose owner serves
	 * two uids or more, and real ids (uids in subuid; users' primary gids
	 * and groups' gids in subgid) inside someone's block. */
	struct phpc_strv overlaps;
};

/* Decides what to append to subuid and subgid for users[0..n), in the order
 * NSS enumerated them (which decides which name of a uid gets the block),
 * with p checked by phpc_subid_params_check. Every uid of users and every
 * gid of users and groups[0..n_groups) is a real id that no block may hold.
 *
 * An owner serves the uids listed under that name and the uid it reads as
 * ("%lu", as newuidmap and podman compare it). A user is present in a file
 * when an entry's owner serves the user's uid and no other; a present user
 * is left alone. A user in [uid_min, uid_max] missing from a file gets p's
 * block there, under its first name that serves its uid alone, unless it
 * has none (a number that reads as another uid, a name listed for two
 * uids), or the block would end past 2^32, overlap an existing entry, or
 * hold a real uid (subuid) or gid (subgid): then the user gets nothing in
 * either file it lacks (a user with subordinate uids and no gids, or the
 * reverse, cannot start a container) and is reported in left_out. Blocks of
 * distinct uids never overlap each other (both schemes step by at least
 * count). Never fails. */
void phpc_subid_plan(const struct phpc_subid_file *subuid, const struct phpc_subid_file *subgid,
                     const struct phpc_subid_user *users, size_t n,
                     const struct phpc_subid_group *groups, size_t n_groups,
                     const struct phpc_subid_params *p, struct phpc_subid_plan *out);
void phpc_subid_plan_clear(struct phpc_subid_plan *plan);

/* Whether phpc_subid_render changes f: n > 0, or a last line without a
 * newline (newer shadow-utils refuse such a file), which it always ends. */
bool phpc_subid_changes(const struct phpc_subid_file *f, size_t n);

/* f's text with "name:start:count\n" appended for each of v[0..n), after a
 * '\n' when the last line lacked one (even when n is 0). Newly allocated,
 * *len bytes. */
char *phpc_subid_render(const struct phpc_subid_file *f, const struct phpc_subid_new *v, size_t n,
                        size_t *len);

/* The same change as a unified diff of f->name ("--- NAME", "+++ NAME", one
 * hunk, no context lines) that patch(1) applies; "" when there is none
 * (phpc_subid_changes). Newly allocated; *len (if not NULL) gets its length:
 * a line of the file it repeats may hold a NUL. */
char *phpc_subid_diff(const struct phpc_subid_file *f, const struct phpc_subid_new *v, size_t n,
                      size_t *len);

/* UID_MIN and UID_MAX of a login.defs text (shadow-utils' settings file):
 * each that is set and valid replaces *uid_min or *uid_max; one that is not
 * a uid is a warning ("NAME line N: ...") and leaves the value as it was. */
void phpc_subid_login_defs(const char *name, const char *text, uint32_t *uid_min, uint32_t *uid_max,
                           struct phpc_strv *warnings);

#endif
