/* The module rule language (docs/modules.md, "The rule language"): "src[:dst][:ro]".
 * Pure: a rule, the environment and the list of paths its source matched
 * give the (source, destination) pairs. Destinations are paths inside the
 * container, lexically normalised; resolving them inside the rootfs (symlinks)
 * is the caller's job. */
#ifndef PHPC_RULES_H
#define PHPC_RULES_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>

/* Looks a variable up; returns NULL when unset. */
typedef const char *(*phpc_env_lookup_fn)(const char *name, void *data);

struct phpc_rule {
	char *src; /* expanded, absolute source pattern (may contain globs) */
	char *dst; /* expanded destination, "" when the rule gave none */
	bool ro;   /* ":ro" suffix: bind read-only */
};

/* Parses and expands a rule: $VAR, ${VAR} and a leading ~ (unset variables
 * stay as written, as in NERSC's version); a relative source is relative to
 * modules_dir. */
int phpc_rule_parse(const char *text, const char *modules_dir, phpc_env_lookup_fn lookup,
                    void *data, struct phpc_rule *out, struct phpc_error **err);
void phpc_rule_clear(struct phpc_rule *r);

/* Computes the destination of every match (sorted, as glob returns them).
 * Returns 0 with dsts filled (one per match), or -EINVAL with *err saying
 * why when the rule must be skipped (relative destination, '*' in the
 * destination without exactly one '*' in the source): callers skip the rule
 * with that reason rather than fail. */
int phpc_rule_destinations(const struct phpc_rule *r, char *const *matches, struct phpc_strv *dsts,
                           struct phpc_error **err);

/* Appends the names of the variables a rule refers to ($VAR, ${VAR}, and
 * HOME for a leading ~), each once. */
void phpc_rule_var_names(const char *text, struct phpc_strv *names);

/* Whether injecting something at dst (a path inside the container, as
 * phpc_rule_destinations gives it) can change what the image's dynamic
 * loader finds, so that the image's ldconfig has to run afterwards: a shared
 * library by ldconfig's own test of a name (it starts with "lib" or "ld-"
 * and holds ".so"), a directory (it may hold libraries), or the loader's
 * configuration (/etc/ld.so.conf, anything in /etc/ld.so.conf.d). A module
 * that injects only tools, devices or data needs no ldconfig, which costs a
 * few milliseconds per start on a small image and more on a large one. */
bool phpc_rule_needs_ldconfig(const char *dst, bool is_dir);

/* Expands the source glob on this host (sorted matches; none is not an error). */
int phpc_rule_glob(const struct phpc_rule *r, struct phpc_strv *matches, struct phpc_error **err);

#endif
