#include "api.h"
#include "backend.h"
#include "phpc-build.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "/api/v1/"

/* ---- the queue of jobs to start ------------------------------------------------- */

struct item {
	long long id;
	bool recovered; /* recorded before a restart: ask the backend first */
	int tries;      /* passing failures so far: out of fds, a deleted job's container */
	struct item *next;
};

struct jobd {
	const struct jobd_config *c;
	struct jobdb *db;
	struct MHD_Daemon *mhd;
	int storebase_fd;
	size_t max_body;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct item *head, *tail;
	bool stopping;
	pthread_t *workers;
	int nworkers;
};

void jobd_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *line = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "podman-hpc-jobd: %s\n", line);
}

static void push(struct jobd *d, struct item *it)
{
	pthread_mutex_lock(&d->lock);
	it->next = NULL;
	if (d->tail)
		d->tail->next = it;
	else
		d->head = it;
	d->tail = it;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void enqueue(struct jobd *d, long long id, bool recovered)
{
	struct item *it = phpc_xcalloc(1, sizeof(*it));
	it->id = id;
	it->recovered = recovered;
	push(d, it);
}

static struct item *dequeue(struct jobd *d)
{
	pthread_mutex_lock(&d->lock);
	while (!d->head && !d->stopping)
		pthread_cond_wait(&d->cond, &d->lock);
	struct item *it = d->stopping ? NULL : d->head;
	if (it) {
		d->head = it->next;
		if (!d->head)
			d->tail = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	return it;
}

static char *now_rfc3339(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return phpc_xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

/* A job that could not be handed to the backend is final, with the reason:
 * its client sees finishedWithError and why, never a silent hang. */
static void fail_job(struct jobd *d, const struct jobd_job *j, const char *why)
{
	_cleanup_free_ char *ts = now_rfc3339();
	_cleanup_error_ struct phpc_error *e = NULL;
	if (jobdb_set_final(d->db, j->id, phpc_job_status_name(PHPC_JOB_ERROR), why, ts, "", &e) <
	    0)
		jobd_log("job %s: %s", j->jid, e->msg);
	jobd_log("job %s not started: %s", j->jid, why);
}

/* Running out of file descriptors or processes passes: try again later
 * rather than fail the job for good. */
static bool transient(const struct phpc_error *e)
{
	return e &&
	       (e->code == EMFILE || e->code == ENFILE || e->code == EAGAIN || e->code == ENOMEM);
}

/* Tries of a job's start, a second apart: then a passing cause has become
 * the job's error, never a job left notStarted for good. */
#define START_TRIES 30

static bool try_again(const struct item *it, const struct phpc_error *e)
{
	return transient(e) && it->tries + 1 < START_TRIES;
}

static struct json_object *check_dirs(struct jobd *d, const struct phpc_job_spec *s, bool make);

/* Returns true when the item is to be tried again. */
static bool start_one(struct jobd *d, struct item *it)
{
	_cleanup_(jobd_job_clear) struct jobd_job j = {0};
	_cleanup_error_ struct phpc_error *e = NULL;
	if (jobdb_get_id(d->db, it->id, &j, &e) < 0) {
		if (e)
			jobd_log("job #%lld: %s", it->id, e->msg);
		return false; /* deleted before its turn */
	}
	if (j.phase != JOBD_ACCEPTED)
		return false;
	_cleanup_free_ char *id = NULL;
	int r = -ENOENT;
	if (it->recovered) {
		/* the service may have been killed after the backend took the
		 * job and before the database said so */
		r = backend_find(d->c, &j, &id, &e);
		if (r < 0 && r != -ENOENT) {
			if (try_again(it, e))
				return true;
			fail_job(d, &j, e->msg);
			return false;
		}
	}
	if (r == -ENOENT) {
		_cleanup_(phpc_job_spec_clear) struct phpc_job_spec s = {0};
		struct json_object *msg = NULL;
		if (phpc_job_spec_parse(j.spec, strlen(j.spec), &s, &msg) < 0) {
			if (msg)
				json_object_put(msg);
			fail_job(d, &j, "the recorded job description is not valid");
			return false;
		}
		/* again, just before podman or sbatch resolves them: the
		 * directories may have changed since the POST */
		struct json_object *bad = check_dirs(d, &s, false);
		if (bad) {
			_cleanup_free_ char *why = phpc_xasprintf(
			    "its directories changed after it was accepted: %s",
			    json_object_to_json_string_ext(bad, JSON_C_TO_STRING_PLAIN));
			json_object_put(bad);
			fail_job(d, &j, why);
			return false;
		}
		r = backend_submit(d->c, &j, &s, &id, &e);
		if (r < 0) {
			if (try_again(it, e))
				return true;
			fail_job(d, &j, e ? e->msg : strerror(-r));
			return false;
		}
	}
	phpc_error_freep(&e);
	r = jobdb_set_submitted(d->db, j.id, id, &e);
	if (r == -ENOENT) {
		/* DELETEd while it was being started: what was made goes now,
		 * by its own id (a new job may already have the jid) */
		j.backend_id = steal_pointer(&id);
		phpc_error_freep(&e);
		if (backend_remove(d->c, &j, &e) < 0)
			jobd_log("job %s deleted while starting, not removed: %s", j.jid, e->msg);
	} else if (r < 0 && r != -EALREADY) {
		jobd_log("job %s started, not recorded as such: %s", j.jid, e->msg);
	}
	return false;
}

static void *worker(void *arg)
{
	struct jobd *d = arg;
	struct item *it;
	while ((it = dequeue(d))) {
		if (start_one(d, it)) {
			it->tries++;
			sleep(1);
			push(d, it);
			continue;
		}
		free(it);
	}
	return NULL;
}

/* ---- responses ------------------------------------------------------------------- */

struct request {
	char *body;
	size_t len;
	bool too_large;
};

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int code, char *text,
                                 const char *content_type)
{
	size_t n = text ? strlen(text) : 0;
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(n, text ? text : (char *)"", MHD_RESPMEM_MUST_COPY);
	free(text);
	if (!resp)
		return MHD_NO;
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (code == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	enum MHD_Result r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Sends o (consumed) as the JSON body. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned int code,
                                 struct json_object *o)
{
	char *text = phpc_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return send_text(conn, code, text, "application/json");
}

/* pman's error body: {"message": m} (m consumed: a string or an object). */
static enum MHD_Result send_message(struct MHD_Connection *conn, unsigned int code,
                                    struct json_object *m)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "message", m);
	return send_json(conn, code, o);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned int code, const char *fmt,
                                  ...) __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned int code, const char *fmt,
                                  ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	return send_message(conn, code, json_object_new_string(msg));
}

static enum MHD_Result redirect(struct MHD_Connection *conn, const char *to)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, to);
	enum MHD_Result r = MHD_queue_response(conn, 308, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result not_allowed(struct MHD_Connection *conn, const char *allow)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(
	    o, "message",
	    json_object_new_string("The method is not allowed for the requested URL."));
	char *text = phpc_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
	MHD_destroy_response(resp);
	return r;
}

static struct json_object *str_or_empty(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static struct json_object *job_info(const struct jobd_job *j, const char *status,
                                    const char *message, const char *timestamp, const char *logs)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "jid", str_or_empty(j->jid));
	json_object_object_add(o, "image", str_or_empty(j->image));
	json_object_object_add(o, "cmd", str_or_empty(j->cmd));
	json_object_object_add(o, "status", str_or_empty(status));
	json_object_object_add(o, "message", str_or_empty(message));
	json_object_object_add(o, "timestamp", str_or_empty(timestamp));
	json_object_object_add(o, "logs", str_or_empty(logs));
	return o;
}

/* ---- STOREBASE ---------------------------------------------------------------------- */

static int open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC,
	                       .resolve =
	                           RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static const char *beneath_reason(int r)
{
	switch (-r) {
	case ENOENT:
		return "is not a directory below STOREBASE";
	case ENOTDIR:
		return "is not a directory";
	case ELOOP:
	case EXDEV:
		return "must not pass through a symbolic link or leave STOREBASE";
	default:
		return strerror(-r);
	}
}

/* input_dir must exist; output_dir is made (each missing component,
 * mode 0755) as the job's client expects; neither may pass through a
 * symlink: a job's output directory is the job's to fill, and a link there
 * must not become the next job's mount of something else. Returns NULL or
 * the {field: reason} object for a 400. */
static struct json_object *check_dirs(struct jobd *d, const struct phpc_job_spec *s, bool make)
{
	struct json_object *errs = json_object_new_object();
	int fd = open_beneath(d->storebase_fd, s->input_dir, O_PATH | O_DIRECTORY);
	if (fd < 0)
		json_object_object_add(errs, "input_dir",
		                       json_object_new_string(beneath_reason(fd)));
	else
		close(fd);
	int cur = fcntl(d->storebase_fd, F_DUPFD_CLOEXEC, 0);
	_cleanup_strv_ struct phpc_strv parts = {0};
	phpc_strv_split(&parts, s->output_dir, '/');
	for (size_t i = 0; cur >= 0 && i < parts.n; i++) {
		if (make && mkdirat(cur, parts.v[i], 0755) < 0 && errno != EEXIST) {
			int e = errno;
			close(cur);
			cur = -e;
			break;
		}
		int next = open_beneath(cur, parts.v[i], O_PATH | O_DIRECTORY);
		close(cur);
		cur = next;
	}
	if (cur < 0)
		json_object_object_add(errs, "output_dir",
		                       json_object_new_string(beneath_reason(cur)));
	else
		close(cur);
	if (json_object_object_length(errs) == 0) {
		json_object_put(errs);
		return NULL;
	}
	return errs;
}

/* ---- handlers --------------------------------------------------------------------------- */

static enum MHD_Result get_root(struct jobd *d, struct MHD_Connection *conn)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "server_version", json_object_new_string(PHPC_VERSION));
	json_object_object_add(o, "container_env", json_object_new_string(d->c->container_env));
	json_object_object_add(o, "storage_type", json_object_new_string("host"));
	return send_json(conn, MHD_HTTP_OK, o);
}

static bool is_json(struct MHD_Connection *conn)
{
	const char *ct =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	return strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result post_job(struct jobd *d, struct MHD_Connection *conn,
                                const struct request *rq)
{
	if (!is_json(conn))
		return send_error(conn, MHD_HTTP_BAD_REQUEST,
		                  "Did not attempt to load JSON data because the request "
		                  "Content-Type was not 'application/json'.");
	_cleanup_(phpc_job_spec_clear) struct phpc_job_spec s = {0};
	struct json_object *msg = NULL;
	if (phpc_job_spec_parse(rq->body ? rq->body : "", rq->len, &s, &msg) < 0)
		return send_message(conn, MHD_HTTP_BAD_REQUEST, msg);
	if (d->c->backend == JOBD_PODMAN && s.number_of_workers != 1)
		return send_error(conn, MHD_HTTP_BAD_REQUEST,
		                  "number_of_workers must be 1 with CONTAINER_ENV=%s (one "
		                  "container on this machine); CONTAINER_ENV=slurm runs a job on "
		                  "several nodes",
		                  d->c->container_env);
	struct json_object *bad = check_dirs(d, &s, true);
	if (bad)
		return send_message(conn, MHD_HTTP_BAD_REQUEST, bad);
	char **cmd = phpc_job_cmd(&s);
	_cleanup_free_ char *cmdline = phpc_job_cmd_string(cmd);
	phpc_strv_free(cmd);
	_cleanup_free_ char *spec = phpc_xstrndup(rq->body, rq->len);
	struct jobd_job j = {.jid = s.jid,
	                     .spec = spec,
	                     .image = s.image,
	                     .cmd = cmdline,
	                     .input_dir = s.input_dir,
	                     .output_dir = s.output_dir};
	_cleanup_error_ struct phpc_error *e = NULL;
	int r = jobdb_insert(d->db, &j, &e);
	if (r == -EEXIST)
		return send_error(conn, MHD_HTTP_CONFLICT,
		                  "a job with jid \"%s\" already exists: DELETE /api/v1/%s/ first, "
		                  "or use another jid",
		                  s.jid, s.jid);
	if (r == -EBUSY)
		return send_error(conn, MHD_HTTP_CONFLICT, "%s", e->msg);
	if (r < 0)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
	enqueue(d, j.id, false);
	return send_json(
	    conn, MHD_HTTP_CREATED,
	    job_info(&j, phpc_job_status_name(PHPC_JOB_NOTSTARTED), "accepted", "", ""));
}

/* The job's record; when there is none (404) or it cannot be read (500),
 * the answer is sent, *sent is its result and the return is negative. */
static int load_job(struct jobd *d, struct MHD_Connection *conn, const char *jid,
                    struct jobd_job *j, enum MHD_Result *sent)
{
	_cleanup_error_ struct phpc_error *e = NULL;
	int r = jobdb_get(d->db, jid, j, &e);
	if (r == -ENOENT)
		*sent = send_error(conn, MHD_HTTP_NOT_FOUND, "no job \"%s\"", jid);
	else if (r < 0)
		*sent = send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
	return r;
}

static enum MHD_Result get_job(struct jobd *d, struct MHD_Connection *conn, const char *jid)
{
	_cleanup_(jobd_job_clear) struct jobd_job j = {0};
	_cleanup_error_ struct phpc_error *e = NULL;
	enum MHD_Result sent;
	if (load_job(d, conn, jid, &j, &sent) < 0)
		return sent;
	int r;
	if (j.phase == JOBD_FINAL)
		return send_json(conn, MHD_HTTP_OK,
		                 job_info(&j, j.status, j.message, j.timestamp, j.logs));
	if (j.phase == JOBD_ACCEPTED)
		return send_json(
		    conn, MHD_HTTP_OK,
		    job_info(&j, phpc_job_status_name(PHPC_JOB_NOTSTARTED), "accepted", "", ""));
	_cleanup_(jobd_state_clear) struct jobd_state st = {0};
	_cleanup_free_ char *logs = NULL;
	r = backend_observe(d->c, &j, &st, &logs, &e);
	if (r < 0)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
	if (st.gone && d->c->backend == JOBD_PODMAN)
		/* removed behind the service's back, as pman answers */
		return send_error(conn, MHD_HTTP_NOT_FOUND,
		                  "job \"%s\": its container no longer exists", jid);
	const char *status = phpc_job_status_name(st.status);
	if ((st.status == PHPC_JOB_SUCCESS || st.status == PHPC_JOB_ERROR || st.gone) &&
	    !st.settling) {
		phpc_error_freep(&e);
		if (jobdb_set_final(d->db, j.id, status, st.message, st.timestamp, logs, &e) < 0)
			jobd_log("job %s: %s", jid, e->msg);
	}
	return send_json(conn, MHD_HTTP_OK, job_info(&j, status, st.message, st.timestamp, logs));
}

static enum MHD_Result delete_job(struct jobd *d, struct MHD_Connection *conn, const char *jid)
{
	if (!d->c->remove_jobs)
		return send_text(conn, MHD_HTTP_NO_CONTENT, NULL, NULL);
	_cleanup_(jobd_job_clear) struct jobd_job j = {0};
	_cleanup_error_ struct phpc_error *e = NULL;
	enum MHD_Result sent;
	if (load_job(d, conn, jid, &j, &sent) < 0)
		return sent;
	int r;
	/* A job not handed to the backend yet is only a record: deleting it
	 * is enough, and the worker that may be starting it right now removes
	 * what it made once it finds the record gone. If a worker recorded its
	 * start meanwhile (-EAGAIN), it is a started job: read it again. */
	if (j.phase == JOBD_ACCEPTED) {
		r = jobdb_delete(d->db, j.id, JOBD_ACCEPTED, &e);
		if (r == 0 || r == -ENOENT)
			return send_text(conn, MHD_HTTP_NO_CONTENT, NULL, NULL);
		if (r != -EAGAIN)
			return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
		jobd_job_clear(&j);
		if (load_job(d, conn, jid, &j, &sent) < 0)
			return sent;
	}
	/* the backend's copy first: if that fails, the job stays listed and
	 * the DELETE can be repeated */
	if (backend_remove(d->c, &j, &e) < 0)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
	r = jobdb_delete(d->db, j.id, j.phase, &e);
	if (r == -EAGAIN)
		/* it became final meanwhile (a GET kept its end): still this job */
		r = jobdb_delete(d->db, j.id, JOBD_FINAL, &e);
	if (r < 0 && r != -ENOENT)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
	return send_text(conn, MHD_HTTP_NO_CONTENT, NULL, NULL);
}

/* Constant time: the token's length and bytes do not show in the timing. */
static bool token_ok(const struct jobd *d, struct MHD_Connection *conn)
{
	if (!d->c->token)
		return true;
	const char *h =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	const char *got = h + 7, *want = d->c->token;
	size_t gn = strlen(got), wn = strlen(want);
	unsigned char diff = gn != wn;
	for (size_t i = 0; i < wn; i++)
		diff |= (unsigned char)(want[i] ^ (i < gn ? got[i] : 0));
	return diff == 0;
}

static enum MHD_Result route(struct jobd *d, struct MHD_Connection *conn, const char *url,
                             const char *method, const struct request *rq)
{
	if (!token_ok(d, conn))
		return send_error(
		    conn, MHD_HTTP_UNAUTHORIZED,
		    "this service needs \"Authorization: Bearer TOKEN\" (the token in "
		    "its --token-file)");
	if (rq->too_large)
		return send_error(conn, 413,
		                  "the request body is larger than %zu bytes (--max-body)",
		                  d->max_body);
	bool get = streq(method, MHD_HTTP_METHOD_GET) || streq(method, MHD_HTTP_METHOD_HEAD);
	if (streq(url, "/api/v1"))
		return redirect(conn, PREFIX);
	if (streq(url, PREFIX)) {
		if (get)
			return get_root(d, conn);
		if (streq(method, MHD_HTTP_METHOD_POST))
			return post_job(d, conn, rq);
		return not_allowed(conn, "GET, HEAD, POST");
	}
	if (!str_has_prefix(url, PREFIX))
		return send_error(conn, MHD_HTTP_NOT_FOUND,
		                  "The requested URL was not found on the server (the API is at "
		                  "/api/v1/).");
	const char *rest = url + strlen(PREFIX);
	size_t n = strlen(rest);
	if (rest[n - 1] != '/') {
		_cleanup_free_ char *to = phpc_xasprintf("%s/", url);
		return redirect(conn, to);
	}
	_cleanup_free_ char *jid = phpc_xstrndup(rest, n - 1);
	if (!*jid || strchr(jid, '/'))
		return send_error(conn, MHD_HTTP_NOT_FOUND, "no job \"%s\"", jid);
	if (get)
		return get_job(d, conn, jid);
	if (streq(method, MHD_HTTP_METHOD_DELETE))
		return delete_job(d, conn, jid);
	return not_allowed(conn, "GET, HEAD, DELETE");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	struct jobd *d = cls;
	struct request *rq = *con_cls;
	if (!rq) {
		rq = phpc_xcalloc(1, sizeof(*rq));
		*con_cls = rq;
		/* a declared size over the limit is refused before its body */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > d->max_body)
			rq->too_large = true;
		/* refused before its body is read */
		if (rq->too_large || !token_ok(d, conn))
			return route(d, conn, url, method, rq);
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_large && rq->len + *upload_size <= d->max_body) {
			rq->body = phpc_xrealloc(rq->body, rq->len + *upload_size + 1);
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		} else {
			rq->too_large = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return route(d, conn, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

int jobd_start(const struct jobd_config *c, struct jobdb *db, const struct jobd_listen *l,
               struct jobd **out, struct phpc_error **err)
{
	struct jobd *d = phpc_xcalloc(1, sizeof(*d));
	d->c = c;
	d->db = db;
	d->max_body = l->max_body;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->storebase_fd = open(c->storebase, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->storebase_fd < 0) {
		int r = phpc_error_errno(err, errno, "cannot open STOREBASE=%s", c->storebase);
		free(d);
		return r;
	}
	/* jobs recorded but never handed to the backend (a kill -9 between
	 * the POST's answer and the start), oldest first */
	long long *pending = NULL;
	size_t npending = 0;
	int r = jobdb_list_phase(db, JOBD_ACCEPTED, &pending, &npending, err);
	if (r < 0) {
		close(d->storebase_fd);
		free(d);
		return r;
	}
	for (size_t i = 0; i < npending; i++)
		enqueue(d, pending[i], true);
	if (npending)
		jobd_log("%zu job(s) recorded before a restart and not yet started: starting them",
		         npending);
	free(pending);
	d->nworkers = c->workers;
	d->workers = phpc_xcalloc((size_t)d->nworkers, sizeof(pthread_t));
	for (int i = 0; i < d->nworkers; i++)
		pthread_create(&d->workers[i], NULL, worker, d);
	d->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handle, d, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&l->addr,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)l->threads, MHD_OPTION_NOTIFY_COMPLETED,
	    completed, d, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)128, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
	if (!d->mhd) {
		r = phpc_error_set(err, EADDRINUSE,
		                   "cannot listen (is the address in use, or not this host's?)");
		jobd_stop(d);
		return r;
	}
	*out = d;
	return 0;
}

void jobd_stop(struct jobd *d)
{
	if (!d)
		return;
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; i < d->nworkers; i++)
		pthread_join(d->workers[i], NULL);
	free(d->workers);
	while (d->head) {
		struct item *it = d->head;
		d->head = it->next;
		free(it);
	}
	if (d->storebase_fd >= 0)
		close(d->storebase_fd);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}
