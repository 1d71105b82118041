#include "testutil.h"

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static char *tree(void)
{
	char tmpl[] = "/tmp/phpc-unit-wh-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char *d = phpc_xstrdup(tmpl);
	char *cmd = phpc_xasprintf("mkdir -p %s/usr/lib %s/etc/a/b && touch %s/usr/lib/libx.so "
	                           "%s/etc/a/b/c && ln -s /nonexistent/.wh.x %s/etc/link",
	                           d, d, d, d, d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return d;
}

static void rm_tree(char *d)
{
	phpc_rm_rf_at(AT_FDCWD, d, NULL);
	free(d);
}

static bool scan(const char *d, size_t max)
{
	bool has = true;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_tree_has_whiteouts(AT_FDCWD, d, max, &has, &err), 0);
	assert_null(err);
	return has;
}

static void test_clean_tree(void **state)
{
	(void)state;
	char *d = tree();
	/* a symlink whose target names a whiteout is not one */
	assert_false(scan(d, 1000));
	rm_tree(d);
}

static void test_aufs_whiteouts(void **state)
{
	(void)state;
	const char *names[] = {"etc/a/b/.wh.deleted", "usr/.wh..wh..opq", ".wh.top"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *d = tree();
		char *p = phpc_xasprintf("%s/%s", d, names[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
		if (!scan(d, 1000))
			fail_msg("%s not found", names[i]);
		free(p);
		rm_tree(d);
	}
}

static void test_fuse_overlay_xattr(void **state)
{
	(void)state;
	char *d = tree();
	char *p = phpc_xasprintf("%s/etc/a", d);
	if (setxattr(p, "user.fuseoverlayfs.opaque", "y", 1, 0) < 0) {
		free(p);
		rm_tree(d);
		skip(); /* a file system without user xattrs (tmpfs on old kernels) */
	}
	assert_true(scan(d, 1000));
	free(p);
	rm_tree(d);
}

static void test_too_big_counts_as_having(void **state)
{
	(void)state;
	char *d = tree();
	assert_true(scan(d, 2));
	bool has = false;
	struct phpc_error *err = NULL;
	assert_true(phpc_tree_has_whiteouts(AT_FDCWD, "/nonexistent-phpc", 10, &has, &err) < 0);
	assert_non_null(err);
	phpc_error_free(err);
	rm_tree(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean_tree),
	    cmocka_unit_test(test_aufs_whiteouts),
	    cmocka_unit_test(test_fuse_overlay_xattr),
	    cmocka_unit_test(test_too_big_counts_as_having),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
