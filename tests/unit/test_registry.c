/* The site registry: addresses, upload names, and the files
 * podman-hpc-registry writes (src/lib/registry.h). */
#include "testutil.h"

#include "registry.h"

#include <errno.h>
#include <string.h>

static void test_addr(void **state)
{
	(void)state;
	const char *good[] = {"127.0.0.1:5000",     "localhost:5000", "registry.example.org",
	                      "reg-1.site.org:443", "[::1]:5000",     "[fe80::1]",
	                      "10.77.0.1:1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(phpc_registry_addr_check(good[i], NULL), 0);
	const char *bad[] = {"",         "http://h:5000", "h:0",         "h:65536", "h:5000/x",
	                     "-h:5000",  "h-:5000",       "a..b",        "h:50:00", "[::1",
	                     "[zz]:5",   "h :5000",       "user@h:5000", "h:",      "[]:5000",
	                     "[::1]x:5", "h:123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct phpc_error *err = NULL;
		assert_int_equal(phpc_registry_addr_check(bad[i], &err), -EINVAL);
		assert_non_null(strstr(err->msg, "HOST[:PORT]"));
		phpc_error_free(err);
	}
	assert_true(phpc_registry_addr_is_loopback("127.0.0.1:5000"));
	assert_true(phpc_registry_addr_is_loopback("127.3.0.1:5000"));
	assert_true(phpc_registry_addr_is_loopback("localhost:5000"));
	assert_true(phpc_registry_addr_is_loopback("[::1]:5000"));
	assert_false(phpc_registry_addr_is_loopback("10.77.0.1:5000"));
	assert_false(phpc_registry_addr_is_loopback("0.0.0.0:5000"));
	assert_false(phpc_registry_addr_is_loopback("127.example.org:5000"));
	assert_false(phpc_registry_addr_is_loopback("[::]:5000"));
	assert_int_equal(phpc_registry_addr_port("127.0.0.1:555"), 555);
	assert_int_equal(phpc_registry_addr_port("[::1]:5000"), 5000);
	assert_int_equal(phpc_registry_addr_port("h"), 0);
}

static void test_names_and_paths(void **state)
{
	(void)state;
	assert_true(phpc_registry_account_name_ok("podman-hpc-registry"));
	assert_true(phpc_registry_account_name_ok("_ocireg"));
	const char *bad[] = {"",    "-x",  "1reg", "Reg",
	                     "a b", "a:b", "a/b",  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(phpc_registry_account_name_ok(bad[i]));
	assert_int_equal(
	    phpc_registry_path_check("--registry-bin", "/usr/bin/docker-registry", NULL), 0);
	const char *badp[] = {
	    "docker-registry", "/a b", "/a\nExecStartPre=/x", "/a%h", "/a$x", "/a#b", ""};
	for (size_t i = 0; i < sizeof(badp) / sizeof(*badp); i++) {
		struct phpc_error *err = NULL;
		assert_int_equal(phpc_registry_path_check("--config-dir", badp[i], &err), -EINVAL);
		assert_non_null(strstr(err->msg, "--config-dir must be an absolute path"));
		phpc_error_free(err);
	}
}

static void test_upload_refs(void **state)
{
	(void)state;
	struct phpc_upload_refs r;
	assert_int_equal(phpc_upload_refs("127.0.0.1:5000", "jjd", "python-pandas", &r, NULL), 0);
	assert_string_equal(r.repo, "jjd/python-pandas");
	assert_string_equal(r.tag, "latest");
	assert_string_equal(r.local, "localhost/jjd/python-pandas:latest");
	assert_string_equal(r.remote, "127.0.0.1:5000/jjd/python-pandas:latest");
	assert_string_equal(r.remote_nt, "127.0.0.1:5000/jjd/python-pandas");
	phpc_upload_refs_clear(&r);

	assert_int_equal(phpc_upload_refs("reg.site:443", "a.b", "proj/tools_x:v1.2-rc", &r, NULL),
	                 0);
	assert_string_equal(r.remote, "reg.site:443/a.b/proj/tools_x:v1.2-rc");
	assert_string_equal(r.remote_nt, r.remote);
	phpc_upload_refs_clear(&r);

	/* names a registry would refuse, or that would name another place */
	const char *bad[] = {"Upper",  "a//b", "/a",   "a/",     "-a",   "a-",   "a..b",
	                     "a:",     "a:.x", "a:-x", "a b",    "a@x",  "../x", "a___b",
	                     "a:b:c/", "",     ":tag", "a/.b/c", "a/_b", "a:t/x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct phpc_error *err = NULL;
		int rc = phpc_upload_refs("127.0.0.1:5000", "jjd", bad[i], &r, &err);
		if (rc != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		phpc_error_free(err);
	}
	/* a user name that is no repository name: said, not mangled */
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_upload_refs("127.0.0.1:5000", "JDoe", "x", &r, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "JDoe"));
	phpc_error_free(err);
	err = NULL;
	assert_int_equal(phpc_upload_refs("http://x", "jjd", "x", &r, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "upload_registry"));
	phpc_error_free(err);
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(phpc_upload_refs("127.0.0.1:5000", "jjd", long_name, &r, NULL),
	                 -ENAMETOOLONG);
}

static void test_mirror_prefix(void **state)
{
	(void)state;
	char *p = NULL;
	assert_int_equal(phpc_registry_mirror_prefix("https://registry-1.docker.io", &p, NULL), 0);
	assert_string_equal(p, "docker.io");
	free(p);
	assert_int_equal(phpc_registry_mirror_prefix("http://127.0.0.1:5002/", &p, NULL), 0);
	assert_string_equal(p, "127.0.0.1:5002");
	free(p);
	const char *bad[] = {"registry-1.docker.io", "ftp://x",         "https://",
	                     "https://h/v2/",        "https://h:99999", "https://h\"x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(phpc_registry_mirror_prefix(bad[i], &p, NULL), -EINVAL);
}

static void test_site_check(void **state)
{
	(void)state;
	struct phpc_registry_site s = {.name = "registry",
	                               .listen = "127.0.0.1:5000",
	                               .storage = "/srv/registry",
	                               .user = "ocireg"};
	assert_int_equal(phpc_registry_site_check(&s, NULL), 0);
	struct {
		struct phpc_registry_site s;
		const char *says;
	} bad[] = {
	    {{.name = "Reg", .listen = "127.0.0.1:5000", .storage = "/s", .user = "u"}, "--name"},
	    {{.name = "r", .listen = "127.0.0.1", .storage = "/s", .user = "u"}, "which port"},
	    {{.name = "r", .listen = "10.0.0.1:5000", .storage = "/s", .user = "u"}, "--insecure"},
	    {{.name = "r", .listen = "0.0.0.0:5000", .storage = "/s", .user = "u"}, "--insecure"},
	    {{.name = "r", .listen = "127.0.0.1:5000", .storage = "rel", .user = "u"},
	     "absolute path"},
	    {{.name = "r", .listen = "127.0.0.1:5000", .storage = "/a b", .user = "u"},
	     "absolute path"},
	    {{.name = "r", .listen = "127.0.0.1:5000", .storage = "/a%i", .user = "u"},
	     "absolute path"},
	    {{.name = "r", .listen = "127.0.0.1:5000", .storage = "/s\n[x]", .user = "u"},
	     "absolute path"},
	    {{.name = "r", .listen = "127.0.0.1:5000", .storage = "/s", .user = ""}, "--user"},
	    {{.name = "r", .listen = "127.0.0.1:5000", .storage = "/s", .user = "-x"},
	     "an account name is"},
	    {{.name = "r",
	      .listen = "127.0.0.1:5000",
	      .storage = "/s",
	      .user = "u",
	      .proxy_url = "docker.io"},
	     "--proxy"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct phpc_error *err = NULL;
		assert_int_equal(phpc_registry_site_check(&bad[i].s, &err), -EINVAL);
		if (!strstr(err->msg, bad[i].says))
			fail_msg("case %zu: \"%s\" does not say %s", i, err->msg, bad[i].says);
		phpc_error_free(err);
	}
	s.listen = "10.77.0.1:5000";
	s.insecure = true;
	assert_int_equal(phpc_registry_site_check(&s, NULL), 0);
}

static void test_files(void **state)
{
	(void)state;
	struct phpc_registry_site s = {.name = "registry",
	                               .listen = "127.0.0.1:5000",
	                               .storage = "/srv/registry",
	                               .user = "ocireg"};
	_cleanup_free_ char *y = phpc_registry_config_yml(&s);
	assert_non_null(strstr(y, "    rootdirectory: \"/srv/registry\"\n"));
	assert_non_null(strstr(y, "  addr: \"127.0.0.1:5000\"\n"));
	assert_null(strstr(y, "proxy:"));
	_cleanup_free_ char *u = phpc_registry_unit(&s, "/usr/bin/docker-registry", "/etc/r.yml");
	assert_non_null(strstr(u, "\nUser=ocireg\n"));
	assert_non_null(strstr(u, "\nExecStart=/usr/bin/docker-registry serve /etc/r.yml\n"));
	assert_non_null(strstr(u, "\nReadWritePaths=/srv/registry\n"));
	assert_non_null(strstr(u, "\nPrivateTmp=yes\n"));
	_cleanup_free_ char *c = phpc_registry_conf_d(&s);
	assert_non_null(strstr(c, "location = \"127.0.0.1:5000\"\ninsecure = true\n"));
	assert_null(strstr(c, "localhost"));
	assert_non_null(strstr(y, "  delete:\n    enabled: false\n"));
	assert_non_null(strstr(u, "\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"));

	/* a cache: a mirror of the registry it stands in for */
	s.proxy_url = "https://registry-1.docker.io";
	s.listen = "10.77.0.1:5001";
	s.storage = "/tmp/cache";
	_cleanup_free_ char *y2 = phpc_registry_config_yml(&s);
	assert_non_null(strstr(y2, "proxy:\n  remoteurl: \"https://registry-1.docker.io\"\n"));
	_cleanup_free_ char *u2 = phpc_registry_unit(&s, "/b", "/c");
	assert_null(strstr(u2, "PrivateTmp"));
	_cleanup_free_ char *c2 = phpc_registry_conf_d(&s);
	assert_non_null(strstr(c2, "prefix = \"docker.io\"\nlocation = \"docker.io\"\n"));
	assert_non_null(strstr(c2, "[[registry.mirror]]\nlocation = \"10.77.0.1:5001\"\n"));
	assert_null(strstr(c2, "localhost"));
	s.mirror_of = "quay.io";
	_cleanup_free_ char *c3 = phpc_registry_conf_d(&s);
	assert_non_null(strstr(c3, "prefix = \"quay.io\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr),          cmocka_unit_test(test_upload_refs),
	    cmocka_unit_test(test_mirror_prefix), cmocka_unit_test(test_site_check),
	    cmocka_unit_test(test_files),         cmocka_unit_test(test_names_and_paths),
	};
	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
