/* Joining a running container's namespaces, and giving up privileges before
 * running anything that comes from an image. */
#ifndef PHPC_NSJOIN_H
#define PHPC_NSJOIN_H

#include "error.h"

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Joins the namespaces of pid selected by flags (CLONE_NEWUSER, CLONE_NEWNS,
 * CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWCGROUP)
 * that differ from ours; the user namespace first, so that the others are
 * joined with its privileges. A joined pid namespace applies to children. */
int phpc_nsjoin(pid_t pid, int flags, struct phpc_error **err);

/* Drops every capability (effective, permitted, inheritable, ambient and the
 * bounding set, so that exec'ing as uid 0 gains none back) and sets
 * no_new_privs. */
int phpc_drop_all_caps(struct phpc_error **err);

/* The capability number of "CAP_NAME", or -1. */
int phpc_cap_number(const char *name);

/* Becomes the container's process as podman exec would make it: groups,
 * gid, uid, then the capability sets from OCI names (bounding, effective,
 * inheritable, permitted, ambient) and no_new_privs. Run in a child that
 * execs next. */
int phpc_become(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, char **const caps[5],
                bool no_new_privs, struct phpc_error **err);

#endif
