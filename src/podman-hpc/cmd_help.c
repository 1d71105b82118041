/* podman-hpc --help, and `podman-hpc run --help` with the site's module flags. */
#include "commands.h"
#include "phpc-build.h"
#include "proc.h"
#include "util.h"

#include <sys/wait.h>

int cmd_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	(void)ctx;
	(void)err;
	printf("Manage pods, containers and images ... on HPC!\n\n"
	       "podman-hpc %s wraps podman with a site's configuration: per-user storage\n"
	       "on node-local disk, squashed images on shared storage, and site modules\n"
	       "(--gpu, --mpi, ...) that inject host libraries and devices.\n\n"
	       "Usage:\n  podman-hpc [podman global options] [--squash-dir DIR]\n"
	       "             [--additional-stores DIR[,DIR...]] COMMAND [ARGS...]\n\n"
	       "podman-hpc commands:\n",
	       PHPC_VERSION);
	for (const struct phpc_command *c = phpc_commands; c->name; c++)
		if (c->summary)
			printf("  %-12s %s\n", c->name, c->summary);
	printf("\nEvery other command (run, build, pull, images, ps, exec, rmi, ...) is\n"
	       "podman's: podman-hpc adds the site's options and runs podman.\n"
	       "`podman-hpc run --help` lists the site's module flags; see `podman --help`\n"
	       "for podman's commands.\n\n"
	       "podman-hpc options:\n"
	       "      --squash-dir DIR           squashed image store "
	       "(default $SQUASH_DIR, $SCRATCH/storage, run_root/squash)\n"
	       "      --additional-stores LIST   more read-only image stores, comma separated\n"
	       "  -h, --help                     print this help\n"
	       "  -v, --version                  print podman-hpc's and podman's versions\n");
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

int phpc_print_sub_help(struct phpc_ctx *ctx, struct phpc_error **err)
{
	_cleanup_free_ char *podman = NULL;
	int r = phpc_ctx_podman_path(ctx, &podman, err);
	if (r < 0)
		return r;
	struct phpc_strv argv = {0};
	phpc_strv_add(&argv, podman);
	phpc_strv_extend(&argv, ctx->cli.cmd.v);
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
			print_module_flags(&ctx->mods);
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
		print_module_flags(&ctx->mods);
	}
	return phpc_exit_code(status);
}
