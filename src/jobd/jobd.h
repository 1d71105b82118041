/* podman-hpc-jobd: pman's job API (docs/jobd.md) over podman-hpc and Slurm.
 *
 * A POST is recorded in SQLite (jobdb.h) before it is answered; starting
 * the job is a worker thread's, so that a request never waits for a
 * container or for sbatch. Status is asked of the backend (backend.h) while
 * a job is live, and kept in the database once it is final, with its logs,
 * so that status of a finished job costs one indexed read. */
#ifndef PHPC_JOBD_H
#define PHPC_JOBD_H

#include "error.h"
#include "jobspec.h"

#include <stdbool.h>
#include <stddef.h>

enum jobd_backend { JOBD_PODMAN, JOBD_SLURM };

/* The service's settings: pman's environment variables where they apply,
 * and ours (docs/jobd.md, "Configuration"). */
struct jobd_config {
	enum jobd_backend backend;
	const char *container_env; /* as configured: reported by GET /api/v1/ */
	char *storebase;           /* absolute, no trailing '/' */
	char *state_dir;           /* jobs.db, and the Slurm backend's job files */
	char *podman_hpc;          /* the podman-hpc program */
	char *token;               /* NULL: no authentication */
	char **job_labels;         /* "k=v" */
	char *container_user;      /* podman --user, or NULL */
	char *shm_size;            /* podman --shm-size, or NULL */
	char *gpu_flag;            /* the site's module flag for GPUs ("--gpu") */
	long logs_tail;            /* JOB_LOGS_TAIL */
	long timelimit_minutes;    /* Slurm --time, 0: none */
	bool ignore_limits, remove_jobs, home_workaround;
	int workers; /* threads that start jobs */
};

/* One job as the database keeps it. */
enum jobd_phase {
	JOBD_ACCEPTED = 0,  /* recorded, not handed to the backend yet */
	JOBD_SUBMITTED = 1, /* the backend has it (backend_id) */
	JOBD_FINAL = 2,     /* finished: status, message, timestamp, logs are final */
};

struct jobd_job {
	long long id; /* the record's own number, never reused: a jid can be */
	char *jid, *spec, *image, *cmd;
	char *input_dir, *output_dir;
	enum jobd_phase phase;
	char *status, *message, *timestamp, *logs;
	char *backend_id; /* the Slurm job id; the container id */
};
void jobd_job_clear(struct jobd_job *j);

/* What the backend says of a live job. */
struct jobd_state {
	enum phpc_job_status status;
	char *message;   /* the engine's word: running, exited, PENDING... */
	char *timestamp; /* FinishedAt, or StartedAt while it runs */
	bool gone;       /* the backend no longer knows the job */
	bool settling;   /* ended, its end not final yet: not to be stored */
};
void jobd_state_clear(struct jobd_state *s);

#endif
