/* podman-hpc doctor [--json]: what rootless podman-hpc needs of this node
 * and of the calling user, checked one thing at a time, with the fix for
 * each problem (docs/doctor.md). The checks are the library's (doctor.h);
 * this file gathers them in order and prints the report. */
#include "commands.h"
#include "doctor.h"
#include "phpc-build.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/vfs.h>

static const struct phpc_opt opts[] = {
    {"json", '\0', NULL, "print the report as one JSON document, for scripts", false, false},
    {NULL, '\0', NULL, NULL, false, false},
};

const struct phpc_cmd_spec phpc_doctor_spec = {
    .name = "doctor",
    .usage = "[options]",
    .summary = "Check what podman-hpc needs on this node, and say how to fix it",
    .description = "Checks, for you on this node: the site configuration, user namespaces,\n"
                   "your subordinate uids and gids, newuidmap and newgidmap, /dev/fuse,\n"
                   "graph_root and run_root (on a local file system, writable, with extended\n"
                   "attributes), the OCI runtime (podman info, run as podman-hpc runs podman),\n"
                   "resource limits, the hook, the squash store, /dev/mqueue and, in a Slurm\n"
                   "job, its variables. Prints a line per check and, under each problem, the\n"
                   "command or setting that fixes it. Exits 1 when a check failed, 0 otherwise\n"
                   "(warnings included).",
    .example = "podman-hpc doctor\n"
               "srun -N 4 podman-hpc doctor --json | jq -c '.checks[] | select(.status == "
               "\"fail\")'",
    .opts = opts,
};

/* The configuration and the site's modules, as every command loads them;
 * their warnings are the check's, not printed. Whether the configuration
 * loaded (the checks of its settings need it). */
static bool check_config(struct phpc_ctx *ctx, struct phpc_check *c)
{
	_cleanup_error_ struct phpc_error *e = NULL;
	int r = phpc_ctx_load_config_quiet(ctx, &e);
	if (r == 0)
		r = phpc_modules_load(phpc_cfg_str(ctx->cfg, PHPC_K_MODULES_DIR), &ctx->mods, &e);
	_cleanup_strv_ struct phpc_strv warnings = {0};
	if (ctx->cfg)
		phpc_strv_extend(&warnings, ctx->cfg->warnings.v);
	phpc_strv_extend(&warnings, ctx->mods.warnings.v);
	phpc_check_config(ctx->cfg ? ctx->cfg->config_file : NULL,
	                  r < 0 ? (e ? e->msg : strerror(-r)) : NULL, warnings.v, ctx->mods.n, c);
	return ctx->cfg != NULL;
}

/* The podman podman-hpc runs, with its links resolved (an AppArmor profile
 * names the real file); NULL when there is none. */
static char *podman_path(struct phpc_ctx *ctx)
{
	_cleanup_free_ char *p = NULL;
	if (!ctx->cfg || phpc_ctx_podman_path(ctx, &p, NULL) < 0)
		return NULL;
	char *real = realpath(p, NULL);
	return real ? real : steal_pointer(&p);
}

/* Whether podman-hpc would use the directory (nothing it refuses on the way). */
static bool check_store(struct phpc_ctx *ctx, enum phpc_key k, bool xattrs, struct phpc_check *c)
{
	_cleanup_(phpc_store_facts_clear) struct phpc_store_facts f = {0};
	_cleanup_free_ char *what = phpc_config_setting(ctx->cfg, k);
	phpc_doctor_gather_store(phpc_key_name(k), phpc_cfg_str(ctx->cfg, k), what, getuid(),
	                         xattrs, &f);
	phpc_check_store(&f, c);
	return !f.refused;
}

/* podman info, with podman-hpc's options and environment and after the
 * steps podman-hpc takes before any podman (its storage directories made,
 * its podman configuration written): what every command of the user's
 * would meet. */
static void check_runtime(struct phpc_ctx *ctx, bool storage_ok, struct phpc_check *c)
{
	_cleanup_(phpc_runtime_facts_clear) struct phpc_runtime_facts f = {0};
	_cleanup_error_ struct phpc_error *e = NULL;
	_cleanup_free_ char *podman = NULL;
	if (phpc_ctx_podman_path(ctx, &podman, &e) < 0) {
		f.run_error = phpc_xstrdup(e->msg);
		f.not_found = true;
	} else if (!storage_ok) {
		phpc_check_set(c, "runtime", PHPC_CHECK_SKIP,
		               "podman not run: podman-hpc stops at its storage (above)");
		return;
	} else if (phpc_ctx_prepare_storage(ctx, &e) < 0) {
		f.run_error =
		    phpc_xasprintf("podman-hpc cannot prepare podman's storage: %s", e->msg);
	} else {
		static const char *const info[] = {"info", "--format", "json", NULL};
		_cleanup_strv_ struct phpc_strv argv = {0};
		phpc_ctx_podman_cmd(ctx, podman, info, &argv);
		_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
		/* a minute: podman waits for a store another podman has locked */
		phpc_doctor_gather_runtime(argv.v, env, 60000, "/sys/fs/cgroup", getuid(), &f);
	}
	phpc_check_runtime(&f, c);
}

static void check_rlimits(struct phpc_doctor *d)
{
	struct rlimit l;
	if (getrlimit(RLIMIT_NOFILE, &l) == 0)
		phpc_check_nofile(&l, phpc_doctor_add(d));
	if (getrlimit(RLIMIT_NPROC, &l) == 0)
		phpc_check_nproc(&l, phpc_doctor_add(d));
	if (getrlimit(RLIMIT_MEMLOCK, &l) == 0)
		phpc_check_memlock(&l, phpc_doctor_add(d));
}

static void check_hook(struct phpc_ctx *ctx, struct phpc_check *c)
{
	_cleanup_(phpc_hook_facts_clear) struct phpc_hook_facts f = {0};
	_cleanup_free_ char *setting = phpc_config_setting(ctx->cfg, PHPC_K_HOOKS_DIR);
	phpc_doctor_gather_hook(phpc_cfg_str(ctx->cfg, PHPC_K_HOOKS_DIR), &f);
	phpc_check_hook(&f, setting, PHPC_BINDIR "/podman-hpc-hook", c);
}

/* Whether podman-hpc would go on to podman (a missing store is made). */
static bool check_squash(struct phpc_ctx *ctx, struct phpc_check *c)
{
	const struct phpc_config *cfg = ctx->cfg;
	_cleanup_(phpc_squash_facts_clear) struct phpc_squash_facts f = {0};
	_cleanup_free_ char *what =
	    phpc_xasprintf("the squash directory (%s)", cfg->squash_dir_source);
	phpc_doctor_gather_squash(cfg->squash_dir, cfg->squash_dir_source,
	                          phpc_ctx_squash_dir_kind(cfg), getuid(), what, &f);
	phpc_check_squash(&f, c);
	return !f.error;
}

/* A check that needs the configuration, which did not load. */
static void skip_unconfigured(struct phpc_doctor *d, const char *name)
{
	phpc_check_set(phpc_doctor_add(d), name, PHPC_CHECK_SKIP,
	               "needs the configuration, which did not load (above)");
}

static void run_checks(struct phpc_ctx *ctx, struct phpc_doctor *d)
{
	bool root = d->uid == 0;
	bool configured = check_config(ctx, phpc_doctor_add(d));
	_cleanup_free_ char *podman = podman_path(ctx);

	_cleanup_(phpc_userns_facts_clear) struct phpc_userns_facts ns = {0};
	phpc_doctor_gather_userns("/proc/sys", "/etc/apparmor.d", podman, root, &ns);
	phpc_check_userns(&ns, phpc_doctor_add(d));
	for (int gid = 0; gid < 2; gid++) {
		_cleanup_(phpc_subid_facts_clear) struct phpc_subid_facts ids = {0};
		phpc_doctor_gather_subid(gid, d->user, d->uid, ctx->envp,
		                         gid ? "/etc/subgid" : "/etc/subuid", root, &ids);
		phpc_check_subid(&ids, phpc_doctor_add(d));
	}
	_cleanup_(phpc_idmap_facts_clear) struct phpc_idmap_facts idmap = {0};
	phpc_doctor_gather_idmap(ctx->envp, root, &idmap);
	phpc_check_idmap(&idmap, phpc_doctor_add(d));
	struct phpc_fuse_facts fuse;
	phpc_doctor_gather_fuse("/dev/fuse", &fuse);
	phpc_check_fuse(&fuse, phpc_doctor_add(d));

	if (configured) {
		/* podman-hpc checks these before it runs podman: so does the doctor */
		bool graph_ok = check_store(ctx, PHPC_K_GRAPH_ROOT, true, phpc_doctor_add(d));
		bool run_ok = check_store(ctx, PHPC_K_RUN_ROOT, false, phpc_doctor_add(d));
		bool squash_ok = check_squash(ctx, phpc_doctor_add(d));
		check_runtime(ctx, graph_ok && run_ok && squash_ok, phpc_doctor_add(d));
	} else {
		skip_unconfigured(d, "graph_root");
		skip_unconfigured(d, "run_root");
		skip_unconfigured(d, "squash_dir");
		skip_unconfigured(d, "runtime");
	}
	check_rlimits(d);
	if (configured)
		check_hook(ctx, phpc_doctor_add(d));
	else
		skip_unconfigured(d, "hook");
	struct statfs fs;
	int mq = statfs("/dev/mqueue", &fs) < 0 ? errno : 0;
	phpc_check_mqueue("/dev/mqueue", mq, mq ? 0 : (unsigned long)fs.f_type, phpc_doctor_add(d));
	if (configured)
		phpc_check_slurm(ctx->envp, phpc_cfg_str(ctx->cfg, PHPC_K_LOCALID_VAR),
		                 phpc_cfg_str(ctx->cfg, PHPC_K_TASKS_PER_NODE_VAR),
		                 phpc_cfg_str(ctx->cfg, PHPC_K_NTASKS_PATTERN), phpc_doctor_add(d));
	else
		skip_unconfigured(d, "slurm");
}

int cmd_doctor(struct phpc_ctx *ctx, struct phpc_error **err)
{
	const struct phpc_cmd_spec *spec = &phpc_doctor_spec;
	struct phpc_opt_result o;
	int r = phpc_cmd_parse(ctx, spec, &o, err);
	if (r == 0 && o.pos.n > 0)
		r = phpc_error_set(err, EINVAL,
		                   "doctor: unknown argument \"%s\" (see podman-hpc doctor --help)",
		                   o.pos.v[0]);
	bool json = r == 0 && phpc_opt_given(spec, &o, "json");
	phpc_opt_result_clear(&o);
	if (r != 0)
		return r == PHPC_OPT_HELP ? 0 : r;

	_cleanup_(phpc_doctor_clear) struct phpc_doctor d = {.uid = getuid()};
	if (phpc_user_name(d.uid, ctx->envp, &d.user, NULL) < 0)
		d.user = phpc_xasprintf("%u", (unsigned)d.uid);
	struct utsname u;
	d.host = phpc_xstrdup(uname(&u) == 0 ? u.nodename : "?");
	run_checks(ctx, &d);
	if (json) {
		/* one line: the reports of many nodes gathered in one file
		 * stay one per line, for jq -c and grep */
		struct json_object *j = phpc_doctor_json(&d);
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
		                                           JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		phpc_doctor_write_text(&d, stdout);
	}
	/* a linter's exit code: 125 stays podman-hpc's own error (bad options) */
	return phpc_doctor_count(&d, PHPC_CHECK_FAIL) ? 1 : 0;
}
