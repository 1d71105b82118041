/* The job description of pman's API, which the job service speaks: the body of
 * POST /api/v1/, validated as pman validates it (same fields, same error
 * bodies), plus what pman let through and should not have: a jid that is
 * not a container name, paths that leave STOREBASE, non-integer limits.
 * Pure: no I/O; the service and the unit tests call it alike, and a fuzz
 * target feeds it arbitrary bodies. */
#ifndef PHPC_JOBSPEC_H
#define PHPC_JOBSPEC_H

#include "error.h"

#include <json.h>
#include <stdbool.h>
#include <stddef.h>

#define PHPC_JOB_INCOMING "/share/incoming"
#define PHPC_JOB_OUTGOING "/share/outgoing"
/* the longest jid: a container name, a file name and a Slurm job name */
#define PHPC_JOB_JID_MAX 128
/* input_dir and output_dir: at most so long and so deep */
#define PHPC_JOB_PATH_MAX   1024
#define PHPC_JOB_PATH_DEPTH 32

struct phpc_job_spec {
	char *jid;              /* leading '/' stripped; [A-Za-z0-9][A-Za-z0-9_.-]* */
	char **args;            /* NULL-terminated */
	char **args_path_flags; /* NULL-terminated */
	char *auid;             /* recorded, unused (as in pman) */
	long number_of_workers; /* >= 1 */
	long cpu_limit;         /* millicores, >= 0 */
	long memory_limit;      /* MiB, >= 0 */
	long gpu_limit;         /* >= 0 */
	char *image;
	char **entrypoint; /* NULL-terminated, not empty */
	char *type;        /* "ds", "fs" or "ts" */
	char **env;        /* NULL-terminated "KEY=VALUE" */
	char *input_dir;   /* relative to STOREBASE, no "..", no leading or trailing '/' */
	char *output_dir;
};

/* Parses and validates a POST body (len bytes, not NUL-terminated). On
 * success returns 0 and fills *out. On bad input returns -EINVAL and sets
 * *message to the value of the error body's "message" member, as pman
 * gives it: an object of {field: reason} with every bad field (reqparse's
 * bundled errors), or a string for the checks pman makes after parsing
 * (empty entrypoint, env items without '='). *message is the caller's to
 * put. Never fails otherwise (out of memory aborts in phpc_x*). */
int phpc_job_spec_parse(const char *body, size_t len, struct phpc_job_spec *out,
                        struct json_object **message);
void phpc_job_spec_clear(struct phpc_job_spec *s);

/* The container's command, as pman builds it: entrypoint + args, where the
 * argument after each flag of args_path_flags becomes /share/incoming; then
 * /share/incoming for a "ds" job; then /share/outgoing. */
char **phpc_job_cmd(const struct phpc_job_spec *s);

/* The command shell-quoted and joined with spaces, as Python's shlex.join
 * gives it (pman's "cmd" field): a word of only safe characters stays
 * as is, any other is single-quoted, with ' written as '"'"'. */
char *phpc_job_cmd_string(char *const *cmd);

/* pman's job states (its JobStatus values). */
enum phpc_job_status {
	PHPC_JOB_NOTSTARTED,
	PHPC_JOB_STARTED,
	PHPC_JOB_SUCCESS,
	PHPC_JOB_ERROR,
	PHPC_JOB_UNDEFINED,
};
const char *phpc_job_status_name(enum phpc_job_status s);

/* pman's mapping of a container's state (podman's State.Status word, its
 * OOMKilled flag and ExitCode) to a job status. */
enum phpc_job_status phpc_job_status_from_container(const char *state, bool oom_killed,
                                                    int exit_code);

/* A Slurm job state (squeue/scontrol's word, e.g. PENDING, RUNNING,
 * COMPLETED, FAILED, "CANCELLED by 0") and, once the job ended, the
 * container's exit code as its batch script recorded it (-1: none) to a
 * job status. */
enum phpc_job_status phpc_job_status_from_slurm(const char *state, int exit_code);

/* text with every byte that is not part of valid UTF-8 replaced by U+FFFD
 * (a JSON string must be UTF-8; pman decodes logs with errors='replace'),
 * and NUL by U+FFFD too: the C string is all of the text. */
char *phpc_utf8_sanitize(const char *text, size_t len);

/* The last n lines of text (all of it when it has fewer): a pointer into
 * text. A final newline does not start a line. */
const char *phpc_tail_lines(const char *text, size_t len, long n);

/* What a container printed, from the end of its log in podman's k8s-file
 * format (conmon's: "TIME STREAM P|F CONTENT\n" a record; P: a piece of a
 * line that goes on in the next record). buf is the end of the file;
 * when cut (it does not start at the file's start) its first record may
 * be a piece of one: it and the pieces up to the end of the first whole
 * line after it are left out. A
 * record without its newline (being written) or not of that form is left
 * out too: the container writes the content, never the framing. Returns
 * the text, stdout and stderr in the order written, NUL-free only if the
 * content was (see phpc_utf8_sanitize); *len gets its length. */
char *phpc_k8s_log_text(const char *buf, size_t size, bool cut, size_t *len);

#endif
