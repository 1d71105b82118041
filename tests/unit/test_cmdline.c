#include "testutil.h"

#include "cmdline.h"
#include "config.h"
#include "modules.h"

#define cfg_with test_config

static char *env_default[] = {"SQUASH_DIR=/sq", NULL};

#define COMMON                                                                            \
	"--root", "/tmp/1000_hpc/storage", "--runroot", "/tmp/1000_hpc", "--storage-opt", \
	    "mount_program=/usr/bin/podman-hpc-mount", "--cgroup-manager", "cgroupfs"
#define RUN_DEFAULTS                                                          \
	COMMON, "--storage-opt", "ignore_chown_errors=true", "--storage-opt", \
	    "additionalimagestore=/sq", HOOK, "--security-opt", "seccomp=unconfined"
#define HOOK                                                         \
	"--hooks-dir", "/usr/share/containers/oci/hooks.d", "--env", \
	    "PODMANHPC_MODULES_DIR=/etc/podman_hpc/modules.d"

/* Parses argv, applies modules if the command takes them, assembles. */
static char **assemble(struct phpc_config *cfg, const struct phpc_modules *mods, bool pmi,
                       char **argv)
{
	struct phpc_cli cli;
	struct phpc_error *err = NULL;
	int argc = (int)phpc_strv_len(argv);
	if (phpc_cli_parse(argc, argv, &cli, &err) < 0)
		fail_msg("%s", err->msg);
	struct phpc_modules none = {0};
	struct phpc_plan plan;
	if (phpc_cli_takes_modules(&cli))
		phpc_cli_parse_modules(&cli, mods ? mods : &none);
	phpc_plan_init(&plan, &cli);
	plan.hook_installed = true;
	plan.pmi_fd = pmi;
	if (phpc_cli_takes_modules(&cli)) {
		if (mods) {
			plan.enabled = calloc(mods->n ? mods->n : 1, sizeof(bool));
			memcpy(plan.enabled, cli.module_flags, mods->n * sizeof(bool));
			assert_int_equal(phpc_modules_resolve(mods, plan.enabled, NULL, &err), 0);
		}
	}
	char **out = phpc_podman_argv(cfg, mods, &plan, "podman");
	phpc_plan_clear(&plan);
	phpc_cli_clear(&cli);
	return out;
}

#define CHECK(cfg, mods, pmi, want, ...)                           \
	do {                                                       \
		char *argv_[] = {"podman-hpc", __VA_ARGS__, NULL}; \
		char **got_ = assemble(cfg, mods, pmi, argv_);     \
		assert_argv_equal(got_, want);                     \
		phpc_strv_free(got_);                              \
	} while (0)

static void test_run(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, NULL);
	const char *want[] = {"podman", "run", RUN_DEFAULTS, "-it", "--rm", "ubuntu", NULL};
	CHECK(c, NULL, false, want, "run", "-it", "--rm", "ubuntu");
	phpc_config_free(c);
}

static void test_each_kind(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, "/x,/y");
	const char *images[] = {
	    "podman", "images", COMMON, "--storage-opt", "additionalimagestore=/sq,/x,/y",
	    "-a",     NULL};
	CHECK(c, NULL, false, images, "images", "-a");
	const char *image_ls[] = {"podman", "image",         "ls",
	                          COMMON,   "--storage-opt", "additionalimagestore=/sq,/x,/y",
	                          NULL};
	CHECK(c, NULL, false, image_ls, "image", "ls");
	const char *inspect[] = {
	    "podman", "inspect", COMMON, "--storage-opt", "additionalimagestore=/sq,/x,/y",
	    "img",    NULL};
	CHECK(c, NULL, false, inspect, "inspect", "img");
	const char *iinspect[] = {
	    "podman", "image", "inspect", COMMON, "--storage-opt", "additionalimagestore=/sq,/x,/y",
	    "img",    NULL};
	CHECK(c, NULL, false, iinspect, "image", "inspect", "img");
	const char *pull[] = {"podman", "pull", COMMON, "--storage-opt", "ignore_chown_errors=true",
	                      "alpine", NULL};
	CHECK(c, NULL, false, pull, "pull", "alpine");
	const char *start[] = {
	    "podman", "start", COMMON, "--hooks-dir", "/usr/share/containers/oci/hooks.d",
	    "-a",     "c",     NULL};
	CHECK(c, NULL, false, start, "start", "-a", "c");
	const char *cstart[] = {"podman", "container",   "restart",
	                        COMMON,   "--hooks-dir", "/usr/share/containers/oci/hooks.d",
	                        "c",      NULL};
	CHECK(c, NULL, false, cstart, "container", "restart", "c");
	/* layers unpacked by import and load as by pull: one id is enough */
	const char *import[] = {
	    "podman", "import", COMMON, "--storage-opt", "ignore_chown_errors=true",
	    "a.tar",  "x",      NULL};
	CHECK(c, NULL, false, import, "import", "a.tar", "x");
	const char *iload[] = {"podman", "image",         "load",
	                       COMMON,   "--storage-opt", "ignore_chown_errors=true",
	                       "-i",     "a.tar",         NULL};
	CHECK(c, NULL, false, iload, "image", "load", "-i", "a.tar");
	/* nothing of the hook's on build: buildah would store it in the image;
	 * the FROM image's layers are unpacked as on pull */
	const char *build[] = {
	    "podman", "build", COMMON, "--storage-opt", "ignore_chown_errors=true", "-t",
	    "x",      ".",     NULL};
	CHECK(c, NULL, false, build, "build", "-t", "x", ".");
	const char *ps[] = {"podman", "ps", COMMON, "-a", NULL};
	CHECK(c, NULL, false, ps, "ps", "-a");
	const char *rmi[] = {"podman", "rmi", COMMON, "img", NULL};
	CHECK(c, NULL, false, rmi, "rmi", "img");
	const char *exec[] = {"podman", "exec", COMMON, "ctr", "ls", NULL};
	CHECK(c, NULL, false, exec, "exec", "ctr", "ls");
	const char *sys[] = {"podman", "system", "prune", COMMON, "-f", NULL};
	CHECK(c, NULL, false, sys, "system", "prune", "-f");
	phpc_config_free(c);
}

/* NERSC #64: podman's global flags before the subcommand */
static void test_global_flags(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, NULL);
	const char *want[] = {"podman", "--noout",       "images",
	                      COMMON,   "--storage-opt", "additionalimagestore=/sq",
	                      NULL};
	CHECK(c, NULL, false, want, "--noout", "images");
	const char *want2[] = {"podman", "--log-level", "debug", "--runtime=runc",
	                       "ps",     COMMON,        NULL};
	CHECK(c, NULL, false, want2, "--log-level", "debug", "--runtime=runc", "ps");
	/* the user's own --root wins: ours is left out */
	const char *want3[] = {"podman",
	                       "--root",
	                       "/mine",
	                       "ps",
	                       "--runroot",
	                       "/tmp/1000_hpc",
	                       "--storage-opt",
	                       "mount_program=/usr/bin/podman-hpc-mount",
	                       "--cgroup-manager",
	                       "cgroupfs",
	                       NULL};
	CHECK(c, NULL, false, want3, "--root", "/mine", "ps");
	phpc_config_free(c);
}

static void test_our_global_options(void **state)
{
	(void)state;
	char *argv[] = {"podman-hpc", "--squash-dir", "/s", "--additional-stores=/a,/b", "images",
	                NULL};
	struct phpc_cli cli;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_cli_parse(5, argv, &cli, &err), 0);
	assert_string_equal(cli.squash_dir, "/s");
	assert_string_equal(cli.additional_stores, "/a,/b");
	assert_int_equal(cli.globals.n, 0);
	assert_int_equal(cli.kind, PHPC_KIND_IMAGES);
	phpc_cli_clear(&cli);
	char *bad[] = {"podman-hpc", "--squash-dir", NULL};
	assert_true(phpc_cli_parse(2, bad, &cli, &err) < 0);
	assert_non_null(strstr(err->msg, "--squash-dir"));
	phpc_error_free(err);
	phpc_cli_clear(&cli);
}

static void test_use_default_args_off(void **state)
{
	(void)state;
	char *env[] = {"PODMANHPC_USE_DEFAULT_ARGS=false", NULL};
	struct phpc_config *c = cfg_with(env, NULL);
	const char *want[] = {"podman", "run", "--rm", "img", "true", NULL};
	CHECK(c, NULL, false, want, "run", "--rm", "img", "true");
	phpc_config_free(c);
}

static void load_modules(struct phpc_modules *mods, const char *const *texts)
{
	*mods = (struct phpc_modules){0};
	size_t n = phpc_strv_len((char *const *)texts);
	mods->m = phpc_xcalloc(n, sizeof(*mods->m));
	for (size_t i = 0; i < n; i++) {
		struct phpc_error *err = NULL;
		if (phpc_module_parse("m.yaml", texts[i], strlen(texts[i]), &mods->m[i], NULL,
		                      &err) < 0)
			fail_msg("%s", err->msg);
		mods->n++;
	}
}

static const char *const site_modules[] = {
    "name: gpu\ncli_arg: gpu\nenv: ENABLE_GPU\nadditional_args: [\"-e NVIDIA_VISIBLE_DEVICES\"]\n",
    "name: mpich\ncli_arg: mpi\nenv: ENABLE_MPICH\nadditional_args: [\"-e SLURM_*\", "
    "\"--ipc=host\"]\n",
    NULL,
};

static void test_module_args(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, NULL);
	struct phpc_modules mods;
	load_modules(&mods, site_modules);
	const char *want[] = {"podman",     "run",
	                      RUN_DEFAULTS, "-e NVIDIA_VISIBLE_DEVICES",
	                      "-e",         "ENABLE_GPU=1",
	                      "-e SLURM_*", "--ipc=host",
	                      "-e",         "ENABLE_MPICH=1",
	                      "--rm",       "img",
	                      "prog",       "--gpu",
	                      "--help",     NULL};
	/* flags after the image belong to the container's command (NERSC #79, #171) */
	CHECK(c, &mods, false, want, "run", "--mpi", "--rm", "--gpu", "img", "prog", "--gpu",
	      "--help");
	/* --gpus is podman's, not the module's (NERSC #129) */
	const char *want2[] = {"podman", "run", RUN_DEFAULTS, "--gpus", "all", "img", NULL};
	CHECK(c, &mods, false, want2, "run", "--gpus", "all", "img");
	/* modules on build (NERSC #34) */
	/* (the module's env and run options would be baked into the image) */
	const char *want3[] = {
	    "podman", "build", COMMON, "--storage-opt", "ignore_chown_errors=true", "-t",
	    "x",      ".",     NULL};
	CHECK(c, &mods, false, want3, "build", "-t", "x", ".", "--gpu");
	phpc_modules_clear(&mods);
	phpc_config_free(c);
}

/* The image is found past options that take values, short clusters and "--". */
static void test_image_position(void **state)
{
	(void)state;
	struct phpc_modules mods;
	load_modules(&mods, site_modules);
	struct {
		const char *args[8];
		const char *image;
		bool sub_help;
	} cases[] = {
	    {{"run", "-e", "--gpu", "img", NULL}, "img", false},
	    {{"run", "-v", "/a:/b", "-it", "img", "--help", NULL}, "img", false},
	    {{"run", "-eX=1", "-w", "/w", "img", NULL}, "img", false},
	    {{"run", "--name=x", "--help", "img", NULL}, "img", true},
	    {{"run", "--", "img", "cmd", NULL}, "img", false},
	    {{"run", "-h", "host", "img", NULL}, "img", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct phpc_cli cli;
		struct phpc_error *err = NULL;
		char *argv[10] = {"podman-hpc"};
		int argc = 1;
		for (int j = 0; cases[i].args[j]; j++)
			argv[argc++] = (char *)cases[i].args[j];
		assert_int_equal(phpc_cli_parse(argc, argv, &cli, &err), 0);
		phpc_cli_parse_modules(&cli, &mods);
		assert_true(cli.image_idx >= 0);
		assert_string_equal(cli.args.v[cli.image_idx], cases[i].image);
		assert_int_equal(cli.sub_help, cases[i].sub_help);
		assert_false(cli.module_flags[0]);
		phpc_cli_clear(&cli);
	}
	phpc_modules_clear(&mods);
}

static void test_pmi_fd(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, NULL);
	const char *want[] = {"podman", "exec", COMMON, "--preserve-fds", "1", "ctr", "true", NULL};
	CHECK(c, NULL, true, want, "exec", "ctr", "true");
	/* --preserve-fds is not an option of ps */
	const char *ps[] = {"podman", "ps", COMMON, NULL};
	CHECK(c, NULL, true, ps, "ps");
	phpc_config_free(c);
}

static void test_env(void **state)
{
	(void)state;
	char *in[] = {"PATH=/bin", "XDG_RUNTIME_DIR=/run/user/1", "XDG_CONFIG_HOME=/old",
	              "PMI_FD=7", NULL};
	char **e = phpc_podman_env(in, "/cfg", true);
	const char *want[] = {"PATH=/bin", "XDG_CONFIG_HOME=/cfg", "PMI_FD=3", NULL};
	assert_argv_equal(e, want);
	phpc_strv_free(e);
	e = phpc_podman_env(in, "/cfg", false);
	const char *want2[] = {"PATH=/bin", "PMI_FD=7", "XDG_CONFIG_HOME=/cfg", NULL};
	assert_argv_equal(e, want2);
	phpc_strv_free(e);
}

static void test_container_env(void **state)
{
	(void)state;
	char *argv[] = {"podman-hpc", "run", "-e", "HOME=/c", "--env=X=1",
	                "-eY=2",      "img", "-e", "X=9",     NULL};
	struct phpc_cli cli;
	struct phpc_error *err = NULL;
	struct phpc_modules none = {0};
	assert_int_equal(phpc_cli_parse(9, argv, &cli, &err), 0);
	phpc_cli_parse_modules(&cli, &none);
	char *host[] = {"HOME=/h", "Z=3", NULL};
	assert_string_equal(phpc_cli_container_env(&cli, host, "HOME"), "/c");
	assert_string_equal(phpc_cli_container_env(&cli, host, "X"), "1");
	assert_string_equal(phpc_cli_container_env(&cli, host, "Y"), "2");
	assert_string_equal(phpc_cli_container_env(&cli, host, "Z"), "3");
	assert_null(phpc_cli_container_env(&cli, host, "W"));
	phpc_cli_clear(&cli);
}

/* No hook in the hooks dir: no annotation (it would promise work nobody does). */
static void test_no_hook_no_annotation(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, NULL);
	struct phpc_cli cli;
	struct phpc_error *err = NULL;
	struct phpc_modules none = {0};
	char *argv[] = {"podman-hpc", "run", "img", NULL};
	assert_int_equal(phpc_cli_parse(3, argv, &cli, &err), 0);
	phpc_cli_parse_modules(&cli, &none);
	struct phpc_plan plan;
	phpc_plan_init(&plan, &cli);
	char **got = phpc_podman_argv(c, &none, &plan, "podman");
	assert_false(phpc_strv_contains(got, "podman_hpc.hook_tool=true"));
	assert_true(phpc_strv_contains(got, "--hooks-dir"));
	phpc_strv_free(got);
	phpc_cli_clear(&cli);
	phpc_config_free(c);
}

/* The hook is asked to run only for a container with a request, named by
 * its token; never on build. */
static void test_hook_request_annotation(void **state)
{
	(void)state;
	struct phpc_config *c = cfg_with(env_default, NULL);
	struct phpc_cli cli;
	struct phpc_error *err = NULL;
	struct phpc_modules none = {0};
	char *argv[] = {"podman-hpc", "run", "img", NULL};
	assert_int_equal(phpc_cli_parse(3, argv, &cli, &err), 0);
	phpc_cli_parse_modules(&cli, &none);
	struct phpc_plan plan;
	phpc_plan_init(&plan, &cli);
	plan.hook_installed = true;
	plan.hook_request = strdup("0123456789abcdef0123456789abcdef");
	char **got = phpc_podman_argv(c, &none, &plan, "podman");
	assert_true(phpc_strv_contains(got, "podman_hpc.hook_tool=true"));
	assert_true(phpc_strv_contains(got, "podman_hpc.request=0123456789abcdef0123456789abcdef"));
	phpc_strv_free(got);
	phpc_plan_clear(&plan);
	phpc_cli_clear(&cli);
	char *bargv[] = {"podman-hpc", "build", "-t", "x", ".", NULL};
	assert_int_equal(phpc_cli_parse(5, bargv, &cli, &err), 0);
	phpc_plan_init(&plan, &cli);
	plan.hook_installed = true;
	plan.hook_request = strdup("0123456789abcdef0123456789abcdef");
	got = phpc_podman_argv(c, &none, &plan, "podman");
	for (char **a = got; *a; a++)
		assert_null(strstr(*a, "podman_hpc"));
	phpc_strv_free(got);
	phpc_plan_clear(&plan);
	phpc_cli_clear(&cli);
	phpc_config_free(c);
}

/* --root X and --root=X, the last one winning */
static void test_cli_global(void **state)
{
	(void)state;
	struct phpc_cli cli;
	struct phpc_error *err = NULL;
	char *argv[] = {"podman-hpc", "--root", "/a", "--log-level=debug", "--root=/b", "ps", NULL};
	assert_int_equal(phpc_cli_parse(6, argv, &cli, &err), 0);
	assert_string_equal(phpc_cli_global(&cli, "--root"), "/b");
	assert_null(phpc_cli_global(&cli, "--runroot"));
	phpc_cli_clear(&cli);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run),
	    cmocka_unit_test(test_each_kind),
	    cmocka_unit_test(test_global_flags),
	    cmocka_unit_test(test_our_global_options),
	    cmocka_unit_test(test_use_default_args_off),
	    cmocka_unit_test(test_module_args),
	    cmocka_unit_test(test_image_position),
	    cmocka_unit_test(test_pmi_fd),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_container_env),
	    cmocka_unit_test(test_no_hook_no_annotation),
	    cmocka_unit_test(test_hook_request_annotation),
	    cmocka_unit_test(test_cli_global),
	};
	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
