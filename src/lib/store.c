#include "store.h"
#include "fsutil.h"
#include "util.h"

#include <ctype.h>
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
	int r = phpc_read_file(dirfd, path, &text, NULL, err);
	if (r == -ENOENT) {
		*out = json_object_new_array();
		return 0;
	}
	if (r < 0)
		return r;
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

const char *phpc_json_str(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
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
				drop = drop || streq(json_object_get_string(nm),
				                     json_object_get_string(
				                         json_object_array_get_idx(names, k)));
			if (!drop)
				json_object_array_add(out, json_object_get(nm));
		}
		json_object_object_add(img, "names", out);
	}
}
