/* Node-local views of the squash store (storeview.h). */
#include "storeview.h"
#include "fsutil.h"
#include "jsonutil.h"
#include "store.h"
#include "strv.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* FNV-1a, 64 bits: a short, stable name for a long key. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

char *phpc_store_view_state(const char *store, const struct stat *images, const struct stat *layers)
{
	const struct stat *st[] = {images, layers};
	_cleanup_free_ char *key = phpc_xstrdup(store);
	for (size_t i = 0; i < 2; i++) {
		char *k =
		    phpc_xasprintf("%s|%jx:%jx:%jx:%jx.%ld:%jx.%ld", key, (uintmax_t)st[i]->st_dev,
		                   (uintmax_t)st[i]->st_ino, (uintmax_t)st[i]->st_size,
		                   (uintmax_t)st[i]->st_mtim.tv_sec, st[i]->st_mtim.tv_nsec,
		                   (uintmax_t)st[i]->st_ctim.tv_sec, st[i]->st_ctim.tv_nsec);
		free(key);
		key = k;
	}
	return phpc_xasprintf("%016" PRIx64, fnv1a(key));
}

/* The state of the store now: two stat calls on it. -ENOENT when it has no
 * indexes (no squashed image was ever migrated into it). */
static int current_state(int storefd, const char *store, char **state)
{
	struct stat si, sl;
	if (fstatat(storefd, "overlay-images/images.json", &si, 0) < 0 ||
	    fstatat(storefd, "overlay-layers/layers.json", &sl, 0) < 0) {
		int e = errno;
		return e > 0 ? -e : -EIO;
	}
	*state = phpc_store_view_state(store, &si, &sl);
	return 0;
}

static int write_json(int dirfd, const char *name, struct json_object *a, struct phpc_error **err)
{
	const char *text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
	                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
	return phpc_write_file_atomic(dirfd, name, text, strlen(text), 0644, err);
}

static int load_json(int dirfd, const char *name, struct json_object **out, struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	int r = phpc_read_file(dirfd, name, &text, NULL, err);
	if (r < 0)
		return r;
	*out = json_tokener_parse(text);
	if (!*out || !json_object_is_type(*out, json_type_array)) {
		if (*out)
			json_object_put(*out);
		*out = NULL;
		return phpc_error_set(err, EINVAL, "%s is not a JSON array", name);
	}
	return 0;
}

/* A new directory dir/.tmp.XXXXXX: its name into out. */
static int make_tmp(const char *dir, char **out, struct phpc_error **err)
{
	*out = phpc_xasprintf("%s/.tmp.XXXXXX", dir);
	if (!mkdtemp(*out)) {
		int e = errno;
		free(steal_pointer(out));
		return phpc_error_errno(err, e, "cannot create a temporary directory in %s", dir);
	}
	return 0;
}

/* Renames tmp to dir/name; when another process was first, its copy stays
 * and tmp goes. */
static int publish(const char *tmp, const char *dir, const char *name, struct phpc_error **err)
{
	_cleanup_free_ char *dst = phpc_xasprintf("%s/%s", dir, name);
	if (rename(tmp, dst) == 0)
		return 0;
	int e = errno;
	phpc_rm_rf_at(AT_FDCWD, tmp, NULL);
	if (e == EEXIST || e == ENOTEMPTY)
		return 0;
	return phpc_error_errno(err, e, "cannot create %s", dst);
}

/* <views>/<state>: copies of the store's indexes, read under its locks
 * (podman and migrate take the same). The state is named after the files as
 * they were read, with the locks held: no writer can change them between. */
static int make_state(const struct phpc_view_req *req, char **state, struct phpc_error **err)
{
	struct phpc_store s;
	int r = phpc_store_open(req->store, false, &s, err);
	if (r != 0)
		return r < 0 ? r : -EIO;
	_cleanup_free_ char *tmp = NULL;
	r = current_state(s.dirfd, req->store, state);
	if (r != 0 || !*state)
		r = phpc_error_errno(err, r < 0 ? -r : EIO, "cannot read the indexes of %s",
		                     req->store);
	_cleanup_free_ char *have = r != 0 ? NULL : phpc_xasprintf("%s/images.json", *state);
	_cleanup_close_ int vfd = open(req->views, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && vfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", req->views);
	if (r == 0 && faccessat(vfd, have, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		phpc_store_close(&s);
		return 0;
	}
	if (r == 0)
		r = make_tmp(req->views, &tmp, err);
	_cleanup_close_ int tfd = r != 0 ? -1 : open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && tfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", tmp);
	if (r == 0)
		r = write_json(tfd, "images.json", s.images, err);
	if (r == 0)
		r = write_json(tfd, "layers.json", s.layers, err);
	phpc_store_close(&s);
	if (r == 0)
		r = publish(tmp, req->views, *state, err);
	else if (tmp)
		phpc_rm_rf_at(AT_FDCWD, tmp, NULL);
	if (r < 0)
		free(steal_pointer(state));
	return r;
}

/* The layers' part of a view in tfd: each layer's directory with an empty
 * diff and its link file, the l/ symlinks, and for the top layer (the one
 * migrate squashed) l/<link>.squash pointing at the store's squash file.
 * Returns 1 when the top layer has no squash file: not an image to view. */
static int view_layers(int storefd, const char *store, const struct phpc_strv *chain, int tfd,
                       struct phpc_error **err)
{
	for (size_t k = 0; k < chain->n; k++) {
		const char *id = chain->v[k];
		if (!phpc_store_is_id(id))
			return phpc_error_set(err, EINVAL, "a layer of the image has no valid id");
		_cleanup_free_ char *link = NULL;
		int r = phpc_store_read_link(storefd, id, &link, err);
		if (r < 0)
			return r;
		if (!phpc_store_link_ok(link))
			return phpc_error_set(err, EINVAL, "layer %s has an invalid link name", id);
		_cleanup_free_ char *sq = phpc_xasprintf("overlay/l/%s.squash", link);
		if (k == 0) {
			struct stat st;
			if (fstatat(storefd, sq, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return errno == ENOENT
				           ? 1
				           : phpc_error_errno(err, errno, "cannot stat %s", sq);
			if (!S_ISREG(st.st_mode))
				return phpc_error_set(err, EINVAL, "%s is not a regular file", sq);
			_cleanup_free_ char *target = phpc_xasprintf("%s/%s", store, sq);
			if (symlinkat(target, tfd, sq) < 0)
				return phpc_error_errno(err, errno, "cannot create %s", sq);
		}
		_cleanup_free_ char *dir = phpc_xasprintf("overlay/%s", id);
		_cleanup_free_ char *diff = phpc_xasprintf("overlay/%s/diff", id);
		if ((mkdirat(tfd, dir, 0755) < 0 && errno != EEXIST) ||
		    (mkdirat(tfd, diff, 0755) < 0 && errno != EEXIST))
			return phpc_error_errno(err, errno, "cannot create %s", diff);
		_cleanup_close_ int dfd = openat(tfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return phpc_error_errno(err, errno, "cannot open %s", dir);
		r = phpc_write_file_atomic(dfd, "link", link, strlen(link), 0644, err);
		if (r < 0)
			return r;
		_cleanup_free_ char *l = phpc_xasprintf("overlay/l/%s", link);
		_cleanup_free_ char *to = phpc_xasprintf("../%s/diff", id);
		if (symlinkat(to, tfd, l) < 0)
			return phpc_error_errno(err, errno, "cannot create %s", l);
	}
	return 0;
}

/* The files of the view in tmp, read from the store under its shared locks
 * (a concurrent migrate or rmsqi waits) and only while the store is still in
 * the state the indexes were copied from. 1: no view (the store changed, or
 * the image is not squashed). */
static int fill_view(const struct phpc_view_req *req, const char *state, struct json_object *img,
                     const struct phpc_strv *chain, const char *tmp, struct phpc_error **err)
{
	const char *id = phpc_json_str(img, "id");
	struct phpc_store s;
	int r = phpc_store_open(req->store, false, &s, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *now = NULL;
	if (current_state(s.dirfd, req->store, &now) != 0 || !now || !streq(now, state)) {
		phpc_store_close(&s);
		return 1;
	}
	_cleanup_close_ int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", tmp);
	if (r == 0) {
		/* the image's big data: its manifest and configuration */
		_cleanup_free_ char *bd = phpc_xasprintf("overlay-images/%s", id);
		r = phpc_copy_dir_files(s.dirfd, bd, tfd, bd, err);
		if (r == -ENOENT)
			r = phpc_error_set(err, ENOENT, "%s/%s is missing", req->store, bd);
	}
	if (r == 0)
		r = view_layers(s.dirfd, req->store, chain, tfd, err);
	phpc_store_close(&s);
	return r;
}

/* <views>/<state>/<id>: the view of image idx of images. 1: no view. */
static int make_view(const struct phpc_view_req *req, const char *state, const char *statedir,
                     struct json_object *images, struct json_object *layers, int idx,
                     struct phpc_error **err)
{
	struct json_object *img = json_object_array_get_idx(images, (size_t)idx);
	const char *id = phpc_json_str(img, "id");
	const char *top = phpc_json_str(img, "layer");
	if (!top || !*top)
		return phpc_error_set(err, EINVAL, "image %s has no layer", id);
	struct phpc_strv chain = {0};
	int r = phpc_layer_chain(layers, top, &chain, err);
	_cleanup_free_ char *tmp = NULL;
	if (r == 0)
		r = make_tmp(statedir, &tmp, err);
	if (r == 0)
		r = phpc_store_init(tmp, err);
	_cleanup_close_ int tfd = r != 0 ? -1 : open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && tfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", tmp);
	struct json_object *one = json_object_new_array();
	json_object_array_add(one, json_object_get(img));
	struct json_object *lays = json_object_new_array();
	for (size_t k = 0; r == 0 && k < chain.n; k++) {
		int li = phpc_records_find(layers, chain.v[k]);
		json_object_array_add(
		    lays, json_object_get(json_object_array_get_idx(layers, (size_t)li)));
	}
	_cleanup_close_ int ifd =
	    r != 0 ? -1 : openat(tfd, "overlay-images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int lfd =
	    r != 0 ? -1 : openat(tfd, "overlay-layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && (ifd < 0 || lfd < 0))
		r = phpc_error_errno(err, errno, "cannot open the indexes' directories in %s", tmp);
	if (r == 0)
		r = write_json(ifd, "images.json", one, err);
	if (r == 0)
		r = write_json(lfd, "layers.json", lays, err);
	json_object_put(one);
	json_object_put(lays);
	if (r == 0)
		r = fill_view(req, state, img, &chain, tmp, err);
	phpc_strv_clear(&chain);
	if (r == 0)
		r = publish(tmp, statedir, id, err);
	else if (tmp)
		phpc_rm_rf_at(AT_FDCWD, tmp, NULL);
	return r;
}

int phpc_store_view(const struct phpc_view_req *req, char **view, bool *built,
                    struct phpc_error **err)
{
	*view = NULL;
	*built = false;
	if (req->store[0] != '/')
		return phpc_error_set(err, EINVAL, "the squash store %s is not an absolute path",
		                      req->store);
	_cleanup_close_ int vfd = phpc_mkdir_p_open(req->views, 0700, true, err);
	if (vfd < 0)
		return vfd;
	_cleanup_close_ int sfd = open(req->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return errno == ENOENT ? 0
		                       : phpc_error_errno(err, errno, "cannot open %s", req->store);
	/* the common case: this node has this state's indexes already */
	_cleanup_free_ char *state = NULL;
	int r = current_state(sfd, req->store, &state);
	if (r != 0 || !state)
		return r == -ENOENT ? 0
		                    : phpc_error_errno(err, r < 0 ? -r : EIO,
		                                       "cannot read the indexes of %s", req->store);
	_cleanup_free_ char *have = phpc_xasprintf("%s/images.json", state);
	if (faccessat(vfd, have, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		free(steal_pointer(&state));
		r = make_state(req, &state, err);
		if (r != 0 || !state)
			return r < 0 ? r : phpc_error_set(err, EIO, "no state of %s", req->store);
		phpc_store_views_prune(req->views, state, PHPC_VIEW_MAX_IDLE_S);
	}
	_cleanup_free_ char *statedir = phpc_xasprintf("%s/%s", req->views, state);
	_cleanup_close_ int stfd = open(statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (stfd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", statedir);
	struct json_object *images = NULL, *layers = NULL;
	r = load_json(stfd, "images.json", &images, err);
	if (r == 0)
		r = load_json(stfd, "layers.json", &layers, err);
	int idx = r < 0 ? r : phpc_images_lookup_unique(images, req->image);
	const char *id =
	    idx < 0 ? NULL : phpc_json_str(json_object_array_get_idx(images, (size_t)idx), "id");
	bool none = r == 0 && idx < 0; /* not there, or not one image: podman decides */
	if (r == 0 && !none && !phpc_store_is_id(id))
		r = phpc_error_set(err, EINVAL, "an image of %s has no valid id", req->store);
	struct stat st;
	if (r == 0 && !none && fstatat(stfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = make_view(req, state, statedir, images, layers, idx, err);
		*built = r == 0;
		if (r == 1) {
			none = true; /* not squashed, or the store changed meanwhile */
			r = 0;
		}
	}
	if (r == 0 && !none) {
		*view = phpc_xasprintf("%s/%s", statedir, id);
		/* in use: pruning goes by the last use (storeview.h) */
		futimens(stfd, NULL);
	}
	if (images)
		json_object_put(images);
	if (layers)
		json_object_put(layers);
	if (r < 0)
		return phpc_error_prefix(err, "cannot make the node-local view of %s", req->image);
	return 0;
}

void phpc_store_views_prune(const char *views, const char *keep, long max_idle_s)
{
	_cleanup_close_ int vfd = open(views, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dup = vfd < 0 ? -1 : fcntl(vfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup < 0 ? NULL : fdopendir(dup);
	if (!d) {
		if (dup >= 0)
			close(dup);
		return;
	}
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, keep))
			continue;
		struct stat st;
		if (fstatat(vfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > max_idle_s)
			phpc_rm_rf_at(vfd, de->d_name, NULL);
	}
	closedir(d);
}
