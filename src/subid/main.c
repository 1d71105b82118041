/* podman-hpc-subid: gives every user of a uid range a block of subordinate
 * uids and gids in /etc/subuid and /etc/subgid, computed from the uid so
 * that every node computes the same blocks, without ever changing an
 * existing entry. Meant to run hourly as root (etc/podman-hpc-subid.timer).
 * The decisions are src/lib/subid.c's; docs/subid.md is the design. */
#include "error.h"
#include "fsutil.h"
#include "phpc-build.h"
#include "safedir.h"
#include "shadowlock.h"
#include "strv.h"
#include "subid.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE                                                                                 \
	"Usage: podman-hpc-subid [OPTION]...\n"                                               \
	"Gives every user with a uid from --uid-min to --uid-max (users as NSS lists\n"       \
	"them: files, LDAP, SSSD, extrausers) a block of subordinate uids and gids in\n"      \
	"/etc/subuid and /etc/subgid, computed from the uid, so that every node gets the\n"   \
	"same blocks. Existing lines are never changed; new ones are appended.\n\n"           \
	"  --scheme multiply|offset  how a block's first id is computed (default multiply)\n" \
	"     multiply: uid * MULTIPLIER + OFFSET\n"                                          \
	"     offset:   BASE + (uid - UID_MIN) * COUNT (dense: for 5-digit uids),\n"          \
	"               with UID_MIN given as --uid-min, the same on every node\n"            \
	"  --multiplier M    multiply's factor (default 65536; at least --count)\n"           \
	"  --offset O        multiply's offset (default 0)\n"                                 \
	"  --base B          offset's first id (default 100000)\n"                            \
	"  --count N         ids a user (default 65536)\n"                                    \
	"  --uid-min U       lowest uid given a block (default UID_MIN of\n"                  \
	"                    /etc/login.defs, else 1000)\n"                                   \
	"  --uid-max U       highest (default UID_MAX of /etc/login.defs, else 60000)\n"      \
	"  --subuid FILE     the file of subordinate uids (default /etc/subuid)\n"            \
	"  --subgid FILE     the file of subordinate gids (default /etc/subgid)\n"            \
	"  --min-users N     fail, writing nothing, when NSS lists fewer than N users\n"      \
	"                    (all of them, system users too): glibc lists what the\n"         \
	"                    sources it reaches have, so an LDAP server that is down\n"       \
	"                    is a short list, not an error (default 0)\n"                     \
	"  --dry-run         print what would be appended, as a diff; write nothing\n"        \
	"  --help, --version\n\n"                                                             \
	"A multiplier smaller than the count is refused: the blocks of adjacent uids\n"       \
	"would overlap, and one user's containers could own another's files and signal\n"     \
	"its processes. With --multiplier 10000 keep --count 10000, or use --scheme\n"        \
	"offset. A block that would end past 4294967295 is not written.\n\n"                  \
	"Writes under the locks useradd takes (lckpwdf, FILE.lock), each file replaced\n"     \
	"atomically with its mode and owner kept, and only when something is added\n"         \
	"(or its last newline is missing). As root, each file's directory, and those\n"       \
	"on the way to it, must be root's and not writable by others.\n\n"                    \
	"Exit status: 0 every user in range has an entry in both files, nothing to\n"         \
	"report; 1 an error, nothing written (but when only subgid failed, subuid is\n"       \
	"written, and the next run completes subgid); 2 written, but users were left\n"       \
	"out, overlaps were found, or lines make podman or newuidmap refuse a file\n"         \
	"(the warnings say which and what to do). See docs/subid.md.\n"

#define PROG "podman-hpc-subid"

/* Users and groups as NSS lists them. */
struct nsslist {
	struct phpc_subid_user *users;
	size_t n_users, cap_users;
	struct phpc_subid_group *groups;
	size_t n_groups, cap_groups;
	struct phpc_strv names; /* owns the names users and groups point to */
};

static void nsslist_clear(struct nsslist *l)
{
	free(l->users);
	free(l->groups);
	phpc_strv_clear(&l->names);
}

static const char *nsslist_name(struct nsslist *l, const char *name)
{
	phpc_strv_add(&l->names, name);
	return l->names.v[l->names.n - 1];
}

/* Room for one more element of *v (n used of *cap). */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 1024;
	return phpc_xrealloc(v, *cap * size);
}

/* What getpwent_r's or getgrent_r's result e (with an entry or not: got)
 * means: 1 take the entry, 2 call again (ERANGE: *buf is now twice the
 * size, up to max), 0 the end of the list, < 0 an error. */
static int nss_step(int e, bool got, char **buf, size_t *size, size_t max, const char *what,
                    struct phpc_error **err)
{
	if (e == ERANGE && *size < max) {
		*size *= 2;
		free(*buf);
		*buf = phpc_xmalloc(*size);
		return 2;
	}
	if (e == ENOENT || (e == 0 && !got))
		return 0;
	if (e != 0)
		return phpc_error_errno(err, e, "cannot list the %s through NSS", what);
	return 1;
}

/* Every user and group of every NSS source (setpwent/getpwent_r,
 * setgrent/getgrent_r: files, LDAP, SSSD with enumerate = true,
 * extrausers). An error that glibc reports fails the run; glibc reports a
 * source that is unavailable (an LDAP server down) as the end of the list,
 * so the list may be short without an error: --min-users is the guard. */
static int enumerate(struct nsslist *l, struct phpc_error **err)
{
	size_t size = 4096;
	_cleanup_free_ char *buf = phpc_xmalloc(size);
	int r = 1;
	setpwent();
	while (r > 0) {
		struct passwd pw, *res = NULL;
		int e = getpwent_r(&pw, buf, size, &res);
		r = nss_step(e, res, &buf, &size, 1 << 20, "users", err);
		if (r != 1)
			continue;
		l->users = grow(l->users, l->n_users, &l->cap_users, sizeof(*l->users));
		l->users[l->n_users++] = (struct phpc_subid_user){
		    .name = nsslist_name(l, pw.pw_name), .uid = pw.pw_uid, .gid = pw.pw_gid};
	}
	endpwent();
	if (r < 0)
		return r;
	/* (a group lists its members: a large one needs a large buffer) */
	r = 1;
	setgrent();
	while (r > 0) {
		struct group gr, *res = NULL;
		int e = getgrent_r(&gr, buf, size, &res);
		r = nss_step(e, res, &buf, &size, 1 << 26, "groups", err);
		if (r != 1)
			continue;
		l->groups = grow(l->groups, l->n_groups, &l->cap_groups, sizeof(*l->groups));
		l->groups[l->n_groups++] = (struct phpc_subid_group){
		    .name = nsslist_name(l, gr.gr_name), .gid = gr.gr_gid};
	}
	endgrent();
	return r;
}

/* One of the two files. */
struct target {
	const char *path;
	const char *opt; /* "--subuid" */
	char *base;      /* the name in its directory */
	int dirfd;
	bool exists;
	struct stat st;
	struct phpc_subid_file file;
	struct phpc_shadow_lock lock;
};

static void target_clear(struct target *t)
{
	phpc_shadow_unlock_file(&t->lock);
	phpc_subid_file_clear(&t->file);
	if (t->dirfd >= 0)
		close(t->dirfd);
	free(t->base);
}

/* Opens the file's directory. checked (root, writing): the directory and
 * every one on the way to it must be root's and not writable by others (a
 * sticky one on the way, as /tmp, is fine), or the run is refused: the
 * locks (shadowlock.c) and the checks name files by path, and whoever can
 * rename a directory on that path can swap what root locks, reads and
 * replaces. */
static int target_open(struct target *t, const char *path, const char *opt, bool checked,
                       struct phpc_error **err)
{
	t->path = path;
	t->opt = opt;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!*base || streq(base, ".") || streq(base, ".."))
		return phpc_error_set(err, EINVAL, "%s %s: give the path of a file", opt, path);
	t->base = phpc_xstrdup(base);
	_cleanup_free_ char *dir = !slash          ? phpc_xstrdup(".")
	                           : slash == path ? phpc_xstrdup("/")
	                                           : phpc_xstrndup(path, (size_t)(slash - path));
	if (checked) {
		_cleanup_free_ char *cwd = dir[0] == '/' ? NULL : getcwd(NULL, 0);
		if (dir[0] != '/' && !cwd)
			return phpc_error_errno(
			    err, errno, "%s %s: cannot tell the current directory", opt, path);
		_cleanup_free_ char *abs =
		    cwd ? phpc_xasprintf("%s/%s", cwd, dir) : phpc_xstrdup(dir);
		t->dirfd = phpc_dir_open(abs, PHPC_DIR_SERVICE, 0, opt, err);
		return t->dirfd < 0 ? t->dirfd : 0;
	}
	t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0)
		return phpc_error_errno(err, errno, "%s %s: cannot open its directory %s", opt,
		                        path, dir);
	return 0;
}

/* Reads and parses the file; a missing one is empty (it is created). */
static int target_read(struct target *t, struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	/* no symlink followed: the rename would replace the link, not its target
	 * (shadow-utils opens these files O_NOFOLLOW too) */
	_cleanup_close_ int fd = openat(t->dirfd, t->base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return phpc_error_errno(err, errno, "cannot open %s", t->path);
	if (fd >= 0) {
		if (fstat(fd, &t->st) < 0)
			return phpc_error_errno(err, errno, "cannot stat %s", t->path);
		if (!S_ISREG(t->st.st_mode))
			return phpc_error_set(err, EINVAL, "%s is not a regular file", t->path);
		t->exists = true;
		int r = phpc_read_fd(fd, t->path, &text, &len, err);
		if (r < 0)
			return r;
	}
	phpc_subid_parse(t->path, text ? text : "", len, &t->file);
	return 0;
}

/* Whether the file is one of the system's: its directory is /etc. */
static bool in_etc(const struct target *t)
{
	struct stat d, etc;
	return fstat(t->dirfd, &d) == 0 && stat("/etc", &etc) == 0 && d.st_dev == etc.st_dev &&
	       d.st_ino == etc.st_ino;
}

static int target_write(struct target *t, const struct phpc_subid_new *v, size_t n,
                        struct phpc_error **err)
{
	if (!phpc_subid_changes(&t->file, n))
		return 0;
	size_t len = 0;
	_cleanup_free_ char *data = phpc_subid_render(&t->file, v, n, &len);
	/* a new file as shadow-utils' useradd makes it: 0644, root's */
	mode_t mode = t->exists ? t->st.st_mode & 07777 : 0644;
	uid_t uid = t->exists ? t->st.st_uid : geteuid();
	gid_t gid = t->exists ? t->st.st_gid : getegid();
	int r = phpc_replace_file(t->dirfd, t->base, data, len, mode, uid, gid, err);
	return r < 0 ? phpc_error_prefix(err, "%s", t->path) : 0;
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out,
                     struct phpc_error **err)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			break;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0 || s[i] || v > max)
		return phpc_error_set(err, EINVAL, "%s %s: give a whole number from 0 to %" PRIu64,
		                      opt, s, max);
	*out = v;
	return 0;
}

static void print_all(FILE *out, const char *prefix, const struct phpc_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		fprintf(out, "%s%s\n", prefix, v->v[i]);
}

struct options {
	struct phpc_subid_params p;
	const char *subuid, *subgid;
	uint64_t min_users;
	bool dry_run;
	bool given_multiplier, given_offset, given_base, given_uid_min, given_uid_max;
};

enum {
	O_SCHEME = 256,
	O_MULT,
	O_OFFSET,
	O_BASE,
	O_COUNT,
	O_UMIN,
	O_UMAX,
	O_SUBUID,
	O_SUBGID,
	O_MIN_USERS,
	O_DRY,
	O_HELP,
	O_VERSION
};

/* 1 when --help or --version was printed. */
static int parse_options(int argc, char **argv, struct options *o, struct phpc_error **err)
{
	static const struct option opts[] = {
	    {"scheme", required_argument, NULL, O_SCHEME},
	    {"multiplier", required_argument, NULL, O_MULT},
	    {"offset", required_argument, NULL, O_OFFSET},
	    {"base", required_argument, NULL, O_BASE},
	    {"count", required_argument, NULL, O_COUNT},
	    {"uid-min", required_argument, NULL, O_UMIN},
	    {"uid-max", required_argument, NULL, O_UMAX},
	    {"subuid", required_argument, NULL, O_SUBUID},
	    {"subgid", required_argument, NULL, O_SUBGID},
	    {"min-users", required_argument, NULL, O_MIN_USERS},
	    {"dry-run", no_argument, NULL, O_DRY},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	/* the largest uid: (uid_t)-1 means "no uid" to the kernel */
	const uint64_t uid_top = UINT32_MAX - 1;
	uint64_t v = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case O_SCHEME:
			if (streq(optarg, "multiply"))
				o->p.scheme = PHPC_SUBID_MULTIPLY;
			else if (streq(optarg, "offset"))
				o->p.scheme = PHPC_SUBID_OFFSET;
			else
				r = phpc_error_set(err, EINVAL,
				                   "--scheme %s: use multiply or offset", optarg);
			break;
		case O_MULT:
			r = parse_u64("--multiplier", optarg, PHPC_SUBID_LIMIT, &o->p.multiplier,
			              err);
			o->given_multiplier = true;
			break;
		case O_OFFSET:
			r = parse_u64("--offset", optarg, PHPC_SUBID_LIMIT - 1, &o->p.offset, err);
			o->given_offset = true;
			break;
		case O_BASE:
			r = parse_u64("--base", optarg, PHPC_SUBID_LIMIT - 1, &o->p.base, err);
			o->given_base = true;
			break;
		case O_COUNT:
			r = parse_u64("--count", optarg, PHPC_SUBID_LIMIT, &o->p.count, err);
			break;
		case O_UMIN:
			r = parse_u64("--uid-min", optarg, uid_top, &v, err);
			o->p.uid_min = (uint32_t)v;
			o->given_uid_min = true;
			break;
		case O_UMAX:
			r = parse_u64("--uid-max", optarg, uid_top, &v, err);
			o->p.uid_max = (uint32_t)v;
			o->given_uid_max = true;
			break;
		case O_SUBUID:
			o->subuid = optarg;
			break;
		case O_SUBGID:
			o->subgid = optarg;
			break;
		case O_MIN_USERS:
			r = parse_u64("--min-users", optarg, UINT32_MAX, &o->min_users, err);
			break;
		case O_DRY:
			o->dry_run = true;
			break;
		case O_HELP:
			fputs(USAGE, stdout);
			return 1;
		case O_VERSION:
			printf(PROG " %s\n", PHPC_VERSION);
			return 1;
		case ':':
			r = phpc_error_set(err, EINVAL, "%s needs a value (see --help)",
			                   argv[optind - 1]);
			break;
		default:
			r = phpc_error_set(err, EINVAL, "unknown option %s (see --help)",
			                   argv[optind - 1]);
			break;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return phpc_error_set(err, EINVAL, "unexpected argument %s (see --help)",
		                      argv[optind]);
	if (o->p.scheme == PHPC_SUBID_OFFSET && (o->given_multiplier || o->given_offset))
		return phpc_error_set(err, EINVAL,
		                      "--multiplier and --offset belong to --scheme multiply; "
		                      "--scheme offset takes --base");
	if (o->p.scheme == PHPC_SUBID_MULTIPLY && o->given_base)
		return phpc_error_set(err, EINVAL,
		                      "--base belongs to --scheme offset; --scheme multiply takes "
		                      "--multiplier and --offset");
	/* offset's blocks are counted from uid_min: taken from each node's
	 * login.defs, nodes whose UID_MIN differ would give one uid different
	 * blocks, and one block to different uids */
	if (o->p.scheme == PHPC_SUBID_OFFSET && !o->given_uid_min)
		return phpc_error_set(
		    err, EINVAL,
		    "--scheme offset needs --uid-min: its blocks are counted from "
		    "that uid, and every node must count from the same one "
		    "(UID_MIN of each node's /etc/login.defs may differ); give "
		    "the lowest uid of the site's users, the same on every node");
	return 0;
}

/* The uid range that useradd uses, unless given. */
static int login_defs_range(struct options *o, struct phpc_error **err)
{
	if (o->given_uid_min && o->given_uid_max)
		return 0;
	static const char path[] = "/etc/login.defs";
	_cleanup_free_ char *text = NULL;
	int r = phpc_read_file(AT_FDCWD, path, &text, NULL, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return phpc_error_errno(err, -r, "cannot read %s", path);
	uint32_t lo = o->p.uid_min, hi = o->p.uid_max;
	_cleanup_strv_ struct phpc_strv warnings = {0};
	phpc_subid_login_defs(path, text, &lo, &hi, &warnings);
	print_all(stderr, PROG ": warning: ", &warnings);
	if (!o->given_uid_min)
		o->p.uid_min = lo;
	if (!o->given_uid_max)
		o->p.uid_max = hi;
	return 0;
}

static int needs_root(const char *what, struct phpc_error **err)
{
	return phpc_error_set(err, EPERM,
	                      "writing %s needs root: run it as root, add --dry-run to see what "
	                      "it would add, or give --subuid FILE --subgid FILE to write files "
	                      "of yours",
	                      what);
}

/* 0: all is well; 2: done, with users left out, overlaps or lines that
 * break a file; < 0: error. */
static int run(int argc, char **argv, struct phpc_error **err)
{
	struct options o = {
	    .p = {.scheme = PHPC_SUBID_MULTIPLY,
	          .multiplier = PHPC_SUBID_DEFAULT_MULTIPLIER,
	          .base = PHPC_SUBID_DEFAULT_BASE,
	          .count = PHPC_SUBID_DEFAULT_COUNT,
	          .uid_min = PHPC_SUBID_DEFAULT_UID_MIN,
	          .uid_max = PHPC_SUBID_DEFAULT_UID_MAX},
	};
	int r = parse_options(argc, argv, &o, err);
	if (r != 0)
		return r < 0 ? r : 0;
	bool root = geteuid() == 0;
	if (!root && !o.dry_run && (!o.subuid || !o.subgid)) {
		_cleanup_free_ char *what = phpc_xasprintf("%s%s%s", o.subuid ? "" : "/etc/subuid",
		                                           !o.subuid && !o.subgid ? " and " : "",
		                                           o.subgid ? "" : "/etc/subgid");
		return needs_root(what, err);
	}
	r = login_defs_range(&o, err);
	if (r == 0)
		r = phpc_subid_params_check(&o.p, err);
	if (r < 0)
		return r;

	/* NSS first and outside the locks: LDAP can be slow, and useradd
	 * must not wait for it */
	_cleanup_(nsslist_clear) struct nsslist nss = {0};
	r = enumerate(&nss, err);
	if (r < 0)
		return r;
	if (nss.n_users < o.min_users)
		return phpc_error_set(err, EIO,
		                      "NSS listed %zu users, fewer than --min-users %" PRIu64
		                      ": a source of users (LDAP, SSSD) may be unreachable, which "
		                      "glibc does not report as an error; nothing written (compare "
		                      "getent passwd | wc -l)",
		                      nss.n_users, o.min_users);

	_cleanup_(phpc_shadow_unlock_db) bool db_locked = false;
	_cleanup_(target_clear) struct target tu = {.dirfd = -1};
	_cleanup_(target_clear) struct target tg = {.dirfd = -1};
	bool checked = root && !o.dry_run;
	r = target_open(&tu, o.subuid ? o.subuid : "/etc/subuid", "--subuid", checked, err);
	if (r < 0)
		return r;
	r = target_open(&tg, o.subgid ? o.subgid : "/etc/subgid", "--subgid", checked, err);
	if (r < 0)
		return r;
	/* a file in /etc is written under lckpwdf, which only root can take
	 * (its lock file is root's): say so rather than time out on it */
	if (!root && !o.dry_run && (in_etc(&tu) || in_etc(&tg)))
		return needs_root(in_etc(&tu) ? tu.path : tg.path, err);
	struct stat su, sg;
	if (fstatat(tu.dirfd, tu.base, &su, 0) == 0 && fstatat(tg.dirfd, tg.base, &sg, 0) == 0 &&
	    su.st_dev == sg.st_dev && su.st_ino == sg.st_ino)
		return phpc_error_set(err, EINVAL, "--subuid %s and --subgid %s are the same file",
		                      tu.path, tg.path);
	if (!o.dry_run) {
		/* useradd's order: lckpwdf, then each file's lock; it reads the
		 * files under them, so must we */
		if (in_etc(&tu) || in_etc(&tg)) {
			r = phpc_shadow_lock_db(&db_locked, err);
			if (r < 0)
				return r;
		}
		r = phpc_shadow_lock_file(tu.path, &tu.lock, err);
		if (r == 0)
			r = phpc_shadow_lock_file(tg.path, &tg.lock, err);
		if (r < 0)
			return r;
	}
	r = target_read(&tu, err);
	if (r == 0)
		r = target_read(&tg, err);
	if (r < 0)
		return r;

	_cleanup_(phpc_subid_plan_clear) struct phpc_subid_plan plan = {0};
	phpc_subid_plan(&tu.file, &tg.file, nss.users, nss.n_users, nss.groups, nss.n_groups, &o.p,
	                &plan);

	print_all(stderr, PROG ": warning: ", &tu.file.broken);
	print_all(stderr, PROG ": warning: ", &tg.file.broken);
	print_all(stderr, PROG ": warning: ", &tu.file.warnings);
	print_all(stderr, PROG ": warning: ", &tg.file.warnings);
	print_all(stderr, PROG ": warning: ", &plan.overlaps);
	print_all(stderr, PROG ": warning: ", &plan.left_out);
	if (o.dry_run) {
		size_t nu, ng;
		_cleanup_free_ char *du =
		    phpc_subid_diff(&tu.file, plan.uid_new, plan.n_uid_new, &nu);
		_cleanup_free_ char *dg =
		    phpc_subid_diff(&tg.file, plan.gid_new, plan.n_gid_new, &ng);
		fwrite(du, 1, nu, stdout);
		fwrite(dg, 1, ng, stdout);
	} else {
		r = target_write(&tu, plan.uid_new, plan.n_uid_new, err);
		if (r == 0) {
			r = target_write(&tg, plan.gid_new, plan.n_gid_new, err);
			if (r < 0 && plan.n_uid_new)
				return phpc_error_prefix(err,
				                         "%s was written, %s not (run again once "
				                         "this is fixed)",
				                         tu.path, tg.path);
		}
		if (r < 0)
			return r;
	}
	/* with --dry-run, stdout is the diff alone */
	size_t bad = tu.file.broken.n + tg.file.broken.n;
	fprintf(o.dry_run ? stderr : stdout,
	        PROG ": %zu users with uids %" PRIu32 "-%" PRIu32 ": %s %s %zu, %zu had one; "
	             "%s %s %zu, %zu had one; %zu left out, %zu overlaps, %zu bad lines%s\n",
	        plan.users, o.p.uid_min, o.p.uid_max, tu.path, o.dry_run ? "would add" : "added",
	        plan.n_uid_new, plan.had_uid, tg.path, o.dry_run ? "would add" : "added",
	        plan.n_gid_new, plan.had_gid, plan.left_out.n, plan.overlaps.n, bad,
	        o.dry_run ? " (dry run: nothing written)" : "");
	return plan.left_out.n || plan.overlaps.n || bad ? 2 : 0;
}

int main(int argc, char **argv)
{
	struct phpc_error *err = NULL;
	int r = run(argc, argv, &err);
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", err ? err->msg : strerror(-r));
		phpc_error_free(err);
		return 1;
	}
	return r;
}
