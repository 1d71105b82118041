/* The job service's record of jobs: one SQLite file in the state directory,
 * in WAL mode. A row is committed before the POST that made it is
 * answered, so a kill -9 of the service at any moment loses no accepted
 * job (a process crash cannot lose a committed WAL transaction; only a
 * power loss can take the last ones, with synchronous=NORMAL). One
 * connection, serialised by a mutex: every statement takes microseconds.
 *
 * A job's id is its row's AUTOINCREMENT number: a jid can be used again
 * after a DELETE, an id never, so everything a job leaves (its container's
 * label, its Slurm directory) is named by the id. */
#ifndef PHPC_JOBDB_H
#define PHPC_JOBDB_H

#include "jobd.h"

struct jobdb;

int jobdb_open(const char *path, struct jobdb **out, struct phpc_error **err);
void jobdb_close(struct jobdb *db);

/* Records a new job in phase ACCEPTED and sets j->id. -EEXIST when the jid
 * is taken; -EBUSY (with *err naming the other job) when its input_dir or
 * output_dir is below the output_dir of an unfinished job, or an
 * unfinished job's directories are below its output_dir: a running job
 * owns what is in its output directory and could put a symlink where the
 * other job's path goes. */
int jobdb_insert(struct jobdb *db, struct jobd_job *j, struct phpc_error **err);
/* -ENOENT when there is no such job. */
int jobdb_get(struct jobdb *db, const char *jid, struct jobd_job *out, struct phpc_error **err);
int jobdb_get_id(struct jobdb *db, long long id, struct jobd_job *out, struct phpc_error **err);
/* ACCEPTED -> SUBMITTED. -ENOENT: the job was deleted meanwhile;
 * -EALREADY: it is not ACCEPTED any more. */
int jobdb_set_submitted(struct jobdb *db, long long id, const char *backend_id,
                        struct phpc_error **err);
/* Keeps a finished job's status, message, timestamp and logs. */
int jobdb_set_final(struct jobdb *db, long long id, const char *status, const char *message,
                    const char *timestamp, const char *logs, struct phpc_error **err);
/* Deletes the job if it is still in phase; -EAGAIN when its phase changed
 * (a worker handed it to the backend meanwhile), -ENOENT when it is gone. */
int jobdb_delete(struct jobdb *db, long long id, enum jobd_phase phase, struct phpc_error **err);
/* The ids of jobs in a phase, oldest first (for the workers, at start-up). */
int jobdb_list_phase(struct jobdb *db, enum jobd_phase phase, long long **ids, size_t *n,
                     struct phpc_error **err);
long jobdb_count(struct jobdb *db);

#endif
