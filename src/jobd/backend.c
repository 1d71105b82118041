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
#define OUTPUT_MAX       (4u << 20) /* the most of a program's output kept */
#define LOG_READ_MAX     (4 << 20)  /* the end of a Slurm job's output file read */

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

/* The podman-hpc arguments after "run" that make the job's container:
 * pman's mounts, limits and settings. */
static void container_args(const struct jobd_config *c, const struct phpc_job_spec *s, bool detach,
                           struct phpc_strv *a)
{
	if (detach)
		phpc_strv_add(a, "-d");
	else
		phpc_strv_add(a, "--rm");
	phpc_strv_addf(a, "--name=%s", s->jid);
	phpc_strv_add(a, "--label=podman-hpc-jobd=1");
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
	for (char **e = s->env; e && *e; e++)
		phpc_strv_addf(a, "--env=%s", *e);
	if (c->home_workaround)
		phpc_strv_add(a, "--env=HOME=/tmp");
	phpc_strv_add(a, s->image);
	char **cmd = phpc_job_cmd(s);
	phpc_strv_extend(a, cmd);
	phpc_strv_free(cmd);
}

static bool says_missing(const char *errout)
{
	return strstr(errout, "no such container") || strstr(errout, "no container with name");
}

/* ---- podman ---------------------------------------------------------------- */

static int podman_submit(const struct jobd_config *c, const struct phpc_job_spec *s,
                         char **backend_id, struct phpc_error **err)
{
	_cleanup_strv_ struct phpc_strv a = {0};
	phpc_strv_add(&a, c->podman_hpc);
	phpc_strv_add(&a, "run");
	container_args(c, s, true, &a);
	_cleanup_free_ char *out = NULL, *errout = NULL;
	int code = 0;
	int r = run(a.v, RUN_TIMEOUT_MS, &out, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0) {
		if (strstr(errout, "already in use"))
			return -EEXIST;
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "podman-hpc run failed (exit code %d): %s", code,
		                      why);
	}
	*backend_id = last_line(out);
	return 0;
}

static int podman_find(const struct jobd_config *c, const char *jid, char **backend_id,
                       struct phpc_error **err)
{
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "container", "exists", jid, NULL);
	int code = 0;
	_cleanup_free_ char *errout = NULL;
	int r = run(argv.v, QUERY_TIMEOUT_MS, NULL, &errout, &code, err);
	if (r < 0)
		return r;
	if (code == 1)
		return -ENOENT;
	if (code != 0)
		return phpc_error_set(err, EIO, "podman-hpc container exists %s failed: %s", jid,
		                      errout);
	*backend_id = phpc_xstrdup(jid);
	return 0;
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

static int podman_state(const struct jobd_config *c, const struct jobd_job *j,
                        struct jobd_state *out, struct phpc_error **err)
{
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "container", "inspect", j->jid, NULL);
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
	const char *fin = jstr(st, "FinishedAt"), *sta = jstr(st, "StartedAt");
	out->timestamp = phpc_xstrdup(time_set(fin) ? fin : sta ? sta : "");
	json_object_put(a);
	return 0;
}

static int podman_logs(const struct jobd_config *c, const struct jobd_job *j, char **logs,
                       struct phpc_error **err)
{
	_cleanup_free_ char *tail = phpc_xasprintf("--tail=%ld", c->logs_tail);
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "logs", tail, j->jid, NULL);
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

static int podman_remove(const struct jobd_config *c, const struct jobd_job *j,
                         struct phpc_error **err)
{
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, c->podman_hpc, "rm", "--force", j->jid, NULL);
	_cleanup_free_ char *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, NULL, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0 && !says_missing(errout)) {
		_cleanup_free_ char *why = last_line(errout);
		return phpc_error_set(err, EIO, "podman-hpc rm %s failed: %s", j->jid, why);
	}
	return 0;
}

/* ---- Slurm ----------------------------------------------------------------- */

/* STATE/jobs/JID: the batch script, its output, the Slurm id, the exit code. */
static char *job_dir(const struct jobd_config *c, const char *jid)
{
	return phpc_xasprintf("%s/jobs/%s", c->state_dir, jid);
}

static char *read_small(const char *dir, const char *name)
{
	_cleanup_free_ char *path = phpc_xasprintf("%s/%s", dir, name);
	char *text = NULL;
	if (phpc_read_file(AT_FDCWD, path, &text, NULL, NULL) < 0)
		return NULL;
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	return text;
}

static int slurm_submit(const struct jobd_config *c, const struct phpc_job_spec *s,
                        char **backend_id, struct phpc_error **err)
{
	_cleanup_free_ char *dir = job_dir(c, s->jid);
	_cleanup_free_ char *jobs = phpc_xasprintf("%s/jobs", c->state_dir);
	if (mkdir(jobs, 0700) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", jobs);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return phpc_error_errno(err, errno, "cannot create %s", dir);
	_cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return phpc_error_errno(err, errno, "cannot open %s", dir);
	/* the container, one per node, through podman-hpc on each */
	_cleanup_strv_ struct phpc_strv a = {0};
	phpc_strv_add(&a, "srun");
	phpc_strv_add(&a, "--ntasks-per-node=1");
	phpc_strv_add(&a, c->podman_hpc);
	phpc_strv_add(&a, "run");
	container_args(c, s, false, &a);
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
	int r = phpc_write_file_atomic(dfd, "job.sh", script, strlen(script), 0700, err);
	if (r < 0)
		return r;
	_cleanup_strv_ struct phpc_strv b = {0};
	phpc_strv_add(&b, "sbatch");
	phpc_strv_add(&b, "--parsable");
	phpc_strv_addf(&b, "--job-name=%s", s->jid);
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

static int slurm_find(const struct jobd_config *c, const char *jid, char **backend_id,
                      struct phpc_error **err)
{
	_cleanup_free_ char *dir = job_dir(c, jid);
	char *id = read_small(dir, "slurm-id");
	if (id && *id) {
		*backend_id = id;
		return 0;
	}
	free(id);
	_cleanup_free_ char *squeue = phpc_find_executable("squeue", getenv("PATH"));
	if (!squeue)
		return phpc_error_set(err, ENOENT, "squeue not found on PATH");
	_cleanup_free_ char *name = phpc_xasprintf("--name=%s", jid);
	_cleanup_strv_ struct phpc_strv argv = {0};
	argv_of(&argv, squeue, "-h", "-o", "%i", name, NULL);
	_cleanup_free_ char *out = NULL, *errout = NULL;
	int code = 0;
	int r = run(argv.v, QUERY_TIMEOUT_MS, &out, &errout, &code, err);
	if (r < 0)
		return r;
	if (code != 0)
		return phpc_error_set(err, EIO, "squeue failed: %s", errout);
	out[strcspn(out, "\n")] = '\0';
	if (!*out)
		return -ENOENT;
	*backend_id = phpc_xstrdup(out);
	return 0;
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
	_cleanup_free_ char *dir = job_dir(c, j->jid);
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
	_cleanup_free_ char *dir = job_dir(c, j->jid);
	_cleanup_free_ char *path = phpc_xasprintf("%s/output.log", dir);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*logs = phpc_xstrdup(""); /* not started yet */
			return 0;
		}
		return phpc_error_errno(err, errno, "cannot read %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return phpc_error_errno(err, errno, "cannot read %s", path);
	off_t from = st.st_size > LOG_READ_MAX ? st.st_size - LOG_READ_MAX : 0;
	size_t want = (size_t)(st.st_size - from);
	_cleanup_free_ char *buf = phpc_xmalloc(want + 1);
	ssize_t n = pread(fd, buf, want, from);
	if (n < 0)
		return phpc_error_errno(err, errno, "cannot read %s", path);
	buf[n] = '\0';
	const char *t = phpc_tail_lines(buf, (size_t)n, c->logs_tail);
	*logs = phpc_utf8_sanitize(t, (size_t)n - (size_t)(t - buf));
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
	return phpc_rm_rf_at(dfd, j->jid, err);
}

/* ---- dispatch ---------------------------------------------------------------- */

int backend_submit(const struct jobd_config *c, const struct phpc_job_spec *s, char **backend_id,
                   struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_submit(c, s, backend_id, err)
	                                : podman_submit(c, s, backend_id, err);
}

int backend_find(const struct jobd_config *c, const char *jid, char **backend_id,
                 struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_find(c, jid, backend_id, err)
	                                : podman_find(c, jid, backend_id, err);
}

int backend_state(const struct jobd_config *c, const struct jobd_job *j, struct jobd_state *out,
                  struct phpc_error **err)
{
	*out = (struct jobd_state){0};
	return c->backend == JOBD_SLURM ? slurm_state(c, j, out, err)
	                                : podman_state(c, j, out, err);
}

int backend_logs(const struct jobd_config *c, const struct jobd_job *j, char **logs,
                 struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_logs(c, j, logs, err)
	                                : podman_logs(c, j, logs, err);
}

int backend_remove(const struct jobd_config *c, const struct jobd_job *j, struct phpc_error **err)
{
	return c->backend == JOBD_SLURM ? slurm_remove(c, j, err) : podman_remove(c, j, err);
}
