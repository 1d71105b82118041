#include "testutil.h"

#include "fsutil.h"
#include "store.h"
#include "storeview.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <sys/stat.h>

#define IA "aaaa1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define IB "bbbb1111bbbb2222cccc3333dddd4444eeee5555ffff6666aaaa7777bbbb8888"
#define L1 "1111111111111111111111111111111111111111111111111111111111111111"
#define L2 "2222222222222222222222222222222222222222222222222222222222222222"

struct fixture {
	char root[64];
	char *store;
	char *views;
};

static void put(const char *dir, const char *rel, const char *text)
{
	char *p = phpc_xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void mk(const char *dir, const char *rel)
{
	char *p = phpc_xasprintf("%s/%s", dir, rel);
	assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
	free(p);
}

/* A squash store as migrate leaves it: image A (localhost/a, two layers, the
 * top one squashed, a manifest), image B (docker.io/library/a, sharing
 * layer L1): "a" could mean either. */
static void make_store(struct fixture *f, const char *top_link)
{
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_init(f->store, &err), 0);
	put(f->store, "overlay-images/images.json",
	    "[{\"id\":\"" IA "\",\"names\":[\"localhost/a:latest\",\"localhost/only-a:1\"],"
	    "\"layer\":\"" L2 "\"},"
	    "{\"id\":\"" IB "\",\"names\":[\"docker.io/library/a:latest\"],\"layer\":\"" L1 "\"}]");
	put(f->store, "overlay-layers/layers.json",
	    "[{\"id\":\"" L1 "\"},{\"id\":\"" L2 "\",\"parent\":\"" L1 "\"}]");
	mk(f->store, "overlay-images/" IA);
	put(f->store, "overlay-images/" IA "/manifest", "{\"m\":1}");
	mk(f->store, "overlay/" L1);
	mk(f->store, "overlay/" L1 "/diff");
	put(f->store, "overlay/" L1 "/link", "LOW\n");
	mk(f->store, "overlay/" L2);
	mk(f->store, "overlay/" L2 "/diff");
	put(f->store, "overlay/" L2 "/link", top_link);
	put(f->store, "overlay/l/TOP.squash", "hsqs");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->root, sizeof f->root, "/tmp/phpc-unit-view-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->store = phpc_xasprintf("%s/store", f->root);
	f->views = phpc_xasprintf("%s/run/views", f->root);
	make_store(f, "TOP");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	phpc_rm_rf_at(AT_FDCWD, f->root, NULL);
	free(f->store);
	free(f->views);
	free(f);
	return 0;
}

static char *slurp(const char *dir, const char *rel)
{
	char *p = phpc_xasprintf("%s/%s", dir, rel), *text = NULL;
	struct phpc_error *err = NULL;
	int r = phpc_read_file(AT_FDCWD, p, &text, NULL, &err);
	if (r < 0)
		fail_msg("%s: %s", p, err ? err->msg : "?");
	free(p);
	return text;
}

static void test_view_of_one_image(void **state)
{
	struct fixture *f = *state;
	struct phpc_view_req req = {.store = f->store, .views = f->views, .image = "localhost/a"};
	char *view = NULL;
	bool built = false;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), 0);
	assert_non_null(view);
	assert_true(built);
	/* only that image and its layer chain */
	char *imgs = slurp(view, "overlay-images/images.json");
	assert_non_null(strstr(imgs, IA));
	assert_null(strstr(imgs, IB));
	struct json_object *a = json_tokener_parse(imgs);
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	char *lays = slurp(view, "overlay-layers/layers.json");
	assert_non_null(strstr(lays, L1));
	assert_non_null(strstr(lays, L2));
	char *man = slurp(view, "overlay-images/" IA "/manifest");
	assert_string_equal(man, "{\"m\":1}");
	char *link = slurp(view, "overlay/" L2 "/link");
	assert_string_equal(link, "TOP");
	/* the squashed layer's file is the store's, through a symlink */
	char *sq = phpc_xasprintf("%s/overlay/l/TOP.squash", view);
	char target[PATH_MAX] = {0};
	assert_true(readlink(sq, target, sizeof target - 1) > 0);
	char *want = phpc_xasprintf("%s/overlay/l/TOP.squash", f->store);
	assert_string_equal(target, want);
	char *low = phpc_xasprintf("%s/overlay/l/LOW", view);
	assert_true(readlink(low, target, sizeof target - 1) > 0);
	struct stat st;
	assert_int_equal(stat(low, &st), 0); /* ../L1/diff, in the view */
	assert_true(S_ISDIR(st.st_mode));
	/* the same view again, not rebuilt; by ID and another name too */
	char *again = NULL;
	assert_int_equal(phpc_store_view(&req, &again, &built, &err), 0);
	assert_string_equal(again, view);
	assert_false(built);
	free(again);
	req.image = "only-a:1";
	assert_int_equal(phpc_store_view(&req, &again, &built, &err), 0);
	assert_string_equal(again, view);
	free(again);
	req.image = "sha256:" IA;
	assert_int_equal(phpc_store_view(&req, &again, &built, &err), 0);
	assert_string_equal(again, view);
	free(again);
	free(imgs);
	free(lays);
	free(man);
	free(link);
	free(sq);
	free(want);
	free(low);
	free(view);
}

static void test_no_view(void **state)
{
	struct fixture *f = *state;
	char *view = NULL;
	bool built = false;
	struct phpc_error *err = NULL;
	/* not in the store; and "a", which podman could read as either image */
	const char *names[] = {"nope", "a", "docker.io/library/nope:1"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct phpc_view_req req = {
		    .store = f->store, .views = f->views, .image = names[i]};
		assert_int_equal(phpc_store_view(&req, &view, &built, &err), 0);
		assert_null(view);
		assert_null(err);
	}
	/* no store at all */
	char *none = phpc_xasprintf("%s/none", f->root);
	struct phpc_view_req req = {.store = none, .views = f->views, .image = "localhost/a"};
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), 0);
	assert_null(view);
	free(none);
	/* a relative store path is refused */
	req.store = "store";
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), -EINVAL);
	assert_non_null(err);
	phpc_error_free(err);
}

static void test_new_state_after_a_change(void **state)
{
	struct fixture *f = *state;
	struct phpc_view_req req = {.store = f->store, .views = f->views, .image = "localhost/a"};
	char *v1 = NULL, *v2 = NULL;
	bool built = false;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_view(&req, &v1, &built, &err), 0);
	/* a migrate replaces the index by rename: a new inode, a new state */
	put(f->store, "overlay-images/images.json.new",
	    "[{\"id\":\"" IA "\",\"names\":[\"localhost/renamed:latest\"],\"layer\":\"" L2 "\"}]");
	char *a = phpc_xasprintf("%s/overlay-images/images.json.new", f->store);
	char *b = phpc_xasprintf("%s/overlay-images/images.json", f->store);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(phpc_store_view(&req, &v2, &built, &err), 0);
	assert_null(v2); /* the name is gone from the store */
	req.image = "renamed";
	assert_int_equal(phpc_store_view(&req, &v2, &built, &err), 0);
	assert_non_null(v2);
	assert_true(built);
	assert_string_not_equal(v1, v2);
	/* pruning keeps the current state only */
	char *state2 = phpc_xstrndup(v2, strrchr(v2, '/') - v2);
	phpc_store_views_prune(f->views, strrchr(state2, '/') + 1, -1);
	struct stat st;
	assert_int_equal(stat(v2, &st), 0);
	assert_int_not_equal(stat(v1, &st), 0);
	free(state2);
	free(a);
	free(b);
	free(v1);
	free(v2);
}

static void test_bad_link_is_an_error(void **state)
{
	struct fixture *f = *state;
	/* a link name that would lead out of the view */
	put(f->store, "overlay/" L2 "/link", "../../x");
	struct phpc_view_req req = {.store = f->store, .views = f->views, .image = "localhost/a"};
	char *view = NULL;
	bool built = false;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), -EINVAL);
	assert_null(view);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "invalid link name"));
	phpc_error_free(err);
	/* nothing half-made is left where a later call would take it */
	char *parent = NULL;
	err = NULL;
	put(f->store, "overlay/" L2 "/link", "TOP");
	assert_int_equal(phpc_store_view(&req, &parent, &built, &err), 0);
	assert_true(built);
	free(parent);
}

static void test_not_squashed_or_broken(void **state)
{
	struct fixture *f = *state;
	struct phpc_view_req req = {.store = f->store, .views = f->views, .image = "localhost/a"};
	char *view = NULL;
	bool built = false;
	struct phpc_error *err = NULL;
	/* a FIFO for a link name: an error, not a hang */
	char *link = phpc_xasprintf("%s/overlay/" L2 "/link", f->store);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(mkfifo(link, 0644), 0);
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), -EINVAL);
	assert_null(view);
	phpc_error_free(err);
	err = NULL;
	assert_int_equal(unlink(link), 0);
	put(f->store, "overlay/" L2 "/link", "TOP");
	/* the top layer not squashed: no view, no error */
	char *sq = phpc_xasprintf("%s/overlay/l/TOP.squash", f->store);
	assert_int_equal(unlink(sq), 0);
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), 0);
	assert_null(view);
	assert_null(err);
	put(f->store, "overlay/l/TOP.squash", "hsqs");
	/* the image's big data missing: an error, no view left behind */
	char *bd = phpc_xasprintf("%s/overlay-images/" IA, f->store);
	assert_int_equal(phpc_rm_rf_at(AT_FDCWD, bd, NULL), 0);
	assert_true(phpc_store_view(&req, &view, &built, &err) < 0);
	assert_null(view);
	assert_non_null(err);
	phpc_error_free(err);
	err = NULL;
	mk(f->store, "overlay-images/" IA);
	assert_int_equal(phpc_store_view(&req, &view, &built, &err), 0);
	assert_non_null(view);
	assert_true(built);
	free(view);
	free(link);
	free(sq);
	free(bd);
}

static void test_two_stores_two_states(void **state)
{
	struct fixture *f = *state;
	/* the same files in a second store: its own state, its own view */
	char *copy = phpc_xasprintf("cp -a %s %s/store2", f->store, f->root);
	assert_int_equal(system(copy), 0);
	char *store2 = phpc_xasprintf("%s/store2", f->root);
	struct phpc_view_req a = {.store = f->store, .views = f->views, .image = "localhost/a"};
	struct phpc_view_req b = {.store = store2, .views = f->views, .image = "localhost/a"};
	char *va = NULL, *vb = NULL;
	bool built = false;
	struct phpc_error *err = NULL;
	assert_int_equal(phpc_store_view(&a, &va, &built, &err), 0);
	assert_int_equal(phpc_store_view(&b, &vb, &built, &err), 0);
	assert_string_not_equal(va, vb);
	char *sq = phpc_xasprintf("%s/overlay/l/TOP.squash", vb);
	char target[PATH_MAX] = {0};
	assert_true(readlink(sq, target, sizeof target - 1) > 0);
	assert_true(str_has_prefix(target, store2));
	/* a state used now is kept by pruning whatever its age limit */
	phpc_store_views_prune(f->views, "none", 3600);
	struct stat st;
	assert_int_equal(stat(va, &st), 0);
	assert_int_equal(stat(vb, &st), 0);
	free(copy);
	free(store2);
	free(va);
	free(vb);
	free(sq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_view_of_one_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_view, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_state_after_a_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_link_is_an_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_squashed_or_broken, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_stores_two_states, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
