#include "backend.h"
#include "fsutil.h"
#include "proc.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <json.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define RUN_TIMEOUT_MS   120000     /* a podman-hpc run -d that pulls may take this long */
#define QUERY_TIMEOUT_MS 30000      /* inspect, scontrol, logs */
#define OUTPUT_MAX       (1u << 20) /* the most of a program's output kept (logs too) */
#define LOG_READ_MAX     (1 << 20)  /* the end of a job's log file read */
#define JOBD_ID_LABEL    "podman-hpc-jobd.id" /* the job's own number, on its container */

/* The last line of a program's stderr, for a message. */
static char *last_line(const char *text)
{
	size_t n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	size_t b = n;
	while (b && text[b - 1] != '\n')
		b--;
	return phpc_xstrndup(text + b, n - b);
}

/* A command line of copies of the given strings (NULL ends the list). */
static void argv_of(struct phpc_strv *a, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		phpc_strv_add(a, s);
	va_end(ap);
}

/* Runs argv; *code gets its exit code. out/errout as phpc_spawn_run's. */
static int run(char **argv, int timeout_ms, char **out, char **errout, int *code,
               struct phpc_error **err)
{
	int status = 0;
	int r = phpc_spawn_run(argv, environ, timeout_ms, OUTPUT_MAX, out, errout, &status, err);
	if (r < 0)
		return r;
	*code = phpc_exit_code(status);
	return 0;
}

/* The job's variables as podman's --env-file reads them (one KEY=VALUE a
 * line; jobspec refused line breaks). Not -e: podman-hpc reads -e for its
 * own decisions (module variables, LOG_PLUGIN, rule variables), which a
 * client must never make. */
static char *env_file_text(const struct jobd_config *c, const struct phpc_job_spec *s)
{
	struct phpc_strv lines = {0};
	for (char **e = s->env; e && *e; e++)
		phpc_strv_addf(&lines, "%s\n", *e);
	if (c->home_workaround)
		phpc_strv_add(&lines, "HOME=/tmp\n");
	char *text = phpc_strv_join(lines.v, "");
	phpc_strv_clear(&lines);
	return text;
}

/* The podman-hpc arguments after "run" that make the job's container:
 * pman's mounts, limits and settings. */
static void container_args(const struct jobd_config *c, const struct jobd_job *j,
                           const struct phpc_job_spec *s, const char *env_file, bool detach,
                           struct phpc_strv *a)
{
	if (detach) {
		phpc_strv_add(a, "-d");
		/* its log is read as a file: a GET of a running job starts
		 * one podman process (inspect), not two */
		phpc_strv_add(a, "--log-driver=k8s-file");
	} else {
		phpc_strv_add(a, "--rm");
	}
	phpc_strv_addf(a, "--name=%s", s->jid);
	phpc_strv_add(a, "--label=podman-hpc-jobd=1");
	phpc_strv_addf(a, "--label=" JOBD_ID_LABEL "=%lld", j->id);
	for (char **l = c->job_labels; l && *l; l++)
		phpc_strv_addf(a, "--label=%s", *l);
	phpc_strv_addf(a, "--mount=type=bind,source=%s/%s,target=%s,readonly=true", c->storebase,
	               s->input_dir, PHPC_JOB_INCOMING);
	phpc_strv_addf(a, "--mount=type=bind,source=%s/%s,target=%s", c->storebase, s->output_dir,
	               PHPC_JOB_OUTGOING);
	/* under Slurm, the job's allocation is the limit (sbatch's options) */
	if (!c->ignore_limits && c->backend == JOBD_PODMAN) {
		if (s->cpu_limit > 0)
			phpc_strv_addf(a, "--cpus=%ld.%03ld", s->cpu_limit / 1000,
			               s->cpu_limit % 1000);
		if (s->memory_limit > 0)
			phpc_strv_addf(a, "--memory=%ldm", s->memory_limit);
	}
	if (s->gpu_limit > 0 && c->gpu_flag && *c->gpu_flag)
		phpc_strv_add(a, c->gpu_flag);
	if (c->shm_size)
		phpc_strv_addf(a, "--shm-size=%s", c->shm_size);
	if (c->container_user)
		phpc_strv_addf(a, "--user=%s", c->container_user);
	phpc_strv_addf(a, "--env-file=%s", env_file);
	phpc_strv_add(a, s->image);
	char **cmd = phpc_job_cmd(s);
	phpc_strv_extend(a, cmd);
	phpc_strv_free(cmd);
}

static bool says_missing(const char *errout)
{
	return strstr(errout, "no such container") || strstr(errout, "no container with name");
}

/* The last LOG_READ_MAX bytes of a log file (*cut when that is not all of
 * it); -ENOENT when there is none. */
static int read_end(const char *path, char **buf, size_t *len, bool *cut, struct phpc_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot read %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return phpc_error_errno(err, errno, "cannot read %s", path);
	if (!S_ISREG(st.st_mode))
		return phpc_error_set(err, EINVAL, "%s is not a regular file", path);
	off_t from = st.st_size > LOG_READ_MAX ? st.st_size - LOG_READ_MAX : 0;
	size_t want = (size_t)(st.st_size - from);
	_cleanup_free_ char *b = phpc_xmalloc(want + 1);
	ssize_t n = pread(fd, b, want, from);
	if (n < 0)
		return phpc_error_errno(err, errno, "cannot read %s", path);
	b[n] = '\0';
	*len = (size_t)n;
	if (cut)
		*cut = from > 0;
	*buf = steal_pointer(&b);
	return 0;
}

/* The last c->logs_tail lines of text, as valid UTF-8 for JSON. */
static char *tail_text(const struct jobd_config *c, const char *text, size_t n)
{
	const char *t = phpc_tail_lines(text, n, c->logs_tail);
	return phpc_utf8_sanitize(t, n - (size_t)(t - text));
}

/* ---- podman ---------------------------------------------------------------- */

/* The full id of the container named jid when it carries job id's label;
 * -ENOENT when there is none of that name, -EEXIST when it is another's.
 * One of an earlier job of this service is -EAGAIN: a jid is unique among
 * recorded jobs, so that job was DELETEd, and the worker that was starting
 * it removes its container once podman returns (DELETE right after POST). */
static int podman_adopt(const struct jobd_config *c, const char *jid, long long id, char **cid,
                        struct phpc_error **err)
{
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "container", "inspect",
	        "--format={{.Id}} {{index .Config.Labels \"" JOBD_ID_LABEL "\"}}", jid, NULL);
	_cleanup_free_ char *out = NULL, *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, &out, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0) {
		if (says_missing(errout))
			return -ENOENT;
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "podman-hpc container inspect %s failed: %s", jid,
		                      why);
	}
	char full[80] = "";
	long long label = -1;
	int got = sscanf(out, "%79s %lld", full, &label);
	if (got == 2 && label >= 0 && label < id)
		return phpc_error_set(err, EAGAIN,
		                      "a container named %s of a deleted job (" JOBD_ID_LABEL
		                      "=%lld) is still there (remove it, or use another jid)",
		                      jid, label);
	if (got != 2 || label != id)
		return phpc_error_set(err, EEXIST,
		                      "a container named %s exists that is not this job's (remove "
		                      "it, or use another jid)",
		                      jid);
	*cid = phpc_xstrdup(full);
	return 0;
}

static int podman_remove_id(const struct jobd_config *c, const char *jid, const char *cid,
                            struct phpc_error **err)
{
	/* --time 0: a job's PID 1 (sh, sleep) ignores SIGTERM; a DELETE must
	 * not wait out podman's 10 s stop timeout while the jid stays taken */
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "rm", "--force", "--time=0", cid, NULL);
	_cleanup_free_ char *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, NULL, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0 && !says_missing(errout)) {
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "podman-hpc rm %s failed: %s", jid, why);
	}
	return 0;
}

/* A job with no container id never started, but a run -d that was
 * killed at its time limit may have made one: by name, if it carries the
 * job's own id. */
static int podman_remove(const struct jobd_config *c, const struct jobd_job *j,
                         struct phpc_error **err)
{
	if (j->backend_id && *j->backend_id)
		return podman_remove_id(c, j->jid, j->backend_id, err);
	_cleanup_free_ char *cid = NULL;
	int r = podman_adopt(c, j->jid, j->id, &cid, err);
	if (r == -ENOENT || r == -EEXIST || r == -EAGAIN) {
		phpc_error_freep(err);
		return 0;
	}
	if (r < 0)
		return r;
	return podman_remove_id(c, j->jid, cid, err);
}

static int podman_submit(const struct jobd_config *c, const struct jobd_job *j,
                         const struct phpc_job_spec *s, char **backend_id, struct phpc_error **err)
{
	/* the variables' file lives until podman has read it */
	_cleanup_free_ char *envdir = phpc_xasprintf("%s/env", c->state_dir);
	if (mkdir(envdir, 0700) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", envdir);
	_cleanup_close_ int dfd = open(envdir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", envdir);
	_cleanup_free_ char *name = phpc_xasprintf("%lld.env", j->id);
	_cleanup_free_ char *text = env_file_text(c, s);
	int r = phpc_write_file_atomic(dfd, name, text, strlen(text), 0600, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *env_file = phpc_xasprintf("%s/%s", envdir, name);
	_cleanup_strv_ struct phpc_strv a = {0};
	phpc_strv_add(&a, c->podman_hpc);
	phpc_strv_add(&a, "run");
	container_args(c, j, s, env_file, true, &a);
	_cleanup_free_ char *out = NULL, *errout = NULL;
	int code = 0;
	r = run(a.v, RUN_TIMEOUT_MS, &out, &errout, &code, err);
	unlinkat(dfd, name, 0);
	if (r < 0) {
		/* killed at its time limit: what it made would hold the jid */
		struct jobd_job made = {.id = j->id, .jid = s->jid};
		_cleanup_error_ struct phpc_error *e2 = NULL;
		podman_remove(c, &made, &e2);
		return r;
	}
	if (code != 0) {
		if (strstr(errout, "already in use")) {
			r = podman_adopt(c, s->jid, j->id, backend_id, err);
			/* gone since: the name is free now */
			if (r == -ENOENT)
				return phpc_error_set(err, EAGAIN, "the name %s was in use",
				                      s->jid);
			return r;
		}
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "podman-hpc run failed (exit code %d): %s", code,
		                      why);
	}
	*backend_id = last_line(out);
	return 0;
}

static int podman_find(const struct jobd_config *c, const struct jobd_job *j, char **backend_id,
                       struct phpc_error **err)
{
	int r = podman_adopt(c, j->jid, j->id, backend_id, err);
	/* another job's container of that name: this one was never made */
	if (r == -EEXIST) {
		phpc_error_freep(err);
		return -ENOENT;
	}
	return r;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool time_set(const char *t)
{
	return t && *t && strncmp(t, "0001-01-01", 10) != 0;
}

/* out, and *log_path the container's log when podman writes it as a
 * k8s-file (NULL otherwise: journald, none). */
static int podman_state(const struct jobd_config *c, const struct jobd_job *j,
                        struct jobd_state *out, char **log_path, struct phpc_error **err)
{
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "container", "inspect", j->backend_id, NULL);
	_cleanup_free_ char *o = NULL, *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, &o, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0) {
		if (says_missing(errout)) {
			out->gone = true;
			out->status = PHPC_JOB_UNDEFINED;
			return 0;
		}
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "podman-hpc container inspect %s failed: %s",
		                      j->jid, why);
	}
	struct json_object *a = json_tokener_parse(o), *st = NULL, *v = NULL;
	struct json_object *first =
	    a && json_object_is_type(a, json_type_array) && json_object_array_length(a) > 0
	        ? json_object_array_get_idx(a, 0)
	        : NULL;
	if (!first || !json_object_object_get_ex(first, "State", &st)) {
		if (a)
			json_object_put(a);
		return phpc_error_set(err, EIO,
		                      "podman-hpc container inspect %s: unexpected output", j->jid);
	}
	const char *status = jstr(st, "Status");
	bool oom = json_object_object_get_ex(st, "OOMKilled", &v) && json_object_get_boolean(v);
	int exit_code = json_object_object_get_ex(st, "ExitCode", &v) ? json_object_get_int(v) : 0;
	out->status = phpc_job_status_from_container(status, oom, exit_code);
	out->message = phpc_xstrdup(status ? status : "");
	/* podman says "stopped" from the container's end until its clean-up
	 * is done: finished, but the record waits for "exited" */
	out->settling = status && streq(status, "stopped");
	const char *fin = jstr(st, "FinishedAt"), *sta = jstr(st, "StartedAt");
	out->timestamp = phpc_xstrdup(time_set(fin) ? fin : sta ? sta : "");
	struct json_object *hc = NULL, *lc = NULL;
	if (json_object_object_get_ex(first, "HostConfig", &hc) &&
	    json_object_object_get_ex(hc, "LogConfig", &lc)) {
		const char *type = jstr(lc, "Type"), *path = jstr(lc, "Path");
		if (type && streq(type, "k8s-file") && path && path[0] == '/')
			*log_path = phpc_xstrdup(path);
	}
	json_object_put(a);
	return 0;
}

static int podman_logs(const struct jobd_config *c, const struct jobd_job *j, char **logs,
                       struct phpc_error **err)
{
	_cleanup_free_ char *tail = phpc_xasprintf("--tail=%ld", c->logs_tail);
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "logs", tail, j->backend_id, NULL);
	_cleanup_free_ char *o = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, &o, NULL, &code, err);
	if (r < 0)
		return r;
	if (code != 0) {
		_cleanup_free_ char *why = last_line(o);
		return phpc_error_set(err, EIO, "podman-hpc logs %s failed: %s", j->jid, why);
	}
	*logs = phpc_utf8_sanitize(o, strlen(o));
	return 0;
}

static int podman_log_file(const struct jobd_config *c, const char *path, char **logs,
                           struct phpc_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	bool cut = false;
	int r = read_end(path, &buf, &n, &cut, err);
	/* none yet (created, not started) or removed meanwhile: podman logs
	 * prints nothing then too */
	if (r == -ENOENT) {
		phpc_error_freep(err);
		*logs = phpc_xstrdup("");
		return 0;
	}
	if (r < 0)
		return r;
	size_t len = 0;
	_cleanup_free_ char *text = phpc_k8s_log_text(buf, n, cut, &len);
	*logs = tail_text(c, text, len);
	return 0;
}

/* ---- Slurm ----------------------------------------------------------------- */

/* STATE/jobs/ID: the batch script, the job's variables, its output, the
 * Slurm id, the exit code. By id: a jid can come back after a DELETE
 * while Slurm still ends the old job. */
static char *job_dir(const struct jobd_config *c, long long id)
{
	return phpc_xasprintf("%s/jobs/%lld", c->state_dir, id);
}

/* The first line of a small regular file the batch script writes (the
 * job's container cannot reach it, but it is read with care anyway: no
 * symlink, no FIFO, at most 63 bytes). NULL when there is none. */
static char *read_small(const char *dir, const char *name)
{
	_cleanup_free_ char *path = phpc_xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return phpc_xstrdup(buf);
}

static int slurm_submit(const struct jobd_config *c, const struct jobd_job *j,
                        const struct phpc_job_spec *s, char **backend_id, struct phpc_error **err)
{
	_cleanup_free_ char *dir = job_dir(c, j->id);
	_cleanup_free_ char *jobs = phpc_xasprintf("%s/jobs", c->state_dir);
	if (mkdir(jobs, 0700) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", jobs);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", dir);
	_cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", dir);
	_cleanup_free_ char *text = env_file_text(c, s);
	int r = phpc_write_file_atomic(dfd, "env", text, strlen(text), 0600, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *env_file = phpc_xasprintf("%s/env", dir);
	/* the container, one per node, through podman-hpc on each */
	_cleanup_strv_ struct phpc_strv a = {0};
	phpc_strv_add(&a, "srun");
	phpc_strv_add(&a, "--ntasks-per-node=1");
	phpc_strv_add(&a, c->podman_hpc);
	phpc_strv_add(&a, "run");
	container_args(c, j, s, env_file, false, &a);
	_cleanup_free_ char *line = phpc_job_cmd_string(a.v);
	_cleanup_strv_ struct phpc_strv qv = {0};
	phpc_strv_add(&qv, dir);
	_cleanup_free_ char *qdir = phpc_job_cmd_string(qv.v);
	_cleanup_free_ char *script =
	    phpc_xasprintf("#!/bin/sh\n"
	                   "# podman-hpc-jobd: job %s\n"
	                   "echo \"$SLURM_JOB_ID\" > %s/slurm-id\n"
	                   "%s\n"
	                   "rc=$?\n"
	                   "echo $rc > %s/exit-code.tmp && mv -f %s/exit-code.tmp %s/exit-code\n"
	                   "exit $rc\n",
	                   s->jid, qdir, line, qdir, qdir, qdir);
	r = phpc_write_file_atomic(dfd, "job.sh", script, strlen(script), 0700, err);
	if (r < 0)
		return r;
	_cleanup_strv_ struct phpc_strv b = {0};
	phpc_strv_add(&b, "sbatch");
	phpc_strv_add(&b, "--parsable");
	phpc_strv_addf(&b, "--job-name=%s", s->jid);
	phpc_strv_addf(&b, "--comment=podman-hpc-jobd:%lld", j->id);
	phpc_strv_addf(&b, "--chdir=%s", dir);
	phpc_strv_addf(&b, "--output=%s/output.log", dir);
	phpc_strv_addf(&b, "--nodes=%ld", s->number_of_workers);
	phpc_strv_addf(&b, "--ntasks=%ld", s->number_of_workers);
	phpc_strv_add(&b, "--ntasks-per-node=1");
	if (!c->ignore_limits) {
		if (s->cpu_limit > 0)
			phpc_strv_addf(&b, "--cpus-per-task=%ld", (s->cpu_limit + 999) / 1000);
		if (s->memory_limit > 0)
			phpc_strv_addf(&b, "--mem=%ld", s->memory_limit);
		if (s->gpu_limit > 0)
			phpc_strv_addf(&b, "--gres=gpu:%ld", s->gpu_limit);
	}
	if (c->timelimit_minutes > 0)
		phpc_strv_addf(&b, "--time=%ld", c->timelimit_minutes);
	phpc_strv_addf(&b, "%s/job.sh", dir);
	_cleanup_free_ char *sbatch = phpc_find_executable("sbatch", getenv("PATH"));
	if (!sbatch)
		return phpc_error_set(err, ENOENT, "sbatch not found on PATH");
	free(b.v[0]);
	b.v[0] = phpc_xstrdup(sbatch);
	_cleanup_free_ char *out = NULL, *errout = NULL;
	int code = 0;
	r = run(b.v, QUERY_TIMEOUT_MS, &out, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0) {
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "sbatch failed (exit code %d): %s", code, why);
	}
	out[strcspn(out, ";\n")] = '\0';
	/* before the database: a restart finds the job by this file */
	r = phpc_write_file_atomic(dfd, "slurm-id", out, strlen(out), 0600, err);
	if (r < 0)
		return r;
	*backend_id = phpc_xstrdup(out);
	return 0;
}

static int slurm_find(const struct jobd_config *c, const struct jobd_job *j, char **backend_id,
                      struct phpc_error **err)
{
	_cleanup_free_ char *dir = job_dir(c, j->id);
	char *id = read_small(dir, "slurm-id");
	if (id && *id) {
		*backend_id = id;
		return 0;
	}
	free(id);
	/* sbatch may have taken it just before a kill -9: by its comment,
	 * among this user's jobs */
	_cleanup_free_ char *squeue = phpc_find_executable("squeue", getenv("PATH"));
	if (!squeue)
		return phpc_error_set(err, ENOENT, "squeue not found on PATH");
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, squeue, "--me", "-h", "-o", "%i %k", NULL);
	_cleanup_free_ char *out = NULL, *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, &out, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0)
		return phpc_error_set(err, EIO, "squeue failed: %s", errout);
	_cleanup_free_ char *want = phpc_xasprintf(" podman-hpc-jobd:%lld", j->id);
	for (char *line = out; *line;) {
		size_t n = strcspn(line, "\n");
		size_t k = strcspn(line, " ");
		if (k < n && n - k == strlen(want) && strncmp(line + k, want, n - k) == 0) {
			*backend_id = phpc_xstrndup(line, k);
			return 0;
		}
		line += n;
		if (*line)
			line++;
	}
	return -ENOENT;
}

/* The value of KEY= in scontrol's one-line output, or NULL. */
static char *field(const char *line, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = line; (p = strstr(p, key)); p += k) {
		if ((p == line || p[-1] == ' ') && p[k] == '=') {
			const char *v = p + k + 1;
			return phpc_xstrndup(v, strcspn(v, " \n"));
		}
	}
	return NULL;
}

static int slurm_state(const struct jobd_config *c, const struct jobd_job *j,
                       struct jobd_state *out, struct phpc_error **err)
{
	_cleanup_free_ char *dir = job_dir(c, j->id);
	_cleanup_free_ char *ec = read_small(dir, "exit-code");
	int exit_code = ec && *ec ? atoi(ec) : -1;
	_cleanup_free_ char *scontrol = phpc_find_executable("scontrol", getenv("PATH"));
	if (!scontrol)
		return phpc_error_set(err, ENOENT, "scontrol not found on PATH");
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, scontrol, "-o", "show", "job", j->backend_id ? j->backend_id : "", NULL);
	_cleanup_free_ char *o = NULL, *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, &o, &errout, &code, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *state = NULL, *start = NULL, *end = NULL;
	if (code == 0) {
		state = field(o, "JobState");
		start = field(o, "StartTime");
		end = field(o, "EndTime");
	} else if (!strstr(errout, "Invalid job id")) {
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "scontrol show job %s failed: %s", j->backend_id,
		                      why);
	}
	out->status = phpc_job_status_from_slurm(state, exit_code);
	if (!state && exit_code < 0) {
		out->gone = true;
		out->message = phpc_xstrdup("unknown to Slurm");
	} else {
		out->message = phpc_xstrdup(state ? state : "COMPLETED");
	}
	bool final = out->status == PHPC_JOB_SUCCESS || out->status == PHPC_JOB_ERROR;
	const char *t = final && end ? end : start;
	out->timestamp =
	    phpc_xstrdup(t && strcmp(t, "Unknown") != 0 && strcmp(t, "None") != 0 ? t : "");
	return 0;
}

static int slurm_logs(const struct jobd_config *c, const struct jobd_job *j, char **logs,
                      struct phpc_error **err)
{
	_cleanup_free_ char *dir = job_dir(c, j->id);
	_cleanup_free_ char *path = phpc_xasprintf("%s/output.log", dir);
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	int r = read_end(path, &buf, &n, NULL, err);
	if (r == -ENOENT) {
		phpc_error_freep(err);
		*logs = phpc_xstrdup(""); /* not started yet */
		return 0;
	}
	if (r < 0)
		return r;
	*logs = tail_text(c, buf, n);
	return 0;
}

static int slurm_remove(const struct jobd_config *c, const struct jobd_job *j,
                        struct phpc_error **err)
{
	if (j->backend_id && *j->backend_id) {
		_cleanup_free_ char *scancel = phpc_find_executable("scancel", getenv("PATH"));
		if (!scancel)
			return phpc_error_set(err, ENOENT, "scancel not found on PATH");
		_cleanup_strv_ struct phpc_strv argv = {0};
		argv_of(&argv, scancel, j->backend_id, NULL);
		int code = 0;
		/* a job that has ended is not an error to cancel */
		int r = run(argv.v, QUERY_TIMEOUT_MS, NULL, NULL, &code, err);
		if (r < 0)
			return r;
	}
	_cleanup_free_ char *jobs = phpc_xasprintf("%s/jobs", c->state_dir);
	_cleanup_close_ int dfd = open(jobs, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : phpc_error_errno(err, errno, "cannot open %s", jobs);
	_cleanup_free_ char *name = phpc_xasprintf("%lld", j->id);
	return phpc_rm_rf_at(dfd, name, err);
}

/* ---- dispatch ---------------------------------------------------------------- */

int backend_submit(const struct jobd_config *c, const struct jobd_job *j,
                   const struct phpc_job_spec *s, char **backend_id, struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_submit(c, j, s, backend_id, err)
	                                : podman_submit(c, j, s, backend_id, err);
}

int backend_find(const struct jobd_config *c, const struct jobd_job *j, char **backend_id,
                 struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_find(c, j, backend_id, err)
	                                : podman_find(c, j, backend_id, err);
}

int backend_observe(const struct jobd_config *c, const struct jobd_job *j, struct jobd_state *out,
                    char **logs, struct phpc_error **err)
{
	*out = (struct jobd_state){0};
	*logs = NULL;
	_cleanup_free_ char *log_path = NULL;
	int r = c->backend == JOBD_SLURM ? slurm_state(c, j, out, err)
	                                 : podman_state(c, j, out, &log_path, err);
	if (r < 0)
		return r;
	if (out->gone && c->backend == JOBD_PODMAN) {
		/* removed: what it printed went with it */
		*logs = phpc_xstrdup("");
		return 0;
	}
	/* After the state: the logs of a job seen finished are all it printed,
	 * and the GET that sees it stores them for good. With podman, the
	 * container's k8s-file log is read: no second podman process. */
	_cleanup_error_ struct phpc_error *le = NULL;
	r = c->backend == JOBD_SLURM ? slurm_logs(c, j, logs, &le)
	    : log_path               ? podman_log_file(c, log_path, logs, &le)
	                             : podman_logs(c, j, logs, &le);
	if (r < 0) {
		if (!out->gone) {
			jobd_state_clear(out);
			*err = steal_pointer(&le);
			return r;
		}
		*logs = phpc_xstrdup("");
	}
	return 0;
}

int backend_remove(const struct jobd_config *c, const struct jobd_job *j, struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_remove(c, j, err) : podman_remove(c, j, err);
}
