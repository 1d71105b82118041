/* podman-hpc doctor's checks (doctor.h, docs/doctor.md). */
#include "doctor.h"
#include "subid.h"
#include "env.h"
#include "fsutil.h"
#include "hooks.h"
#include "jsonutil.h"
#include "proc.h"
#include "shared.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>

/* The fix most checks of the site's setup give: a site admin's command. */
#define ADMIN "an admin runs: "

const char *phpc_check_status_name(enum phpc_check_status s)
{
	switch (s) {
	case PHPC_CHECK_OK:
		return "ok";
	case PHPC_CHECK_WARN:
		return "warn";
	case PHPC_CHECK_FAIL:
		return "fail";
	case PHPC_CHECK_SKIP:
		return "skip";
	}
	return "?";
}

void phpc_check_set(struct phpc_check *c, const char *name, enum phpc_check_status s,
                    const char *fmt, ...)
{
	va_list ap;
	free(c->message);
	free(c->fix);
	c->fix = NULL;
	c->name = name;
	c->status = s;
	va_start(ap, fmt);
	c->message = phpc_xvasprintf(fmt, ap);
	va_end(ap);
}

void phpc_check_fix(struct phpc_check *c, const char *fmt, ...)
{
	va_list ap;
	free(c->fix);
	va_start(ap, fmt);
	c->fix = phpc_xvasprintf(fmt, ap);
	va_end(ap);
}

struct phpc_check *phpc_doctor_add(struct phpc_doctor *d)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->checks = phpc_xrealloc(d->checks, d->cap * sizeof(*d->checks));
	}
	struct phpc_check *c = &d->checks[d->n++];
	*c = (struct phpc_check){.name = "", .status = PHPC_CHECK_SKIP};
	return c;
}

size_t phpc_doctor_count(const struct phpc_doctor *d, enum phpc_check_status s)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += d->checks[i].status == s;
	return n;
}

void phpc_doctor_clear(struct phpc_doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->checks[i].message);
		free(d->checks[i].fix);
	}
	free(d->checks);
	free(d->user);
	free(d->host);
	*d = (struct phpc_doctor){0};
}

void phpc_doctor_write_text(const struct phpc_doctor *d, FILE *out)
{
	/* a failure stands out in a column of lower-case words */
	static const char *const label[] = {"ok", "warn", "FAIL", "skip"};
	int width = 0;
	for (size_t i = 0; i < d->n; i++)
		if ((int)strlen(d->checks[i].name) > width)
			width = (int)strlen(d->checks[i].name);
	fprintf(out, "podman-hpc doctor: user %s (uid %u) on %s\n", d->user ? d->user : "?",
	        (unsigned)d->uid, d->host ? d->host : "?");
	for (size_t i = 0; i < d->n; i++) {
		const struct phpc_check *c = &d->checks[i];
		fprintf(out, "%-4s  %-*s  %s\n", label[c->status], width, c->name,
		        c->message ? c->message : "");
		if (c->fix && (c->status == PHPC_CHECK_FAIL || c->status == PHPC_CHECK_WARN))
			fprintf(out, "%*sfix: %s\n", 4 + 2 + width + 2, "", c->fix);
	}
	size_t w = phpc_doctor_count(d, PHPC_CHECK_WARN);
	fprintf(out, "%zu failed, %zu warning%s, %zu ok, %zu skipped\n",
	        phpc_doctor_count(d, PHPC_CHECK_FAIL), w, w == 1 ? "" : "s",
	        phpc_doctor_count(d, PHPC_CHECK_OK), phpc_doctor_count(d, PHPC_CHECK_SKIP));
}

static struct json_object *json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *phpc_doctor_json(const struct phpc_doctor *d)
{
	struct json_object *o = json_object_new_object(), *checks = json_object_new_array();
	json_object_object_add(o, "user", json_str_or_null(d->user));
	json_object_object_add(o, "uid", json_object_new_int64((int64_t)d->uid));
	json_object_object_add(o, "host", json_str_or_null(d->host));
	for (size_t i = 0; i < d->n; i++) {
		const struct phpc_check *c = &d->checks[i];
		struct json_object *j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(c->name));
		json_object_object_add(j, "status",
		                       json_object_new_string(phpc_check_status_name(c->status)));
		json_object_object_add(j, "message",
		                       json_object_new_string(c->message ? c->message : ""));
		json_object_object_add(j, "fix", json_str_or_null(c->fix));
		json_object_array_add(checks, j);
	}
	json_object_object_add(o, "checks", checks);
	json_object_object_add(
	    o, "failed", json_object_new_int64((int64_t)phpc_doctor_count(d, PHPC_CHECK_FAIL)));
	json_object_object_add(
	    o, "warnings", json_object_new_int64((int64_t)phpc_doctor_count(d, PHPC_CHECK_WARN)));
	return o;
}

/* --- the site configuration ------------------------------------------------------------- */

void phpc_check_config(const char *file, const char *error, char *const *warnings, size_t modules,
                       struct phpc_check *c)
{
	static const char name[] = "config";
	if (error) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s", error);
		phpc_check_fix(c, "correct the file and line, or the variable, that the message "
		                  "names; until then podman-hpc runs no command");
		return;
	}
	_cleanup_free_ char *what =
	    file ? phpc_xasprintf("%s, %zu site module%s", file, modules, modules == 1 ? "" : "s")
	         : phpc_xasprintf("no configuration file (the built-in defaults), %zu site "
	                          "module%s",
	                          modules, modules == 1 ? "" : "s");
	if (warnings && warnings[0]) {
		_cleanup_free_ char *all = phpc_strv_join(warnings, "; ");
		phpc_check_set(c, name, PHPC_CHECK_WARN, "%s: %s", what, all);
		phpc_check_fix(c, "correct or remove those settings (podman-hpc infohpc shows each "
		                  "value and where it came from)");
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "%s", what);
}

/* --- 1. user namespaces -------------------------------------------------------------------- */

/* A sysctl as a number; -1 when it cannot be read (an absent one: the
 * kernel has no such switch). */
static long read_sysctl(const char *proc_sys, const char *name)
{
	_cleanup_free_ char *path = phpc_xasprintf("%s/%s", proc_sys, name);
	_cleanup_free_ char *text = NULL;
	if (phpc_read_file(AT_FDCWD, path, &text, NULL, NULL) < 0)
		return -1;
	char *end = NULL;
	errno = 0;
	long v = strtol(text, &end, 10);
	return errno || end == text || v < 0 ? -1 : v;
}

/* Whether program's path is named in text as a whole word of a path (not
 * as the start of /usr/bin/podman-remote). */
static bool names_program(const char *text, const char *program)
{
	size_t n = strlen(program);
	for (const char *p = strstr(text, program); p; p = strstr(p + 1, program)) {
		unsigned char after = (unsigned char)p[n];
		if (!isalnum(after) && after != '-' && after != '_' && after != '.' && after != '/')
			return true;
	}
	return false;
}

/* A rule "userns," (or "allow userns,") on a line of its own. */
static bool allows_userns(const char *text)
{
	for (const char *p = text; *p;) {
		const char *eol = strchrnul(p, '\n');
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (str_has_prefix(p, "allow "))
			for (p += 6; p < eol && isspace((unsigned char)*p);)
				p++;
		if (str_has_prefix(p, "userns")) {
			for (p += 6; p < eol && isspace((unsigned char)*p);)
				p++;
			if (p < eol && *p == ',')
				return true;
		}
		p = *eol ? eol + 1 : eol;
	}
	return false;
}

char *phpc_doctor_apparmor_userns_profile(const char *dir, const char *program)
{
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	char *found = NULL;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		_cleanup_free_ char *text = NULL;
		if (phpc_read_file(dirfd(d), de->d_name, &text, NULL, NULL) == 0 &&
		    names_program(text, program) && allows_userns(text))
			found = phpc_xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	return found;
}

/* In a child: unshare(CLONE_NEWUSER) would take this process into the new
 * namespace for good, where its uid is unmapped and podman could not be run
 * after; and a process with threads may not make the call at all. The child
 * does only this and ends. */
static int try_unshare_userns(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno & 0xff);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD;
}

void phpc_doctor_gather_userns(const char *proc_sys, const char *apparmor_dir, const char *podman,
                               bool root, struct phpc_userns_facts *f)
{
	*f = (struct phpc_userns_facts){.root = root};
	if (root)
		return;
	f->max_namespaces = read_sysctl(proc_sys, "user/max_user_namespaces");
	f->unprivileged_clone = (int)read_sysctl(proc_sys, "kernel/unprivileged_userns_clone");
	f->apparmor_restrict =
	    (int)read_sysctl(proc_sys, "kernel/apparmor_restrict_unprivileged_userns");
	f->podman = podman ? phpc_xstrdup(podman) : NULL;
	if (f->apparmor_restrict == 1 && podman)
		f->apparmor_profile = phpc_doctor_apparmor_userns_profile(apparmor_dir, podman);
	f->unshare_errno = try_unshare_userns();
}

void phpc_userns_facts_clear(struct phpc_userns_facts *f)
{
	free(f->podman);
	free(f->apparmor_profile);
	*f = (struct phpc_userns_facts){0};
}

void phpc_check_userns(const struct phpc_userns_facts *f, struct phpc_check *c)
{
	static const char name[] = "userns";
	if (f->root) {
		phpc_check_set(c, name, PHPC_CHECK_SKIP,
		               "root: podman runs containers without a user namespace");
		return;
	}
	if (f->max_namespaces == 0) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "user namespaces are turned off: user.max_user_namespaces is 0");
		phpc_check_fix(c, ADMIN "sysctl -w user.max_user_namespaces=15000, and keeps it "
		                        "with user.max_user_namespaces = 15000 in "
		                        "/etc/sysctl.d/podman-hpc.conf");
		return;
	}
	if (f->unprivileged_clone == 0) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "user namespaces are turned off for users: "
		               "kernel.unprivileged_userns_clone is 0");
		phpc_check_fix(c,
		               ADMIN "sysctl -w kernel.unprivileged_userns_clone=1, and keeps it "
		                     "with kernel.unprivileged_userns_clone = 1 in "
		                     "/etc/sysctl.d/podman-hpc.conf");
		return;
	}
	const char *podman = f->podman ? f->podman : "podman";
	if (f->apparmor_restrict == 1) {
		/* This process is not podman: what counts is podman's profile. */
		if (f->apparmor_profile) {
			phpc_check_set(c, name, PHPC_CHECK_OK,
			               "AppArmor restricts user namespaces; %s allows them for %s",
			               f->apparmor_profile, podman);
			return;
		}
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "AppArmor restricts user namespaces "
		               "(kernel.apparmor_restrict_unprivileged_userns = 1) and no profile "
		               "in /etc/apparmor.d allows them for %s",
		               podman);
		phpc_check_fix(c,
		               "an admin adds a profile for it with the rule userns, (as Ubuntu's "
		               "/etc/apparmor.d/podman: profile podman %s flags=(unconfined) { "
		               "userns, }) and loads it with apparmor_parser -r FILE; or runs "
		               "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
		               podman);
		return;
	}
	if (f->unshare_errno) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "a process of yours cannot make a user namespace: "
		               "unshare(CLONE_NEWUSER): %s",
		               strerror(f->unshare_errno));
		if (f->unshare_errno == ENOSPC)
			phpc_check_fix(
			    c,
			    "the user namespaces allowed (user.max_user_namespaces = %ld) "
			    "are in use: " ADMIN "sysctl -w user.max_user_namespaces=15000",
			    f->max_namespaces);
		else if (f->unshare_errno == EINVAL)
			phpc_check_fix(c,
			               "this kernel has no user namespaces (CONFIG_USER_NS): the "
			               "node needs a kernel with them");
		else
			phpc_check_fix(c,
			               "something denies it (a seccomp filter, a security module, "
			               "or a container or chroot this shell runs in): an admin "
			               "allows unshare(CLONE_NEWUSER) for users");
		return;
	}
	if (f->max_namespaces > 0)
		phpc_check_set(c, name, PHPC_CHECK_OK,
		               "a process of yours can make a user namespace "
		               "(user.max_user_namespaces = %ld)",
		               f->max_namespaces);
	else
		phpc_check_set(c, name, PHPC_CHECK_OK,
		               "a process of yours can make a user namespace");
}

/* --- 2. subordinate ids -------------------------------------------------------------------- */

static void add_range(struct phpc_subid_facts *f, unsigned long start, unsigned long count)
{
	f->ranges = phpc_xrealloc(f->ranges, (f->n + 1) * sizeof(*f->ranges));
	f->ranges[f->n++] = (struct phpc_subid_range){start, count};
}

/* A decimal number at *p (digits only: no sign, no space), *p moved past it. */
static bool take_number(const char **p, unsigned long *out)
{
	if (!isdigit((unsigned char)**p))
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(*p, &end, 10);
	if (errno)
		return false;
	*out = v;
	*p = end;
	return true;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

int phpc_subid_parse_getsubids(const char *out, struct phpc_subid_facts *f)
{
	for (const char *p = out; *p;) {
		const char *eol = strchrnul(p, '\n');
		const char *q = skip_blanks(p, eol);
		unsigned long index, start, count;
		if (q < eol) {
			/* "0: alice 100000 65536": the range's index, its owner,
			 * its first id and how many */
			if (!take_number(&q, &index) || q >= eol || *q++ != ':')
				return -EINVAL;
			q = skip_blanks(q, eol);
			const char *owner = q;
			while (q < eol && *q != ' ' && *q != '\t')
				q++;
			if (q == owner)
				return -EINVAL;
			q = skip_blanks(q, eol);
			if (!take_number(&q, &start))
				return -EINVAL;
			q = skip_blanks(q, eol);
			if (!take_number(&q, &count) || skip_blanks(q, eol) != eol)
				return -EINVAL;
			add_range(f, start, count);
		}
		p = *eol ? eol + 1 : eol;
	}
	return 0;
}

/* The files are read as podman-hpc-subid reads them (subid.h), which is
 * how shadow-utils reads them. */
void phpc_subid_parse_file(const char *text, const char *user, uid_t uid,
                           struct phpc_subid_facts *f)
{
	struct phpc_subid_file file = {0};
	phpc_subid_parse("subid", text, strlen(text), &file);
	char uid_text[24];
	snprintf(uid_text, sizeof(uid_text), "%u", (unsigned)uid);
	/* the owner by name, or by uid (newuidmap accepts both) */
	for (size_t i = 0; i < file.n; i++)
		if ((user && streq(file.v[i].owner, user)) || streq(file.v[i].owner, uid_text))
			add_range(f, (unsigned long)file.v[i].start,
			          (unsigned long)file.v[i].count);
	phpc_subid_file_clear(&file);
}

unsigned long phpc_subid_free_start(const char *text)
{
	/* 100000: where useradd starts (SUB_UID_MIN), above the system's ids */
	unsigned long next = 100000;
	struct phpc_subid_file file = {0};
	if (text)
		phpc_subid_parse("subid", text, strlen(text), &file);
	for (size_t i = 0; i < file.n; i++) {
		uint64_t end = file.v[i].start + file.v[i].count;
		if (end > next && end >= file.v[i].start)
			next = (unsigned long)end;
	}
	phpc_subid_file_clear(&file);
	return next;
}

void phpc_doctor_gather_subid(bool gid, const char *user, uid_t uid, char *const *envp,
                              const char *file, bool root, struct phpc_subid_facts *f)
{
	*f = (struct phpc_subid_facts){.root = root, .gid = gid, .user = user, .source = file};
	if (root)
		return;
	_cleanup_free_ char *text = NULL;
	_cleanup_error_ struct phpc_error *fe = NULL;
	int rf = phpc_read_file(AT_FDCWD, file, &text, NULL, &fe);
	f->free_start = phpc_subid_free_start(text);
	_cleanup_free_ char *tool = phpc_find_executable("getsubids", phpc_env_get(envp, "PATH"));
	if (tool) {
		f->source = "getsubids";
		char *argv[] = {tool, gid ? (char *)"-g" : (char *)user, gid ? (char *)user : NULL,
		                NULL};
		_cleanup_free_ char *out = NULL;
		_cleanup_error_ struct phpc_error *e = NULL;
		int status = 0;
		if (phpc_spawn_capture_quiet(argv, envp, &out, &status, &e) < 0)
			f->error = phpc_xstrdup(e->msg);
		/* a user without ranges: exit 1, "Error fetching ranges" */
		else if (phpc_exit_code(status) == 0 && phpc_subid_parse_getsubids(out, f) < 0)
			f->error = phpc_xasprintf("%s printed what is not a list of ranges", tool);
		return;
	}
	if (rf == -ENOENT)
		return;
	if (rf < 0)
		f->error = phpc_xstrdup(fe->msg);
	else
		phpc_subid_parse_file(text, user, uid, f);
}

void phpc_subid_facts_clear(struct phpc_subid_facts *f)
{
	free(f->error);
	free(f->ranges);
	*f = (struct phpc_subid_facts){0};
}

void phpc_check_subid(const struct phpc_subid_facts *f, struct phpc_check *c)
{
	const char *name = f->gid ? "subgid" : "subuid";
	const char *ids = f->gid ? "gids" : "uids";
	const char *opt = f->gid ? "--add-subgids" : "--add-subuids";
	const char *user = f->user ? f->user : "?";
	if (f->root) {
		phpc_check_set(c, name, PHPC_CHECK_SKIP, "root: podman maps no subordinate %s",
		               ids);
		return;
	}
	if (f->error) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "cannot read your subordinate %s: %s", ids,
		               f->error);
		phpc_check_fix(c,
		               "an admin makes %s readable by everyone (mode 0644), or fixes "
		               "the subid sources of /etc/nsswitch.conf",
		               f->gid ? "/etc/subgid" : "/etc/subuid");
		return;
	}
	unsigned long total = 0;
	for (size_t i = 0; i < f->n; i++)
		total = total + f->ranges[i].count < total ? ULONG_MAX : total + f->ranges[i].count;
	/* a range no line of the file has, for the admin to give */
	unsigned long s = f->free_start ? f->free_start : 100000, e = s + 65535;
	bool tool = streq(f->source, "getsubids");
	if (total == 0) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "%s has no subordinate %s (%s%s): rootless podman cannot map the "
		               "ids of an image's files",
		               user, ids, tool ? "getsubids found none" : "none in ",
		               tool ? "" : f->source);
		phpc_check_fix(c,
		               "an admin runs podman-hpc-subid (a block for every user of the "
		               "uid range), or gives %s 65536 %s no other user has: usermod %s "
		               "%lu-%lu %s; then %s runs podman-hpc system migrate",
		               user, ids, opt, s, e, user, user);
		return;
	}
	_cleanup_free_ char *first =
	    phpc_xasprintf("%lu-%lu%s", f->ranges[0].start,
	                   f->ranges[0].start + (f->ranges[0].count ? f->ranges[0].count - 1 : 0),
	                   f->n > 1 ? " and more" : "");
	if (total < 65536) {
		phpc_check_set(c, name, PHPC_CHECK_WARN,
		               "%s has only %lu subordinate %s (%s, from %s): images with files "
		               "owned by higher ids, such as nobody (65534), fail to unpack",
		               user, total, ids, first, f->source);
		/* podman-hpc-subid leaves a user with an entry alone */
		phpc_check_fix(c,
		               "an admin gives %s 65536: usermod %s %lu-%lu %s; then %s runs "
		               "podman-hpc system migrate",
		               user, opt, s, e, user, user);
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "%lu subordinate %s: %s (from %s)", total, ids,
	               first, f->source);
}

/* --- newuidmap and newgidmap --------------------------------------------------------------- */

bool phpc_filecap_has(const void *value, size_t len, int cap)
{
	struct vfs_ns_cap_data d; /* revision 3, the largest */
	if (len < sizeof(d.magic_etc) || len > sizeof(d) || cap < 0)
		return false;
	memset(&d, 0, sizeof(d));
	memcpy(&d, value, len);
	uint32_t magic = le32toh(d.magic_etc);
	size_t words;
	switch (magic & VFS_CAP_REVISION_MASK) {
	case VFS_CAP_REVISION_1:
		words = len == XATTR_CAPS_SZ_1 ? VFS_CAP_U32_1 : 0;
		break;
	case VFS_CAP_REVISION_2:
		words = len == XATTR_CAPS_SZ_2 ? VFS_CAP_U32_2 : 0;
		break;
	case VFS_CAP_REVISION_3:
		/* capabilities for root of the user namespace whose root is
		 * rootid: none out here unless that is 0 */
		words = len == XATTR_CAPS_SZ_3 && le32toh(d.rootid) == 0 ? VFS_CAP_U32_3 : 0;
		break;
	default:
		words = 0;
	}
	/* without the effective bit, a program that does not raise its
	 * capabilities itself (newuidmap does not) runs without them */
	if (!(magic & VFS_CAP_FLAGS_EFFECTIVE) || (size_t)cap / 32 >= words)
		return false;
	return (le32toh(d.data[cap / 32].permitted) >> (cap % 32)) & 1;
}

static void gather_tool(struct phpc_idmap_tool *t, const char *name, int cap, const char *path_env)
{
	*t = (struct phpc_idmap_tool){.name = name};
	t->path = phpc_find_executable(name, path_env);
	struct stat st;
	if (!t->path || stat(t->path, &st) < 0) {
		free(steal_pointer(&t->path));
		return;
	}
	t->mode = st.st_mode;
	t->owner = st.st_uid;
	struct statvfs vfs;
	t->nosuid = statvfs(t->path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID);
	unsigned char v[XATTR_CAPS_SZ_3];
	ssize_t n = getxattr(t->path, "security.capability", v, sizeof(v));
	t->cap = n > 0 && phpc_filecap_has(v, (size_t)n, cap);
}

void phpc_doctor_gather_idmap(char *const *envp, bool root, struct phpc_idmap_facts *f)
{
	*f = (struct phpc_idmap_facts){.root = root};
	if (root)
		return;
	const char *path = phpc_env_get(envp, "PATH");
	gather_tool(&f->tool[0], "newuidmap", CAP_SETUID, path);
	gather_tool(&f->tool[1], "newgidmap", CAP_SETGID, path);
}

void phpc_idmap_facts_clear(struct phpc_idmap_facts *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(f->tool); i++)
		free(f->tool[i].path);
	*f = (struct phpc_idmap_facts){0};
}

/* How a tool gets its privilege ("setuid root", "file capabilities"), or
 * NULL with c set to the failure. */
static const char *tool_privilege(const struct phpc_idmap_tool *t, const char *cap,
                                  struct phpc_check *c)
{
	static const char name[] = "newuidmap";
	if (!t->path) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "%s is not installed (not on PATH): podman cannot map your "
		               "subordinate ids",
		               t->name);
		phpc_check_fix(c, "an admin installs it (Debian, Ubuntu: apt install uidmap; RHEL: "
		                  "dnf install shadow-utils)");
		return NULL;
	}
	if (t->cap)
		return "file capabilities";
	bool setuid_root = (t->mode & S_ISUID) && t->owner == 0;
	if (setuid_root && !t->nosuid)
		return "setuid root";
	if (setuid_root) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "%s is setuid root, but its file system is mounted nosuid: it runs "
		               "without privileges and cannot write your id maps",
		               t->path);
		phpc_check_fix(c,
		               "an admin mounts that file system without nosuid, or runs: setcap "
		               "%s+ep %s",
		               cap, t->path);
		return NULL;
	}
	phpc_check_set(c, name, PHPC_CHECK_FAIL,
	               "%s is neither setuid root nor has file capabilities (mode %04o, owner "
	               "uid %u): it cannot write your id maps",
	               t->path, (unsigned)(t->mode & 07777), (unsigned)t->owner);
	phpc_check_fix(c, ADMIN "chown root %s && chmod u+s %s (or: setcap %s+ep %s)", t->path,
	               t->path, cap, t->path);
	return NULL;
}

void phpc_check_idmap(const struct phpc_idmap_facts *f, struct phpc_check *c)
{
	if (f->root) {
		phpc_check_set(c, "newuidmap", PHPC_CHECK_SKIP,
		               "root: podman maps no subordinate ids");
		return;
	}
	const char *u = tool_privilege(&f->tool[0], "cap_setuid", c);
	if (!u)
		return;
	const char *g = tool_privilege(&f->tool[1], "cap_setgid", c);
	if (!g)
		return;
	phpc_check_set(c, "newuidmap", PHPC_CHECK_OK, "%s: %s; %s: %s", f->tool[0].path, u,
	               f->tool[1].path, g);
}

/* --- 3. /dev/fuse -------------------------------------------------------------------------- */

/* The FUSE device's numbers (Documentation/admin-guide/devices.txt). */
#define FUSE_MAJOR 10
#define FUSE_MINOR 229

void phpc_doctor_gather_fuse(const char *path, struct phpc_fuse_facts *f)
{
	*f = (struct phpc_fuse_facts){.path = path};
	struct stat st;
	if (stat(path, &st) < 0) {
		f->stat_errno = errno;
		return;
	}
	f->mode = st.st_mode;
	f->major = major(st.st_rdev);
	f->minor = minor(st.st_rdev);
	/* only the FUSE device is opened: another device's open may act (a
	 * tape rewinds), a FIFO's blocks */
	if (!S_ISCHR(st.st_mode) || f->major != FUSE_MAJOR || f->minor != FUSE_MINOR)
		return;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		f->open_errno = errno;
	else
		close(fd);
}

static const char *file_kind(mode_t mode)
{
	return S_ISREG(mode)    ? "a regular file"
	       : S_ISDIR(mode)  ? "a directory"
	       : S_ISBLK(mode)  ? "a block device"
	       : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISSOCK(mode) ? "a socket"
	                        : "not a device";
}

void phpc_check_fuse(const struct phpc_fuse_facts *f, struct phpc_check *c)
{
	static const char name[] = "fuse";
	if (f->stat_errno) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "%s: %s: fuse-overlayfs and squashfuse cannot mount", f->path,
		               strerror(f->stat_errno));
		phpc_check_fix(c, ADMIN "modprobe fuse (or: mknod -m 0666 %s c %d %d)", f->path,
		               FUSE_MAJOR, FUSE_MINOR);
		return;
	}
	if (!S_ISCHR(f->mode) || f->major != FUSE_MAJOR || f->minor != FUSE_MINOR) {
		_cleanup_free_ char *what =
		    S_ISCHR(f->mode)
		        ? phpc_xasprintf("the character device %u:%u", f->major, f->minor)
		        : phpc_xstrdup(file_kind(f->mode));
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "%s is not the FUSE device (%d:%d) but %s: fuse-overlayfs and "
		               "squashfuse cannot mount",
		               f->path, FUSE_MAJOR, FUSE_MINOR, what);
		phpc_check_fix(c, ADMIN "rm %s && mknod -m 0666 %s c %d %d", f->path, f->path,
		               FUSE_MAJOR, FUSE_MINOR);
		return;
	}
	if (f->open_errno) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "you cannot open %s (mode %04o): %s: fuse-overlayfs and squashfuse "
		               "cannot mount",
		               f->path, (unsigned)(f->mode & 07777), strerror(f->open_errno));
		phpc_check_fix(c,
		               ADMIN "chmod 0666 %s, and keeps it with the udev rule "
		                     "KERNEL==\"fuse\", MODE=\"0666\" in "
		                     "/etc/udev/rules.d/99-fuse.rules",
		               f->path);
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "%s opens read-write", f->path);
}

/* --- 4. graph_root and run_root ------------------------------------------------------------- */

/* statfs f_type values: <linux/magic.h>, and for file systems outside the
 * kernel their clients' sources (Lustre, GPFS, BeeGFS, PanFS, ZFS). */
static const struct {
	uint32_t magic;
	const char *name;
	bool network;
} fs_types[] = {
    {0xEF53, "ext4", false},        {0x58465342, "xfs", false},     {0x9123683E, "btrfs", false},
    {0x01021994, "tmpfs", false},   {0x858458F6, "ramfs", false},   {0x2FC12FC1, "zfs", false},
    {0xF2F52010, "f2fs", false},    {0x794C7630, "overlay", false}, {0x65735546, "fuse", false},
    {0x6969, "nfs", true},          {0x0BD00BD0, "lustre", true},   {0x47504653, "gpfs", true},
    {0x19830326, "beegfs", true},   {0xFF534D42, "cifs", true},     {0xFE534D42, "smb2", true},
    {0x517B, "smb", true},          {0x01021997, "9p", true},       {0x00C36400, "ceph", true},
    {0x5346414F, "afs", true},      {0x6B414653, "afs", true},      {0x73757245, "coda", true},
    {0x7461636F, "ocfs2", true},    {0x01161970, "gfs2", true},     {0xAAD7AAEA, "panfs", true},
    {0x20030528, "orangefs", true},
};

const char *phpc_fs_name(unsigned long type, bool *network)
{
	*network = false;
	for (size_t i = 0; i < ARRAY_SIZE(fs_types); i++)
		/* f_type is a signed long: compare the 32 bits magics have */
		if (fs_types[i].magic == (uint32_t)type) {
			*network = fs_types[i].network;
			return fs_types[i].name;
		}
	return NULL;
}

/* The path an fd was opened as, for messages. */
static char *fd_path(int fd, const char *fallback)
{
	char link[64], buf[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	return n > 0 ? phpc_xstrndup(buf, (size_t)n) : phpc_xstrdup(fallback);
}

/* A file of the user's in dir for as long as the probe takes: unnamed where
 * the file system can (nobody sees it; nothing is left if we are killed),
 * else a name of this process's, which the caller removes (*name set). */
static int probe_create(int dir, char *name, size_t size)
{
	name[0] = '\0';
	int fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd < 0 ? -errno : fd;
	snprintf(name, size, ".podman-hpc-doctor.%ld", (long)getpid());
	fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		name[0] = '\0';
		return -e;
	}
	return fd;
}

void phpc_doctor_gather_store(const char *key, const char *path, const char *what, uid_t uid,
                              bool xattrs, struct phpc_store_facts *f)
{
	*f = (struct phpc_store_facts){.key = key, .path = path};
	_cleanup_error_ struct phpc_error *e = NULL;
	bool complete = false;
	_cleanup_close_ int dir = phpc_dir_open_existing(path, uid, what, &complete, &e);
	if (dir < 0) {
		f->refused = phpc_xstrdup(e ? e->msg : strerror(-dir));
		return;
	}
	f->exists = complete;
	f->probed = fd_path(dir, path);
	struct statfs fs;
	if (fstatfs(dir, &fs) < 0) {
		f->statfs_errno = errno;
		return;
	}
	f->fs_type = (unsigned long)fs.f_type;
	if (xattrs)
		f->xattr_name = uid == 0 ? "trusted.podman-hpc-doctor" : "user.podman-hpc-doctor";
	char name[64];
	int fd = probe_create(dir, name, sizeof(name));
	if (fd < 0) {
		f->create_errno = -fd;
		return;
	}
	if (f->xattr_name &&
	    (fsetxattr(fd, f->xattr_name, "1", 1, 0) < 0 || fremovexattr(fd, f->xattr_name) < 0))
		f->xattr_errno = errno;
	close(fd);
	if (name[0])
		unlinkat(dir, name, 0);
}

void phpc_store_facts_clear(struct phpc_store_facts *f)
{
	free(f->refused);
	free(f->probed);
	*f = (struct phpc_store_facts){0};
}

void phpc_check_store(const struct phpc_store_facts *f, struct phpc_check *c)
{
	const char *key = f->key;
	bool graph = streq(key, "graph_root");
	_cleanup_free_ char *env = phpc_xasprintf("PODMANHPC_%s", key);
	for (char *p = env; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	_cleanup_free_ char *set = phpc_xasprintf("set %s in /etc/podman_hpc/podman_hpc.yaml (for "
	                                          "everyone) or %s (for you) to a directory",
	                                          key, env);
	if (f->refused) {
		phpc_check_set(c, key, PHPC_CHECK_FAIL, "%s", f->refused);
		phpc_check_fix(c, "%s of your own on a local disk or a tmpfs", set);
		return;
	}
	_cleanup_free_ char *at =
	    f->exists ? phpc_xstrdup(f->path)
	              : phpc_xasprintf("%s (not created yet; in %s)", f->path, f->probed);
	if (f->statfs_errno) {
		phpc_check_set(c, key, PHPC_CHECK_FAIL, "cannot examine %s: %s", at,
		               strerror(f->statfs_errno));
		return;
	}
	bool network = false;
	const char *fs = phpc_fs_name(f->fs_type, &network);
	_cleanup_free_ char *fs_text =
	    fs ? phpc_xstrdup(fs) : phpc_xasprintf("a file system of type 0x%lx", f->fs_type);
	if (network) {
		phpc_check_set(
		    c, key, PHPC_CHECK_FAIL, "%s is on %s, a network file system: %s", at, fs_text,
		    graph ? "podman's image and container store needs a local one (file "
		            "locks, extended attributes, overlay mounts)"
		          : "podman's run-time state (locks, sockets) must be on the node");
		phpc_check_fix(c, "%s on a local disk or a tmpfs", set);
		return;
	}
	const char *ns = !f->xattr_name                           ? NULL
	                 : str_has_prefix(f->xattr_name, "user.") ? "user.*"
	                                                          : "trusted.*";
	if (f->create_errno) {
		phpc_check_set(c, key, PHPC_CHECK_FAIL, "%s: you cannot create files in %s: %s", at,
		               f->probed, strerror(f->create_errno));
		phpc_check_fix(c, "%s you can write, on a local disk or a tmpfs", set);
		return;
	}
	if (f->xattr_errno) {
		if (f->xattr_errno == ENOTSUP)
			phpc_check_set(
			    c, key, PHPC_CHECK_FAIL,
			    "%s is on %s, which keeps no %s extended attributes: overlay "
			    "mounts keep whiteouts and file owners in them",
			    at, fs_text, ns);
		else
			phpc_check_set(
			    c, key, PHPC_CHECK_FAIL,
			    "%s: cannot set the extended attribute %s on a file in %s: %s", at,
			    f->xattr_name, f->probed, strerror(f->xattr_errno));
		phpc_check_fix(c,
		               "%s on a file system with %s extended attributes (ext4, xfs, "
		               "btrfs, tmpfs)",
		               set, ns);
		return;
	}
	if (fs && streq(fs, "fuse")) {
		phpc_check_set(c, key, PHPC_CHECK_WARN,
		               "%s is on a FUSE file system: podman's storage does not belong on a "
		               "network one (sshfs, GlusterFS, a Ceph or Lustre client in FUSE)",
		               at);
		phpc_check_fix(c, "if it is one, %s on a local disk or a tmpfs", set);
		return;
	}
	if (ns)
		phpc_check_set(c, key, PHPC_CHECK_OK, "%s on %s, %s extended attributes work", at,
		               fs_text, ns);
	else
		phpc_check_set(c, key, PHPC_CHECK_OK, "%s on %s, writable", at, fs_text);
}

/* --- 5. the OCI runtime --------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? phpc_xstrdup(s) : NULL;
}

int phpc_doctor_parse_info(const char *json, struct phpc_runtime_facts *f, struct phpc_error **err)
{
	struct json_object *o = json_tokener_parse(json);
	struct json_object *host = NULL, *rt = NULL, *sec = NULL, *rootless = NULL;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "host", &host) ||
	    !json_object_is_type(host, json_type_object)) {
		json_object_put(o);
		return phpc_error_set(err, EINVAL, "podman info printed no JSON with a \"host\"");
	}
	if (json_object_object_get_ex(host, "ociRuntime", &rt)) {
		f->runtime = dup_or_null(phpc_json_str(rt, "name"));
		/* "runc version 1.1.5\ncommit: ...": its first line */
		const char *v = phpc_json_str(rt, "version");
		f->runtime_version = v ? phpc_xstrndup(v, strcspn(v, "\n")) : NULL;
	}
	f->cgroup_version = dup_or_null(phpc_json_str(host, "cgroupVersion"));
	f->cgroup_manager = dup_or_null(phpc_json_str(host, "cgroupManager"));
	if (json_object_object_get_ex(host, "security", &sec) &&
	    json_object_is_type(sec, json_type_object) &&
	    json_object_object_get_ex(sec, "rootless", &rootless))
		f->rootless = json_object_get_boolean(rootless);
	f->parsed = true;
	json_object_put(o);
	return 0;
}

char *phpc_doctor_error_line(const char *text)
{
	const char *first = NULL;
	size_t first_len = 0;
	for (const char *p = text; p && *p;) {
		const char *eol = strchrnul(p, '\n');
		size_t n = (size_t)(eol - p);
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n >= 7 && strncmp(p, "Error: ", 7) == 0)
			return phpc_xstrndup(p, n);
		if (!first && n) {
			first = p;
			first_len = n;
		}
		p = *eol ? eol + 1 : eol;
	}
	return first ? phpc_xstrndup(first, first_len) : NULL;
}

/* cgroup v1 with the v2 hierarchy beside it (systemd's "hybrid"):
 * /sys/fs/cgroup a tmpfs of v1 hierarchies, /sys/fs/cgroup/unified v2. */
static bool cgroup_hybrid(const char *root)
{
	struct statfs fs;
	_cleanup_free_ char *unified = phpc_xasprintf("%s/unified", root);
	return statfs(root, &fs) == 0 && (uint32_t)fs.f_type == 0x01021994 /* tmpfs */ &&
	       statfs(unified, &fs) == 0 && (uint32_t)fs.f_type == 0x63677270 /* cgroup2 */;
}

static bool user_dbus(char *const *envp, uid_t uid)
{
	const char *a = phpc_env_get(envp, "DBUS_SESSION_BUS_ADDRESS");
	if (a && *a)
		return true;
	const char *xdg = phpc_env_get(envp, "XDG_RUNTIME_DIR");
	_cleanup_free_ char *bus = xdg && *xdg ? phpc_xasprintf("%s/bus", xdg)
	                                       : phpc_xasprintf("/run/user/%u/bus", (unsigned)uid);
	struct stat st;
	return stat(bus, &st) == 0 && S_ISSOCK(st.st_mode);
}

void phpc_doctor_gather_runtime(char *const *argv, char *const *envp, int timeout_ms,
                                const char *cgroup_root, uid_t uid, struct phpc_runtime_facts *f)
{
	f->cgroup_hybrid = cgroup_hybrid(cgroup_root);
	f->user_dbus = user_dbus(envp, uid);
	const char *cc = phpc_env_get(envp, "CONTAINERS_CONF");
	f->containers_conf = phpc_xstrdup(cc && *cc ? cc : "/etc/containers/containers.conf");
	_cleanup_free_ char *out = NULL, *errout = NULL;
	_cleanup_error_ struct phpc_error *e = NULL;
	int status = 0;
	if (phpc_spawn_run(argv, envp, timeout_ms, 1 << 20, &out, &errout, &status, &e) < 0) {
		f->run_error = phpc_xstrdup(e->msg);
		return;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		f->run_error = phpc_xasprintf("podman info did not answer within %d s (killed)",
		                              timeout_ms / 1000);
		return;
	}
	f->exit_code = phpc_exit_code(status);
	if (f->exit_code != 0) {
		f->error_line = phpc_doctor_error_line(errout);
		return;
	}
	if (phpc_doctor_parse_info(out, f, &e) < 0)
		f->run_error = phpc_xstrdup(e->msg);
}

void phpc_runtime_facts_clear(struct phpc_runtime_facts *f)
{
	free(f->run_error);
	free(f->error_line);
	free(f->runtime);
	free(f->runtime_version);
	free(f->cgroup_version);
	free(f->cgroup_manager);
	free(f->containers_conf);
	*f = (struct phpc_runtime_facts){0};
}

void phpc_check_runtime(const struct phpc_runtime_facts *f, struct phpc_check *c)
{
	static const char name[] = "runtime";
	const char *conf = f->containers_conf ? f->containers_conf : "containers.conf";
	if (f->run_error) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s", f->run_error);
		if (f->not_found)
			phpc_check_fix(
			    c, "an admin installs podman, or sets podman_bin in "
			       "/etc/podman_hpc/podman_hpc.yaml to it (PODMANHPC_PODMAN_BIN "
			       "for you)");
		else
			phpc_check_fix(
			    c, "run podman-hpc --log-level debug info to see what podman does");
		return;
	}
	if (f->exit_code) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "podman info failed (exit %d): %s",
		               f->exit_code, f->error_line ? f->error_line : "it said nothing");
		/* podman's "default OCI runtime "x" not found", "OCI runtime
		 * "x" not found in $PATH", ... */
		if (f->error_line && strstr(f->error_line, "OCI runtime"))
			phpc_check_fix(c,
			               "name an installed runtime under [engine] in %s: runtime = "
			               "\"runc\" (or \"crun\" on cgroup v2)",
			               conf);
		else
			phpc_check_fix(c, "run podman-hpc info for podman's whole message");
		return;
	}
	const char *rt = f->runtime ? f->runtime : "no runtime";
	const char *cg = f->cgroup_version ? f->cgroup_version : "?";
	const char *mgr = f->cgroup_manager ? f->cgroup_manager : "?";
	bool v1 = streq(cg, "v1");
	if (streq(rt, "crun") && v1 && f->cgroup_hybrid) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "podman runs crun on a cgroup v1 hybrid host, where containers fail "
		               "to start (crun: cgroups in hybrid mode not supported)");
		phpc_check_fix(c,
		               "an admin sets runtime = \"runc\" under [engine] in %s (runc works "
		               "on cgroup v1 hybrid hosts)",
		               conf);
		return;
	}
	if (f->rootless && streq(mgr, "systemd") && !f->user_dbus) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "podman uses the systemd cgroup manager, which needs your D-Bus "
		               "session, and you have none (no DBUS_SESSION_BUS_ADDRESS, no "
		               "XDG_RUNTIME_DIR/bus)");
		phpc_check_fix(c, "set cgroup_manager = \"cgroupfs\" under [engine] in %s", conf);
		return;
	}
	const char *ver = f->runtime_version ? f->runtime_version : "";
	phpc_check_set(
	    c, name, PHPC_CHECK_OK, "%s%s%s, cgroup %s%s, %s manager%s",
	    str_has_prefix(ver, rt) ? "" : rt, str_has_prefix(ver, rt) || !*ver ? "" : " ", ver, cg,
	    v1 && f->cgroup_hybrid ? " (hybrid)" : "", mgr, f->rootless ? ", rootless" : "");
}

/* --- 6. resource limits --------------------------------------------------------------------- */

static char *limit_text(rlim_t v, rlim_t unit)
{
	if (v == RLIM_INFINITY)
		return phpc_xstrdup("unlimited");
	return phpc_xasprintf("%llu", (unsigned long long)(v / unit));
}

void phpc_check_nofile(const struct rlimit *l, struct phpc_check *c)
{
	static const char name[] = "nofile";
	_cleanup_free_ char *soft = limit_text(l->rlim_cur, 1), *hard = limit_text(l->rlim_max, 1);
	if (l->rlim_cur != RLIM_INFINITY && l->rlim_cur < 1024) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "open files: %s (hard limit %s), under 1024: podman, conmon and "
		               "programs in containers run out of file descriptors",
		               soft, hard);
		if (l->rlim_max == RLIM_INFINITY || l->rlim_max >= 4096)
			phpc_check_fix(
			    c, "ulimit -n 4096 in your shell or job script; an admin raises "
			       "the default in /etc/security/limits.conf: * soft nofile "
			       "65536");
		else
			phpc_check_fix(
			    c, "an admin raises it in /etc/security/limits.conf: * - nofile "
			       "65536 (and for a job, the limit of slurmd or of the shell "
			       "that submits it)");
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "open files: %s (hard limit %s)", soft, hard);
}

void phpc_check_nproc(const struct rlimit *l, struct phpc_check *c)
{
	static const char name[] = "nproc";
	_cleanup_free_ char *soft = limit_text(l->rlim_cur, 1), *hard = limit_text(l->rlim_max, 1);
	/* the limit counts every thread of the user's, containers' included:
	 * podman alone starts tens */
	if (l->rlim_cur != RLIM_INFINITY && l->rlim_cur < 4096) {
		phpc_check_set(
		    c, name, l->rlim_cur < 256 ? PHPC_CHECK_FAIL : PHPC_CHECK_WARN,
		    "processes: %s (hard limit %s): the threads of podman and of all your "
		    "containers count against it",
		    soft, hard);
		phpc_check_fix(c,
		               "ulimit -u %s in your shell or job script (up to the hard limit); "
		               "an admin raises it in /etc/security/limits.conf: * - nproc "
		               "65536",
		               l->rlim_max == RLIM_INFINITY || l->rlim_max >= 65536 ? "65536"
		                                                                    : hard);
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "processes: %s (hard limit %s)", soft, hard);
}

void phpc_check_memlock(const struct rlimit *l, struct phpc_check *c)
{
	static const char name[] = "memlock";
	_cleanup_free_ char *soft = limit_text(l->rlim_cur, 1024),
	                    *hard = limit_text(l->rlim_max, 1024);
	if (l->rlim_cur != RLIM_INFINITY) {
		phpc_check_set(c, name, PHPC_CHECK_WARN,
		               "locked memory: %s KiB (hard limit %s%s), not unlimited: RDMA "
		               "(InfiniBand, Slingshot) and MPI transports that pin memory fail in "
		               "containers",
		               soft, hard, l->rlim_max == RLIM_INFINITY ? "" : " KiB");
		phpc_check_fix(c,
		               "an admin sets * - memlock unlimited in "
		               "/etc/security/limits.conf, and LimitMEMLOCK=infinity for slurmd, "
		               "whose limit jobs inherit");
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "locked memory: unlimited");
}

/* --- 7. the hook ---------------------------------------------------------------------------- */

void phpc_doctor_gather_hook(const char *dir, struct phpc_hook_facts *f)
{
	*f = (struct phpc_hook_facts){.dir = dir};
	_cleanup_error_ struct phpc_error *e = NULL;
	_cleanup_free_ char *text = NULL;
	int r = phpc_hooks_dir_find_hook(dir, &f->file, &text, &e);
	if (r < 0) {
		f->dir_errno = -r;
		f->dir_error = phpc_xstrdup(e->msg);
		return;
	}
	if (r == 0)
		return;
	struct json_object *o = json_tokener_parse(text), *hook = NULL;
	if (o && json_object_object_get_ex(o, "hook", &hook))
		f->program = dup_or_null(phpc_json_str(hook, "path"));
	json_object_put(o);
	struct stat st;
	if (!f->program)
		return;
	if (stat(f->program, &st) < 0)
		f->program_errno = errno;
	else if (!S_ISREG(st.st_mode))
		f->program_errno = EACCES;
	else if (access(f->program, X_OK) < 0)
		f->program_errno = errno;
}

void phpc_hook_facts_clear(struct phpc_hook_facts *f)
{
	free(f->dir_error);
	free(f->file);
	free(f->program);
	*f = (struct phpc_hook_facts){0};
}

void phpc_check_hook(const struct phpc_hook_facts *f, const char *setting, const char *installed,
                     struct phpc_check *c)
{
	static const char name[] = "hook";
	static const char without[] = "podman runs no hook of podman-hpc: modules' copy rules and "
	                              "ldconfig are not applied";
	if (f->dir_error || !f->file) {
		if (f->dir_errno == ENOENT)
			phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s %s does not exist: %s",
			               setting, f->dir, without);
		else if (f->dir_error)
			phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s: %s: %s", setting,
			               f->dir_error, without);
		else
			phpc_check_set(c, name, PHPC_CHECK_FAIL,
			               "no entry for the hook in %s %s: %s", setting, f->dir,
			               without);
		phpc_check_fix(c, ADMIN "podman-hpc configure-hooks --hooksd %s", f->dir);
		return;
	}
	if (!f->program) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "%s names no hook program podman can read (no \"hook\": {\"path\"})",
		               f->file);
		phpc_check_fix(c, ADMIN "podman-hpc configure-hooks --force --hooksd %s", f->dir);
		return;
	}
	if (f->program_errno) {
		_cleanup_free_ char *why =
		    f->program_errno == ENOENT
		        ? phpc_xstrdup("does not exist")
		        : phpc_xasprintf("you cannot run (%s)", strerror(f->program_errno));
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s names the hook %s, which %s: %s",
		               f->file, f->program, why, without);
		phpc_check_fix(
		    c,
		    "an admin reinstalls podman-hpc, or points the entry at this "
		    "podman-hpc's hook (%s): podman-hpc configure-hooks --force --hooksd %s",
		    installed, f->dir);
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "%s runs %s", f->file, f->program);
}

/* --- 8. the squash store -------------------------------------------------------------------- */

void phpc_doctor_gather_squash(const char *path, const char *source, enum phpc_dir_kind kind,
                               uid_t uid, const char *what, struct phpc_squash_facts *f)
{
	*f = (struct phpc_squash_facts){.path = path, .source = source};
	struct stat st;
	if (lstat(path, &st) < 0 && errno == ENOENT)
		return;
	f->exists = true;
	_cleanup_error_ struct phpc_error *e = NULL;
	/* it exists: phpc_dir_open creates nothing, even for the user's own */
	_cleanup_close_ int fd = phpc_dir_open(path, kind, uid, what, &e);
	if (fd < 0) {
		f->error_code = -fd;
		f->error = phpc_xstrdup(e ? e->msg : strerror(-fd));
		return;
	}
	/* podman looks up overlay-images/ and the layers in it: searchable too */
	if (fstatat(fd, "overlay-images", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT) {
		f->error_code = errno;
		f->error = phpc_xasprintf("cannot look into %s: %s", path, strerror(errno));
	}
}

void phpc_squash_facts_clear(struct phpc_squash_facts *f)
{
	free(f->error);
	*f = (struct phpc_squash_facts){0};
}

void phpc_check_squash(const struct phpc_squash_facts *f, struct phpc_check *c)
{
	static const char name[] = "squash_dir";
	if (!f->exists) {
		phpc_check_set(c, name, PHPC_CHECK_SKIP,
		               "no squashed image yet: %s (%s) does not exist; podman-hpc migrate "
		               "makes it",
		               f->path, f->source);
		return;
	}
	if (f->error) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s", f->error);
		if (f->error_code == EACCES)
			phpc_check_fix(
			    c,
			    "its owner runs chmod -R go+rX %s (g+rX: for the group only); "
			    "or set SQUASH_DIR to a squash store you can read",
			    f->path);
		else
			phpc_check_fix(c,
			               "as the message says; or set SQUASH_DIR to another squash "
			               "store");
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK, "%s (%s) is readable", f->path, f->source);
}

/* --- 9. /dev/mqueue ------------------------------------------------------------------------- */

void phpc_check_mqueue(const char *path, int statfs_errno, unsigned long fs_type,
                       struct phpc_check *c)
{
	static const char name[] = "mqueue";
	if (!statfs_errno && (uint32_t)fs_type == PHPC_MQUEUE_MAGIC) {
		phpc_check_set(c, name, PHPC_CHECK_OK, "%s is a message queue file system", path);
		return;
	}
	bool network;
	const char *fs = statfs_errno ? strerror(statfs_errno) : phpc_fs_name(fs_type, &network);
	_cleanup_free_ char *what =
	    fs ? phpc_xstrdup(fs) : phpc_xasprintf("a file system of type 0x%lx", fs_type);
	phpc_check_set(c, name, PHPC_CHECK_FAIL,
	               "no message queue file system at %s (%s): podman's --ipc=host, which the "
	               "MPI modules use, fails",
	               path, what);
	phpc_check_fix(c, ADMIN "mount -t mqueue mqueue %s (systemd mounts it at boot)", path);
}

/* --- 10. Slurm ------------------------------------------------------------------------------- */

void phpc_check_slurm(char *const *envp, const char *localid_var, const char *tasks_per_node_var,
                      const char *ntasks_pattern, struct phpc_check *c)
{
	static const char name[] = "slurm";
	const char *job = phpc_env_get(envp, "SLURM_JOB_ID");
	const char *step = phpc_env_get(envp, "SLURM_STEP_ID");
	if (!job || !*job) {
		phpc_check_set(c, name, PHPC_CHECK_SKIP, "not in a Slurm job");
		return;
	}
	if (!step || !*step) {
		phpc_check_set(c, name, PHPC_CHECK_WARN,
		               "in Slurm job %s, but not in a job step (a batch script, salloc's "
		               "shell): podman-hpc runs as a single task here",
		               job);
		phpc_check_fix(c, "run podman-hpc in a step: srun podman-hpc ... (srun podman-hpc "
		                  "doctor checks one)");
		return;
	}
	const char *const need[] = {localid_var, tasks_per_node_var, "SLURM_PROCID"};
	_cleanup_strv_ struct phpc_strv missing = {0};
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		const char *v = phpc_env_get(envp, need[i]);
		if (!v || !*v)
			phpc_strv_add(&missing, need[i]);
	}
	if (missing.n) {
		_cleanup_free_ char *list = phpc_strv_join(missing.v, ", ");
		phpc_check_set(c, name, PHPC_CHECK_FAIL,
		               "in Slurm job %s step %s, but %s %s not set: shared-run cannot tell "
		               "which task starts the container, nor MPI the ranks",
		               job, step, list, missing.n == 1 ? "is" : "are");
		phpc_check_fix(c, "run it with srun, which sets them; under another launcher, set "
		                  "PODMANHPC_LOCALID_VAR and PODMANHPC_TASKS_PER_NODE_VAR to the "
		                  "variables it sets (localid_var and tasks_per_node_var in "
		                  "/etc/podman_hpc/podman_hpc.yaml for everyone)");
		return;
	}
	const char *tasks = phpc_env_get(envp, tasks_per_node_var);
	int ntasks = 1;
	_cleanup_error_ struct phpc_error *e = NULL;
	if (phpc_shared_ntasks(tasks, ntasks_pattern, &ntasks, &e) < 0) {
		phpc_check_set(c, name, PHPC_CHECK_FAIL, "%s=%s: %s", tasks_per_node_var, tasks,
		               e->msg);
		phpc_check_fix(c, "set ntasks_pattern (PODMANHPC_NTASKS_PATTERN) to a regular "
		                  "expression that finds the task count in it");
		return;
	}
	phpc_check_set(c, name, PHPC_CHECK_OK,
	               "job %s step %s: %s=%s, %s=%s (%d task%s on this node), SLURM_PROCID=%s",
	               job, step, localid_var, phpc_env_get(envp, localid_var), tasks_per_node_var,
	               tasks, ntasks, ntasks == 1 ? "" : "s", phpc_env_get(envp, "SLURM_PROCID"));
}
