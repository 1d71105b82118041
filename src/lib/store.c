#include "store.h"
#include "fsutil.h"
#include "util.h"

#include <errno.h>
#include <sys/stat.h>

static int ensure_file(int dfd, const char *name, const char *content, struct phpc_error **err)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (!*content) {
		int fd =
		    openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			return phpc_error_errno(err, errno, "cannot create %s", name);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	return phpc_write_file_atomic(dfd, name, content, strlen(content), 0644, err);
}

int phpc_store_init(const char *dir, struct phpc_error **err)
{
	static const struct {
		const char *sub, *json, *lock;
	} parts[] = {
	    {"overlay-images", "images.json", "images.lock"},
	    {"overlay-layers", "layers.json", "layers.lock"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		_cleanup_free_ char *p = phpc_xasprintf("%s/%s", dir, parts[i].sub);
		_cleanup_close_ int dfd = phpc_mkdir_p_open(p, 0755, false, err);
		int r = dfd;
		if (r >= 0)
			r = ensure_file(dfd, parts[i].lock, "", err);
		if (r >= 0)
			r = ensure_file(dfd, parts[i].json, "[]", err);
		if (r < 0)
			return phpc_error_prefix(err, "initialising squash store %s", dir);
	}
	_cleanup_free_ char *l = phpc_xasprintf("%s/overlay/l", dir);
	_cleanup_close_ int lfd = phpc_mkdir_p_open(l, 0755, false, err);
	if (lfd < 0)
		return phpc_error_prefix(err, "initialising squash store %s", dir);
	_cleanup_free_ char *ov = phpc_xasprintf("%s/overlay", dir);
	_cleanup_close_ int ofd = open(ov, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ofd >= 0 && ensure_file(ofd, "overlay.lock", "", err) < 0)
		return phpc_error_prefix(err, "initialising squash store %s", dir);
	return 0;
}
