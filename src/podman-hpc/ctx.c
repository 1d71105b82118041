/* The steps every command of podman-hpc shares (ctx.h). */
#include "ctx.h"
#include "buildmnt.h"
#include "env.h"
#include "phpc-build.h"
#include "fsutil.h"
#include "hooks.h"
#include "podconf.h"
#include "request.h"
#include "safedir.h"
#include "store.h"
#include "storeview.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

/* One line on stderr: the program's name, so the user knows who speaks
 * (errors are main()'s "Error: ", as podman's). */
static void say(const char *what, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void say(const char *what, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "podman-hpc: %s", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void phpc_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("warning: ", fmt, ap);
	va_end(ap);
}

void phpc_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("", fmt, ap);
	va_end(ap);
}

static int load_config(struct phpc_ctx *ctx, bool print_warnings, struct phpc_error **err)
{
	static const char *const files[] = {
	    "/etc/podman_hpc/podman_hpc.yaml",
	    PHPC_SYSCONFDIR "/podman_hpc/podman_hpc.yaml",
	    NULL,
	};
	if (ctx->cfg)
		return 0;
	struct phpc_config_input in = {
	    .envp = ctx->envp,
	    .uid = getuid(),
	    .squash_dir_opt = ctx->cli.squash_dir,
	    .additional_stores_opt = ctx->cli.additional_stores,
	    .search_files = files,
	    .default_mount_program = PHPC_BINDIR "/podman-hpc-mount",
	    .default_modules_dir = PHPC_SYSCONFDIR "/podman_hpc/modules.d",
	    .default_hooks_dir = PHPC_DATADIR "/containers/oci/hooks.d",
	};
	int r = phpc_config_load(&in, &ctx->cfg, err);
	if (r < 0)
		return r;
	for (size_t i = 0; print_warnings && i < ctx->cfg->warnings.n; i++)
		phpc_warn("%s", ctx->cfg->warnings.v[i]);
	return 0;
}

int phpc_ctx_load_config(struct phpc_ctx *ctx, struct phpc_error **err)
{
	return load_config(ctx, true, err);
}

int phpc_ctx_load_config_quiet(struct phpc_ctx *ctx, struct phpc_error **err)
{
	return load_config(ctx, false, err);
}

int phpc_ctx_load_modules(struct phpc_ctx *ctx, struct phpc_error **err)
{
	if (ctx->mods.m)
		return 0;
	int r = phpc_modules_load(phpc_cfg_str(ctx->cfg, PHPC_K_MODULES_DIR), &ctx->mods, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->mods.warnings.n; i++)
		phpc_warn("%s", ctx->mods.warnings.v[i]);
	return 0;
}

void phpc_ctx_podman_cmd(struct phpc_ctx *ctx, const char *podman, const char *const *words,
                         struct phpc_strv *out)
{
	struct phpc_plan plain;
	phpc_plan_init(&plain, &ctx->cli);
	phpc_strv_add(out, podman);
	phpc_strv_extend(out, ctx->cli.globals.v);
	phpc_default_args(ctx->cfg, &plain, PHPC_KIND_OTHER, out);
	phpc_strv_extend(out, (char *const *)words);
}

char **phpc_ctx_podman_env(struct phpc_ctx *ctx, bool pmi_fd)
{
	char **env = phpc_podman_env(ctx->envp, phpc_cfg_str(ctx->cfg, PHPC_K_CONFIG_HOME), pmi_fd);
	if (!ctx->plan.env.n)
		return env;
	struct phpc_strv all = {0};
	phpc_strv_extend(&all, env);
	phpc_strv_extend(&all, ctx->plan.env.v);
	phpc_strv_free(env);
	return phpc_strv_steal(&all);
}

int phpc_ctx_podman_path(struct phpc_ctx *ctx, char **out, struct phpc_error **err)
{
	const char *bin = phpc_cfg_str(ctx->cfg, PHPC_K_PODMAN_BIN);
	*out = phpc_find_executable(bin, phpc_env_get(ctx->envp, "PATH"));
	if (!*out)
		return phpc_error_set(
		    err, ENOENT, "podman binary \"%s\" not found%s (podman_bin, set by %s)", bin,
		    strchr(bin, '/') ? "" : " on PATH", ctx->cfg->v[PHPC_K_PODMAN_BIN].source);
	return 0;
}

enum phpc_dir_kind phpc_ctx_squash_dir_kind(const struct phpc_config *cfg)
{
	/* The default squash store is the user's own; one the user or the
	 * site named is read by podman, so others must not write it. */
	return streq(cfg->squash_dir_source, "default") ? PHPC_DIR_PRIVATE : PHPC_DIR_STORE;
}

int phpc_ctx_check_dirs(struct phpc_ctx *ctx, struct phpc_error **err)
{
	const struct phpc_config *cfg = ctx->cfg;
	static const enum phpc_key own[] = {PHPC_K_GRAPH_ROOT, PHPC_K_RUN_ROOT, PHPC_K_CONFIG_HOME};
	uid_t uid = getuid();
	int r = 0;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(own); i++) {
		/* the user's own --root/--runroot are checked by podman's rules */
		const char *flag = own[i] == PHPC_K_GRAPH_ROOT ? "--root"
		                   : own[i] == PHPC_K_RUN_ROOT ? "--runroot"
		                                               : NULL;
		if (flag && phpc_cli_global(&ctx->cli, flag))
			continue;
		_cleanup_free_ char *what = phpc_config_setting(cfg, own[i]);
		r = phpc_dir_check(phpc_cfg_str(cfg, own[i]), PHPC_DIR_PRIVATE, uid, what, err);
	}
	if (r < 0)
		return r;
	_cleanup_free_ char *sw =
	    phpc_xasprintf("the squash directory (%s)", cfg->squash_dir_source);
	r = phpc_dir_check(cfg->squash_dir, phpc_ctx_squash_dir_kind(cfg), uid, sw, err);
	if (r == -ENOENT) {
		/* created by phpc_store_init, in a directory checked here */
		phpc_error_freep(err);
		r = 0;
	}
	for (char **p = cfg->all_additional_stores; r == 0 && *p; p++) {
		r = phpc_dir_check(*p, PHPC_DIR_STORE, uid, "additional_stores", err);
		if (r == -ENOENT) {
			phpc_error_freep(err);
			r = 0;
		}
	}
	return r;
}

/* run: podman reads a node-local view of the image instead of the squash
 * store, which is on a shared file system (storeview.h). When there is no
 * view (an image not squashed, a name that could mean several) or it cannot
 * be made, the store itself: slower, never different. */
static void use_squash_view(struct phpc_ctx *ctx)
{
	const struct phpc_config *cfg = ctx->cfg;
	/* the views live in run_root, checked as the user's own: not with a
	 * --runroot of the user's choosing, which is not checked */
	if (cfg->squash_dir[0] != '/' || phpc_cli_global(&ctx->cli, "--runroot"))
		return;
	/* another image of the store named among the options (--mount
	 * type=image,source=...) must stay visible to podman */
	for (int i = 0; i < ctx->cli.image_idx; i++)
		if (strstr(ctx->cli.args.v[i], "type=image"))
			return;
	_cleanup_free_ char *views =
	    phpc_xasprintf("%s/podman-hpc/views", phpc_cfg_str(cfg, PHPC_K_RUN_ROOT));
	/* podman splits --storage-opt values at commas */
	if (strchr(views, ',') || strchr(cfg->squash_dir, ','))
		return;
	struct phpc_view_req req = {
	    .store = cfg->squash_dir,
	    .views = views,
	    .image = ctx->cli.args.v[ctx->cli.image_idx],
	};
	char *view = NULL;
	bool built = false;
	_cleanup_error_ struct phpc_error *e = NULL;
	int r = phpc_store_view(&req, &view, &built, &e);
	if (r < 0) {
		phpc_warn("%s; podman reads the squash store itself", e ? e->msg : strerror(-r));
		return;
	}
	free(ctx->plan.squash_view);
	ctx->plan.squash_view = view;
}

/* Files podman reads must be current before it starts. */
int phpc_ctx_prepare_storage(struct phpc_ctx *ctx, struct phpc_error **err)
{
	const struct phpc_config *cfg = ctx->cfg;
	if (!cfg->v[PHPC_K_USE_DEFAULT_ARGS].b)
		return 0;
	int r = phpc_ctx_check_dirs(ctx, err);
	if (r < 0)
		return r;
	r = phpc_podconf_update(cfg, NULL, err);
	if (r < 0)
		return r;
	enum phpc_cmd_kind k = ctx->cli.kind;
	if (k != PHPC_KIND_RUN && k != PHPC_KIND_IMAGES)
		return 0;
	/* one stat per call: every task of a job does this on shared storage */
	_cleanup_free_ char *index =
	    phpc_xasprintf("%s/overlay-images/images.json", cfg->squash_dir);
	struct stat st;
	if (stat(index, &st) < 0)
		return phpc_store_init(cfg->squash_dir, err);
	if (k == PHPC_KIND_RUN && ctx->modules_parsed && ctx->cli.image_idx >= 0 &&
	    (size_t)ctx->cli.image_idx < ctx->cli.args.n)
		use_squash_view(ctx);
	return 0;
}

static const char *container_env(const char *name, void *data)
{
	struct phpc_ctx *ctx = data;
	return phpc_cli_container_env(&ctx->cli, ctx->envp, name);
}

/* LOG_PLUGIN as the user typed it (-e LOG_PLUGIN=PATH), made absolute with
 * its directory's symlinks resolved here, as the user: the hook opens it
 * without following any link. */
static int log_plugin_path(struct phpc_ctx *ctx, char **out, struct phpc_error **err)
{
	const char *v = phpc_cli_container_env(&ctx->cli, NULL, "LOG_PLUGIN");
	*out = NULL;
	if (!v || !*v)
		return 0;
	const char *slash = strrchr(v, '/');
	const char *base = slash ? slash + 1 : v;
	_cleanup_free_ char *dir =
	    slash ? phpc_xstrndup(v, (size_t)(slash - v)) : phpc_xstrdup(".");
	if (!*dir) {
		free(dir);
		dir = phpc_xstrdup("/");
	}
	if (!*base || streq(base, ".") || streq(base, ".."))
		return phpc_error_set(err, EINVAL, "LOG_PLUGIN=%s does not name a file", v);
	if (strlen(base) > NAME_MAX)
		return phpc_error_set(err, ENAMETOOLONG,
		                      "LOG_PLUGIN: the file name is longer than %d bytes",
		                      NAME_MAX);
	_cleanup_free_ char *real = realpath(dir, NULL);
	if (!real)
		return phpc_error_errno(err, errno, "LOG_PLUGIN=%s: cannot use directory %s", v,
		                        dir);
	*out = phpc_xasprintf("%s/%s", streq(real, "/") ? "" : real, base);
	if (strlen(*out) >= PATH_MAX) {
		free(steal_pointer(out));
		return phpc_error_set(err, ENAMETOOLONG,
		                      "LOG_PLUGIN: the path is longer than %d bytes", PATH_MAX - 1);
	}
	return 0;
}

/* The hook's request (request.h): the modules the user turned on (their
 * flags, and -e VAR=VALUE typed for a module's variable as NERSC allows),
 * with their dependencies, the user's values of the rules' variables
 * ($HOME:$HOME means the user's home, not the container's HOME=/root), and
 * LOG_PLUGIN. Nothing of the image's: it never reaches this decision. */
static int hook_request(struct phpc_ctx *ctx, struct phpc_error **err)
{
	_cleanup_free_ bool *on = phpc_xcalloc(ctx->mods.n ? ctx->mods.n : 1, sizeof(bool));
	bool any = false;
	for (size_t i = 0; i < ctx->mods.n; i++) {
		const char *e = ctx->mods.m[i].env;
		on[i] = ctx->plan.enabled[i] ||
		        (e && phpc_str_is_truthy(phpc_cli_container_env(&ctx->cli, NULL, e)));
	}
	int r = phpc_modules_resolve(&ctx->mods, on, NULL, err);
	if (r < 0)
		return r;
	_cleanup_(phpc_request_clear) struct phpc_request req = {0};
	r = log_plugin_path(ctx, &req.log, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ctx->mods.n; i++)
		if (on[i] && ctx->mods.m[i].env) {
			phpc_strv_add(&req.modules, ctx->mods.m[i].name);
			any = true;
		}
	if (!any && !req.log)
		return 0;
	struct phpc_strv names = {0};
	phpc_modules_rule_vars(&ctx->mods, on, &names);
	for (size_t i = 0; i < names.n; i++) {
		const char *v = phpc_cli_container_env(&ctx->cli, ctx->envp, names.v[i]);
		if (v)
			phpc_strv_addf(&req.env, "%s=%s", names.v[i], v);
	}
	phpc_strv_clear(&names);
	const char *md = phpc_cfg_str(ctx->cfg, PHPC_K_MODULES_DIR);
	req.modules_dir = realpath(md, NULL);
	if (!req.modules_dir)
		req.modules_dir = phpc_xstrdup(md);
	const char *root = phpc_cli_global(&ctx->cli, "--root");
	r = phpc_request_store(root ? root : phpc_cfg_str(ctx->cfg, PHPC_K_GRAPH_ROOT), getuid(),
	                       &req, err);
	if (r < 0)
		return phpc_error_prefix(err, "cannot pass the site modules to the hook");
	ctx->plan.hook_request = steal_pointer(&req.token);
	return 0;
}

/* On build, the modules' mounts go through podman-hpc-build-runtime, which
 * removes the mount points the runtime creates before buildah commits a RUN
 * step (buildmnt.h). A user who chose a runtime keeps it. */
static int build_runtime(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct phpc_strv *vols = &ctx->plan.volumes;
	if (!vols->n || phpc_cli_global(&ctx->cli, "--runtime"))
		return 0;
	for (size_t i = 0; i < ctx->cli.args.n; i++)
		if (str_has_prefix(ctx->cli.args.v[i], "--runtime"))
			return 0;
	struct phpc_strv dests = {0};
	for (size_t i = 0; i + 1 < vols->n; i += 2) {
		const char *v = strchr(vols->v[i + 1], ':'); /* SRC:DST[:ro], no ':' in either */
		if (v)
			phpc_strv_push(&dests, phpc_xstrndup(v + 1, strcspn(v + 1, ":")));
	}
	_cleanup_free_ char *joined = phpc_strv_join(dests.v, ":");
	phpc_strv_clear(&dests);
	_cleanup_free_ char *state =
	    phpc_xasprintf("%s/podman-hpc/build", phpc_cfg_str(ctx->cfg, PHPC_K_RUN_ROOT));
	int r = phpc_dir_check(state, PHPC_DIR_PRIVATE, getuid(), "run_root", err);
	if (r < 0)
		return r;
	phpc_strv_add(vols, "--runtime");
	phpc_strv_add(vols, PHPC_BINDIR "/podman-hpc-build-runtime");
	phpc_strv_addf(&ctx->plan.env, PHPC_BUILD_ENV_STATE "=%s", state);
	phpc_strv_addf(&ctx->plan.env, PHPC_BUILD_ENV_MOUNTS "=%s", joined);
	return 0;
}

/* The modules' notes: a dependency turned on, a bind rule skipped. */
static void print_notes(struct phpc_strv *notes)
{
	for (size_t i = 0; i < notes->n; i++)
		phpc_note("%s", notes->v[i]);
	phpc_strv_clear(notes);
}

int phpc_ctx_parse_modules(struct phpc_ctx *ctx, struct phpc_error **err)
{
	if (ctx->modules_parsed)
		return 0;
	ctx->modules_parsed = true;
	int r = phpc_ctx_load_modules(ctx, err);
	if (r < 0)
		return r;
	phpc_cli_parse_modules(&ctx->cli, &ctx->mods);
	phpc_plan_clear(&ctx->plan);
	phpc_plan_init(&ctx->plan, &ctx->cli);
	size_t n = ctx->mods.n ? ctx->mods.n : 1;
	ctx->plan.enabled = phpc_xcalloc(n, sizeof(bool));
	memcpy(ctx->plan.enabled, ctx->cli.module_flags, n * sizeof(bool));
	struct phpc_strv notes = {0};
	r = phpc_modules_resolve(&ctx->mods, ctx->plan.enabled, &notes, err);
	print_notes(&notes);
	return r;
}

int phpc_ctx_apply_modules(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_parse_modules(ctx, err);
	if (r < 0 || ctx->modules_applied)
		return r;
	ctx->modules_applied = true;
	bool is_build = ctx->cli.kind == PHPC_KIND_BUILD;
	/* what a module needs of the node, named before podman fails on it
	 * with a message about something else ("statfs /dev/mqueue") */
	if (!is_build) {
		r = phpc_modules_check_host(&ctx->mods, ctx->plan.enabled, "/dev/mqueue", err);
		if (r < 0)
			return r;
	}
	if (ctx->cfg->v[PHPC_K_USE_DEFAULT_ARGS].b)
		ctx->plan.hook_installed =
		    phpc_hooks_dir_has_hook(phpc_cfg_str(ctx->cfg, PHPC_K_HOOKS_DIR));
	/* The hook binds faster than podman handles --volume (measured:
	 * bench/module-startup), and keeps NERSC's behaviour of keying modules
	 * on their variable; without the hook, and on build (buildah runs no
	 * hooks), podman mounts them. Copies become read-only mounts on build. */
	if (!is_build && ctx->plan.hook_installed) {
		r = hook_request(ctx, err);
		if (r < 0)
			return r;
	}
	struct phpc_strv notes = {0};
	if (is_build || !ctx->plan.hook_installed)
		r = phpc_modules_bind_volumes(&ctx->mods, ctx->plan.enabled, is_build,
		                              phpc_cfg_str(ctx->cfg, PHPC_K_MODULES_DIR),
		                              container_env, ctx, &ctx->plan.volumes, &notes, err);
	print_notes(&notes);
	if (r == 0 && is_build)
		r = build_runtime(ctx, err);
	return r;
}

/* PMI_FD: the process manager's socket must reach the container as fd 3
 * (podman --preserve-fds passes fds 3..3+N-1). */
int phpc_ctx_pass_pmi_fd(struct phpc_ctx *ctx, bool *pmi, struct phpc_error **err)
{
	const char *v = phpc_env_get(ctx->envp, "PMI_FD");
	*pmi = false;
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	long fd = strtol(v, &end, 10);
	if (!*v || *end || errno || fd < 0 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0)
		return phpc_error_set(err, EBADF, "PMI_FD=%s is not an open file descriptor", v);
	if (fd != 3 && dup2((int)fd, 3) < 0)
		return phpc_error_errno(err, errno, "cannot move PMI_FD %ld to fd 3", fd);
	int fl = fcntl(3, F_GETFD);
	if (fl < 0 || fcntl(3, F_SETFD, fl & ~FD_CLOEXEC) < 0)
		return phpc_error_errno(err, errno, "cannot pass PMI_FD to podman");
	*pmi = true;
	return 0;
}

void phpc_ctx_clear(struct phpc_ctx *ctx)
{
	phpc_plan_clear(&ctx->plan);
	phpc_modules_clear(&ctx->mods);
	phpc_config_free(ctx->cfg);
	ctx->cfg = NULL;
	phpc_cli_clear(&ctx->cli);
}
