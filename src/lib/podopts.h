/* Podman's own options, as far as podman-hpc needs to know them: which take a
 * value in the next argument. With this, podman-hpc finds the subcommand and
 * the image without running `podman --help` on every call (NERSC does: slow). */
#ifndef PHPC_PODOPTS_H
#define PHPC_PODOPTS_H

#include <stdbool.h>
#include <stddef.h>

enum phpc_optset {
	PHPC_OPTS_GLOBAL, /* before the subcommand */
	PHPC_OPTS_RUN,    /* run and create */
	PHPC_OPTS_EXEC,
	PHPC_OPTS_BUILD,
};

/* name is the long option without leading dashes and without "=value". */
bool phpc_podopt_long_takes_value(enum phpc_optset set, const char *name, size_t len);
bool phpc_podopt_short_takes_value(enum phpc_optset set, char c);
/* Whether --name is one of podman's own options of that set (valued or not). */
bool phpc_podopt_is_known(enum phpc_optset set, const char *name);

#endif
