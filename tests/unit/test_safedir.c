/* Directories another user must not steer (safedir.h). */
#include "testutil.h"

#include "error.h"
#include "safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

static void test_open_to_others(void **state)
{
	(void)state;
	assert_false(phpc_dir_is_open_to_others(040755, 1000, 1000));
	assert_false(phpc_dir_is_open_to_others(040755, 0, 1000));
	assert_true(phpc_dir_is_open_to_others(041777, 0, 1000)); /* /tmp */
	assert_true(phpc_dir_is_open_to_others(040775, 1000, 1000));
	assert_true(phpc_dir_is_open_to_others(040700, 1001, 1000)); /* its owner's to change */
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/phpc-unit-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	/* like /tmp: anyone may create entries */
	assert_int_equal(chmod(d, 01777), 0);
	return phpc_xstrdup(d);
}

static void rm_tree(const char *d)
{
	char *cmd = phpc_xasprintf("rm -rf %s", d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_private_created(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *p = phpc_xasprintf("%s/u_hpc/storage", d);
	struct phpc_error *err = NULL;
	int fd = phpc_dir_open(p, PHPC_DIR_PRIVATE, getuid(), "graph_root", &err);
	assert_true(fd >= 0);
	close(fd);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	char *parent = phpc_xasprintf("%s/u_hpc", d);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* again: it exists and is fine */
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_PRIVATE, getuid(), "graph_root", &err), 0);
	/* writable by others: refused, with what to do */
	assert_int_equal(chmod(parent, 0777), 0);
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_PRIVATE, getuid(), "graph_root", &err), -EPERM);
	assert_non_null(strstr(err->msg, "chmod go-w"));
	phpc_error_freep(&err);
	free(parent);
	free(p);
	rm_tree(d);
	free(d);
}

static void test_symlink_below_open_dir(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *real = phpc_xasprintf("%s/real", d), *link = phpc_xasprintf("%s/u_hpc", d);
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, link), 0);
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_dir_check(link, PHPC_DIR_PRIVATE, getuid(), "run_root", &err),
	                 -ELOOP);
	assert_non_null(strstr(err->msg, "symbolic link"));
	phpc_error_freep(&err);
	/* relative paths and ".." are refused outright */
	assert_int_equal(phpc_dir_check("rel/x", PHPC_DIR_PRIVATE, getuid(), "run_root", &err),
	                 -EINVAL);
	phpc_error_freep(&err);
	char *dots = phpc_xasprintf("%s/real/../real", d);
	assert_int_equal(phpc_dir_check(dots, PHPC_DIR_PRIVATE, getuid(), "run_root", &err),
	                 -EINVAL);
	phpc_error_freep(&err);
	free(dots);
	free(real);
	free(link);
	rm_tree(d);
	free(d);
}

/* As root: a directory planted by another user in a shared /tmp. */
static void test_planted(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char *d = tmpdir();
	char *p = phpc_xasprintf("%s/1000_hpc", d);
	assert_int_equal(mkdir(p, 0777), 0);
	assert_int_equal(chown(p, 65534, 65534), 0);
	struct phpc_error *err = NULL;
	char *sub = phpc_xasprintf("%s/storage", p);
	assert_int_equal(phpc_dir_check(sub, PHPC_DIR_PRIVATE, 0, "graph_root", &err), -EPERM);
	assert_non_null(strstr(err->msg, p));
	assert_non_null(strstr(err->msg, "uid 65534"));
	assert_non_null(strstr(err->msg, "not to you"));
	phpc_error_freep(&err);
	/* nothing was created in it */
	struct stat st;
	assert_int_equal(stat(sub, &st), -1);
	/* a store owned by another user below /tmp is refused too */
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_STORE, 1000, "squash_dir", &err), -EPERM);
	phpc_error_freep(&err);
	free(sub);
	free(p);
	rm_tree(d);
	free(d);
}

/* A link placed in a directory only its owner writes is followed, and
 * where it leads is walked by the same rules. */
static void test_link_target_walked(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	/* not below /tmp: below a directory others can write, no link is
	 * followed at all */
	char tmpl[] = "/run/phpc-unit-XXXXXX";
	char *d = phpc_xstrdup(mkdtemp(tmpl));
	char *safe = phpc_xasprintf("%s/safe", d), *planted = phpc_xasprintf("%s/planted", d);
	char *good = phpc_xasprintf("%s/good", d);
	assert_int_equal(mkdir(safe, 0755), 0);
	assert_int_equal(mkdir(planted, 0755), 0);
	assert_int_equal(chown(planted, 65534, 65534), 0);
	assert_int_equal(mkdir(good, 0700), 0);
	char *l1 = phpc_xasprintf("%s/to-planted", safe), *l2 = phpc_xasprintf("%s/to-good", safe);
	assert_int_equal(symlink(planted, l1), 0);
	assert_int_equal(symlink("../good", l2), 0);
	struct phpc_error *err = NULL;
	char *p1 = phpc_xasprintf("%s/run", l1), *p2 = phpc_xasprintf("%s/run", l2);
	assert_int_equal(phpc_dir_check(p1, PHPC_DIR_PRIVATE, 0, "run_root", &err), -EPERM);
	assert_non_null(strstr(err->msg, "planted belongs to user nobody"));
	phpc_error_freep(&err);
	if (phpc_dir_check(p2, PHPC_DIR_PRIVATE, 0, "run_root", &err) < 0)
		fail_msg("%s", err->msg);
	struct stat st;
	char *made = phpc_xasprintf("%s/run", good);
	assert_int_equal(stat(made, &st), 0);
	free(made);
	free(p1);
	free(p2);
	free(l1);
	free(l2);
	free(good);
	free(safe);
	free(planted);
	rm_tree(d);
	free(d);
}

/* A group-writable directory that is not sticky lets others rename what is
 * in it: refused even when it is the first such directory on the way. */
static void test_non_sticky_open_parent(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *open_dir = phpc_xasprintf("%s/proj", d);
	assert_int_equal(mkdir(open_dir, 0700), 0);
	assert_int_equal(chmod(open_dir, 0770), 0);
	char *p = phpc_xasprintf("%s/me/run", open_dir);
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_PRIVATE, getuid(), "run_root", &err), -EPERM);
	assert_non_null(strstr(err->msg, "not sticky"));
	phpc_error_freep(&err);
	free(p);
	free(open_dir);
	rm_tree(d);
	free(d);
}

static void test_store(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *p = phpc_xasprintf("%s/store", d);
	struct phpc_error *err = NULL;
	/* a store is never created here, and missing is -ENOENT */
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_STORE, getuid(), "squash_dir", &err), -ENOENT);
	phpc_error_freep(&err);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_STORE, getuid(), "squash_dir", &err), 0);
	assert_int_equal(chmod(p, 0777), 0);
	assert_int_equal(phpc_dir_check(p, PHPC_DIR_STORE, getuid(), "squash_dir", &err), -EPERM);
	assert_non_null(strstr(err->msg, "writable by everyone"));
	phpc_error_freep(&err);
	free(p);
	rm_tree(d);
	free(d);
}

/* phpc_dir_open_existing(path) finds the directory at want, complete or
 * not as said. */
static void assert_existing(const char *path, const char *want, bool complete)
{
	struct phpc_error *err = NULL;
	bool got = !complete;
	int fd = phpc_dir_open_existing(path, getuid(), "graph_root", &got, &err);
	assert_true(fd >= 0);
	assert_int_equal(got, complete);
	struct stat a, b;
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(want, &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(fd);
}

/* The doctor's view of a store it must not create: the deepest existing
 * directory, by the same rules, and nothing made on the way. */
static void test_open_existing(void **state)
{
	(void)state;
	char *d = tmpdir();
	char *parent = phpc_xasprintf("%s/u_hpc", d);
	char *p = phpc_xasprintf("%s/storage", parent);
	assert_existing(p, d, false);
	struct stat st;
	assert_int_equal(stat(parent, &st), -1); /* not created */
	assert_int_equal(mkdir(parent, 0700), 0);
	assert_existing(p, parent, false);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_existing(p, p, true);
	/* what phpc_dir_open refuses, it refuses too */
	assert_int_equal(chmod(parent, 0777), 0);
	struct phpc_error *err = NULL;
	bool complete = false;
	assert_int_equal(phpc_dir_open_existing(p, getuid(), "graph_root", &complete, &err),
	                 -EPERM);
	assert_non_null(strstr(err->msg, "chmod go-w"));
	phpc_error_freep(&err);
	free(p);
	free(parent);
	rm_tree(d);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_to_others),
	    cmocka_unit_test(test_private_created),
	    cmocka_unit_test(test_symlink_below_open_dir),
	    cmocka_unit_test(test_planted),
	    cmocka_unit_test(test_store),
	    cmocka_unit_test(test_link_target_walked),
	    cmocka_unit_test(test_non_sticky_open_parent),
	    cmocka_unit_test(test_open_existing),
	};
	return cmocka_run_group_tests_name("safedir", tests, NULL, NULL);
}
