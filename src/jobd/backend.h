/* Where jobs run: podman-hpc on this machine (CONTAINER_ENV=podman), or a
 * Slurm batch job that runs the container through podman-hpc on the
 * allocated nodes (CONTAINER_ENV=slurm). Every call runs a program
 * (podman-hpc, sbatch, scontrol, scancel) with a time limit and returns
 * errors; nothing here exits or prints: it runs inside the service. */
#ifndef PHPC_JOBD_BACKEND_H
#define PHPC_JOBD_BACKEND_H

#include "jobd.h"

/* Hands job j (spec s) to the backend; *backend_id gets its id (the full
 * container id, the Slurm job id). A container of that name that carries
 * this job's id (made before the service was killed) is the job: it is
 * never started twice. One of a deleted job, whose removal may be under
 * way, is -EAGAIN (try again); one of any other is an error. */
int backend_submit(const struct jobd_config *c, const struct jobd_job *j,
                   const struct phpc_job_spec *s, char **backend_id, struct phpc_error **err);

/* Whether the backend has job j, by its id (0, *backend_id set) or not
 * (-ENOENT): asked at start-up for jobs recorded but not marked submitted. */
int backend_find(const struct jobd_config *c, const struct jobd_job *j, char **backend_id,
                 struct phpc_error **err);

/* The calls below act on j->backend_id, never on a name another job could
 * have: a jid can be used again after a DELETE.
 * A live job's state, and *logs the last c->logs_tail lines of its output,
 * valid UTF-8. A job the backend no longer knows is out->gone, with the
 * logs it still has or "". */
int backend_observe(const struct jobd_config *c, const struct jobd_job *j, struct jobd_state *out,
                    char **logs, struct phpc_error **err);

/* Stops and removes the job and everything the backend kept of it. */
int backend_remove(const struct jobd_config *c, const struct jobd_job *j, struct phpc_error **err);

#endif
