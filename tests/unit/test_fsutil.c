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

/* /etc/subuid's replacement: mode and content, no temporary file left. */
static void test_replace_file_keeps_mode(void **state)
{
	(void)state;
	char *path = write_temp("subuid", "old\n");
	char *dir = phpc_xstrdup(path);
	*strrchr(dir, '/') = '\0';
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	struct phpc_error *err = NULL;
	assert_int_equal(
	    phpc_replace_file(dfd, "subuid", "old\nnew\n", 8, 0640, geteuid(), getegid(), &err), 0);
	assert_null(err);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, geteuid());
	char *text = NULL;
	assert_int_equal(phpc_read_file(AT_FDCWD, path, &text, NULL, NULL), 0);
	assert_string_equal(text, "old\nnew\n");
	free(text);
	char *tmp = phpc_xasprintf("%s/.subuid.tmp.%ld", dir, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);
	free(tmp);
	close(dfd);
	phpc_rm_rf_at(AT_FDCWD, dir, NULL);
	free(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean_tree),
	    cmocka_unit_test(test_aufs_whiteouts),
	    cmocka_unit_test(test_fuse_overlay_xattr),
	    cmocka_unit_test(test_too_big_counts_as_having),
	    cmocka_unit_test(test_replace_file_keeps_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
