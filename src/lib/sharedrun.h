/* shared-run's mechanism: the tasks of one job step on one node share one
 * container. Local task 0 starts it; every task waits for it, joins its
 * namespaces and runs its own command in it. The design, its files and
 * locks and its failure cases: docs/shared-run.md. The decisions it makes
 * (task counts, verdicts, environments) are the pure functions of shared.h.
 *
 * Made for two callers: the podman-hpc command (src/podman-hpc/
 * cmd_shared_run.c) and a long-lived host such as a SPANK plugin in
 * slurmstepd. So in the calling process nothing here exits, aborts on
 * out-of-memory (an allocation that fails is -ENOMEM), or leaves signal
 * dispositions or the child-subreaper flag changed after it returns. What
 * may abort runs in child processes of its own (the monitor, the joining
 * child), never in the caller. Those children allocate and read files
 * after fork: call this from a single-threaded process (a task, or
 * slurmstepd's task context), not from a thread of a threaded host. Their
 * signal mask and dispositions are reset to the defaults.
 *
 * A caller's sequence, in every task of the step:
 *
 *   phpc_sr_enter(&params, &step, &err);
 *   if (phpc_sr_is_leader(step)) {
 *           phpc_sr_start_monitor(step, rm_argv, env, &err);
 *           ... start the container (podman run -d --name KEY ...) ...
 *           phpc_sr_publish(step, run_root, graph_root, id, &err)
 *               or phpc_sr_fail(step, why);
 *   }
 *   phpc_sr_wait(step, &container, &err);
 *   phpc_sr_run_task(&container, &task, &status, &failure, &started, &err);
 *   phpc_sr_leave(step);
 */
#ifndef PHPC_SHAREDRUN_H
#define PHPC_SHAREDRUN_H

#include "error.h"

#include <stdbool.h>
#include <sys/types.h>

struct phpc_sr_step;

struct phpc_sr_params {
	const char *state_root; /* the directory of all steps: run_root/shared-run */
	const char *what;       /* how messages name its setting: "run_root (default)" */
	const char *key;        /* the step's key (phpc_shared_key): a file name */
	uid_t uid;              /* the caller's: owns every directory */
	int ntasks;             /* tasks of the step on this node */
	bool leader;            /* this is local task 0 */
	double poll_s;          /* how often a waiting task looks (scaled) */
	double timeout_s;       /* how long it waits for task 0 (scaled) */
};

/* Creates or opens the step's state directory, takes the lock that keeps it
 * while this task lives, registers the task; local task 0 also takes the
 * leader lock. On success *out is the caller's until phpc_sr_leave. */
int phpc_sr_enter(const struct phpc_sr_params *p, struct phpc_sr_step **out,
                  struct phpc_error **err);

bool phpc_sr_is_leader(const struct phpc_sr_step *s);

/* Task 0: starts the monitor, a process detached from the step that waits
 * until every task has registered and left (even killed), then runs rm_argv
 * (podman rm --force KEY, argv[0] a path) with envp and removes the state
 * directory. */
int phpc_sr_start_monitor(struct phpc_sr_step *s, char *const *rm_argv, char *const *envp,
                          struct phpc_error **err);

/* Task 0: the container id is up. Finds its pid and OCI config where podman
 * keeps them (run_root and graph_root of its store), publishes them to the
 * other tasks and lets go of the leader lock. On error, the caller still
 * calls phpc_sr_fail. */
int phpc_sr_publish(struct phpc_sr_step *s, const char *run_root, const char *graph_root,
                    const char *id, struct phpc_error **err);

/* Task 0: the container could not be started; the waiting tasks fail with
 * why. Lets go of the leader lock. */
void phpc_sr_fail(struct phpc_sr_step *s, const char *why);

/* The shared container as a task sees it. */
struct phpc_sr_container {
	pid_t pid;    /* its first process, in our pid namespace */
	char *config; /* the path of its OCI config.json */
};
void phpc_sr_container_clear(struct phpc_sr_container *c);

/* Every task: waits until task 0 has published the container (or failed,
 * or died, or the timeout passed: each a distinct error). */
int phpc_sr_wait(struct phpc_sr_step *s, struct phpc_sr_container *c, struct phpc_error **err);

/* A task's command. */
struct phpc_sr_task {
	char *const *argv;      /* the command: argv[0] found on the container's PATH */
	const char *workdir;    /* NULL: the container's */
	char *const *exec_args; /* the site's -e options for each task (shared_run_exec_args) */
	char *const *user_env;  /* the user's -e values: NAME, NAME=VALUE or a NAME* glob */
	char *const *host_env;  /* the task's own environment, where NAMEs take values; and
	                         * PMI_FD, the process manager's fd, passed as fd 3 */
};

/* Joins the container's namespaces, becomes its user (uid, groups,
 * capabilities, no_new_privs, as podman exec would) and runs the command
 * with the caller's stdio. Signals the caller gets meanwhile (SIGTERM from
 * scancel, ...) are passed on to the command (handlers with SA_RESTART);
 * the previous dispositions and the subreaper flag are back when this
 * returns. The handler's state is static: one call at a time per process.
 * The command is waited for by its pid: a host that reaps every child, or
 * ignores SIGCHLD, loses its status (an error with *started set).
 *
 * *started tells whether the command's process was created: when not, the
 * container could not be joined and the caller may fall back to podman
 * exec; when it was, the command must not be run again. *status is its wait
 * status; a command that cannot run (not found, a working directory
 * missing, ...) is the task's failure: status 127 and *failure says why
 * (the caller's to free and to tell the user). */
int phpc_sr_run_task(const struct phpc_sr_container *c, const struct phpc_sr_task *t, int *status,
                     char **failure, bool *started, struct phpc_error **err);

/* The process manager's fd, PMI_FD in the task's own environment when it
 * is an open fd; else -1. Never the container's PMI_FD, the image's to set. */
int phpc_sr_host_pmi_fd(char *const *envp);

/* Every way out of a task that entered: the last task to leave removes the
 * state directory (unless the container is up and a task has yet to join).
 * Frees s. NULL is allowed. */
void phpc_sr_leave(struct phpc_sr_step *s);

#endif
