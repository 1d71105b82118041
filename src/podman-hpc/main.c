/* podman-hpc: podman for HPC sites. Parses the command line, loads the site
 * configuration, and replaces itself with podman (no process of ours stays). */
#include "commands.h"
#include "util.h"

static const struct phpc_command phpc_commands[] = {
    {"infohpc", cmd_infohpc, &phpc_infohpc_spec, NULL},
    {"version", cmd_version, &phpc_version_spec, NULL},
    {"help", cmd_help, &phpc_help_spec, NULL},
    {"configure-hooks", cmd_configure_hooks, &phpc_configure_hooks_spec, NULL},
    {"doctor", cmd_doctor, &phpc_doctor_spec, NULL},
    {"migrate", cmd_migrate, &phpc_migrate_spec, NULL},
    {"rmsqi", cmd_rmsqi, &phpc_rmsqi_spec, NULL},
    {"pull", cmd_pull, &phpc_pull_spec, phpc_print_pull_help},
    {"shared-run", cmd_shared_run, &phpc_shared_run_spec, phpc_print_shared_run_help},
    {"rank", cmd_rank, &phpc_rank_spec, phpc_print_rank_help},
    {"upload", cmd_upload, &phpc_upload_spec, NULL},
    {NULL, NULL, NULL, NULL},
};

static phpc_cmd_fn dispatch(const struct phpc_cli *cli)
{
	if (cli->cmd.n == 0)
		return cli->version ? cmd_version : cmd_help;
	if (cli->help)
		return cmd_help;
	for (const struct phpc_command *c = phpc_commands; c->name; c++)
		if (streq(c->name, cli->cmd.v[0]))
			return c->fn;
	return cmd_podman;
}

int main(int argc, char **argv, char **envp)
{
	struct phpc_ctx ctx = {.argc = argc, .argv = argv, .envp = envp, .commands = phpc_commands};
	_cleanup_error_ struct phpc_error *err = NULL;
	int rc;

	/* podman-hpc gives podman the caller's identity; it must never carry more. */
	if (getuid() != geteuid() || getgid() != getegid()) {
		fputs("Error: podman-hpc must not be installed setuid or setgid\n", stderr);
		return PHPC_EXIT_FAILURE;
	}
	rc = phpc_cli_parse(argc, argv, &ctx.cli, &err);
	if (rc >= 0)
		rc = dispatch(&ctx.cli)(&ctx, &err);
	if (rc < 0) {
		fflush(stdout);
		fprintf(stderr, "Error: %s\n", err ? err->msg : strerror(-rc));
		rc = PHPC_EXIT_FAILURE;
	}
	phpc_ctx_clear(&ctx);
	return rc;
}
