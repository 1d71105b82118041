#include "nsjoin.h"
#include "util.h"

#include <errno.h>
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
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		if (!(flags & namespaces[i].flag))
			continue;
		char path[64], self[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, namespaces[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", namespaces[i].name);
		struct stat a, b;
		if (stat(path, &a) < 0)
			return phpc_error_errno(err, errno, "cannot see %s", path);
		if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue; /* already there: setns would fail for a user namespace */
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return phpc_error_errno(err, errno, "cannot open %s", path);
		if (setns(fd, namespaces[i].flag) < 0)
			return phpc_error_errno(err, errno,
			                        "cannot join the %s namespace of pid %d",
			                        namespaces[i].name, (int)pid);
	}
	return 0;
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
