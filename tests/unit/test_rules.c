#include "testutil.h"

#include "env.h"
#include "path.h"
#include "rules.h"

#include <errno.h>

static const char *lookup(const char *name, void *data)
{
	return phpc_env_get((char *const *)data, name);
}

static char *env[] = {"HOME=/home/al", "SCRATCH=/pscratch/al", "LIBDIR=/usr/lib64", NULL};

/* Parses text, feeds it the given matches, checks the destinations. */
static void check(const char *text, const char *const *matches, const char *const *want)
{
	struct phpc_rule r;
	struct phpc_error *err = NULL;
	if (phpc_rule_parse(text, "/etc/podman_hpc/modules.d", lookup, env, &r, &err) < 0)
		fail_msg("%s", err->msg);
	struct phpc_strv d = {0};
	if (phpc_rule_destinations(&r, (char *const *)matches, &d, &err) < 0)
		fail_msg("%s: skipped: %s", text, err->msg);
	assert_argv_equal(d.v ? d.v : (char *[]){NULL}, want);
	phpc_strv_clear(&d);
	phpc_rule_clear(&r);
}

static void check_skipped(const char *text, const char *needle)
{
	struct phpc_rule r;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_rule_parse(text, "/m", lookup, env, &r, &err), 0);
	struct phpc_strv d = {0};
	const char *m[] = {"/x/a", NULL};
	assert_int_equal(phpc_rule_destinations(&r, (char *const *)m, &d, &err), -EINVAL);
	assert_non_null(err);
	assert_int_equal(err->code, EINVAL);
	assert_non_null(strstr(err->msg, needle));
	assert_null(d.v); /* nothing filled for a skipped rule */
	phpc_error_free(err);
	phpc_rule_clear(&r);
}

static void test_expansion(void **state)
{
	(void)state;
	struct phpc_rule r;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_rule_parse("$HOME:${SCRATCH}/x", "/m", lookup, env, &r, &err), 0);
	assert_string_equal(r.src, "/home/al");
	assert_string_equal(r.dst, "/pscratch/al/x");
	assert_false(r.ro);
	phpc_rule_clear(&r);
	assert_int_equal(phpc_rule_parse("~/data:/data:ro", "/m", lookup, env, &r, &err), 0);
	assert_string_equal(r.src, "/home/al/data");
	assert_true(r.ro);
	phpc_rule_clear(&r);
	/* relative to modules_dir; unset variables stay as written */
	assert_int_equal(phpc_rule_parse("../01-gpu.conf:/etc/$NOPE", "/etc/podman_hpc/modules.d",
	                                 lookup, env, &r, &err),
	                 0);
	assert_string_equal(r.src, "/etc/podman_hpc/01-gpu.conf");
	assert_string_equal(r.dst, "/etc/$NOPE");
	phpc_rule_clear(&r);
	assert_true(phpc_rule_parse(":/x", "/m", lookup, env, &r, &err) < 0);
	phpc_error_free(err);
}

static void test_forms(void **state)
{
	(void)state;
	/* empty dst: the same path inside */
	check("/dev/null", (const char *[]){"/dev/null", NULL},
	      (const char *[]){"/dev/null", NULL});
	/* exact path */
	check("/dev/null:/null", (const char *[]){"/dev/null", NULL},
	      (const char *[]){"/null", NULL});
	/* trailing slash: into the directory */
	check("/usr/bin/nvidia-smi:/opt/bin/", (const char *[]){"/usr/bin/nvidia-smi", NULL},
	      (const char *[]){"/opt/bin/nvidia-smi", NULL});
	/* several matches, no '*' in dst: dst is a directory, paths below the common prefix */
	check("/usr/lib64/libnv*:/usr/lib64",
	      (const char *[]){"/usr/lib64/libnvidia-ml.so.1", "/usr/lib64/libnvoptix.so", NULL},
	      (const char *[]){"/usr/lib64/libnvidia-ml.so.1", "/usr/lib64/libnvoptix.so", NULL});
	check("/a/*/lib:/b", (const char *[]){"/a/x/lib", "/a/y/lib", NULL},
	      (const char *[]){"/b/x/lib", "/b/y/lib", NULL});
	/* '*' in dst: the matched part substituted */
	check("/usr/lib64/libcuda*:/lib/cuda*", (const char *[]){"/usr/lib64/libcuda.so.1", NULL},
	      (const char *[]){"/lib/cuda.so.1", NULL});
	/* '*' in dst with a trailing '/': substituted, then the basename appended */
	check("/opt/*/lib/libx.so:/mods/*/", (const char *[]){"/opt/mpich/lib/libx.so", NULL},
	      (const char *[]){"/mods/mpich/libx.so", NULL});
	/* no match: nothing */
	check("/nope*:/x/", (const char *[]){NULL}, (const char *[]){NULL});
	/* '..' in a destination never climbs above the container's root */
	check("/a:/../../etc/x", (const char *[]){"/a", NULL}, (const char *[]){"/etc/x", NULL});
}

static void test_skips(void **state)
{
	(void)state;
	check_skipped("/x/a:relative/dst", "absolute");
	check_skipped("/x/a:/d/*", "exactly one");
	check_skipped("/x/*/*:/d/*", "exactly one");
}

static void test_normalize(void **state)
{
	(void)state;
	const char *c[][2] = {{"/a//b/./c/", "/a/b/c"},
	                      {"/a/../../b", "/b"},
	                      {"/", "/"},
	                      {"//", "/"},
	                      {"/a/b/..", "/a"}};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		_cleanup_free_ char *n = phpc_path_normalize(c[i][0]);
		assert_string_equal(n, c[i][1]);
	}
}

static void test_var_names(void **state)
{
	(void)state;
	struct phpc_strv n = {0};
	phpc_rule_var_names("$HOME:${SCRATCH}/x", &n);
	phpc_rule_var_names("~/a:$HOME/b", &n);
	phpc_rule_var_names("/plain:/path", &n);
	const char *want[] = {"HOME", "SCRATCH", NULL};
	assert_argv_equal(n.v, want);
	phpc_strv_clear(&n);
}

static void test_needs_ldconfig(void **state)
{
	(void)state;
	/* libraries, by the name ldconfig itself looks at */
	assert_true(phpc_rule_needs_ldconfig("/usr/lib64/libcuda.so.1", false));
	assert_true(phpc_rule_needs_ldconfig("/usr/lib64/libnvidia-ml.so.550.54.15", false));
	assert_true(phpc_rule_needs_ldconfig("/opt/x/lib/libfoo.so", false));
	assert_true(phpc_rule_needs_ldconfig("/lib64/ld-linux-x86-64.so.2", false));
	/* the loader's configuration, and directories (they may hold libraries) */
	assert_true(phpc_rule_needs_ldconfig("/etc/ld.so.conf.d/02-gpu.conf", false));
	assert_true(phpc_rule_needs_ldconfig("/etc/ld.so.conf", false));
	assert_true(phpc_rule_needs_ldconfig("/opt/cray/pe", true));
	/* tools, devices, data: nothing the loader looks up */
	assert_false(phpc_rule_needs_ldconfig("/usr/bin/nvidia-smi", false));
	assert_false(phpc_rule_needs_ldconfig("/dev/nvidia0", false));
	assert_false(phpc_rule_needs_ldconfig("/etc/x.conf", false));
	assert_false(phpc_rule_needs_ldconfig("/etc/ld.so.conf.d", false));
	assert_false(phpc_rule_needs_ldconfig("/etc/ld.so.preload.bak", false));
	assert_false(phpc_rule_needs_ldconfig("/usr/share/libfoo/README", false));
	assert_false(phpc_rule_needs_ldconfig("/usr/lib64/python3/site.py", false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expansion), cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_skips),     cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_var_names), cmocka_unit_test(test_needs_ldconfig),
	};
	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
