/* Joining a running container's namespaces, and giving up privileges before
 * running anything that comes from an image. */
#ifndef PHPC_NSJOIN_H
#define PHPC_NSJOIN_H

#include "error.h"

#include <sched.h>
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

#endif
