#include "store.h"
#include "fsutil.h"
#include "jsonutil.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int ensure_lock_file(int dfd, const char *name, struct phpc_error **err)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", name);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int lock_file(int dirfd, const char *path, bool exclusive, struct phpc_error **err);

static bool exists_at(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int phpc_store_init(const char *dir, struct phpc_error **err)
{
	static const struct {
		const char *sub, *json, *lock;
	} parts[] = {
	    {"overlay-images", "images.json", "images.lock"},
	    {"overlay-layers", "layers.json", "layers.lock"},
	};
	int subfd[ARRAY_SIZE(parts)] = {-1, -1};
	int r = 0;
	bool missing = false;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(parts); i++) {
		_cleanup_free_ char *p = phpc_xasprintf("%s/%s", dir, parts[i].sub);
		r = subfd[i] = phpc_mkdir_p_open(p, 0755, false, err);
		if (r >= 0)
			r = ensure_lock_file(subfd[i], parts[i].lock, err);
		if (r == 0)
			missing = missing || !exists_at(subfd[i], parts[i].json);
	}
	_cleanup_free_ char *l = phpc_xasprintf("%s/overlay/l", dir);
	_cleanup_close_ int lfd = r < 0 ? -1 : phpc_mkdir_p_open(l, 0755, false, err);
	if (r == 0 && lfd < 0)
		r = lfd;
	_cleanup_free_ char *ov = phpc_xasprintf("%s/overlay", dir);
	_cleanup_close_ int ofd = r < 0 ? -1 : open(ov, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && ofd >= 0)
		r = ensure_lock_file(ofd, "overlay.lock", err);
	/* The indexes are written under the store's lock, even here: a temp
	 * file of an index that a writer holding the lock sees is then always
	 * a dead writer's (phpc_store_sweep). */
	if (r == 0 && missing) {
		_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			r = phpc_error_errno(err, errno, "cannot open %s", dir);
		/* layers before images, as phpc_store_open */
		_cleanup_close_ int ll =
		    r < 0 ? -1 : lock_file(dfd, "overlay-layers/layers.lock", true, err);
		_cleanup_close_ int il =
		    r < 0 || ll < 0 ? -1 : lock_file(dfd, "overlay-images/images.lock", true, err);
		if (r == 0 && (ll < 0 || il < 0))
			r = ll < 0 ? ll : il;
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(parts); i++)
			if (!exists_at(subfd[i], parts[i].json))
				r = phpc_write_file_atomic(subfd[i], parts[i].json, "[]", 2, 0644,
				                           err);
	}
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		if (subfd[i] >= 0)
			close(subfd[i]);
	if (r < 0)
		return phpc_error_prefix(err, "initialising squash store %s", dir);
	return 0;
}

/* containers/storage locks its lock files with whole-file fcntl locks. */
static int lock_file(int dirfd, const char *path, bool exclusive, struct phpc_error **err)
{
	int fd = openat(dirfd, path, (exclusive ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", path);
	struct flock fl = {.l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};
	while (fcntl(fd, F_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return phpc_error_errno(err, e, "cannot lock %s", path);
		}
	}
	return fd;
}

static int load_array(int dirfd, const char *path, struct json_object **out,
                      struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_error_ struct phpc_error *e = NULL;
	int r = phpc_read_file(dirfd, path, &text, NULL, &e);
	if (r == -ENOENT) {
		/* a missing index is an empty one, and no error for the caller */
		*out = json_object_new_array();
		return 0;
	}
	if (r < 0)
		return phpc_error_set(err, -r, "%s", e ? e->msg : strerror(-r));
	enum json_tokener_error je = json_tokener_success;
	*out = *text ? json_tokener_parse_verbose(text, &je) : json_object_new_array();
	if (!*out || !json_object_is_type(*out, json_type_array)) {
		if (*out)
			json_object_put(*out);
		*out = NULL;
		return phpc_error_set(err, EINVAL, "%s is not a JSON array", path);
	}
	return 0;
}

int phpc_store_open(const char *dir, bool writable, struct phpc_store *s, struct phpc_error **err)
{
	*s = (struct phpc_store){.dirfd = -1, .images_lock = -1, .layers_lock = -1};
	int r = 0;
	if (writable)
		r = phpc_store_init(dir, err);
	if (r < 0)
		return r;
	s->dir = phpc_xstrdup(dir);
	s->writable = writable;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		r = phpc_error_errno(err, errno, "cannot open image store %s", dir);
	/* layers before images, always, so two writers cannot deadlock */
	if (r == 0)
		r = s->layers_lock =
		    lock_file(s->dirfd, "overlay-layers/layers.lock", writable, err);
	if (r >= 0)
		r = s->images_lock =
		    lock_file(s->dirfd, "overlay-images/images.lock", writable, err);
	if (r >= 0)
		r = load_array(s->dirfd, "overlay-layers/layers.json", &s->layers, err);
	if (r == 0)
		r = load_array(s->dirfd, "overlay-images/images.json", &s->images, err);
	if (r < 0) {
		phpc_error_prefix(err, "image store %s", dir);
		phpc_store_close(s);
		return r;
	}
	return 0;
}

static int save(struct phpc_store *s, const char *sub, const char *name, struct json_object *a,
                struct phpc_error **err)
{
	_cleanup_close_ int d = openat(s->dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return phpc_error_errno(err, errno, "cannot open %s/%s", s->dir, sub);
	const char *text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
	                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = phpc_write_file_atomic(d, name, text, strlen(text), 0644, err);
	if (r < 0)
		return phpc_error_prefix(err, "image store %s", s->dir);
	return 0;
}

int phpc_store_save_layers(struct phpc_store *s, struct phpc_error **err)
{
	return save(s, "overlay-layers", "layers.json", s->layers, err);
}

int phpc_store_save_images(struct phpc_store *s, struct phpc_error **err)
{
	return save(s, "overlay-images", "images.json", s->images, err);
}

void phpc_store_close(struct phpc_store *s)
{
	if (s->images)
		json_object_put(s->images);
	if (s->layers)
		json_object_put(s->layers);
	/* closing the fds releases the fcntl locks */
	if (s->images_lock >= 0)
		close(s->images_lock);
	if (s->layers_lock >= 0)
		close(s->layers_lock);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	*s = (struct phpc_store){.dirfd = -1, .images_lock = -1, .layers_lock = -1};
}

int phpc_records_find(struct json_object *records, const char *id)
{
	size_t n = json_object_array_length(records);
	for (size_t i = 0; i < n; i++) {
		const char *rid = phpc_json_str(json_object_array_get_idx(records, i), "id");
		if (rid && streq(rid, id))
			return (int)i;
	}
	return -1;
}

static bool has_name(struct json_object *img, const char *name)
{
	struct json_object *names = NULL;
	if (!json_object_object_get_ex(img, "names", &names) ||
	    !json_object_is_type(names, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(names); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(names, i));
		if (n && streq(n, name))
			return true;
	}
	return false;
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

/* "name" without a tag or digest gets ":latest" */
static char *with_tag(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *last = slash ? slash + 1 : name;
	if (strchr(last, ':') || strchr(name, '@'))
		return phpc_xstrdup(name);
	return phpc_xasprintf("%s:latest", name);
}

const char *phpc_strip_transport(const char *name)
{
	static const char *const transports[] = {"docker://",
	                                         "containers-storage:", "docker-daemon:", NULL};
	for (const char *const *t = transports; *t; t++)
		if (str_has_prefix(name, *t))
			return name + strlen(*t);
	return name;
}

int phpc_images_lookup(struct json_object *images, const char *name, char **matched_name,
                       struct phpc_error **err)
{
	static const char *const prefixes[] = {"", "docker.io/", "docker.io/library/", "localhost/",
	                                       NULL};
	*matched_name = NULL;
	name = phpc_strip_transport(name);
	if (str_has_prefix(name, "sha256:"))
		name += 7;
	size_t n = json_object_array_length(images);
	int found = -1;
	if (is_hex(name)) {
		for (size_t i = 0; i < n; i++) {
			const char *id = phpc_json_str(json_object_array_get_idx(images, i), "id");
			if (!id || !str_has_prefix(id, name))
				continue;
			if (found >= 0)
				return phpc_error_set(err, EINVAL,
				                      "\"%s\" matches several images: give more "
				                      "of the ID",
				                      name);
			found = (int)i;
		}
		if (found >= 0)
			return found;
	}
	_cleanup_free_ char *tagged = with_tag(name);
	for (const char *const *p = prefixes; *p; p++) {
		_cleanup_free_ char *full = phpc_xasprintf("%s%s", *p, tagged);
		for (size_t i = 0; i < n; i++) {
			if (has_name(json_object_array_get_idx(images, i), full)) {
				*matched_name = steal_pointer(&full);
				return (int)i;
			}
		}
	}
	return phpc_error_set(err, ENOENT, "image \"%s\" not found", name);
}

/* Whether one of img's names is name or ends in "/" + name: podman finds a
 * short name through its search registries, its aliases and this suffix
 * match, so any image so named could be podman's choice. */
static bool has_name_or_suffix(struct json_object *img, const char *name)
{
	struct json_object *names = NULL;
	if (!json_object_object_get_ex(img, "names", &names) ||
	    !json_object_is_type(names, json_type_array))
		return false;
	size_t nl = strlen(name);
	for (size_t i = 0; i < json_object_array_length(names); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(names, i));
		size_t l = n ? strlen(n) : 0;
		if (n &&
		    (streq(n, name) || (l > nl && n[l - nl - 1] == '/' && streq(n + l - nl, name))))
			return true;
	}
	return false;
}

int phpc_images_lookup_unique(struct json_object *images, const char *name)
{
	name = phpc_strip_transport(name);
	if (str_has_prefix(name, "sha256:"))
		name += 7;
	if (!*name || strchr(name, '@'))
		return -EINVAL; /* digests: podman's own matching */
	size_t n = json_object_array_length(images);
	_cleanup_free_ char *tagged = with_tag(name);
	int found = -1;
	for (size_t i = 0; i < n; i++) {
		struct json_object *img = json_object_array_get_idx(images, i);
		const char *id = phpc_json_str(img, "id");
		bool match = (is_hex(name) && id && str_has_prefix(id, name)) ||
		             has_name_or_suffix(img, tagged);
		if (!match)
			continue;
		if (found >= 0)
			return -EINVAL;
		found = (int)i;
	}
	return found >= 0 ? found : -ENOENT;
}

int phpc_layer_chain(struct json_object *layers, const char *top, struct phpc_strv *ids,
                     struct phpc_error **err)
{
	const char *id = top;
	/* a corrupt store could hold a cycle: a chain is never longer than
	 * the store */
	for (size_t steps = 0; id && *id; steps++) {
		if (steps > json_object_array_length(layers))
			return phpc_error_set(err, ELOOP, "the layers of %s form a cycle", top);
		int i = phpc_records_find(layers, id);
		if (i < 0)
			return phpc_error_set(err, ENOENT, "layer %s (of %s) is missing", id, top);
		phpc_strv_add(ids, id);
		id = phpc_json_str(json_object_array_get_idx(layers, (size_t)i), "parent");
	}
	return 0;
}

/* Names are strings; a corrupt index may hold null or a number in a names
 * list, which then matches nothing (and is kept as it is). */
static bool same_name(struct json_object *a, struct json_object *b)
{
	return json_object_is_type(a, json_type_string) &&
	       json_object_is_type(b, json_type_string) &&
	       streq(json_object_get_string(a), json_object_get_string(b));
}

void phpc_images_drop_names(struct json_object *images, int keep, struct json_object *names)
{
	if (!names || !json_object_is_type(names, json_type_array))
		return;
	size_t n = json_object_array_length(images);
	for (size_t i = 0; i < n; i++) {
		if ((int)i == keep)
			continue;
		struct json_object *img = json_object_array_get_idx(images, i), *in = NULL;
		if (!json_object_object_get_ex(img, "names", &in) ||
		    !json_object_is_type(in, json_type_array))
			continue;
		struct json_object *out = json_object_new_array();
		for (size_t j = 0; j < json_object_array_length(in); j++) {
			struct json_object *nm = json_object_array_get_idx(in, j);
			bool drop = false;
			for (size_t k = 0; k < json_object_array_length(names); k++)
				drop = drop || same_name(nm, json_object_array_get_idx(names, k));
			if (!drop)
				json_object_array_add(out, json_object_get(nm));
		}
		json_object_object_add(img, "names", out);
	}
}

/* Liveness locks. A staging directory's writer holds a write lock on its
 * "lock" file for as long as it lives; the kernel (or the NFS server) drops
 * it when the writer dies, however it dies.
 *
 * Why fcntl locks, not flock(): the squash store is shared between nodes,
 * and its own exclusion already rests on fcntl locks (containers/storage's
 * lock files, which podman takes too). These are the locks that NFS (v4, and
 * v3 with lockd), Lustre mounted with "flock" and GPFS carry between nodes;
 * where they are node-local (NFS "nolock" or "local_lock=posix", Lustre
 * "localflock") the store's own locks do not work between nodes either, so
 * this adds no new condition. flock() is weaker: on NFS it is emulated with
 * fcntl locks but can be node-local on its own ("local_lock=flock"), and on
 * the NFS server's local file system flock() and fcntl locks do not see each
 * other. Open file description locks (F_OFD_*) rather than classic ones:
 * they belong to the open file, not the process, so a process sees its own
 * lock as taken and no unrelated close() drops it; kernels before 3.15 lack
 * them (EINVAL), and then the classic ones serve. */
static int liveness_lock(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EINVAL && fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	return -errno;
}

enum lock_state { LOCK_HELD, LOCK_FREE, LOCK_UNKNOWN };

static enum lock_state liveness_test(int fd)
{
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	int r = fcntl(fd, F_OFD_GETLK, &fl);
	if (r < 0 && errno == EINVAL) {
		fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET};
		r = fcntl(fd, F_GETLK, &fl);
	}
	if (r < 0)
		return LOCK_UNKNOWN; /* e.g. no locks on this file system: keep it */
	return fl.l_type == F_UNLCK ? LOCK_FREE : LOCK_HELD;
}

bool phpc_store_is_staging_name(const char *name)
{
	if (!str_has_prefix(name, PHPC_STAGING_PREFIX))
		return false;
	const char *x = name + strlen(PHPC_STAGING_PREFIX);
	size_t n = 0;
	for (; x[n]; n++)
		if (!isalnum((unsigned char)x[n]))
			return false;
	return n == 6;
}

bool phpc_store_is_temp_of(const char *name, const char *file)
{
	/* ".<file>.tmp.<pid>", as phpc_write_file_atomic names its temp file */
	size_t fl = strlen(file);
	if (name[0] != '.' || strncmp(name + 1, file, fl) != 0 ||
	    !str_has_prefix(name + 1 + fl, ".tmp."))
		return false;
	const char *pid = name + 1 + fl + 5;
	size_t n = strspn(pid, "0123456789");
	return n > 0 && n <= 10 && pid[n] == '\0';
}

int phpc_staging_create(struct phpc_store *s, struct phpc_staging *out, struct phpc_error **err)
{
	*out = (struct phpc_staging){.dirfd = -1, .lock_fd = -1};
	_cleanup_free_ char *path = phpc_xasprintf("%s/" PHPC_STAGING_PREFIX "XXXXXX", s->dir);
	if (!mkdtemp(path))
		return phpc_error_errno(err, errno, "cannot create a staging directory in %s",
		                        s->dir);
	out->name = phpc_xstrdup(strrchr(path, '/') + 1);
	int r = 0;
	out->dirfd = openat(s->dirfd, out->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out->dirfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", path);
	/* readable like the rest of the store: a writer of another user (a
	 * shared store) can then test its lock */
	if (r == 0 && fchmod(out->dirfd, 0755) < 0)
		r = phpc_error_errno(err, errno, "cannot set the mode of %s", path);
	out->lock_fd = r < 0 ? -1
	                     : openat(out->dirfd, "lock",
	                              O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (r == 0 && out->lock_fd < 0)
		r = phpc_error_errno(err, errno, "cannot create %s/lock", path);
	if (r == 0 && (r = liveness_lock(out->lock_fd)) < 0)
		r = phpc_error_errno(err, -r,
		                     "cannot lock %s/lock (the squash store's file system must "
		                     "support fcntl locks)",
		                     path);
	if (r < 0)
		phpc_staging_remove(s->dirfd, out);
	return r;
}

void phpc_staging_remove(int store_dirfd, struct phpc_staging *stg)
{
	if (stg->name && stg->dirfd >= 0) {
		DIR *d = fdopendir(fcntl(stg->dirfd, F_DUPFD_CLOEXEC, 0));
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
			    !streq(de->d_name, "lock"))
				phpc_rm_rf_at(stg->dirfd, de->d_name, NULL);
		if (d)
			closedir(d);
	}
	/* the lock last, and closed before its file goes: NFS would keep an
	 * open, unlinked file as a ".nfsXXXX" file in the directory */
	if (stg->lock_fd >= 0)
		close(stg->lock_fd);
	if (stg->name && stg->dirfd >= 0)
		unlinkat(stg->dirfd, "lock", 0);
	if (stg->name && store_dirfd >= 0)
		unlinkat(store_dirfd, stg->name, AT_REMOVEDIR);
	if (stg->dirfd >= 0)
		close(stg->dirfd);
	free(stg->name);
	*stg = (struct phpc_staging){.dirfd = -1, .lock_fd = -1};
}

/* A staging directory whose writer is provably gone: its lock is free, or it
 * has no lock file (it is created with one under the store's lock, which the
 * sweeper holds: without one, its writer died creating it, or is removing it
 * and its files are going anyway). A lock that cannot be tested keeps it. */
static bool staging_abandoned(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	_cleanup_close_ int d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		return false;
	_cleanup_close_ int l = openat(d, "lock", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (l < 0)
		return errno == ENOENT;
	if (fstat(l, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return liveness_test(l) == LOCK_FREE;
}

/* Removes the entries of dirfd/sub (sub "." for dirfd itself) that match;
 * returns how many. */
static int sweep_dir(int dirfd, const char *sub, bool (*match)(int, const char *, const void *),
                     const void *arg)
{
	_cleanup_close_ int fd =
	    openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0));
	if (!d)
		return 0;
	struct phpc_strv dead = {0};
	struct dirent *de;
	while ((de = readdir(d)))
		if (match(fd, de->d_name, arg))
			phpc_strv_add(&dead, de->d_name);
	closedir(d);
	int n = 0;
	for (size_t i = 0; i < dead.n; i++)
		n += phpc_rm_rf_at(fd, dead.v[i], NULL) == 0;
	phpc_strv_clear(&dead);
	return n;
}

static bool match_staging(int dfd, const char *name, const void *arg)
{
	return phpc_store_is_staging_name(name) && staging_abandoned(dfd, name);
}

static bool match_temp_of(int dfd, const char *name, const void *file)
{
	struct stat st;
	return phpc_store_is_temp_of(name, file) &&
	       fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int phpc_store_read_link(int storefd, const char *id, char **out, struct phpc_error **err)
{
	*out = NULL;
	_cleanup_free_ char *p = phpc_xasprintf("overlay/%s/link", id);
	/* a store another user wrote may hold a FIFO, a symlink or a huge
	 * file there: a link name is a short regular file */
	_cleanup_close_ int fd =
	    openat(storefd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", p);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 255)
		return phpc_error_set(err, EINVAL, "%s is not a link name file", p);
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n < 0)
		return phpc_error_errno(err, errno, "cannot read %s", p);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	*out = phpc_xstrdup(buf);
	return 0;
}

bool phpc_store_link_ok(const char *link)
{
	return link && *link && !strchr(link, '/') && !streq(link, ".") && !streq(link, "..") &&
	       strlen(link) < 256;
}

bool phpc_store_is_id(const char *name)
{
	return name && strlen(name) == 64 && is_hex(name);
}

int phpc_store_sweep(struct phpc_store *s)
{
	if (!s->writable)
		return 0;
	int n = sweep_dir(s->dirfd, ".", match_staging, NULL);
	n += sweep_dir(s->dirfd, "overlay-images", match_temp_of, "images.json");
	n += sweep_dir(s->dirfd, "overlay-layers", match_temp_of, "layers.json");
	/* the layers' link files (written by the commit, under the lock) */
	_cleanup_close_ int ov =
	    openat(s->dirfd, "overlay", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = ov < 0 ? NULL : fdopendir(fcntl(ov, F_DUPFD_CLOEXEC, 0));
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (phpc_store_is_id(de->d_name))
			n += sweep_dir(ov, de->d_name, match_temp_of, "link");
	if (d)
		closedir(d);
	return n;
}

void phpc_containers_using(struct json_object *containers, const char *image_id,
                           struct phpc_strv *users)
{
	size_t n = json_object_is_type(containers, json_type_array)
	               ? json_object_array_length(containers)
	               : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(containers, i), *names = NULL;
		const char *img = phpc_json_str(c, "image"), *id = phpc_json_str(c, "id");
		if (!img || !id || !streq(img, image_id))
			continue;
		const char *name = NULL;
		if (json_object_object_get_ex(c, "names", &names) &&
		    json_object_is_type(names, json_type_array) &&
		    json_object_array_length(names) > 0)
			name = json_object_get_string(json_object_array_get_idx(names, 0));
		if (name && *name)
			phpc_strv_addf(users, "%s (%.12s)", name, id);
		else
			phpc_strv_addf(users, "%.12s", id);
	}
}

int phpc_store_containers_using(const char *dir, const char *image_id, struct phpc_strv *users,
                                struct phpc_error **err)
{
	_cleanup_free_ char *cdir = phpc_xasprintf("%s/overlay-containers", dir);
	_cleanup_close_ int dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : phpc_error_errno(err, errno, "cannot open %s", cdir);
	_cleanup_close_ int lk = -1;
	if (faccessat(dfd, "containers.lock", F_OK, 0) == 0) {
		lk = lock_file(dfd, "containers.lock", false, err);
		if (lk < 0)
			return phpc_error_prefix(err, "container store %s", cdir);
	}
	static const char *const files[] = {"containers.json", "volatile-containers.json"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct json_object *a = NULL;
		int r = load_array(dfd, files[i], &a, err);
		if (r < 0)
			return phpc_error_prefix(err, "container store %s", cdir);
		phpc_containers_using(a, image_id, users);
		json_object_put(a);
	}
	return 0;
}

int phpc_store_has_image(const char *dir, const char *id, bool *has, struct phpc_error **err)
{
	*has = false;
	_cleanup_free_ char *idir = phpc_xasprintf("%s/overlay-images", dir);
	_cleanup_close_ int dfd = open(idir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : phpc_error_errno(err, errno, "cannot open %s", idir);
	_cleanup_close_ int lk = -1;
	if (faccessat(dfd, "images.lock", F_OK, 0) == 0) {
		lk = lock_file(dfd, "images.lock", false, err);
		if (lk < 0)
			return phpc_error_prefix(err, "image store %s", dir);
	}
	struct json_object *images = NULL;
	if (load_array(dfd, "images.json", &images, err) < 0)
		return phpc_error_prefix(err, "image store %s", dir);
	*has = phpc_records_find(images, id) >= 0;
	json_object_put(images);
	return 0;
}
