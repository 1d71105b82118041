#include "squash.h"
#include "fsutil.h"
#include "jsonutil.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* What migrate takes from the local store, read under its lock. */
struct source {
	struct json_object *image;  /* the image record */
	struct json_object *layers; /* the chain's layer records, top first */
	struct phpc_strv links;     /* each layer's link name */
	struct phpc_strv subdirs;   /* "id/diff" ... directories to recreate */
	char *layer_dir;            /* the only layer's diff, for a one-layer image */
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
}

/* Reads the image, its layer chain and link names under the local store's
 * shared lock. */
static int read_source(const struct phpc_migrate_req *req, struct source *s,
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
		/* An empty "layer" would make an empty chain, without the top
		 * layer's link that names the squash file. */
		const char *top = phpc_json_str(s->image, "layer");
		r = top && *top
		        ? phpc_layer_chain(src.layers, top, &chain, err)
		        : phpc_error_set(err, EINVAL, "image %s has no layer", req->image_id);
	}
	s->layers = json_object_new_array();
	for (size_t k = 0; r == 0 && k < chain.n; k++) {
		const char *id = chain.v[k];
		int li = phpc_records_find(src.layers, id);
		json_object_array_add(
		    s->layers, json_object_get(json_object_array_get_idx(src.layers, (size_t)li)));
		char *link = NULL;
		r = phpc_store_read_link(src.dirfd, id, &link, err);
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
	}
	if (r == 0 && chain.n == 1)
		s->layer_dir = phpc_xasprintf("%s/overlay/%s/diff", req->src_dir, chain.v[0]);
	phpc_strv_clear(&chain);
	phpc_store_close(&src);
	return r;
}

/* Copies the image's small files (big data, the tar-split files the squash
 * store lacks) into the staging directory, under the local store's shared
 * lock. */
static int stage_files(const struct phpc_migrate_req *req, const struct source *s, int dstfd,
                       int stgfd, struct phpc_error **err)
{
	struct phpc_store src;
	int r = phpc_store_open(req->src_dir, false, &src, err);
	if (r < 0)
		return r;
	if (phpc_records_find(src.images, req->image_id) < 0)
		r = phpc_error_set(err, ENOENT, "image %s left the local store %s", req->image_id,
		                   req->src_dir);
	for (size_t k = 0; r == 0 && k < json_object_array_length(s->layers); k++) {
		const char *id = phpc_json_str(json_object_array_get_idx(s->layers, k), "id");
		_cleanup_free_ char *ts = phpc_xasprintf("overlay-layers/%s.tar-split.gz", id);
		_cleanup_free_ char *tn = phpc_xasprintf("%s.tar-split.gz", id);
		if (faccessat(src.dirfd, ts, F_OK, 0) == 0 && faccessat(dstfd, ts, F_OK, 0) < 0)
			r = phpc_copy_file_at(src.dirfd, ts, stgfd, tn, 0644, err);
	}
	if (r == 0) {
		_cleanup_free_ char *bd = phpc_xasprintf("overlay-images/%s", req->image_id);
		r = phpc_copy_dir_files(src.dirfd, bd, stgfd, "bigdata", err);
		if (r == -ENOENT)
			r = 0; /* an image without big data has none to copy */
	}
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
	bool list = names && json_object_is_type(names, json_type_array);
	for (size_t i = 0; list && i < json_object_array_length(names); i++) {
		struct json_object *o = json_object_array_get_idx(names, i);
		if (!json_object_is_type(o, json_type_string))
			continue; /* a corrupt entry names nothing */
		const char *n = json_object_get_string(o);
		bool dup = false;
		for (size_t j = 0; j < json_object_array_length(have); j++) {
			struct json_object *h = json_object_array_get_idx(have, j);
			dup = dup || (json_object_is_type(h, json_type_string) &&
			              streq(n, json_object_get_string(h)));
		}
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
		if (!phpc_store_is_id(id))
			return phpc_error_set(err, EINVAL, "the image's layer %zu has no valid id",
			                      k);
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

/* The commit: layers, tar-split files, big data and squash file (unless it
 * is in place already) moved from the staging directory into place, then the
 * layers' index, then the image record last, all under the squash store's
 * locks; the staging directory goes too. */
static int commit(const struct phpc_migrate_req *req, struct source *s, struct phpc_staging *stg,
                  bool have_squash, const char *squash, struct phpc_error **err)
{
	struct phpc_store dst;
	int r = phpc_store_open(req->dst_dir, true, &dst, err);
	if (r < 0)
		return r;
	for (size_t k = 0; k < json_object_array_length(s->layers); k++) {
		struct json_object *l = json_object_array_get_idx(s->layers, k);
		const char *id = phpc_json_str(l, "id");
		if (phpc_records_find(dst.layers, id) < 0)
			json_object_array_add(dst.layers, json_object_get(l));
		_cleanup_free_ char *tn = phpc_xasprintf("%s.tar-split.gz", id);
		_cleanup_free_ char *ts = phpc_xasprintf("overlay-layers/%s", tn);
		if (r == 0 && faccessat(stg->dirfd, tn, F_OK, 0) == 0 &&
		    faccessat(dst.dirfd, ts, F_OK, 0) < 0 &&
		    renameat(stg->dirfd, tn, dst.dirfd, ts) < 0)
			r = phpc_error_errno(err, errno, "cannot move %s into place", ts);
	}
	if (r == 0)
		r = place_layers(dst.dirfd, s, err);
	_cleanup_free_ char *bd = phpc_xasprintf("overlay-images/%s", req->image_id);
	if (r == 0 && renameat(stg->dirfd, "bigdata", dst.dirfd, bd) < 0 && errno != EEXIST &&
	    errno != ENOTEMPTY)
		r = phpc_error_errno(err, errno, "cannot move %s into place", bd);
	if (r == 0 && !have_squash && renameat(stg->dirfd, "squash", dst.dirfd, squash) < 0)
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
	phpc_staging_remove(dst.dirfd, stg);
	phpc_store_close(&dst);
	return r;
}

/* Under the squash store's lock: removes what killed migrates left, then
 * either finds the image there already (with its squash file: only the names
 * may be new, NERSC #108, #161) or creates this migrate's staging directory. */
static int prepare(const struct phpc_migrate_req *req, struct json_object *names,
                   const char *squash, bool *present, struct phpc_staging *stg,
                   struct phpc_error **err)
{
	struct phpc_store dst;
	*present = false;
	int r = phpc_store_open(req->dst_dir, true, &dst, err);
	if (r < 0)
		return r;
	phpc_store_sweep(&dst);
	int i = phpc_records_find(dst.images, req->image_id);
	if (i >= 0 && faccessat(dst.dirfd, squash, F_OK, 0) == 0) {
		*present = true;
		merge_names(dst.images, i, names);
		r = phpc_store_save_images(&dst, err);
	} else {
		r = phpc_staging_create(&dst, stg, err);
	}
	phpc_store_close(&dst);
	return r;
}

/* Removes a staging directory that is still there (after a failure), under
 * the store's lock so that no sweep removes it at the same time. */
static void drop_staging(const char *dir, struct phpc_staging *stg)
{
	if (!stg->name)
		return;
	struct phpc_store dst;
	if (phpc_store_open(dir, true, &dst, NULL) == 0) {
		phpc_staging_remove(dst.dirfd, stg);
		phpc_store_close(&dst);
	} else {
		_cleanup_close_ int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		phpc_staging_remove(d, stg);
	}
}

/* The squash file's name in the staging directory: created here, with the
 * store's file mode, for mksquashfs to fill. */
static int create_squash_file(struct phpc_staging *stg, struct phpc_error **err)
{
	_cleanup_close_ int fd = openat(stg->dirfd, "squash",
	                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || fchmod(fd, 0644) < 0)
		return phpc_error_errno(err, errno, "cannot create %s/squash", stg->name);
	return 0;
}

int phpc_migrate(const struct phpc_migrate_req *req, bool *already, struct phpc_error **err)
{
	struct source s = {0};
	struct phpc_staging stg = {.dirfd = -1, .lock_fd = -1};
	*already = false;
	int r = phpc_store_init(req->dst_dir, err);
	_cleanup_close_ int dstfd =
	    r < 0 ? -1 : open(req->dst_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && dstfd < 0)
		r = phpc_error_errno(err, errno, "cannot open %s", req->dst_dir);
	if (r == 0)
		r = read_source(req, &s, err);
	if (r == 0 && s.links.n == 0) {
		/* (a guard, not reached: read_source fails without a layer; the
		 * code spelt out, as the analyzer does not see error.c) */
		phpc_error_set(err, EINVAL, "image %s has no layer", req->image_id);
		r = -EINVAL;
	}
	_cleanup_free_ char *squash = NULL;
	if (r == 0) {
		squash = phpc_xasprintf("overlay/l/%s.squash", s.links.v[0]);
		struct json_object *names = NULL;
		json_object_object_get_ex(s.image, "names", &names);
		r = prepare(req, names, squash, already, &stg, err);
	}
	if (r == 0 && !*already) {
		r = stage_files(req, &s, dstfd, stg.dirfd, err);
		/* Built outside the lock (it takes a while) in the staging
		 * directory, which only the commit moves into place. An earlier,
		 * interrupted run may have put the squash file in place already. */
		bool have = r == 0 && faccessat(dstfd, squash, F_OK, 0) == 0;
		if (r == 0 && !have)
			r = create_squash_file(&stg, err);
		if (r == 0 && !have) {
			_cleanup_free_ char *out =
			    phpc_xasprintf("%s/%s/squash", req->dst_dir, stg.name);
			r = req->build(req->data, req->image_id, s.layer_dir, out, err);
		}
		if (r == 0)
			r = commit(req, &s, &stg, have, squash, err);
	}
	drop_staging(req->dst_dir, &stg);
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
	/* an id is a path component below the store: "../x" would leave it */
	if (!phpc_store_is_id(id))
		return;
	/* each directory opened without following a link: a store's "overlay"
	 * that is a symlink must not lead the removal elsewhere */
	_cleanup_close_ int ov =
	    openat(dfd, "overlay", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lfd =
	    ov < 0 ? -1 : openat(ov, "l", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lay =
	    openat(dfd, "overlay-layers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_free_ char *link = NULL;
	if (lfd >= 0 && phpc_store_read_link(dfd, id, &link, NULL) == 0 &&
	    phpc_store_link_ok(link)) {
		_cleanup_free_ char *sq = phpc_xasprintf("%s.squash", link);
		unlinkat(lfd, link, 0);
		unlinkat(lfd, sq, 0);
	}
	if (ov >= 0)
		phpc_rm_rf_at(ov, id, NULL);
	_cleanup_free_ char *ts = phpc_xasprintf("%s.tar-split.gz", id);
	if (lay >= 0)
		unlinkat(lay, ts, 0);
}

static int remove_image(struct phpc_store *st, int idx, struct phpc_strv *notes,
                        struct phpc_error **err)
{
	const char *rid = phpc_json_str(json_object_array_get_idx(st->images, (size_t)idx), "id");
	_cleanup_free_ char *id = phpc_xstrdup(rid ? rid : "");
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
	_cleanup_close_ int imgs =
	    openat(st->dirfd, "overlay-images", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (imgs >= 0 && phpc_store_is_id(id))
		phpc_rm_rf_at(imgs, id, NULL);
	if (notes)
		phpc_strv_addf(notes, "removed %s and %zu unused layer(s)", id, unused.n);
	phpc_strv_clear(&unused);
	return r;
}

/* The image's entry and whether removing name only untags it (like podman
 * rmi: a name of an image with others). */
static int rmsqi_target(struct phpc_store *st, const char *name, char **matched, bool *untag,
                        struct phpc_error **err)
{
	int idx = phpc_images_lookup(st->images, name, matched, err);
	if (idx < 0)
		return phpc_error_prefix(err, "squash store %s", st->dir);
	struct json_object *img = json_object_array_get_idx(st->images, (size_t)idx), *names;
	size_t nn = json_object_object_get_ex(img, "names", &names) &&
	                    json_object_is_type(names, json_type_array)
	                ? json_object_array_length(names)
	                : 0;
	*untag = *matched && nn > 1;
	return idx;
}

/* The containers of the local store (read under its own locks) that use the
 * squashed image id: made from it, while the local store does not hold the
 * image itself (a container's layers are found in the local store first, so
 * that its containers use the local copy, which podman's rmi protects). */
static int local_users(const struct phpc_rmsqi_req *req, const char *id, struct phpc_strv *users,
                       struct phpc_error **err)
{
	if (!req->graph_root)
		return 0;
	bool has = false;
	int r = phpc_store_has_image(req->graph_root, id, &has, err);
	if (r < 0 || has)
		return r;
	r = phpc_store_containers_using(req->graph_root, id, users, err);
	if (r == 0 && req->run_root && !streq(req->run_root, req->graph_root))
		r = phpc_store_containers_using(req->run_root, id, users, err);
	return r;
}

int phpc_rmsqi(const struct phpc_rmsqi_req *req, const char *name, struct phpc_strv *notes,
               struct phpc_error **err)
{
	struct stat sb;
	_cleanup_free_ char *index = phpc_xasprintf("%s/overlay-images/images.json", req->dst_dir);
	if (stat(index, &sb) < 0)
		return phpc_error_set(err, ENOENT,
		                      "image \"%s\" not found: there is no squash store in %s",
		                      name, req->dst_dir);
	/* Which image, and who uses it: the local store is read without the
	 * squash store's lock held, so that no lock of one store is awaited
	 * while one of the other is held. */
	struct phpc_store st;
	int r = phpc_store_open(req->dst_dir, false, &st, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *matched = NULL, *id = NULL;
	bool untag = false;
	r = rmsqi_target(&st, name, &matched, &untag, err);
	if (r >= 0)
		id = phpc_xstrdup(
		    phpc_json_str(json_object_array_get_idx(st.images, (size_t)r), "id"));
	phpc_store_close(&st);
	if (r < 0)
		return r;
	_cleanup_strv_ struct phpc_strv users = {0};
	r = untag ? 0 : local_users(req, id, &users, err);
	_cleanup_free_ char *who = phpc_strv_join(users.v, ", ");
	if (r == 0 && users.n && !req->force)
		r = phpc_error_set(err, EBUSY,
		                   "image \"%s\" (%.12s) is used by container%s %s: remove %s "
		                   "first, or use podman-hpc rmsqi --force",
		                   name, id, users.n > 1 ? "s" : "", who,
		                   users.n > 1 ? "them" : "it");
	if (r < 0)
		return r;

	r = phpc_store_open(req->dst_dir, true, &st, err);
	if (r < 0)
		return r;
	phpc_store_sweep(&st);
	_cleanup_free_ char *matched2 = NULL;
	bool untag2 = false;
	int idx = rmsqi_target(&st, name, &matched2, &untag2, err);
	if (idx >= 0 &&
	    (!streq(id, phpc_json_str(json_object_array_get_idx(st.images, (size_t)idx), "id")) ||
	     (untag && !untag2)))
		idx = phpc_error_set(err, EAGAIN,
		                     "image \"%s\" changed in the squash store %s meanwhile: run "
		                     "rmsqi again",
		                     name, req->dst_dir);
	if (idx < 0) {
		r = idx;
	} else if (untag2) {
		struct json_object *one = json_object_new_array();
		json_object_array_add(one, json_object_new_string(matched2));
		phpc_images_drop_names(st.images, -1, one);
		json_object_put(one);
		r = phpc_store_save_images(&st, err);
		if (notes)
			phpc_strv_addf(notes, "untagged %s", matched2);
	} else {
		r = remove_image(&st, idx, notes, err);
		if (r == 0 && notes && users.n)
			phpc_strv_addf(notes, "still used by %s, which cannot start again", who);
	}
	phpc_store_close(&st);
	return r;
}

/* Why a guard: mksquashfs runs inside `podman unshare`, whose podman forks
 * a second podman in the user namespace, which forks the command. A
 * PR_SET_PDEATHSIG set by podman-hpc on its child reaches only the outer
 * podman; killing podman-hpc (or the outer podman) leaves the command
 * running. The guard runs inside, as the parent of mksquashfs: its child
 * dies with it (PDEATHSIG), and it kills the child when podman-hpc dies,
 * which it learns from its stdin, a pipe whose only write end podman-hpc
 * holds (podman passes stdin through): the end of the pipe is the death of
 * podman-hpc, however it died. */
int phpc_run_guarded(char *const *argv, char *const *envp, int watch_fd, int *status,
                     struct phpc_error **err)
{
	/* an ignored SIGCHLD (inherited) would reap the child for us */
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old_act;
	sigaction(SIGCHLD, &dfl, &old_act);
	sigset_t chld, old_mask;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	int r = 0;
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t parent = getpid(), pid = -1;
	if (sfd < 0 || null < 0)
		r = phpc_error_errno(err, errno, "cannot run %s", argv[0]);
	if (r == 0 && (pid = fork()) < 0)
		r = phpc_error_errno(err, errno, "cannot run %s", argv[0]);
	if (pid == 0) {
		/* only async-signal-safe calls until execve */
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		/* the parent may have died before prctl: then getppid() changed */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(125);
		if (dup2(null, STDIN_FILENO) < 0)
			_exit(125);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	bool watching = true;
	while (r == 0) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r = phpc_error_errno(err, errno, "waiting for %s", argv[0]);
			break;
		}
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
		                      {.fd = watch_fd, .events = POLLIN}};
		if (poll(p, watching ? 2 : 1, -1) < 0 && errno != EINTR) {
			r = phpc_error_errno(err, errno, "waiting for %s", argv[0]);
			break;
		}
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) > 0)
			;
		if (watching && p[1].revents) {
			char buf[256];
			ssize_t n = read(watch_fd, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				kill(pid, SIGKILL);
				watching = false;
			}
		}
	}
	if (r < 0 && pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	}
	if (sfd >= 0)
		close(sfd);
	if (null >= 0)
		close(null);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGCHLD, &old_act, NULL);
	return r;
}
