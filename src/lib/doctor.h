/* podman-hpc doctor (docs/doctor.md): what rootless podman-hpc needs of this
 * node and of the calling user, one check at a time. A check is facts,
 * gathered from the system by a phpc_doctor_gather_* function (which looks,
 * prints nothing and leaves nothing behind), and a verdict on them by a pure
 * phpc_check_* function: its status, what is wrong, and the fix (the command
 * or the configuration line a site admin or the user should use). */
#ifndef PHPC_DOCTOR_H
#define PHPC_DOCTOR_H

#include "error.h"
#include "safedir.h"

#include <json.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

enum phpc_check_status {
	PHPC_CHECK_OK,
	PHPC_CHECK_WARN, /* works, with a limit the user should know of */
	PHPC_CHECK_FAIL,
	PHPC_CHECK_SKIP, /* does not apply here; the message says why */
};

struct phpc_check {
	const char *name; /* static: "userns", "graph_root", ... (docs/doctor.md) */
	enum phpc_check_status status;
	char *message; /* one line: what was found */
	char *fix;     /* what to run or set; NULL when there is nothing to fix */
};

/* "ok", "warn", "fail", "skip". */
const char *phpc_check_status_name(enum phpc_check_status s);

/* Sets a check's name, status and message (replacing what it had, the fix
 * included); phpc_check_fix then sets the fix. The program uses them for
 * the checks it decides itself (one skipped because another failed). */
void phpc_check_set(struct phpc_check *c, const char *name, enum phpc_check_status s,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void phpc_check_fix(struct phpc_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The report: whose, where, and the checks in order. */
struct phpc_doctor {
	char *user;
	uid_t uid;
	char *host;
	struct phpc_check *checks;
	size_t n, cap;
};

/* A new, empty check at the end of the report; the pointer is valid until
 * the next phpc_doctor_add. */
struct phpc_check *phpc_doctor_add(struct phpc_doctor *d);
size_t phpc_doctor_count(const struct phpc_doctor *d, enum phpc_check_status s);
void phpc_doctor_clear(struct phpc_doctor *d);

/* The report for people: a header line, one line per check (its status,
 * its name and its message, aligned), the fix indented under each failure
 * and warning, and a summary line. */
void phpc_doctor_write_text(const struct phpc_doctor *d, FILE *out);
/* The report for scripts: {"user", "uid", "host", "checks": [{"name",
 * "status", "message", "fix" (null when none)}], "failed", "warnings"}.
 * The caller puts the object. */
struct json_object *phpc_doctor_json(const struct phpc_doctor *d);

/* --- the site configuration ------------------------------------------------------------- */

/* file: the configuration file read (NULL: none, the defaults); error: why
 * it or the modules did not load (NULL: they did); warnings: what loading
 * said besides; modules: how many modules loaded. */
void phpc_check_config(const char *file, const char *error, char *const *warnings, size_t modules,
                       struct phpc_check *c);

/* --- 1. user namespaces -------------------------------------------------------------------- */

struct phpc_userns_facts {
	bool root;
	long max_namespaces;    /* user.max_user_namespaces; -1: not readable */
	int unprivileged_clone; /* kernel.unprivileged_userns_clone (Debian); -1: none */
	int apparmor_restrict; /* kernel.apparmor_restrict_unprivileged_userns (Ubuntu); -1: none */
	char *podman;          /* the podman whose AppArmor profile counts; NULL: unknown */
	char *apparmor_profile; /* a profile file that allows podman user namespaces, or NULL */
	int unshare_errno;      /* a child's unshare(CLONE_NEWUSER): 0 when it worked */
};

/* Reads the sysctls under proc_sys ("/proc/sys"), looks for an AppArmor
 * profile of podman in apparmor_dir ("/etc/apparmor.d") when AppArmor
 * restricts user namespaces, and lets a child process try to create one. */
void phpc_doctor_gather_userns(const char *proc_sys, const char *apparmor_dir, const char *podman,
                               bool root, struct phpc_userns_facts *f);
void phpc_userns_facts_clear(struct phpc_userns_facts *f);
void phpc_check_userns(const struct phpc_userns_facts *f, struct phpc_check *c);

/* The first regular file in dir that names program and allows user
 * namespaces ("userns,"), as Ubuntu's profile for podman does; newly
 * allocated path, or NULL. */
char *phpc_doctor_apparmor_userns_profile(const char *dir, const char *program);

/* --- 2. subordinate ids -------------------------------------------------------------------- */

struct phpc_subid_range {
	unsigned long start, count;
};

struct phpc_subid_facts {
	bool root;
	bool gid;           /* subgid; else subuid */
	const char *user;   /* the user's name */
	const char *source; /* "getsubids" or the file read (static or the caller's) */
	char *error;        /* the source could not be read: why; NULL */
	struct phpc_subid_range *ranges;
	size_t n;
	unsigned long free_start; /* a start no range of the file uses, for the fix */
};

/* The ranges of `getsubids [-g] USER`'s output ("0: alice 100000 65536" per
 * range) appended to f. Returns -EINVAL on a line of another form. */
int phpc_subid_parse_getsubids(const char *out, struct phpc_subid_facts *f);
/* The ranges of user (by name, or by uid written as a number) in the text of
 * /etc/subuid or /etc/subgid ("NAME:START:COUNT" lines) appended to f. */
void phpc_subid_parse_file(const char *text, const char *user, uid_t uid,
                           struct phpc_subid_facts *f);
/* The end of the file's last range (100000 at least): where a new range can
 * start. */
unsigned long phpc_subid_free_start(const char *text);

/* Asks getsubids (found on envp's PATH) when it is installed: it reads the
 * sources nsswitch.conf names for "subid", as newuidmap does; else reads
 * file ("/etc/subuid" or "/etc/subgid"). */
void phpc_doctor_gather_subid(bool gid, const char *user, uid_t uid, char *const *envp,
                              const char *file, bool root, struct phpc_subid_facts *f);
void phpc_subid_facts_clear(struct phpc_subid_facts *f);
void phpc_check_subid(const struct phpc_subid_facts *f, struct phpc_check *c);

/* --- newuidmap and newgidmap --------------------------------------------------------------- */

struct phpc_idmap_tool {
	const char *name; /* "newuidmap", "newgidmap" */
	char *path;       /* found on PATH; NULL: not found */
	mode_t mode;
	uid_t owner;
	bool nosuid; /* on a file system mounted nosuid */
	bool cap;    /* its file capabilities grant what it needs (CAP_SETUID / CAP_SETGID) */
};

struct phpc_idmap_facts {
	bool root;
	struct phpc_idmap_tool tool[2];
};

/* Whether a security.capability value (struct vfs_cap_data, revision 1, 2
 * or 3) makes cap permitted and effective for a program run by anyone (a
 * revision 3 value for root of another user namespace does not). */
bool phpc_filecap_has(const void *value, size_t len, int cap);

void phpc_doctor_gather_idmap(char *const *envp, bool root, struct phpc_idmap_facts *f);
void phpc_idmap_facts_clear(struct phpc_idmap_facts *f);
void phpc_check_idmap(const struct phpc_idmap_facts *f, struct phpc_check *c);

/* --- 3. /dev/fuse -------------------------------------------------------------------------- */

struct phpc_fuse_facts {
	const char *path;
	int stat_errno; /* 0: it exists */
	mode_t mode;
	unsigned major, minor;
	int open_errno; /* opening it read-write: 0 when it worked */
};

void phpc_doctor_gather_fuse(const char *path, struct phpc_fuse_facts *f);
void phpc_check_fuse(const struct phpc_fuse_facts *f, struct phpc_check *c);

/* --- 4. graph_root and run_root ------------------------------------------------------------- */

/* The name of the file system with this statfs f_type ("nfs", "ext4", ...;
 * "unknown" for others) and whether it is one that other nodes share over
 * the network (NFS, Lustre, GPFS, BeeGFS, CIFS/SMB, 9p, Ceph, ...). */
const char *phpc_fs_name(unsigned long type, bool *network);

struct phpc_store_facts {
	const char *key;  /* "graph_root", "run_root" */
	const char *path; /* its value */
	char *refused;    /* what podman-hpc would refuse in its path (safedir.h), or NULL */
	bool exists;      /* path exists; else probed is its deepest existing directory */
	char *probed;     /* the directory examined */
	int statfs_errno;
	unsigned long fs_type;
	int create_errno;       /* creating a file in probed: 0 when it worked */
	const char *xattr_name; /* the extended attribute tried, NULL when none */
	int xattr_errno;        /* setting and removing it: 0 when it worked */
};

/* Walks path as phpc_dir_open would for the user's own directory, creating
 * nothing (phpc_dir_open_existing; what names the setting in its messages),
 * then examines path or its deepest existing directory: its file system and
 * whether the user can create a file there that keeps an extended attribute
 * (with xattrs: user.podman-hpc-doctor, trusted.podman-hpc-doctor for root,
 * whose overlay mounts keep theirs in trusted.*). The file is unnamed
 * (O_TMPFILE) where the file system allows, and removed. */
void phpc_doctor_gather_store(const char *key, const char *path, const char *what, uid_t uid,
                              bool xattrs, struct phpc_store_facts *f);
void phpc_store_facts_clear(struct phpc_store_facts *f);
void phpc_check_store(const struct phpc_store_facts *f, struct phpc_check *c);

/* --- 5. the OCI runtime --------------------------------------------------------------------- */

struct phpc_runtime_facts {
	char *run_error;  /* podman could not be found or run: why; NULL */
	bool not_found;   /* podman_bin names no program */
	int exit_code;    /* podman info's */
	char *error_line; /* its first error line when it failed */
	bool parsed;      /* its JSON was read */
	char *runtime;    /* host.ociRuntime.name */
	char *runtime_version;
	char *cgroup_version; /* host.cgroupVersion: "v1", "v2" */
	char *cgroup_manager; /* host.cgroupManager: "cgroupfs", "systemd" */
	bool rootless;
	bool cgroup_hybrid; /* cgroup v1 with the v2 hierarchy mounted beside it */
	bool user_dbus;     /* the user has a D-Bus session (systemd's cgroup manager needs it) */
	char *containers_conf; /* the containers.conf a fix should name */
};

/* Reads what the check needs of podman info's JSON. */
int phpc_doctor_parse_info(const char *json, struct phpc_runtime_facts *f, struct phpc_error **err);
/* podman's first "Error: " line of text, else its first line that is not
 * empty; newly allocated, NULL when text has none. */
char *phpc_doctor_error_line(const char *text);
/* Runs argv (podman with podman-hpc's options, then "info --format json")
 * with envp, at most timeout_ms, and reads its answer; then the node's
 * cgroup layout under cgroup_root ("/sys/fs/cgroup") and the user's D-Bus
 * session. */
void phpc_doctor_gather_runtime(char *const *argv, char *const *envp, int timeout_ms,
                                const char *cgroup_root, uid_t uid, struct phpc_runtime_facts *f);
void phpc_runtime_facts_clear(struct phpc_runtime_facts *f);
void phpc_check_runtime(const struct phpc_runtime_facts *f, struct phpc_check *c);

/* --- 6. resource limits --------------------------------------------------------------------- */

void phpc_check_nofile(const struct rlimit *l, struct phpc_check *c);
void phpc_check_nproc(const struct rlimit *l, struct phpc_check *c);
void phpc_check_memlock(const struct rlimit *l, struct phpc_check *c);

/* --- 7. the hook ---------------------------------------------------------------------------- */

struct phpc_hook_facts {
	const char *dir;
	char *dir_error; /* hooks_dir could not be read: why; NULL */
	int dir_errno;
	char *file;        /* the hooks.d entry of podman-hpc's hook; NULL: none */
	char *program;     /* the program it names; NULL: it names none (not valid JSON) */
	int program_errno; /* 0: program is an executable file */
};

void phpc_doctor_gather_hook(const char *dir, struct phpc_hook_facts *f);
void phpc_hook_facts_clear(struct phpc_hook_facts *f);
/* setting names hooks_dir with its source; installed is the hook program
 * this podman-hpc installs (for the fix). */
void phpc_check_hook(const struct phpc_hook_facts *f, const char *setting, const char *installed,
                     struct phpc_check *c);

/* --- 8. the squash store -------------------------------------------------------------------- */

struct phpc_squash_facts {
	const char *path;
	const char *source; /* where its value came from ("env: SQUASH_DIR") */
	bool exists;
	char *error; /* what podman-hpc would refuse, or why it cannot be read; NULL */
	int error_code;
};

/* Checks path as podman-hpc does before podman reads it (phpc_dir_open with
 * kind; nothing is created), then that it is readable and searchable. */
void phpc_doctor_gather_squash(const char *path, const char *source, enum phpc_dir_kind kind,
                               uid_t uid, const char *what, struct phpc_squash_facts *f);
void phpc_squash_facts_clear(struct phpc_squash_facts *f);
void phpc_check_squash(const struct phpc_squash_facts *f, struct phpc_check *c);

/* --- 9. /dev/mqueue ------------------------------------------------------------------------- */

/* statfs_errno: statfs(path)'s, 0 when it worked; fs_type: its f_type. */
void phpc_check_mqueue(const char *path, int statfs_errno, unsigned long fs_type,
                       struct phpc_check *c);

/* --- 10. Slurm ------------------------------------------------------------------------------- */

/* In a Slurm job step (SLURM_JOB_ID and SLURM_STEP_ID in envp), whether the
 * variables podman-hpc and MPI in containers read are set: localid_var,
 * tasks_per_node_var (with a number ntasks_pattern finds) and SLURM_PROCID.
 * A job without a step (a batch script, salloc's shell) is a warning: its
 * podman-hpc runs as a single task. */
void phpc_check_slurm(char *const *envp, const char *localid_var, const char *tasks_per_node_var,
                      const char *ntasks_pattern, struct phpc_check *c);

#endif
