#include "buildmnt.h"
#include "path.h"
#include "rootfs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

/* runc's and crun's global options that take a value */
static const char *const global_valued[] = {
    "--root", "--log", "--log-format", "--criu", "--rootless", "--cgroup-manager", NULL};
/* create's options that take a value */
static const char *const create_valued[] = {
    "--bundle", "-b", "--pid-file", "--console-socket", "--preserve-fds", NULL};

int phpc_runtime_call_parse(int argc, char *const *argv, struct phpc_runtime_call *out,
                            struct phpc_error **err)
{
	*out = (struct phpc_runtime_call){0};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++)
		if (!strchr(argv[i], '=') &&
		    phpc_strv_contains((char *const *)global_valued, argv[i]))
			i++;
	if (i >= argc)
		return 0;
	out->sub = argv[i++];
	bool create = streq(out->sub, "create");
	if (!create && !streq(out->sub, "delete"))
		return 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (create && str_has_prefix(a, "--bundle=")) {
			out->bundle = a + 9;
		} else if (a[0] == '-' && a[1]) {
			if (create && phpc_strv_contains((char *const *)create_valued, a) &&
			    i + 1 < argc) {
				if (streq(a, "--bundle") || streq(a, "-b"))
					out->bundle = argv[i + 1];
				i++;
			}
		} else {
			out->id = a;
		}
	}
	if (!out->id || !*out->id)
		return phpc_error_set(err, EINVAL, "%s: no container id", out->sub);
	if (strchr(out->id, '/') || streq(out->id, ".") || streq(out->id, ".."))
		return phpc_error_set(err, EINVAL, "%s: container id \"%s\" is not a file name",
		                      out->sub, out->id);
	return 0;
}

int phpc_buildmnt_first_missing(int rootfd, const char *dest, char **out, struct phpc_error **err)
{
	_cleanup_free_ char *norm = phpc_path_normalize(dest);
	*out = NULL;
	if (streq(norm, "/"))
		return 0;
	size_t len = strlen(norm);
	for (size_t i = 1; i <= len; i++) {
		if (norm[i] != '/' && norm[i] != '\0')
			continue;
		char c = norm[i];
		norm[i] = '\0';
		int fd = phpc_root_openat(rootfd, norm, O_PATH | O_NOFOLLOW, 0);
		if (fd == -ENOENT) {
			*out = phpc_xstrdup(norm);
			return 0;
		}
		if (fd < 0)
			return phpc_error_errno(err, -fd, "cannot look up %s in the build's root",
			                        norm);
		close(fd);
		norm[i] = c;
	}
	return 0;
}

/* Removes the entry at path inside rootfd if it is an empty regular file
 * or an empty directory: what the runtime made as a mount point. */
static int remove_if_empty(int rootfd, const char *path)
{
	_cleanup_free_ char *dir = phpc_xstrdup(path);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	_cleanup_close_ int pfd =
	    phpc_root_openat(rootfd, *dir ? dir : "/", O_PATH | O_DIRECTORY, 0);
	if (pfd < 0)
		return pfd;
	struct stat st;
	if (fstatat(pfd, slash + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return unlinkat(pfd, slash + 1, AT_REMOVEDIR) < 0 ? -errno : 0;
	if (S_ISREG(st.st_mode) && st.st_size == 0)
		return unlinkat(pfd, slash + 1, 0) < 0 ? -errno : 0;
	return -ENOTEMPTY;
}

int phpc_buildmnt_remove(int rootfd, const char *first, const char *dest, struct phpc_error **err)
{
	_cleanup_free_ char *top = phpc_path_normalize(first);
	_cleanup_free_ char *p = phpc_path_normalize(dest);
	size_t tl = strlen(top);
	if (streq(top, "/") || strncmp(p, top, tl) != 0 || (p[tl] && p[tl] != '/'))
		return phpc_error_set(err, EINVAL, "%s is not below %s", dest, first);
	/* the mount point, then each directory made for it, up to the first;
	 * one the step put files in stays, as the step left it */
	int r = remove_if_empty(rootfd, p);
	if (r == -ENOTEMPTY || r == -EEXIST)
		return phpc_error_set(err, ENOTEMPTY,
		                      "the mount point %s is not empty after the step: left in the "
		                      "image",
		                      p);
	if (r < 0 && r != -ENOENT)
		return phpc_error_errno(err, -r, "cannot remove the mount point %s", p);
	while (strlen(p) > tl) {
		*strrchr(p, '/') = '\0';
		r = remove_if_empty(rootfd, p);
		if (r == -ENOTEMPTY || r == -EEXIST)
			return 0;
		if (r < 0 && r != -ENOENT)
			return phpc_error_errno(err, -r, "cannot remove the directory %s", p);
	}
	return 0;
}
