#include "request.h"
#include "fsutil.h"
#include "safedir.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>

/* A request is a few hundred bytes; anything much larger is not ours. */
#define REQUEST_MAX_SIZE (1 << 20)

void phpc_request_clear(struct phpc_request *r)
{
	free(r->token);
	free(r->modules_dir);
	free(r->log);
	phpc_strv_clear(&r->modules);
	phpc_strv_clear(&r->env);
	*r = (struct phpc_request){0};
}

bool phpc_request_token_valid(const char *t)
{
	if (!t)
		return false;
	size_t i = 0;
	for (; t[i]; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return i == PHPC_REQUEST_TOKEN_LEN;
}

const char *phpc_request_env(const struct phpc_request *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < r->env.n; i++)
		if (strncmp(r->env.v[i], name, n) == 0 && r->env.v[i][n] == '=')
			return r->env.v[i] + n + 1;
	return NULL;
}

char *phpc_request_to_json(const struct phpc_request *r)
{
	struct json_object *o = json_object_new_object();
	struct json_object *mods = json_object_new_array(), *env = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "token", json_object_new_string(r->token ? r->token : ""));
	json_object_object_add(o, "modules_dir", json_object_new_string(r->modules_dir));
	for (size_t i = 0; i < r->modules.n; i++)
		json_object_array_add(mods, json_object_new_string(r->modules.v[i]));
	json_object_object_add(o, "modules", mods);
	for (size_t i = 0; i < r->env.n; i++) {
		const char *eq = strchr(r->env.v[i], '=');
		_cleanup_free_ char *name = phpc_xstrndup(r->env.v[i], (size_t)(eq - r->env.v[i]));
		json_object_object_add(env, name, json_object_new_string(eq + 1));
	}
	json_object_object_add(o, "env", env);
	json_object_object_add(o, "log", r->log ? json_object_new_string(r->log) : NULL);
	char *s =
	    phpc_xasprintf("%s\n", json_object_to_json_string_ext(
	                               o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static bool is_var_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* A string member, NULL when absent; -EINVAL when present with another type. */
static int get_str(struct json_object *o, const char *key, bool nullable, const char **out)
{
	struct json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || (nullable && !v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	*out = json_object_get_string(v);
	return 0;
}

static int parse_object(struct json_object *o, struct phpc_request *r, struct phpc_error **err)
{
	const char *token, *dir, *log;
	struct json_object *mods = NULL, *env = NULL;
	if (!json_object_is_type(o, json_type_object) || get_str(o, "token", false, &token) < 0 ||
	    get_str(o, "modules_dir", false, &dir) < 0 || get_str(o, "log", true, &log) < 0)
		return phpc_error_set(err, EINVAL, "not a podman-hpc request");
	if (!phpc_request_token_valid(token))
		return phpc_error_set(err, EINVAL, "the request has no valid token");
	if (!dir || dir[0] != '/' || (log && log[0] != '/'))
		return phpc_error_set(err, EINVAL, "the request's paths must be absolute");
	r->token = phpc_xstrdup(token);
	r->modules_dir = phpc_xstrdup(dir);
	r->log = log ? phpc_xstrdup(log) : NULL;
	if (json_object_object_get_ex(o, "modules", &mods)) {
		if (!json_object_is_type(mods, json_type_array))
			return phpc_error_set(err, EINVAL, "the request's modules are not a list");
		for (size_t i = 0; i < json_object_array_length(mods); i++) {
			struct json_object *m = json_object_array_get_idx(mods, i);
			if (!json_object_is_type(m, json_type_string))
				return phpc_error_set(err, EINVAL, "a module name is not a string");
			phpc_strv_add(&r->modules, json_object_get_string(m));
		}
	}
	if (json_object_object_get_ex(o, "env", &env)) {
		if (!json_object_is_type(env, json_type_object))
			return phpc_error_set(err, EINVAL, "the request's env is not an object");
		json_object_object_foreach(env, k, v)
		{
			if (!is_var_name(k) || !json_object_is_type(v, json_type_string))
				return phpc_error_set(err, EINVAL, "bad variable in the request");
			phpc_strv_addf(&r->env, "%s=%s", k, json_object_get_string(v));
		}
	}
	return 0;
}

int phpc_request_parse(const char *text, size_t len, struct phpc_request *out,
                       struct phpc_error **err)
{
	*out = (struct phpc_request){0};
	if (len > REQUEST_MAX_SIZE || len > INT32_MAX)
		return phpc_error_set(err, EFBIG, "the request is too large");
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	bool complete = json_tokener_get_error(tok) == json_tokener_success;
	/* the whole text, not a valid prefix of it */
	for (size_t i = complete ? json_tokener_get_parse_end(tok) : len; i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			complete = false;
	json_tokener_free(tok);
	int r = o && complete ? parse_object(o, out, err)
	                      : phpc_error_set(err, EINVAL, "the request is not valid JSON");
	json_object_put(o);
	if (r < 0)
		phpc_request_clear(out);
	return r;
}

int phpc_request_graph_root(const char *bundle, const char *id, char **out)
{
	static const char *const drivers[] = {"/overlay-containers/", "/vfs-containers/", NULL};
	*out = NULL;
	if (!bundle || bundle[0] != '/' || !id || !*id || strchr(id, '/'))
		return -EINVAL;
	_cleanup_free_ char *tail = NULL;
	for (const char *const *d = drivers; *d; d++) {
		free(tail);
		tail = phpc_xasprintf("%s%s/userdata", *d, id);
		size_t bl = strlen(bundle), tl = strlen(tail);
		if (bl > tl && streq(bundle + bl - tl, tail)) {
			*out = phpc_xstrndup(bundle, bl - tl);
			return 0;
		}
	}
	return -EINVAL;
}

static void prune(int dirfd, time_t now)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd); /* which owns fd from now on */
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	struct stat st;
	while ((de = readdir(d)))
		if (phpc_request_token_valid(de->d_name) &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > PHPC_REQUEST_MAX_AGE)
			unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

int phpc_request_store(const char *graph_root, uid_t uid, struct phpc_request *r,
                       struct phpc_error **err)
{
	_cleanup_free_ char *dir = phpc_xasprintf("%s/" PHPC_REQUEST_DIR, graph_root);
	_cleanup_close_ int dfd = phpc_dir_open(dir, PHPC_DIR_PRIVATE, uid, "graph_root", err);
	if (dfd < 0)
		return dfd;
	prune(dfd, time(NULL));
	unsigned char rnd[PHPC_REQUEST_TOKEN_LEN / 2];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return phpc_error_errno(err, errno, "cannot draw a random token");
	char token[PHPC_REQUEST_TOKEN_LEN + 1];
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	free(r->token);
	r->token = phpc_xstrdup(token);
	_cleanup_free_ char *text = phpc_request_to_json(r);
	/* The hook reads it only after podman starts, which is after this
	 * returns, so a plain exclusive create is enough. */
	_cleanup_close_ int fd =
	    openat(dfd, token, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot write a request in %s", dir);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			unlinkat(dfd, token, 0);
			return phpc_error_errno(err, e, "cannot write a request in %s", dir);
		}
		off += (size_t)w;
	}
	return 0;
}

/* Opens name in dirfd if it is a request file the hook may trust. */
static int open_trusted(int dirfd, const char *name, struct phpc_error **err)
{
	/* O_NONBLOCK: a FIFO planted there must not hang the container's start */
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT
		                       : phpc_error_errno(err, errno, "cannot open %s", name);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return phpc_error_errno(err, errno, "cannot stat %s", name);
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
	    (st.st_mode & 077) || st.st_size > REQUEST_MAX_SIZE)
		return phpc_error_set(err, EPERM,
		                      "request %s is not a private file of yours: ignored", name);
	return steal_fd(&fd);
}

static int read_request(int fd, const char *token, struct phpc_request *out,
                        struct phpc_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = phpc_read_fd(fd, "the request", &text, &len, err);
	if (r == 0)
		r = phpc_request_parse(text, len, out, err);
	if (r == 0 && !streq(out->token, token)) {
		phpc_request_clear(out);
		r = phpc_error_set(err, EPERM, "the request answers another token");
	}
	return r;
}

int phpc_request_load(const char *bundle, const char *id, const char *token,
                      struct phpc_request *out, struct phpc_error **err)
{
	*out = (struct phpc_request){0};
	if (!phpc_request_token_valid(token))
		return -ENOENT;
	_cleanup_free_ char *graph_root = NULL;
	if (phpc_request_graph_root(bundle, id, &graph_root) < 0)
		return -ENOENT;
	_cleanup_close_ int bfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int gfd = open(graph_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 || gfd < 0)
		return phpc_error_errno(err, errno, "cannot open the container's directory");
	/* podman-hpc/requests below graph_root, without following a link */
	_cleanup_close_ int pfd =
	    openat(gfd, "podman-hpc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int rfd =
	    pfd < 0 ? -1 : openat(pfd, "requests", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int fd = rfd < 0 ? -ENOENT : open_trusted(rfd, token, err);
	if (fd >= 0) {
		int r = read_request(fd, token, out, err);
		/* Moved, not copied: a request is used by one container only. */
		if (r == 0 && renameat(rfd, token, bfd, PHPC_REQUEST_USED_NAME) < 0)
			unlinkat(rfd, token, 0);
		return r;
	}
	if (fd != -ENOENT)
		return fd;
	/* A restart of a container that used its request already */
	fd = open_trusted(bfd, PHPC_REQUEST_USED_NAME, err);
	if (fd < 0)
		return fd;
	return read_request(fd, token, out, err);
}
