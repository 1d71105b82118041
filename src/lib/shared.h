/* shared-run (spec section 6): one container per node for all tasks of a job
 * step. The decisions, as pure functions: how many tasks, which task starts
 * the container, what the container and each task get. */
#ifndef PHPC_SHARED_H
#define PHPC_SHARED_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>
#include <sys/types.h>

/* Tasks on this node: the first match of pattern (POSIX ERE) in value, as a
 * number ("4(x2)" -> 4); 1 when value is NULL. */
int phpc_shared_ntasks(const char *value, const char *pattern, int *out, struct phpc_error **err);

/* NERSC's scaling of the start-up wait with the tasks per node:
 * round(base * (1 + log2 n) / base) * base, i.e. base * round(1 + log2 n). */
double phpc_shared_scale(double base, int ntasks);

/* The step's key: unique per user, job step and node ("shared-<uid>-<job>.<step>",
 * or "shared-<uid>-p<launcher pid>" outside Slurm). */
char *phpc_shared_key(char *const *envp, uid_t uid, pid_t launcher);

/* The user's options, split for the container start and for each task. */
struct phpc_shared_opts {
	struct phpc_strv run; /* for podman run (user options, minus ours) */
	struct phpc_strv env; /* -e/--env values for each task: NAME or NAME=VALUE */
	struct phpc_strv env_files;
	char *workdir;    /* -w */
	char *user;       /* -u */
	char *entrypoint; /* --entrypoint: the tasks', not the container's */
	bool tty;         /* -t */
};

/* Splits the options before the image (args[0..image_idx)). */
void phpc_shared_split(char *const *args, int image_idx, struct phpc_shared_opts *o);
void phpc_shared_opts_clear(struct phpc_shared_opts *o);

/* Does name match a -e pattern ("SLURM_*": a prefix glob, or an exact name)? */
bool phpc_env_pattern_match(const char *pattern, const char *name);

/* A task's environment, as podman exec builds it: the container's (image and
 * run options), then the exec arguments' -e (shared_run_exec_args, then the
 * user's), each NAME or glob taking the task's own values from host_env,
 * NAME=VALUE as given. */
char **phpc_shared_task_env(char *const *container_env, char *const *exec_args,
                            char *const *user_env, char *const *host_env);

#endif
