#include "testutil.h"

#include "config.h"

static const char *const no_files[] = {NULL};

static struct phpc_config_input input(char *const *envp)
{
	return (struct phpc_config_input){
	    .envp = envp,
	    .uid = 4242,
	    .user = "alice",
	    .search_files = no_files,
	    .default_mount_program = "/usr/bin/podman-hpc-mount",
	    .default_modules_dir = "/etc/podman_hpc/modules.d",
	    .default_hooks_dir = "/usr/share/containers/oci/hooks.d",
	};
}

static struct phpc_config *load_ok(char *const *envp)
{
	struct phpc_config *c = NULL;
	struct phpc_error *err = NULL;
	struct phpc_config_input in = input(envp);
	int r = phpc_config_load(&in, &c, &err);
	if (r < 0)
		fail_msg("load failed: %s", err->msg);
	return c;
}

static char *load_err(char *const *envp)
{
	struct phpc_config *c = NULL;
	struct phpc_error *err = NULL;
	struct phpc_config_input in = input(envp);
	int r = phpc_config_load(&in, &c, &err);
	assert_true(r < 0);
	assert_null(c);
	assert_non_null(err);
	char *m = phpc_xstrdup(err->msg);
	phpc_error_free(err);
	return m;
}

static void test_defaults(void **state)
{
	(void)state;
	char *env[] = {NULL};
	struct phpc_config *c = load_ok(env);
	assert_string_equal(phpc_cfg_str(c, PHPC_K_PODMAN_BIN), "podman");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_GRAPH_ROOT), "/tmp/4242_hpc/storage");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_RUN_ROOT), "/tmp/4242_hpc");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_CONFIG_HOME), "/tmp/4242_hpc/config");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_MODULES_DIR), "/etc/podman_hpc/modules.d");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_TASKS_PER_NODE_VAR),
	                    "SLURM_STEP_TASKS_PER_NODE");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_MKSQUASHFS_BIN), "mksquashfs");
	const char *exec_args[] = {"-e", "SLURM_*", "-e", "PALS_*", "-e", "PMI_*", NULL};
	assert_argv_equal(phpc_cfg_list(c, PHPC_K_SHARED_RUN_EXEC_ARGS), exec_args);
	const char *cmd[] = {"sleep", "infinity", NULL};
	assert_argv_equal(phpc_cfg_list(c, PHPC_K_SHARED_RUN_COMMAND), cmd);
	assert_null(phpc_cfg_list(c, PHPC_K_ADDITIONAL_STORES)[0]);
	assert_true(c->v[PHPC_K_USE_DEFAULT_ARGS].b);
	assert_true(c->v[PHPC_K_WAIT_TIMEOUT].num == 10);
	assert_true(c->v[PHPC_K_WAIT_POLL_INTERVAL].num == 0.2);
	assert_string_equal(c->v[PHPC_K_GRAPH_ROOT].source, "default");
	/* per user, never a shared /tmp/storage */
	assert_string_equal(c->squash_dir, "/tmp/4242_hpc/squash");
	assert_null(c->config_file);
	phpc_config_free(c);
}

/* default < file template < env template < file value < env value */
static void test_precedence(void **state)
{
	(void)state;
	_cleanup_free_ char *f =
	    write_temp("c.yaml", "graph_root_template: /f/{{ uid }}/t\n"
	                         "run_root_template: /f/{{ user }}/t\n"
	                         "run_root: /f/value\n"
	                         "config_home_template: /f/{{ env.MY_VAR_1 }}\n"
	                         "config_home: /f/cfgvalue\n");
	_cleanup_free_ char *fe = phpc_xasprintf("PODMANHPC_CONFIG_FILE=%s", f);
	char *env1[] = {fe, "MY_VAR_1=x", NULL};
	struct phpc_config *c = load_ok(env1);
	assert_string_equal(phpc_cfg_str(c, PHPC_K_GRAPH_ROOT), "/f/4242/t");
	assert_string_equal(c->v[PHPC_K_GRAPH_ROOT].source, "file: graph_root_template");
	assert_string_equal(phpc_cfg_str(c, PHPC_K_RUN_ROOT), "/f/value");
	assert_string_equal(c->v[PHPC_K_RUN_ROOT].source, "file: run_root");
	assert_string_equal(c->config_file, f);
	phpc_config_free(c);

	char *env2[] = {fe,
	                "MY_VAR_1=x",
	                "PODMANHPC_GRAPH_ROOT_TEMPLATE=/e/{{user}}",
	                "PODMANHPC_RUN_ROOT_TEMPLATE=/e/tmpl",
	                "PODMANHPC_CONFIG_HOME=/e/value",
	                NULL};
	c = load_ok(env2);
	/* env template beats file template */
	assert_string_equal(phpc_cfg_str(c, PHPC_K_GRAPH_ROOT), "/e/alice");
	assert_string_equal(c->v[PHPC_K_GRAPH_ROOT].source, "env: PODMANHPC_GRAPH_ROOT_TEMPLATE");
	/* file value beats env template */
	assert_string_equal(phpc_cfg_str(c, PHPC_K_RUN_ROOT), "/f/value");
	/* env value beats everything */
	assert_string_equal(phpc_cfg_str(c, PHPC_K_CONFIG_HOME), "/e/value");
	assert_string_equal(c->v[PHPC_K_CONFIG_HOME].source, "env: PODMANHPC_CONFIG_HOME");
	phpc_config_free(c);
}

static void test_lists_and_types(void **state)
{
	(void)state;
	_cleanup_free_ char *f = write_temp("c.yaml", "additional_stores: /a,/b\n"
	                                              "shared_run_command: [\"true\"]\n"
	                                              "shared_run_exec_args:\n  - -e\n  - X_*\n"
	                                              "use_default_args: no\n"
	                                              "wait_timeout: 2.5\n");
	_cleanup_free_ char *fe = phpc_xasprintf("PODMANHPC_CONFIG_FILE=%s", f);
	char *env[] = {fe, "PODMANHPC_WAIT_POLL_INTERVAL=0.05", NULL};
	struct phpc_config *c = load_ok(env);
	const char *stores[] = {"/a", "/b", NULL};
	assert_argv_equal(phpc_cfg_list(c, PHPC_K_ADDITIONAL_STORES), stores);
	const char *cmd[] = {"true", NULL};
	assert_argv_equal(phpc_cfg_list(c, PHPC_K_SHARED_RUN_COMMAND), cmd);
	const char *ea[] = {"-e", "X_*", NULL};
	assert_argv_equal(phpc_cfg_list(c, PHPC_K_SHARED_RUN_EXEC_ARGS), ea);
	assert_false(c->v[PHPC_K_USE_DEFAULT_ARGS].b);
	assert_true(c->v[PHPC_K_WAIT_TIMEOUT].num == 2.5);
	assert_true(c->v[PHPC_K_WAIT_POLL_INTERVAL].num == 0.05);
	phpc_config_free(c);
}

/* NERSC treats any env value, even "True", as false. */
static void test_use_default_args_env(void **state)
{
	(void)state;
	const char *vals[] = {"True", "yes", "1", "on", "FALSE", "no", "0", "off"};
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		_cleanup_free_ char *e = phpc_xasprintf("PODMANHPC_USE_DEFAULT_ARGS=%s", vals[i]);
		char *env[] = {e, NULL};
		struct phpc_config *c = load_ok(env);
		assert_int_equal(c->v[PHPC_K_USE_DEFAULT_ARGS].b, i < 4);
		phpc_config_free(c);
	}
	char *env[] = {"PODMANHPC_USE_DEFAULT_ARGS=maybe", NULL};
	_cleanup_free_ char *m = load_err(env);
	assert_non_null(strstr(m, "PODMANHPC_USE_DEFAULT_ARGS"));
	assert_non_null(strstr(m, "maybe"));
}

static void test_env_list_split(void **state)
{
	(void)state;
	char *env[] = {"PODMANHPC_ADDITIONAL_STORES_TEMPLATE=/s/{{ uid }},/t/{{ env.HOME_DIR }}",
	               "HOME_DIR=h", NULL};
	struct phpc_config *c = load_ok(env);
	const char *want[] = {"/s/4242", "/t/h", NULL};
	assert_argv_equal(phpc_cfg_list(c, PHPC_K_ADDITIONAL_STORES), want);
	phpc_config_free(c);
}

static void test_squash_dir(void **state)
{
	(void)state;
	char *e1[] = {"SCRATCH=/scratch/a", NULL};
	struct phpc_config *c = load_ok(e1);
	assert_string_equal(c->squash_dir, "/scratch/a/storage");
	assert_string_equal(c->squash_dir_source, "env: SCRATCH");
	phpc_config_free(c);
	char *e2[] = {"SCRATCH=/scratch/a", "SQUASH_DIR=/sq", NULL};
	c = load_ok(e2);
	assert_string_equal(c->squash_dir, "/sq");
	phpc_config_free(c);
	struct phpc_config_input in = input(e2);
	in.squash_dir_opt = "/opt";
	in.additional_stores_opt = "/x,/y";
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_config_load(&in, &c, &err), 0);
	assert_string_equal(c->squash_dir, "/opt");
	const char *all[] = {"/x", "/y", NULL};
	assert_argv_equal(c->all_additional_stores, all);
	phpc_config_free(c);
}

static void expect_file_error(const char *text, const char *needle1, const char *needle2)
{
	_cleanup_free_ char *f = write_temp("bad.yaml", text);
	_cleanup_free_ char *fe = phpc_xasprintf("PODMANHPC_CONFIG_FILE=%s", f);
	char *env[] = {fe, NULL};
	_cleanup_free_ char *m = load_err(env);
	if (!strstr(m, f) || !strstr(m, needle1) || (needle2 && !strstr(m, needle2)))
		fail_msg("message \"%s\" lacks file, \"%s\" or \"%s\"", m, needle1,
		         needle2 ? needle2 : "");
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_file_error("podman_bin: podman\nbogus_key: 1\n", "line 2", "bogus_key");
	expect_file_error("podman_bin: [a\n", "YAML syntax error", NULL);
	expect_file_error("wait_timeout: soon\n", "line 1", "wait_timeout");
	expect_file_error("graph_root:\n  - /a\n", "graph_root", "list");
	expect_file_error("use_default_args: perhaps\n", "use_default_args", NULL);
	expect_file_error("graph_root: /a\ngraph_root: /b\n", "duplicate key", "line 2");
	expect_file_error("graph_root_template: /x/{{ env.NOPE_NOT_SET }}\n", "graph_root_template",
	                  "NOPE_NOT_SET");
	expect_file_error("- a\n- b\n", "mapping", NULL);
}

static void test_env_template_unset(void **state)
{
	(void)state;
	char *env[] = {"PODMANHPC_RUN_ROOT_TEMPLATE=/r/{{ env.UNSET_VAR_X }}", NULL};
	_cleanup_free_ char *m = load_err(env);
	assert_non_null(strstr(m, "PODMANHPC_RUN_ROOT_TEMPLATE"));
	assert_non_null(strstr(m, "UNSET_VAR_X"));
}

static void test_missing_explicit_file(void **state)
{
	(void)state;
	char *env[] = {"PODMANHPC_CONFIG_FILE=/nonexistent/podman_hpc.yaml", NULL};
	_cleanup_free_ char *m = load_err(env);
	assert_non_null(strstr(m, "/nonexistent/podman_hpc.yaml"));
}

static void test_dead_template_warns(void **state)
{
	(void)state;
	_cleanup_free_ char *f = write_temp("c.yaml", "shared_run_args_template: [x]\n");
	_cleanup_free_ char *fe = phpc_xasprintf("PODMANHPC_CONFIG_FILE=%s", f);
	char *env[] = {fe, NULL};
	struct phpc_config *c = load_ok(env);
	assert_int_equal(c->warnings.n, 1);
	assert_non_null(strstr(c->warnings.v[0], "shared_run_args_template"));
	phpc_config_free(c);
}

static void test_template_expand(void **state)
{
	(void)state;
	char *env[] = {"A_B=1", "PROJECT=m42", NULL};
	struct phpc_error *err = NULL;
	char *out = NULL;
	assert_int_equal(phpc_template_expand("/x/{{ env.A_B }}/{{env.PROJECT}}-{{ uid }}", env, 7,
	                                      "bob", &out, &err),
	                 0);
	assert_string_equal(out, "/x/1/m42-7");
	free(out);
	assert_true(phpc_template_expand("/x/{{ nope }}", env, 7, "bob", &out, &err) < 0);
	assert_non_null(strstr(err->msg, "nope"));
	phpc_error_free(err);
	err = NULL;
	assert_true(phpc_template_expand("/x/{{ uid", env, 7, "bob", &out, &err) < 0);
	phpc_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_lists_and_types),
	    cmocka_unit_test(test_use_default_args_env),
	    cmocka_unit_test(test_env_list_split),
	    cmocka_unit_test(test_squash_dir),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_env_template_unset),
	    cmocka_unit_test(test_missing_explicit_file),
	    cmocka_unit_test(test_dead_template_warns),
	    cmocka_unit_test(test_template_expand),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
