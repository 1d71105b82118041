#include "testutil.h"

#include "fsutil.h"
#include "oci.h"
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

/* A fake container root and a fake "host" directory an attacker aims at. */
struct fixture {
	char base[64];
	char *root, *outside, *src;
	int rootfd;
};

static int setup(void **state)
{
	struct fixture *f = phpc_xcalloc(1, sizeof(*f));
	snprintf(f->base, sizeof(f->base), "/tmp/phpc-rootfs-XXXXXX");
	assert_non_null(mkdtemp(f->base));
	f->root = phpc_xasprintf("%s/root", f->base);
	f->outside = phpc_xasprintf("%s/outside", f->base);
	f->src = phpc_xasprintf("%s/src.conf", f->base);
	assert_int_equal(mkdir(f->root, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	_cleanup_free_ char *etc = phpc_xasprintf("%s/etc", f->root);
	assert_int_equal(mkdir(etc, 0755), 0);
	FILE *fp = fopen(f->src, "we");
	fputs("injected\n", fp);
	fclose(fp);
	struct phpc_error *err = NULL;
	f->rootfd = phpc_root_open(f->root, &err);
	assert_true(f->rootfd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *cmd = phpc_xasprintf("rm -rf '%s'", f->base);
	assert_int_equal(system(cmd), 0);
	close(f->rootfd);
	free(f->root);
	free(f->outside);
	free(f->src);
	free(f);
	return 0;
}

static char *inroot(struct fixture *f, const char *p)
{
	return phpc_xasprintf("%s%s", f->root, p);
}

static void make_link(struct fixture *f, const char *target, const char *at)
{
	_cleanup_free_ char *p = inroot(f, at);
	assert_int_equal(symlink(target, p), 0);
}

static void assert_outside_empty(struct fixture *f)
{
	_cleanup_free_ char *cmd = phpc_xasprintf("test -z \"$(ls -A '%s')\"", f->outside);
	if (system(cmd) != 0)
		fail_msg("something was written outside the root, in %s", f->outside);
}

static void assert_file(struct fixture *f, const char *p, const char *content)
{
	_cleanup_free_ char *path = inroot(f, p), *text = NULL;
	struct phpc_error *err = NULL;
	if (phpc_read_file(AT_FDCWD, path, &text, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	assert_string_equal(text, content);
}

static void copy_ok(struct fixture *f, const char *dst)
{
	struct phpc_error *err = NULL;
	if (phpc_root_copy(f->rootfd, f->src, dst, &err) < 0)
		fail_msg("copy to %s: %s", dst, err->msg);
}

static void test_copy_plain(void **state)
{
	struct fixture *f = *state;
	copy_ok(f, "/etc/ld.so.conf.d/02-gpu.conf"); /* creates the directory */
	assert_file(f, "/etc/ld.so.conf.d/02-gpu.conf", "injected\n");
	copy_ok(f, "/etc/ld.so.conf.d/02-gpu.conf"); /* replaces */
	assert_file(f, "/etc/ld.so.conf.d/02-gpu.conf", "injected\n");
}

static void copy_refused(struct fixture *f, const char *dst, const char *needle)
{
	struct phpc_error *err = NULL;
	assert_true(phpc_root_copy(f->rootfd, f->src, dst, &err) < 0);
	if (!strstr(err->msg, needle))
		fail_msg("\"%s\" lacks \"%s\"", err->msg, needle);
	phpc_error_free(err);
}

/* An absolute symlink in the image resolves inside the root: where its
 * target exists there, the copy lands under the root; where it does not,
 * the copy is refused. Either way nothing is written outside. */
static void test_escape_absolute_dir_link(void **state)
{
	struct fixture *f = *state;
	make_link(f, f->outside, "/etc/ld.so.conf.d");
	copy_refused(f, "/etc/ld.so.conf.d/02-gpu.conf", "symlink");
	assert_outside_empty(f);
	_cleanup_free_ char *inside = inroot(f, f->outside);
	_cleanup_free_ char *cmd = phpc_xasprintf("mkdir -p '%s'", inside);
	assert_int_equal(system(cmd), 0);
	copy_ok(f, "/etc/ld.so.conf.d/02-gpu.conf");
	assert_outside_empty(f);
	_cleanup_free_ char *landed = phpc_xasprintf("%s/02-gpu.conf", f->outside);
	assert_file(f, landed, "injected\n"); /* the same path, under the root */
}

static void test_escape_dotdot_link(void **state)
{
	struct fixture *f = *state;
	make_link(f, "../../../../../../../../outside", "/etc/evil");
	copy_refused(f, "/etc/evil/x.conf", "symlink");
	assert_outside_empty(f);
	_cleanup_free_ char *o = inroot(f, "/outside");
	assert_int_equal(mkdir(o, 0755), 0);
	copy_ok(f, "/etc/evil/x.conf");
	assert_outside_empty(f);
	assert_file(f, "/outside/x.conf", "injected\n");
}

static void test_escape_link_to_root(void **state)
{
	struct fixture *f = *state;
	make_link(f, "/", "/usr");
	copy_ok(f, "/usr/../../../outside/y.conf");
	assert_outside_empty(f);
	assert_file(f, "/outside/y.conf", "injected\n");
}

/* A final component that is a symlink out of the root is replaced, never
 * written through. */
static void test_escape_final_link(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *victim = phpc_xasprintf("%s/victim", f->outside);
	FILE *fp = fopen(victim, "we");
	fputs("host data\n", fp);
	fclose(fp);
	make_link(f, victim, "/etc/evil.conf");
	copy_ok(f, "/etc/evil.conf");
	assert_file(f, "/etc/evil.conf", "injected\n");
	_cleanup_free_ char *text = NULL;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_read_file(AT_FDCWD, victim, &text, NULL, &err), 0);
	assert_string_equal(text, "host data\n");
	struct stat st;
	_cleanup_free_ char *p = inroot(f, "/etc/evil.conf");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_copy_directory_and_symlinks(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *d = phpc_xasprintf("%s/tree", f->base);
	_cleanup_free_ char *cmd = phpc_xasprintf("mkdir -p %s/sub && echo a > %s/sub/a && "
	                                          "ln -s sub/a %s/link && chmod 4755 %s/sub/a",
	                                          d, d, d, d);
	assert_int_equal(system(cmd), 0);
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_root_copy(f->rootfd, d, "/opt/tree", &err), 0);
	assert_file(f, "/opt/tree/sub/a", "a\n");
	_cleanup_free_ char *l = inroot(f, "/opt/tree/link");
	char target[64] = {0};
	assert_int_equal(readlink(l, target, sizeof(target) - 1), 5);
	assert_string_equal(target, "sub/a");
	struct stat st;
	_cleanup_free_ char *a = inroot(f, "/opt/tree/sub/a");
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755); /* no set-id bits */
}

static void test_copy_errors(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	/* a file onto an existing directory */
	assert_int_equal(phpc_root_copy(f->rootfd, f->src, "/etc", &err), -EISDIR);
	_cleanup_free_ char *want =
	    phpc_xasprintf("cannot copy %s to /etc: cannot replace /etc", f->src);
	if (!str_has_prefix(err->msg, want))
		fail_msg("\"%s\" does not start with \"%s\"", err->msg, want);
	phpc_error_free(err);
	err = NULL;
	assert_int_equal(phpc_root_copy(f->rootfd, "/nonexistent/src", "/etc/x", &err), -ENOENT);
	assert_non_null(strstr(err->msg, "cannot stat /nonexistent/src"));
	phpc_error_free(err);
	/* without err, the same code */
	assert_int_equal(phpc_root_copy(f->rootfd, "/nonexistent/src", "/etc/x", NULL), -ENOENT);
	err = NULL;
	assert_true(phpc_root_copy(f->rootfd, f->src, "/", &err) < 0);
	phpc_error_free(err);
	assert_outside_empty(f);
}

/* A failure deep in a directory copy names the file, as the container sees it. */
static void test_copy_error_names_nested_path(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *d = phpc_xasprintf("%s/tree", f->base);
	_cleanup_free_ char *cmd = phpc_xasprintf("mkdir -p %s/sub %s/opt/tree/sub && echo a > "
	                                          "%s/sub/a && mkfifo %s/opt/tree/sub/a",
	                                          d, f->root, d, f->root);
	assert_int_equal(system(cmd), 0);
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_root_copy(f->rootfd, d, "/opt/tree", &err), -EPERM);
	_cleanup_free_ char *want = phpc_xasprintf(
	    "cannot copy %s to /opt/tree: /opt/tree/sub/a is a FIFO in the image", d);
	if (!str_has_prefix(err->msg, want))
		fail_msg("\"%s\" does not start with \"%s\"", err->msg, want);
	phpc_error_free(err);
}

static void test_rm_rf_errors(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	_cleanup_free_ char *missing = phpc_xasprintf("%s/missing", f->base);
	assert_int_equal(phpc_rm_rf_at(AT_FDCWD, missing, &err), 0);
	assert_null(err);
	/* a path through a file: the message names it and the operation */
	_cleanup_free_ char *through = phpc_xasprintf("%s/sub", f->src);
	assert_int_equal(phpc_rm_rf_at(AT_FDCWD, through, &err), -ENOTDIR);
	_cleanup_free_ char *want = phpc_xasprintf("cannot stat %s: ", through);
	if (!str_has_prefix(err->msg, want))
		fail_msg("\"%s\" does not start with \"%s\"", err->msg, want);
	phpc_error_free(err);
	assert_int_equal(phpc_rm_rf_at(AT_FDCWD, through, NULL), -ENOTDIR);
	/* a tree goes, files and subdirectories */
	_cleanup_free_ char *t = phpc_xasprintf("%s/t", f->base);
	_cleanup_free_ char *cmd = phpc_xasprintf("mkdir -p %s/a/b && touch %s/a/b/c %s/d && "
	                                          "ln -s / %s/a/root",
	                                          t, t, t, t);
	assert_int_equal(system(cmd), 0);
	err = NULL;
	assert_int_equal(phpc_rm_rf_at(AT_FDCWD, t, &err), 0);
	struct stat st;
	assert_true(lstat(t, &st) < 0 && errno == ENOENT);
}

static void test_copy_data_errors(void **state)
{
	struct fixture *f = *state;
	struct phpc_error *err = NULL;
	_cleanup_close_ int in = open(f->src, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(f->src, O_RDONLY | O_CLOEXEC); /* not writable */
	assert_true(in >= 0 && out >= 0);
	assert_int_equal(phpc_copy_data(in, "IN", out, "OUT", &err), -EBADF);
	if (!strstr(err->msg, "OUT"))
		fail_msg("\"%s\" does not name the destination", err->msg);
	phpc_error_free(err);
}

static void test_mkdirs_dangling(void **state)
{
	struct fixture *f = *state;
	make_link(f, "/nowhere/at/all", "/opt");
	struct phpc_error *err = NULL;
	int fd = phpc_root_mkdirs(f->rootfd, "/opt/x", &err);
	if (fd >= 0) {
		/* acceptable only if it was created inside the root */
		close(fd);
		_cleanup_free_ char *p = inroot(f, "/nowhere/at/all/x");
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
	} else {
		phpc_error_free(err);
	}
	assert_outside_empty(f);
}

static void test_oci_parse(void **state)
{
	(void)state;
	struct phpc_oci_state s;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_oci_state_parse("{\"ociVersion\":\"1.0.2\",\"id\":\"abc\",\"pid\":42,"
	                                      "\"bundle\":\"/b\",\"status\":\"created\"}",
	                                      &s, &err),
	                 0);
	assert_int_equal(s.pid, 42);
	assert_string_equal(s.bundle, "/b");
	phpc_oci_state_clear(&s);
	assert_true(phpc_oci_state_parse("{\"pid\":0,\"bundle\":\"/b\"}", &s, &err) < 0);
	phpc_error_free(err);
	err = NULL;
	assert_true(phpc_oci_state_parse("not json", &s, &err) < 0);
	phpc_error_free(err);
	err = NULL;

	struct phpc_oci_config c;
	assert_int_equal(
	    phpc_oci_config_parse("{\"root\":{\"path\":\"rootfs\"},\"process\":{\"env\":"
	                          "[\"A=1\",\"ENABLE_GPU=1\"]},\"annotations\":{"
	                          "\"podman_hpc.bound_modules\":\"gpu,home\"}}",
	                          "/bundle", &c, &err),
	    0);
	assert_string_equal(c.root_path, "/bundle/rootfs");
	const char *env[] = {"A=1", "ENABLE_GPU=1", NULL};
	assert_argv_equal(c.env, env);
	const char *ann[] = {"podman_hpc.bound_modules=gpu,home", NULL};
	assert_argv_equal(c.annotations, ann);
	phpc_oci_config_clear(&c);
	assert_true(phpc_oci_config_parse("{\"process\":{}}", "/b", &c, &err) < 0);
	phpc_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copy_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_absolute_dir_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_dotdot_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_link_to_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escape_final_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_directory_and_symlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_error_names_nested_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rm_rf_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_data_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdirs_dangling, setup, teardown),
	    cmocka_unit_test(test_oci_parse),
	};
	return cmocka_run_group_tests_name("rootfs", tests, NULL, NULL);
}
