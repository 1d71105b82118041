/* The hook's request: what podman-hpc's user asked the OCI hook to do for one
 * container. It is the trust boundary between the user and the image.
 *
 * An image controls its environment, labels and annotations, and podman
 * copies an image's annotations into the container's, so nothing there may
 * enable a module, choose a rule variable's value or name a host file. The
 * user's decisions (module flags, -e NAME=VALUE typed on the command line,
 * LOG_PLUGIN) travel instead in a file that podman-hpc writes before podman
 * starts, at
 *
 *     <graph_root>/podman-hpc/requests/<token>
 *
 * where token is 128 random bits passed to the hook as the annotation
 * PHPC_REQUEST_ANNOTATION. The hook finds graph_root from the OCI bundle path
 * podman gives it (never from the container), so an image that forges the
 * annotation names a file that does not exist: it cannot guess a token, and
 * it cannot create files in that directory. On first use the hook moves the
 * request into the container's own directory (the bundle), where a restart
 * finds it and `podman rm` removes it. See
 * docs/security.md, "The hook's request". */
#ifndef PHPC_REQUEST_H
#define PHPC_REQUEST_H

#include "error.h"
#include "strv.h"

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#define PHPC_REQUEST_ANNOTATION "podman_hpc.request"
#define PHPC_REQUEST_TOKEN_LEN  32 /* hex digits */
#define PHPC_REQUEST_DIR        "podman-hpc/requests"
#define PHPC_REQUEST_USED_NAME  "podman-hpc-request.json"
/* Requests a container never used (podman failed, or `create` without
 * `start`) are removed after this long. */
#define PHPC_REQUEST_MAX_AGE (7 * 24 * 3600)

struct phpc_request {
	char *token;              /* the annotation's value it answers */
	char *modules_dir;        /* absolute */
	struct phpc_strv modules; /* names of the modules to apply, dependencies included */
	struct phpc_strv env;     /* NAME=VALUE: the user's values of rule variables */
	char *log;                /* LOG_PLUGIN as an absolute path, or NULL */
};

void phpc_request_clear(struct phpc_request *r);

/* Whether t is PHPC_REQUEST_TOKEN_LEN lowercase hex digits. */
bool phpc_request_token_valid(const char *t);

/* A variable's value in the request, or NULL. */
const char *phpc_request_env(const struct phpc_request *r, const char *name);

/* JSON text of a request, and back. Parsing is strict: unknown types, a bad
 * token, a relative path or a variable name that is not NAME is an error. */
char *phpc_request_to_json(const struct phpc_request *r);
int phpc_request_parse(const char *text, size_t len, struct phpc_request *out,
                       struct phpc_error **err);

/* graph_root from podman's bundle path "<graph_root>/<driver>-containers/<id>/userdata";
 * -EINVAL when bundle is not laid out so for this id (buildah's RUN steps,
 * other engines: they get no modules). */
int phpc_request_graph_root(const char *bundle, const char *id, char **out);

/* podman-hpc's side: draws a token, writes the request (mode 0600) into
 * <graph_root>/PHPC_REQUEST_DIR (created private, see safedir.h), sets
 * r->token, and removes unused requests older than PHPC_REQUEST_MAX_AGE. */
int phpc_request_store(const char *graph_root, uid_t uid, struct phpc_request *r,
                       struct phpc_error **err);

/* The hook's side: the request for token, for the container id whose bundle
 * podman gave. Accepted only as a regular file of the hook's own uid, mode
 * 0600, with one link, reached without a symlink. Moves a fresh request into
 * the bundle. -ENOENT (no *err) when there is none. */
int phpc_request_load(const char *bundle, const char *id, const char *token,
                      struct phpc_request *out, struct phpc_error **err);

#endif
