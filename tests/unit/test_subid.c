#include "testutil.h"

#include "subid.h"

#include <errno.h>
#include <inttypes.h>

static const struct phpc_subid_params defaults = {
    .scheme = PHPC_SUBID_MULTIPLY,
    .multiplier = PHPC_SUBID_DEFAULT_MULTIPLIER,
    .base = PHPC_SUBID_DEFAULT_BASE,
    .count = PHPC_SUBID_DEFAULT_COUNT,
    .uid_min = PHPC_SUBID_DEFAULT_UID_MIN,
    .uid_max = PHPC_SUBID_DEFAULT_UID_MAX,
};

static void parse(const char *name, const char *text, struct phpc_subid_file *f)
{
	phpc_subid_parse(name, text, strlen(text), f);
}

/* Whether some string of v contains every one of the NULL-ended needles. */
static bool has_line(const struct phpc_strv *v, const char *const *needles)
{
	for (size_t i = 0; i < v->n; i++) {
		bool all = true;
		for (const char *const *s = needles; *s && all; s++)
			all = strstr(v->v[i], *s) != NULL;
		if (all)
			return true;
	}
	return false;
}

#define assert_has_line(sv, ...)                                            \
	do {                                                                \
		const char *const needles_[] = {__VA_ARGS__, NULL};         \
		if (!has_line((sv), needles_)) {                            \
			for (size_t i_ = 0; i_ < (sv)->n; i_++)             \
				print_message("  line: %s\n", (sv)->v[i_]); \
			fail_msg("no line with %s", needles_[0]);           \
		}                                                           \
	} while (0)

static int check(const struct phpc_subid_params *p, char **msg)
{
	struct phpc_error *err = NULL;
	int r = phpc_subid_params_check(p, &err);
	*msg = err ? phpc_xstrdup(err->msg) : NULL;
	phpc_error_free(err);
	return r;
}

/* ---- parsing ------------------------------------------------------------------------------ */

static void test_parse_entries_and_others(void **state)
{
	(void)state;
	struct phpc_subid_file f;
	parse("/etc/subuid",
	      "# managed by hand\n"
	      "alice:100000:65536\n"
	      "\n"
	      "   \t\n"
	      "+nis\n"
	      "bob:0x30000:0200\n"    /* hex start, octal count */
	      "junk\n"                /* line 7 */
	      "carol:1:\n"            /* empty count */
	      ":1:2\n"                /* empty owner */
	      "dave:12a:5\n"          /* not a number */
	      "erin:4294967295:2\n"   /* past 2^32 */
	      "frank:5:0\n"           /* count 0 */
	      "gina:7:8:extra\n"      /* a fourth field */
	      "crlf:9:10\r\n"         /* \r makes it no number */
	      "1000:  +200000:65536", /* strtoul's white space and '+'; no final '\n' */
	      &f);
	assert_int_equal(f.lines, 15);
	assert_int_equal(f.n, 6);
	assert_string_equal(f.v[0].owner, "alice");
	assert_int_equal(f.v[0].start, 100000);
	assert_int_equal(f.v[0].count, 65536);
	assert_int_equal(f.v[0].line, 2);
	assert_string_equal(f.v[1].owner, "bob");
	assert_int_equal(f.v[1].start, 0x30000);
	assert_int_equal(f.v[1].count, 128);
	assert_string_equal(f.v[2].owner, "erin");
	assert_string_equal(f.v[3].owner, "frank");
	assert_string_equal(f.v[4].owner, "gina");
	assert_int_equal(f.v[4].count, 8);
	assert_string_equal(f.v[5].owner, "1000");
	assert_int_equal(f.v[5].start, 200000);
	assert_int_equal(f.v[5].line, 15);

	assert_has_line(&f.warnings, "/etc/subuid line 6:", "octal: 128");
	/* newuidmap reads 0x; containers/storage's own parser does not */
	assert_has_line(&f.warnings, "/etc/subuid line 6: bob's start is hexadecimal",
	                "a podman built without libsubid does not");
	assert_has_line(&f.warnings, "line 15: 1000's start is preceded by white space");
	/* lines that are not three fields make podman refuse the whole file:
	 * a NIS line, a line of one field, a fourth field */
	assert_has_line(&f.broken, "/etc/subuid line 5:", "\"+nis\" is not three fields",
	                "podman (containers/storage) refuses the whole file");
	assert_has_line(&f.broken, "line 7:", "\"junk\" is not three fields");
	assert_has_line(&f.broken, "line 13:", "\"gina:7:8:extra\" is not three fields");
	assert_int_equal(f.broken.n, 3);
	/* three fields podman reads, newuidmap does not */
	assert_has_line(&f.warnings, "line 8:", "not owner:start:count",
	                "newuidmap ignores it, and podman fails for the user it names");
	assert_has_line(&f.warnings, "line 9:", "not owner:start:count");
	assert_has_line(&f.warnings, "line 10:", "not a number");
	assert_has_line(&f.warnings, "line 11:", "erin's block 4294967295-4294967296",
	                "ends past 4294967295");
	assert_has_line(&f.warnings, "line 12:", "count of 0");
	/* the \r is shown escaped, not sent to a terminal; podman trims it */
	assert_has_line(&f.warnings, "line 14:", "crlf:9:10\\x0d", "not a number");
	assert_has_line(&f.warnings, "line 15:", "no newline at its end", "Non-text file",
	                "the newline is added");
	/* comments and blank lines are not warned about */
	assert_int_equal(f.warnings.n, 10);
	phpc_subid_file_clear(&f);

	/* what podman skips: blank lines (Unicode spaces too), '#' after white
	 * space; what it trims around three fields, which then reads as another
	 * owner's than newuidmap's */
	parse("f", " \xc2\xa0\n  # note\n\talice:1:2\n", &f);
	assert_int_equal(f.broken.n, 0);
	/* (to newuidmap, lines that are not entries; to podman, nobody's) */
	assert_has_line(&f.warnings, "f line 1:", "newuidmap ignores it; kept as it is");
	assert_has_line(&f.warnings, "f line 2:", "newuidmap ignores it; kept as it is");
	assert_has_line(&f.warnings, "f line 3: the owner \"\\x09alice\" starts with white "
	                             "space, which podman trims and newuidmap does not");
	phpc_subid_file_clear(&f);
}

static void test_parse_nul_and_long_lines(void **state)
{
	(void)state;
	static const char text[] = "alice:1:2\0garbage\nbob:3:4\n";
	struct phpc_subid_file f;
	phpc_subid_parse("f", text, sizeof(text) - 1, &f);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].owner, "alice");
	assert_int_equal(f.v[0].count, 2);
	assert_has_line(&f.broken, "f line 1:", "NUL byte", "refuse the whole file",
	                "Non-text file");
	assert_int_equal(f.broken.n, 1);
	/* the text is kept whole, NUL included */
	assert_int_equal(f.len, sizeof(text) - 1);
	assert_memory_equal(f.text, text, sizeof(text) - 1);
	phpc_subid_file_clear(&f);

	char *big = phpc_xmalloc(2100);
	memset(big, 'a', 2000);
	memcpy(big + 2000, ":1:2\n", 6);
	parse("f", big, &f);
	assert_int_equal(f.n, 0);
	assert_has_line(&f.warnings, "longer than the 1023 bytes");
	assert_int_equal(f.broken.n, 0);
	phpc_subid_file_clear(&f);
	free(big);

	/* past podman's 64 KiB a line: it stops reading there */
	big = phpc_xmalloc(70000);
	memset(big, 'a', 69990);
	memcpy(big + 69990, ":1:2\n", 6);
	parse("f", big, &f);
	assert_has_line(&f.broken, "f line 1:", "longer than the 64 KiB podman reads");
	assert_int_equal(f.broken.n, 1);
	phpc_subid_file_clear(&f);
	free(big);
}

static void test_parse_number_edges(void **state)
{
	(void)state;
	struct phpc_subid_file f;
	parse("f",
	      "a:18446744073709551615:1\n" /* UINT64_MAX: read, past 2^32 */
	      "b:18446744073709551616:1\n" /* past what strtoul reads */
	      "c:0x:1\n"
	      "d:08:1\n"
	      "e:-1:1\n" /* strtoul negates: UINT64_MAX */
	      "f:0:1\n"
	      "g:100:-1\n"
	      "h:0:0\n",
	      &f);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.v[0].owner, "a");
	assert_true(f.v[0].start == UINT64_MAX);
	assert_string_equal(f.v[1].owner, "e");
	assert_true(f.v[1].start == UINT64_MAX);
	assert_string_equal(f.v[2].owner, "f");
	assert_int_equal(f.v[2].start, 0);
	assert_true(f.v[3].count == UINT64_MAX);
	/* what newuidmap before shadow-utils 4.15 makes of them: every id */
	assert_has_line(&f.warnings, "f line 7: g's count is negative",
	                "reads it as 18446744073709551615", "remove the line");
	assert_has_line(&f.warnings, "f line 8: h has a start and a count of 0",
	                "every id, root's included");
	phpc_subid_file_clear(&f);
}

/* ---- parameters and blocks ---------------------------------------------------------------- */

static void test_params_defaults_ok(void **state)
{
	(void)state;
	char *msg;
	assert_int_equal(check(&defaults, &msg), 0);
	assert_null(msg);
	struct phpc_subid_params p = defaults;
	p.scheme = PHPC_SUBID_OFFSET;
	assert_int_equal(check(&p, &msg), 0);
	/* a multiplier equal to the count: adjacent blocks touch, do not overlap */
	p = defaults;
	p.multiplier = p.count = 10000;
	assert_int_equal(check(&p, &msg), 0);
}

static void test_params_multiplier_below_count(void **state)
{
	(void)state;
	struct phpc_subid_params p = defaults;
	p.multiplier = 10000; /* and 65536 ids: uid u's block runs into u+1's */
	char *msg;
	assert_int_equal(check(&p, &msg), -EINVAL);
	assert_non_null(strstr(msg, "--multiplier 10000 is smaller than --count 65536"));
	assert_non_null(strstr(msg, "overlap"));
	assert_non_null(strstr(msg, "--count 10000"));
	assert_non_null(strstr(msg, "--scheme offset"));
	free(msg);
	uint64_t a, b;
	assert_true(phpc_subid_block(&p, 1000, &a));
	assert_true(phpc_subid_block(&p, 1001, &b));
	assert_true(a + p.count > b); /* what the refusal is about */
}

static void test_params_refusals(void **state)
{
	(void)state;
	static const struct {
		uint64_t count, multiplier, offset, base;
		enum phpc_subid_scheme scheme;
		uint32_t lo, hi;
		const char *msg;
	} cases[] = {
	    {0, 65536, 0, 0, PHPC_SUBID_MULTIPLY, 1000, 60000, "--count 0"},
	    {PHPC_SUBID_LIMIT + 1, PHPC_SUBID_LIMIT + 1, 0, 0, PHPC_SUBID_MULTIPLY, 1000, 60000,
	     "--count 4294967297"},
	    {65536, 65536, 0, 0, PHPC_SUBID_MULTIPLY, 2000, 1000, "--uid-min 2000 is above"},
	    /* blocks that would hold the uids of users in range */
	    {10, 10, 0, 0, PHPC_SUBID_MULTIPLY, 1000, 60000, "would start at 10000"},
	    {65536, 65536, 0, 50000, PHPC_SUBID_OFFSET, 1000, 60000, "raise --base above 60000"},
	    /* nobody's block fits */
	    {65536, 65536, 0, 0, PHPC_SUBID_MULTIPLY, 70000, 80000, "even the block of uid 70000"},
	    {65536, 65536, 0, PHPC_SUBID_LIMIT - 100, PHPC_SUBID_OFFSET, 1000, 60000,
	     "even the block"},
	    {65536, PHPC_SUBID_LIMIT + 1, 0, 0, PHPC_SUBID_MULTIPLY, 1000, 60000,
	     "give values below 4294967296"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct phpc_subid_params p = {
		    .scheme = cases[i].scheme,
		    .multiplier = cases[i].multiplier,
		    .offset = cases[i].offset,
		    .base = cases[i].base,
		    .count = cases[i].count,
		    .uid_min = cases[i].lo,
		    .uid_max = cases[i].hi,
		};
		char *msg;
		if (check(&p, &msg) != -EINVAL)
			fail_msg("case %zu accepted", i);
		if (!strstr(msg, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, cases[i].msg);
		free(msg);
	}
}

static void test_block_edges_at_2_32(void **state)
{
	(void)state;
	uint64_t s;
	/* multiply, 65536 x 65536: uid 65535's block ends exactly at 2^32 */
	assert_true(phpc_subid_block(&defaults, 65535, &s));
	assert_int_equal(s, 4294901760ULL);
	assert_false(phpc_subid_block(&defaults, 65536, &s));
	assert_int_equal(s, PHPC_SUBID_LIMIT);
	/* the largest uid: refused, not wrapped around */
	assert_false(phpc_subid_block(&defaults, UINT32_MAX - 1, &s));

	struct phpc_subid_params p = defaults;
	p.offset = 65535; /* uid 65534 now ends at 2^32 - 1, 65535 one past */
	assert_true(phpc_subid_block(&p, 65534, &s));
	assert_false(phpc_subid_block(&p, 65535, &s));

	/* offset: base + (uid - uid_min) * count + count <= 2^32 */
	p = defaults;
	p.scheme = PHPC_SUBID_OFFSET;
	p.uid_min = 10000;
	p.uid_max = 99999;
	p.base = 100000;
	uint64_t k = (PHPC_SUBID_LIMIT - p.base) / p.count - 1; /* the last block that fits */
	assert_true(phpc_subid_block(&p, (uint32_t)(p.uid_min + k), &s));
	assert_true(s + p.count <= PHPC_SUBID_LIMIT);
	assert_false(phpc_subid_block(&p, (uint32_t)(p.uid_min + k + 1), &s));
	/* exactly at the limit */
	p.base = PHPC_SUBID_LIMIT - 2 * p.count;
	assert_true(phpc_subid_block(&p, p.uid_min + 1, &s));
	assert_int_equal(s + p.count, PHPC_SUBID_LIMIT);
	assert_false(phpc_subid_block(&p, p.uid_min + 2, &s));
	/* 5-digit uids that multiply cannot serve fit densely */
	p = defaults;
	p.scheme = PHPC_SUBID_OFFSET;
	p.uid_min = 10000;
	p.uid_max = 70000;
	char *msg;
	assert_int_equal(check(&p, &msg), 0);
	assert_true(phpc_subid_block(&p, 70000, &s));
	assert_false(phpc_subid_block(&defaults, 70000, &s));
}

/* ---- plans -------------------------------------------------------------------------------- */

struct world {
	struct phpc_subid_file u, g;
	struct phpc_subid_plan plan;
};

static void plan_groups(struct world *w, const char *subuid, const char *subgid,
                        const struct phpc_subid_user *users, size_t n,
                        const struct phpc_subid_group *groups, size_t n_groups,
                        const struct phpc_subid_params *p)
{
	parse("/etc/subuid", subuid, &w->u);
	parse("/etc/subgid", subgid, &w->g);
	phpc_subid_plan(&w->u, &w->g, users, n, groups, n_groups, p, &w->plan);
}

static void plan(struct world *w, const char *subuid, const char *subgid,
                 const struct phpc_subid_user *users, size_t n, const struct phpc_subid_params *p)
{
	plan_groups(w, subuid, subgid, users, n, NULL, 0, p);
}

static void world_clear(struct world *w)
{
	phpc_subid_plan_clear(&w->plan);
	phpc_subid_file_clear(&w->u);
	phpc_subid_file_clear(&w->g);
}

static void test_plan_fresh(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"root", 0, 0},        {"nobody", 65534, 65534}, {"bob", 1002, 1002},
	    {"alice", 1001, 1001}, {"max", 60000, 60000},    {"over", 60001, 60001},
	};
	struct world w;
	plan(&w, "", "", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.users, 3);
	assert_int_equal(w.plan.n_uid_new, 3);
	assert_int_equal(w.plan.n_gid_new, 3);
	/* in uid order, whatever the order of NSS */
	assert_string_equal(w.plan.uid_new[0].name, "alice");
	assert_int_equal(w.plan.uid_new[0].start, 1001ULL * 65536);
	assert_string_equal(w.plan.uid_new[1].name, "bob");
	assert_string_equal(w.plan.uid_new[2].name, "max");
	assert_int_equal(w.plan.gid_new[2].start, 60000ULL * 65536);
	assert_int_equal(w.plan.left_out.n, 0);
	assert_int_equal(w.plan.overlaps.n, 0);

	size_t len;
	char *text = phpc_subid_render(&w.u, w.plan.uid_new, w.plan.n_uid_new, &len);
	assert_string_equal(text, "alice:65601536:65536\n"
	                          "bob:65667072:65536\n"
	                          "max:3932160000:65536\n");
	free(text);
	world_clear(&w);
}

static void test_plan_present_by_name_or_number(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 1002},   {"carol", 1003, 1003},
	    {"dave", 1004, 1004},  {"alias", 1005, 1005}, {"erin", 1005, 1005},
	};
	struct world w;
	plan(&w,
	     "alice:200000:65536\n" /* by name, not at its computed place */
	     "1002:300000:65536\n"  /* bob by number */
	     "01003:400000:65536\n" /* not carol: newuidmap compares "%lu" */
	     "erin:500000:65536\n", /* erin, a second name of uid 1005 */
	     "alice:200000:65536\n", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.users, 5);
	assert_int_equal(w.plan.had_uid, 2);
	assert_int_equal(w.plan.had_gid, 1);
	/* podman lists the ranges of the name getpwuid gives (alias) and of the
	 * uid, never of a second name: uid 1005 gets a block under alias */
	assert_int_equal(w.plan.n_uid_new, 3);
	assert_string_equal(w.plan.uid_new[0].name, "carol");
	assert_string_equal(w.plan.uid_new[1].name, "dave");
	assert_string_equal(w.plan.uid_new[2].name, "alias");
	/* the files are separate: bob and uid 1005 lack gids */
	assert_int_equal(w.plan.n_gid_new, 4);
	assert_string_equal(w.plan.gid_new[0].name, "bob");
	assert_string_equal(w.plan.gid_new[3].name, "alias");
	assert_int_equal(w.plan.gid_new[3].start, 1005ULL * 65536);
	world_clear(&w);
}

static void test_plan_duplicate_name(void **state)
{
	(void)state;
	/* files then LDAP with the same name and the same uid: one user */
	const struct phpc_subid_user same[] = {{"alice", 1001, 1001}, {"alice", 1001, 1001}};
	struct world w;
	plan(&w, "", "", same, ARRAY_SIZE(same), &defaults);
	assert_int_equal(w.plan.users, 1);
	assert_int_equal(w.plan.n_uid_new, 1);
	assert_int_equal(w.plan.left_out.n + w.plan.overlaps.n, 0);
	world_clear(&w);

	/* the same name with two uids: newuidmap looks the caller's name
	 * (getpwuid's) up with getpwnam, which gives the first uid listed, so
	 * uid 1500 gets whatever uid 1001 has, by name or by uid: neither can
	 * have a block of its own. Not under uid 1500's second name, al,
	 * either: neither newuidmap nor podman looks for it. */
	const struct phpc_subid_user two[] = {
	    {"alice", 1001, 1001}, {"alice", 1500, 1500}, {"al", 1500, 1500}};
	plan(&w, "", "", two, ARRAY_SIZE(two), &defaults);
	assert_int_equal(w.plan.users, 2);
	assert_int_equal(w.plan.n_uid_new + w.plan.n_gid_new, 0);
	assert_int_equal(w.plan.left_out.n, 2);
	assert_has_line(
	    &w.plan.left_out,
	    "user alice (uid 1001) gets no block: NSS lists the name alice for uid 1001 "
	    "and for uid 1500, and newuidmap (and podman) take both for uid 1001",
	    "rename one of them");
	assert_has_line(&w.plan.left_out, "user alice (uid 1500) gets no block",
	                "the name alice for uid 1001 and for uid 1500");
	world_clear(&w);

	/* entries of that name, or of either uid, serve both: reported, and
	 * counted for neither (an entry "1500:..." serves nobody: newuidmap
	 * takes uid 1500 for 1001) */
	plan(&w, "alice:200000:65536\n1001:300000:65536\n1500:400000:65536\n",
	     "alice:200000:65536\n", two, ARRAY_SIZE(two), &defaults);
	assert_int_equal(w.plan.had_uid + w.plan.had_gid, 0);
	assert_int_equal(w.plan.n_uid_new + w.plan.n_gid_new, 0);
	assert_has_line(&w.plan.overlaps, "/etc/subuid: line 1 (alice: 200000-265535)",
	                "NSS lists its owner for uid 1001 and for uid 1500",
	                "newuidmap and podman let both use that block");
	assert_has_line(&w.plan.overlaps, "/etc/subuid: line 2 (1001: 300000-365535)",
	                "its owner is uid 1001, and NSS lists the name of uid 1500, alice, for "
	                "uid 1001 too");
	assert_has_line(&w.plan.overlaps, "/etc/subgid: line 1 (alice: 200000-265535)");
	assert_int_equal(w.plan.overlaps.n, 3);
	world_clear(&w);

	/* uid 1600's name is bo, which getpwnam gives uid 1700 for (its second
	 * name): uid 1600 gets what uid 1700 has, under carla, bo or 1700 */
	const struct phpc_subid_user alias[] = {
	    {"carla", 1700, 1700}, {"bo", 1700, 1700}, {"bo", 1600, 1600}};
	plan(&w, "", "", alias, ARRAY_SIZE(alias), &defaults);
	assert_has_line(&w.plan.left_out, "user bo (uid 1600) gets no block",
	                "NSS lists the name bo for uid 1600 and for uid 1700, and newuidmap (and "
	                "podman) take both for uid 1700");
	assert_has_line(&w.plan.left_out, "user carla (uid 1700) gets no block",
	                "NSS lists the name bo for uid 1600 and for uid 1700");
	world_clear(&w);
}

/* The owners of the new subuid entries as written, space-separated (a
 * static buffer). */
static const char *written_owners(const struct world *w)
{
	static char out[256];
	size_t len, o = 0;
	char *text = phpc_subid_render(&(struct phpc_subid_file){.name = "", .text = ""},
	                               w->plan.uid_new, w->plan.n_uid_new, &len);
	for (char *line = text; *line;) {
		char *colon = strchr(line, ':'), *nl = strchr(line, '\n');
		assert_non_null(colon);
		assert_non_null(nl);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", o ? " " : "",
		                      (int)(colon - line), line);
		assert_true(o < sizeof(out));
		line = nl + 1;
	}
	out[o] = '\0';
	free(text);
	return out;
}

/* newuidmap compares an owner with the caller's name and with its uid
 * written as "%lu"; podman with the name and the uid in decimal. A name
 * that reads as another uid would give one block to two users. */
static void test_plan_numeric_names(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {{"3001", 5000, 5000},
	                                        {"carl", 3001, 3001},
	                                        {"1002", 1002, 1002},
	                                        {"03003", 5001, 5001}};
	struct phpc_subid_params p = defaults;
	p.uid_max = 6000;
	struct world w;
	/* case A: "3001:..." for uid 5000 would be carl's too, and from
	 * shadow-utils 4.20 on newuidmap takes user 3001 itself for uid 3001,
	 * carl (so does it user 03003, for uid 3003): no block would be theirs
	 * alone */
	plan(&w, "", "", users, ARRAY_SIZE(users), &p);
	assert_string_equal(written_owners(&w), "1002");
	assert_string_equal(w.plan.uid_new[0].name, "1002"); /* its own uid: fine */
	assert_false(w.plan.uid_new[0].by_uid);
	assert_int_equal(w.plan.n_gid_new, 1);
	assert_int_equal(w.plan.left_out.n, 3);
	/* and carl, whose block user 3001 would get from 4.20 on */
	assert_has_line(
	    &w.plan.left_out,
	    "user carl (uid 3001) gets no block: the name of user 3001 (uid 5000) reads "
	    "as uid 3001, and newuidmap from shadow-utils 4.20 on takes that user for "
	    "it, so any block of carl's would be theirs too; rename user 3001");
	assert_has_line(&w.plan.left_out,
	                "user 3001 (uid 5000) gets no block: its name reads as uid 3001, and "
	                "newuidmap from shadow-utils 4.20 on takes such a user for that uid",
	                "rename it");
	assert_has_line(&w.plan.left_out, "user 03003 (uid 5001) gets no block",
	                "its name reads as uid 3003");
	world_clear(&w);

	/* "-0" is uid 0 to strtou_noneg (4.20): root's ranges would be its */
	const struct phpc_subid_user zero[] = {{"root", 0, 0}, {"-0", 1001, 1001}};
	plan(&w, "root:100000:65536\n", "root:100000:65536\n", zero, ARRAY_SIZE(zero), &p);
	assert_int_equal(w.plan.n_uid_new + w.plan.n_gid_new, 0);
	assert_has_line(&w.plan.left_out,
	                "user -0 (uid 1001) gets no block: its name reads as uid 0");
	world_clear(&w);

	/* case B: an existing "3001:..." is carl's by number and user 3001's by
	 * name, and "03003:..." user 03003's and, from 4.20 on, uid 3003's:
	 * taken as nobody's, and reported */
	plan(&w, "3001:200000:65536\n03003:400000:65536\n", "3001:200000:65536\n", users,
	     ARRAY_SIZE(users), &p);
	assert_int_equal(w.plan.had_uid, 0);
	assert_int_equal(w.plan.had_gid, 0);
	assert_has_line(&w.plan.overlaps, "/etc/subuid: line 1 (3001: 200000-265535)",
	                "its owner is uid 3001 and also the name of the user with uid 5000");
	assert_has_line(
	    &w.plan.overlaps, "/etc/subuid: line 2 (03003: 400000-465535)",
	    "its owner reads as uid 3003 to newuidmap from shadow-utils 4.20 on, and as "
	    "the user with uid 5001 to older ones");
	assert_has_line(&w.plan.overlaps, "/etc/subgid: line 1");
	assert_int_equal(w.plan.left_out.n, 3);
	assert_string_equal(written_owners(&w), "1002");
	world_clear(&w);

	/* without a user named 3001, "3001:..." is carl's */
	plan(&w, "3001:200000:65536\n", "3001:200000:65536\n", users + 1, 1, &p);
	assert_int_equal(w.plan.had_uid, 1);
	assert_int_equal(w.plan.n_uid_new + w.plan.n_gid_new, 0);
	assert_int_equal(w.plan.left_out.n + w.plan.overlaps.n, 0);
	world_clear(&w);
}

static void test_plan_overlap_with_existing(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 1002}, {"carol", 1003, 1003}};
	struct world w;
	/* a manual entry across bob's computed block (65667072-65732607) */
	plan(&w, "manual:65700000:100\n", "", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.n_uid_new, 2);
	assert_string_equal(w.plan.uid_new[0].name, "alice");
	assert_string_equal(w.plan.uid_new[1].name, "carol");
	/* left out of both files: uids without gids cannot start a container */
	assert_int_equal(w.plan.n_gid_new, 2);
	assert_int_equal(w.plan.left_out.n, 1);
	assert_has_line(&w.plan.left_out, "user bob (uid 1002) gets no block", "65667072-65732607",
	                "would overlap /etc/subuid line 1", "(manual: 65700000-65700099)",
	                "usermod --add-subuids");
	world_clear(&w);

	/* only in subgid: the same */
	plan(&w, "", "x:65667072:1\n", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.n_uid_new, 2);
	assert_has_line(&w.plan.left_out, "bob", "/etc/subgid line 1");
	world_clear(&w);

	/* touching is not overlapping: one ends right before alice's block, one
	 * starts right after carol's */
	plan(&w, "x:65601436:100\ny:65798144:100\n", "", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.n_uid_new, 3);
	assert_int_equal(w.plan.left_out.n, 0);
	world_clear(&w);
}

static void test_plan_existing_overlaps(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 1002}, {"svc", 150000, 7}};
	struct world w;
	plan(&w,
	     "alice:100000:65536\n"
	     "bob:120000:65536\n" /* overlaps alice's */
	     "bob:130000:10\n"    /* bob's own twice: not reported */
	     "zed:900000:10\n",   /* apart */
	     "alice:100000:65536\n"
	     "bob:165536:65536\n"   /* touches: fine */
	     "nogroup:1000:5000\n", /* holds alice's and bob's groups */
	     users, ARRAY_SIZE(users), &defaults);
	assert_has_line(&w.plan.overlaps, "/etc/subuid: line 1 (alice: 100000-165535) and line 2",
	                "(bob: 120000-185535) overlap");
	/* svc's uid inside alice's block and bob's: reported once, with the
	 * one that reaches further */
	assert_has_line(&w.plan.overlaps, "uid 150000 of user svc lies inside line 2",
	                "bob's containers can act as svc");
	assert_has_line(&w.plan.overlaps, "/etc/subgid: gid 1001 (primary group of user alice)",
	                "nogroup");
	assert_has_line(&w.plan.overlaps, "gid 1002");
	assert_int_equal(w.plan.overlaps.n, 4);
	world_clear(&w);
}

static void test_plan_own_id_inside_own_block(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {{"alice", 1001, 1001}};
	struct world w;
	plan(&w, "alice:1000:10\n", "1001:1000:10\n", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.overlaps.n, 0);
	world_clear(&w);
}

static void test_plan_new_block_holding_real_id(void **state)
{
	(void)state;
	/* a service account far up, inside what alice's block would be */
	const struct phpc_subid_user users[] = {
	    {"alice", 1001, 1001}, {"svc", 65601600, 2000}, {"other", 5, 65601700}};
	struct world w;
	plan(&w, "", "", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.n_uid_new, 0);
	assert_has_line(&w.plan.left_out, "alice", "would hold uid 65601600 of user svc");
	world_clear(&w);
	/* a gid alone: only subgid is in the way, and both are left out */
	const struct phpc_subid_user users2[] = {{"alice", 1001, 1001}, {"other", 5, 65601700}};
	plan(&w, "", "", users2, ARRAY_SIZE(users2), &defaults);
	assert_int_equal(w.plan.n_uid_new, 0);
	assert_int_equal(w.plan.n_gid_new, 0);
	assert_has_line(&w.plan.left_out, "would hold gid 65601700 (primary group of user other)");
	world_clear(&w);
}

/* Every gid is a real id, not only users' primary ones: a group's gid
 * inside a block lets its owner's containers act as that group. And every
 * uid listed, a second one of a name too. */
static void test_plan_groups_and_every_uid(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 1002}, {"carol", 1003, 1003}};
	/* inside alice's computed block, 65601536-65667071, and bob's */
	const struct phpc_subid_group groups[] = {
	    {"alice", 1001}, {"staff", 65601700}, {"proj", 65667100}, {"again", 65667100}};
	struct world w;
	plan_groups(&w, "", "", users, ARRAY_SIZE(users), groups, ARRAY_SIZE(groups), &defaults);
	assert_int_equal(w.plan.n_uid_new, 1);
	assert_string_equal(w.plan.uid_new[0].name, "carol");
	assert_int_equal(w.plan.n_gid_new, 1);
	assert_has_line(&w.plan.left_out, "user alice (uid 1001) gets no block",
	                "would hold gid 65601700 (group staff) in /etc/subgid");
	assert_has_line(&w.plan.left_out, "user bob", "would hold gid 65667100 (group proj)");
	world_clear(&w);

	/* an existing entry holding a group's gid is reported; the owner's own
	 * primary group (listed as a group too) is not */
	plan_groups(&w, "", "alice:1001:1\nx:65601600:1000\n", users, ARRAY_SIZE(users), groups,
	            ARRAY_SIZE(groups), &defaults);
	assert_has_line(&w.plan.overlaps,
	                "/etc/subgid: gid 65601700 (group staff) lies inside line 2",
	                "x's containers can act as that group");
	assert_int_equal(w.plan.overlaps.n, 1);
	world_clear(&w);

	/* a second bob (another uid, as a shadowed LDAP user would be) whose
	 * uid lies in alice's block: alice is left out, and that uid is reported
	 * inside an existing block */
	const struct phpc_subid_user shadowed[] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 1002}, {"bob", 65601600, 1002}};
	plan(&w, "", "", shadowed, ARRAY_SIZE(shadowed), &defaults);
	assert_has_line(&w.plan.left_out, "user alice (uid 1001) gets no block",
	                "would hold uid 65601600 of user bob");
	world_clear(&w);
	plan(&w, "x:65601536:65536\n", "", shadowed, ARRAY_SIZE(shadowed), &defaults);
	assert_has_line(&w.plan.overlaps, "uid 65601600 of user bob lies inside line 1");
	world_clear(&w);
}

static void test_plan_overflow_left_out(void **state)
{
	(void)state;
	struct phpc_subid_params p = defaults;
	p.uid_max = 100000;
	const struct phpc_subid_user users[] = {{"ok", 65535, 65535}, {"big", 65536, 65536}};
	struct world w;
	plan(&w, "", "", users, ARRAY_SIZE(users), &p);
	assert_int_equal(w.plan.n_uid_new, 1);
	assert_string_equal(w.plan.uid_new[0].name, "ok");
	assert_has_line(&w.plan.left_out, "user big (uid 65536) gets no block",
	                "would start at 4294967296", "blocks fit for uids up to 65535",
	                "--scheme offset");
	world_clear(&w);

	p.scheme = PHPC_SUBID_OFFSET;
	p.uid_min = 10000;
	p.uid_max = 99999;
	p.count = 65536;
	p.base = 100000;
	const struct phpc_subid_user dense[] = {{"first", 10000, 1}, {"last", 99999, 1}};
	plan(&w, "", "", dense, ARRAY_SIZE(dense), &p);
	assert_int_equal(w.plan.n_uid_new, 1);
	assert_int_equal(w.plan.uid_new[0].start, 100000);
	assert_has_line(&w.plan.left_out, "user last", "blocks fit for uids up to 75533",
	                "lower --base or --count");
	world_clear(&w);
}

static void test_plan_unwritable_names(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"a:b", 1001, 1},
	    {"#c", 1002, 1},
	    {"+d", 1003, 1},
	    {"e\nf", 1004, 1},
	    {"", 1005, 1},
	    /* podman trims white space from a line, newuidmap does not: " ann"
	     * would be ann's range to one and " ann"'s to the other */
	    {" ann", 1006, 1},
	    {"ann\t", 1007, 1},
	    {"ann\xc2\xa0", 1008, 1}, /* U+00A0, which Go's TrimSpace trims */
	    {"\xe3\x80\x80"
	     "ann",
	     1009, 1}, /* U+3000 */
	    {"a\x7f"
	     "b",
	     1010, 1}, /* DEL */
	    {"a\xc2\x85"
	     "b",
	     1011, 1}, /* U+0085, a C1 control */
	    {"a\rb", 1012, 1},
	    /* fine: white space inside, other UTF-8 */
	    {"an n", 1013, 1},
	    {"\xc3\xa9mile", 1014, 1},
	};
	struct world w;
	/* each gets its block under its uid, which podman and newuidmap read
	 * as the caller's whatever the name */
	plan(&w, "", "", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.left_out.n, 0);
	assert_int_equal(w.plan.n_gid_new, 14);
	assert_string_equal(written_owners(&w), "1001 1002 1003 1004 1005 1006 1007 1008 1009 1010 "
	                                        "1011 1012 an n \xc3\xa9mile");
	world_clear(&w);
}

/* Entries that newuidmap reads as every id hold root's uid and every block:
 * reported, and no block is written over them. */
static void test_plan_entries_of_every_id(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {{"root", 0, 0}, {"alice", 1001, 1001}};
	struct world w;
	plan(&w, "x:0:0\n", "y:50:-1\n", users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.n_uid_new + w.plan.n_gid_new, 0);
	assert_has_line(&w.plan.overlaps,
	                "/etc/subuid: uid 0 of user root lies inside line 1 (x: ");
	assert_has_line(&w.plan.overlaps, "/etc/subgid: gid 1001", "(y: 50-18446744073709551615)");
	assert_has_line(&w.plan.left_out, "user alice (uid 1001) gets no block", "would overlap");
	world_clear(&w);
}

/* ---- output ------------------------------------------------------------------------------- */

static void test_render_keeps_bytes(void **state)
{
	(void)state;
	/* comments, odd spacing, malformed lines, CRLF, no final newline */
	static const char old[] = "# site\r\n  junk line\nalice:100000:65536\n\nbob:0x10:010";
	const struct phpc_subid_user users[] = {{"carol", 1003, 1003}};
	struct world w;
	plan(&w, old, old, users, ARRAY_SIZE(users), &defaults);
	size_t len;
	char *text = phpc_subid_render(&w.u, w.plan.uid_new, w.plan.n_uid_new, &len);
	assert_memory_equal(text, old, sizeof(old) - 1);
	assert_string_equal(text + sizeof(old) - 1, "\ncarol:65732608:65536\n");
	assert_int_equal(len, strlen(text));
	free(text);
	/* nothing to add: the same bytes and the missing newline, which newer
	 * shadow-utils want ("Non-text file" otherwise) */
	assert_true(phpc_subid_changes(&w.u, 0));
	text = phpc_subid_render(&w.u, NULL, 0, &len);
	assert_int_equal(len, sizeof(old));
	assert_memory_equal(text, old, sizeof(old) - 1);
	assert_int_equal(text[len - 1], '\n');
	free(text);
	world_clear(&w);
	/* with its newline, nothing changes */
	plan(&w, "a:1:2\n", "", users, 0, &defaults);
	assert_false(phpc_subid_changes(&w.u, 0));
	assert_false(phpc_subid_changes(&w.g, 0));
	text = phpc_subid_render(&w.u, NULL, 0, &len);
	assert_string_equal(text, "a:1:2\n");
	free(text);
	world_clear(&w);
}

static void test_rerun_adds_nothing(void **state)
{
	(void)state;
	const struct phpc_subid_user users[] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 1002}, {"carol", 1003, 100}};
	struct world w;
	plan(&w, "x:1:1", "", users, ARRAY_SIZE(users), &defaults);
	size_t lu, lg;
	char *u = phpc_subid_render(&w.u, w.plan.uid_new, w.plan.n_uid_new, &lu);
	char *g = phpc_subid_render(&w.g, w.plan.gid_new, w.plan.n_gid_new, &lg);
	world_clear(&w);
	plan(&w, u, g, users, ARRAY_SIZE(users), &defaults);
	assert_int_equal(w.plan.n_uid_new, 0);
	assert_int_equal(w.plan.n_gid_new, 0);
	assert_int_equal(w.plan.had_uid, 3);
	assert_int_equal(w.plan.had_gid, 3);
	assert_int_equal(w.plan.left_out.n + w.plan.overlaps.n, 0);
	world_clear(&w);
	free(u);
	free(g);
}

static void test_diff(void **state)
{
	(void)state;
	const struct phpc_subid_new one[] = {{"carol", 1003, false, 10, 5}};
	const struct phpc_subid_new two[] = {{"carol", 1003, false, 10, 5},
	                                     {"dave", 1004, false, 15, 5}};
	struct phpc_subid_file f;
	char *d;

	parse("/etc/subuid", "", &f);
	d = phpc_subid_diff(&f, one, 1, NULL);
	assert_string_equal(d, "--- /etc/subuid\n+++ /etc/subuid\n@@ -0,0 +1 @@\n+carol:10:5\n");
	free(d);
	d = phpc_subid_diff(&f, NULL, 0, NULL);
	assert_string_equal(d, "");
	free(d);
	phpc_subid_file_clear(&f);

	parse("/etc/subuid", "a:1:2\nb:3:4\n", &f);
	d = phpc_subid_diff(&f, two, 2, NULL);
	assert_string_equal(d, "--- /etc/subuid\n+++ /etc/subuid\n@@ -2,0 +3,2 @@\n"
	                       "+carol:10:5\n+dave:15:5\n");
	free(d);
	phpc_subid_file_clear(&f);

	parse("/etc/subuid", "a:1:2\nb:3:4", &f);
	d = phpc_subid_diff(&f, one, 1, NULL);
	assert_string_equal(d, "--- /etc/subuid\n+++ /etc/subuid\n@@ -2 +2,2 @@\n-b:3:4\n"
	                       "\\ No newline at end of file\n+b:3:4\n+carol:10:5\n");
	free(d);
	/* the newline alone */
	d = phpc_subid_diff(&f, NULL, 0, NULL);
	assert_string_equal(d, "--- /etc/subuid\n+++ /etc/subuid\n@@ -2 +2 @@\n-b:3:4\n"
	                       "\\ No newline at end of file\n+b:3:4\n");
	free(d);
	phpc_subid_file_clear(&f);

	/* a last line holding a NUL: the length tells where the diff ends */
	static const char nul[] = "a:1:2\nb\0c";
	phpc_subid_parse("/etc/subuid", nul, sizeof(nul) - 1, &f);
	size_t len = 0;
	d = phpc_subid_diff(&f, one, 1, &len);
	static const char want[] = "--- /etc/subuid\n+++ /etc/subuid\n@@ -2 +2,2 @@\n-b\0c\n"
	                           "\\ No newline at end of file\n+b\0c\n+carol:10:5\n";
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(d, want, len);
	free(d);
	phpc_subid_file_clear(&f);
}

static void test_login_defs(void **state)
{
	(void)state;
	uint32_t lo = 1000, hi = 60000;
	struct phpc_strv w = {0};
	phpc_subid_login_defs("/etc/login.defs",
	                      "# UID_MIN 5\n"
	                      "UID_MIN\t\t\t 2000\n"
	                      "UID_MAX   \"70000\"  \n"
	                      "SUB_UID_MIN 100000\n"
	                      "UID_MAX 80000\n", /* the last one counts, as for shadow-utils */
	                      &lo, &hi, &w);
	assert_int_equal(lo, 2000);
	assert_int_equal(hi, 80000);
	assert_int_equal(w.n, 0);
	phpc_subid_login_defs("/etc/login.defs", "UID_MIN ten\nUID_MAX 4294967295\n", &lo, &hi, &w);
	assert_int_equal(lo, 2000);
	assert_int_equal(hi, 80000);
	assert_int_equal(w.n, 2);
	assert_has_line(&w, "/etc/login.defs line 1: UID_MIN \"ten\" is not a uid; using 2000");
	phpc_strv_clear(&w);
}

/* 10,000 users, half of them already in the files: every block distinct
 * and disjoint, and the entries already there untouched. */
static void test_ten_thousand(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct phpc_subid_user *users = phpc_xcalloc(N, sizeof(*users));
	struct phpc_strv names = {0};
	for (size_t i = 0; i < N; i++)
		phpc_strv_addf(&names, "u%zu", i);
	for (size_t i = 0; i < N; i++)
		users[i] = (struct phpc_subid_user){names.v[i], (uint32_t)(20000 + i),
		                                    (uint32_t)(20000 + i)};
	struct phpc_subid_params p = defaults;
	p.scheme = PHPC_SUBID_OFFSET;
	p.uid_min = 20000;
	p.uid_max = 59999;
	struct world w;
	plan(&w, "", "", users, N, &p);
	assert_int_equal(w.plan.n_uid_new, N);
	for (size_t i = 1; i < N; i++)
		assert_true(w.plan.uid_new[i - 1].start + p.count <= w.plan.uid_new[i].start);
	size_t len;
	char *half = phpc_subid_render(&w.u, w.plan.uid_new, N / 2, &len);
	world_clear(&w);
	plan(&w, half, half, users, N, &p);
	assert_int_equal(w.plan.had_uid, N / 2);
	assert_int_equal(w.plan.n_uid_new, N / 2);
	assert_int_equal(w.plan.left_out.n + w.plan.overlaps.n, 0);
	char *all = phpc_subid_render(&w.u, w.plan.uid_new, w.plan.n_uid_new, &len);
	assert_memory_equal(all, half, strlen(half));
	world_clear(&w);
	free(all);
	free(half);
	free(users);
	phpc_strv_clear(&names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_entries_and_others),
	    cmocka_unit_test(test_parse_nul_and_long_lines),
	    cmocka_unit_test(test_parse_number_edges),
	    cmocka_unit_test(test_params_defaults_ok),
	    cmocka_unit_test(test_params_multiplier_below_count),
	    cmocka_unit_test(test_params_refusals),
	    cmocka_unit_test(test_block_edges_at_2_32),
	    cmocka_unit_test(test_plan_fresh),
	    cmocka_unit_test(test_plan_present_by_name_or_number),
	    cmocka_unit_test(test_plan_duplicate_name),
	    cmocka_unit_test(test_plan_numeric_names),
	    cmocka_unit_test(test_plan_overlap_with_existing),
	    cmocka_unit_test(test_plan_existing_overlaps),
	    cmocka_unit_test(test_plan_own_id_inside_own_block),
	    cmocka_unit_test(test_plan_new_block_holding_real_id),
	    cmocka_unit_test(test_plan_groups_and_every_uid),
	    cmocka_unit_test(test_plan_overflow_left_out),
	    cmocka_unit_test(test_plan_unwritable_names),
	    cmocka_unit_test(test_plan_entries_of_every_id),
	    cmocka_unit_test(test_render_keeps_bytes),
	    cmocka_unit_test(test_rerun_adds_nothing),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_login_defs),
	    cmocka_unit_test(test_ten_thousand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
