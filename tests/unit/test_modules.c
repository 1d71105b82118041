#include "testutil.h"

#include "modules.h"

#include <errno.h>
#include <sys/stat.h>

static void parse_ok(const char *text, struct phpc_module *m)
{
	struct phpc_error *err = NULL;
	if (phpc_module_parse("t.yaml", text, strlen(text), m, NULL, &err) < 0)
		fail_msg("%s", err->msg);
}

static char *parse_err(const char *text)
{
	struct phpc_module m;
	struct phpc_error *err = NULL;
	assert_true(phpc_module_parse("t.yaml", text, strlen(text), &m, NULL, &err) < 0);
	char *msg = phpc_xstrdup(err->msg);
	phpc_error_free(err);
	return msg;
}

static void test_parse_full(void **state)
{
	(void)state;
	struct phpc_module m;
	parse_ok("name: mpich\ncli_arg: mpi\nhelp: MPI\nenv: ENABLE_MPICH\nhidden: false\n"
	         "shared_run: True\nadditional_args:\n  - -e SLURM_*\n  - --ipc=host\n"
	         "bind:\n  - /a:/b\ncopy: [x:/y]\ndepends_on: [base]\nconflicts: other\n",
	         &m);
	assert_string_equal(m.name, "mpich");
	assert_string_equal(m.cli_arg, "mpi");
	assert_string_equal(m.env, "ENABLE_MPICH");
	assert_true(m.shared_run);
	assert_false(m.hidden);
	const char *aa[] = {"-e SLURM_*", "--ipc=host", NULL};
	assert_argv_equal(m.additional_args, aa);
	const char *b[] = {"/a:/b", NULL};
	assert_argv_equal(m.bind, b);
	const char *c[] = {"other", NULL}; /* a single string is a one-item list */
	assert_argv_equal(m.conflicts, c);
	phpc_module_clear(&m);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct {
		const char *text, *needle;
	} cases[] = {
	    {"cli_arg: x\nenv: X\n", "\"name\""},
	    {"name: a\ncli_arg: x\n", "env"},
	    {"name: a\ncli_arg: --x\nenv: X\n", "cli_arg"},
	    {"name: a\ncli_arg: rm\nenv: X\n", "--rm"},
	    {"name: a\nshared_run: sometimes\n", "line 2"},
	    {"name: a\nbind: {x: y}\n", "bind"},
	    {"name: [a]\n", "name"},
	    {"name: a\nname: b\n", "duplicate"},
	    {"name: a\n  bad: [\n", "YAML"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *m = parse_err(cases[i].text);
		if (!strstr(m, cases[i].needle) || !strstr(m, "t.yaml"))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, m, cases[i].needle);
	}
}

static void test_unknown_key_warns(void **state)
{
	(void)state;
	struct phpc_module m;
	struct phpc_strv w = {0};
	struct phpc_error *err = NULL;
	const char *t = "name: a\nannotation: x\n";
	assert_int_equal(phpc_module_parse("t.yaml", t, strlen(t), &m, &w, &err), 0);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.v[0], "annotation"));
	phpc_strv_clear(&w);
	phpc_module_clear(&m);
}

static struct phpc_modules make(const char *const *texts)
{
	struct phpc_modules mods = {0};
	size_t n = phpc_strv_len((char *const *)texts);
	mods.m = phpc_xcalloc(n, sizeof(*mods.m));
	for (size_t i = 0; i < n; i++)
		parse_ok(texts[i], &mods.m[mods.n++]);
	return mods;
}

static void test_depends_on(void **state)
{
	(void)state;
	const char *t[] = {"name: a\ncli_arg: a\nenv: A\ndepends_on: [b]\n",
	                   "name: b\ncli_arg: bee\nenv: B\ndepends_on: [c]\n", "name: c\nenv: C\n",
	                   NULL};
	struct phpc_modules mods = make(t);
	bool en[3] = {true, false, false};
	struct phpc_strv notes = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_modules_resolve(&mods, en, &notes, &err), 0);
	assert_true(en[1] && en[2]);
	assert_int_equal(notes.n, 2);
	assert_non_null(strstr(notes.v[0], "--bee"));
	struct phpc_strv args = {0};
	phpc_modules_args(&mods, en, &args);
	const char *want[] = {"-e", "A=1", "-e", "B=1", "-e", "C=1", NULL};
	assert_argv_equal(args.v, want);
	phpc_strv_clear(&args);
	phpc_strv_clear(&notes);
	phpc_modules_clear(&mods);
}

static void test_conflicts(void **state)
{
	(void)state;
	const char *t[] = {"name: mpich\ncli_arg: mpi\nenv: A\nconflicts: [ompi]\n",
	                   "name: ompi\ncli_arg: openmpi\nenv: B\n",
	                   "name: x\ncli_arg: x\nenv: X\ndepends_on: [ompi]\n", NULL};
	struct phpc_modules mods = make(t);
	struct phpc_error *err = NULL;
	bool en[3] = {true, true, false};
	assert_true(phpc_modules_resolve(&mods, en, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "--mpi"));
	assert_non_null(strstr(err->msg, "--openmpi"));
	phpc_error_free(err);
	err = NULL;
	/* a conflict brought in by a dependency is caught too */
	bool en2[3] = {true, false, true};
	assert_true(phpc_modules_resolve(&mods, en2, NULL, &err) < 0);
	phpc_error_free(err);
	err = NULL;
	bool en3[3] = {false, true, true};
	assert_int_equal(phpc_modules_resolve(&mods, en3, NULL, &err), 0);
	phpc_modules_clear(&mods);
}

static void test_missing_dependency(void **state)
{
	(void)state;
	const char *t[] = {"name: a\ncli_arg: a\nenv: A\ndepends_on: [ghost]\n", NULL};
	struct phpc_modules mods = make(t);
	struct phpc_error *err = NULL;
	bool en[1] = {true};
	assert_true(phpc_modules_resolve(&mods, en, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "ghost"));
	phpc_error_free(err);
	phpc_modules_clear(&mods);
}

static void test_load_dir(void **state)
{
	(void)state;
	_cleanup_free_ char *a = write_temp("b.yaml", "name: b\ncli_arg: b\nenv: B\n");
	char *dir = phpc_xstrndup(a, strlen(a) - strlen("/b.yaml"));
	_cleanup_free_ char *p2 = phpc_xasprintf("%s/a.yaml", dir);
	FILE *f = fopen(p2, "we");
	fputs("name: a\ncli_arg: a\nenv: A\n", f);
	fclose(f);
	_cleanup_free_ char *p3 = phpc_xasprintf("%s/notes.txt", dir);
	f = fopen(p3, "we");
	fputs("not yaml: [", f);
	fclose(f);
	struct phpc_modules mods;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_modules_load(dir, &mods, &err), 0);
	assert_int_equal(mods.n, 2);
	assert_string_equal(mods.m[0].name, "a"); /* sorted by file name */
	assert_int_equal(phpc_modules_find_flag(&mods, "b", 1), 1);
	assert_int_equal(phpc_modules_find_flag(&mods, "bb", 2), -1);
	phpc_modules_clear(&mods);

	/* the same flag twice is an error naming both files */
	_cleanup_free_ char *p4 = phpc_xasprintf("%s/c.yaml", dir);
	f = fopen(p4, "we");
	fputs("name: c\ncli_arg: a\nenv: C\n", f);
	fclose(f);
	assert_true(phpc_modules_load(dir, &mods, &err) < 0);
	assert_non_null(strstr(err->msg, "c.yaml"));
	assert_non_null(strstr(err->msg, "a.yaml"));
	phpc_error_free(err);
	err = NULL;
	/* a missing directory is no modules */
	assert_int_equal(phpc_modules_load("/nonexistent/modules.d", &mods, &err), 0);
	assert_int_equal(mods.n, 0);
	free(dir);
}

/* What a module needs of the node: a missing "requires" path, or no
 * message queue file system for --ipc=host, is an error naming the module
 * and the piece; present ones pass. */
static void test_check_host(void **state)
{
	(void)state;
	struct phpc_modules mods = {.n = 2};
	mods.m = phpc_xcalloc(2, sizeof(*mods.m));
	parse_ok(
	    "name: mpich\ncli_arg: mpi\nenv: E\nrequires: [/bin/s*, /nonexistent/libmpi.so.12]\n",
	    &mods.m[0]);
	parse_ok("name: ipc\ncli_arg: ipc-host\nenv: F\nadditional_args: [--ipc=host]\n",
	         &mods.m[1]);
	struct phpc_error *err = NULL;
	bool none[2] = {false, false}, first[2] = {true, false}, second[2] = {false, true};
	assert_int_equal(phpc_modules_check_host(&mods, none, "/tmp", &err), 0);
	assert_int_equal(phpc_modules_check_host(&mods, first, "/tmp", &err), -ENOENT);
	assert_non_null(
	    strstr(err->msg, "module \"mpich\" (--mpi) needs /nonexistent/libmpi.so.12"));
	phpc_error_freep(&err);
	/* /tmp is no mqueue file system */
	assert_int_equal(phpc_modules_check_host(&mods, second, "/tmp", &err), -ENOENT);
	assert_non_null(strstr(err->msg, "module \"ipc\" (--ipc-host) runs the container with "
	                                 "--ipc=host, which needs a message queue file system "
	                                 "at /tmp"));
	phpc_error_freep(&err);
	phpc_strv_free(mods.m[0].requires);
	mods.m[0].requires = phpc_strv_dup((char *[]){"/bin/s*", NULL});
	assert_int_equal(phpc_modules_check_host(&mods, first, "/tmp", &err), 0);
	phpc_modules_clear(&mods);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_full),        cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_unknown_key_warns), cmocka_unit_test(test_depends_on),
	    cmocka_unit_test(test_conflicts),         cmocka_unit_test(test_missing_dependency),
	    cmocka_unit_test(test_load_dir),          cmocka_unit_test(test_check_host),
	};
	return cmocka_run_group_tests_name("modules", tests, NULL, NULL);
}
