/* The subordinate id file parser (src/lib/subid.c), and what the manager
 * does with what it parsed: the input is both /etc/subuid and /etc/subgid,
 * its entries' owners are users and groups (with ids drawn from their
 * numbers, so that blocks meet entries and ids), and the plan's output is
 * checked: the rendered file starts with the input, byte for byte; new
 * blocks end by 2^32, overlap neither each other nor an entry, hold no real
 * uid (a user's) or gid (a user's or a group's), and the only uid that can
 * use one is the uid it was made for, which can, with owners matched as
 * shadow-utils' find_range (before 4.20 and from 4.20 on) and podman
 * (libsubid's list_owner_ranges, containers/storage) match them, written
 * here from their code, apart from src/lib/subid.c's model. The input is
 * also read as login.defs. */
#include <inttypes.h>

#include "fuzz.h"
#include "subid.h"

/* Whether podman and newuidmap read a line "name:..." as the same owner's,
 * and as one entry: no ':', no control character, no white space at either
 * end (podman trims it). ASCII only: the oracle of the common cases. */
static bool name_reads_alike(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] == ':' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return n && s[0] != ' ' && s[n - 1] != ' ';
}

struct world {
	const struct phpc_subid_file *f;
	const struct phpc_subid_user *users;
	size_t n;
	const struct phpc_subid_group *groups;
	size_t n_groups;
};

/* getpwuid's answer for uid: the first user listed with it, or NULL. */
static const char *pw_name(const struct world *w, uint32_t uid)
{
	for (size_t j = 0; j < w->n; j++)
		if (w->users[j].uid == uid)
			return w->users[j].name;
	return NULL;
}

/* getpwnam's answer for name: the first user listed with it. */
static bool pw_uid(const struct world *w, const char *name, uint32_t *uid)
{
	for (size_t j = 0; j < w->n; j++)
		if (streq(w->users[j].name, name)) {
			*uid = w->users[j].uid;
			return true;
		}
	return false;
}

/* Whether shadow-utils' find_range (newuidmap, libsubid) gives the entry
 * of owner to the caller of uid: the owner is the caller's name; or, with
 * owner_uid the uid getpwnam gives for that name, the owner is "%lu" of
 * owner_uid or a name getpwnam gives owner_uid for. */
static bool newuidmap_serves(const struct world *w, const char *owner, uint32_t uid)
{
	const char *name = pw_name(w, uid);
	uint32_t owner_uid, u;
	if (!name || !pw_uid(w, name, &owner_uid))
		return false;
	char s[16];
	snprintf(s, sizeof(s), "%lu", (unsigned long)owner_uid);
	return streq(owner, name) || streq(owner, s) || (pw_uid(w, owner, &u) && u == owner_uid);
}

/* Whether podman finds it for the caller of uid: through libsubid
 * (list_owner_ranges) or containers/storage's own parser, the owner is the
 * caller's name (getpwuid's) or the uid getpwnam gives for that name. */
static bool podman_finds(const struct world *w, const char *owner, uint32_t uid)
{
	const char *name = pw_name(w, uid);
	uint32_t owner_uid;
	if (!name)
		return false;
	char s[16] = "";
	if (pw_uid(w, name, &owner_uid))
		snprintf(s, sizeof(s), "%" PRIu32, owner_uid);
	return streq(owner, name) || streq(owner, s);
}

/* A user name or an owner as shadow-utils from 4.20 on read it
 * (getpw_uid_or_nam): a string strtoumax takes whole in base 10 is a uid,
 * looked up with getpwuid; anything else a name, with getpwnam. */
static bool resolve_420(const struct world *w, const char *s, uint32_t *uid)
{
	const char *p = s;
	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	/* strtou_noneg: a '-' only before zeros, "-0" */
	if (*p == '-' && p[1] && strspn(p + 1, "0") == strlen(p + 1)) {
		*uid = 0;
		return pw_name(w, 0) != NULL;
	}
	if (*p == '+')
		p++;
	if (*p >= '0' && *p <= '9' && strspn(p, "0123456789") == strlen(p)) {
		unsigned long long v = strtoull(p, NULL, 10);
		if (strlen(p) > 20 || v > UINT32_MAX || !pw_name(w, (uint32_t)v))
			return false;
		*uid = (uint32_t)v;
		return true;
	}
	return pw_uid(w, s, uid);
}

/* Whether newuidmap from shadow-utils 4.20 on gives it to the caller of
 * uid: the owner and the caller's name resolve to the same uid. */
static bool newuidmap_420_serves(const struct world *w, const char *owner, uint32_t uid)
{
	const char *name = pw_name(w, uid);
	uint32_t a, b;
	return name && resolve_420(w, name, &a) && resolve_420(w, owner, &b) && a == b;
}

static bool within(uint64_t id, const struct phpc_subid_new *v)
{
	return id >= v->start && id < v->start + v->count;
}

/* Whether a block holds a real id: any user's uid (subuid), any user's or
 * group's gid (subgid). */
static bool holds_real_id(const struct world *w, const struct phpc_subid_new *v, bool gids)
{
	for (size_t j = 0; j < w->n; j++)
		if (within(gids ? w->users[j].gid : w->users[j].uid, v))
			return true;
	for (size_t j = 0; gids && j < w->n_groups; j++)
		if (within(w->groups[j].gid, v))
			return true;
	return false;
}

static void check_new(const struct world *w, const struct phpc_subid_new *v, size_t n, bool gids)
{
	const struct phpc_subid_file *f = w->f;
	for (size_t i = 0; i < n; i++) {
		if (v[i].start + v[i].count > PHPC_SUBID_LIMIT)
			__builtin_trap();
		if (i && v[i - 1].start + v[i - 1].count > v[i].start)
			__builtin_trap();
		for (size_t j = 0; j < f->n && j < 64; j++)
			if (f->v[j].count && v[i].start < f->v[j].start + f->v[j].count &&
			    f->v[j].start < v[i].start + v[i].count)
				__builtin_trap();
		/* the owner as written: a name, or the uid in decimal */
		char num[16];
		snprintf(num, sizeof(num), "%" PRIu32, v[i].uid);
		const char *owner = v[i].by_uid ? num : v[i].name;
		/* newuidmap (before and from 4.20) gives it to its uid and podman
		 * finds it for that uid; no other uid can use it, through either */
		if (!newuidmap_serves(w, owner, v[i].uid) ||
		    !newuidmap_420_serves(w, owner, v[i].uid) || !podman_finds(w, owner, v[i].uid))
			__builtin_trap();
		for (size_t j = 0; j < w->n; j++) {
			uint32_t other = w->users[j].uid;
			if (other != v[i].uid && (newuidmap_serves(w, owner, other) ||
			                          newuidmap_420_serves(w, owner, other) ||
			                          podman_finds(w, owner, other)))
				__builtin_trap();
		}
		if (!name_reads_alike(owner) || holds_real_id(w, &v[i], gids))
			__builtin_trap();
	}
	size_t len = 0;
	char *text = phpc_subid_render(f, v, n, &len);
	if (len < f->len || memcmp(text, f->text, f->len) != 0)
		__builtin_trap();
	free(text);
	free(phpc_subid_diff(f, v, n, NULL));
}

static void plan(const struct world *w, const struct phpc_subid_params *p)
{
	struct phpc_subid_plan pl;
	phpc_subid_plan(w->f, w->f, w->users, w->n, w->groups, w->n_groups, p, &pl);
	check_new(w, pl.uid_new, pl.n_uid_new, false);
	check_new(w, pl.gid_new, pl.n_gid_new, true);
	phpc_subid_plan_clear(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phpc_subid_file f;
	phpc_subid_parse("/etc/subuid", (const char *)data, size, &f);

	enum { MAX_USERS = 64, FIXED = 14 };
	/* and some that newuidmap or podman could mistake: a number that is
	 * another uid, one name listed for two uids, white space at an end, a
	 * uid whose name is another uid's second name, one that reads as root's */
	struct phpc_subid_user users[MAX_USERS + FIXED] = {
	    {"alice", 1001, 1001}, {"bob", 1002, 100},    {"1003", 1003, 1003},
	    {"1004", 2004, 2004},  {"carl", 1004, 1004},  {"dup", 1005, 1005},
	    {"dup", 1006, 1006},   {"01007", 1007, 1007}, {"eve ", 1008, 1008},
	    {"carla", 1010, 1010}, {"bo", 1010, 1010},    {"bo", 1011, 1011},
	    {"root", 0, 0},        {"-0", 1012, 1012},
	};
	size_t n = FIXED;
	for (size_t i = 0; i < f.n && n < ARRAY_SIZE(users); i++)
		users[n++] = (struct phpc_subid_user){
		    f.v[i].owner, (uint32_t)(1000 + f.v[i].start % 2000), (uint32_t)f.v[i].count};
	/* groups with gids anywhere, where blocks are */
	struct phpc_subid_group groups[MAX_USERS];
	size_t n_groups = 0;
	for (size_t i = 0; i < f.n && n_groups < ARRAY_SIZE(groups); i++)
		groups[n_groups++] = (struct phpc_subid_group){
		    f.v[i].owner, (uint32_t)(f.v[i].start + f.v[i].count)};
	struct world w = {&f, users, n, groups, n_groups};
	struct phpc_subid_params p = {
	    .scheme = PHPC_SUBID_MULTIPLY,
	    .multiplier = PHPC_SUBID_DEFAULT_MULTIPLIER,
	    .base = PHPC_SUBID_DEFAULT_BASE,
	    .count = PHPC_SUBID_DEFAULT_COUNT,
	    .uid_min = 1000,
	    .uid_max = 2999,
	};
	if (phpc_subid_params_check(&p, NULL) == 0)
		plan(&w, &p);
	p.scheme = PHPC_SUBID_OFFSET;
	p.count = 1000;
	p.base = 3000;
	if (phpc_subid_params_check(&p, NULL) == 0)
		plan(&w, &p);

	_cleanup_free_ char *text = fuzz_cstr(data, size);
	uint32_t lo = 1000, hi = 60000;
	struct phpc_strv warnings = {0};
	phpc_subid_login_defs("/etc/login.defs", text, &lo, &hi, &warnings);
	phpc_strv_clear(&warnings);
	phpc_subid_file_clear(&f);
	return 0;
}
