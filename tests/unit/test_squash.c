/* What a killed migrate leaves and who removes it (staging directories, the
 * sweep, the guard of mksquashfs), and rmsqi's refusal of an image that
 * containers use. */
#include "testutil.h"

#include "fsutil.h"
#include "squash.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define IMG   "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define CTR1  "c0c0c0c0c0c01111111111111111111111111111111111111111111111111111"
#define CTR2  "c1c1c1c1c1c12222222222222222222222222222222222222222222222222222"
#define LAYER "1111111111111111111111111111111111111111111111111111111111111111"

static void test_temp_names(void **state)
{
	(void)state;
	struct {
		const char *name;
		bool staging;
	} st[] = {
	    {".phpc-migrate.tmp.aB3xYz", true},
	    {".phpc-migrate.tmp.000000", true},
	    {".phpc-migrate.tmp.aB3xY", false},
	    {".phpc-migrate.tmp.aB3xYz1", false},
	    {".phpc-migrate.tmp.aB3-Yz", false},
	    {".phpc-migrate.tmp.aB/xYz", false},
	    {"phpc-migrate.tmp.aB3xYz", false},
	    {".phpc-migrate.tmp.", false},
	    {"overlay", false},
	    {".LINK.squash.tmp.123", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(st); i++)
		if (phpc_store_is_staging_name(st[i].name) != st[i].staging)
			fail_msg("staging %s: want %d", st[i].name, st[i].staging);
	struct {
		const char *name, *file;
		bool temp;
	} tt[] = {
	    {".images.json.tmp.1", "images.json", true},
	    {".images.json.tmp.4294967295", "images.json", true},
	    {".images.json.tmp.12345678901", "images.json", false},
	    {".images.json.tmp.", "images.json", false},
	    {".images.json.tmp.12a", "images.json", false},
	    {".images.json.tmp.-1", "images.json", false},
	    {"images.json.tmp.1", "images.json", false},
	    {".images.json", "images.json", false},
	    {".layers.json.tmp.7", "images.json", false},
	    {".images.jsonx.tmp.7", "images.json", false},
	    {".link.tmp.99", "link", true},
	    {".link.tmp.99/x", "link", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(tt); i++)
		if (phpc_store_is_temp_of(tt[i].name, tt[i].file) != tt[i].temp)
			fail_msg("temp %s of %s: want %d", tt[i].name, tt[i].file, tt[i].temp);
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/phpc-squash-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return phpc_xstrdup(tmpl);
}

/* Runs cmd in dir. */
static void sh(const char *dir, const char *cmd)
{
	_cleanup_free_ char *full = phpc_xasprintf("cd '%s' && %s", dir, cmd);
	if (system(full) != 0)
		fail_msg("failed: %s", full);
}

static void rm_tree(const char *dir)
{
	struct phpc_error *err = NULL;
	if (phpc_rm_rf_at(AT_FDCWD, dir, &err) < 0)
		fail_msg("%s", err->msg);
}

static bool exists(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = phpc_xasprintf("%s/%s", dir, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

/* A child that holds an fcntl lock on path until killed. */
static pid_t hold_lock(const char *path)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void test_sweep(void **state)
{
	(void)state;
	_cleanup_free_ char *d = tmpdir();
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_init(d, &err), 0);
	sh(d, "mkdir .phpc-migrate.tmp.nolock && echo x > .phpc-migrate.tmp.nolock/squash && "
	      "mkdir .phpc-migrate.tmp.freelk && touch .phpc-migrate.tmp.freelk/lock && "
	      "mkdir .phpc-migrate.tmp.heldlk && touch .phpc-migrate.tmp.heldlk/lock && "
	      "mkdir -p victim/keep && touch victim/keep/lock && "
	      "ln -s victim/keep .phpc-migrate.tmp.symlnk && "
	      "mkdir .phpc-migrate.tmp.dirlck .phpc-migrate.tmp.dirlck/lock && "
	      "mkdir .phpc-migrate.tmp.toolong phpc-migrate.tmp.nodot1 && "
	      "touch .phpc-migrate.tmp.afile1 && "
	      "echo [] > overlay-images/.images.json.tmp.77 && "
	      "echo [] > overlay-layers/.layers.json.tmp.77 && "
	      "echo [] > overlay-layers/.images.json.tmp.77 && "
	      "mkdir overlay-images/.images.json.tmp.78 && "
	      "ln -s ../victim overlay-images/.images.json.tmp.79 && "
	      "mkdir -p overlay/" LAYER " && echo L > overlay/" LAYER "/.link.tmp.5 && "
	      "echo L > overlay/" LAYER "/.other.tmp.5");
	_cleanup_free_ char *held = phpc_xasprintf("%s/.phpc-migrate.tmp.heldlk/lock", d);
	pid_t holder = hold_lock(held);

	struct phpc_store s;
	assert_int_equal(phpc_store_open(d, true, &s, &err), 0);
	/* our own staging directory, created under the lock: kept */
	struct phpc_staging mine;
	assert_int_equal(phpc_staging_create(&s, &mine, &err), 0);
	assert_true(phpc_store_is_staging_name(mine.name));
	struct stat st;
	assert_int_equal(fstatat(s.dirfd, mine.name, &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* removed: nolock, freelk, the two index temps, the link temp */
	assert_int_equal(phpc_store_sweep(&s), 5);
	assert_false(exists(d, ".phpc-migrate.tmp.nolock"));
	assert_false(exists(d, ".phpc-migrate.tmp.freelk"));
	assert_true(exists(d, ".phpc-migrate.tmp.heldlk/lock"));
	assert_true(exists(d, mine.name));
	assert_true(exists(d, ".phpc-migrate.tmp.symlnk"));
	assert_true(exists(d, "victim/keep/lock"));
	assert_true(exists(d, ".phpc-migrate.tmp.dirlck/lock")); /* "lock" not a file */
	assert_true(exists(d, ".phpc-migrate.tmp.toolong"));
	assert_true(exists(d, "phpc-migrate.tmp.nodot1"));
	assert_true(exists(d, ".phpc-migrate.tmp.afile1"));
	assert_false(exists(d, "overlay-images/.images.json.tmp.77"));
	assert_false(exists(d, "overlay-layers/.layers.json.tmp.77"));
	assert_true(exists(d, "overlay-layers/.images.json.tmp.77"));
	assert_true(exists(d, "overlay-images/.images.json.tmp.78"));
	assert_true(exists(d, "overlay-images/.images.json.tmp.79"));
	assert_true(exists(d, "victim"));
	assert_false(exists(d, "overlay/" LAYER "/.link.tmp.5"));
	assert_true(exists(d, "overlay/" LAYER "/.other.tmp.5"));
	/* a read-only store is never swept */
	struct phpc_store ro;
	phpc_store_close(&s);
	assert_int_equal(phpc_store_open(d, false, &ro, &err), 0);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	assert_int_equal(phpc_store_sweep(&ro), 0);
	phpc_store_close(&ro);
	/* the holder is gone: its staging goes; ours (its lock held by this
	 * process, an open file description lock) stays */
	assert_int_equal(phpc_store_open(d, true, &s, &err), 0);
	assert_int_equal(phpc_store_sweep(&s), 1);
	assert_false(exists(d, ".phpc-migrate.tmp.heldlk"));
	assert_true(exists(d, mine.name));
	_cleanup_free_ char *name = phpc_xstrdup(mine.name);
	phpc_staging_remove(s.dirfd, &mine);
	assert_false(exists(d, name));
	assert_int_equal(mine.lock_fd, -1);
	phpc_store_close(&s);
	rm_tree(d);
}

/* A writer killed with its staging directory: the next migrate removes it. */
static void test_killed_writer(void **state)
{
	(void)state;
	_cleanup_free_ char *d = tmpdir();
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_init(d, &err), 0);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct phpc_store s;
		struct phpc_staging stg;
		if (phpc_store_open(d, true, &s, NULL) < 0 ||
		    phpc_staging_create(&s, &stg, NULL) < 0)
			_exit(1);
		phpc_store_close(&s);
		if (write(p[1], stg.name, strlen(stg.name)) < 0)
			_exit(1);
		close(p[1]);
		pause();
		_exit(0);
	}
	close(p[1]);
	char name[64] = {0};
	assert_true(read(p[0], name, sizeof(name) - 1) > 0);
	close(p[0]);
	struct phpc_store s;
	assert_int_equal(phpc_store_open(d, true, &s, &err), 0);
	assert_int_equal(phpc_store_sweep(&s), 0); /* alive */
	phpc_store_close(&s);
	assert_true(exists(d, name));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(phpc_store_open(d, true, &s, &err), 0);
	assert_int_equal(phpc_store_sweep(&s), 1);
	phpc_store_close(&s);
	assert_false(exists(d, name));
	rm_tree(d);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_guard(void **state)
{
	(void)state;
	char *env[] = {NULL};
	struct phpc_error *err = NULL;
	int status = -1, p[2];

	/* the child ends by itself: its status */
	char *fail[] = {"/bin/sh", "-c", "exit 3", NULL};
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(phpc_run_guarded(fail, env, p[0], &status, &err), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	/* stdin is /dev/null, not the watched pipe */
	char *cat[] = {"/bin/cat", NULL};
	assert_int_equal(phpc_run_guarded(cat, env, p[0], &status, &err), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	close(p[1]);

	/* whoever holds the write end dies: the child is killed at once */
	char *slow[] = {"/bin/sleep", "30", NULL};
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		usleep(200 * 1000);
		_exit(0); /* closes its copy of the write end */
	}
	close(p[1]);
	double t0 = now();
	assert_int_equal(phpc_run_guarded(slow, env, p[0], &status, &err), 0);
	assert_true(now() - t0 < 5);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	waitpid(holder, NULL, 0);
	close(p[0]);

	/* data on the pipe is no end */
	char *quick[] = {"/bin/sh", "-c", "sleep 0.3; exit 0", NULL};
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "noise", 5), 5);
	assert_int_equal(phpc_run_guarded(quick, env, p[0], &status, &err), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	close(p[1]);

	/* a program that is not there */
	char *none[] = {"/nonexistent/mksquashfs", NULL};
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(phpc_run_guarded(none, env, p[0], &status, &err), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 127);
	close(p[0]);
	close(p[1]);
	assert_null(err);
}

static void test_containers_using(void **state)
{
	(void)state;
	struct json_object *c =
	    json_tokener_parse("[{\"id\":\"" CTR1 "\",\"names\":[\"web\"],\"image\":\"" IMG "\"},"
	                       "{\"id\":\"" CTR2 "\",\"names\":[],\"image\":\"" IMG "\"},"
	                       "{\"id\":\"" LAYER "\",\"names\":[\"other\"],\"image\":\"ffff\"},"
	                       "{\"names\":[\"noid\"],\"image\":\"" IMG "\"},"
	                       "{\"id\":\"" LAYER "\",\"names\":[null],\"image\":7}]");
	assert_non_null(c);
	struct phpc_strv users = {0};
	phpc_containers_using(c, IMG, &users);
	const char *want[] = {"web (c0c0c0c0c0c0)", "c1c1c1c1c1c1", NULL};
	assert_argv_equal(users.v, want);
	phpc_strv_clear(&users);
	json_object_put(c);
	struct json_object *notarray = json_tokener_parse("{}");
	phpc_containers_using(notarray, IMG, &users);
	assert_int_equal(users.n, 0);
	json_object_put(notarray);
}

/* A squash store holding IMG (one layer), as migrate leaves it. */
static void make_squash_store(const char *dir)
{
	sh(dir,
	   "mkdir -p overlay-images overlay-layers overlay/" LAYER "/diff overlay/l && "
	   "touch overlay-images/images.lock overlay-layers/layers.lock && "
	   "echo -n LINK > overlay/" LAYER "/link && ln -s ../" LAYER "/diff overlay/l/LINK && "
	   "echo sq > overlay/l/LINK.squash && "
	   "echo '[{\"id\":\"" IMG "\",\"names\":[\"localhost/app:latest\",\"localhost/app:v2\"],"
	   "\"layer\":\"" LAYER "\"}]' > overlay-images/images.json && "
	   "echo '[{\"id\":\"" LAYER "\"}]' > overlay-layers/layers.json");
}

static void test_rmsqi_in_use(void **state)
{
	(void)state;
	_cleanup_free_ char *sq = tmpdir(), *local = tmpdir(), *run = tmpdir();
	make_squash_store(sq);
	/* a local store without the image, whose container "web" was created
	 * from it; a transient one in run_root */
	sh(local, "mkdir -p overlay-containers overlay-images && "
	          "touch overlay-containers/containers.lock overlay-images/images.lock && "
	          "echo '[{\"id\":\"" CTR1 "\",\"names\":[\"web\"],\"image\":\"" IMG "\"}]' > "
	          "overlay-containers/containers.json && echo '[]' > overlay-images/images.json");
	sh(run, "mkdir -p overlay-containers && echo '[{\"id\":\"" CTR2
	        "\",\"names\":[\"tmp\"],\"image\":\"" IMG "\"}]' > "
	        "overlay-containers/volatile-containers.json");
	struct phpc_rmsqi_req req = {.dst_dir = sq, .graph_root = local, .run_root = run};
	struct phpc_strv notes = {0};
	struct phpc_error *err = NULL;

	/* one name of two: only untagged, whoever uses the image */
	assert_int_equal(phpc_rmsqi(&req, "app:v2", &notes, &err), 0);
	assert_string_equal(notes.v[0], "untagged localhost/app:v2");
	phpc_strv_clear(&notes);

	assert_int_equal(phpc_rmsqi(&req, "app", &notes, &err), -EBUSY);
	assert_string_equal(err->msg, "image \"app\" (aaaa1111bbbb) is used by containers web "
	                              "(c0c0c0c0c0c0), tmp (c1c1c1c1c1c1): remove them first, "
	                              "or use podman-hpc rmsqi --force");
	phpc_error_free(err);
	err = NULL;
	assert_true(exists(sq, "overlay/l/LINK.squash"));

	/* the local store holds the image itself: its containers use that */
	sh(local,
	   "echo '[{\"id\":\"" IMG "\",\"layer\":\"" LAYER "\"}]' > overlay-images/images.json");
	req.run_root = NULL;
	assert_int_equal(phpc_rmsqi(&req, "app", &notes, &err), 0);
	assert_false(exists(sq, "overlay/l/LINK.squash"));
	phpc_strv_clear(&notes);

	/* --force removes it, and says who still uses it */
	make_squash_store(sq);
	sh(local, "echo '[]' > overlay-images/images.json");
	req.force = true;
	assert_int_equal(phpc_rmsqi(&req, IMG, &notes, &err), 0);
	assert_int_equal(notes.n, 2);
	assert_non_null(strstr(notes.v[1], "web (c0c0c0c0c0c0)"));
	assert_false(exists(sq, "overlay/l/LINK.squash"));
	phpc_strv_clear(&notes);

	/* no local store at all: nobody uses it */
	make_squash_store(sq);
	req = (struct phpc_rmsqi_req){.dst_dir = sq, .graph_root = "/nonexistent/phpc"};
	assert_int_equal(phpc_rmsqi(&req, IMG, &notes, &err), 0);
	assert_false(exists(sq, "overlay/l/LINK.squash"));
	phpc_strv_clear(&notes);
	assert_null(err);
	rm_tree(sq);
	rm_tree(local);
	rm_tree(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_temp_names),       cmocka_unit_test(test_sweep),
	    cmocka_unit_test(test_killed_writer),    cmocka_unit_test(test_guard),
	    cmocka_unit_test(test_containers_using), cmocka_unit_test(test_rmsqi_in_use),
	};
	return cmocka_run_group_tests_name("squash", tests, NULL, NULL);
}
