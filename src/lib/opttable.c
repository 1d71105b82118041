#include "opttable.h"
#include "util.h"

#include <errno.h>

static size_t count_opts(const struct phpc_opt *opts)
{
	size_t n = 0;
	while (opts && opts[n].long_name)
		n++;
	return n;
}

static int find_long(const struct phpc_opt *opts, const char *name, size_t len)
{
	for (size_t k = 0; opts && opts[k].long_name; k++)
		if (strlen(opts[k].long_name) == len && strncmp(opts[k].long_name, name, len) == 0)
			return (int)k;
	return -1;
}

static int find_short(const struct phpc_opt *opts, char c)
{
	for (size_t k = 0; opts && opts[k].long_name; k++)
		if (opts[k].short_name && opts[k].short_name == c)
			return (int)k;
	return -1;
}

static void set_val(struct phpc_opt_result *res, int k, const char *v)
{
	res->val[k] = v;
	res->count[k]++;
}

/* One parse: where it is, and what it found so far. */
struct parser {
	const struct phpc_opt *opts;
	const char *cmd;
	char *const *args;
	size_t n, i;
	struct phpc_opt_result *res;
	struct phpc_error *first; /* the first wrong argument, unless --help comes */
	bool help, positional_only;
};

/* --name, --name=VALUE or --name VALUE at args[p->i]. */
static void take_long(struct parser *p, const char *a)
{
	const char *cmd = p->cmd;
	const char *name = a + 2;
	size_t len = strcspn(name, "=");
	const char *eq = name[len] ? name + len + 1 : NULL;
	int k = find_long(p->opts, name, len);
	if (k < 0 && len == 4 && strncmp(name, "help", 4) == 0 && !eq) {
		p->help = true;
		return;
	}
	if (k < 0) {
		phpc_error_set(&p->first, EINVAL,
		               "%s: unknown option \"--%.*s\" (see podman-hpc %s --help)", cmd,
		               (int)len, name, cmd);
		return;
	}
	const struct phpc_opt *o = &p->opts[k];
	if (o->rest && (p->i != 0 || eq)) {
		phpc_error_set(&p->first, EINVAL, "%s: %s must be the first argument", cmd, a);
	} else if (o->rest) {
		set_val(p->res, k, "");
		p->positional_only = true;
	} else if (!o->arg && eq) {
		phpc_error_set(&p->first, EINVAL,
		               "%s: option --%s takes no value (\"%s\"; see podman-hpc %s --help)",
		               cmd, o->long_name, a, cmd);
	} else if (!o->arg) {
		set_val(p->res, k, "");
	} else if (eq) {
		set_val(p->res, k, eq);
	} else if (p->i + 1 < p->n) {
		set_val(p->res, k, p->args[++p->i]);
	} else {
		phpc_error_set(&p->first, EINVAL,
		               "%s: option --%s needs a value (--%s %s; see podman-hpc %s --help)",
		               cmd, o->long_name, o->long_name, o->arg, cmd);
	}
}

/* -x, a cluster of flags -xy, or -xVALUE / -x VALUE at args[p->i]. */
static void take_short(struct parser *p, const char *a)
{
	const char *cmd = p->cmd;
	for (const char *c = a + 1; *c; c++) {
		if (*c == 'h' && find_short(p->opts, 'h') < 0) {
			p->help = true;
			continue;
		}
		int k = find_short(p->opts, *c);
		if (k < 0 && a[2]) {
			phpc_error_set(
			    &p->first, EINVAL,
			    "%s: unknown option \"-%c\" in \"%s\" (see podman-hpc %s --help)", cmd,
			    *c, a, cmd);
			return;
		}
		if (k < 0) {
			phpc_error_set(&p->first, EINVAL,
			               "%s: unknown option \"%s\" (see podman-hpc %s --help)", cmd,
			               a, cmd);
			return;
		}
		const struct phpc_opt *o = &p->opts[k];
		if (o->rest && (p->i != 0 || a[2])) {
			phpc_error_set(&p->first, EINVAL, "%s: %s must be the first argument", cmd,
			               a);
			return;
		}
		if (o->rest) {
			set_val(p->res, k, "");
			p->positional_only = true;
			return;
		}
		if (!o->arg) {
			set_val(p->res, k, "");
			continue;
		}
		if (c[1])
			set_val(p->res, k, c + 1);
		else if (p->i + 1 < p->n)
			set_val(p->res, k, p->args[++p->i]);
		else
			phpc_error_set(
			    &p->first, EINVAL,
			    "%s: option -%c needs a value (-%c %s; see podman-hpc %s --help)", cmd,
			    *c, *c, o->arg, cmd);
		return;
	}
}

int phpc_opt_parse(const struct phpc_cmd_spec *spec, char *const *args, size_t n,
                   struct phpc_opt_result *res, struct phpc_error **err)
{
	size_t nopts = count_opts(spec->opts);
	static const struct phpc_opt no_opts[] = {{0}};
	struct parser p = {.opts = spec->opts ? spec->opts : no_opts,
	                   .cmd = spec->name,
	                   .args = args,
	                   .n = n,
	                   .res = res};
	*res = (struct phpc_opt_result){0};
	res->val = phpc_xcalloc(nopts ? nopts : 1, sizeof(*res->val));
	res->count = phpc_xcalloc(nopts ? nopts : 1, sizeof(*res->count));
	for (p.i = 0; p.i < n; p.i++) {
		const char *a = args[p.i];
		if (p.positional_only || a[0] != '-' || !a[1])
			phpc_strv_add(&res->pos, a);
		else if (streq(a, "--"))
			p.positional_only = true;
		else if (a[1] == '-')
			take_long(&p, a);
		else
			take_short(&p, a);
	}
	if (p.help) {
		phpc_error_free(p.first);
		return PHPC_OPT_HELP;
	}
	if (p.first) {
		int code = p.first->code;
		if (err && !*err)
			*err = p.first;
		else
			phpc_error_free(p.first);
		return -code;
	}
	return 0;
}

void phpc_opt_result_clear(struct phpc_opt_result *res)
{
	free(res->val);
	free(res->count);
	phpc_strv_clear(&res->pos);
	*res = (struct phpc_opt_result){0};
}

const char *phpc_opt_get(const struct phpc_cmd_spec *spec, const struct phpc_opt_result *res,
                         const char *long_name)
{
	int k = find_long(spec->opts, long_name, strlen(long_name));
	return k < 0 || !res->val ? NULL : res->val[k];
}

bool phpc_opt_given(const struct phpc_cmd_spec *spec, const struct phpc_opt_result *res,
                    const char *long_name)
{
	return phpc_opt_get(spec, res, long_name) != NULL;
}

/* Text of several lines, each indented; continuation lines of an option's
 * help are indented to its column. */
static void put_lines(FILE *out, const char *text, size_t indent, bool indent_first)
{
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		if ((p != text || indent_first) && len)
			fprintf(out, "%*s", (int)indent, "");
		fwrite(p, 1, len, out);
		fputc('\n', out);
		p += len;
		if (*p)
			p++;
	}
}

void phpc_cmd_help_head(const struct phpc_cmd_spec *spec, FILE *out)
{
	if (spec->summary)
		fprintf(out, "%s\n\n", spec->summary);
	if (spec->description) {
		fputs("Description:\n", out);
		put_lines(out, spec->description, 2, true);
		fputc('\n', out);
	}
	const char *usage = spec->usage ? spec->usage : "";
	fprintf(out, "Usage:\n  podman-hpc %s%s%s\n\n", spec->name, *usage ? " " : "", usage);
	if (spec->example) {
		fputs("Examples:\n", out);
		put_lines(out, spec->example, 2, true);
		fputc('\n', out);
	}
}

static size_t left_len(const struct phpc_opt *o)
{
	return 2 + strlen(o->long_name) + (o->arg ? 1 + strlen(o->arg) : 0);
}

static void put_row(FILE *out, char short_name, const char *long_name, const char *arg,
                    size_t width, const char *help)
{
	if (short_name)
		fprintf(out, "  -%c, ", short_name);
	else
		fputs("      ", out);
	size_t len = 2 + strlen(long_name) + (arg ? 1 + strlen(arg) : 0);
	fprintf(out, "--%s%s%s", long_name, arg ? " " : "", arg ? arg : "");
	if (!help || !*help) {
		fputc('\n', out);
		return;
	}
	fprintf(out, "%*s", (int)(width - len + 3), "");
	put_lines(out, help, 6 + width + 3, false);
}

void phpc_help_opts(const struct phpc_opt *opts, bool with_help, size_t min_width, FILE *out)
{
	size_t width = with_help ? strlen("--help") : 0;
	if (width < min_width)
		width = min_width;
	for (size_t k = 0; opts && opts[k].long_name; k++)
		if (!opts[k].hidden && left_len(&opts[k]) > width)
			width = left_len(&opts[k]);
	for (size_t k = 0; opts && opts[k].long_name; k++) {
		const struct phpc_opt *o = &opts[k];
		if (!o->hidden)
			put_row(out, o->short_name, o->long_name, o->arg, width, o->help);
	}
	if (with_help)
		put_row(out, 'h', "help", NULL, width, "print this help");
}

void phpc_cmd_help(const struct phpc_cmd_spec *spec, FILE *out)
{
	phpc_cmd_help_head(spec, out);
	fputs("Options:\n", out);
	phpc_help_opts(spec->opts, true, 0, out);
}

char *phpc_cmd_help_str(const struct phpc_cmd_spec *spec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return phpc_xstrdup("");
	phpc_cmd_help(spec, f);
	fclose(f);
	return buf ? buf : phpc_xstrdup("");
}
