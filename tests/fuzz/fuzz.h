/* What the libFuzzer targets share: the entry point's prototype, a
 * NUL-terminated copy of the input (the parsers take C strings), and a fixed
 * environment, so that a run depends on its input only. */
#ifndef PHPC_FUZZ_H
#define PHPC_FUZZ_H

#include "rules.h"
#include "strv.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = phpc_xmalloc(size + 1);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The environment templates and rules see: a value with '$', '~' and '*'
 * in it checks that expansion does not recurse into values. */
static char *const fuzz_envp[] = {
    (char *)"HOME=/home/fuzz",
    (char *)"USER=fuzz",
    (char *)"LOGNAME=fuzz",
    (char *)"SCRATCH=/scratch/fuzz",
    (char *)"SLURM_LOCALID=0",
    (char *)"EMPTY=",
    (char *)"TRICKY=$HOME/~/*/${USER}",
    NULL,
};

static inline const char *fuzz_lookup(const char *name, void *data)
{
	(void)data;
	for (char *const *e = fuzz_envp; *e; e++) {
		size_t n = strlen(name);
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	}
	return NULL;
}

/* A path a glob of pattern could have returned: each '*' replaced by with. */
static inline void fuzz_match(const char *pattern, const char *with, struct phpc_strv *out)
{
	struct phpc_strv parts = {0};
	phpc_strv_split(&parts, pattern, '*');
	phpc_strv_push(out, phpc_strv_join(parts.v, with));
	phpc_strv_clear(&parts);
}

static inline void fuzz_destinations(const struct phpc_rule *r, char *const *matches)
{
	struct phpc_strv dsts = {0};
	_cleanup_error_ struct phpc_error *err = NULL;
	phpc_rule_destinations(r, matches, &dsts, &err);
	phpc_strv_clear(&dsts);
}

/* What the hook and podman-hpc do with a module's rule: its variables, its
 * parse, and its destinations for one match and for several (glob is not
 * run: the result must not depend on this machine's files). extra: more
 * matches, or NULL. */
static inline void fuzz_rule(const char *text, char *const *extra)
{
	static const char *const withs[] = {"a", "b/c", "..", ""};
	struct phpc_strv names = {0}, one = {0}, several = {0};
	struct phpc_error *err = NULL;
	struct phpc_rule r;

	phpc_rule_var_names(text, &names);
	phpc_strv_clear(&names);
	if (phpc_rule_parse(text, "/etc/podman_hpc/modules.d", fuzz_lookup, NULL, &r, &err) < 0) {
		phpc_error_free(err);
		return;
	}
	fuzz_match(r.src, "a", &one);
	for (size_t i = 0; i < ARRAY_SIZE(withs); i++)
		fuzz_match(r.src, withs[i], &several);
	fuzz_destinations(&r, one.v);
	fuzz_destinations(&r, several.v);
	if (extra && *extra)
		fuzz_destinations(&r, extra);
	phpc_strv_clear(&one);
	phpc_strv_clear(&several);
	phpc_rule_clear(&r);
}

#endif
