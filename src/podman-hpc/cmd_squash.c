/* migrate, rmsqi and pull: squashed images in the squash store (squash_dir),
 * which every node's podman reads as an additional read-only image store. */
#include "commands.h"
#include "env.h"
#include "fsutil.h"
#include "proc.h"
#include "squash.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

/* The hidden argument of `podman-hpc migrate` that runs the guard of
 * mksquashfs (phpc_run_guarded) instead of a migrate. */
#define GUARD_OPT "phpc-internal-guard"
#define GUARD_ARG "--" GUARD_OPT

static const struct phpc_opt migrate_opts[] = {
    {"compress", '\0', "ALG",
     "compression of the squash file: lz4, zstd, gzip, xz or lzo\n"
     "(default: the site's squash_compression)",
     false, false},
    /* build_squash runs `podman-hpc migrate --phpc-internal-guard MKSQUASHFS
     * ARGS...` (run_guard): only as the first argument, the rest is argv */
    {GUARD_OPT, '\0', NULL, NULL, true, true},
    {NULL, '\0', NULL, NULL, false, false},
};

const struct phpc_cmd_spec phpc_migrate_spec = {
    .name = "migrate",
    .usage = "[options] IMAGE [IMAGE...]",
    .summary = "Squash local images into the shared squash store",
    .description = "Builds one squashfs file per image in the squash store (--squash-dir,\n"
                   "$SQUASH_DIR, $SCRATCH/storage or run_root/squash), which podman on every\n"
                   "node reads as a read-only image store. Every name of the image is migrated;\n"
                   "migrating it again updates its names.",
    .example = "podman-hpc migrate myapp:latest\n"
               "podman-hpc migrate --compress zstd docker.io/library/python:3.12",
    .opts = migrate_opts,
};

static const struct phpc_opt rmsqi_opts[] = {
    {"force", 'f', NULL,
     "remove it even when a local container was created from it\n"
     "(those containers cannot start again)",
     false, false},
    {NULL, '\0', NULL, NULL, false, false},
};

const struct phpc_cmd_spec phpc_rmsqi_spec = {
    .name = "rmsqi",
    .usage = "[options] IMAGE [IMAGE...]",
    .summary = "Remove squashed images, or one of their names",
    .description = "Removes the image and every layer and file that no other squashed image\n"
                   "uses; given one of several names of an image, removes only that name.\n"
                   "Refuses an image that a container of the local store, stopped or running,\n"
                   "was created from, unless --force.",
    .example = "podman-hpc rmsqi myapp:latest",
    .opts = rmsqi_opts,
};

/* pull's options are podman pull's: `pull --help` is podman's
 * (phpc_print_pull_help); this spec names and lists the command. */
const struct phpc_cmd_spec phpc_pull_spec = {
    .name = "pull",
    .usage = "[podman pull options] IMAGE [IMAGE...]",
    .summary = "Pull images with podman, then migrate them",
};

static char **podman_cmd(struct phpc_ctx *ctx, const char *podman, const char *const *words)
{
	struct phpc_strv a = {0};
	phpc_ctx_podman_cmd(ctx, podman, words, &a);
	return phpc_strv_steal(&a);
}

/* The full ID of a local image, as podman resolves names (short names,
 * aliases, ID prefixes). */
static int resolve_id(struct phpc_ctx *ctx, const char *podman, const char *name, char **id,
                      struct phpc_error **err)
{
	static const char *const words[] = {"image", "inspect", NULL};
	struct phpc_strv a = {0};
	_cleanup_strvp_ char **base = podman_cmd(ctx, podman, words);
	phpc_strv_extend(&a, base);
	phpc_strv_add(&a, "--format");
	phpc_strv_add(&a, "{{.Id}}");
	phpc_strv_add(&a, phpc_strip_transport(name));
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
	_cleanup_free_ char *out = NULL;
	int status = 0;
	int r = phpc_spawn_capture_quiet(a.v, env, &out, &status, err);
	phpc_strv_clear(&a);
	if (r < 0)
		return r;
	out[strcspn(out, "\n")] = '\0';
	if (phpc_exit_code(status) != 0 || strlen(out) != 64)
		return phpc_error_set(err, ENOENT,
		                      "image \"%s\" not found in the local store %s; "
		                      "'podman-hpc images' lists the images",
		                      name, phpc_cfg_str(ctx->cfg, PHPC_K_GRAPH_ROOT));
	*id = steal_pointer(&out);
	return 0;
}

struct builder {
	struct phpc_ctx *ctx;
	const char *podman;
	const char *compression;
	char *mksquashfs; /* resolved path */
	char *self;       /* this program, to run the guard */
};

static int self_path(char **out, struct phpc_error **err)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n < 0)
		return phpc_error_errno(err, errno, "cannot find this program (/proc/self/exe)");
	buf[n] = '\0';
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof(deleted) - 1;
	if (n >= (ssize_t)sizeof(buf) - 1 || ((size_t)n > dl && streq(buf + n - dl, deleted)))
		return phpc_error_set(
		    err, ENOENT, "this program (%s) was removed or replaced while it ran", buf);
	*out = phpc_xstrdup(buf);
	return 0;
}

/* Runs argv with a pipe as stdin whose write end only this process holds,
 * until argv ends: the guard inside learns from it that we died. */
static int spawn_watched(char *const *argv, char *const *envp, int *status, struct phpc_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (r != 0) {
		close(p[1]);
		return phpc_error_errno(err, r, "cannot run %s", argv[0]);
	}
	r = 0;
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR) {
			r = phpc_error_errno(err, errno, "waiting for %s", argv[0]);
			break;
		}
	close(p[1]);
	return r;
}

/* Runs mksquashfs inside `podman unshare`, so that a rootless store's files
 * are read with the ids the container sees, using every core; under the
 * guard, so that it does not outlive us. */
static int build_squash(void *data, const char *image_id, const char *layer_dir, const char *out,
                        struct phpc_error **err)
{
	struct builder *b = data;
	const char *mksq = b->mksquashfs;
	/* root needs no user namespace (and podman refuses unshare for root) */
	static const char *const unshare[] = {"unshare", NULL};
	static const char *const none[] = {NULL};
	_cleanup_strvp_ char **pod = podman_cmd(b->ctx, b->podman, none);
	_cleanup_strvp_ char **pre = podman_cmd(b->ctx, b->podman, unshare);
	struct phpc_strv a = {0};
	if (geteuid() != 0)
		phpc_strv_extend(&a, pre);
	if (layer_dir) {
		/* one layer: its directory is the image's file system */
		const char *const m[] = {b->self,     "migrate", GUARD_ARG,      mksq,
		                         layer_dir,   out,       "-comp",        b->compression,
		                         "-noappend", "-quiet",  "-no-progress", NULL};
		phpc_strv_extend(&a, (char *const *)m);
	} else {
		/* several layers: read the image as podman mounts it */
		static const char *const script =
		    "id=$1 out=$2 mksq=$3 comp=$4 self=$5; shift 5; "
		    "m=$(\"$@\" image mount \"$id\") || exit 125; "
		    "\"$self\" migrate " GUARD_ARG " \"$mksq\" \"$m\" \"$out\" -comp \"$comp\" "
		    "-noappend -quiet -no-progress; "
		    "rc=$?; \"$@\" image umount \"$id\" >/dev/null; exit $rc";
		const char *const m[] = {"/bin/sh", "-c", script,         "sh",    image_id,
		                         out,       mksq, b->compression, b->self, NULL};
		phpc_strv_extend(&a, (char *const *)m);
		phpc_strv_extend(&a, pod); /* "$@": podman and its flags */
	}
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(b->ctx, false);
	int status = 0;
	int r = spawn_watched(a.v, env, &status, err);
	phpc_strv_clear(&a);
	if (r == 0 && phpc_exit_code(status) != 0)
		r = phpc_error_set(err, EIO,
		                   "mksquashfs failed (exit %d): is the squash store's file system "
		                   "full or not writable?",
		                   phpc_exit_code(status));
	return r;
}

static int migrate_id(struct phpc_ctx *ctx, const char *podman, const char *id, const char *comp,
                      struct phpc_error **err)
{
	const char *bin = phpc_cfg_str(ctx->cfg, PHPC_K_MKSQUASHFS_BIN);
	struct builder b = {ctx, podman, comp,
	                    phpc_find_executable(bin, phpc_env_get(ctx->envp, "PATH")), NULL};
	if (!b.mksquashfs)
		return phpc_error_set(err, ENOENT,
		                      "mksquashfs \"%s\" not found (mksquashfs_bin, set by %s; "
		                      "install squashfs-tools)",
		                      bin, ctx->cfg->v[PHPC_K_MKSQUASHFS_BIN].source);
	int r = self_path(&b.self, err);
	if (r < 0) {
		free(b.mksquashfs);
		return r;
	}
	struct phpc_migrate_req req = {
	    .src_dir = phpc_cfg_str(ctx->cfg, PHPC_K_GRAPH_ROOT),
	    .dst_dir = ctx->cfg->squash_dir,
	    .image_id = id,
	    .build = build_squash,
	    .data = &b,
	};
	bool already = false;
	r = phpc_migrate(&req, &already, err);
	free(b.mksquashfs);
	free(b.self);
	if (r == 0)
		printf("%s %.12s in %s\n", already ? "Updated the names of" : "Migrated", id,
		       ctx->cfg->squash_dir);
	return r;
}

/* The guard of mksquashfs, run by build_squash inside `podman unshare`:
 * `podman-hpc migrate --phpc-internal-guard MKSQUASHFS ARGS...`. */
static int run_guard(struct phpc_ctx *ctx, char **argv, struct phpc_error **err)
{
	if (!argv || !argv[0] || !strchr(argv[0], '/'))
		return phpc_error_set(err, EINVAL, "%s: which program (a path)?", GUARD_ARG);
	int status = 0;
	int r = phpc_run_guarded(argv, ctx->envp, STDIN_FILENO, &status, err);
	return r < 0 ? r : phpc_exit_code(status);
}

static int migrate_names(struct phpc_ctx *ctx, const char *comp, const struct phpc_strv *names,
                         struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	if (r < 0)
		return r;
	if (!comp)
		comp = phpc_cfg_str(ctx->cfg, PHPC_K_SQUASH_COMPRESSION);
	_cleanup_free_ char *podman = NULL;
	r = phpc_ctx_podman_path(ctx, &podman, err);
	if (r == 0)
		r = phpc_ctx_prepare_storage(ctx, err);
	for (size_t i = 0; r == 0 && i < names->n; i++) {
		_cleanup_free_ char *id = NULL;
		r = resolve_id(ctx, podman, names->v[i], &id, err);
		if (r == 0)
			r = migrate_id(ctx, podman, id, comp, err);
	}
	return r;
}

int cmd_migrate(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, &phpc_migrate_spec, &o, err);
	if (r == PHPC_OPT_HELP)
		r = 0;
	else if (r == 0 && phpc_opt_given(&phpc_migrate_spec, &o, GUARD_OPT))
		r = run_guard(ctx, o.pos.v, err);
	else if (r == 0 && o.pos.n == 0)
		r = phpc_error_set(err, EINVAL, "migrate: which image? (podman-hpc migrate IMAGE)");
	else if (r == 0)
		r = migrate_names(ctx, phpc_opt_get(&phpc_migrate_spec, &o, "compress"), &o.pos,
		                  err);
	phpc_opt_result_clear(&o);
	return r; /* the guard's: mksquashfs's exit code */
}

static int rmsqi_names(struct phpc_ctx *ctx, bool force, const struct phpc_strv *names,
                       struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	/* a squash store another user planted must not be acted on: removal
	 * follows its records */
	if (r == 0)
		r = phpc_ctx_check_dirs(ctx, err);
	struct phpc_rmsqi_req req = {.force = force};
	if (r == 0) {
		req.dst_dir = ctx->cfg->squash_dir;
		req.graph_root = phpc_cfg_str(ctx->cfg, PHPC_K_GRAPH_ROOT);
		req.run_root = phpc_cfg_str(ctx->cfg, PHPC_K_RUN_ROOT);
	}
	for (size_t i = 0; r == 0 && i < names->n; i++) {
		_cleanup_strv_ struct phpc_strv notes = {0};
		r = phpc_rmsqi(&req, names->v[i], &notes, err);
		for (size_t k = 0; k < notes.n; k++)
			printf("%s\n", notes.v[k]);
	}
	return r;
}

int cmd_rmsqi(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, &phpc_rmsqi_spec, &o, err);
	if (r == PHPC_OPT_HELP)
		r = 0;
	else if (r == 0 && o.pos.n == 0)
		r = phpc_error_set(err, EINVAL, "rmsqi: which image? (podman-hpc rmsqi IMAGE)");
	else if (r == 0)
		r = rmsqi_names(ctx, phpc_opt_given(&phpc_rmsqi_spec, &o, "force"), &o.pos, err);
	phpc_opt_result_clear(&o);
	return r;
}

/* --help or -h among podman pull's options (before "--"), as podman sees it. */
static bool wants_help(const struct phpc_cli *cli)
{
	for (size_t i = 0; i < cli->args.n && !streq(cli->args.v[i], "--"); i++)
		if (streq(cli->args.v[i], "--help") || streq(cli->args.v[i], "-h"))
			return true;
	return false;
}

/* podman pull, then migrate what it pulled, by ID (what podman printed). */
int cmd_pull(struct phpc_ctx *ctx, struct phpc_error **err)
{
	if (wants_help(&ctx->cli))
		return phpc_print_pull_help(ctx, err);
	int r = phpc_ctx_load_config(ctx, err);
	_cleanup_free_ char *podman = NULL;
	if (r == 0)
		r = phpc_ctx_podman_path(ctx, &podman, err);
	if (r == 0)
		r = phpc_ctx_prepare_storage(ctx, err);
	if (r < 0)
		return r;
	phpc_plan_init(&ctx->plan, &ctx->cli);
	_cleanup_strvp_ char **argv = phpc_podman_argv(ctx->cfg, NULL, &ctx->plan, podman);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
	_cleanup_free_ char *out = NULL;
	int status = 0;
	r = phpc_spawn_capture(argv, env, &out, NULL, &status, err);
	if (r < 0)
		return r;
	if (phpc_exit_code(status) != 0)
		return phpc_exit_code(status); /* podman said why */
	const char *comp = phpc_cfg_str(ctx->cfg, PHPC_K_SQUASH_COMPRESSION);
	for (char *line = strtok(out, "\n"); r == 0 && line; line = strtok(NULL, "\n")) {
		if (strlen(line) != 64)
			continue;
		phpc_note("migrating %.12s to %s", line, ctx->cfg->squash_dir);
		r = migrate_id(ctx, podman, line, comp, err);
	}
	return r;
}
