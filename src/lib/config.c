#include "config.h"
#include "env.h"
#include "fsutil.h"
#include "util.h"
#include "ymap.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>

struct key_def {
	const char *name;
	enum phpc_ktype type;
	bool templated; /* has a NAME_template form */
};

static const struct key_def keys[PHPC_K__COUNT] = {
    [PHPC_K_PODMAN_BIN] = {"podman_bin", PHPC_T_STR, false},
    [PHPC_K_MOUNT_PROGRAM] = {"mount_program", PHPC_T_STR, false},
    [PHPC_K_MODULES_DIR] = {"modules_dir", PHPC_T_STR, false},
    [PHPC_K_SHARED_RUN_EXEC_ARGS] = {"shared_run_exec_args", PHPC_T_LIST, false},
    [PHPC_K_SHARED_RUN_COMMAND] = {"shared_run_command", PHPC_T_LIST, false},
    [PHPC_K_GRAPH_ROOT] = {"graph_root", PHPC_T_STR, true},
    [PHPC_K_RUN_ROOT] = {"run_root", PHPC_T_STR, true},
    [PHPC_K_ADDITIONAL_STORES] = {"additional_stores", PHPC_T_LIST, true},
    [PHPC_K_HOOKS_DIR] = {"hooks_dir", PHPC_T_STR, false},
    [PHPC_K_LOCALID_VAR] = {"localid_var", PHPC_T_STR, false},
    [PHPC_K_TASKS_PER_NODE_VAR] = {"tasks_per_node_var", PHPC_T_STR, false},
    [PHPC_K_NTASKS_PATTERN] = {"ntasks_pattern", PHPC_T_STR, false},
    [PHPC_K_CONFIG_HOME] = {"config_home", PHPC_T_STR, true},
    [PHPC_K_MKSQUASHFS_BIN] = {"mksquashfs_bin", PHPC_T_STR, false},
    [PHPC_K_WAIT_TIMEOUT] = {"wait_timeout", PHPC_T_NUM, false},
    [PHPC_K_WAIT_POLL_INTERVAL] = {"wait_poll_interval", PHPC_T_NUM, false},
    [PHPC_K_USE_DEFAULT_ARGS] = {"use_default_args", PHPC_T_BOOL, false},
    /* ours: NERSC's compression was fixed */
    [PHPC_K_SQUASH_COMPRESSION] = {"squash_compression", PHPC_T_STR, false},
    /* ours: the site registry `podman-hpc upload` pushes to (docs/site-tools.md) */
    [PHPC_K_UPLOAD_REGISTRY] = {"upload_registry", PHPC_T_STR, false},
};

/* NERSC accepts this key but never uses it; we accept it too so that a site's
 * file keeps loading, and say that it does nothing. */
static const char dead_template_key[] = "shared_run_args_template";

const char *phpc_key_name(enum phpc_key k)
{
	return keys[k].name;
}

enum phpc_ktype phpc_key_type(enum phpc_key k)
{
	return keys[k].type;
}

char *phpc_config_setting(const struct phpc_config *c, enum phpc_key k)
{
	return phpc_xasprintf("%s (%s)", phpc_key_name(k), c->v[k].source);
}

int phpc_user_name(uid_t uid, char *const *envp, char **out, struct phpc_error **err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
		*out = phpc_xstrdup(res->pw_name);
		return 0;
	}
	/* On a compute node without the user in NSS, fall back as NERSC does. */
	const char *u = phpc_env_get(envp, "USER");
	if (!u || !*u)
		u = phpc_env_get(envp, "LOGNAME");
	if (u && *u) {
		*out = phpc_xstrdup(u);
		return 0;
	}
	return phpc_error_set(err, ENOENT, "cannot determine the user name of uid %u",
	                      (unsigned)uid);
}

static bool is_env_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Resolves one {{ ... }} variable (name of length n) into a newly allocated value. */
static int template_var(const char *name, size_t n, char *const *envp, uid_t uid, const char *user,
                        char **val, struct phpc_error **err)
{
	if (n == 3 && strncmp(name, "uid", 3) == 0) {
		*val = phpc_xasprintf("%u", (unsigned)uid);
		return 0;
	}
	if (n == 4 && strncmp(name, "user", 4) == 0) {
		if (user) {
			*val = phpc_xstrdup(user);
			return 0;
		}
		return phpc_user_name(uid, envp, val, err);
	}
	if (n > 4 && strncmp(name, "env.", 4) == 0 && is_env_name(name + 4, n - 4)) {
		_cleanup_free_ char *var = phpc_xstrndup(name + 4, n - 4);
		const char *v = phpc_env_get(envp, var);
		if (!v)
			return phpc_error_set(
			    err, ENOENT, "template uses {{ env.%s }} but %s is not set", var, var);
		*val = phpc_xstrdup(v);
		return 0;
	}
	return phpc_error_set(err, EINVAL,
	                      "unknown template variable {{ %.*s }} (use uid, user or env.NAME)",
	                      (int)n, name);
}

int phpc_template_expand(const char *tmpl, char *const *envp, uid_t uid, const char *user,
                         char **out, struct phpc_error **err)
{
	size_t cap = strlen(tmpl) + 64, n = 0;
	_cleanup_free_ char *res = phpc_xmalloc(cap);
	const char *p = tmpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		size_t lit = open ? (size_t)(open - p) : strlen(p);
		_cleanup_free_ char *val = NULL;
		if (open) {
			const char *close = strstr(open + 2, "}}");
			if (!close)
				return phpc_error_set(err, EINVAL, "unterminated {{ in \"%s\"",
				                      tmpl);
			const char *a = open + 2, *b = close;
			while (a < b && isspace((unsigned char)*a))
				a++;
			while (b > a && isspace((unsigned char)b[-1]))
				b--;
			int r = template_var(a, (size_t)(b - a), envp, uid, user, &val, err);
			if (r < 0)
				return r;
			p = close + 2;
		} else {
			p += lit;
		}
		size_t vl = val ? strlen(val) : 0;
		if (n + lit + vl + 1 > cap) {
			cap = (n + lit + vl + 1) * 2;
			res = phpc_xrealloc(res, cap);
		}
		memcpy(res + n, open ? open - lit : p - lit, lit);
		n += lit;
		if (val) {
			memcpy(res + n, val, vl);
			n += vl;
		}
	}
	res[n] = '\0';
	*out = steal_pointer(&res);
	return 0;
}

static void set_source(struct phpc_value *v, char *source)
{
	free(v->source);
	v->source = source;
}

static void set_list(struct phpc_value *v, char **list)
{
	phpc_strv_free(v->list);
	v->list = list;
}

static void set_str(struct phpc_value *v, char *s)
{
	free(v->str);
	v->str = s;
}

/* Converts text (from the environment, or a scalar of the file) to the key's type. */
static int parse_text(enum phpc_key k, const char *text, struct phpc_value *v,
                      struct phpc_error **err)
{
	/* (a guard: every caller has text; a template's expansion too, unless
	 * it failed, and then the caller returned first) */
	if (!text)
		return phpc_error_set(err, EINVAL, "has no value");
	switch (keys[k].type) {
	case PHPC_T_STR:
		set_str(v, phpc_xstrdup(text));
		return 0;
	case PHPC_T_LIST: {
		struct phpc_strv s = {0};
		phpc_strv_split(&s, text, ',');
		set_list(v, phpc_strv_steal(&s));
		return 0;
	}
	case PHPC_T_BOOL:
		if (phpc_parse_bool(text, &v->b) < 0)
			return phpc_error_set(
			    err, EINVAL, "expected true or false (yes/no, 1/0), got \"%s\"", text);
		return 0;
	case PHPC_T_NUM: {
		char *end = NULL;
		errno = 0;
		double d = strtod(text, &end);
		if (!*text || errno || !end || *end || !isfinite(d) || d <= 0)
			return phpc_error_set(
			    err, EINVAL, "expected a positive number of seconds, got \"%s\"", text);
		v->num = d;
		return 0;
	}
	}
	return -EINVAL;
}

static int parse_entry(enum phpc_key k, const struct phpc_yentry *e, struct phpc_value *v,
                       struct phpc_error **err)
{
	if (e->kind == PHPC_Y_SEQ) {
		if (keys[k].type != PHPC_T_LIST)
			return phpc_error_set(err, EINVAL, "expected a single value, got a list");
		set_list(v, phpc_strv_dup(e->seq));
		return 0;
	}
	if (e->kind == PHPC_Y_MAP)
		return phpc_error_set(err, EINVAL, "expected a value, got a mapping");
	if (e->is_null) {
		if (keys[k].type == PHPC_T_LIST) {
			set_list(v, phpc_strv_dup(NULL));
			return 0;
		}
		return phpc_error_set(err, EINVAL, "has no value");
	}
	return parse_text(k, e->scalar, v, err);
}

/* Expands a template given as text or as a list of items into v. */
static int apply_template(const struct phpc_config_input *in, enum phpc_key k, const char *text,
                          char *const *items, struct phpc_value *v, struct phpc_error **err)
{
	if (items) {
		struct phpc_strv s = {0};
		for (char *const *it = items; *it; it++) {
			char *x = NULL;
			int r = phpc_template_expand(*it, in->envp, in->uid, in->user, &x, err);
			if (r < 0) {
				phpc_strv_clear(&s);
				return r;
			}
			phpc_strv_push(&s, x);
		}
		set_list(v, phpc_strv_steal(&s));
		return 0;
	}
	_cleanup_free_ char *x = NULL;
	int r = phpc_template_expand(text, in->envp, in->uid, in->user, &x, err);
	if (r < 0)
		return r;
	return parse_text(k, x, v, err);
}

static char *env_name(const char *key, const char *suffix)
{
	char *n = phpc_xasprintf("PODMANHPC_%s%s", key, suffix);
	for (char *p = n; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return n;
}

static void set_defaults(const struct phpc_config_input *in, struct phpc_config *c)
{
	unsigned uid = (unsigned)in->uid;
	static const char *const exec_args[] = {"-e", "SLURM_*", "-e", "PALS_*",
	                                        "-e", "PMI_*",   NULL};
	static const char *const run_cmd[] = {"sleep", "infinity", NULL};
	struct phpc_value *v = c->v;

	v[PHPC_K_PODMAN_BIN].str = phpc_xstrdup("podman");
	v[PHPC_K_MOUNT_PROGRAM].str = phpc_xstrdup(in->default_mount_program);
	v[PHPC_K_MODULES_DIR].str = phpc_xstrdup(in->default_modules_dir);
	v[PHPC_K_SHARED_RUN_EXEC_ARGS].list = phpc_strv_dup((char *const *)exec_args);
	v[PHPC_K_SHARED_RUN_COMMAND].list = phpc_strv_dup((char *const *)run_cmd);
	v[PHPC_K_GRAPH_ROOT].str = phpc_xasprintf("/tmp/%u_hpc/storage", uid);
	v[PHPC_K_RUN_ROOT].str = phpc_xasprintf("/tmp/%u_hpc", uid);
	v[PHPC_K_ADDITIONAL_STORES].list = phpc_strv_dup(NULL);
	v[PHPC_K_HOOKS_DIR].str = phpc_xstrdup(in->default_hooks_dir);
	v[PHPC_K_LOCALID_VAR].str = phpc_xstrdup("SLURM_LOCALID");
	v[PHPC_K_TASKS_PER_NODE_VAR].str = phpc_xstrdup("SLURM_STEP_TASKS_PER_NODE");
	v[PHPC_K_NTASKS_PATTERN].str = phpc_xstrdup("[0-9]+");
	v[PHPC_K_CONFIG_HOME].str = phpc_xasprintf("/tmp/%u_hpc/config", uid);
	v[PHPC_K_MKSQUASHFS_BIN].str = phpc_xstrdup("mksquashfs");
	v[PHPC_K_WAIT_TIMEOUT].num = 10;
	v[PHPC_K_WAIT_POLL_INTERVAL].num = 0.2;
	v[PHPC_K_USE_DEFAULT_ARGS].b = true;
	v[PHPC_K_SQUASH_COMPRESSION].str = phpc_xstrdup("lz4");
	/* empty: no site registry; upload says how to set one */
	v[PHPC_K_UPLOAD_REGISTRY].str = phpc_xstrdup("");
	for (int k = 0; k < PHPC_K__COUNT; k++)
		v[k].source = phpc_xstrdup("default");
}

static int find_config_file(const struct phpc_config_input *in, char **out, struct phpc_error **err)
{
	const char *f = phpc_env_get(in->envp, "PODMANHPC_CONFIG_FILE");
	if (f && *f) {
		/* Someone chose this file explicitly: a typo must not silently
		 * fall back to defaults. */
		if (access(f, F_OK) < 0)
			return phpc_error_errno(err, errno,
			                        "config file %s (from PODMANHPC_CONFIG_FILE)", f);
		*out = phpc_xstrdup(f);
		return 0;
	}
	for (const char *const *p = in->search_files; p && *p; p++) {
		if (access(*p, F_OK) == 0) {
			*out = phpc_xstrdup(*p);
			return 0;
		}
	}
	*out = NULL;
	return 0;
}

static int check_file_keys(const struct phpc_ymap *m, struct phpc_config *c,
                           struct phpc_error **err)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *key = m->e[i].key;
		bool ok = streq(key, dead_template_key);
		for (int k = 0; !ok && k < PHPC_K__COUNT; k++) {
			size_t kl = strlen(keys[k].name);
			ok = streq(key, keys[k].name) ||
			     (keys[k].templated && strncmp(key, keys[k].name, kl) == 0 &&
			      streq(key + kl, "_template"));
		}
		if (!ok)
			return phpc_error_set(err, EINVAL,
			                      "line %u: unknown key \"%s\" (see the README for the "
			                      "valid keys)",
			                      m->e[i].line, key);
		if (streq(key, dead_template_key))
			phpc_strv_addf(&c->warnings,
			               "%s: line %u: %s is ignored (it never had an effect)",
			               c->config_file, m->e[i].line, dead_template_key);
	}
	return 0;
}

static int load_templates(const struct phpc_config_input *in, const struct phpc_ymap *file,
                          struct phpc_config *c, struct phpc_error **err)
{
	for (int k = 0; k < PHPC_K__COUNT; k++) {
		if (!keys[k].templated)
			continue;
		_cleanup_free_ char *fkey = phpc_xasprintf("%s_template", keys[k].name);
		_cleanup_free_ char *ename = env_name(keys[k].name, "_TEMPLATE");
		const struct phpc_yentry *e = phpc_ymap_get(file, fkey);
		const char *ev = phpc_env_get(in->envp, ename);
		int r;
		if (e) {
			if (e->kind == PHPC_Y_MAP ||
			    (e->kind == PHPC_Y_SEQ && keys[k].type != PHPC_T_LIST) ||
			    (e->kind == PHPC_Y_SCALAR && e->is_null))
				return phpc_error_set(err, EINVAL,
				                      "%s: line %u: key \"%s\": expected a "
				                      "template string",
				                      c->config_file, e->line, fkey);
			r = apply_template(in, k, e->scalar, e->kind == PHPC_Y_SEQ ? e->seq : NULL,
			                   &c->v[k], err);
			if (r < 0)
				return phpc_error_prefix(err, "%s: line %u: key \"%s\"",
				                         c->config_file, e->line, fkey);
			set_source(&c->v[k], phpc_xasprintf("file: %s", fkey));
		}
		if (ev) {
			r = apply_template(in, k, ev, NULL, &c->v[k], err);
			if (r < 0)
				return phpc_error_prefix(err, "%s", ename);
			set_source(&c->v[k], phpc_xasprintf("env: %s", ename));
		}
	}
	return 0;
}

static int load_values(const struct phpc_config_input *in, const struct phpc_ymap *file,
                       struct phpc_config *c, struct phpc_error **err)
{
	for (int k = 0; k < PHPC_K__COUNT; k++) {
		_cleanup_free_ char *ename = env_name(keys[k].name, "");
		const struct phpc_yentry *e = phpc_ymap_get(file, keys[k].name);
		const char *ev = phpc_env_get(in->envp, ename);
		int r;
		if (e) {
			r = parse_entry(k, e, &c->v[k], err);
			if (r < 0)
				return phpc_error_prefix(err, "%s: line %u: key \"%s\"",
				                         c->config_file, e->line, keys[k].name);
			set_source(&c->v[k], phpc_xasprintf("file: %s", keys[k].name));
		}
		if (ev) {
			r = parse_text(k, ev, &c->v[k], err);
			if (r < 0)
				return phpc_error_prefix(err, "%s", ename);
			set_source(&c->v[k], phpc_xasprintf("env: %s", ename));
		}
	}
	return 0;
}

static void resolve_squash_dir(const struct phpc_config_input *in, struct phpc_config *c)
{
	const char *s;
	if (in->squash_dir_opt && *in->squash_dir_opt) {
		c->squash_dir = phpc_xstrdup(in->squash_dir_opt);
		c->squash_dir_source = phpc_xstrdup("option: --squash-dir");
	} else if ((s = phpc_env_get(in->envp, "SQUASH_DIR")) && *s) {
		c->squash_dir = phpc_xstrdup(s);
		c->squash_dir_source = phpc_xstrdup("env: SQUASH_DIR");
	} else if ((s = phpc_env_get(in->envp, "SCRATCH")) && *s) {
		c->squash_dir = phpc_xasprintf("%s/storage", s);
		c->squash_dir_source = phpc_xstrdup("env: SCRATCH");
	} else {
		/* Per user: a shared /tmp/storage (NERSC's default) belongs to
		 * whoever created it first, who could plant images in it that
		 * shadow the names other users pull. */
		c->squash_dir = phpc_xasprintf("%s/squash", c->v[PHPC_K_RUN_ROOT].str);
		c->squash_dir_source = phpc_xstrdup("default");
	}
}

static int check_required(const struct phpc_config *c, struct phpc_error **err)
{
	static const enum phpc_key required[] = {PHPC_K_PODMAN_BIN, PHPC_K_GRAPH_ROOT,
	                                         PHPC_K_RUN_ROOT, PHPC_K_CONFIG_HOME,
	                                         PHPC_K_MOUNT_PROGRAM};
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		const struct phpc_value *v = &c->v[required[i]];
		if (!v->str || !*v->str)
			return phpc_error_set(err, EINVAL, "%s is empty (set by %s)",
			                      keys[required[i]].name, v->source);
	}
	return 0;
}

int phpc_config_parse(const struct phpc_config_input *in, const char *name, const char *buf,
                      size_t len, struct phpc_config **out, struct phpc_error **err)
{
	struct phpc_config *c = phpc_xcalloc(1, sizeof(*c));
	struct phpc_ymap file = {0};
	int r = 0;

	set_defaults(in, c);
	if (name) {
		c->config_file = phpc_xstrdup(name);
		r = phpc_yaml_parse_map(buf ? buf : "", buf ? len : 0, &file, err);
		if (r == 0)
			r = check_file_keys(&file, c, err);
		if (r < 0)
			phpc_error_prefix(err, "%s", c->config_file);
	}
	if (r == 0)
		r = load_templates(in, &file, c, err);
	if (r == 0)
		r = load_values(in, &file, c, err);
	if (r == 0)
		r = check_required(c, err);
	phpc_ymap_clear(&file);
	if (r < 0) {
		phpc_config_free(c);
		return r;
	}
	resolve_squash_dir(in, c);
	struct phpc_strv all = {0};
	phpc_strv_extend(&all, c->v[PHPC_K_ADDITIONAL_STORES].list);
	if (in->additional_stores_opt)
		phpc_strv_split(&all, in->additional_stores_opt, ',');
	c->all_additional_stores = phpc_strv_steal(&all);
	*out = c;
	return 0;
}

int phpc_config_load(const struct phpc_config_input *in, struct phpc_config **out,
                     struct phpc_error **err)
{
	_cleanup_free_ char *file = NULL, *buf = NULL;
	size_t len = 0;
	int r = find_config_file(in, &file, err);
	if (r == 0 && file)
		r = phpc_read_file(AT_FDCWD, file, &buf, &len, err);
	if (r < 0)
		return r;
	return phpc_config_parse(in, file, buf, len, out, err);
}

void phpc_config_free(struct phpc_config *c)
{
	if (!c)
		return;
	for (int k = 0; k < PHPC_K__COUNT; k++) {
		free(c->v[k].str);
		phpc_strv_free(c->v[k].list);
		free(c->v[k].source);
	}
	free(c->config_file);
	free(c->squash_dir);
	free(c->squash_dir_source);
	phpc_strv_free(c->all_additional_stores);
	phpc_strv_clear(&c->warnings);
	free(c);
}
