/* shared-run (docs/shared-run.md): one container per node for all tasks of a job
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

/* What a waiting task knows of local task 0, which holds a lock on the
 * step's "leader" file from before it starts the container until it has
 * written the state file or the failure file. */
enum phpc_shared_leader {
	PHPC_LEADER_UNKNOWN,  /* no lock file yet: task 0 has not arrived */
	PHPC_LEADER_STARTING, /* it holds the lock */
	PHPC_LEADER_GONE,     /* the lock is free: it has finished or died */
};

enum phpc_shared_verdict {
	PHPC_WAIT_MORE,
	PHPC_WAIT_READY,       /* the container is up */
	PHPC_WAIT_FAILED,      /* task 0 could not start it and said why */
	PHPC_WAIT_LEADER_GONE, /* task 0 ended without starting it or saying why */
	PHPC_WAIT_TIMEOUT,
};

/* The waiting task's verdict. leader must be observed before the files are
 * read: task 0 writes its file before releasing the lock, so a free lock seen
 * first and no file seen after means it is gone without a word (killed). */
enum phpc_shared_verdict phpc_shared_wait_verdict(bool ready, bool failed,
                                                  enum phpc_shared_leader leader, bool timed_out);

/* How long a waiting task sleeps before looking again (seconds): the scaled
 * poll interval, but at most leader_check_s once task 0's lock file exists
 * (the kernel frees the lock of a killed task without a file event that
 * would come after it), and never past the deadline. */
double phpc_shared_poll_wait(double left, double poll_s, double leader_check_s,
                             enum phpc_shared_leader leader);

/* Whether the last task to leave (the one that gets the step's lock
 * exclusively) removes the state directory: always, except while the
 * container is up and a task has yet to arrive and join it (joined of
 * ntasks have registered). */
bool phpc_shared_remove_on_leave(long joined, int ntasks, bool started);

/* The step's key: unique per user, job step and node ("shared-<uid>-<job>.<step>",
 * or "shared-<uid>-p<launcher pid>" outside Slurm). NULL when out of memory. */
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
