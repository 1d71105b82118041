/* podman-hpc-registry: sets up the site's group registry (Debian's
 * docker-registry) for a site admin: the service account, its storage, its
 * configuration, a systemd unit, and the registries.conf.d entry that lets
 * podman use it without TLS; or a pull-through cache of an upstream registry.
 * With --foreground it then runs the registry as the service account
 * (tests, nodes without systemd). docs/site-tools.md. */
#include "error.h"
#include "fsutil.h"
#include "phpc-build.h"
#include "proc.h"
#include "registry.h"
#include "safedir.h"
#include "strv.h"
#include "util.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE                                                                               \
	"Usage: podman-hpc-registry [OPTION]... STORAGE_DIR\n"                              \
	"Sets up the site's registry (docker-registry) with its data in STORAGE_DIR: the\n" \
	"service account, NAME.yml, a systemd unit and a registries.conf.d entry.\n\n"      \
	"  --name NAME            the instance (default registry; cache with --proxy)\n"    \
	"  --listen HOST:PORT     default 127.0.0.1:555 (127.0.0.1:556 with --proxy)\n"     \
	"  --user ACCOUNT         service account, created if missing (default\n"           \
	"                         podman-hpc-registry)\n"                                   \
	"  --proxy URL            a pull-through cache of URL instead (such as\n"           \
	"                         https://registry-1.docker.io): one pull per cluster\n"    \
	"  --mirror-of REGISTRY   with --proxy: the name podman pulls it by (default\n"     \
	"                         from URL; docker.io for Docker Hub)\n"                    \
	"  --insecure             allow a --listen address off loopback without TLS\n"      \
	"  --unprivileged-port    allow a port any user can bind while the registry is\n"   \
	"                         down (1024 and above): a registry of your own, tests\n"   \
	"  --config-dir DIR       default /etc/podman_hpc/registry\n"                       \
	"  --unit-dir DIR         default /etc/systemd/system\n"                            \
	"  --registries-conf-dir DIR  default /etc/containers/registries.conf.d\n"          \
	"  --no-unit              write no systemd unit\n"                                  \
	"  --registry-bin PATH    default /usr/bin/docker-registry\n"                       \
	"  --foreground           then run the registry here, as the service account\n"     \
	"  --help, --version\n\n"                                                           \
	"Run as root. Without root only --foreground with your own account and\n"           \
	"directories you can write (a test registry).\n"

struct opts {
	struct phpc_registry_site site;
	const char *config_dir, *unit_dir, *conf_d, *bin;
	bool no_unit, foreground, unprivileged_port;
	bool low_port; /* below ip_unprivileged_port_start: only root binds it */
};

/* net.ipv4.ip_unprivileged_port_start: ports below it only root binds. */
static unsigned unprivileged_port_start(void)
{
	char buf[32] = "";
	_cleanup_close_ int fd =
	    open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	unsigned v = n > 0 ? (unsigned)strtoul(buf, NULL, 10) : 1024;
	return v ? v : 1024;
}

static int parse_args(int argc, char **argv, struct opts *o, struct phpc_error **err)
{
	enum {
		O_NAME = 256,
		O_LISTEN,
		O_USER,
		O_PROXY,
		O_MIRROR,
		O_INSECURE,
		O_CONFIG,
		O_UNIT,
		O_CONFD,
		O_NOUNIT,
		O_BIN,
		O_FG,
		O_UNPRIV,
		O_HELP,
		O_VERSION
	};
	static const struct option lo[] = {
	    {"name", required_argument, NULL, O_NAME},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"user", required_argument, NULL, O_USER},
	    {"proxy", required_argument, NULL, O_PROXY},
	    {"mirror-of", required_argument, NULL, O_MIRROR},
	    {"insecure", no_argument, NULL, O_INSECURE},
	    {"config-dir", required_argument, NULL, O_CONFIG},
	    {"unit-dir", required_argument, NULL, O_UNIT},
	    {"registries-conf-dir", required_argument, NULL, O_CONFD},
	    {"no-unit", no_argument, NULL, O_NOUNIT},
	    {"registry-bin", required_argument, NULL, O_BIN},
	    {"foreground", no_argument, NULL, O_FG},
	    {"unprivileged-port", no_argument, NULL, O_UNPRIV},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	*o = (struct opts){
	    .site = {.user = "podman-hpc-registry"},
	    .config_dir = "/etc/podman_hpc/registry",
	    .unit_dir = "/etc/systemd/system",
	    .conf_d = "/etc/containers/registries.conf.d",
	    .bin = "/usr/bin/docker-registry",
	};
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_NAME:
			o->site.name = optarg;
			break;
		case O_LISTEN:
			o->site.listen = optarg;
			break;
		case O_USER:
			o->site.user = optarg;
			break;
		case O_PROXY:
			o->site.proxy_url = optarg;
			break;
		case O_MIRROR:
			o->site.mirror_of = optarg;
			break;
		case O_INSECURE:
			o->site.insecure = true;
			break;
		case O_CONFIG:
			o->config_dir = optarg;
			break;
		case O_UNIT:
			o->unit_dir = optarg;
			break;
		case O_CONFD:
			o->conf_d = optarg;
			break;
		case O_NOUNIT:
			o->no_unit = true;
			break;
		case O_BIN:
			o->bin = optarg;
			break;
		case O_FG:
			o->foreground = true;
			break;
		case O_UNPRIV:
			o->unprivileged_port = true;
			break;
		case O_HELP:
			fputs(USAGE, stdout);
			return 1;
		case O_VERSION:
			printf("podman-hpc-registry %s\n", PHPC_VERSION);
			return 1;
		default:
			return phpc_error_set(err, EINVAL,
			                      "unknown or incomplete option %s (see --help)",
			                      argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return phpc_error_set(err, EINVAL,
		                      "which directory holds the registry's data? "
		                      "(podman-hpc-registry [OPTION]... STORAGE_DIR)");
	o->site.storage = argv[optind];
	bool cache = o->site.proxy_url != NULL;
	if (!o->site.name)
		o->site.name = cache ? "cache" : "registry";
	/* Below 1024: while the registry is down (not started yet, restarting,
	 * upgraded), no other user can take its port and answer podman's plain
	 * HTTP with images of their own. */
	if (!o->site.listen)
		o->site.listen = cache ? "127.0.0.1:556" : "127.0.0.1:555";
	if (o->site.mirror_of && !cache)
		return phpc_error_set(err, EINVAL, "--mirror-of goes with --proxy");
	const char *const paths[][2] = {{"--config-dir", o->config_dir},
	                                {"--unit-dir", o->unit_dir},
	                                {"--registries-conf-dir", o->conf_d},
	                                {"--registry-bin", o->bin}};
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		int r = phpc_registry_path_check(paths[i][0], paths[i][1], err);
		if (r < 0)
			return r;
	}
	int r = phpc_registry_site_check(&o->site, err);
	if (r < 0)
		return r;
	unsigned port = phpc_registry_addr_port(o->site.listen),
	         low_end = unprivileged_port_start();
	o->low_port = port < low_end;
	if (!o->low_port && !o->unprivileged_port && getuid() == 0)
		return phpc_error_set(
		    err, EINVAL,
		    "--listen %s: any user can bind port %u while the registry is "
		    "down and serve their own images to everyone; use a port below "
		    "%u (the default is 555), or --unprivileged-port",
		    o->site.listen, port, low_end);
	return 0;
}

/* The service account: found, or (root) created as a system user. */
static int service_account(const char *name, uid_t *uid, gid_t *gid, struct phpc_error **err)
{
	if (!phpc_registry_account_name_ok(name))
		return phpc_error_set(
		    err, EINVAL,
		    "--user \"%s\": an account name is lowercase letters, digits, "
		    "'_' and '-', not starting with '-' or a digit",
		    name);
	struct passwd *pw = getpwnam(name);
	if (!pw && getuid() == 0) {
		const char *const argv[] = {"/usr/sbin/useradd",
		                            "--system",
		                            "--user-group",
		                            "--home-dir",
		                            "/nonexistent",
		                            "--no-create-home",
		                            "--shell",
		                            "/usr/sbin/nologin",
		                            "--comment",
		                            "podman-hpc site registry",
		                            "--",
		                            name,
		                            NULL};
		const char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
		int status = 0;
		int r = phpc_spawn_wait((char *const *)argv, (char *const *)envp, &status, err);
		if (r < 0)
			return r;
		if (phpc_exit_code(status) != 0)
			return phpc_error_set(
			    err, EIO, "useradd could not create the account %s (above)", name);
		fprintf(stderr, "podman-hpc-registry: created the service account %s\n", name);
		pw = getpwnam(name);
	}
	if (!pw)
		return phpc_error_set(err, ENOENT,
		                      "no user %s: create the service account, or name "
		                      "one with --user",
		                      name);
	if (getuid() != 0 && pw->pw_uid != getuid())
		return phpc_error_set(err, EPERM,
		                      "only root can run the registry as %s: run as root, or "
		                      "--user %s for a registry of your own",
		                      name,
		                      getpwuid(getuid()) ? getpwuid(getuid())->pw_name : "you");
	/* The registry parses what the network sends: it gets an account of
	 * its own, not root's, not root's group, not nobody (which NFS and
	 * other daemons share). */
	if (pw->pw_uid == 0 || pw->pw_gid == 0 || streq(name, "nobody"))
		return phpc_error_set(err, EINVAL,
		                      "the registry must not run as %s (uid %u, group %u): name an "
		                      "account of its own with --user, or leave the default",
		                      name, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	if (getuid() == 0 && pw->pw_uid >= 1000)
		fprintf(stderr,
		        "podman-hpc-registry: warning: %s (uid %u) looks like a person's account: "
		        "whoever logs in as it controls the registry's data\n",
		        name, (unsigned)pw->pw_uid);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The storage: what everyone pulls. Every directory on the way must be
 * root's or the account's (safedir.h, PHPC_DIR_SERVICE): whoever could
 * rename one could put blobs of their own in its place. The directory itself
 * is created here (mkdirat: one that appeared meanwhile is not adopted), or
 * is the account's from an earlier set-up. */
static int prepare_storage(const char *dir, uid_t uid, gid_t gid, struct phpc_error **err)
{
	_cleanup_free_ char *parent = phpc_xstrdup(dir);
	char *slash = strrchr(parent, '/');
	const char *name = dir + (slash - parent) + 1;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (!*name || streq(name, ".") || streq(name, ".."))
		return phpc_error_set(err, EINVAL, "the storage directory %s names no directory",
		                      dir);
	/* its parents, as root: 0755, so that the account reaches its data */
	_cleanup_close_ int made = phpc_mkdir_p_open(parent, 0755, false, err);
	if (made < 0)
		return made;
	_cleanup_close_ int pfd =
	    phpc_dir_open(parent, PHPC_DIR_SERVICE, uid, "the registry's storage", err);
	if (pfd < 0)
		return pfd;
	bool created = mkdirat(pfd, name, 0750) == 0;
	if (!created && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", dir);
	_cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return phpc_error_errno(err, errno, "cannot open %s (a symbolic link?)", dir);
	if (created) {
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0750) < 0)
			return phpc_error_errno(
			    err, errno,
			    "cannot give %s to the service account (on NFS with "
			    "root_squash, create it as the account)",
			    dir);
		return 0;
	}
	if (st.st_uid != uid)
		return phpc_error_set(
		    err, EPERM,
		    "%s exists and belongs to uid %u, not to the service account "
		    "(uid %u): someone may have put it there; remove it, or choose "
		    "another directory",
		    dir, (unsigned)st.st_uid, (unsigned)uid);
	if (st.st_mode & 0022)
		return phpc_error_set(err, EPERM,
		                      "%s is writable by others, who could replace the images "
		                      "everyone pulls: chmod go-w %s",
		                      dir, dir);
	return 0;
}

static int write_in(const char *dir, const char *name, const char *text, struct phpc_error **err)
{
	_cleanup_close_ int fd = phpc_mkdir_p_open(dir, 0755, false, err);
	if (fd < 0)
		return fd;
	int r = phpc_write_file_atomic(fd, name, text, strlen(text), 0644, err);
	if (r < 0)
		return phpc_error_prefix(err, "%s", dir);
	printf("wrote %s/%s\n", dir, name);
	return 0;
}

/* Becomes the account. keep_bind: the port is below 1024, so the registry
 * keeps CAP_NET_BIND_SERVICE, and only it, across the exec (an ambient
 * capability), as the unit's AmbientCapabilities= gives it. */
static int drop_to(uid_t uid, gid_t gid, const char *user, bool keep_bind, struct phpc_error **err)
{
	if (getuid() != 0)
		return 0;
	if (keep_bind && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return phpc_error_errno(err, errno, "cannot keep the capability to bind the port");
	if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return phpc_error_errno(err, errno, "cannot become %s", user);
	if (keep_bind) {
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2] = {{0}};
		d[0].effective = d[0].permitted = d[0].inheritable = 1u << CAP_NET_BIND_SERVICE;
		if (syscall(SYS_capset, &h, d) < 0 ||
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) < 0 ||
		    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			return phpc_error_errno(err, errno,
			                        "cannot keep the capability to bind the port");
	}
	if (setuid(0) == 0)
		return phpc_error_set(err, EPERM, "could become root again after dropping to %s",
		                      user);
	return 0;
}

static int run(int argc, char **argv, struct phpc_error **err)
{
	struct opts o;
	int r = parse_args(argc, argv, &o, err);
	if (r != 0)
		return r;
	umask(022); /* the account reads what is written here; users read the conf.d entry */
	if (getuid() != 0 && !o.foreground)
		return phpc_error_set(err, EPERM,
		                      "run as root to set up the site's registry (or add "
		                      "--foreground to run one of your own)");
	if (access(o.bin, X_OK) < 0)
		return phpc_error_errno(err, errno,
		                        "cannot run %s (apt install docker-registry, or "
		                        "--registry-bin PATH)",
		                        o.bin);
	uid_t uid = 0;
	gid_t gid = 0;
	r = service_account(o.site.user, &uid, &gid, err);
	if (r == 0)
		r = prepare_storage(o.site.storage, uid, gid, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *yml_name = phpc_xasprintf("%s.yml", o.site.name);
	_cleanup_free_ char *yml_path = phpc_xasprintf("%s/%s", o.config_dir, yml_name);
	_cleanup_free_ char *unit_name =
	    phpc_xasprintf("podman-hpc-registry-%s.service", o.site.name);
	_cleanup_free_ char *conf_name = phpc_xasprintf("50-podman-hpc-%s.conf", o.site.name);
	_cleanup_free_ char *yml = phpc_registry_config_yml(&o.site);
	_cleanup_free_ char *unit = phpc_registry_unit(&o.site, o.bin, yml_path);
	_cleanup_free_ char *conf = phpc_registry_conf_d(&o.site);
	r = write_in(o.config_dir, yml_name, yml, err);
	if (r == 0 && !o.no_unit)
		r = write_in(o.unit_dir, unit_name, unit, err);
	if (r == 0)
		r = write_in(o.conf_d, conf_name, conf, err);
	if (r < 0)
		return r;

	if (o.site.proxy_url)
		printf("\nA pull-through cache of %s on %s: podman pulls through it first.\n",
		       o.site.proxy_url, o.site.listen);
	else
		printf(
		    "\nThe site registry on %s. For podman-hpc upload, add to the site "
		    "configuration (/etc/podman_hpc/podman_hpc.yaml):\n\n  upload_registry: %s\n",
		    o.site.listen, o.site.listen);
	if (!o.no_unit && !o.foreground)
		printf("\nStart it: systemctl daemon-reload && systemctl enable --now %s\n",
		       unit_name);
	fflush(stdout);
	if (!o.foreground)
		return 0;

	r = drop_to(uid, gid, o.site.user, o.low_port, err);
	if (r < 0)
		return r;
	/* Nothing of the caller's but the terminal: REGISTRY_* variables would
	 * override the checked configuration, and an open fd is the caller's. */
	phpc_close_fds_except(NULL, 0);
	const char *const rargv[] = {o.bin, "serve", yml_path, NULL};
	const char *const renv[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	return phpc_exec((char *const *)rargv, (char *const *)renv, err);
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct phpc_error *err = NULL;
	int r = run(argc, argv, &err);
	if (r < 0) {
		fflush(stdout);
		fprintf(stderr, "podman-hpc-registry: %s\n", err ? err->msg : strerror(-r));
		return 1;
	}
	return 0;
}
