/* Child processes (docs/conventions.md, 8): one place that spawns, captures and waits. */
#ifndef PHPC_PROC_H
#define PHPC_PROC_H

#include "error.h"

#include <stddef.h>

/* Runs argv[0] (a path) with envp, capturing stdout (stderr is inherited).
 * Returns 0 and the wait status in *status, or an error if it could not run. */
int phpc_spawn_capture(char *const *argv, char *const *envp, char **out, size_t *out_len,
                       int *status, struct phpc_error **err);
/* The same with stderr sent to /dev/null. */
int phpc_spawn_capture_quiet(char *const *argv, char *const *envp, char **out, int *status,
                             struct phpc_error **err);

/* For a long-lived caller (the job service): runs argv[0] (a path) with
 * envp and stdin on /dev/null, capturing stdout and stderr separately (each
 * cut at max bytes, the rest read and dropped), killing it after timeout_ms
 * (0: no limit; then *status says SIGKILL), with its process group. With errout NULL, stderr goes
 * to out with stdout, in the order written (out may be NULL: both
 * dropped). Returns 0 with the wait status, or an error if it could not run. */
int phpc_spawn_run(char *const *argv, char *const *envp, int timeout_ms, size_t max, char **out,
                   char **errout, int *status, struct phpc_error **err);

/* Runs argv[0] (a path) with envp, inheriting stdio, and waits for it. */
int phpc_spawn_wait(char *const *argv, char *const *envp, int *status, struct phpc_error **err);

/* The same, with the caller's fd (-1: none) as the child's fd 3 (PMI_FD):
 * moved in the child only, nothing of the caller's fds changes. */
int phpc_spawn_wait_fd3(char *const *argv, char *const *envp, int fd, int *status,
                        struct phpc_error **err);

/* Replaces this process with argv[0] (a path). Returns only on failure. */
int phpc_exec(char *const *argv, char *const *envp, struct phpc_error **err);

/* Exit code a shell would report for a wait status. */
int phpc_exit_code(int status);

/* Closes every fd from 3 up except those in keep: a process about to run an
 * image's program (or to enter its namespaces) must hold nothing of the
 * host's that the program could use. */
void phpc_close_fds_except(const int *keep, size_t n);

#endif
