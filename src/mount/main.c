/* podman-hpc-mount: the mount_program containers/storage runs to mount a
 * container's overlay. It hands the mount to fuse-overlayfs, which works
 * unprivileged; the squashed-image lower layers of `podman-hpc migrate` are
 * mounted here too once that lands. Installed also as fuse-overlayfs-wrap,
 * the name NERSC's configurations use. */
#include "fsutil.h"
#include "util.h"

#include <errno.h>

int main(int argc, char **argv, char **envp)
{
	(void)argc;
	const char *prog = getenv("PODMANHPC_FUSE_OVERLAYFS");
	_cleanup_free_ char *path =
	    phpc_find_executable(prog && *prog ? prog : "fuse-overlayfs", getenv("PATH"));
	if (!path)
		path = phpc_find_executable("fuse-overlayfs", "/usr/local/bin:/usr/bin:/bin");
	if (!path) {
		fputs("Error: podman-hpc-mount: fuse-overlayfs not found on PATH\n", stderr);
		return 1;
	}
	argv[0] = path;
	execve(path, argv, envp);
	fprintf(stderr, "Error: podman-hpc-mount: cannot run %s: %s\n", path, strerror(errno));
	return 1;
}
