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
                             " jid TEXT PRIMARY KEY NOT NULL,"
                             " spec TEXT NOT NULL,"
                             " image TEXT NOT NULL,"
                             " cmd TEXT NOT NULL,"
                             " phase INTEGER NOT NULL DEFAULT 0,"
                             " status TEXT, message TEXT, timestamp TEXT, logs TEXT,"
                             " backend_id TEXT,"
                             " created REAL NOT NULL DEFAULT (julianday('now')));"
                             "CREATE INDEX IF NOT EXISTS jobs_phase ON jobs(phase, created);";

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

/* Prepares sql under the lock; binds text parameters (NULL binds NULL). */
static sqlite3_stmt *prepare(struct jobdb *db, const char *sql, const char *const *params, size_t n)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int rc = params[i] ? sqlite3_bind_text(st, (int)i + 1, params[i], -1, SQLITE_STATIC)
		                   : sqlite3_bind_null(st, (int)i + 1);
		if (rc != SQLITE_OK) {
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

/* Runs a statement that returns no rows; *changes gets the rows changed. */
static int exec(struct jobdb *db, const char *sql, const char *const *params, size_t n,
                int *changes, const char *what, struct phpc_error **err)
{
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st = prepare(db, sql, params, n);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	int r = 0;
	if (rc == SQLITE_CONSTRAINT)
		r = -EEXIST;
	else if (rc != SQLITE_DONE)
		r = db_error(db, err, what);
	else if (changes)
		*changes = sqlite3_changes(db->db);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int jobdb_insert(struct jobdb *db, const struct jobd_job *j, struct phpc_error **err)
{
	const char *p[] = {j->jid, j->spec, j->image, j->cmd};
	return exec(db, "INSERT INTO jobs (jid, spec, image, cmd, phase) VALUES (?, ?, ?, ?, 0)", p,
	            ARRAY_SIZE(p), NULL, "recording the job", err);
}

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? phpc_xstrdup((const char *)t) : NULL;
}

int jobdb_get(struct jobdb *db, const char *jid, struct jobd_job *out, struct phpc_error **err)
{
	*out = (struct jobd_job){0};
	const char *p[] = {jid};
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st = prepare(db,
	                           "SELECT jid, spec, image, cmd, phase, status, message, "
	                           "timestamp, logs, backend_id FROM jobs WHERE jid = ?",
	                           p, 1);
	int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	int r = 0;
	if (rc == SQLITE_ROW) {
		out->jid = col(st, 0);
		out->spec = col(st, 1);
		out->image = col(st, 2);
		out->cmd = col(st, 3);
		out->phase = (enum jobd_phase)sqlite3_column_int(st, 4);
		out->status = col(st, 5);
		out->message = col(st, 6);
		out->timestamp = col(st, 7);
		out->logs = col(st, 8);
		out->backend_id = col(st, 9);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = db_error(db, err, "reading a job");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	return r;
}

int jobdb_set_submitted(struct jobdb *db, const char *jid, const char *backend_id,
                        struct phpc_error **err)
{
	const char *p[] = {backend_id, jid};
	int changes = 0;
	int r = exec(db, "UPDATE jobs SET phase = 1, backend_id = ? WHERE jid = ? AND phase = 0", p,
	             ARRAY_SIZE(p), &changes, "recording the job's start", err);
	if (r == 0 && changes == 0)
		return -ENOENT;
	return r;
}

int jobdb_set_final(struct jobdb *db, const char *jid, const char *status, const char *message,
                    const char *timestamp, const char *logs, struct phpc_error **err)
{
	const char *p[] = {status, message, timestamp, logs, jid};
	return exec(db,
	            "UPDATE jobs SET phase = 2, status = ?, message = ?, timestamp = ?, logs = ? "
	            "WHERE jid = ?",
	            p, ARRAY_SIZE(p), NULL, "recording the job's end", err);
}

int jobdb_delete(struct jobdb *db, const char *jid, struct phpc_error **err)
{
	const char *p[] = {jid};
	int changes = 0;
	int r = exec(db, "DELETE FROM jobs WHERE jid = ?", p, 1, &changes, "removing the job", err);
	if (r == 0 && changes == 0)
		return -ENOENT;
	return r;
}

int jobdb_list_phase(struct jobdb *db, enum jobd_phase phase, char ***jids, struct phpc_error **err)
{
	_cleanup_free_ char *ph = phpc_xasprintf("%d", (int)phase);
	const char *p[] = {ph};
	struct phpc_strv l = {0};
	pthread_mutex_lock(&db->lock);
	sqlite3_stmt *st =
	    prepare(db, "SELECT jid FROM jobs WHERE phase = ? ORDER BY created, rowid", p, 1);
	int rc = SQLITE_ERROR;
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		phpc_strv_push(&l, col(st, 0));
	int r = rc == SQLITE_DONE ? 0 : db_error(db, err, "listing jobs");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&db->lock);
	if (r < 0) {
		phpc_strv_clear(&l);
		return r;
	}
	*jids = phpc_strv_steal(&l);
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
