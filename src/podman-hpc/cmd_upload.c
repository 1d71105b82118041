/* podman-hpc upload NAME [CONTAINER]: the user's last (or the named)
 * container, committed as USER/NAME and pushed to the site registry, so that
 * every node (and Apptainer) can pull it; the local copy is removed, the
 * container stays. docs/site-tools.md. */
#include "commands.h"
#include "jobspec.h"
#include "proc.h"
#include "registry.h"
#include "util.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct phpc_cmd_spec phpc_upload_spec = {
    .name = "upload",
    .usage = "NAME[:TAG] [CONTAINER]",
    .summary = "Commit a container and push it to the site registry as USER/NAME",
    .description = "Commits your last container (or CONTAINER) as USER/NAME, pushes it to the\n"
                   "site registry (upload_registry in the site configuration), removes the\n"
                   "local copy of the image and prints how to run it on any node. The\n"
                   "container itself is left as it is.",
    .example = "podman-hpc run -it --name work debian:12 bash   # install what you need\n"
               "podman-hpc upload my-tools work",
};

struct uploader {
	struct phpc_ctx *ctx;
	const char *podman;
	char **env;
	struct phpc_strv ran; /* the commands, as the user could type them */
};

/* Runs podman WORDS. out NULL: podman's stdout goes to ours; quiet: its
 * stderr goes nowhere (cleaning up after a failure already reported).
 * Returns podman's exit code, or an error if it could not run. */
static int podman_run(struct uploader *u, const char *const *words, char **out, bool quiet,
                      struct phpc_error **err)
{
	struct phpc_strv a = {0};
	phpc_ctx_podman_cmd(u->ctx, u->podman, words, &a);
	int status = 0, r;
	if (out && quiet)
		r = phpc_spawn_capture_quiet(a.v, u->env, out, &status, err);
	else if (out)
		r = phpc_spawn_capture(a.v, u->env, out, NULL, &status, err);
	else
		r = phpc_spawn_wait(a.v, u->env, &status, err);
	phpc_strv_clear(&a);
	return r < 0 ? r : phpc_exit_code(status);
}

static int podman(struct uploader *u, const char *const *words, char **out, struct phpc_error **err)
{
	return podman_run(u, words, out, false, err);
}

/* The same, recorded for the summary as "podman-hpc WORDS". */
static int podman_step(struct uploader *u, const char *const *words, char **out,
                       struct phpc_error **err)
{
	_cleanup_free_ char *line = phpc_job_cmd_string((char *const *)words);
	phpc_strv_addf(&u->ran, "podman-hpc %s", line);
	return podman(u, words, out, err);
}

static char *first_line(char *s)
{
	s[strcspn(s, "\n")] = '\0';
	return s;
}

/* The full ID of the named container, or of the last one created. */
static int container_id(struct uploader *u, const char *name, char **id, struct phpc_error **err)
{
	_cleanup_free_ char *out = NULL;
	const char *const by_name[] = {"container", "inspect", "--format", "{{.Id}}", name, NULL};
	const char *const latest[] = {"ps", "--all", "--latest", "--format", "{{.ID}}", NULL};
	int rc = podman_run(u, name ? by_name : latest, &out, true, err);
	if (rc < 0)
		return rc;
	first_line(out);
	if (rc != 0 || !*out) {
		if (name)
			return phpc_error_set(
			    err, ENOENT, "no container \"%s\" ('podman-hpc ps -a' lists yours)",
			    name);
		return phpc_error_set(err, ENOENT,
		                      "you have no container to upload: make one first "
		                      "(podman-hpc run -it --name work IMAGE bash), or name it");
	}
	*id = steal_pointer(&out);
	return 0;
}

/* "Full Name" from the GECOS field, else the user name: the image's author. */
static char *author_of(const struct passwd *pw)
{
	const char *g = pw->pw_gecos ? pw->pw_gecos : "";
	size_t n = strcspn(g, ",");
	return n ? phpc_xstrndup(g, n) : phpc_xstrdup(pw->pw_name);
}

static void print_summary(const struct uploader *u, const struct phpc_upload_refs *refs,
                          const char *cid)
{
	printf("podman-hpc upload: ran these commands for you:\n\n");
	for (size_t i = 0; i < u->ran.n; i++)
		printf("  %s\n", u->ran.v[i]);
	printf("\nYour image is in the site registry as %s.\n"
	       "The container %.12s is unchanged (podman-hpc rm %.12s removes it).\n\n"
	       "To run it on any node (in a batch script too):\n\n"
	       "  podman-hpc pull %s\n"
	       "  podman-hpc run --rm %s [COMMAND]\n\n"
	       "or with Apptainer:\n\n"
	       "  apptainer pull docker://%s\n"
	       "  apptainer exec %s_%s.sif [COMMAND]\n",
	       refs->remote, cid, cid, refs->remote_nt, refs->remote_nt, refs->remote_nt,
	       strrchr(refs->repo, '/') + 1, refs->tag);
}

static int upload(struct uploader *u, const char *registry, const char *name, const char *container,
                  struct phpc_error **err)
{
	struct passwd *pw = getpwuid(getuid());
	if (!pw)
		return phpc_error_set(err, ENOENT,
		                      "cannot find your user (uid %u) in the user database",
		                      (unsigned)getuid());
	struct phpc_upload_refs refs;
	int r = phpc_upload_refs(registry, pw->pw_name, name, &refs, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *cid = NULL, *author = author_of(pw), *image = NULL;
	r = container_id(u, container, &cid, err);
	const char *const commit[] = {"commit", "--quiet",  "--author", author,
	                              cid,      refs.local, NULL};
	if (r == 0)
		r = podman_step(u, commit, &image, err);
	if (r > 0)
		r = phpc_error_set(err, EIO, "podman commit of container %.12s failed (above)",
		                   cid);
	const char *const tag[] = {"tag", refs.local, refs.remote, NULL};
	const char *const push[] = {"push", refs.remote, NULL};
	int pushed = -1;
	if (r == 0) {
		r = podman_step(u, tag, NULL, err);
		if (r > 0)
			r = phpc_error_set(err, EIO, "podman tag failed (above)");
	}
	if (r == 0) {
		r = podman_step(u, push, NULL, err);
		pushed = r;
		if (r > 0)
			r = phpc_error_set(
			    err, EIO,
			    "pushing to %s failed (above); nothing was kept: run the "
			    "same upload again once the registry answers "
			    "(podman-hpc doctor; your site's registry)",
			    registry);
	}
	/* The image lives in the registry now; the local copy only fills the
	 * node's disk. After a failure it goes too, quietly: nothing half-done
	 * stays, and the container is there to try again. */
	if (image && *first_line(image)) {
		const char *const rm[] = {"image", "rm", refs.local, refs.remote, NULL};
		_cleanup_free_ char *rm_out = NULL;
		if (pushed == 0) {
			if (podman_step(u, rm, &rm_out, NULL) != 0)
				r = phpc_error_set(
				    err, EIO,
				    "the image was pushed, but removing the local copy "
				    "failed (podman-hpc rmi %s)",
				    refs.local);
		} else {
			/* one at a time: the tag may not exist */
			for (int i = 2; i < 4; i++) {
				const char *const one[] = {"image", "rm", rm[i], NULL};
				free(rm_out);
				rm_out = NULL;
				podman_run(u, one, &rm_out, true, NULL);
			}
		}
	}
	if (r == 0)
		print_summary(u, &refs, cid);
	phpc_upload_refs_clear(&refs);
	return r;
}

int cmd_upload(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, &phpc_upload_spec, &o, err);
	if (r == 0 && (o.pos.n < 1 || o.pos.n > 2))
		r = phpc_error_set(err, EINVAL,
		                   "upload: expected NAME and at most one CONTAINER "
		                   "(podman-hpc upload NAME [CONTAINER])");
	if (r == 0)
		r = phpc_ctx_load_config(ctx, err);
	const char *registry = r == 0 ? phpc_cfg_str(ctx->cfg, PHPC_K_UPLOAD_REGISTRY) : NULL;
	if (r == 0 && !*registry)
		r = phpc_error_set(err, EINVAL,
		                   "this site has no registry to upload to: its admin sets "
		                   "upload_registry in %s (or PODMANHPC_UPLOAD_REGISTRY=HOST:PORT)",
		                   ctx->cfg->config_file ? ctx->cfg->config_file
		                                         : "/etc/podman_hpc/podman_hpc.yaml");
	_cleanup_free_ char *podman_bin = NULL;
	if (r == 0)
		r = phpc_ctx_podman_path(ctx, &podman_bin, err);
	if (r == 0)
		r = phpc_ctx_check_dirs(ctx, err);
	if (r == 0)
		r = phpc_ctx_prepare_storage(ctx, err);
	if (r == 0) {
		struct uploader u = {.ctx = ctx, .podman = podman_bin};
		u.env = phpc_ctx_podman_env(ctx, false);
		r = upload(&u, registry, o.pos.v[0], o.pos.n > 1 ? o.pos.v[1] : NULL, err);
		phpc_strv_free(u.env);
		phpc_strv_clear(&u.ran);
	}
	phpc_opt_result_clear(&o);
	if (r == PHPC_OPT_HELP)
		return 0;
	return r;
}
