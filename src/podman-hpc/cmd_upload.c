/* podman-hpc upload NAME [CONTAINER]: the user's last (or the named)
 * container, committed as USER/NAME and pushed to the site registry, so that
 * every node (and Apptainer) can pull it; the local copy is removed, the
 * container stays. docs/site-tools.md. */
#include "commands.h"
#include "fsutil.h"
#include "hooks.h"
#include "jobspec.h"
#include "proc.h"
#include "registry.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
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

/* The full ID of the named container, or of the last one created, and
 * whether it ran with podman-hpc's hook (site modules). */
static int container_id(struct uploader *u, const char *name, char **id, bool *hooked,
                        struct phpc_error **err)
{
	_cleanup_free_ char *last = NULL, *out = NULL;
	if (!name) {
		const char *const latest[] = {"ps",       "--all",   "--latest",
		                              "--format", "{{.ID}}", NULL};
		int rc = podman_run(u, latest, &last, true, err);
		if (rc < 0)
			return rc;
		if (rc != 0 || !*first_line(last))
			return phpc_error_set(
			    err, ENOENT,
			    "you have no container to upload: make one first "
			    "(podman-hpc run -it --name work IMAGE bash), or name it");
	}
	const char *const inspect[] = {
	    "container", "inspect",
	    "--format",  "{{.Id}} {{index .Config.Annotations \"" PHPC_HOOK_ANNOTATION "\"}}",
	    "--",        name ? name : last,
	    NULL};
	int rc = podman_run(u, inspect, &out, true, err);
	if (rc < 0)
		return rc;
	first_line(out);
	char *sp = strchr(out, ' ');
	if (rc != 0 || !sp || sp - out != 64)
		return phpc_error_set(err, ENOENT,
		                      "no container \"%s\" ('podman-hpc ps -a' lists yours)",
		                      name ? name : last);
	*sp = '\0';
	*hooked = streq(sp + 1, "true");
	*id = steal_pointer(&out);
	return 0;
}

/* Whether a local image has this name: upload would move the name to its
 * commit and then remove it. */
static int refuse_existing(struct uploader *u, const char *ref, struct phpc_error **err)
{
	const char *const exists[] = {"image", "exists", ref, NULL};
	_cleanup_free_ char *out = NULL;
	int rc = podman_run(u, exists, &out, true, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return phpc_error_set(
		    err, EEXIST,
		    "you have an image named %s already, which upload would replace "
		    "and remove: upload under another NAME or TAG, or remove it "
		    "first (podman-hpc rmi %s)",
		    ref, ref);
	return 0;
}

/* podman push, recording the digest of what arrived: a batch script that
 * names it gets exactly this image, whoever pushes the tag later. */
static int push(struct uploader *u, const char *ref, char **digest, struct phpc_error **err)
{
	const char *dir = phpc_cfg_str(u->ctx->cfg, PHPC_K_CONFIG_HOME);
	_cleanup_free_ char *path = phpc_xasprintf("%s/.upload-digest.XXXXXX", dir);
	_cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot create a file in %s", dir);
	const char *const words[] = {"push", ref, NULL};
	const char *const with_digest[] = {"push", "--digestfile", path, ref, NULL};
	_cleanup_free_ char *line = phpc_job_cmd_string((char *const *)words);
	phpc_strv_addf(&u->ran, "podman-hpc %s", line);
	int rc = podman(u, with_digest, NULL, err);
	if (rc == 0) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (phpc_read_fd(fd, path, &text, &len, NULL) == 0 &&
		    str_has_prefix(text, "sha256:"))
			*digest = phpc_xstrdup(first_line(text));
	}
	unlink(path);
	return rc;
}
/* "Full Name" from the GECOS field, else the user name: the image's author. */
static char *author_of(const struct passwd *pw)
{
	const char *g = pw->pw_gecos ? pw->pw_gecos : "";
	size_t n = strcspn(g, ",");
	return n ? phpc_xstrndup(g, n) : phpc_xstrdup(pw->pw_name);
}

static void print_summary(const struct uploader *u, const struct phpc_upload_refs *refs,
                          const char *cid, const char *registry, const char *digest)
{
	printf("podman-hpc upload: ran these commands for you:\n\n");
	for (size_t i = 0; i < u->ran.n; i++)
		printf("  %s\n", u->ran.v[i]);
	printf("\nYour image is in the site registry as %s", refs->remote);
	if (digest)
		printf(",\nexactly this one as %s/%s@%s", registry, refs->repo, digest);
	printf(".\nThe container %.12s is unchanged (podman-hpc rm %.12s removes it).\n\n", cid,
	       cid);
	/* A registry on loopback is this node's own: a compute node's
	 * 127.0.0.1 is the compute node. */
	if (phpc_registry_addr_is_loopback(registry))
		printf("To run it on this node (the registry listens on %s: other nodes\n"
		       "reach it only if your site gives it a cluster address):\n\n",
		       registry);
	else
		printf("To run it on any node (in a batch script too):\n\n");
	printf("  podman-hpc pull %s\n"
	       "  podman-hpc run --rm %s [COMMAND]\n\n"
	       "or with Apptainer (--no-https: the registry speaks plain HTTP):\n\n"
	       "  apptainer pull --no-https docker://%s\n"
	       "  apptainer exec %s_%s.sif [COMMAND]\n",
	       refs->remote_nt, refs->remote_nt, refs->remote_nt, strrchr(refs->repo, '/') + 1,
	       refs->tag);
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
	_cleanup_free_ char *cid = NULL, *author = author_of(pw), *image = NULL, *digest = NULL;
	bool hooked = false;
	r = container_id(u, container, &cid, &hooked, err);
	if (r == 0)
		r = refuse_existing(u, refs.local, err);
	if (r == 0)
		r = refuse_existing(u, refs.remote, err);
	if (r == 0 && hooked)
		phpc_warn("container %.12s ran with site modules (such as --gpu or --mpi): what "
		          "they put in it (mount points, ld.so.cache) goes into the image too; for "
		          "a clean image, upload a container started without module flags",
		          cid);
	const char *const commit[] = {"commit", "--quiet",  "--author", author,
	                              cid,      refs.local, NULL};
	if (r == 0)
		r = podman_step(u, commit, &image, err);
	if (r > 0)
		r = phpc_error_set(err, EIO, "podman commit of container %.12s failed (above)",
		                   cid);
	const char *const tag[] = {"tag", refs.local, refs.remote, NULL};
	int pushed = -1;
	if (r == 0) {
		r = podman_step(u, tag, NULL, err);
		if (r > 0)
			r = phpc_error_set(err, EIO, "podman tag failed (above)");
	}
	if (r == 0) {
		r = push(u, refs.remote, &digest, err);
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
	 * stays, and the container is there to try again. Both names were
	 * checked free before the commit: they are upload's own. */
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
		print_summary(u, &refs, cid, registry, digest);
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
