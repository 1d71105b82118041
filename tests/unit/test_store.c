#include "testutil.h"

#include "fsutil.h"
#include "squash.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define ID1 "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define ID2 "aaaa9999bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define L1  "1111111111111111111111111111111111111111111111111111111111111111"
#define L2  "2222222222222222222222222222222222222222222222222222222222222222"

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static const char images_json[] =
    "[{\"id\":\"" ID1 "\",\"names\":[\"docker.io/library/ubuntu:22.04\",\"localhost/mine:latest\"],"
    "\"layer\":\"" L2 "\"},"
    "{\"id\":\"" ID2 "\",\"names\":[\"quay.io/x/y:1\"],\"layer\":\"" L1 "\"}]";

static void test_lookup(void **state)
{
	(void)state;
	struct json_object *imgs = parse(images_json);
	struct {
		const char *name;
		int want;
	} cases[] = {
	    {"ubuntu:22.04", 0},
	    {"docker.io/library/ubuntu:22.04", 0},
	    {"docker://ubuntu:22.04", 0},
	    {"mine", 0},
	    {"localhost/mine", 0},
	    {"quay.io/x/y:1", 1},
	    {ID2, 1},
	    {"aaaa9", 1},
	    {"sha256:aaaa1", 0},
	    {"ubuntu", -ENOENT},
	    {"y:1", -ENOENT},
	    {"aaaa", -EINVAL}, /* both IDs start so */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *m = NULL;
		struct phpc_error *err = NULL;
		int r = phpc_images_lookup(imgs, cases[i].name, &m, &err);
		if (r != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, r, cases[i].want);
		free(m);
		phpc_error_free(err);
	}
	char *m = NULL;
	assert_int_equal(phpc_images_lookup(imgs, "mine", &m, NULL), 0);
	assert_string_equal(m, "localhost/mine:latest");
	free(m);
	json_object_put(imgs);
}

static void test_chain_and_names(void **state)
{
	(void)state;
	struct json_object *layers =
	    parse("[{\"id\":\"" L1 "\"},{\"id\":\"" L2 "\",\"parent\":\"" L1 "\"}]");
	struct phpc_strv ids = {0};
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_layer_chain(layers, L2, &ids, &err), 0);
	const char *want[] = {L2, L1, NULL};
	assert_argv_equal(ids.v, want);
	phpc_strv_clear(&ids);
	assert_true(phpc_layer_chain(layers, "nope", &ids, &err) < 0);
	phpc_error_free(err);
	err = NULL;
	phpc_strv_clear(&ids);
	struct json_object *cyc =
	    parse("[{\"id\":\"a\",\"parent\":\"b\"},{\"id\":\"b\",\"parent\":\"a\"}]");
	assert_int_equal(phpc_layer_chain(cyc, "a", &ids, &err), -ELOOP);
	phpc_error_free(err);
	phpc_strv_clear(&ids);
	json_object_put(cyc);
	json_object_put(layers);

	struct json_object *imgs = parse(images_json);
	struct json_object *names = parse("[\"quay.io/x/y:1\",\"localhost/mine:latest\"]");
	phpc_images_drop_names(imgs, 1, names);
	assert_string_equal(json_object_to_json_string(json_object_object_get(
	                        json_object_array_get_idx(imgs, 0), "names")),
	                    "[ \"docker.io\\/library\\/ubuntu:22.04\" ]");
	json_object_put(names);
	json_object_put(imgs);
}

/* A corrupt index may hold null or a number among an image's names: they
 * match no name and stay (found by fuzzing: null crashed in strcmp). */
static void test_drop_names_not_strings(void **state)
{
	(void)state;
	struct json_object *imgs = parse("[{\"id\":\"a\",\"names\":[\"x\",null,7]},"
	                                 "{\"id\":\"b\",\"names\":[\"7\",null,\"x\"]}]");
	struct json_object *names =
	    json_object_object_get(json_object_array_get_idx(imgs, 1), "names");
	phpc_images_drop_names(imgs, 1, names);
	assert_string_equal(json_object_to_json_string_ext(
	                        json_object_object_get(json_object_array_get_idx(imgs, 0), "names"),
	                        JSON_C_TO_STRING_PLAIN),
	                    "[null,7]");
	json_object_put(imgs);
}

/* A one-image, two-layer local store in a temp directory. */
static char *make_source(const char *names)
{
	char tmpl[] = "/tmp/phpc-store-XXXXXX";
	char *dir = phpc_xstrdup(mkdtemp(tmpl));
	_cleanup_free_ char *cmd = phpc_xasprintf(
	    "cd %s && mkdir -p overlay-images/" ID1 " overlay-layers overlay/" L1
	    "/diff overlay/" L2 "/diff overlay/l && touch overlay-images/images.lock "
	    "overlay-layers/layers.lock && echo -n LINKONE > overlay/" L1
	    "/link && echo -n LINKTWO > overlay/" L2 "/link && echo manifest > "
	    "overlay-images/" ID1 "/manifest && echo ts > overlay-layers/" L2 ".tar-split.gz",
	    dir);
	assert_int_equal(system(cmd), 0);
	_cleanup_free_ char *imgs = phpc_xasprintf(
	    "[{\"id\":\"" ID1 "\",\"names\":%s,\"layer\":\"" L2 "\",\"created\":\"x\"}]", names);
	_cleanup_free_ char *p = phpc_xasprintf("%s/overlay-images/images.json", dir);
	FILE *f = fopen(p, "we");
	fputs(imgs, f);
	fclose(f);
	_cleanup_free_ char *lp = phpc_xasprintf("%s/overlay-layers/layers.json", dir);
	f = fopen(lp, "we");
	fputs("[{\"id\":\"" L1 "\"},{\"id\":\"" L2 "\",\"parent\":\"" L1 "\"}]", f);
	fclose(f);
	return dir;
}

static int fake_build(void *data, const char *id, const char *layer_dir, const char *out,
                      struct phpc_error **err)
{
	int *mode = data;
	assert_string_equal(id, ID1);
	assert_null(layer_dir); /* two layers: the image is mounted, not read from a layer */
	if (*mode == 1)
		return phpc_error_set(err, ENOSPC, "mksquashfs failed");
	FILE *f = fopen(out, "we");
	fputs("SQUASH", f);
	fclose(f);
	return 0;
}

static char *slurp(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = phpc_xasprintf("%s/%s", dir, rel);
	char *t = NULL;
	struct phpc_error *err = NULL;
	if (phpc_read_file(AT_FDCWD, p, &t, NULL, &err) < 0)
		fail_msg("%s", err->msg);
	return t;
}

static void test_migrate_and_rmsqi(void **state)
{
	(void)state;
	_cleanup_free_ char *src = make_source("[\"localhost/mine:latest\"]");
	_cleanup_free_ char *dst = phpc_xasprintf("%s-squash", src);
	int mode = 1;
	struct phpc_migrate_req req = {src, dst, ID1, fake_build, &mode};
	struct phpc_error *err = NULL;
	bool already = true;

	/* a failed build leaves the store as it was, without temp files */
	assert_true(phpc_migrate(&req, &already, &err) < 0);
	assert_non_null(strstr(err->msg, "mksquashfs failed"));
	phpc_error_free(err);
	err = NULL;
	_cleanup_free_ char *i0 = slurp(dst, "overlay-images/images.json");
	assert_string_equal(i0, "[]");
	_cleanup_free_ char *ls =
	    phpc_xasprintf("ls -A %s/overlay/l %s/overlay-images | grep -c '[.]tmp[.]'", dst, dst);
	assert_int_not_equal(system(ls), 0); /* grep found nothing */

	mode = 0;
	assert_int_equal(phpc_migrate(&req, &already, &err), 0);
	assert_false(already);
	_cleanup_free_ char *sq = slurp(dst, "overlay/l/LINKTWO.squash");
	assert_string_equal(sq, "SQUASH");
	_cleanup_free_ char *link = slurp(dst, "overlay/" L1 "/link");
	assert_string_equal(link, "LINKONE");
	_cleanup_free_ char *mf = slurp(dst, "overlay-images/" ID1 "/manifest");
	assert_string_equal(mf, "manifest\n");
	_cleanup_free_ char *ts = slurp(dst, "overlay-layers/" L2 ".tar-split.gz");
	assert_string_equal(ts, "ts\n");
	char target[128] = {0};
	_cleanup_free_ char *lnk = phpc_xasprintf("%s/overlay/l/LINKONE", dst);
	assert_true(readlink(lnk, target, sizeof(target) - 1) > 0);
	assert_string_equal(target, "../" L1 "/diff");
	struct phpc_store st;
	assert_int_equal(phpc_store_open(dst, false, &st, &err), 0);
	assert_int_equal(json_object_array_length(st.images), 1);
	assert_int_equal(json_object_array_length(st.layers), 2);
	phpc_store_close(&st);

	/* a new tag in the local store: migrate again only adds the name */
	_cleanup_free_ char *cmd = phpc_xasprintf(
	    "sed -i 's#\"localhost/mine:latest\"#\"localhost/mine:latest\",\"localhost/v2:b\"#' "
	    "%s/overlay-images/images.json",
	    src);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(phpc_migrate(&req, &already, &err), 0);
	assert_true(already);
	_cleanup_free_ char *i2 = slurp(dst, "overlay-images/images.json");
	assert_non_null(strstr(i2, "localhost/v2:b"));

	struct phpc_strv notes = {0};
	struct phpc_rmsqi_req rq = {.dst_dir = dst};
	assert_int_equal(phpc_rmsqi(&rq, "v2:b", &notes, &err), 0); /* untag only */
	assert_non_null(strstr(notes.v[0], "untagged"));
	assert_int_equal(phpc_rmsqi(&rq, "mine", &notes, &err), 0);
	_cleanup_free_ char *i3 = slurp(dst, "overlay-images/images.json");
	_cleanup_free_ char *l3 = slurp(dst, "overlay-layers/layers.json");
	assert_string_equal(i3, "[]");
	assert_string_equal(l3, "[]");
	_cleanup_free_ char *gone = phpc_xasprintf("%s/overlay/l/LINKTWO.squash", dst);
	assert_int_equal(access(gone, F_OK), -1);
	assert_int_equal(phpc_rmsqi(&rq, "mine", &notes, &err), -ENOENT);
	phpc_error_free(err);
	phpc_strv_clear(&notes);
	_cleanup_free_ char *rm = phpc_xasprintf("rm -rf %s %s", src, dst);
	assert_int_equal(system(rm), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_chain_and_names),
	    cmocka_unit_test(test_drop_names_not_strings),
	    cmocka_unit_test(test_migrate_and_rmsqi),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
