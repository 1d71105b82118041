/* podman-hpc doctor's verdicts and what it gathers without privileges (doctor.h). */
#include "testutil.h"

#include "doctor.h"
#include "error.h"
#include "fsutil.h"
#include "hooks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <linux/capability.h>
#include <sys/stat.h>

static void check_clear(struct phpc_check *c)
{
	free(c->message);
	free(c->fix);
	*c = (struct phpc_check){0};
}

/* The check has this name and status, its message every word of want (NULL
 * ended), and a fix exactly when it failed or warned. */
static void assert_check(const struct phpc_check *c, const char *name, enum phpc_check_status s,
                         const char *const *want)
{
	if (!streq(c->name, name) || c->status != s)
		fail_msg("got %s %s, want %s %s: %s", c->name, phpc_check_status_name(c->status),
		         name, phpc_check_status_name(s), c->message);
	for (; want && *want; want++)
		if (!strstr(c->message, *want))
			fail_msg("message lacks \"%s\": %s", *want, c->message);
	bool problem = s == PHPC_CHECK_FAIL || s == PHPC_CHECK_WARN;
	if (problem != (c->fix != NULL))
		fail_msg("%s: fix %s", c->message, c->fix ? c->fix : "(none)");
}

static void assert_fix(const struct phpc_check *c, const char *want)
{
	if (!c->fix || !strstr(c->fix, want))
		fail_msg("fix lacks \"%s\": %s", want, c->fix ? c->fix : "(none)");
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

/* --- the report ------------------------------------------------------------------------------- */

static void fill_report(struct phpc_doctor *d)
{
	d->user = phpc_xstrdup("alice");
	d->uid = 1000;
	d->host = phpc_xstrdup("nid001");
	phpc_check_set(phpc_doctor_add(d), "fuse", PHPC_CHECK_OK, "/dev/fuse opens read-write");
	struct phpc_check *c = phpc_doctor_add(d);
	phpc_check_set(c, "graph_root", PHPC_CHECK_FAIL, "on nfs");
	phpc_check_fix(c, "set graph_root");
	c = phpc_doctor_add(d);
	phpc_check_set(c, "memlock", PHPC_CHECK_WARN, "locked memory: 64 KiB");
	phpc_check_fix(c, "limits.conf");
	phpc_check_set(phpc_doctor_add(d), "slurm", PHPC_CHECK_SKIP, "not in a Slurm job");
}

static void test_report_text(void **state)
{
	(void)state;
	struct phpc_doctor d = {0};
	fill_report(&d);
	for (int i = 0; i < 20; i++) /* grows past its first allocation */
		phpc_check_set(phpc_doctor_add(&d), "x", PHPC_CHECK_OK, "%d", i);
	assert_int_equal(phpc_doctor_count(&d, PHPC_CHECK_OK), 21);
	assert_int_equal(phpc_doctor_count(&d, PHPC_CHECK_FAIL), 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	phpc_doctor_write_text(&d, f);
	fclose(f);
	/* aligned on the longest name; the fix under the message */
	assert_non_null(strstr(buf, "podman-hpc doctor: user alice (uid 1000) on nid001\n"));
	assert_non_null(strstr(buf, "\nok    fuse        /dev/fuse opens read-write\n"));
	assert_non_null(strstr(buf, "\nFAIL  graph_root  on nfs\n"
	                            "                  fix: set graph_root\n"));
	assert_non_null(strstr(buf, "\nwarn  memlock     locked memory: 64 KiB\n"
	                            "                  fix: limits.conf\n"));
	assert_non_null(strstr(buf, "\nskip  slurm       not in a Slurm job\n"));
	assert_non_null(strstr(buf, "\n1 failed, 1 warning, 21 ok, 1 skipped\n"));
	free(buf);
	phpc_doctor_clear(&d);
	assert_null(d.checks);
}

static void test_report_json(void **state)
{
	(void)state;
	struct phpc_doctor d = {0};
	fill_report(&d);
	struct json_object *o = phpc_doctor_json(&d);
	/* what scripts read, through text as they get it */
	struct json_object *p = json_tokener_parse(json_object_to_json_string(o));
	json_object_put(o);
	assert_non_null(p);
	struct json_object *v;
	assert_true(json_object_object_get_ex(p, "user", &v));
	assert_string_equal(json_object_get_string(v), "alice");
	assert_true(json_object_object_get_ex(p, "uid", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int(v), 1000);
	assert_true(json_object_object_get_ex(p, "host", &v));
	assert_string_equal(json_object_get_string(v), "nid001");
	assert_true(json_object_object_get_ex(p, "failed", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(p, "warnings", &v));
	assert_int_equal(json_object_get_int(v), 1);
	struct json_object *checks;
	assert_true(json_object_object_get_ex(p, "checks", &checks));
	assert_int_equal(json_object_array_length(checks), 4);
	static const char *const status[] = {"ok", "fail", "warn", "skip"};
	for (size_t i = 0; i < 4; i++) {
		struct json_object *c = json_object_array_get_idx(checks, i);
		assert_int_equal(json_object_object_length(c), 4);
		assert_true(json_object_object_get_ex(c, "name", &v));
		assert_string_equal(json_object_get_string(v), d.checks[i].name);
		assert_true(json_object_object_get_ex(c, "status", &v));
		assert_string_equal(json_object_get_string(v), status[i]);
		assert_true(json_object_object_get_ex(c, "message", &v));
		assert_string_equal(json_object_get_string(v), d.checks[i].message);
		/* present, null when there is nothing to fix */
		assert_true(json_object_object_get_ex(c, "fix", &v));
		if (d.checks[i].fix)
			assert_string_equal(json_object_get_string(v), d.checks[i].fix);
		else
			assert_null(v);
	}
	json_object_put(p);
	phpc_doctor_clear(&d);
}

static void test_config_check(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	phpc_check_config("/etc/podman_hpc/podman_hpc.yaml", NULL, NULL, 6, &c);
	assert_check(&c, "config", PHPC_CHECK_OK, WANT("/etc/podman_hpc/podman_hpc.yaml, 6 site"));
	phpc_check_config(NULL, NULL, NULL, 1, &c);
	assert_check(&c, "config", PHPC_CHECK_OK, WANT("built-in defaults", "1 site module"));
	char *w[] = {(char *)"shared_run_args_template has no effect", NULL};
	phpc_check_config("/x.yaml", NULL, w, 0, &c);
	assert_check(&c, "config", PHPC_CHECK_WARN, WANT("/x.yaml", "has no effect"));
	phpc_check_config(NULL, "/x.yaml: line 3: key \"bogus\": unknown key", NULL, 0, &c);
	assert_check(&c, "config", PHPC_CHECK_FAIL, WANT("line 3"));
	check_clear(&c);
}

/* --- 1. user namespaces -------------------------------------------------------------------- */

static struct phpc_userns_facts userns_ok(void)
{
	return (struct phpc_userns_facts){
	    .max_namespaces = 15000,
	    .unprivileged_clone = -1,
	    .apparmor_restrict = -1,
	    .podman = (char *)"/usr/bin/podman",
	};
}

static void test_userns(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct phpc_userns_facts f = userns_ok();
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_OK, WANT("max_user_namespaces = 15000"));
	f.root = true;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_SKIP, WANT("root"));

	f = userns_ok();
	f.max_namespaces = 0;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_FAIL, WANT("user.max_user_namespaces is 0"));
	assert_fix(&c, "sysctl -w user.max_user_namespaces=");
	assert_fix(&c, "/etc/sysctl.d/");

	/* Debian's switch */
	f = userns_ok();
	f.unprivileged_clone = 0;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_FAIL, WANT("kernel.unprivileged_userns_clone is 0"));
	assert_fix(&c, "sysctl -w kernel.unprivileged_userns_clone=1");
	f.unprivileged_clone = 1;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_OK, NULL);

	/* Ubuntu 23.10+: restricted unless podman's profile allows them; the
	 * doctor's own unshare does not count either way */
	f = userns_ok();
	f.apparmor_restrict = 1;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_FAIL,
	             WANT("apparmor_restrict_unprivileged_userns = 1", "/usr/bin/podman"));
	assert_fix(&c, "userns,");
	assert_fix(&c, "apparmor_parser -r");
	assert_fix(&c, "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
	f.apparmor_profile = (char *)"/etc/apparmor.d/podman";
	f.unshare_errno = EACCES;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_OK,
	             WANT("/etc/apparmor.d/podman", "/usr/bin/podman"));
	f.apparmor_restrict = 0;
	f.apparmor_profile = NULL;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_FAIL, WANT("unshare(CLONE_NEWUSER)"));

	/* the real test, when the switches say nothing */
	f = userns_ok();
	f.unshare_errno = ENOSPC;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_FAIL, WANT("unshare(CLONE_NEWUSER)"));
	assert_fix(&c, "max_user_namespaces = 15000) are in use");
	f.unshare_errno = EPERM;
	phpc_check_userns(&f, &c);
	assert_check(&c, "userns", PHPC_CHECK_FAIL, WANT(strerror(EPERM)));
	assert_fix(&c, "seccomp");
	f.unshare_errno = EINVAL;
	phpc_check_userns(&f, &c);
	assert_fix(&c, "CONFIG_USER_NS");
	check_clear(&c);
}

static void test_userns_gather(void **state)
{
	(void)state;
	char *d = temp_dir();
	char *p = phpc_xasprintf("%s/user", d);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = phpc_xasprintf("%s/kernel", d);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = phpc_xasprintf("%s/user/max_user_namespaces", d);
	write_text(p, "0\n", 0644);
	free(p);
	p = phpc_xasprintf("%s/kernel/apparmor_restrict_unprivileged_userns", d);
	write_text(p, "1\n", 0644);
	free(p);
	char *aa = phpc_xasprintf("%s/apparmor.d", d);
	assert_int_equal(mkdir(aa, 0755), 0);
	p = phpc_xasprintf("%s/podman", aa);
	write_text(p,
	           "abi <abi/4.0>,\ninclude <tunables/global>\n"
	           "profile podman /usr/bin/podman flags=(unconfined) {\n  userns,\n}\n",
	           0644);
	free(p);
	struct phpc_userns_facts f;
	phpc_doctor_gather_userns(d, aa, "/usr/bin/podman", false, &f);
	assert_int_equal(f.max_namespaces, 0);
	assert_int_equal(f.unprivileged_clone, -1); /* no such switch here */
	assert_int_equal(f.apparmor_restrict, 1);
	assert_non_null(f.apparmor_profile);
	assert_non_null(strstr(f.apparmor_profile, "/apparmor.d/podman"));
	/* the real test ran in a child, and this process is where it was */
	assert_true(f.unshare_errno == 0 || f.unshare_errno == EPERM || f.unshare_errno == ENOSPC ||
	            f.unshare_errno == EINVAL);
	phpc_userns_facts_clear(&f);
	/* a profile of another program that starts with the same path does not count */
	char *other = phpc_doctor_apparmor_userns_profile(aa, "/usr/bin/pod");
	assert_null(other);
	p = phpc_xasprintf("%s/podman", aa);
	write_text(p, "profile podman-remote /usr/bin/podman-remote {\n  userns,\n}\n", 0644);
	assert_null(phpc_doctor_apparmor_userns_profile(aa, "/usr/bin/podman"));
	write_text(p, "profile podman /usr/bin/podman {\n  # userns,\n}\n", 0644);
	assert_null(phpc_doctor_apparmor_userns_profile(aa, "/usr/bin/podman"));
	write_text(p, "profile podman /usr/bin/podman {\n  allow userns ,\n}\n", 0644);
	other = phpc_doctor_apparmor_userns_profile(aa, "/usr/bin/podman");
	assert_non_null(other);
	free(other);
	free(p);
	/* root skips it all */
	phpc_doctor_gather_userns(d, aa, NULL, true, &f);
	assert_true(f.root);
	phpc_userns_facts_clear(&f);
	free(aa);
	remove_tree(d);
	free(d);
}

/* --- 2. subordinate ids -------------------------------------------------------------------- */

static void test_subid_parse(void **state)
{
	(void)state;
	struct phpc_subid_facts f = {0};
	/* getsubids' output: index, owner, start, count */
	assert_int_equal(phpc_subid_parse_getsubids("0: alice 100000 65536\n"
	                                            "1: alice 300000 1000\n",
	                                            &f),
	                 0);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.ranges[0].start, 100000);
	assert_int_equal(f.ranges[0].count, 65536);
	assert_int_equal(f.ranges[1].start, 300000);
	assert_int_equal(f.ranges[1].count, 1000);
	phpc_subid_facts_clear(&f);
	assert_int_equal(phpc_subid_parse_getsubids("", &f), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(phpc_subid_parse_getsubids("\n  \n", &f), 0);
	assert_int_equal(phpc_subid_parse_getsubids("Error fetching ranges\n", &f), -EINVAL);
	assert_int_equal(phpc_subid_parse_getsubids("0: alice 100000\n", &f), -EINVAL);
	assert_int_equal(phpc_subid_parse_getsubids("0: alice -1 65536\n", &f), -EINVAL);
	assert_int_equal(phpc_subid_parse_getsubids("0: alice 1 2 3\n", &f), -EINVAL);
	assert_int_equal(phpc_subid_parse_getsubids("0 alice 1 2\n", &f), -EINVAL);
	phpc_subid_facts_clear(&f);

	/* the files: by name or by uid, the user's lines only */
	static const char file[] = "bob:100000:65536\n"
	                           "alice:165536:65536\n"
	                           "# alice:1:2\n"
	                           "1000:400000:10\n"
	                           "alicex:500000:65536\n"
	                           "alice:bad:1\n"
	                           "\n"
	                           "carol:231072:65536";
	phpc_subid_parse_file(file, "alice", 1000, &f);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.ranges[0].start, 165536);
	assert_int_equal(f.ranges[1].start, 400000);
	assert_int_equal(f.ranges[1].count, 10);
	phpc_subid_facts_clear(&f);
	phpc_subid_parse_file(file, "dave", 1003, &f);
	assert_int_equal(f.n, 0);
	/* read as newuidmap reads it (subid.h): "2\r" is no number */
	phpc_subid_parse_file("alice:1:2\r\n", "alice", 1, &f);
	assert_int_equal(f.n, 0);
	phpc_subid_facts_clear(&f);
	/* where a new range can start: after the last one (carol's, the
	 * highest: 231072 + 65536 is below alicex's end) */
	assert_int_equal(phpc_subid_free_start(file), 565536);
	assert_int_equal(phpc_subid_free_start(""), 100000);
	assert_int_equal(phpc_subid_free_start(NULL), 100000);
	assert_int_equal(phpc_subid_free_start("a:10:10\n"), 100000);
}

static void test_subid(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct phpc_subid_range one = {100000, 65536}, small = {100000, 1000};
	struct phpc_subid_facts f = {
	    .user = "alice", .source = "getsubids", .ranges = &one, .n = 1, .free_start = 231072};
	phpc_check_subid(&f, &c);
	assert_check(&c, "subuid", PHPC_CHECK_OK, WANT("65536 subordinate uids", "100000-165535"));
	f.gid = true;
	phpc_check_subid(&f, &c);
	assert_check(&c, "subgid", PHPC_CHECK_OK, WANT("gids"));
	f.gid = false;
	/* too few for nobody's files */
	f.ranges = &small;
	phpc_check_subid(&f, &c);
	assert_check(&c, "subuid", PHPC_CHECK_WARN, WANT("only 1000", "65534"));
	assert_fix(&c, "usermod --add-subuids 231072-296607 alice");
	/* none */
	f.n = 0;
	phpc_check_subid(&f, &c);
	assert_check(&c, "subuid", PHPC_CHECK_FAIL,
	             WANT("alice has no subordinate uids", "getsubids"));
	assert_fix(&c, "podman-hpc-subid");
	assert_fix(&c, "usermod --add-subuids 231072-296607 alice");
	assert_fix(&c, "podman-hpc system migrate");
	f.gid = true;
	f.source = "/etc/subgid";
	phpc_check_subid(&f, &c);
	assert_check(&c, "subgid", PHPC_CHECK_FAIL, WANT("none in /etc/subgid"));
	assert_fix(&c, "usermod --add-subgids 231072-296607 alice");
	f.error = (char *)"cannot open /etc/subgid: Permission denied";
	phpc_check_subid(&f, &c);
	assert_check(&c, "subgid", PHPC_CHECK_FAIL, WANT("Permission denied"));
	f.root = true;
	phpc_check_subid(&f, &c);
	assert_check(&c, "subgid", PHPC_CHECK_SKIP, WANT("root"));
	check_clear(&c);
}

/* Without getsubids on PATH, the file is read. */
static void test_subid_gather(void **state)
{
	(void)state;
	char *d = temp_dir();
	char *file = phpc_xasprintf("%s/subuid", d);
	write_text(file, "alice:100000:65536\nbob:165536:65536\n", 0644);
	char *path = phpc_xasprintf("PATH=%s", d);
	char *envp[] = {path, NULL};
	struct phpc_subid_facts f;
	phpc_doctor_gather_subid(false, "bob", 1001, envp, file, false, &f);
	assert_null(f.error);
	assert_string_equal(f.source, file);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.ranges[0].start, 165536);
	assert_int_equal(f.free_start, 231072);
	phpc_subid_facts_clear(&f);
	/* a getsubids on PATH is asked instead; its "none" is exit 1 */
	char *tool = phpc_xasprintf("%s/getsubids", d);
	write_text(tool,
	           "#!/bin/sh\n"
	           "[ \"$1\" = -g ] && { echo \"0: $2 300000 65536\"; exit 0; }\n"
	           "[ \"$1\" = bob ] && { echo \"0: bob 200000 500\"; exit 0; }\n"
	           "echo 'Error fetching ranges' >&2; exit 1\n",
	           0755);
	phpc_doctor_gather_subid(false, "bob", 1001, envp, file, false, &f);
	assert_string_equal(f.source, "getsubids");
	assert_int_equal(f.n, 1);
	assert_int_equal(f.ranges[0].start, 200000);
	assert_int_equal(f.ranges[0].count, 500);
	phpc_subid_facts_clear(&f);
	phpc_doctor_gather_subid(true, "bob", 1001, envp, file, false, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.ranges[0].start, 300000);
	phpc_subid_facts_clear(&f);
	phpc_doctor_gather_subid(false, "carol", 1002, envp, file, false, &f);
	assert_null(f.error);
	assert_int_equal(f.n, 0);
	phpc_subid_facts_clear(&f);
	free(tool);
	free(path);
	free(file);
	remove_tree(d);
	free(d);
}

/* --- newuidmap and newgidmap --------------------------------------------------------------- */

static void test_filecap(void **state)
{
	(void)state;
	struct vfs_ns_cap_data d = {0};
	d.magic_etc = htole32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE);
	d.data[0].permitted = htole32(1u << CAP_SETUID);
	assert_true(phpc_filecap_has(&d, XATTR_CAPS_SZ_2, CAP_SETUID));
	assert_false(phpc_filecap_has(&d, XATTR_CAPS_SZ_2, CAP_SETGID));
	/* permitted but not effective: newuidmap would run without it */
	d.magic_etc = htole32(VFS_CAP_REVISION_2);
	assert_false(phpc_filecap_has(&d, XATTR_CAPS_SZ_2, CAP_SETUID));
	/* a length that is not its revision's */
	d.magic_etc = htole32(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE);
	assert_false(phpc_filecap_has(&d, XATTR_CAPS_SZ_1, CAP_SETUID));
	assert_false(phpc_filecap_has(&d, 2, CAP_SETUID));
	/* revision 1: 32 capabilities */
	d.magic_etc = htole32(VFS_CAP_REVISION_1 | VFS_CAP_FLAGS_EFFECTIVE);
	assert_true(phpc_filecap_has(&d, XATTR_CAPS_SZ_1, CAP_SETUID));
	assert_false(phpc_filecap_has(&d, XATTR_CAPS_SZ_1, 40));
	/* revision 3: only for root of the initial namespace */
	d.magic_etc = htole32(VFS_CAP_REVISION_3 | VFS_CAP_FLAGS_EFFECTIVE);
	d.data[1].permitted = htole32(1u << (40 - 32));
	assert_true(phpc_filecap_has(&d, XATTR_CAPS_SZ_3, CAP_SETUID));
	assert_true(phpc_filecap_has(&d, XATTR_CAPS_SZ_3, 40));
	d.rootid = htole32(100000);
	assert_false(phpc_filecap_has(&d, XATTR_CAPS_SZ_3, CAP_SETUID));
	d.magic_etc = htole32(0x05000000 | VFS_CAP_FLAGS_EFFECTIVE);
	assert_false(phpc_filecap_has(&d, XATTR_CAPS_SZ_3, CAP_SETUID));
}

static void test_idmap(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct phpc_idmap_facts f = {
	    .tool = {{.name = "newuidmap", .path = (char *)"/usr/bin/newuidmap", .mode = 0104755},
	             {.name = "newgidmap", .path = (char *)"/usr/bin/newgidmap", .mode = 0104755}}};
	phpc_check_idmap(&f, &c);
	assert_check(&c, "newuidmap", PHPC_CHECK_OK, WANT("/usr/bin/newuidmap: setuid root"));
	/* a plain copy */
	f.tool[1].mode = 0100755;
	phpc_check_idmap(&f, &c);
	assert_check(
	    &c, "newuidmap", PHPC_CHECK_FAIL,
	    WANT("/usr/bin/newgidmap is neither setuid root nor has file capabilities", "0755"));
	assert_fix(&c, "chmod u+s /usr/bin/newgidmap");
	assert_fix(&c, "setcap cap_setgid+ep /usr/bin/newgidmap");
	/* or with file capabilities */
	f.tool[1].cap = true;
	phpc_check_idmap(&f, &c);
	assert_check(&c, "newuidmap", PHPC_CHECK_OK, WANT("newgidmap: file capabilities"));
	/* setuid, but of another user */
	f.tool[0].owner = 1000;
	phpc_check_idmap(&f, &c);
	assert_check(&c, "newuidmap", PHPC_CHECK_FAIL, WANT("owner uid 1000"));
	/* setuid root on a nosuid mount */
	f.tool[0].owner = 0;
	f.tool[0].nosuid = true;
	phpc_check_idmap(&f, &c);
	assert_check(&c, "newuidmap", PHPC_CHECK_FAIL, WANT("nosuid"));
	assert_fix(&c, "setcap cap_setuid+ep /usr/bin/newuidmap");
	f.tool[0].path = NULL;
	phpc_check_idmap(&f, &c);
	assert_check(&c, "newuidmap", PHPC_CHECK_FAIL, WANT("newuidmap is not installed"));
	assert_fix(&c, "uidmap");
	f.root = true;
	phpc_check_idmap(&f, &c);
	assert_check(&c, "newuidmap", PHPC_CHECK_SKIP, NULL);
	check_clear(&c);
}

/* What a plain copy of a setuid program is to the gathering. */
static void test_idmap_gather(void **state)
{
	(void)state;
	char *d = temp_dir();
	char *u = phpc_xasprintf("%s/newuidmap", d), *g = phpc_xasprintf("%s/newgidmap", d);
	write_text(u, "#!/bin/sh\n", 04755);
	write_text(g, "#!/bin/sh\n", 0755);
	char *path = phpc_xasprintf("PATH=%s", d);
	char *envp[] = {path, NULL};
	struct phpc_idmap_facts f;
	phpc_doctor_gather_idmap(envp, false, &f);
	assert_string_equal(f.tool[0].path, u);
	assert_true(f.tool[0].mode & S_ISUID);
	assert_false(f.tool[1].mode & S_ISUID);
	assert_false(f.tool[1].cap);
	struct phpc_check c = {0};
	phpc_check_idmap(&f, &c);
	if (getuid() == 0) /* root owns the copies: the setuid one counts */
		assert_check(&c, "newuidmap", PHPC_CHECK_FAIL, WANT(g));
	check_clear(&c);
	phpc_idmap_facts_clear(&f);
	unlink(g);
	phpc_doctor_gather_idmap(envp, false, &f);
	assert_null(f.tool[1].path);
	phpc_idmap_facts_clear(&f);
	free(path);
	free(u);
	free(g);
	remove_tree(d);
	free(d);
}

/* --- 3. /dev/fuse -------------------------------------------------------------------------- */

static void test_fuse(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct phpc_fuse_facts f = {.path = "/dev/fuse", .mode = 020666, .major = 10, .minor = 229};
	phpc_check_fuse(&f, &c);
	assert_check(&c, "fuse", PHPC_CHECK_OK, WANT("/dev/fuse opens read-write"));
	f.open_errno = EACCES;
	f.mode = 020600;
	phpc_check_fuse(&f, &c);
	assert_check(&c, "fuse", PHPC_CHECK_FAIL, WANT("mode 0600", strerror(EACCES)));
	assert_fix(&c, "chmod 0666 /dev/fuse");
	assert_fix(&c, "MODE=\"0666\"");
	/* /dev/null bound over it */
	phpc_doctor_gather_fuse("/dev/null", &f);
	assert_int_equal(f.major, 1);
	assert_int_equal(f.open_errno, 0); /* not opened: not the FUSE device */
	phpc_check_fuse(&f, &c);
	assert_check(&c, "fuse", PHPC_CHECK_FAIL, WANT("the character device 1:3"));
	assert_fix(&c, "mknod -m 0666 /dev/null c 10 229");
	phpc_doctor_gather_fuse("/tmp", &f);
	phpc_check_fuse(&f, &c);
	assert_check(&c, "fuse", PHPC_CHECK_FAIL, WANT("a directory"));
	phpc_doctor_gather_fuse("/nonexistent/fuse", &f);
	assert_int_equal(f.stat_errno, ENOENT);
	phpc_check_fuse(&f, &c);
	assert_check(&c, "fuse", PHPC_CHECK_FAIL, WANT("/nonexistent/fuse"));
	assert_fix(&c, "modprobe fuse");
	check_clear(&c);
}

/* --- 4. graph_root and run_root ------------------------------------------------------------- */

static void test_fs_name(void **state)
{
	(void)state;
	static const struct {
		unsigned long magic;
		const char *name;
		bool network;
	} cases[] = {
	    {0x6969, "nfs", true},      {0x0BD00BD0, "lustre", true},
	    {0x47504653, "gpfs", true}, {0x19830326, "beegfs", true},
	    {0xFF534D42, "cifs", true}, {0xFE534D42, "smb2", true},
	    {0x01021997, "9p", true},   {0x00C36400, "ceph", true},
	    {0xEF53, "ext4", false},    {0x01021994, "tmpfs", false},
	    {0x58465342, "xfs", false}, {0x858458F6, "ramfs", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool net = !cases[i].network;
		assert_string_equal(phpc_fs_name(cases[i].magic, &net), cases[i].name);
		assert_int_equal(net, cases[i].network);
	}
	/* f_type is signed: a magic with the high bit set may come sign-extended */
	bool net = false;
	assert_string_equal(phpc_fs_name((unsigned long)(long)(int32_t)0xFF534D42u, &net), "cifs");
	assert_true(net);
	assert_null(phpc_fs_name(0x12345678, &net));
	assert_false(net);
}

static struct phpc_store_facts store_ok(void)
{
	return (struct phpc_store_facts){
	    .key = "graph_root",
	    .path = "/tmp/1000_hpc/storage",
	    .exists = true,
	    .probed = (char *)"/tmp/1000_hpc/storage",
	    .fs_type = 0xEF53,
	    .xattr_name = "user.podman-hpc-doctor",
	};
}

static void test_store(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct phpc_store_facts f = store_ok();
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_OK,
	             WANT("/tmp/1000_hpc/storage on ext4", "user.* extended attributes work"));
	f.exists = false;
	f.probed = (char *)"/tmp";
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_OK, WANT("not created yet; in /tmp"));
	/* a network file system: NFS, Lustre */
	f = store_ok();
	f.fs_type = 0x6969;
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_FAIL, WANT("on nfs, a network file system"));
	assert_fix(&c, "set graph_root in /etc/podman_hpc/podman_hpc.yaml");
	assert_fix(&c, "PODMANHPC_GRAPH_ROOT");
	assert_fix(&c, "local disk or a tmpfs");
	f.key = "run_root";
	f.fs_type = 0x0BD00BD0;
	phpc_check_store(&f, &c);
	assert_check(&c, "run_root", PHPC_CHECK_FAIL, WANT("on lustre", "run-time state"));
	assert_fix(&c, "PODMANHPC_RUN_ROOT");
	/* no user xattrs (ramfs) */
	f = store_ok();
	f.fs_type = 0x858458F6;
	f.xattr_errno = ENOTSUP;
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_FAIL, WANT("on ramfs", "no user.* extended"));
	assert_fix(&c, "PODMANHPC_GRAPH_ROOT");
	f.xattr_name = "trusted.podman-hpc-doctor";
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_FAIL, WANT("no trusted.* extended"));
	f.xattr_errno = EIO;
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_FAIL, WANT("trusted.podman-hpc-doctor"));
	/* not writable */
	f = store_ok();
	f.create_errno = EACCES;
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_FAIL, WANT("you cannot create files"));
	/* refused by the safe-directory rules */
	f = store_ok();
	f.refused = (char *)"graph_root (default): /tmp/1000_hpc belongs to user bob";
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_FAIL, WANT("belongs to user bob"));
	assert_fix(&c, "of your own");
	/* FUSE: may be sshfs */
	f = store_ok();
	f.fs_type = 0x65735546;
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_WARN, WANT("FUSE"));
	/* a file system this table does not know */
	f = store_ok();
	f.fs_type = 0x12345678;
	f.xattr_name = NULL;
	phpc_check_store(&f, &c);
	assert_check(&c, "graph_root", PHPC_CHECK_OK, WANT("type 0x12345678", "writable"));
	check_clear(&c);
}

/* Nothing created on the way, the probe file gone, the directory found. */
static void test_store_gather(void **state)
{
	(void)state;
	char *d = temp_dir();
	assert_int_equal(chmod(d, 01777), 0);
	char *p = phpc_xasprintf("%s/u_hpc/storage", d);
	struct phpc_store_facts f;
	phpc_doctor_gather_store("graph_root", p, "graph_root (default)", getuid(), true, &f);
	assert_null(f.refused);
	assert_false(f.exists);
	assert_string_equal(f.probed, d);
	assert_int_equal(f.create_errno, 0);
	struct stat st;
	char *parent = phpc_xasprintf("%s/u_hpc", d);
	assert_int_equal(stat(parent, &st), -1);
	DIR *dir = opendir(d);
	struct dirent *de;
	int entries = 0;
	while ((de = readdir(dir)))
		entries += de->d_name[0] != '.' || strstr(de->d_name, "doctor");
	closedir(dir);
	assert_int_equal(entries, 0);
	/* /tmp of the unit tests keeps extended attributes, or says why not */
	assert_true(f.xattr_errno == 0 || f.xattr_errno == ENOTSUP);
	phpc_store_facts_clear(&f);
	assert_int_equal(mkdir(parent, 0700), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	phpc_doctor_gather_store("graph_root", p, "graph_root (default)", getuid(), false, &f);
	assert_true(f.exists);
	assert_string_equal(f.probed, p);
	assert_null(f.xattr_name);
	phpc_store_facts_clear(&f);
	/* what podman-hpc refuses */
	assert_int_equal(chmod(parent, 0777), 0);
	phpc_doctor_gather_store("graph_root", p, "graph_root (default)", getuid(), true, &f);
	assert_non_null(f.refused);
	assert_non_null(strstr(f.refused, "graph_root (default)"));
	phpc_store_facts_clear(&f);
	free(parent);
	free(p);
	remove_tree(d);
	free(d);
}

/* --- 5. the OCI runtime --------------------------------------------------------------------- */

static const char info_json[] =
    "{\"host\": {\"arch\": \"amd64\", \"cgroupManager\": \"cgroupfs\", \"cgroupVersion\": "
    "\"v1\", \"ociRuntime\": {\"name\": \"runc\", \"package\": \"runc_1.1.5\", \"path\": "
    "\"/usr/bin/runc\", \"version\": \"runc version 1.1.5+ds1\\ncommit: 1.1.5+ds1-1\\nspec: "
    "1.0.2-dev\"}, \"security\": {\"rootless\": true}}, \"store\": {}}";

static struct phpc_runtime_facts parsed_info(void)
{
	struct phpc_runtime_facts f = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_doctor_parse_info(info_json, &f, &err), 0);
	return f;
}

static void test_runtime_parse(void **state)
{
	(void)state;
	struct phpc_runtime_facts f = parsed_info();
	assert_true(f.parsed);
	assert_string_equal(f.runtime, "runc");
	assert_string_equal(f.runtime_version, "runc version 1.1.5+ds1");
	assert_string_equal(f.cgroup_version, "v1");
	assert_string_equal(f.cgroup_manager, "cgroupfs");
	assert_true(f.rootless);
	phpc_runtime_facts_clear(&f);
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_doctor_parse_info("not json", &f, &err), -EINVAL);
	phpc_error_freep(&err);
	assert_int_equal(phpc_doctor_parse_info("{\"store\": {}}", &f, &err), -EINVAL);
	phpc_error_freep(&err);
	assert_int_equal(phpc_doctor_parse_info("{\"host\": {}}", &f, &err), 0);
	assert_null(f.runtime);
	phpc_runtime_facts_clear(&f);

	char *l = phpc_doctor_error_line("time=\"...\" level=warning msg=\"x\"\n"
	                                 "Error: default OCI runtime \"nope\" not found: invalid "
	                                 "argument\nmore\n");
	assert_string_equal(l, "Error: default OCI runtime \"nope\" not found: invalid argument");
	free(l);
	l = phpc_doctor_error_line("\n  \nsomething broke  \r\n");
	assert_string_equal(l, "something broke");
	free(l);
	assert_null(phpc_doctor_error_line(""));
	assert_null(phpc_doctor_error_line(NULL));
}

static void test_runtime(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct phpc_runtime_facts f = parsed_info();
	f.cgroup_hybrid = true;
	f.containers_conf = phpc_xstrdup("/etc/containers/containers.conf");
	phpc_check_runtime(&f, &c);
	assert_check(
	    &c, "runtime", PHPC_CHECK_OK,
	    WANT("runc version 1.1.5+ds1, cgroup v1 (hybrid), cgroupfs manager, rootless"));
	/* crun on cgroup v1 hybrid */
	free(f.runtime);
	f.runtime = phpc_xstrdup("crun");
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_FAIL, WANT("crun", "hybrid"));
	assert_fix(&c, "runtime = \"runc\" under [engine] in /etc/containers/containers.conf");
	f.cgroup_hybrid = false; /* pure v1: crun copes */
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_OK, WANT("crun runc version"));
	free(f.cgroup_version);
	f.cgroup_version = phpc_xstrdup("v2");
	f.cgroup_hybrid = true;
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_OK, WANT("cgroup v2,"));
	/* systemd's manager without the user's D-Bus */
	free(f.cgroup_manager);
	f.cgroup_manager = phpc_xstrdup("systemd");
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_FAIL, WANT("D-Bus"));
	assert_fix(&c, "cgroup_manager = \"cgroupfs\"");
	f.user_dbus = true;
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_OK, WANT("systemd manager"));
	f.user_dbus = false;
	f.rootless = false;
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_OK, NULL);
	/* podman fails: its first error line, and for a runtime, the setting */
	f.exit_code = 125;
	f.error_line = phpc_xstrdup("Error: default OCI runtime \"nope\" not found");
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_FAIL,
	             WANT("podman info failed (exit 125): Error: default OCI runtime"));
	assert_fix(&c, "runtime = \"runc\"");
	assert_fix(&c, "/etc/containers/containers.conf");
	/* "runtime" alone is not the runtime's setting */
	free(f.error_line);
	f.error_line = phpc_xstrdup("Error: creating runtime static files directory: mkdir "
	                            "/x: permission denied");
	phpc_check_runtime(&f, &c);
	assert_fix(&c, "podman-hpc info");
	free(f.error_line);
	f.error_line = NULL;
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_FAIL, WANT("it said nothing"));
	assert_fix(&c, "podman-hpc info");
	f.run_error = phpc_xstrdup("podman binary \"podman\" not found on PATH");
	f.not_found = true;
	phpc_check_runtime(&f, &c);
	assert_check(&c, "runtime", PHPC_CHECK_FAIL, WANT("not found"));
	assert_fix(&c, "podman_bin");
	phpc_runtime_facts_clear(&f);
	check_clear(&c);
}

/* A stand-in for podman: its output, its exit, its time. */
static void gather_with(const char *script, int timeout_ms, struct phpc_runtime_facts *f)
{
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script, NULL};
	char *envp[] = {(char *)"PATH=/usr/bin:/bin", (char *)"CONTAINERS_CONF=/site/c.conf", NULL};
	*f = (struct phpc_runtime_facts){0};
	phpc_doctor_gather_runtime(argv, envp, timeout_ms, "/nonexistent", 4242, f);
	assert_string_equal(f->containers_conf, "/site/c.conf");
	assert_false(f->cgroup_hybrid);
}

static void test_runtime_gather(void **state)
{
	(void)state;
	struct phpc_runtime_facts f;
	char *script = phpc_xasprintf("echo 'WARN[0000] x' >&2; cat <<'E'\n%s\nE\n", info_json);
	gather_with(script, 10000, &f);
	free(script);
	assert_null(f.run_error);
	assert_int_equal(f.exit_code, 0);
	assert_string_equal(f.runtime, "runc");
	phpc_runtime_facts_clear(&f);
	gather_with("echo 'WARN[0000] first' >&2; echo 'Error: boom' >&2; exit 125", 10000, &f);
	assert_int_equal(f.exit_code, 125);
	assert_string_equal(f.error_line, "Error: boom");
	phpc_runtime_facts_clear(&f);
	gather_with("echo '{'", 10000, &f);
	assert_non_null(f.run_error);
	phpc_runtime_facts_clear(&f);
	gather_with("sleep 10", 200, &f);
	assert_non_null(f.run_error);
	assert_non_null(strstr(f.run_error, "did not answer"));
	phpc_runtime_facts_clear(&f);
}

/* --- 6. resource limits --------------------------------------------------------------------- */

static void test_rlimits(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	struct rlimit l = {256, 256};
	phpc_check_nofile(&l, &c);
	assert_check(&c, "nofile", PHPC_CHECK_FAIL, WANT("open files: 256 (hard limit 256)"));
	assert_fix(&c, "/etc/security/limits.conf");
	l.rlim_max = RLIM_INFINITY;
	phpc_check_nofile(&l, &c);
	assert_fix(&c, "ulimit -n 4096");
	l = (struct rlimit){1024, 4096};
	phpc_check_nofile(&l, &c);
	assert_check(&c, "nofile", PHPC_CHECK_OK, WANT("1024 (hard limit 4096)"));
	l = (struct rlimit){RLIM_INFINITY, RLIM_INFINITY};
	phpc_check_nofile(&l, &c);
	assert_check(&c, "nofile", PHPC_CHECK_OK, WANT("unlimited"));

	l = (struct rlimit){100, 100};
	phpc_check_nproc(&l, &c);
	assert_check(&c, "nproc", PHPC_CHECK_FAIL, WANT("processes: 100"));
	assert_fix(&c, "ulimit -u 100");
	l = (struct rlimit){2000, RLIM_INFINITY};
	phpc_check_nproc(&l, &c);
	assert_check(&c, "nproc", PHPC_CHECK_WARN, WANT("2000"));
	assert_fix(&c, "ulimit -u 65536");
	l = (struct rlimit){96343, 96343};
	phpc_check_nproc(&l, &c);
	assert_check(&c, "nproc", PHPC_CHECK_OK, NULL);

	l = (struct rlimit){8 << 20, 8 << 20};
	phpc_check_memlock(&l, &c);
	assert_check(&c, "memlock", PHPC_CHECK_WARN,
	             WANT("8192 KiB (hard limit 8192 KiB)", "RDMA"));
	assert_fix(&c, "memlock unlimited");
	l = (struct rlimit){RLIM_INFINITY, RLIM_INFINITY};
	phpc_check_memlock(&l, &c);
	assert_check(&c, "memlock", PHPC_CHECK_OK, WANT("unlimited"));
	check_clear(&c);
}

/* --- 7. the hook ---------------------------------------------------------------------------- */

static void test_hook(void **state)
{
	(void)state;
	char *d = temp_dir();
	char *hooks = phpc_xasprintf("%s/hooks.d", d);
	const char *setting = "hooks_dir (env: PODMANHPC_HOOKS_DIR)";
	struct phpc_check c = {0};
	struct phpc_hook_facts f;
	phpc_doctor_gather_hook(hooks, &f);
	assert_int_equal(f.dir_errno, ENOENT);
	phpc_check_hook(&f, setting, "/usr/bin/podman-hpc-hook", &c);
	assert_check(&c, "hook", PHPC_CHECK_FAIL, WANT("does not exist", "copy rules"));
	assert_fix(&c, "podman-hpc configure-hooks --hooksd ");
	phpc_hook_facts_clear(&f);
	/* empty, or another hook only */
	assert_int_equal(mkdir(hooks, 0755), 0);
	char *other = phpc_xasprintf("%s/01-other.json", hooks);
	write_text(other, "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\"}}", 0644);
	phpc_doctor_gather_hook(hooks, &f);
	assert_null(f.file);
	phpc_check_hook(&f, setting, "/usr/bin/podman-hpc-hook", &c);
	assert_check(&c, "hook", PHPC_CHECK_FAIL, WANT("no entry for the hook", setting));
	phpc_hook_facts_clear(&f);
	/* ours, naming a program that exists */
	char *prog = phpc_xasprintf("%s/podman-hpc-hook", d);
	write_text(prog, "#!/bin/sh\n", 0755);
	bool written = false;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_hook_install(hooks, prog, false, &written, &err), 0);
	phpc_doctor_gather_hook(hooks, &f);
	assert_non_null(f.file);
	assert_non_null(strstr(f.file, PHPC_HOOK_FILE));
	assert_string_equal(f.program, prog);
	assert_int_equal(f.program_errno, 0);
	phpc_check_hook(&f, setting, "/usr/bin/podman-hpc-hook", &c);
	assert_check(&c, "hook", PHPC_CHECK_OK, WANT(prog));
	phpc_hook_facts_clear(&f);
	/* ... that is gone */
	unlink(prog);
	phpc_doctor_gather_hook(hooks, &f);
	assert_int_equal(f.program_errno, ENOENT);
	phpc_check_hook(&f, setting, "/usr/bin/podman-hpc-hook", &c);
	assert_check(&c, "hook", PHPC_CHECK_FAIL, WANT("does not exist"));
	assert_fix(&c, "configure-hooks --force");
	assert_fix(&c, "/usr/bin/podman-hpc-hook");
	phpc_hook_facts_clear(&f);
	/* ... or is not a program */
	assert_int_equal(mkdir(prog, 0755), 0);
	phpc_doctor_gather_hook(hooks, &f);
	phpc_check_hook(&f, setting, "/usr/bin/podman-hpc-hook", &c);
	assert_check(&c, "hook", PHPC_CHECK_FAIL, WANT("you cannot run"));
	phpc_hook_facts_clear(&f);
	/* an entry with our annotation podman cannot read */
	char *bad = phpc_xasprintf("%s/%s", hooks, PHPC_HOOK_FILE);
	write_text(bad, "{\"when\": {\"annotations\": {\"" PHPC_HOOK_ANNOTATION "\": ", 0644);
	phpc_doctor_gather_hook(hooks, &f);
	assert_non_null(f.file);
	assert_null(f.program);
	phpc_check_hook(&f, setting, "/usr/bin/podman-hpc-hook", &c);
	assert_check(&c, "hook", PHPC_CHECK_FAIL, WANT("names no hook program"));
	phpc_hook_facts_clear(&f);
	check_clear(&c);
	free(bad);
	free(prog);
	free(other);
	free(hooks);
	remove_tree(d);
	free(d);
}

/* --- 8. the squash store -------------------------------------------------------------------- */

static void test_squash(void **state)
{
	(void)state;
	char *d = temp_dir();
	char *sq = phpc_xasprintf("%s/squash", d);
	struct phpc_check c = {0};
	struct phpc_squash_facts f;
	phpc_doctor_gather_squash(sq, "env: SQUASH_DIR", PHPC_DIR_STORE, getuid(), "squash", &f);
	assert_false(f.exists);
	phpc_check_squash(&f, &c);
	assert_check(&c, "squash_dir", PHPC_CHECK_SKIP, WANT("no squashed image yet", sq));
	phpc_squash_facts_clear(&f);
	/* the default, the user's own: still not created */
	phpc_doctor_gather_squash(sq, "default", PHPC_DIR_PRIVATE, getuid(), "squash", &f);
	assert_false(f.exists);
	struct stat st;
	assert_int_equal(stat(sq, &st), -1);
	phpc_squash_facts_clear(&f);
	assert_int_equal(mkdir(sq, 0755), 0);
	phpc_doctor_gather_squash(sq, "env: SQUASH_DIR", PHPC_DIR_STORE, getuid(), "squash", &f);
	assert_true(f.exists);
	assert_null(f.error);
	phpc_check_squash(&f, &c);
	assert_check(&c, "squash_dir", PHPC_CHECK_OK, WANT(sq, "readable"));
	phpc_squash_facts_clear(&f);
	/* a store others can write: refused as podman-hpc refuses it */
	assert_int_equal(chmod(sq, 0777), 0);
	phpc_doctor_gather_squash(sq, "env: SQUASH_DIR", PHPC_DIR_STORE, getuid(), "squash", &f);
	assert_non_null(f.error);
	phpc_check_squash(&f, &c);
	assert_check(&c, "squash_dir", PHPC_CHECK_FAIL, WANT("writable by everyone"));
	phpc_squash_facts_clear(&f);
	/* unreadable (root reads anything: the verdict alone) */
	f = (struct phpc_squash_facts){.path = "/s",
	                               .source = "env: SQUASH_DIR",
	                               .exists = true,
	                               .error = (char *)"cannot open /s: Permission denied",
	                               .error_code = EACCES};
	phpc_check_squash(&f, &c);
	assert_check(&c, "squash_dir", PHPC_CHECK_FAIL, WANT("Permission denied"));
	assert_fix(&c, "chmod -R go+rX /s");
	check_clear(&c);
	free(sq);
	remove_tree(d);
	free(d);
}

/* --- 9. /dev/mqueue ------------------------------------------------------------------------- */

static void test_mqueue(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	phpc_check_mqueue("/dev/mqueue", 0, PHPC_MQUEUE_MAGIC, &c);
	assert_check(&c, "mqueue", PHPC_CHECK_OK, NULL);
	/* an empty directory of /dev's tmpfs */
	phpc_check_mqueue("/dev/mqueue", 0, 0x01021994, &c);
	assert_check(&c, "mqueue", PHPC_CHECK_FAIL, WANT("tmpfs", "--ipc=host"));
	assert_fix(&c, "mount -t mqueue mqueue /dev/mqueue");
	phpc_check_mqueue("/dev/mqueue", ENOENT, 0, &c);
	assert_check(&c, "mqueue", PHPC_CHECK_FAIL, WANT(strerror(ENOENT)));
	phpc_check_mqueue("/dev/mqueue", 0, 0x42, &c);
	assert_check(&c, "mqueue", PHPC_CHECK_FAIL, WANT("type 0x42"));
	check_clear(&c);
}

/* --- 10. Slurm ------------------------------------------------------------------------------- */

static void test_slurm(void **state)
{
	(void)state;
	struct phpc_check c = {0};
	const char *lid = "SLURM_LOCALID", *tpn = "SLURM_STEP_TASKS_PER_NODE", *pat = "[0-9]+";
	char *none[] = {(char *)"HOME=/h", NULL};
	phpc_check_slurm(none, lid, tpn, pat, &c);
	assert_check(&c, "slurm", PHPC_CHECK_SKIP, WANT("not in a Slurm job"));
	char *batch[] = {(char *)"SLURM_JOB_ID=42", NULL};
	phpc_check_slurm(batch, lid, tpn, pat, &c);
	assert_check(&c, "slurm", PHPC_CHECK_WARN, WANT("job 42", "not in a job step"));
	assert_fix(&c, "srun podman-hpc");
	char *no_localid[] = {(char *)"SLURM_JOB_ID=42", (char *)"SLURM_STEP_ID=0",
	                      (char *)"SLURM_PROCID=0", (char *)"SLURM_STEP_TASKS_PER_NODE=4",
	                      NULL};
	phpc_check_slurm(no_localid, lid, tpn, pat, &c);
	assert_check(&c, "slurm", PHPC_CHECK_FAIL,
	             WANT("job 42 step 0", "SLURM_LOCALID is not set"));
	assert_fix(&c, "PODMANHPC_LOCALID_VAR");
	char *nothing[] = {(char *)"SLURM_JOB_ID=42", (char *)"SLURM_STEP_ID=0", NULL};
	phpc_check_slurm(nothing, lid, tpn, pat, &c);
	assert_check(&c, "slurm", PHPC_CHECK_FAIL,
	             WANT("SLURM_LOCALID, SLURM_STEP_TASKS_PER_NODE, SLURM_PROCID are not set"));
	char *step[] = {(char *)"SLURM_JOB_ID=42",
	                (char *)"SLURM_STEP_ID=0",
	                (char *)"SLURM_PROCID=5",
	                (char *)"SLURM_LOCALID=1",
	                (char *)"SLURM_STEP_TASKS_PER_NODE=4(x2)",
	                NULL};
	phpc_check_slurm(step, lid, tpn, pat, &c);
	assert_check(&c, "slurm", PHPC_CHECK_OK,
	             WANT("SLURM_LOCALID=1", "(4 tasks on this node)", "SLURM_PROCID=5"));
	/* a site's variables, as the configuration names them */
	char *mpirun[] = {(char *)"SLURM_JOB_ID=42",
	                  (char *)"SLURM_STEP_ID=0",
	                  (char *)"SLURM_PROCID=0",
	                  (char *)"OMPI_COMM_WORLD_LOCAL_RANK=0",
	                  (char *)"OMPI_COMM_WORLD_LOCAL_SIZE=x",
	                  NULL};
	phpc_check_slurm(mpirun, "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", pat,
	                 &c);
	assert_check(&c, "slurm", PHPC_CHECK_FAIL, WANT("OMPI_COMM_WORLD_LOCAL_SIZE=x"));
	assert_fix(&c, "ntasks_pattern");
	check_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_report_text),   cmocka_unit_test(test_report_json),
	    cmocka_unit_test(test_config_check),  cmocka_unit_test(test_userns),
	    cmocka_unit_test(test_userns_gather), cmocka_unit_test(test_subid_parse),
	    cmocka_unit_test(test_subid),         cmocka_unit_test(test_subid_gather),
	    cmocka_unit_test(test_filecap),       cmocka_unit_test(test_idmap),
	    cmocka_unit_test(test_idmap_gather),  cmocka_unit_test(test_fuse),
	    cmocka_unit_test(test_fs_name),       cmocka_unit_test(test_store),
	    cmocka_unit_test(test_store_gather),  cmocka_unit_test(test_runtime_parse),
	    cmocka_unit_test(test_runtime),       cmocka_unit_test(test_runtime_gather),
	    cmocka_unit_test(test_rlimits),       cmocka_unit_test(test_hook),
	    cmocka_unit_test(test_squash),        cmocka_unit_test(test_mqueue),
	    cmocka_unit_test(test_slurm),
	};
	return cmocka_run_group_tests_name("doctor", tests, NULL, NULL);
}
