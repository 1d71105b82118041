#include "modules.h"
#include "fsutil.h"
#include "podopts.h"
#include "util.h"
#include "ymap.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/vfs.h>
#include <glob.h>

enum fkind { F_STR, F_BOOL, F_LIST };

struct field {
	const char *key;
	enum fkind kind;
	size_t off;
};

#define FIELD(k, kind, member)                                \
	{                                                     \
		k, kind, offsetof(struct phpc_module, member) \
	}
static const struct field fields[] = {
    FIELD("name", F_STR, name),
    FIELD("cli_arg", F_STR, cli_arg),
    FIELD("help", F_STR, help),
    FIELD("env", F_STR, env),
    FIELD("hidden", F_BOOL, hidden),
    FIELD("shared_run", F_BOOL, shared_run),
    FIELD("additional_args", F_LIST, additional_args),
    FIELD("bind", F_LIST, bind),
    FIELD("copy", F_LIST, copy),
    FIELD("depends_on", F_LIST, depends_on),
    FIELD("conflicts", F_LIST, conflicts),
    FIELD("requires", F_LIST, requires),
};

static int set_field(const struct field *f, const struct phpc_yentry *e, struct phpc_module *m,
                     struct phpc_error **err)
{
	void *dst = (char *)m + f->off;
	if (e->kind == PHPC_Y_MAP || (e->kind == PHPC_Y_SEQ && f->kind != F_LIST))
		return phpc_error_set(err, EINVAL, "line %u: key \"%s\": expected %s", e->line,
		                      e->key, f->kind == F_LIST ? "a list" : "a single value");
	switch (f->kind) {
	case F_STR:
		if (e->is_null)
			return phpc_error_set(err, EINVAL, "line %u: key \"%s\" has no value",
			                      e->line, e->key);
		*(char **)dst = phpc_xstrdup(e->scalar);
		return 0;
	case F_BOOL:
		if (e->is_null || phpc_parse_bool(e->scalar, (bool *)dst) < 0)
			return phpc_error_set(err, EINVAL,
			                      "line %u: key \"%s\": expected true or false",
			                      e->line, e->key);
		return 0;
	case F_LIST: {
		/* A single string is a one-item list (NERSC would iterate its
		 * characters). */
		struct phpc_strv s = {0};
		if (e->kind == PHPC_Y_SEQ)
			phpc_strv_extend(&s, e->seq);
		else if (!e->is_null)
			phpc_strv_add(&s, e->scalar);
		*(char ***)dst = phpc_strv_steal(&s);
		return 0;
	}
	}
	return -EINVAL;
}

static bool valid_flag_name(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

static int validate(const struct phpc_ymap *y, struct phpc_module *m, struct phpc_error **err)
{
	const struct phpc_yentry *e;
	if (!m->name || !*m->name)
		return phpc_error_set(err, EINVAL, "the required key \"name\" is missing");
	if (m->cli_arg) {
		e = phpc_ymap_get(y, "cli_arg");
		if (!valid_flag_name(m->cli_arg))
			return phpc_error_set(err, EINVAL,
			                      "line %u: cli_arg \"%s\" must be a flag name "
			                      "without dashes (letters, digits, - and _)",
			                      e->line, m->cli_arg);
		if (phpc_podopt_is_known(PHPC_OPTS_RUN, m->cli_arg))
			return phpc_error_set(err, EINVAL,
			                      "line %u: cli_arg \"%s\" would hide podman's own "
			                      "--%s option; choose another name",
			                      e->line, m->cli_arg, m->cli_arg);
		if (!m->env || !*m->env)
			return phpc_error_set(err, EINVAL,
			                      "module \"%s\" has a cli_arg but no \"env\" (the "
			                      "variable the hook keys on)",
			                      m->name);
	}
	return 0;
}

int phpc_module_parse(const char *file, const char *buf, size_t len, struct phpc_module *out,
                      struct phpc_strv *warnings, struct phpc_error **err)
{
	struct phpc_ymap y = {0};
	*out = (struct phpc_module){0};
	out->file = phpc_xstrdup(file);
	int r = phpc_yaml_parse_map(buf, len, &y, err);
	for (size_t i = 0; r == 0 && i < y.n; i++) {
		const struct field *f = NULL;
		for (size_t j = 0; j < ARRAY_SIZE(fields); j++)
			if (streq(fields[j].key, y.e[i].key))
				f = &fields[j];
		if (f)
			r = set_field(f, &y.e[i], out, err);
		else if (warnings)
			/* Ignored rather than refused: NERSC's own module files carry
			 * extra keys, and a site must be able to swap us in. */
			phpc_strv_addf(warnings, "%s: line %u: unknown key \"%s\" ignored", file,
			               y.e[i].line, y.e[i].key);
	}
	if (r == 0)
		r = validate(&y, out, err);
	phpc_ymap_clear(&y);
	if (r < 0) {
		phpc_module_clear(out);
		return phpc_error_prefix(err, "module %s", file);
	}
	for (size_t j = 0; j < ARRAY_SIZE(fields); j++) {
		char ***l = (char ***)((char *)out + fields[j].off);
		if (fields[j].kind == F_LIST && !*l)
			*l = phpc_strv_dup(NULL);
	}
	return 0;
}

void phpc_module_clear(struct phpc_module *m)
{
	free(m->file);
	for (size_t j = 0; j < ARRAY_SIZE(fields); j++) {
		void *p = (char *)m + fields[j].off;
		if (fields[j].kind == F_STR)
			free(*(char **)p);
		else if (fields[j].kind == F_LIST)
			phpc_strv_free(*(char ***)p);
	}
	*m = (struct phpc_module){0};
}

static int yaml_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".yaml");
}

static int check_unique(const struct phpc_modules *mods, const struct phpc_module *m,
                        struct phpc_error **err)
{
	for (size_t i = 0; i < mods->n; i++) {
		const struct phpc_module *o = &mods->m[i];
		if (streq(o->name, m->name))
			return phpc_error_set(err, EEXIST,
			                      "module %s: name \"%s\" is already used by %s",
			                      m->file, m->name, o->file);
		if (m->cli_arg && o->cli_arg && streq(o->cli_arg, m->cli_arg))
			return phpc_error_set(err, EEXIST,
			                      "module %s: flag --%s is already used by %s", m->file,
			                      m->cli_arg, o->file);
	}
	return 0;
}

int phpc_modules_load(const char *dir, struct phpc_modules *out, struct phpc_error **err)
{
	struct dirent **ents = NULL;
	*out = (struct phpc_modules){0};
	int n = scandir(dir, &ents, yaml_filter, alphasort);
	if (n < 0) {
		if (errno == ENOENT)
			return 0;
		return phpc_error_errno(err, errno, "cannot read modules directory %s", dir);
	}
	int r = 0;
	out->m = phpc_xcalloc((size_t)n, sizeof(*out->m));
	for (int i = 0; i < n; i++) {
		if (r == 0) {
			_cleanup_free_ char *path = phpc_xasprintf("%s/%s", dir, ents[i]->d_name);
			_cleanup_free_ char *buf = NULL;
			size_t len = 0;
			struct phpc_module m;
			r = phpc_read_file(AT_FDCWD, path, &buf, &len, err);
			if (r == 0)
				r = phpc_module_parse(path, buf, len, &m, &out->warnings, err);
			if (r == 0) {
				r = check_unique(out, &m, err);
				if (r < 0)
					phpc_module_clear(&m);
				else
					out->m[out->n++] = m;
			}
		}
		free(ents[i]);
	}
	free(ents);
	if (r < 0)
		phpc_modules_clear(out);
	return r;
}

void phpc_modules_clear(struct phpc_modules *mods)
{
	for (size_t i = 0; i < mods->n; i++)
		phpc_module_clear(&mods->m[i]);
	free(mods->m);
	phpc_strv_clear(&mods->warnings);
	*mods = (struct phpc_modules){0};
}

int phpc_modules_find_flag(const struct phpc_modules *mods, const char *flag, size_t len)
{
	for (size_t i = 0; i < mods->n; i++) {
		const char *c = mods->m[i].cli_arg;
		if (c && strlen(c) == len && strncmp(c, flag, len) == 0)
			return (int)i;
	}
	return -1;
}

int phpc_modules_find_name(const struct phpc_modules *mods, const char *name)
{
	for (size_t i = 0; i < mods->n; i++)
		if (streq(mods->m[i].name, name))
			return (int)i;
	return -1;
}

/* How a module is called in messages: its flag, else its name. */
static char *describe(const struct phpc_module *m)
{
	if (m->cli_arg)
		return phpc_xasprintf("--%s", m->cli_arg);
	return phpc_xasprintf("module \"%s\"", m->name);
}

int phpc_modules_resolve(const struct phpc_modules *mods, bool *enabled, struct phpc_strv *notes,
                         struct phpc_error **err)
{
	/* Dependencies, to a fixed point: a chain of n modules needs n passes. */
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < mods->n; i++) {
			if (!enabled[i])
				continue;
			for (char **d = mods->m[i].depends_on; d && *d; d++) {
				int j = phpc_modules_find_name(mods, *d);
				_cleanup_free_ char *who = describe(&mods->m[i]);
				if (j < 0)
					return phpc_error_set(err, ENOENT,
					                      "%s depends on module \"%s\", which "
					                      "is not installed (%s)",
					                      who, *d, mods->m[i].file);
				if (enabled[j])
					continue;
				enabled[j] = true;
				changed = true;
				if (notes) {
					_cleanup_free_ char *dep = describe(&mods->m[j]);
					phpc_strv_addf(notes,
					               "%s needs module \"%s\": enabling %s too",
					               who, mods->m[j].name, dep);
				}
			}
		}
	}
	for (size_t i = 0; i < mods->n; i++) {
		if (!enabled[i])
			continue;
		for (char **c = mods->m[i].conflicts; c && *c; c++) {
			int j = phpc_modules_find_name(mods, *c);
			if (j < 0 || !enabled[j] || (size_t)j == i)
				continue;
			_cleanup_free_ char *a = describe(&mods->m[i]);
			_cleanup_free_ char *b = describe(&mods->m[j]);
			return phpc_error_set(err, EINVAL, "%s and %s cannot be used together", a,
			                      b);
		}
	}
	return 0;
}

void phpc_modules_args(const struct phpc_modules *mods, const bool *enabled, struct phpc_strv *argv)
{
	for (size_t i = 0; i < mods->n; i++) {
		if (!enabled[i])
			continue;
		phpc_strv_extend(argv, mods->m[i].additional_args);
		if (mods->m[i].env) {
			phpc_strv_add(argv, "-e");
			phpc_strv_addf(argv, "%s=1", mods->m[i].env);
		}
	}
}

void phpc_modules_rule_vars(const struct phpc_modules *mods, const bool *enabled,
                            struct phpc_strv *names)
{
	for (size_t i = 0; i < mods->n; i++) {
		if (!enabled[i])
			continue;
		for (char **r = mods->m[i].copy; r && *r; r++)
			phpc_rule_var_names(*r, names);
		for (char **r = mods->m[i].bind; r && *r; r++)
			phpc_rule_var_names(*r, names);
	}
}

/* "--ipc=host", or "--ipc" then "host", among a module's podman arguments */
static bool wants_host_ipc(char *const *args)
{
	for (size_t i = 0; args && args[i]; i++)
		if (streq(args[i], "--ipc=host") ||
		    (streq(args[i], "--ipc") && args[i + 1] && streq(args[i + 1], "host")))
			return true;
	return false;
}

static const char *flag_of(const struct phpc_module *m, char *buf, size_t size)
{
	if (m->cli_arg)
		snprintf(buf, size, " (--%s)", m->cli_arg);
	else
		buf[0] = '\0';
	return buf;
}

int phpc_modules_check_host(const struct phpc_modules *mods, const bool *enabled,
                            const char *mqueue, struct phpc_error **err)
{
	for (size_t i = 0; i < mods->n; i++) {
		const struct phpc_module *m = &mods->m[i];
		char flag[80];
		if (!enabled[i])
			continue;
		for (char **p = m->requires; p && *p; p++) {
			glob_t g = {0};
			int rc = glob(*p, GLOB_NOSORT, NULL, &g);
			globfree(&g);
			if (rc != 0)
				return phpc_error_set(
				    err, ENOENT,
				    "module \"%s\"%s needs %s on this node, which "
				    "is missing: ask your site's admins (the "
				    "module's \"requires\" in %s)",
				    m->name, flag_of(m, flag, sizeof(flag)), *p, m->file);
		}
		struct statfs fs;
		if (wants_host_ipc(m->additional_args) &&
		    (statfs(mqueue, &fs) < 0 || fs.f_type != PHPC_MQUEUE_MAGIC))
			return phpc_error_set(err, ENOENT,
			                      "module \"%s\"%s runs the container with --ipc=host, "
			                      "which needs a message queue file system at %s, "
			                      "and this node has none: an admin can run 'mount -t "
			                      "mqueue mqueue %s' (systemd does at boot)",
			                      m->name, flag_of(m, flag, sizeof(flag)), mqueue,
			                      mqueue);
	}
	return 0;
}

bool phpc_modules_want_shared_run(const struct phpc_modules *mods, const bool *enabled)
{
	for (size_t i = 0; i < mods->n; i++)
		if (enabled[i] && mods->m[i].shared_run)
			return true;
	return false;
}

static int bind_rule_volumes(const struct phpc_module *m, const char *rule_text, bool force_ro,
                             const char *modules_dir, phpc_env_lookup_fn lookup, void *data,
                             struct phpc_strv *argv, struct phpc_strv *notes,
                             struct phpc_error **err)
{
	struct phpc_rule rule;
	struct phpc_strv matches = {0}, dsts = {0};
	_cleanup_error_ struct phpc_error *skip = NULL;
	int r = phpc_rule_parse(rule_text, modules_dir, lookup, data, &rule, err);
	if (r < 0)
		return phpc_error_prefix(err, "module %s", m->file);
	r = phpc_rule_glob(&rule, &matches, err);
	/* a rule that cannot apply is skipped with a note, not an error */
	if (r == 0 && phpc_rule_destinations(&rule, matches.v, &dsts, &skip) < 0)
		phpc_strv_addf(notes, "module \"%s\": bind rule \"%s\" skipped: %s", m->name,
		               rule_text, skip->msg);
	for (size_t i = 0; r == 0 && i < dsts.n; i++) {
		/* podman's --volume syntax cannot carry these characters */
		if (strpbrk(matches.v[i], ":,") || strpbrk(dsts.v[i], ":,")) {
			phpc_strv_addf(notes,
			               "module \"%s\": cannot bind \"%s\": ':' or ',' in "
			               "the path",
			               m->name, matches.v[i]);
			continue;
		}
		phpc_strv_add(argv, "--volume");
		phpc_strv_addf(argv, "%s:%s%s", matches.v[i], dsts.v[i],
		               rule.ro || force_ro ? ":ro" : "");
	}
	phpc_strv_clear(&matches);
	phpc_strv_clear(&dsts);
	phpc_rule_clear(&rule);
	return r;
}

int phpc_modules_bind_volumes(const struct phpc_modules *mods, const bool *enabled, bool copies_too,
                              const char *modules_dir, phpc_env_lookup_fn lookup, void *data,
                              struct phpc_strv *argv, struct phpc_strv *notes,
                              struct phpc_error **err)
{
	for (size_t i = 0; i < mods->n; i++) {
		if (!enabled[i])
			continue;
		for (char **b = mods->m[i].bind; b && *b; b++) {
			int r = bind_rule_volumes(&mods->m[i], *b, false, modules_dir, lookup, data,
			                          argv, notes, err);
			if (r < 0)
				return r;
		}
		for (char **c = mods->m[i].copy; copies_too && c && *c; c++) {
			int r = bind_rule_volumes(&mods->m[i], *c, true, modules_dir, lookup, data,
			                          argv, notes, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}
