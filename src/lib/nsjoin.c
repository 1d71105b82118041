#include "nsjoin.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static const struct {
	int flag;
	const char *name;
} namespaces[] = {
    {CLONE_NEWUSER, "user"},     {CLONE_NEWNS, "mnt"},  {CLONE_NEWIPC, "ipc"},
    {CLONE_NEWUTS, "uts"},       {CLONE_NEWNET, "net"}, {CLONE_NEWPID, "pid"},
    {CLONE_NEWCGROUP, "cgroup"},
};

int phpc_nsjoin(pid_t pid, int flags, struct phpc_error **err)
{
	/* Every namespace is opened first: once in the container's mount
	 * namespace, /proc is the container's and the pid means nothing there. */
	int fds[ARRAY_SIZE(namespaces)];
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		fds[i] = -1;
		if (r < 0 || !(flags & namespaces[i].flag))
			continue;
		char path[64], self[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, namespaces[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", namespaces[i].name);
		struct stat a, b;
		if (stat(path, &a) < 0) {
			r = phpc_error_errno(err, errno, "cannot see %s", path);
			continue;
		}
		if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue; /* already there: setns would fail for a user namespace */
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			r = phpc_error_errno(err, errno, "cannot open %s", path);
	}
	/* the user namespace first (its privileges let us join the others) */
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		if (r == 0 && fds[i] >= 0 && setns(fds[i], namespaces[i].flag) < 0)
			r = phpc_error_errno(err, errno, "cannot join the %s namespace of pid %d",
			                     namespaces[i].name, (int)pid);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return r;
}

static int last_cap(void)
{
	int last = 40;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 40;
		fclose(f);
	}
	return last;
}

int phpc_drop_all_caps(struct phpc_error **err)
{
	int last = last_cap();
	for (int c = 0; c <= last; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return phpc_error_errno(err, errno, "cannot drop capability %d", c);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return phpc_error_errno(err, errno, "cannot clear ambient capabilities");
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	if (syscall(SYS_capset, &h, d) < 0)
		return phpc_error_errno(err, errno, "cannot drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return phpc_error_errno(err, errno, "cannot set no_new_privs");
	return 0;
}

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int phpc_cap_number(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (streq(cap_names[i], name))
			return (int)i;
	return -1;
}

static void cap_mask(char **names, uint32_t mask[2])
{
	mask[0] = mask[1] = 0;
	for (char **n = names; n && *n; n++) {
		int c = phpc_cap_number(*n);
		if (c >= 0)
			mask[c / 32] |= 1u << (c % 32);
	}
}

static bool has_cap(const uint32_t mask[2], int c)
{
	return c < 64 && (mask[c / 32] & (1u << (c % 32)));
}

int phpc_become(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, char **const caps[5],
                bool no_new_privs, struct phpc_error **err)
{
	uint32_t bnd[2], eff[2], inh[2], prm[2], amb[2];
	cap_mask(caps[0], bnd);
	cap_mask(caps[1], eff);
	cap_mask(caps[2], inh);
	cap_mask(caps[3], prm);
	cap_mask(caps[4], amb);
	if (setgroups(ngroups, groups) < 0 && errno != EPERM)
		return phpc_error_errno(err, errno, "setgroups");
	int last = last_cap();
	for (int c = 0; c <= last; c++)
		if (!has_cap(bnd, c) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return phpc_error_errno(err, errno, "cannot drop capability %d", c);
	/* keep the permitted set across the uid change, then set it exactly */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return phpc_error_errno(err, errno, "PR_SET_KEEPCAPS");
	if (setresgid(gid, gid, gid) < 0)
		return phpc_error_errno(err, errno, "cannot become gid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return phpc_error_errno(err, errno, "cannot become uid %u", (unsigned)uid);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	for (int i = 0; i < 2; i++)
		d[i] = (struct __user_cap_data_struct){
		    .effective = eff[i], .permitted = prm[i], .inheritable = inh[i]};
	if (syscall(SYS_capset, &h, d) < 0)
		return phpc_error_errno(err, errno, "cannot set capabilities");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int c = 0; c <= last; c++)
		if (has_cap(amb, c))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return phpc_error_errno(err, errno, "cannot set no_new_privs");
	return 0;
}
