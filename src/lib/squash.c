#include "squash.h"
#include "fsutil.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

/* What migrate takes from the local store, read under its lock. */
struct source {
	struct json_object *image;  /* the image record */
	struct json_object *layers; /* the chain's layer records, top first */
	struct phpc_strv links;     /* each layer's link name */
	struct phpc_strv subdirs;   /* "id/diff" ... directories to recreate */
	char *layer_dir;            /* the only layer's diff, for a one-layer image */
	char *staged_bigdata;       /* overlay-images/.ID.tmp.PID in the squash store */
};

static void source_clear(struct source *s)
{
	if (s->image)
		json_object_put(s->image);
	if (s->layers)
		json_object_put(s->layers);
	phpc_strv_clear(&s->links);
	phpc_strv_clear(&s->subdirs);
	free(s->layer_dir);
	free(s->staged_bigdata);
}

static int copy_dir_files(int srcdir, const char *src, int dstdir, const char *dst,
                          struct phpc_error **err)
{
	_cleanup_close_ int in = openat(srcdir, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : phpc_error_errno(err, errno, "cannot open %s", src);
	if (mkdirat(dstdir, dst, 0755) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", dst);
	_cleanup_close_ int out = openat(dstdir, dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fcntl(in, F_DUPFD_CLOEXEC, 0));
	if (out < 0 || !d) {
		if (d)
			closedir(d);
		return phpc_error_errno(err, errno, "cannot copy %s", src);
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d)))
		if (de->d_type == DT_REG)
			r = phpc_copy_file_at(in, de->d_name, out, de->d_name, 0644, err);
	closedir(d);
	return r;
}

static int read_link_name(int storefd, const char *id, char **out, struct phpc_error **err)
{
	_cleanup_free_ char *p = phpc_xasprintf("overlay/%s/link", id);
	int r = phpc_read_file(storefd, p, out, NULL, err);
	if (r == 0)
		(*out)[strcspn(*out, "\n")] = '\0';
	return r;
}

/* Reads the image, its layer chain and link names, and copies its small
 * files (big data, tar-split) into the squash store, under the local store's
 * shared lock. */
static int read_source(const struct phpc_migrate_req *req, int dstfd, struct source *s,
                       struct phpc_error **err)
{
	struct phpc_store src;
	int r = phpc_store_open(req->src_dir, false, &src, err);
	if (r < 0)
		return r;
	int i = phpc_records_find(src.images, req->image_id);
	struct phpc_strv chain = {0};
	if (i < 0)
		r = phpc_error_set(err, ENOENT, "image %s is not in the local store %s",
		                   req->image_id, req->src_dir);
	if (r == 0) {
		s->image = json_object_get(json_object_array_get_idx(src.images, (size_t)i));
		const char *top = phpc_json_str(s->image, "layer");
		r = top ? phpc_layer_chain(src.layers, top, &chain, err)
		        : phpc_error_set(err, EINVAL, "image %s has no layer", req->image_id);
	}
	s->layers = json_object_new_array();
	_cleanup_close_ int lfd =
	    r == 0 ? openat(dstfd, "overlay-layers", O_RDONLY | O_CLOEXEC) : -1;
	for (size_t k = 0; r == 0 && k < chain.n; k++) {
		const char *id = chain.v[k];
		int li = phpc_records_find(src.layers, id);
		json_object_array_add(
		    s->layers, json_object_get(json_object_array_get_idx(src.layers, (size_t)li)));
		char *link = NULL;
		r = read_link_name(src.dirfd, id, &link, err);
		if (r < 0)
			break;
		phpc_strv_push(&s->links, link);
		static const char *const subs[] = {"diff", "work", "empty", "merged"};
		for (size_t j = 0; j < ARRAY_SIZE(subs); j++) {
			_cleanup_free_ char *p = phpc_xasprintf("overlay/%s/%s", id, subs[j]);
			struct stat st;
			if (fstatat(src.dirfd, p, &st, 0) == 0 && S_ISDIR(st.st_mode))
				phpc_strv_addf(&s->subdirs, "%s/%s", id, subs[j]);
		}
		_cleanup_free_ char *ts = phpc_xasprintf("overlay-layers/%s.tar-split.gz", id);
		_cleanup_free_ char *tn = phpc_xasprintf("%s.tar-split.gz", id);
		if (faccessat(src.dirfd, ts, F_OK, 0) == 0 && faccessat(lfd, tn, F_OK, 0) < 0)
			r = phpc_copy_file_at(src.dirfd, ts, lfd, tn, 0644, err);
	}
	if (r == 0 && chain.n == 1)
		s->layer_dir = phpc_xasprintf("%s/overlay/%s/diff", req->src_dir, chain.v[0]);
	if (r == 0) {
		s->staged_bigdata =
		    phpc_xasprintf("overlay-images/.%s.tmp.%ld", req->image_id, (long)getpid());
		phpc_rm_rf_at(dstfd, s->staged_bigdata);
		_cleanup_free_ char *bd = phpc_xasprintf("overlay-images/%s", req->image_id);
		r = copy_dir_files(src.dirfd, bd, dstfd, s->staged_bigdata, err);
	}
	phpc_strv_clear(&chain);
	phpc_store_close(&src);
	return r;
}

/* Adds names to the record (keeping its own), and takes them from every other
 * image: one name is never on two images (NERSC #53, #65, #119). */
static void merge_names(struct json_object *images, int idx, struct json_object *names)
{
	struct json_object *img = json_object_array_get_idx(images, (size_t)idx), *have = NULL;
	if (!json_object_object_get_ex(img, "names", &have) ||
	    !json_object_is_type(have, json_type_array)) {
		have = json_object_new_array();
		json_object_object_add(img, "names", have);
	}
	for (size_t i = 0; names && i < json_object_array_length(names); i++) {
		const char *n = json_object_get_string(json_object_array_get_idx(names, i));
		bool dup = false;
		for (size_t j = 0; j < json_object_array_length(have); j++)
			dup = dup ||
			      streq(n, json_object_get_string(json_object_array_get_idx(have, j)));
		if (!dup)
			json_object_array_add(have, json_object_new_string(n));
	}
	phpc_images_drop_names(images, idx, have);
}

/* Puts the layers' directories, link files and l/ symlinks in place. */
static int place_layers(int dstfd, const struct source *s, struct phpc_error **err)
{
	for (size_t k = 0; k < s->links.n; k++) {
		const char *id = phpc_json_str(json_object_array_get_idx(s->layers, k), "id");
		_cleanup_free_ char *dir = phpc_xasprintf("overlay/%s", id);
		if (mkdirat(dstfd, dir, 0755) < 0 && errno != EEXIST)
			return phpc_error_errno(err, errno, "cannot create %s", dir);
		_cleanup_close_ int d = openat(dstfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = d < 0 ? phpc_error_errno(err, errno, "cannot open %s", dir)
		              : phpc_write_file_if_changed(d, "link", s->links.v[k],
		                                           strlen(s->links.v[k]), 0644, NULL, err);
		if (r < 0)
			return r;
		_cleanup_free_ char *l = phpc_xasprintf("overlay/l/%s", s->links.v[k]);
		_cleanup_free_ char *t = phpc_xasprintf("../%s/diff", id);
		if (symlinkat(t, dstfd, l) < 0 && errno != EEXIST)
			return phpc_error_errno(err, errno, "cannot create %s", l);
	}
	for (size_t k = 0; k < s->subdirs.n; k++) {
		_cleanup_free_ char *p = phpc_xasprintf("overlay/%s", s->subdirs.v[k]);
		if (mkdirat(dstfd, p, 0755) < 0 && errno != EEXIST)
			return phpc_error_errno(err, errno, "cannot create %s", p);
	}
	return 0;
}

/* The commit: layers, big data and squash file (tmp_squash, unless NULL: in
 * place already) in place, then the layers' index, then the image record
 * last, all under the squash store's locks. */
static int commit(const struct phpc_migrate_req *req, struct source *s, const char *tmp_squash,
                  const char *squash, struct phpc_error **err)
{
	struct phpc_store dst;
	int r = phpc_store_open(req->dst_dir, true, &dst, err);
	if (r < 0)
		return r;
	for (size_t k = 0; k < json_object_array_length(s->layers); k++) {
		struct json_object *l = json_object_array_get_idx(s->layers, k);
		if (phpc_records_find(dst.layers, phpc_json_str(l, "id")) < 0)
			json_object_array_add(dst.layers, json_object_get(l));
	}
	r = place_layers(dst.dirfd, s, err);
	_cleanup_free_ char *bd = phpc_xasprintf("overlay-images/%s", req->image_id);
	if (r == 0 && renameat(dst.dirfd, s->staged_bigdata, dst.dirfd, bd) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			r = phpc_error_errno(err, errno, "cannot move %s into place", bd);
		phpc_rm_rf_at(dst.dirfd, s->staged_bigdata);
	}
	if (r == 0 && tmp_squash && renameat(dst.dirfd, tmp_squash, dst.dirfd, squash) < 0)
		r = phpc_error_errno(err, errno, "cannot move %s into place", squash);
	if (r == 0)
		r = phpc_store_save_layers(&dst, err);
	if (r == 0) {
		int i = phpc_records_find(dst.images, req->image_id);
		if (i < 0) {
			json_object_array_add(dst.images, json_object_get(s->image));
			i = (int)json_object_array_length(dst.images) - 1;
		}
		struct json_object *names = NULL;
		json_object_object_get_ex(s->image, "names", &names);
		merge_names(dst.images, i, names);
		r = phpc_store_save_images(&dst, err);
	}
	phpc_store_close(&dst);
	return r;
}

/* Already there (with its squash file): only the names may be new (#108, #161). */
static int update_if_present(const struct phpc_migrate_req *req, struct json_object *names,
                             const char *squash, bool *present, struct phpc_error **err)
{
	struct phpc_store dst;
	*present = false;
	int r = phpc_store_open(req->dst_dir, true, &dst, err);
	if (r < 0)
		return r;
	int i = phpc_records_find(dst.images, req->image_id);
	if (i >= 0 && faccessat(dst.dirfd, squash, F_OK, 0) == 0) {
		*present = true;
		merge_names(dst.images, i, names);
		r = phpc_store_save_images(&dst, err);
	}
	phpc_store_close(&dst);
	return r;
}

int phpc_migrate(const struct phpc_migrate_req *req, bool *already, struct phpc_error **err)
{
	struct source s = {0};
	*already = false;
	int r = phpc_store_init(req->dst_dir, err);
	_cleanup_close_ int dstfd =
	    r < 0 ? -1 : open(req->dst_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && dstfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", req->dst_dir);
	if (r == 0)
		r = read_source(req, dstfd, &s, err);
	_cleanup_free_ char *squash = NULL, *tmp = NULL;
	if (r == 0) {
		squash = phpc_xasprintf("overlay/l/%s.squash", s.links.v[0]);
		tmp = phpc_xasprintf("overlay/l/.%s.squash.tmp.%ld", s.links.v[0], (long)getpid());
		struct json_object *names = NULL;
		json_object_object_get_ex(s.image, "names", &names);
		r = update_if_present(req, names, squash, already, err);
	}
	if (r == 0 && !*already) {
		/* Built outside the lock (it takes a while) into a temp file that
		 * only the commit renames into place. */
		_cleanup_free_ char *out = phpc_xasprintf("%s/%s", req->dst_dir, tmp);
		/* an earlier, interrupted run may have got this far */
		bool have = faccessat(dstfd, squash, F_OK, 0) == 0;
		unlinkat(dstfd, tmp, 0);
		if (!have)
			r = req->build(req->data, req->image_id, s.layer_dir, out, err);
		if (r == 0)
			r = commit(req, &s, have ? NULL : tmp, squash, err);
		unlinkat(dstfd, tmp, 0);
	}
	if (s.staged_bigdata)
		phpc_rm_rf_at(dstfd, s.staged_bigdata);
	source_clear(&s);
	if (r < 0)
		return phpc_error_prefix(err, "migrating %s", req->image_id);
	return 0;
}

static bool layer_used(struct json_object *images, struct json_object *layers, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(images); i++) {
		const char *top = phpc_json_str(json_object_array_get_idx(images, i), "layer");
		struct phpc_strv chain = {0};
		if (top)
			phpc_layer_chain(layers, top, &chain, NULL);
		bool used = phpc_strv_contains(chain.v, id);
		phpc_strv_clear(&chain);
		if (used)
			return true;
	}
	return false;
}

/* Deletes an unused layer's files; its record is already gone. */
static void remove_layer_files(int dfd, const char *id)
{
	_cleanup_free_ char *link = NULL;
	if (read_link_name(dfd, id, &link, NULL) == 0 && *link && !strchr(link, '/')) {
		_cleanup_free_ char *l = phpc_xasprintf("overlay/l/%s", link);
		_cleanup_free_ char *sq = phpc_xasprintf("overlay/l/%s.squash", link);
		unlinkat(dfd, l, 0);
		unlinkat(dfd, sq, 0);
	}
	_cleanup_free_ char *d = phpc_xasprintf("overlay/%s", id);
	_cleanup_free_ char *ts = phpc_xasprintf("overlay-layers/%s.tar-split.gz", id);
	phpc_rm_rf_at(dfd, d);
	unlinkat(dfd, ts, 0);
}

static int remove_image(struct phpc_store *st, int idx, struct phpc_strv *notes,
                        struct phpc_error **err)
{
	_cleanup_free_ char *id =
	    phpc_xstrdup(phpc_json_str(json_object_array_get_idx(st->images, (size_t)idx), "id"));
	/* the record first: podman never sees an image whose files are gone */
	json_object_array_del_idx(st->images, (size_t)idx, 1);
	int r = phpc_store_save_images(st, err);
	if (r < 0)
		return r;
	struct phpc_strv unused = {0};
	for (size_t i = 0; i < json_object_array_length(st->layers); i++) {
		const char *lid = phpc_json_str(json_object_array_get_idx(st->layers, i), "id");
		if (lid && !layer_used(st->images, st->layers, lid))
			phpc_strv_add(&unused, lid);
	}
	for (size_t i = 0; i < unused.n; i++)
		json_object_array_del_idx(st->layers,
		                          (size_t)phpc_records_find(st->layers, unused.v[i]), 1);
	if (unused.n)
		r = phpc_store_save_layers(st, err);
	for (size_t i = 0; r == 0 && i < unused.n; i++)
		remove_layer_files(st->dirfd, unused.v[i]);
	_cleanup_free_ char *bd = phpc_xasprintf("overlay-images/%s", id);
	phpc_rm_rf_at(st->dirfd, bd);
	if (notes)
		phpc_strv_addf(notes, "removed %s and %zu unused layer(s)", id, unused.n);
	phpc_strv_clear(&unused);
	return r;
}

int phpc_rmsqi(const char *dst_dir, const char *name, struct phpc_strv *notes,
               struct phpc_error **err)
{
	struct stat sb;
	_cleanup_free_ char *index = phpc_xasprintf("%s/overlay-images/images.json", dst_dir);
	if (stat(index, &sb) < 0)
		return phpc_error_set(err, ENOENT,
		                      "image \"%s\" not found: there is no squash store in %s",
		                      name, dst_dir);
	struct phpc_store st;
	int r = phpc_store_open(dst_dir, true, &st, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *matched = NULL;
	int idx = phpc_images_lookup(st.images, name, &matched, err);
	if (idx < 0) {
		r = phpc_error_prefix(err, "squash store %s", dst_dir);
	} else {
		struct json_object *img = json_object_array_get_idx(st.images, (size_t)idx), *names;
		size_t nn = json_object_object_get_ex(img, "names", &names) &&
		                    json_object_is_type(names, json_type_array)
		                ? json_object_array_length(names)
		                : 0;
		if (matched && nn > 1) {
			/* like podman rmi: a name of an image with others is untagged */
			struct json_object *one = json_object_new_array();
			json_object_array_add(one, json_object_new_string(matched));
			phpc_images_drop_names(st.images, -1, one);
			json_object_put(one);
			r = phpc_store_save_images(&st, err);
			if (notes)
				phpc_strv_addf(notes, "untagged %s", matched);
		} else {
			r = remove_image(&st, idx, notes, err);
		}
	}
	phpc_store_close(&st);
	return r;
}
