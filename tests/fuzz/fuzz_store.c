/* The JSON indexes of containers/storage overlay stores: the squash store
 * (and the local store it is filled from) and the containers of the local
 * store. The input is overlay-images/images.json, a NUL byte,
 * overlay-layers/layers.json, a NUL byte, overlay-containers/containers.json
 * (a missing part is a missing file). They are read through
 * phpc_store_open and phpc_store_containers_using from a store in a
 * temporary directory (read-only: nothing is written but these files), then
 * looked up as podman-hpc's squash commands do. */
#include "fuzz.h"
#include "fsutil.h"
#include "jsonutil.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char *store_dir;

static void remove_store(void)
{
	if (store_dir)
		phpc_rm_rf_at(AT_FDCWD, store_dir, NULL);
	free(store_dir);
	store_dir = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct phpc_error *err = NULL;
	store_dir = phpc_xasprintf("%s/phpc-fuzz-store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	_cleanup_free_ char *cdir = NULL;
	if (mkdtemp(store_dir) && phpc_store_init(store_dir, &err) == 0) {
		cdir = phpc_xasprintf("%s/overlay-containers", store_dir);
		if (mkdir(cdir, 0755) == 0) {
			atexit(remove_store);
			return 0;
		}
	}
	fprintf(stderr, "fuzz_store: cannot make a store in %s: %s\n", store_dir,
	        err ? err->msg : strerror(errno));
	phpc_error_free(err);
	remove_store();
	exit(1);
}

/* Writes a file of the store; NULL: removes it. */
static void put(const char *name, const char *text)
{
	_cleanup_free_ char *path = phpc_xasprintf("%s/%s", store_dir, name);
	/* a new file each time: ext4 flushes a file that was truncated and
	 * rewritten when it is closed, which slows the run a hundredfold */
	unlink(path);
	if (!text)
		return;
	size_t len = strlen(text);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "fuzz_store: cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
}

static void lookup(struct json_object *images, const char *name)
{
	struct phpc_error *err = NULL;
	char *matched = NULL;
	phpc_images_lookup(images, name, &matched, &err);
	free(matched);
	phpc_error_free(err);
}

static void use_image(struct phpc_store *s, size_t i)
{
	struct json_object *img = json_object_array_get_idx(s->images, i), *names = NULL;
	const char *id = phpc_json_str(img, "id"), *top = phpc_json_str(img, "layer");
	struct phpc_error *err = NULL;
	struct phpc_strv chain = {0};

	if (id) {
		phpc_records_find(s->images, id);
		lookup(s->images, id);
	}
	if (top)
		phpc_layer_chain(s->layers, top, &chain, &err);
	phpc_error_free(err);
	for (size_t k = 0; k < chain.n; k++)
		phpc_records_find(s->layers, chain.v[k]);
	phpc_strv_clear(&chain);
	if (json_object_object_get_ex(img, "names", &names) &&
	    json_object_is_type(names, json_type_array)) {
		for (size_t k = 0; k < json_object_array_length(names); k++) {
			const char *n = json_object_get_string(json_object_array_get_idx(names, k));
			if (n)
				lookup(s->images, n);
		}
		/* one name is never on two images: the image keeps its names */
		phpc_images_drop_names(s->images, (int)i, names);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
	    "busybox",          "docker://docker.io/library/busybox:latest",
	    "localhost/x:1",    "sha256:ab",
	    "0123456789abcdef", "registry.example.com:5000/a/b@sha256:00",
	};
	_cleanup_free_ char *text = fuzz_cstr(data, size);
	const char *part[3] = {text, NULL, NULL};
	struct phpc_error *err = NULL;
	struct phpc_store s;

	for (size_t i = 1; i < ARRAY_SIZE(part); i++) {
		size_t end = (size_t)(part[i - 1] - text) + strlen(part[i - 1]);
		if (end >= size)
			break;
		part[i] = text + end + 1;
	}
	put("overlay-images/images.json", part[0]);
	put("overlay-layers/layers.json", part[1]);
	put("overlay-containers/containers.json", part[2]);
	if (phpc_store_open(store_dir, false, &s, &err) < 0) {
		phpc_error_free(err);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		lookup(s.images, names[i]);
	for (size_t i = 0; i < json_object_array_length(s.images); i++)
		use_image(&s, i);
	/* the containers made from the first image (what removing it checks) */
	const char *id = phpc_json_str(json_object_array_get_idx(s.images, 0), "id");
	struct phpc_strv users = {0};
	phpc_store_containers_using(store_dir, id ? id : "0123456789abcdef", &users, &err);
	phpc_error_free(err);
	phpc_strv_clear(&users);
	/* what saving the indexes writes */
	json_object_to_json_string_ext(s.images,
	                               JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	json_object_to_json_string_ext(s.layers,
	                               JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	phpc_store_close(&s);
	return 0;
}
