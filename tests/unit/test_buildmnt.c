/* Modules on build leave no mount point in the image (buildmnt.h). */
#include "testutil.h"

#include "buildmnt.h"
#include "error.h"
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

static void test_runtime_call(void **state)
{
	(void)state;
	struct phpc_runtime_call c;
	char *create[] = {"rt", "--root",     "/run/runc", "--log=/l", "create", "--bundle",
	                  "/b", "--pid-file", "/b/pid",    "ctr1",     NULL};
	assert_int_equal(phpc_runtime_call_parse(10, create, &c, NULL), 0);
	assert_string_equal(c.sub, "create");
	assert_string_equal(c.bundle, "/b");
	assert_string_equal(c.id, "ctr1");
	char *del[] = {"rt", "delete", "--force", "ctr1", NULL};
	assert_int_equal(phpc_runtime_call_parse(4, del, &c, NULL), 0);
	assert_string_equal(c.sub, "delete");
	assert_null(c.bundle);
	assert_string_equal(c.id, "ctr1");
	char *start[] = {"rt", "start", "ctr1", NULL};
	assert_int_equal(phpc_runtime_call_parse(3, start, &c, NULL), 0);
	assert_string_equal(c.sub, "start");
	/* no subcommand: no container's call, not an error */
	char *none[] = {"rt", "--root", "/r", NULL};
	assert_int_equal(phpc_runtime_call_parse(3, none, &c, NULL), 0);
	assert_null(c.sub);
	char *version[] = {"rt", "--version", NULL};
	assert_int_equal(phpc_runtime_call_parse(2, version, &c, NULL), 0);
	assert_null(c.sub);
	/* an id that would name a path is refused, and the message says so */
	struct phpc_error *err = NULL;
	char *bad[] = {"rt", "delete", "../x", NULL};
	assert_int_equal(phpc_runtime_call_parse(3, bad, &c, &err), -EINVAL);
	assert_non_null(err);
	assert_string_equal(err->msg, "delete: container id \"../x\" is not a file name");
	assert_string_equal(c.sub, "delete");
	phpc_error_freep(&err);
	char *dot[] = {"rt", "create", "--bundle", "/b", "..", NULL};
	assert_int_equal(phpc_runtime_call_parse(5, dot, &c, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "is not a file name"));
	phpc_error_freep(&err);
	char *noid[] = {"rt", "delete", "--force", NULL};
	assert_int_equal(phpc_runtime_call_parse(3, noid, &c, &err), -EINVAL);
	assert_string_equal(err->msg, "delete: no container id");
	phpc_error_freep(&err);
}

static char *make_root(void)
{
	char tmpl[] = "/tmp/phpc-unit-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	char *cmd = phpc_xasprintf("mkdir -p %s/usr/lib && ln -s /usr %s/link", d, d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return phpc_xstrdup(d);
}

static void rm_root(char *d)
{
	char *cmd = phpc_xasprintf("rm -rf %s", d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(d);
}

static void test_first_missing(void **state)
{
	(void)state;
	char *d = make_root();
	struct phpc_error *err = NULL;
	int rootfd = phpc_root_open(d, &err);
	assert_true(rootfd >= 0);
	char *first = NULL;
	assert_int_equal(phpc_buildmnt_first_missing(rootfd, "/usr/lib/x/y/z.so", &first, &err), 0);
	assert_string_equal(first, "/usr/lib/x");
	free(first);
	assert_int_equal(phpc_buildmnt_first_missing(rootfd, "/usr/lib", &first, &err), 0);
	assert_null(first);
	/* a symlink of the image is an existing component, not followed out */
	assert_int_equal(phpc_buildmnt_first_missing(rootfd, "/link", &first, &err), 0);
	assert_null(first);
	close(rootfd);
	rm_root(d);
}

static void test_remove(void **state)
{
	(void)state;
	char *d = make_root();
	char *cmd =
	    phpc_xasprintf("mkdir -p %s/usr/lib/x/y %s/opt/keep && touch %s/usr/lib/x/y/z.so"
	                   " && echo data > %s/opt/keep/f && touch %s/opt/m",
	                   d, d, d, d, d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	struct phpc_error *err = NULL;
	int rootfd = phpc_root_open(d, &err);
	assert_true(rootfd >= 0);
	assert_int_equal(phpc_buildmnt_remove(rootfd, "/usr/lib/x", "/usr/lib/x/y/z.so", &err), 0);
	char *p = phpc_xasprintf("%s/usr/lib/x", d);
	struct stat st;
	assert_int_equal(stat(p, &st), -1);
	free(p);
	p = phpc_xasprintf("%s/usr/lib", d);
	assert_int_equal(stat(p, &st), 0); /* above the first missing: kept */
	free(p);
	/* the directory holds the step's files: the mount point goes, it stays */
	assert_int_equal(phpc_buildmnt_remove(rootfd, "/opt", "/opt/m", &err), 0);
	p = phpc_xasprintf("%s/opt/keep/f", d);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	/* a mount point the step filled is left, with a message */
	cmd = phpc_xasprintf("echo x > %s/opt/keep/g", d);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(phpc_buildmnt_remove(rootfd, "/opt", "/opt/keep/g", &err), -ENOTEMPTY);
	phpc_error_freep(&err);
	/* never outside first, never the root */
	assert_int_equal(phpc_buildmnt_remove(rootfd, "/opt", "/usr/lib", &err), -EINVAL);
	phpc_error_freep(&err);
	assert_int_equal(phpc_buildmnt_remove(rootfd, "/", "/usr", &err), -EINVAL);
	phpc_error_freep(&err);
	/* through an image symlink: resolved inside the root, the host is untouched */
	assert_int_equal(phpc_buildmnt_remove(rootfd, "/link", "/link", &err), -ENOTEMPTY);
	phpc_error_freep(&err);
	close(rootfd);
	rm_root(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runtime_call),
	    cmocka_unit_test(test_first_missing),
	    cmocka_unit_test(test_remove),
	};
	return cmocka_run_group_tests_name("buildmnt", tests, NULL, NULL);
}
