#include "testutil.h"

#include "opttable.h"

#include <errno.h>

static const struct phpc_opt opts[] = {
    {"compress", 'c', "ALG", "compression of the squash file", false, false},
    {"force", 'f', NULL, "replace what is there", false, false},
    {"quiet", 'q', NULL, "say less\nand nothing more", false, false},
    {"secret", '\0', NULL, "not shown", true, false},
    {"mode", '\0', NULL, "a hidden mode", true, true},
    {NULL, '\0', NULL, NULL, false, false},
};

static const struct phpc_cmd_spec spec = {
    .name = "demo",
    .usage = "[options] IMAGE...",
    .summary = "Demonstrate the option table",
    .description = "First line.\nSecond line.",
    .example = "podman-hpc demo -f img\npodman-hpc demo --compress=xz img",
    .opts = opts,
};

/* Parses a NULL-terminated argv; returns phpc_opt_parse's result. */
static int parse(const char *const *argv, struct phpc_opt_result *res, struct phpc_error **err)
{
	return phpc_opt_parse(&spec, (char *const *)argv, phpc_strv_len((char *const *)argv), res,
	                      err);
}

static void test_forms(void **state)
{
	(void)state;
	const char *const argv[] = {"img1", "--compress",    "lz4", "-f",
	                            "img2", "--compress=xz", NULL};
	struct phpc_opt_result res;
	struct phpc_error *err = NULL;
	assert_int_equal(parse(argv, &res, &err), 0);
	assert_null(err);
	assert_string_equal(phpc_opt_get(&spec, &res, "compress"), "xz"); /* the last wins */
	assert_int_equal(res.count[0], 2);
	assert_true(phpc_opt_given(&spec, &res, "force"));
	assert_string_equal(res.val[1], "");
	assert_false(phpc_opt_given(&spec, &res, "quiet"));
	assert_null(phpc_opt_get(&spec, &res, "no-such-option"));
	const char *const pos[] = {"img1", "img2", NULL};
	assert_argv_equal(res.pos.v, pos);
	phpc_opt_result_clear(&res);
}

static void test_short(void **state)
{
	(void)state;
	struct phpc_opt_result res;
	const char *const a1[] = {"-fq", "-czstd", "-", NULL};
	assert_int_equal(parse(a1, &res, NULL), 0);
	assert_true(phpc_opt_given(&spec, &res, "force"));
	assert_true(phpc_opt_given(&spec, &res, "quiet"));
	assert_string_equal(phpc_opt_get(&spec, &res, "compress"), "zstd");
	const char *const p1[] = {"-", NULL};
	assert_argv_equal(res.pos.v, p1);
	phpc_opt_result_clear(&res);

	const char *const a2[] = {"-c", "gzip", "-fc", "lzo", NULL};
	assert_int_equal(parse(a2, &res, NULL), 0);
	assert_string_equal(phpc_opt_get(&spec, &res, "compress"), "lzo");
	assert_int_equal(res.pos.n, 0);
	phpc_opt_result_clear(&res);
}

static void test_dashdash(void **state)
{
	(void)state;
	struct phpc_opt_result res;
	const char *const argv[] = {"-f", "--", "--compress", "-x", "--help", NULL};
	assert_int_equal(parse(argv, &res, NULL), 0);
	const char *const pos[] = {"--compress", "-x", "--help", NULL};
	assert_argv_equal(res.pos.v, pos);
	phpc_opt_result_clear(&res);
}

static void test_help(void **state)
{
	(void)state;
	struct phpc_opt_result res;
	struct phpc_error *err = NULL;
	const char *const a1[] = {"img", "--help", NULL};
	assert_int_equal(parse(a1, &res, &err), PHPC_OPT_HELP);
	phpc_opt_result_clear(&res);
	const char *const a2[] = {"-h", NULL};
	assert_int_equal(parse(a2, &res, &err), PHPC_OPT_HELP);
	phpc_opt_result_clear(&res);
	const char *const a3[] = {"-fh", NULL};
	assert_int_equal(parse(a3, &res, &err), PHPC_OPT_HELP);
	phpc_opt_result_clear(&res);
	/* help wins over a wrong argument: it says how to fix it */
	const char *const a4[] = {"--bogus", "--help", NULL};
	assert_int_equal(parse(a4, &res, &err), PHPC_OPT_HELP);
	assert_null(err);
	phpc_opt_result_clear(&res);
	/* a value that looks like --help is the value */
	const char *const a5[] = {"--compress", "--help", NULL};
	assert_int_equal(parse(a5, &res, &err), 0);
	assert_string_equal(phpc_opt_get(&spec, &res, "compress"), "--help");
	phpc_opt_result_clear(&res);
}

/* Parses argv, expects -EINVAL and an error containing every string of want. */
static void expect_error(const char *const *argv, const char *const *want)
{
	struct phpc_opt_result res;
	struct phpc_error *err = NULL;
	assert_int_equal(parse(argv, &res, &err), -EINVAL);
	assert_non_null(err);
	for (; *want; want++)
		if (!strstr(err->msg, *want))
			fail_msg("\"%s\" lacks \"%s\"", err->msg, *want);
	phpc_error_free(err);
	phpc_opt_result_clear(&res);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error((const char *const[]){"--bogus", NULL},
	             (const char *const[]){"demo: unknown option \"--bogus\"",
	                                   "see podman-hpc demo --help", NULL});
	expect_error((const char *const[]){"--bogus=1", "img", NULL},
	             (const char *const[]){"unknown option \"--bogus\"", NULL});
	expect_error((const char *const[]){"-x", "img", NULL},
	             (const char *const[]){"demo: unknown option \"-x\" (", NULL});
	expect_error((const char *const[]){"-fx", NULL},
	             (const char *const[]){"unknown option \"-x\" in \"-fx\"", NULL});
	expect_error((const char *const[]){"img", "--compress", NULL},
	             (const char *const[]){"option --compress needs a value", "ALG", NULL});
	expect_error((const char *const[]){"-c", NULL},
	             (const char *const[]){"option -c needs a value", NULL});
	expect_error((const char *const[]){"--force=yes", NULL},
	             (const char *const[]){"option --force takes no value", NULL});
	expect_error((const char *const[]){"--help=x", NULL},
	             (const char *const[]){"unknown option \"--help\"", NULL});
	/* the first wrong argument is the one named */
	expect_error((const char *const[]){"--one", "--two", NULL},
	             (const char *const[]){"\"--one\"", NULL});
	/* a mode is only valid first */
	expect_error((const char *const[]){"img", "--mode", "x", NULL},
	             (const char *const[]){"--mode must be the first argument", NULL});
}

static void test_hidden_and_mode(void **state)
{
	(void)state;
	struct phpc_opt_result res;
	const char *const a1[] = {"--secret", "img", NULL};
	assert_int_equal(parse(a1, &res, NULL), 0);
	assert_true(phpc_opt_given(&spec, &res, "secret"));
	phpc_opt_result_clear(&res);
	/* after a mode, everything is a positional: options, --help, -- */
	const char *const a2[] = {"--mode", "/bin/x", "-comp", "--help", "--", "-f", NULL};
	assert_int_equal(parse(a2, &res, NULL), 0);
	assert_true(phpc_opt_given(&spec, &res, "mode"));
	assert_false(phpc_opt_given(&spec, &res, "force"));
	const char *const p2[] = {"/bin/x", "-comp", "--help", "--", "-f", NULL};
	assert_argv_equal(res.pos.v, p2);
	phpc_opt_result_clear(&res);
	const char *const a3[] = {"--mode", NULL};
	assert_int_equal(parse(a3, &res, NULL), 0);
	assert_int_equal(res.pos.n, 0);
	phpc_opt_result_clear(&res);
}

static void test_no_table(void **state)
{
	(void)state;
	const struct phpc_cmd_spec bare = {.name = "bare", .usage = "", .summary = "Nothing"};
	struct phpc_opt_result res;
	struct phpc_error *err = NULL;
	char *const ok[] = {(char *)"x", NULL};
	assert_int_equal(phpc_opt_parse(&bare, ok, 1, &res, &err), 0);
	assert_int_equal(res.pos.n, 1);
	phpc_opt_result_clear(&res);
	char *const bad[] = {(char *)"--x", NULL};
	assert_int_equal(phpc_opt_parse(&bare, bad, 1, &res, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "bare: unknown option \"--x\""));
	phpc_error_free(err);
	phpc_opt_result_clear(&res);
	char *const help[] = {(char *)"--help", NULL};
	assert_int_equal(phpc_opt_parse(&bare, help, 1, &res, NULL), PHPC_OPT_HELP);
	phpc_opt_result_clear(&res);
	char *text = phpc_cmd_help_str(&bare);
	assert_string_equal(text, "Nothing\n\n"
	                          "Usage:\n  podman-hpc bare\n\n"
	                          "Options:\n"
	                          "  -h, --help   print this help\n");
	free(text);
}

static void test_help_text(void **state)
{
	(void)state;
	char *text = phpc_cmd_help_str(&spec);
	assert_string_equal(text, "Demonstrate the option table\n\n"
	                          "Description:\n"
	                          "  First line.\n"
	                          "  Second line.\n\n"
	                          "Usage:\n"
	                          "  podman-hpc demo [options] IMAGE...\n\n"
	                          "Examples:\n"
	                          "  podman-hpc demo -f img\n"
	                          "  podman-hpc demo --compress=xz img\n\n"
	                          "Options:\n"
	                          "  -c, --compress ALG   compression of the squash file\n"
	                          "  -f, --force          replace what is there\n"
	                          "  -q, --quiet          say less\n"
	                          "                       and nothing more\n"
	                          "  -h, --help           print this help\n");
	free(text);
	/* min_width widens the column */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	phpc_help_opts(opts, false, 20, f);
	fclose(f);
	assert_string_equal(buf, "  -c, --compress ALG         compression of the squash file\n"
	                         "  -f, --force                replace what is there\n"
	                         "  -q, --quiet                say less\n"
	                         "                             and nothing more\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),    cmocka_unit_test(test_short),
	    cmocka_unit_test(test_dashdash), cmocka_unit_test(test_help),
	    cmocka_unit_test(test_errors),   cmocka_unit_test(test_hidden_and_mode),
	    cmocka_unit_test(test_no_table), cmocka_unit_test(test_help_text),
	};
	return cmocka_run_group_tests_name("opttable", tests, NULL, NULL);
}
