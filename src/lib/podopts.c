#include "podopts.h"
#include "util.h"

/* Read off podman 4.3's --help (value-taking options), plus the 4.x/5.x ones
 * that are hidden or newer. Options absent here are taken as boolean flags:
 * "--opt=value" always works whatever the table says. */
static const char *const run_valued[] = {
    "add-host",
    "annotation",
    "arch",
    "attach",
    "authfile",
    "blkio-weight",
    "blkio-weight-device",
    "cap-add",
    "cap-drop",
    "cgroup-conf",
    "cgroup-parent",
    "cgroupns",
    "cgroups",
    "chrootdirs",
    "cidfile",
    "conmon-pidfile",
    "cpu-period",
    "cpu-quota",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-shares",
    "cpus",
    "cpuset-cpus",
    "cpuset-mems",
    "detach-keys",
    "device",
    "device-cgroup-rule",
    "device-read-bps",
    "device-read-iops",
    "device-write-bps",
    "device-write-iops",
    "dns",
    "dns-option",
    "dns-search",
    "entrypoint",
    "env",
    "env-file",
    "env-merge",
    "expose",
    "gidmap",
    "group-add",
    "health-cmd",
    "health-interval",
    "health-on-failure",
    "health-retries",
    "health-start-period",
    "health-timeout",
    "hostname",
    "hostuser",
    "image-volume",
    "init-path",
    "ip",
    "ip6",
    "ipc",
    "label",
    "label-file",
    "log-driver",
    "log-opt",
    "mac-address",
    "memory",
    "memory-reservation",
    "memory-swap",
    "memory-swappiness",
    "mount",
    "name",
    "network",
    "network-alias",
    "oom-score-adj",
    "os",
    "passwd-entry",
    "personality",
    "pid",
    "pidfile",
    "pids-limit",
    "platform",
    "pod",
    "pod-id-file",
    "preserve-fds",
    "publish",
    "pull",
    "requires",
    "restart",
    "sdnotify",
    "seccomp-policy",
    "secret",
    "security-opt",
    "shm-size",
    "stop-signal",
    "stop-timeout",
    "subgidname",
    "subuidname",
    "sysctl",
    "systemd",
    "timeout",
    "tmpfs",
    "tz",
    "uidmap",
    "ulimit",
    "umask",
    "unsetenv",
    "user",
    "userns",
    "uts",
    "variant",
    "volume",
    "volumes-from",
    "workdir",
    "init-ctr",
    /* newer podman */
    "gpus",
    "rdt-class",
    "shm-size-systemd",
    "retry",
    "retry-delay",
    "health-log-destination",
    "health-max-log-count",
    "health-max-log-size",
    "health-startup-cmd",
    "health-startup-interval",
    "health-startup-retries",
    "health-startup-success",
    "health-startup-timeout",
    "group-entry",
    "decryption-key",
    "cert-dir",
    "creds",
    "blkio-weight-device",
    "memory-reservation",
    "kernel-memory",
    "cidfile",
    NULL,
};
static const char run_short_valued[] = "acehlmpuvw";
static const char *const run_bool[] = {
    "detach",      "disable-content-trust",
    "env-host",    "help",
    "http-proxy",  "init",
    "interactive", "no-healthcheck",
    "no-hosts",    "oom-kill-disable",
    "passwd",      "privileged",
    "publish-all", "quiet",
    "read-only",   "read-only-tmpfs",
    "replace",     "rm",
    "rmi",         "rootfs",
    "sig-proxy",   "tls-verify",
    "tty",         "unsetenv-all",
    NULL,
};

static const char *const exec_valued[] = {
    "detach-keys", "env", "env-file", "preserve-fds", "user", "workdir", NULL,
};
static const char exec_short_valued[] = "euw";

static const char *const build_valued[] = {
    "add-host",
    "annotation",
    "arch",
    "authfile",
    "build-arg",
    "build-context",
    "cache-from",
    "cache-to",
    "cache-ttl",
    "cap-add",
    "cap-drop",
    "cert-dir",
    "cgroup-parent",
    "cgroupns",
    "cpp-flag",
    "cpu-period",
    "cpu-quota",
    "cpu-shares",
    "cpuset-cpus",
    "cpuset-mems",
    "creds",
    "decryption-key",
    "device",
    "dns",
    "dns-option",
    "dns-search",
    "env",
    "file",
    "format",
    "from",
    "hooks-dir",
    "ignorefile",
    "iidfile",
    "ipc",
    "isolation",
    "jobs",
    "label",
    "logfile",
    "manifest",
    "memory",
    "memory-swap",
    "network",
    "os",
    "os-feature",
    "os-version",
    "output",
    "pid",
    "platform",
    "retry",
    "retry-delay",
    "runtime-flag",
    "secret",
    "security-opt",
    "shm-size",
    "sign-by",
    "ssh",
    "tag",
    "target",
    "timestamp",
    "ulimit",
    "unsetenv",
    "userns",
    "userns-gid-map",
    "userns-gid-map-group",
    "userns-uid-map",
    "userns-uid-map-user",
    "uts",
    "variant",
    "volume",
    NULL,
};
/* -t tag, -f file, -m memory, -o output, -v volume, -c cpu-shares */
static const char build_short_valued[] = "cfmotv";

static const char *const global_valued[] = {
    "cgroup-manager",
    "conmon",
    "connection",
    "events-backend",
    "hooks-dir",
    "identity",
    "log-level",
    "namespace",
    "network-cmd-path",
    "network-config-dir",
    "root",
    "runroot",
    "runtime",
    "runtime-flag",
    "ssh",
    "storage-driver",
    "storage-opt",
    "tmpdir",
    "url",
    "volumepath",
    "cpu-profile",
    "memory-profile",
    "config",
    "module",
    "imagestore",
    "db-backend",
    "network-backend",
    "out",
    "registries-conf",
    NULL,
};
static const char global_short_valued[] = "c";

static bool in_list(const char *const *l, const char *name, size_t len)
{
	for (; *l; l++)
		if (strlen(*l) == len && strncmp(*l, name, len) == 0)
			return true;
	return false;
}

bool phpc_podopt_long_takes_value(enum phpc_optset set, const char *name, size_t len)
{
	switch (set) {
	case PHPC_OPTS_GLOBAL:
		return in_list(global_valued, name, len);
	case PHPC_OPTS_RUN:
		return in_list(run_valued, name, len);
	case PHPC_OPTS_EXEC:
		return in_list(exec_valued, name, len);
	case PHPC_OPTS_BUILD:
		return in_list(build_valued, name, len);
	}
	return false;
}

bool phpc_podopt_short_takes_value(enum phpc_optset set, char c)
{
	const char *s = "";
	switch (set) {
	case PHPC_OPTS_GLOBAL:
		s = global_short_valued;
		break;
	case PHPC_OPTS_RUN:
		s = run_short_valued;
		break;
	case PHPC_OPTS_EXEC:
		s = exec_short_valued;
		break;
	case PHPC_OPTS_BUILD:
		s = build_short_valued;
		break;
	}
	return c && strchr(s, c) != NULL;
}

bool phpc_podopt_is_known(enum phpc_optset set, const char *name)
{
	size_t len = strlen(name);
	if (phpc_podopt_long_takes_value(set, name, len))
		return true;
	return set == PHPC_OPTS_RUN && in_list(run_bool, name, len);
}
