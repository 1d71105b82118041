#include "jobdb.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>

struct jobdb {
	sqlite3 *db;
	pthread_mutex_t lock;
};

static int db_error(struct jobdb *db, struct phpc_error **err, const char *what)
{
	return phpc_error_set(err, EIO, "the job database: %s: %s", what, sqlite3_errmsg(db->db));
}

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS jobs ("
                             " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                             " jid TEXT UNIQUE NOT NULL,"
                             " spec TEXT NOT NULL,"
                             " image TEXT NOT NULL,"
                             " cmd TEXT NOT NULL,"
                             " input_dir TEXT NOT NULL,"
                             " output_dir TEXT NOT NULL,"
                             " phase INTEGER NOT NULL DEFAULT 0,"
                             " status TEXT, message TEXT, timestamp TEXT, logs TEXT,"
                             " backend_id TEXT);"
                             "CREATE INDEX IF NOT EXISTS jobs_phase ON jobs(phase, id);"
                             "CREATE INDEX IF NOT EXISTS jobs_input ON jobs(input_dir);"
                             "CREATE INDEX IF NOT EXISTS jobs_output ON jobs(output_dir);";

int jobdb_open(const char *path, struct jobdb **out, struct phpc_error **err)
{
	struct jobdb *db = phpc_xcalloc(1, sizeof(*db));
	pthread_mutex_init(&db->lock, NULL);
	int rc = sqlite3_open_v2(
	    path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int r = phpc_error_set(err, EIO, "cannot open the job database %s: %s", path,
		                       db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
		jobdb_close(db);
		return r;
	}
	/* WAL: readers never wait for the writer; NORMAL: a commit survives
	 * a crash of this process (not of the machine's power) */
	char *msg = NULL;
	rc = sqlite3_exec(db->db,
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	                  "PRAGMA busy_timeout=5000;",
	                  NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db->db, SCHEMA, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int r = phpc_error_set(err, EIO, "cannot set up the job database %s: %s", path,
		                       msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		jobdb_close(db);
		return r;
	}
	*out = db;
	return 0;
}

void jobdb_close(struct jobdb *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

/* A parameter: text, or an integer when text is NULL. */
struct param {
	const char *text;
	long long num;
};
#define TXT(s) ((struct param){.text = (s)})
#define NUM(n) ((struct param){.text = NULL, .num = (n)})

/* Prepares sql (under the caller's lock) and binds its parameters. */
static sqlite3_stmt *prepare(struct jobdb *db, const char *sql, const struct param *p, size_t n)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int rc = p[i].text ? sqlite3_bind_text(st, (int)i + 1, p[i].text, -1, SQLITE_STATIC)
		                   : sqlite3_bind_int64(st, (int)i + 1, p[i].num);
		if (rc != SQLITE_OK) {
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

/* Runs a statement that returns no rows (the caller holds the lock);
 * *changes gets the rows changed. */
static int exec_locked(struct jobdb *db, const char *sql, const struct param *p, size_t n,
                       int *changes, const char *what, struct phpc_error **err)
{
	sqlite3_stmt *st = prepare(db, sql, p, n);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	int r = 0;
	if (rc == SQLITE_CONSTRAINT)
		r = -EEXIST;
	else if (rc != SQLITE_DONE)
		r = db_error(db, err, what);
	else if (changes)
		*changes = sqlite3_changes(db->db);
	sqlite3_finalize(st);
	return r;
}

static int exec(struct jobdb *db, const char *sql, const struct param *p, size_t n, int *changes,
                const char *what, struct phpc_error **err)
{
	pthread_mutex_lock(&db->lock);
	int r = exec_locked(db, sql, p, n, changes, what, err);
	pthread_mutex_unlock(&db->lock);
	return r;
}

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? phpc_xstrdup((const char *)t) : NULL;
}

/* Appends the proper ancestors of path ("a/b/c": "a", "a/b") to v. */
static void ancestors(const char *path, struct phpc_strv *v)
{
	for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
		phpc_strv_push(v, phpc_xstrndup(path, (size_t)(p - path)));
}

/* The jid of an unfinished job whose output directory holds a path of
 * the new job's, or whose paths are in the new job's output directory.
 * Both are index lookups (the ancestors of the new paths by equality, the
 * paths below the new output directory by range: '0' follows '/'), so a
 * POST costs the same with a thousand jobs running. */
static char *overlap_locked(struct jobdb *db, const char *input, const char *output)
{
	_cleanup_strv_ struct phpc_strv up = {0};
	ancestors(input, &up);
	ancestors(output, &up);
	struct phpc_strv sql = {0};
	phpc_strv_add(&sql, "SELECT jid FROM jobs WHERE phase != 2 AND (output_dir IN (''");
	for (size_t i = 0; i < up.n; i++)
		phpc_strv_add(&sql, ", ?");
	phpc_strv_add(&sql, ") OR (input_dir > ? AND input_dir < ?) OR "
	                    "(output_dir > ? AND output_dir < ?)) LIMIT 1");
	_cleanup_free_ char *text = phpc_strv_join(sql.v, "");
	phpc_strv_clear(&sql);
	_cleanup_free_ char *lo = phpc_xasprintf("%s/", output);
	_cleanup_free_ char *hi = phpc_xasprintf("%s0", output);
	size_t n = up.n + 4;
	_cleanup_free_ struct param *p = phpc_xcalloc(n, sizeof(*p));
	for (size_t i = 0; i < up.n; i++)
		p[i] = TXT(up.v[i]);
	p[up.n] = TXT(lo);
	p[up.n + 1] = TXT(hi);
	p[up.n + 2] = TXT(lo);
	p[up.n + 3] = TXT(hi);
	sqlite3_stmt *st = prepare(db, text, p, n);
	char *jid = st && sqlite3_step(st) == SQLITE_ROW ? col(st, 0) : NULL;
	sqlite3_finalize(st);
	return jid;
}

int jobdb_insert(struct jobdb *db, struct jobd_job *j, struct phpc_error **err)
{
	const struct param p[] = {TXT(j->jid), TXT(j->spec),      TXT(j->image),
	                          TXT(j->cmd), TXT(j->input_dir), TXT(j->output_dir)};
	pthread_mutex_lock(&db->lock);
	/* the check and the insert under one lock: two POSTs cannot both pass */
	_cleanup_free_ char *other = overlap_locked(db, j->input_dir, j->output_dir);
	int r;
	if (other)
		r = phpc_error_set(
		    err, EBUSY,
		    "its directories and those of job \"%s\", which has not finished, "
		    "are one inside the other's output_dir: a job owns what is in its "
		    "output directory",
		    other);
	else
		r = exec_locked(db,
		                "INSERT INTO jobs (jid, spec, image, cmd, input_dir, output_dir) "
		                "VALUES (?, ?, ?, ?, ?, ?)",
		                p, ARRAY_SIZE(p), NULL, "recording the job", err);
	if (r == 0)
		j->id = (long long)sqlite3_last_insert_rowid(db->db);
	pthread_mutex_unlock(&db->lock);
	return r;
}

#define COLUMNS                                                                             \
	"SELECT id, jid, spec, image, cmd, input_dir, output_dir, phase, status, message, " \
	"timestamp, logs, backend_id FROM jobs "

static int get_where(struct jobdb *db, const char *where, struct param key, struct jobd_job *out,
                     struct phpc_error **err)
{
	*out = (struct jobd_job){0};
	_cleanup_free_ char *sql = phpc_xasprintf(COLUMNS "%s", where);
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st = prepare(db, sql, &key, 1);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	int r = 0;
	if (rc == SQLITE_ROW) {
		out->id = (long long)sqlite3_column_int64(st, 0);
		out->jid = col(st, 1);
		out->spec = col(st, 2);
		out->image = col(st, 3);
		out->cmd = col(st, 4);
		out->input_dir = col(st, 5);
		out->output_dir = col(st, 6);
		out->phase = (enum jobd_phase)sqlite3_column_int(st, 7);
		out->status = col(st, 8);
		out->message = col(st, 9);
		out->timestamp = col(st, 10);
		out->logs = col(st, 11);
		out->backend_id = col(st, 12);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_error(db, err, "reading a job");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int jobdb_get(struct jobdb *db, const char *jid, struct jobd_job *out, struct phpc_error **err)
{
	return get_where(db, "WHERE jid = ?", TXT(jid), out, err);
}

int jobdb_get_id(struct jobdb *db, long long id, struct jobd_job *out, struct phpc_error **err)
{
	return get_where(db, "WHERE id = ?", NUM(id), out, err);
}

/* After an UPDATE or DELETE ... AND phase = ? changed nothing: why. */
static int why_unchanged(struct jobdb *db, long long id, int changed_phase_code)
{
	const struct param p[] = {NUM(id)};
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st = prepare(db, "SELECT phase FROM jobs WHERE id = ?", p, 1);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return rc == SQLITE_ROW ? changed_phase_code : -ENOENT;
}

int jobdb_set_submitted(struct jobdb *db, long long id, const char *backend_id,
                        struct phpc_error **err)
{
	const struct param p[] = {TXT(backend_id), NUM(id)};
	int changes = 0;
	int r = exec(db, "UPDATE jobs SET phase = 1, backend_id = ? WHERE id = ? AND phase = 0", p,
	             ARRAY_SIZE(p), &changes, "recording the job's start", err);
	if (r == 0 && changes == 0)
		return why_unchanged(db, id, -EALREADY);
	return r;
}

int jobdb_set_final(struct jobdb *db, long long id, const char *status, const char *message,
                    const char *timestamp, const char *logs, struct phpc_error **err)
{
	const struct param p[] = {TXT(status), TXT(message), TXT(timestamp), TXT(logs), NUM(id)};
	return exec(db,
	            "UPDATE jobs SET phase = 2, status = ?, message = ?, timestamp = ?, logs = ? "
	            "WHERE id = ?",
	            p, ARRAY_SIZE(p), NULL, "recording the job's end", err);
}

int jobdb_delete(struct jobdb *db, long long id, enum jobd_phase phase, struct phpc_error **err)
{
	const struct param p[] = {NUM(id), NUM(phase)};
	int changes = 0;
	int r = exec(db, "DELETE FROM jobs WHERE id = ? AND phase = ?", p, ARRAY_SIZE(p), &changes,
	             "removing the job", err);
	if (r == 0 && changes == 0)
		return why_unchanged(db, id, -EAGAIN);
	return r;
}

int jobdb_list_phase(struct jobdb *db, enum jobd_phase phase, long long **ids, size_t *n,
                     struct phpc_error **err)
{
	const struct param p[] = {NUM(phase)};
	size_t cap = 16, k = 0;
	long long *v = phpc_xmalloc(cap * sizeof(*v));
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st = prepare(db, "SELECT id FROM jobs WHERE phase = ? ORDER BY id", p, 1);
	int rc = SQLITE_ERROR;
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap)
			v = phpc_xrealloc(v, (cap *= 2) * sizeof(*v));
		v[k++] = (long long)sqlite3_column_int64(st, 0);
	}
	int r = rc == SQLITE_DONE ? 0 : db_error(db, err, "listing jobs");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	if (r < 0) {
		free(v);
		return r;
	}
	*ids = v;
	*n = k;
	return 0;
}

long jobdb_count(struct jobdb *db)
{
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st = prepare(db, "SELECT count(*) FROM jobs", NULL, 0);
	long n = st && sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return n;
}

void jobd_job_clear(struct jobd_job *j)
{
	free(j->jid);
	free(j->spec);
	free(j->image);
	free(j->cmd);
	free(j->input_dir);
	free(j->output_dir);
	free(j->status);
	free(j->message);
	free(j->timestamp);
	free(j->logs);
	free(j->backend_id);
	*j = (struct jobd_job){0};
}

void jobd_state_clear(struct jobd_state *s)
{
	free(s->message);
	free(s->timestamp);
	*s = (struct jobd_state){0};
}
