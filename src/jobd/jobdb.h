/* The job service's record of jobs: one SQLite file in the state directory,
 * in WAL mode. A row is committed before the POST that made it is
 * answered, so a kill -9 of the service at any moment loses no accepted
 * job (a process crash cannot lose a committed WAL transaction; only a
 * power loss can take the last ones, with synchronous=NORMAL). One
 * connection, serialised by a mutex: every statement takes microseconds. */
#ifndef PHPC_JOBDB_H
#define PHPC_JOBDB_H

#include "jobd.h"

struct jobdb;

int jobdb_open(const char *path, struct jobdb **out, struct phpc_error **err);
void jobdb_close(struct jobdb *db);

/* Records a new job in phase ACCEPTED; -EEXIST when the jid is taken. */
int jobdb_insert(struct jobdb *db, const struct jobd_job *j, struct phpc_error **err);
/* -ENOENT when there is no such job. */
int jobdb_get(struct jobdb *db, const char *jid, struct jobd_job *out, struct phpc_error **err);
/* -ENOENT when the job is gone (deleted while it was being started) or
 * not in phase ACCEPTED any more. */
int jobdb_set_submitted(struct jobdb *db, const char *jid, const char *backend_id,
                        struct phpc_error **err);
/* Keeps a finished job's status, message, timestamp and logs. */
int jobdb_set_final(struct jobdb *db, const char *jid, const char *status, const char *message,
                    const char *timestamp, const char *logs, struct phpc_error **err);
int jobdb_delete(struct jobdb *db, const char *jid, struct phpc_error **err);
/* The jids of jobs in a phase, oldest first (for the workers, at start-up). */
int jobdb_list_phase(struct jobdb *db, enum jobd_phase phase, char ***jids,
                     struct phpc_error **err);
long jobdb_count(struct jobdb *db);

#endif
