#include "testutil.h"

#include "config.h"
#include "fsutil.h"
#include "podconf.h"

#include <sys/stat.h>

static void test_toml_escape(void **state)
{
	(void)state;
	char *b = NULL;
	size_t n = 0;
	phpc_toml_append_string(&b, &n, "a\"b\\c\nd\x01");
	assert_string_equal(b, "\"a\\\"b\\\\c\\u000ad\\u0001\"");
	free(b);
}

static struct phpc_config *cfg(const char *home)
{
	_cleanup_free_ char *ch = phpc_xasprintf("PODMANHPC_CONFIG_HOME=%s", home);
	char *env[] = {"PODMANHPC_GRAPH_ROOT=/g/\"quoted\"", ch, "SQUASH_DIR=/sq", NULL};
	return test_config(env, "/extra");
}

static void test_storage_conf(void **state)
{
	(void)state;
	struct phpc_config *c = cfg("/cfg");
	_cleanup_free_ char *t = phpc_storage_conf_text(c);
	assert_non_null(strstr(t, "driver = \"overlay\"\n"));
	assert_non_null(strstr(t, "graphroot = \"/g/\\\"quoted\\\"\"\n"));
	assert_non_null(strstr(t, "additionalimagestores = [\"/sq\", \"/extra\"]\n"));
	assert_non_null(strstr(t, "mount_program = \"/usr/bin/podman-hpc-mount\"\n"));
	phpc_config_free(c);
}

static void test_update_only_when_changed(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/phpc-unit-XXXXXX";
	char *dir = mkdtemp(tmpl);
	_cleanup_free_ char *home = phpc_xasprintf("%s/config", dir);
	struct phpc_config *c = cfg(home);
	struct phpc_error *err = NULL;
	bool changed = false;
	assert_int_equal(phpc_podconf_update(c, &changed, &err), 0);
	assert_true(changed);
	assert_int_equal(phpc_podconf_update(c, &changed, &err), 0);
	assert_false(changed);
	_cleanup_free_ char *p = phpc_xasprintf("%s/containers/storage.conf", home);
	_cleanup_free_ char *text = NULL;
	assert_int_equal(phpc_read_file(AT_FDCWD, p, &text, NULL, &err), 0);
	_cleanup_free_ char *want = phpc_storage_conf_text(c);
	assert_string_equal(text, want);
	struct stat st;
	assert_int_equal(stat(home, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	phpc_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_toml_escape),
	    cmocka_unit_test(test_storage_conf),
	    cmocka_unit_test(test_update_only_when_changed),
	};
	return cmocka_run_group_tests_name("podconf", tests, NULL, NULL);
}
