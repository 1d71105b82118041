/* The subordinate id file parser (src/lib/subid.c), and what the manager
 * does with what it parsed: the input is both /etc/subuid and /etc/subgid,
 * its entries' owners are users (with uids and gids drawn from their
 * numbers, so that blocks meet entries), and the plan's output is checked:
 * the rendered file starts with the input, byte for byte; new blocks end by
 * 2^32 and overlap neither each other nor an entry. The input is also read
 * as login.defs. */
#include "fuzz.h"
#include "subid.h"

static void check_new(const struct phpc_subid_file *f, const struct phpc_subid_new *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].start + v[i].count > PHPC_SUBID_LIMIT)
			__builtin_trap();
		if (i && v[i - 1].start + v[i - 1].count > v[i].start)
			__builtin_trap();
		for (size_t j = 0; j < f->n && j < 64; j++)
			if (f->v[j].count && v[i].start < f->v[j].start + f->v[j].count &&
			    f->v[j].start < v[i].start + v[i].count)
				__builtin_trap();
	}
	size_t len = 0;
	char *text = phpc_subid_render(f, v, n, &len);
	if (len < f->len || memcmp(text, f->text, f->len) != 0)
		__builtin_trap();
	free(text);
	free(phpc_subid_diff(f, v, n));
}

static void plan(const struct phpc_subid_file *f, const struct phpc_subid_user *users, size_t n,
                 const struct phpc_subid_params *p)
{
	struct phpc_subid_plan pl;
	phpc_subid_plan(f, f, users, n, p, &pl);
	check_new(f, pl.uid_new, pl.n_uid_new);
	check_new(f, pl.gid_new, pl.n_gid_new);
	phpc_subid_plan_clear(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phpc_subid_file f;
	phpc_subid_parse("/etc/subuid", (const char *)data, size, &f);

	enum { MAX_USERS = 64 };
	struct phpc_subid_user users[MAX_USERS + 3] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 100}, {"1003", 1003, 1003}};
	size_t n = 3;
	for (size_t i = 0; i < f.n && n < ARRAY_SIZE(users); i++)
		users[n++] = (struct phpc_subid_user){
		    f.v[i].owner, (uint32_t)(1000 + f.v[i].start % 2000), (uint32_t)f.v[i].count};
	struct phpc_subid_params p = {
	    .scheme = PHPC_SUBID_MULTIPLY,
	    .multiplier = PHPC_SUBID_DEFAULT_MULTIPLIER,
	    .base = PHPC_SUBID_DEFAULT_BASE,
	    .count = PHPC_SUBID_DEFAULT_COUNT,
	    .uid_min = 1000,
	    .uid_max = 2999,
	};
	if (phpc_subid_params_check(&p, NULL) == 0)
		plan(&f, users, n, &p);
	p.scheme = PHPC_SUBID_OFFSET;
	p.count = 1000;
	p.base = 3000;
	if (phpc_subid_params_check(&p, NULL) == 0)
		plan(&f, users, n, &p);

	_cleanup_free_ char *text = fuzz_cstr(data, size);
	uint32_t lo = 1000, hi = 60000;
	struct phpc_strv warnings = {0};
	phpc_subid_login_defs("/etc/login.defs", text, &lo, &hi, &warnings);
	phpc_strv_clear(&warnings);
	phpc_subid_file_clear(&f);
	return 0;
}
