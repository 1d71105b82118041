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
#include "strv.h"
#include "util.h"

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

extern char **environ;

#define USAGE                                                                               \
	"Usage: podman-hpc-registry [OPTION]... STORAGE_DIR\n"                              \
	"Sets up the site's registry (docker-registry) with its data in STORAGE_DIR: the\n" \
	"service account, NAME.yml, a systemd unit and a registries.conf.d entry.\n\n"      \
	"  --name NAME            the instance (default registry; cache with --proxy)\n"    \
	"  --listen HOST:PORT     default 127.0.0.1:5000 (127.0.0.1:5001 with --proxy)\n"   \
	"  --user ACCOUNT         service account, created if missing (default\n"           \
	"                         podman-hpc-registry)\n"                                   \
	"  --proxy URL            a pull-through cache of URL instead (such as\n"           \
	"                         https://registry-1.docker.io): one pull per cluster\n"    \
	"  --mirror-of REGISTRY   with --proxy: the name podman pulls it by (default\n"     \
	"                         from URL; docker.io for Docker Hub)\n"                    \
	"  --insecure             allow a --listen address off loopback without TLS\n"      \
	"  --config-dir DIR       default /etc/podman-hpc/registry\n"                       \
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
	bool no_unit, foreground;
};

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
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	*o = (struct opts){
	    .site = {.user = "podman-hpc-registry"},
	    .config_dir = "/etc/podman-hpc/registry",
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
	if (!o->site.listen)
		o->site.listen = cache ? "127.0.0.1:5001" : "127.0.0.1:5000";
	if (o->site.mirror_of && !cache)
		return phpc_error_set(err, EINVAL, "--mirror-of goes with --proxy");
	return phpc_registry_site_check(&o->site, err);
}

/* The service account: found, or (root) created as a system user. */
static int service_account(const char *name, uid_t *uid, gid_t *gid, struct phpc_error **err)
{
	struct passwd *pw = getpwnam(name);
	if (!pw && getuid() == 0) {
		const char *const argv[] = {"/usr/sbin/useradd", "--system",
		                            "--user-group",      "--home-dir",
		                            "/nonexistent",      "--no-create-home",
		                            "--shell",           "/usr/sbin/nologin",
		                            "--comment",         "podman-hpc site registry",
		                            (char *)name,        NULL};
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
	if (pw->pw_uid == 0)
		return phpc_error_set(err, EINVAL,
		                      "the registry must not run as root: name a service account "
		                      "with --user");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The storage: created for the account, or an existing directory that is the
 * account's and that nobody else can write (another user could otherwise
 * replace the blobs everybody pulls). */
static int prepare_storage(const char *dir, uid_t uid, gid_t gid, struct phpc_error **err)
{
	struct stat st;
	if (lstat(dir, &st) < 0 && errno == ENOENT) {
		int fd = phpc_mkdir_p_open(dir, 0750, false, err);
		if (fd < 0)
			return fd;
		int r = fchown(fd, uid, gid) < 0 ? -errno : 0;
		close(fd);
		if (r < 0)
			return phpc_error_errno(err, -r, "cannot give %s to the service account",
			                        dir);
		return 0;
	}
	if (lstat(dir, &st) < 0)
		return phpc_error_errno(err, errno, "cannot use %s", dir);
	if (!S_ISDIR(st.st_mode))
		return phpc_error_set(err, ENOTDIR, "%s is not a directory", dir);
	if (st.st_uid != uid)
		return phpc_error_set(err, EPERM,
		                      "%s belongs to uid %u, not to the service account (uid %u): "
		                      "chown -R %u %s, or choose another directory",
		                      dir, (unsigned)st.st_uid, (unsigned)uid, (unsigned)uid, dir);
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

static int drop_to(uid_t uid, gid_t gid, const char *user, struct phpc_error **err)
{
	if (getuid() != 0)
		return 0;
	if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return phpc_error_errno(err, errno, "cannot become %s", user);
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

	r = drop_to(uid, gid, o.site.user, err);
	if (r < 0)
		return r;
	const char *const rargv[] = {o.bin, "serve", yml_path, NULL};
	return phpc_exec((char *const *)rargv, environ, err);
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
