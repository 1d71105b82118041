/* The hook's request: parsing what the hook reads, where it may come from,
 * and the checks on the file (request.h). */
#include "testutil.h"

#include "error.h"
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

static void test_token(void **state)
{
	(void)state;
	assert_true(phpc_request_token_valid(TOKEN));
	assert_false(phpc_request_token_valid("0123456789ABCDEF0123456789abcdef"));
	assert_false(phpc_request_token_valid("0123"));
	assert_false(phpc_request_token_valid(TOKEN "0"));
	assert_false(phpc_request_token_valid("../../../../etc/passwd/0123456789ab"));
	assert_false(phpc_request_token_valid(""));
	assert_false(phpc_request_token_valid(NULL));
}

static void test_round_trip(void **state)
{
	(void)state;
	struct phpc_request r = {
	    .token = strdup(TOKEN), .modules_dir = strdup("/etc/m"), .log = strdup("/tmp/log")};
	phpc_strv_add(&r.modules, "gpu");
	phpc_strv_add(&r.env, "HOME=/home/u");
	phpc_strv_add(&r.env, "X=a=b \"c\"\n");
	char *text = phpc_request_to_json(&r);
	struct phpc_request back;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_request_parse(text, strlen(text), &back, &err), 0);
	assert_string_equal(back.token, TOKEN);
	assert_string_equal(back.modules_dir, "/etc/m");
	assert_string_equal(back.log, "/tmp/log");
	assert_string_equal(back.modules.v[0], "gpu");
	assert_string_equal(phpc_request_env(&back, "HOME"), "/home/u");
	assert_string_equal(phpc_request_env(&back, "X"), "a=b \"c\"\n");
	assert_null(phpc_request_env(&back, "HOM"));
	free(text);
	phpc_request_clear(&back);
	phpc_request_clear(&r);
}

static void test_parse_refuses(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",
	    "[]",
	    "{\"token\": \"" TOKEN "\"}",                         /* no modules_dir */
	    "{\"token\": \"x\", \"modules_dir\": \"/m\"}",        /* bad token */
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": \"m\"}", /* relative */
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": \"/m\", \"log\": \"l\"}",
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": \"/m\", \"modules\": [1]}",
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": \"/m\", \"env\": {\"A-B\": \"x\"}}",
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": \"/m\", \"env\": {\"A\": 1}}",
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": \"/m\"} trailing",
	    "{\"token\": \"" TOKEN "\", \"modules_dir\": 5}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct phpc_request r;
		struct phpc_error *err = NULL;
		if (phpc_request_parse(bad[i], strlen(bad[i]), &r, &err) >= 0)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
		phpc_error_free(err);
	}
}

static void test_graph_root(void **state)
{
	(void)state;
	char *g = NULL;
	assert_int_equal(phpc_request_graph_root("/s/overlay-containers/abc/userdata", "abc", &g),
	                 0);
	assert_string_equal(g, "/s");
	free(g);
	assert_int_equal(phpc_request_graph_root("/s/vfs-containers/abc/userdata", "abc", &g), 0);
	free(g);
	/* another container's directory, buildah's bundles, tricks with the id */
	assert_int_equal(phpc_request_graph_root("/s/overlay-containers/abd/userdata", "abc", &g),
	                 -EINVAL);
	assert_int_equal(phpc_request_graph_root("/var/tmp/buildah123", "abc", &g), -EINVAL);
	assert_int_equal(phpc_request_graph_root("/s/overlay-containers/a/b/userdata", "a/b", &g),
	                 -EINVAL);
	assert_int_equal(phpc_request_graph_root("overlay-containers/abc/userdata", "abc", &g),
	                 -EINVAL);
	assert_null(g);
}

/* A fake graph_root with a container's bundle. */
static char *make_store(char **bundle)
{
	char tmpl[] = "/tmp/phpc-unit-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	char *root = phpc_xasprintf("%s/storage", d);
	*bundle = phpc_xasprintf("%s/overlay-containers/c1/userdata", root);
	char *cmd = phpc_xasprintf("mkdir -p %s", *bundle);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return root;
}

static void rm_tree(const char *root)
{
	char *cmd = phpc_xasprintf("rm -rf $(dirname %s)", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_store_and_load(void **state)
{
	(void)state;
	char *bundle = NULL, *root = make_store(&bundle);
	struct phpc_request r = {.modules_dir = strdup("/etc/m")};
	phpc_strv_add(&r.modules, "gpu");
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_request_store(root, getuid(), &r, &err), 0);
	assert_true(phpc_request_token_valid(r.token));
	char *path = phpc_xasprintf("%s/" PHPC_REQUEST_DIR "/%s", root, r.token);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	struct phpc_request got;
	/* another token names nothing */
	assert_int_equal(
	    phpc_request_load(bundle, "c1", "ffffffffffffffffffffffffffffffff", &got, &err),
	    -ENOENT);
	assert_null(err);
	/* another container's bundle layout is not accepted */
	assert_int_equal(phpc_request_load(bundle, "c2", r.token, &got, &err), -ENOENT);
	assert_int_equal(phpc_request_load(bundle, "c1", r.token, &got, &err), 0);
	assert_string_equal(got.modules.v[0], "gpu");
	phpc_request_clear(&got);
	/* moved into the container's directory: a restart finds it there */
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(phpc_request_load(bundle, "c1", r.token, &got, &err), 0);
	phpc_request_clear(&got);
	free(path);
	phpc_request_clear(&r);
	rm_tree(root);
	free(root);
	free(bundle);
}

/* A request file that is not a private regular file of ours is refused. */
static void test_load_refuses_untrusted(void **state)
{
	(void)state;
	char *bundle = NULL, *root = make_store(&bundle);
	struct phpc_request r = {.modules_dir = strdup("/etc/m")};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_request_store(root, getuid(), &r, &err), 0);
	char *path = phpc_xasprintf("%s/" PHPC_REQUEST_DIR "/%s", root, r.token);
	char *other = phpc_xasprintf("%s/other", root);
	struct phpc_request got;

	assert_int_equal(chmod(path, 0644), 0); /* readable by others */
	assert_true(phpc_request_load(bundle, "c1", r.token, &got, &err) < 0);
	assert_non_null(err);
	phpc_error_freep(&err);
	assert_int_equal(chmod(path, 0600), 0);

	assert_int_equal(link(path, other), 0); /* a second link */
	assert_true(phpc_request_load(bundle, "c1", r.token, &got, &err) < 0);
	phpc_error_freep(&err);
	assert_int_equal(unlink(other), 0);

	/* a symlink to a valid request elsewhere */
	assert_int_equal(rename(path, other), 0);
	assert_int_equal(symlink(other, path), 0);
	assert_true(phpc_request_load(bundle, "c1", r.token, &got, &err) < 0);
	phpc_error_freep(&err);
	assert_int_equal(unlink(path), 0);

	/* a FIFO must not block */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_true(phpc_request_load(bundle, "c1", r.token, &got, &err) < 0);
	phpc_error_freep(&err);

	free(path);
	free(other);
	phpc_request_clear(&r);
	rm_tree(root);
	free(root);
	free(bundle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token),          cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_parse_refuses),  cmocka_unit_test(test_graph_root),
	    cmocka_unit_test(test_store_and_load), cmocka_unit_test(test_load_refuses_untrusted),
	};
	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
