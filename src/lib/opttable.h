/* The options of podman-hpc's own subcommands, one table per command: the
 * same table parses the command's arguments and prints its --help, so the
 * two cannot disagree. Pure: the help goes to a FILE the caller gives. */
#ifndef PHPC_OPTTABLE_H
#define PHPC_OPTTABLE_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct phpc_opt {
	const char *long_name; /* without "--"; NULL ends a table */
	char short_name;       /* '\0': none */
	const char *arg;       /* the value's name in the help ("DIR"); NULL: a flag */
	const char *help;      /* one line (a '\n' starts an aligned continuation line) */
	bool hidden;           /* accepted, not listed by the help */
	/* A mode of the command, not an option: valid only as the first argument,
	 * and every argument after it is a positional, options included. */
	bool rest;
};

struct phpc_cmd_spec {
	const char *name;            /* "migrate" */
	const char *usage;           /* what follows "podman-hpc NAME" in the usage line */
	const char *summary;         /* one line, for the command's help and the command list */
	const char *description;     /* NULL, or more lines ('\n' between them) */
	const char *example;         /* NULL, or command lines ('\n' between them) */
	const struct phpc_opt *opts; /* ended by an entry with long_name NULL; NULL: none */
};

/* phpc_opt_parse's result when --help or -h was given. */
#define PHPC_OPT_HELP 1

struct phpc_opt_result {
	/* Per entry of the table: the value given (the last one when given
	 * more than once; "" for a flag), or NULL when not given. The values
	 * point into the parsed arguments, which must outlive the result. */
	const char **val;
	/* Per entry: how often it was given. */
	unsigned *count;
	struct phpc_strv pos; /* the positionals, in order (copies) */
};

/* Parses args[0..n) by the spec's table: --name, --name=VALUE, --name VALUE,
 * -x, -xVALUE, -x VALUE, flag clusters (-fq), "-" as a positional, and "--"
 * (every argument after it is a positional). Options and positionals may be
 * mixed. Returns 0, PHPC_OPT_HELP when --help or -h was given (also when the
 * arguments have errors: the help says how to fix them), or -EINVAL with
 * *err naming the first wrong argument. res is filled in every case: clear it
 * with phpc_opt_result_clear. */
int phpc_opt_parse(const struct phpc_cmd_spec *spec, char *const *args, size_t n,
                   struct phpc_opt_result *res, struct phpc_error **err);
void phpc_opt_result_clear(struct phpc_opt_result *res);

/* The value of the option with this long name (see val), or NULL. */
const char *phpc_opt_get(const struct phpc_cmd_spec *spec, const struct phpc_opt_result *res,
                         const char *long_name);
/* Whether the option with this long name was given. */
bool phpc_opt_given(const struct phpc_cmd_spec *spec, const struct phpc_opt_result *res,
                    const char *long_name);

/* The command's help, in podman's layout: the summary, "Description:",
 * "Usage:" (podman-hpc NAME USAGE), "Examples:", then "Options:" with the
 * table's visible options and -h/--help, aligned. */
void phpc_cmd_help(const struct phpc_cmd_spec *spec, FILE *out);
/* The same as a string (newly allocated). */
char *phpc_cmd_help_str(const struct phpc_cmd_spec *spec);
/* Only the sections before "Options:". */
void phpc_cmd_help_head(const struct phpc_cmd_spec *spec, FILE *out);
/* Only the option rows of a table (visible ones), then -h/--help if with_help,
 * aligned to the widest "--name ARG" (or to min_width, if wider). */
void phpc_help_opts(const struct phpc_opt *opts, bool with_help, size_t min_width, FILE *out);

#endif
