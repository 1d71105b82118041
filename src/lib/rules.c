#include "rules.h"
#include "path.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>

static void buf_add(char **b, size_t *n, size_t *cap, const char *s, size_t len)
{
	if (*n + len + 1 > *cap) {
		*cap = (*n + len + 1) * 2;
		*b = phpc_xrealloc(*b, *cap);
	}
	memcpy(*b + *n, s, len);
	*n += len;
	(*b)[*n] = '\0';
}

/* $VAR / ${VAR} expansion like Python's os.path.expandvars, then ~ like
 * expanduser (only a leading "~" or "~/"). */
static char *expand(const char *s, phpc_env_lookup_fn lookup, void *data)
{
	size_t n = 0, cap = strlen(s) + 1;
	char *b = phpc_xmalloc(cap);
	b[0] = '\0';
	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0')) {
		const char *home = lookup("HOME", data);
		if (home) {
			buf_add(&b, &n, &cap, home, strlen(home));
			s++;
		}
	}
	while (*s) {
		if (*s != '$') {
			buf_add(&b, &n, &cap, s++, 1);
			continue;
		}
		bool brace = s[1] == '{';
		const char *name = s + 1 + brace;
		size_t len = 0;
		while (isalnum((unsigned char)name[len]) || name[len] == '_')
			len++;
		if (!len || (brace && name[len] != '}')) {
			buf_add(&b, &n, &cap, s++, 1);
			continue;
		}
		_cleanup_free_ char *var = phpc_xstrndup(name, len);
		const char *val = lookup(var, data);
		size_t whole = 1 + brace + len + brace;
		if (val)
			buf_add(&b, &n, &cap, val, strlen(val));
		else
			buf_add(&b, &n, &cap, s, whole);
		s += whole;
	}
	return b;
}

static const char *record_name(const char *name, void *data)
{
	struct phpc_strv *names = data;
	if (!phpc_strv_contains(names->v, name))
		phpc_strv_add(names, name);
	return NULL;
}

void phpc_rule_var_names(const char *text, struct phpc_strv *names)
{
	free(expand(text, record_name, names));
}

int phpc_rule_parse(const char *text, const char *modules_dir, phpc_env_lookup_fn lookup,
                    void *data, struct phpc_rule *out, struct phpc_error **err)
{
	*out = (struct phpc_rule){0};
	_cleanup_free_ char *t = phpc_xstrdup(text);
	size_t len = strlen(t);
	if (len > 3 && (streq(t + len - 3, ":ro") || streq(t + len - 3, ":rw"))) {
		out->ro = t[len - 2] == 'r' && t[len - 1] == 'o';
		t[len - 3] = '\0';
	}
	char *colon = strchr(t, ':');
	if (colon)
		*colon = '\0';
	if (!*t)
		return phpc_error_set(err, EINVAL, "rule \"%s\" has no source", text);
	_cleanup_free_ char *src = expand(t, lookup, data);
	if (src[0] != '/') {
		_cleanup_free_ char *abs = phpc_xasprintf("%s/%s", modules_dir, src);
		out->src = phpc_path_normalize(abs);
	} else {
		out->src = phpc_path_normalize(src);
	}
	out->dst = expand(colon ? colon + 1 : "", lookup, data);
	return 0;
}

void phpc_rule_clear(struct phpc_rule *r)
{
	free(r->src);
	free(r->dst);
	*r = (struct phpc_rule){0};
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Length of the common leading directory of all matches ("/a/b" for
 * /a/b/c and /a/b/d/e), like os.path.commonpath. */
static size_t common_dir_len(char *const *m)
{
	size_t len = strlen(m[0]);
	for (char *const *p = m + 1; *p; p++) {
		size_t i = 0;
		while (i < len && (*p)[i] == m[0][i])
			i++;
		len = i;
	}
	/* cut back to a whole component */
	bool whole = true;
	for (char *const *p = m; *p; p++)
		if ((*p)[len] != '\0' && (*p)[len] != '/')
			whole = false;
	if (!whole)
		while (len > 0 && m[0][len - 1] != '/')
			len--;
	while (len > 1 && m[0][len - 1] == '/')
		len--;
	return len;
}

/* The text a single '*' of the source pattern matched in src. */
static char *star_match(const char *pattern, const char *src)
{
	const char *star = strchr(pattern, '*');
	size_t pre = (size_t)(star - pattern), post = strlen(star + 1), sl = strlen(src);
	if (pre + post > sl)
		return phpc_xstrdup("");
	return phpc_xstrndup(src + pre, sl - pre - post);
}

static char *replace_star(const char *dst, const char *with)
{
	const char *star = strchr(dst, '*');
	return phpc_xasprintf("%.*s%s%s", (int)(star - dst), dst, with, star + 1);
}

static char *one_destination(const struct phpc_rule *r, const char *src, size_t nmatch,
                             size_t common)
{
	const char *d = r->dst;
	size_t dl = strlen(d);
	bool slash = dl && d[dl - 1] == '/';
	_cleanup_free_ char *raw = NULL;
	if (!*d) {
		raw = phpc_xstrdup(src);
	} else if (strchr(d, '*')) {
		_cleanup_free_ char *part = star_match(r->src, src);
		_cleanup_free_ char *x = replace_star(d, part);
		raw = slash ? phpc_xasprintf("%s/%s", x, base_name(src)) : steal_pointer(&x);
	} else if (nmatch > 1) {
		raw = phpc_xasprintf("%s/%s", d, src + common);
	} else if (slash) {
		raw = phpc_xasprintf("%s/%s", d, base_name(src));
	} else {
		raw = phpc_xstrdup(d);
	}
	return phpc_path_normalize(raw);
}

int phpc_rule_destinations(const struct phpc_rule *r, char *const *matches, struct phpc_strv *dsts,
                           struct phpc_error **err)
{
	if (*r->dst && r->dst[0] != '/')
		return phpc_error_set(err, EINVAL, "destination \"%s\" is not an absolute path",
		                      r->dst);
	if (strchr(r->dst, '*')) {
		const char *s = strchr(r->src, '*');
		if (!s || strchr(s + 1, '*') || strchr(strchr(r->dst, '*') + 1, '*'))
			return phpc_error_set(err, EINVAL,
			                      "'*' in destination \"%s\" needs exactly one '*' "
			                      "in the source \"%s\"",
			                      r->dst, r->src);
	}
	size_t n = phpc_strv_len(matches);
	size_t common = n > 1 ? common_dir_len(matches) : 0;
	for (size_t i = 0; i < n; i++)
		phpc_strv_push(dsts, one_destination(r, matches[i], n, common));
	return 0;
}

int phpc_rule_glob(const struct phpc_rule *r, struct phpc_strv *matches, struct phpc_error **err)
{
	glob_t g = {0};
	int rc = glob(r->src, 0, NULL, &g);
	if (rc == GLOB_NOMATCH) {
		globfree(&g);
		return 0;
	}
	if (rc != 0) {
		globfree(&g);
		return phpc_error_set(err, rc == GLOB_NOSPACE ? ENOMEM : EIO,
		                      "cannot expand \"%s\"", r->src);
	}
	for (size_t i = 0; i < g.gl_pathc; i++)
		phpc_strv_add(matches, g.gl_pathv[i]);
	globfree(&g);
	return 0;
}

bool phpc_rule_needs_ldconfig(const char *dst, bool is_dir)
{
	if (is_dir)
		return true;
	if (streq(dst, "/etc/ld.so.conf") || str_has_prefix(dst, "/etc/ld.so.conf.d/"))
		return true;
	const char *slash = strrchr(dst, '/');
	const char *name = slash ? slash + 1 : dst;
	return (str_has_prefix(name, "lib") || str_has_prefix(name, "ld-")) &&
	       strstr(name, ".so") != NULL;
}
