/* podman-hpc shared-run [run/exec options] IMAGE COMMAND...: one container
 * per node for all tasks of a job step (docs/shared-run.md).
 *
 * Local task 0 starts the container (podman run -d) and publishes it; every
 * task joins it directly and execs its command with its own stdin, stdout,
 * stderr and PMI_FD: no process in the I/O path, no podman call per task
 * (NERSC's podman exec took ~125 ms per task, NERSC #117, #118). podman exec
 * is the fallback when joining fails. The mechanism is the library's
 * (sharedrun.h); this file decides what to run: the step, the container's
 * podman command, each task's command. */
#include "commands.h"
#include "env.h"
#include "proc.h"
#include "shared.h"
#include "sharedrun.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

struct sr {
	struct phpc_ctx *ctx;
	char *podman;
	char *key;
	struct phpc_shared_opts opts;
	char **cmd; /* the tasks' command (with the user's --entrypoint first) */
	struct phpc_sr_params params;
	struct phpc_sr_step *step;
};

static void sr_clear(struct sr *s)
{
	phpc_sr_leave(s->step);
	phpc_shared_opts_clear(&s->opts);
	phpc_strv_free(s->cmd);
	free(s->key);
	free(s->podman);
	free((char *)s->params.state_root);
	free((char *)s->params.what);
}

/* The step, the user's options and the tasks' command. */
static int setup(struct sr *s, struct phpc_error **err)
{
	struct phpc_ctx *ctx = s->ctx;
	const struct phpc_config *cfg = ctx->cfg;
	struct phpc_sr_params *p = &s->params;
	const char *lid = phpc_env_get(ctx->envp, phpc_cfg_str(cfg, PHPC_K_LOCALID_VAR));
	p->leader = !lid || !*lid || strtol(lid, NULL, 10) == 0;
	int r = phpc_shared_ntasks(
	    phpc_env_get(ctx->envp, phpc_cfg_str(cfg, PHPC_K_TASKS_PER_NODE_VAR)),
	    phpc_cfg_str(cfg, PHPC_K_NTASKS_PATTERN), &p->ntasks, err);
	if (r < 0)
		return r;
	p->poll_s = phpc_shared_scale(cfg->v[PHPC_K_WAIT_POLL_INTERVAL].num, p->ntasks);
	p->timeout_s = phpc_shared_scale(cfg->v[PHPC_K_WAIT_TIMEOUT].num, p->ntasks);
	if (ctx->cli.image_idx < 0)
		return phpc_error_set(err, EINVAL,
		                      "shared-run: which image? (podman-hpc shared-run [options] "
		                      "IMAGE COMMAND...)");
	phpc_shared_split(ctx->cli.args.v, ctx->cli.image_idx, &s->opts);
	struct phpc_strv cmd = {0};
	if (s->opts.entrypoint)
		phpc_strv_add(&cmd, s->opts.entrypoint);
	phpc_strv_extend(&cmd, ctx->cli.args.v + ctx->cli.image_idx + 1);
	if (cmd.n == 0)
		return phpc_error_set(err, EINVAL,
		                      "shared-run: what should each task run? "
		                      "(podman-hpc shared-run [options] IMAGE COMMAND...)");
	s->cmd = phpc_strv_steal(&cmd);
	s->key = phpc_shared_key(ctx->envp, getuid(), getppid());
	if (!s->key)
		return phpc_error_set(err, ENOMEM, "out of memory");
	p->key = s->key;
	p->uid = getuid();
	p->state_root = phpc_xasprintf("%s/shared-run", phpc_cfg_str(cfg, PHPC_K_RUN_ROOT));
	p->what = phpc_config_setting(cfg, PHPC_K_RUN_ROOT);
	return 0;
}

/* Task 0: the monitor that removes the container once every task has gone,
 * then podman run -d --rm --name KEY --entrypoint CMD0 [the user's run
 * options] [site defaults, modules] IMAGE CMD1...: the same assembly as run,
 * planned for the container's command; the user's command line is left as
 * it is. */
static int start_container(struct sr *s, struct phpc_error **err)
{
	struct phpc_ctx *ctx = s->ctx;
	char **sc = phpc_cfg_list(ctx->cfg, PHPC_K_SHARED_RUN_COMMAND);
	if (!sc[0])
		return phpc_error_set(err, EINVAL, "shared_run_command is empty");
	struct phpc_strv rm = {0};
	static const char *const rm_words[] = {"rm", "--force", "--time", "0", NULL};
	phpc_ctx_podman_cmd(ctx, s->podman, rm_words, &rm);
	phpc_strv_add(&rm, s->key);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
	int r = phpc_sr_start_monitor(s->step, rm.v, env, err);
	phpc_strv_clear(&rm);
	if (r < 0)
		return r;

	struct phpc_strv args = {0};
	const char *const head[] = {"-d", "--rm", "--name", s->key, "--entrypoint", sc[0], NULL};
	phpc_strv_extend(&args, (char *const *)head);
	phpc_strv_extend(&args, s->opts.run.v);
	phpc_strv_add(&args, ctx->cli.args.v[ctx->cli.image_idx]);
	phpc_strv_extend(&args, sc + 1);
	struct phpc_plan plan = ctx->plan; /* shares its owned parts: not cleared */
	static char *const run[] = {(char *)"run", NULL};
	plan.cmd = run;
	plan.kind = PHPC_KIND_RUN;
	plan.args = args.v;
	plan.pmi_fd = false;
	_cleanup_strvp_ char **argv = phpc_podman_argv(ctx->cfg, &ctx->mods, &plan, s->podman);
	phpc_strv_clear(&args);
	_cleanup_free_ char *out = NULL;
	int status = 0;
	r = phpc_spawn_capture(argv, env, &out, NULL, &status, err);
	if (r == 0 && phpc_exit_code(status) != 0)
		r = phpc_error_set(err, EIO,
		                   "the shared container did not start (podman run exit %d)",
		                   phpc_exit_code(status));
	if (r < 0)
		return r;
	out[strcspn(out, "\n")] = '\0';
	const char *root = phpc_cli_global(&ctx->cli, "--root");
	const char *runroot = phpc_cli_global(&ctx->cli, "--runroot");
	return phpc_sr_publish(s->step, runroot ? runroot : phpc_cfg_str(ctx->cfg, PHPC_K_RUN_ROOT),
	                       root ? root : phpc_cfg_str(ctx->cfg, PHPC_K_GRAPH_ROOT), out, err);
}

/* podman exec, when joining is not possible; *status its wait status. */
static int run_exec(struct sr *s, int *status, struct phpc_error **err)
{
	struct phpc_strv a = {0};
	static const char *const ex[] = {"exec", NULL};
	phpc_ctx_podman_cmd(s->ctx, s->podman, ex, &a);
	phpc_strv_extend(&a, phpc_cfg_list(s->ctx->cfg, PHPC_K_SHARED_RUN_EXEC_ARGS));
	for (size_t i = 0; i < s->opts.env.n; i++) {
		phpc_strv_add(&a, "-e");
		phpc_strv_add(&a, s->opts.env.v[i]);
	}
	if (s->opts.workdir) {
		phpc_strv_add(&a, "-w");
		phpc_strv_add(&a, s->opts.workdir);
	}
	if (s->opts.user) {
		phpc_strv_add(&a, "-u");
		phpc_strv_add(&a, s->opts.user);
	}
	phpc_strv_add(&a, "-i");
	if (s->opts.tty && isatty(STDIN_FILENO))
		phpc_strv_add(&a, "-t");
	/* the process manager's fd reaches the command as on the joined path,
	 * moved to fd 3 in podman's process only: this one holds the step's
	 * locks on low fds */
	int pmifd = phpc_sr_host_pmi_fd(s->ctx->envp);
	if (pmifd >= 0) {
		phpc_strv_add(&a, "--preserve-fds");
		phpc_strv_add(&a, "1");
	}
	phpc_strv_add(&a, s->key);
	phpc_strv_extend(&a, s->cmd);
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(s->ctx, pmifd >= 0);
	int r = phpc_spawn_wait_fd3(a.v, env, pmifd, status, err);
	phpc_strv_clear(&a);
	return r;
}

/* Joins the container and runs the task, or podman exec: *status. */
static int run_task(struct sr *s, const struct phpc_sr_container *c, int *status,
                    struct phpc_error **err)
{
	/* a user name needs the container's /etc/passwd: podman exec knows */
	if (s->opts.user)
		return run_exec(s, status, err);
	struct phpc_sr_task t = {
	    .argv = s->cmd,
	    .workdir = s->opts.workdir,
	    .exec_args = phpc_cfg_list(s->ctx->cfg, PHPC_K_SHARED_RUN_EXEC_ARGS),
	    .user_env = s->opts.env.v,
	    .host_env = s->ctx->envp,
	};
	_cleanup_free_ char *failure = NULL;
	bool started = false;
	int r = phpc_sr_run_task(c, &t, status, &failure, &started, err);
	if (r < 0 && !started) {
		phpc_warn("%s; using podman exec", (*err)->msg);
		phpc_error_freep(err);
		return run_exec(s, status, err);
	}
	if (r == 0 && failure)
		fprintf(stderr, "Error: %s\n", failure);
	return r;
}

int cmd_shared_run(struct phpc_ctx *ctx, struct phpc_error **err)
{
	struct sr s = {.ctx = ctx};
	int r = phpc_ctx_load_config(ctx, err);
	if (r == 0)
		r = phpc_ctx_parse_modules(ctx, err);
	if (r == 0 && ctx->cli.sub_help)
		return phpc_print_shared_run_help(ctx, err);
	if (r == 0)
		r = phpc_ctx_podman_path(ctx, &s.podman, err);
	if (r == 0)
		r = setup(&s, err);
	if (r == 0)
		r = phpc_sr_enter(&s.params, &s.step, err);
	/* only task 0 starts podman: the others need none of its preparation,
	 * and on a node with 64 tasks every millisecond counts 64 times */
	if (r == 0 && s.params.leader) {
		r = phpc_ctx_apply_modules(ctx, err);
		if (r == 0)
			r = phpc_ctx_prepare_storage(ctx, err);
		if (r == 0)
			r = start_container(&s, err);
		/* task 0 tells the others why, then lets go of its lock */
		if (r < 0)
			phpc_sr_fail(s.step, (*err)->msg);
	}
	struct phpc_sr_container c = {0};
	if (r == 0)
		r = phpc_sr_wait(s.step, &c, err);
	int status = 0;
	if (r == 0)
		r = run_task(&s, &c, &status, err);
	phpc_sr_container_clear(&c);
	sr_clear(&s);
	if (r == 0 && WIFSIGNALED(status)) {
		/* end the same way, so that srun reports the signal */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	return r < 0 ? r : phpc_exit_code(status);
}
