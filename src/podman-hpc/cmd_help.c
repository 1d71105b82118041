/* podman-hpc --help and help COMMAND; the help of the commands whose options
 * are podman's (run/build --help with the site's module flags, pull,
 * shared-run); and phpc_cmd_parse, which every command of ours parses its
 * arguments with. Calls no other command's file. */
#include "commands.h"
#include "phpc-build.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <sys/wait.h>

const struct phpc_cmd_spec phpc_help_spec = {
    .name = "help",
    .usage = "[COMMAND]",
    .summary = "Print this help, or a command's help",
    .example = "podman-hpc help\npodman-hpc help migrate",
};

const struct phpc_cmd_spec phpc_shared_run_spec = {
    .name = "shared-run",
    .usage = "[run options] IMAGE COMMAND [ARG...]",
    .summary = "Run a job step's tasks in one container per node",
    .description = "Runs one container per node for all tasks of a Slurm job step (or of an\n"
                   "mpirun): the node's local task 0 starts the container, which runs the\n"
                   "site's shared_run_command; every task then joins it and runs COMMAND in\n"
                   "it, with its own stdin, stdout, stderr, exit code and PMI_FD. The\n"
                   "container goes away when the step's last task on the node has exited.\n"
                   "podman-hpc run does the same for a module with shared_run: true.\n\n"
                   "Options are podman run's (podman-hpc run --help lists them) and the\n"
                   "site's module flags. Those below apply to each task's command; every\n"
                   "other run option (-v, --mount, --ipc, --network, --device, ...) starts\n"
                   "the container. -i, -d, --rm and --name are podman-hpc's business.",
    .example = "srun -n 64 podman-hpc shared-run myapp ./solver input.dat\n"
               "srun -n 64 podman-hpc shared-run -e OMP_NUM_THREADS=4 -w /work myapp ./solver",
};

const struct phpc_cmd_spec phpc_rank_spec = {
    .name = "rank",
    .usage = "[run options] IMAGE COMMAND [ARG...]",
    .summary = "Run one MPI rank in a container of its own, under mpirun or mpiexec",
    .description = "For a launcher that starts one process per rank (Open MPI's mpirun,\n"
                   "MPICH's mpiexec, srun): the rank runs in its own container with the\n"
                   "node's network, process and IPC namespaces, /dev/shm, the munge\n"
                   "socket, its launcher's variables (OMPI_*, PMIX_*, PMI_*, MPI_LOCAL*,\n"
                   "SLURM_*) and the directories they name (the PMIx server's, Open MPI's\n"
                   "session directory); PMI_FD becomes fd 3. Ranks of a node share a user\n"
                   "namespace, so shared memory and single-copy transfers work between\n"
                   "them. Then it is podman-hpc run: the site's modules, squashed images,\n"
                   "and run options of your own, which come after these.",
    .example = "salloc -N 2 mpirun -n 8 podman-hpc rank myimage ./app\n"
               "mpiexec.mpich -n 4 podman-hpc rank myimage ./app",
};

/* shared-run's run options that apply to each task (phpc_shared_split):
 * only shown, never parsed by this table. */
static const struct phpc_opt shared_task_opts[] = {
    {"env", 'e', "NAME[=VALUE]", "for the container and each task (NAME alone: the task's value)",
     false, false},
    {"env-file", '\0', "FILE", "variables of a file, for the container and each task", false,
     false},
    {"workdir", 'w', "DIR", "each task's working directory", false, false},
    {"user", 'u', "USER[:GROUP]", "each task's user (tasks then use podman exec)", false, false},
    {"entrypoint", '\0', "CMD", "each task's entrypoint (the container runs shared_run_command)",
     false, false},
    {"tty", 't', NULL, "each task uses its own terminal, if it has one", false, false},
    {NULL, '\0', NULL, NULL, false, false},
};

int phpc_cmd_parse(struct phpc_ctx *ctx, const struct phpc_cmd_spec *spec,
                   struct phpc_opt_result *res, struct phpc_error **err)
{
	int r = phpc_opt_parse(spec, ctx->cli.args.v, ctx->cli.args.n, res, err);
	if (r == PHPC_OPT_HELP)
		phpc_cmd_help(spec, stdout);
	return r;
}

static const struct phpc_command *find_command(const struct phpc_ctx *ctx, const char *name)
{
	for (const struct phpc_command *c = ctx->commands; c && c->name; c++)
		if (c->spec && streq(c->name, name))
			return c;
	return NULL;
}

static void print_general_help(const struct phpc_ctx *ctx)
{
	printf("Manage pods, containers and images ... on HPC!\n\n"
	       "podman-hpc %s wraps podman with a site's configuration: per-user storage\n"
	       "on node-local disk, squashed images on shared storage, and site modules\n"
	       "(--gpu, --mpi, ...) that inject host libraries and devices.\n\n"
	       "Usage:\n  podman-hpc [podman global options] [--squash-dir DIR]\n"
	       "             [--additional-stores DIR[,DIR...]] COMMAND [ARGS...]\n\n"
	       "podman-hpc commands:\n",
	       PHPC_VERSION);
	int width = 0;
	for (const struct phpc_command *c = ctx->commands; c && c->name; c++)
		if (c->spec && (int)strlen(c->name) > width)
			width = (int)strlen(c->name);
	for (const struct phpc_command *c = ctx->commands; c && c->name; c++)
		if (c->spec)
			printf("  %-*s   %s\n", width, c->name, c->spec->summary);
	printf("\n`podman-hpc COMMAND --help` prints the help of each of these commands.\n\n"
	       "Every other command (run, build, images, ps, exec, rmi, ...) is podman's:\n"
	       "podman-hpc adds the site's options and runs podman. `podman-hpc run --help`\n"
	       "lists the site's module flags; see `podman --help` for podman's commands.\n\n"
	       "podman-hpc options:\n"
	       "      --squash-dir DIR           squashed image store "
	       "(default $SQUASH_DIR, $SCRATCH/storage, run_root/squash)\n"
	       "      --additional-stores LIST   more read-only image stores, comma separated\n"
	       "  -h, --help                     print this help\n"
	       "  -v, --version                  print podman-hpc's and podman's versions\n");
}

/* A command's help, by the table (with the spec's printer when it has one). */
static int print_command_help(struct phpc_ctx *ctx, const struct phpc_command *c,
                              struct phpc_error **err)
{
	if (c->help)
		return c->help(ctx, err);
	phpc_cmd_help(c->spec, stdout);
	return 0;
}

/* podman-hpc --help [COMMAND ...], podman-hpc help [COMMAND], podman-hpc. */
int cmd_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	_cleanup_free_ char *topic = NULL;
	const struct phpc_cli *cli = &ctx->cli;
	if (cli->cmd.n > 0 && streq(cli->cmd.v[0], "help") && !cli->help) {
		struct phpc_opt_result res;
		int r = phpc_cmd_parse(ctx, &phpc_help_spec, &res, err);
		if (r == 0 && res.pos.n > 1)
			r = phpc_error_set(
			    err, EINVAL, "help: one command at most (see podman-hpc help --help)");
		if (r == 0 && res.pos.n == 1)
			topic = phpc_xstrdup(res.pos.v[0]);
		phpc_opt_result_clear(&res);
		if (r != 0)
			return r == PHPC_OPT_HELP ? 0 : r;
	} else if (cli->cmd.n > 0) {
		topic = phpc_xstrdup(cli->cmd.v[0]); /* podman-hpc --help migrate */
	}
	const struct phpc_command *c = topic ? find_command(ctx, topic) : NULL;
	if (c)
		return print_command_help(ctx, c, err);
	print_general_help(ctx);
	return 0;
}

static void print_module_flags(const struct phpc_modules *mods)
{
	printf("Podman-hpc options (site modules):\n");
	size_t shown = 0;
	for (size_t i = 0; i < mods->n; i++) {
		const struct phpc_module *m = &mods->m[i];
		if (!m->cli_arg || m->hidden)
			continue;
		printf("      --%-28s %s\n", m->cli_arg, m->help ? m->help : "");
		shown++;
	}
	if (!shown)
		printf("      (this site has no module flags)\n");
	printf("\n");
}

/* Replaces "podman " with "podman-hpc " at the start of usage/example lines. */
static void print_renamed(const char *line, size_t len)
{
	const char *p = line;
	const char *end = line + len;
	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), "podman ", 7);
		if (!hit) {
			fwrite(p, 1, (size_t)(end - p), stdout);
			return;
		}
		fwrite(p, 1, (size_t)(hit - p), stdout);
		fputs("podman-hpc ", stdout);
		p = hit + 7;
	}
}

/* podman CMD --help, renamed to podman-hpc, with podman-hpc's section
 * before podman's options (or at the end). */
static int print_podman_help(struct phpc_ctx *ctx, char *const *cmd,
                             void (*section)(const struct phpc_ctx *ctx), struct phpc_error **err)
{
	_cleanup_free_ char *podman = NULL;
	int r = phpc_ctx_podman_path(ctx, &podman, err);
	if (r < 0)
		return r;
	struct phpc_strv argv = {0};
	phpc_strv_add(&argv, podman);
	phpc_strv_extend(&argv, cmd);
	phpc_strv_add(&argv, "--help");
	_cleanup_strvp_ char **env = phpc_ctx_podman_env(ctx, false);
	_cleanup_free_ char *out = NULL;
	int status = 0;
	r = phpc_spawn_capture(argv.v, env, &out, NULL, &status, err);
	phpc_strv_clear(&argv);
	if (r < 0)
		return r;
	bool inserted = false;
	for (char *line = out; *line;) {
		char *nl = strchrnul(line, '\n');
		size_t len = (size_t)(nl - line);
		if (!inserted && len == 8 && strncmp(line, "Options:", 8) == 0) {
			section(ctx);
			fputs("Podman options:", stdout);
			inserted = true;
		} else {
			print_renamed(line, len);
		}
		if (*nl)
			putchar('\n');
		line = *nl ? nl + 1 : nl;
	}
	if (!inserted) {
		putchar('\n');
		section(ctx);
	}
	return phpc_exit_code(status);
}

static void module_section(const struct phpc_ctx *ctx)
{
	print_module_flags(&ctx->mods);
}

int phpc_print_sub_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	return print_podman_help(ctx, ctx->cli.cmd.v, module_section, err);
}

static void pull_section(const struct phpc_ctx *ctx)
{
	printf("Podman-hpc:\n"
	       "  After the pull, podman-hpc migrates each pulled image into the squash\n"
	       "  store, where podman on every node finds it (as podman-hpc migrate does).\n"
	       "  Squash store: %s\n\n",
	       ctx->cfg->squash_dir);
}

int phpc_print_pull_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	static char *const pull[] = {(char *)"pull", NULL};
	int r = phpc_ctx_load_config(ctx, err);
	if (r < 0)
		return r;
	return print_podman_help(ctx, pull, pull_section, err);
}

int phpc_print_shared_run_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	if (r == 0 && !ctx->modules_parsed)
		r = phpc_ctx_load_modules(ctx, err);
	if (r < 0)
		return r;
	phpc_cmd_help_head(&phpc_shared_run_spec, stdout);
	printf("Options for each task:\n");
	phpc_help_opts(shared_task_opts, false, 0, stdout);
	printf("\n");
	print_module_flags(&ctx->mods);
	printf("Options:\n");
	phpc_help_opts(NULL, true, 0, stdout);
	return 0;
}

int phpc_print_rank_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	int r = phpc_ctx_load_config(ctx, err);
	if (r == 0 && !ctx->modules_parsed)
		r = phpc_ctx_load_modules(ctx, err);
	if (r < 0)
		return r;
	phpc_cmd_help_head(&phpc_rank_spec, stdout);
	print_module_flags(&ctx->mods);
	printf("Every podman run option is accepted (podman-hpc run --help).\n\n");
	printf("Options:\n");
	phpc_help_opts(NULL, true, 0, stdout);
	return 0;
}
