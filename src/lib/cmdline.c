#include "cmdline.h"
#include "env.h"
#include "hooks.h"
#include "podopts.h"
#include "request.h"
#include "util.h"

#include <errno.h>

/* podman command groups whose second word is part of the command path */
static const char *const groups[] = {
    "image",  "container", "system",   "network",     "volume", "pod",  "manifest",
    "secret", "machine",   "generate", "healthcheck", "kube",   "play", NULL,
};

static const char *const image_readers[] = {
    "ls", "list", "inspect", "exists", "history", "tree", "save", NULL,
};

static enum phpc_cmd_kind kind_of(char *const *cmd, size_t n)
{
	const char *a = cmd[0], *b = n > 1 ? cmd[1] : NULL;
	if (b && streq(a, "container"))
		a = b;
	else if (b && streq(a, "image") &&
	         (streq(b, "build") || streq(b, "pull") || streq(b, "import") || streq(b, "load")))
		a = b;
	else if (b && streq(a, "image"))
		return phpc_strv_contains((char *const *)image_readers, b) ? PHPC_KIND_IMAGES
		                                                           : PHPC_KIND_OTHER;
	if (streq(a, "run") || streq(a, "create") || streq(a, "shared-run") || streq(a, "rank"))
		return PHPC_KIND_RUN;
	if (streq(a, "build"))
		return PHPC_KIND_BUILD;
	if (streq(a, "pull") || streq(a, "import") || streq(a, "load"))
		return PHPC_KIND_PULL;
	if (streq(a, "exec"))
		return PHPC_KIND_EXEC;
	if (streq(a, "start") || streq(a, "restart"))
		return PHPC_KIND_START;
	if (streq(a, "images") || streq(a, "inspect") || streq(a, "save") || streq(a, "history"))
		return PHPC_KIND_IMAGES;
	return PHPC_KIND_OTHER;
}

/* Takes the value of --name / --name=value at argv[*i]; advances *i past it. */
static int take_value(int argc, char *const *argv, int *i, const char *name, char **out,
                      struct phpc_error **err)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	free(*out);
	*out = NULL;
	if (a[n] == '=') {
		*out = phpc_xstrdup(a + n + 1);
		return 0;
	}
	if (*i + 1 >= argc)
		return phpc_error_set(err, EINVAL, "option %s needs a value", name);
	*out = phpc_xstrdup(argv[++*i]);
	return 0;
}

static bool is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);
	return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* A podman global flag at argv[*i]: copy it (and its value) into globals. */
static int take_global(int argc, char *const *argv, int *i, struct phpc_cli *cli,
                       struct phpc_error **err)
{
	const char *a = argv[*i];
	bool valued;
	if (a[1] == '-') {
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a - 2) : strlen(a) - 2;
		valued = !eq && phpc_podopt_long_takes_value(PHPC_OPTS_GLOBAL, a + 2, len);
	} else {
		valued = a[2] == '\0' && phpc_podopt_short_takes_value(PHPC_OPTS_GLOBAL, a[1]);
	}
	phpc_strv_add(&cli->globals, a);
	if (valued) {
		if (*i + 1 >= argc)
			return phpc_error_set(err, EINVAL, "option %s needs a value", a);
		phpc_strv_add(&cli->globals, argv[++*i]);
	}
	return 0;
}

int phpc_cli_parse(int argc, char *const *argv, struct phpc_cli *cli, struct phpc_error **err)
{
	*cli = (struct phpc_cli){.image_idx = -1};
	int i = 1, r = 0;
	for (; i < argc && r == 0; i++) {
		const char *a = argv[i];
		if (is_opt(a, "--squash-dir"))
			r = take_value(argc, argv, &i, "--squash-dir", &cli->squash_dir, err);
		else if (is_opt(a, "--additional-stores"))
			r = take_value(argc, argv, &i, "--additional-stores",
			               &cli->additional_stores, err);
		else if (streq(a, "--help") || streq(a, "-h"))
			cli->help = true;
		else if (streq(a, "--version") || streq(a, "-v"))
			cli->version = true;
		else if (streq(a, "--"))
			return phpc_error_set(err, EINVAL, "missing command after \"--\"");
		else if (a[0] == '-' && a[1])
			r = take_global(argc, argv, &i, cli, err);
		else
			break;
	}
	if (r < 0)
		return r;
	if (i < argc) {
		phpc_strv_add(&cli->cmd, argv[i++]);
		if (i < argc && argv[i][0] != '-' &&
		    phpc_strv_contains((char *const *)groups, cli->cmd.v[0]))
			phpc_strv_add(&cli->cmd, argv[i++]);
		cli->kind = kind_of(cli->cmd.v, cli->cmd.n);
	}
	for (; i < argc; i++)
		phpc_strv_add(&cli->args, argv[i]);
	return 0;
}

const char *phpc_cli_global(const struct phpc_cli *cli, const char *flag)
{
	const char *v = NULL;
	size_t n = strlen(flag);
	for (size_t i = 0; i < cli->globals.n; i++) {
		const char *a = cli->globals.v[i];
		if (strncmp(a, flag, n) != 0)
			continue;
		if (a[n] == '=')
			v = a + n + 1;
		else if (!a[n] && i + 1 < cli->globals.n)
			v = cli->globals.v[++i];
	}
	return v;
}

bool phpc_cli_takes_modules(const struct phpc_cli *cli)
{
	return cli->kind == PHPC_KIND_RUN || cli->kind == PHPC_KIND_BUILD;
}

/* Length of the option name in "--name[=value]" (without dashes). */
static size_t long_name_len(const char *a)
{
	const char *eq = strchr(a, '=');
	return eq ? (size_t)(eq - a - 2) : strlen(a) - 2;
}

/* Whether the short-option cluster "-abc" consumes the next argument. */
static bool short_cluster_takes_next(enum phpc_optset set, const char *a)
{
	for (const char *p = a + 1; *p; p++)
		if (phpc_podopt_short_takes_value(set, *p))
			return p[1] == '\0'; /* else the rest of the cluster is the value */
	return false;
}

void phpc_cli_parse_modules(struct phpc_cli *cli, const struct phpc_modules *mods)
{
	enum phpc_optset set = cli->kind == PHPC_KIND_BUILD ? PHPC_OPTS_BUILD : PHPC_OPTS_RUN;
	/* run/create stop at the image: what follows is the container's command,
	 * whose --help and flags are not ours (NERSC #79, #171). build has no
	 * container command: its options may follow the context directory. */
	bool stop_at_positional = cli->kind == PHPC_KIND_RUN;
	struct phpc_strv kept = {0};
	bool done = false;

	free(cli->module_flags);
	cli->module_flags = phpc_xcalloc(mods->n ? mods->n : 1, sizeof(bool));
	cli->image_idx = -1;
	for (size_t i = 0; i < cli->args.n; i++) {
		const char *a = cli->args.v[i];
		if (done) {
			phpc_strv_add(&kept, a);
			continue;
		}
		if (streq(a, "--")) {
			phpc_strv_add(&kept, a);
			done = true;
			if (stop_at_positional && i + 1 < cli->args.n)
				cli->image_idx = (int)kept.n;
			continue;
		}
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			size_t len = long_name_len(a);
			int m = a[2 + len] ? -1 : phpc_modules_find_flag(mods, a + 2, len);
			if (m >= 0) {
				cli->module_flags[m] = true; /* whole word only (NERSC #129) */
				continue;
			}
			if (streq(a, "--help"))
				cli->sub_help = true;
			phpc_strv_add(&kept, a);
			if (!a[2 + len] && phpc_podopt_long_takes_value(set, a + 2, len) &&
			    i + 1 < cli->args.n)
				phpc_strv_add(&kept, cli->args.v[++i]);
			continue;
		}
		if (a[0] == '-' && a[1]) {
			phpc_strv_add(&kept, a);
			if (short_cluster_takes_next(set, a) && i + 1 < cli->args.n)
				phpc_strv_add(&kept, cli->args.v[++i]);
			continue;
		}
		if (stop_at_positional) {
			cli->image_idx = (int)kept.n;
			done = true;
		}
		phpc_strv_add(&kept, a);
	}
	phpc_strv_clear(&cli->args);
	cli->args = kept;
}

void phpc_cli_clear(struct phpc_cli *cli)
{
	phpc_strv_clear(&cli->globals);
	phpc_strv_clear(&cli->cmd);
	phpc_strv_clear(&cli->args);
	free(cli->squash_dir);
	free(cli->additional_stores);
	free(cli->module_flags);
	*cli = (struct phpc_cli){.image_idx = -1};
}

void phpc_plan_init(struct phpc_plan *plan, const struct phpc_cli *cli)
{
	*plan = (struct phpc_plan){
	    .globals = cli->globals.v,
	    .cmd = cli->cmd.v,
	    .kind = cli->kind,
	    .args = cli->args.v,
	};
}

void phpc_plan_clear(struct phpc_plan *plan)
{
	free(plan->enabled);
	phpc_strv_clear(&plan->volumes);
	phpc_strv_clear(&plan->env);
	free(plan->hook_request);
	free(plan->squash_view);
	*plan = (struct phpc_plan){0};
}

/* Whether the user already gave this global flag: then it is theirs, and our
 * default (which podman would let win, coming later) is left out. */
static bool user_gave(const struct phpc_plan *plan, const char *flag)
{
	for (char *const *g = plan->globals; g && *g; g++)
		if (is_opt(*g, flag))
			return true;
	return false;
}

static void add_pair(struct phpc_strv *out, const char *opt, const char *val)
{
	phpc_strv_add(out, opt);
	phpc_strv_add(out, val);
}

static void add_store_opt(const struct phpc_config *cfg, const char *squash, struct phpc_strv *out)
{
	size_t len = strlen(squash) + 32;
	for (char **p = cfg->all_additional_stores; *p; p++)
		len += strlen(*p) + 1;
	char *s = phpc_xmalloc(len);
	int n = snprintf(s, len, "additionalimagestore=%s", squash);
	for (char **p = cfg->all_additional_stores; *p; p++)
		n += snprintf(s + n, len - (size_t)n, ",%s", *p);
	phpc_strv_add(out, "--storage-opt");
	phpc_strv_push(out, s);
}

static void add_hook_args(const struct phpc_config *cfg, const struct phpc_plan *plan,
                          struct phpc_strv *out)
{
	if (!user_gave(plan, "--hooks-dir"))
		add_pair(out, "--hooks-dir", phpc_cfg_str(cfg, PHPC_K_HOOKS_DIR));
	phpc_strv_add(out, "--env");
	phpc_strv_addf(out, "PODMANHPC_MODULES_DIR=%s", phpc_cfg_str(cfg, PHPC_K_MODULES_DIR));
	/* The hook runs only for a container that podman-hpc wrote a request
	 * for: nothing to do is no hook at all. */
	if (plan->hook_installed && plan->hook_request) {
		add_pair(out, "--annotation", PHPC_HOOK_ANNOTATION "=true");
		phpc_strv_add(out, "--annotation");
		phpc_strv_addf(out, PHPC_REQUEST_ANNOTATION "=%s", plan->hook_request);
	}
}

void phpc_default_args(const struct phpc_config *cfg, const struct phpc_plan *plan,
                       enum phpc_cmd_kind kind, struct phpc_strv *out)
{
	if (!cfg->v[PHPC_K_USE_DEFAULT_ARGS].b)
		return;
	if (!user_gave(plan, "--root"))
		add_pair(out, "--root", phpc_cfg_str(cfg, PHPC_K_GRAPH_ROOT));
	if (!user_gave(plan, "--runroot"))
		add_pair(out, "--runroot", phpc_cfg_str(cfg, PHPC_K_RUN_ROOT));
	phpc_strv_add(out, "--storage-opt");
	phpc_strv_addf(out, "mount_program=%s", phpc_cfg_str(cfg, PHPC_K_MOUNT_PROGRAM));
	if (!user_gave(plan, "--cgroup-manager"))
		add_pair(out, "--cgroup-manager", "cgroupfs");
	switch (kind) {
	case PHPC_KIND_RUN:
		add_pair(out, "--storage-opt", "ignore_chown_errors=true");
		add_store_opt(cfg, plan->squash_view ? plan->squash_view : cfg->squash_dir, out);
		add_hook_args(cfg, plan, out);
		add_pair(out, "--security-opt", "seccomp=unconfined");
		break;
	case PHPC_KIND_BUILD:
		/* Nothing of the hook's: buildah stores --annotation and --env in
		 * the built image, where they would act on every later run. But
		 * the FROM image's layers are unpacked as on pull: a user without
		 * a subuid range (one id) could not build from any image with a
		 * file of another owner (docs/site-tools.md, 3). Our
		 * --storage-opt replaces storage.conf's options, so it is said
		 * here again. */
		add_pair(out, "--storage-opt", "ignore_chown_errors=true");
		break;
	case PHPC_KIND_PULL:
		add_pair(out, "--storage-opt", "ignore_chown_errors=true");
		break;
	case PHPC_KIND_IMAGES:
		add_store_opt(cfg, cfg->squash_dir, out);
		break;
	case PHPC_KIND_START:
		/* the prestart hook runs at every start: from the same hooks dir */
		if (!user_gave(plan, "--hooks-dir"))
			add_pair(out, "--hooks-dir", phpc_cfg_str(cfg, PHPC_K_HOOKS_DIR));
		break;
	case PHPC_KIND_EXEC:
	case PHPC_KIND_OTHER:
		break;
	}
}

char **phpc_podman_argv(const struct phpc_config *cfg, const struct phpc_modules *mods,
                        const struct phpc_plan *plan, const char *podman)
{
	struct phpc_strv out = {0};
	phpc_strv_add(&out, podman);
	phpc_strv_extend(&out, plan->globals);
	phpc_strv_extend(&out, plan->cmd);
	phpc_default_args(cfg, plan, plan->kind, &out);
	/* On build, the module variable and run options would be baked into the
	 * image (podman build --env) or refused: only its mounts apply there. */
	if (mods && plan->enabled && plan->kind != PHPC_KIND_BUILD)
		phpc_modules_args(mods, plan->enabled, &out);
	phpc_strv_extend(&out, plan->volumes.v);
	if (plan->pmi_fd && (plan->kind == PHPC_KIND_RUN || plan->kind == PHPC_KIND_EXEC))
		add_pair(&out, "--preserve-fds", "1");
	phpc_strv_extend(&out, plan->args);
	return phpc_strv_steal(&out);
}

char **phpc_podman_env(char *const *envp, const char *config_home, bool pmi_fd)
{
	struct phpc_strv out = {0};
	for (; envp && *envp; envp++) {
		if (str_has_prefix(*envp, "XDG_RUNTIME_DIR=") ||
		    str_has_prefix(*envp, "XDG_CONFIG_HOME=") ||
		    (pmi_fd && str_has_prefix(*envp, "PMI_FD=")))
			continue;
		phpc_strv_add(&out, *envp);
	}
	phpc_strv_addf(&out, "XDG_CONFIG_HOME=%s", config_home);
	if (pmi_fd)
		phpc_strv_add(&out, "PMI_FD=3");
	return phpc_strv_steal(&out);
}

/* NAME=VALUE as an -e value: the value if it names name. */
static const char *env_assignment(const char *a, const char *name)
{
	size_t n = strlen(name);
	return strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

const char *phpc_cli_container_env(const struct phpc_cli *cli, char *const *envp, const char *name)
{
	const char *found = NULL;
	size_t end = cli->image_idx >= 0 ? (size_t)cli->image_idx : cli->args.n;
	for (size_t i = 0; i < end; i++) {
		const char *a = cli->args.v[i], *v = NULL;
		if ((streq(a, "-e") || streq(a, "--env")) && i + 1 < end)
			v = env_assignment(cli->args.v[++i], name);
		else if (str_has_prefix(a, "--env="))
			v = env_assignment(a + 6, name);
		else if (str_has_prefix(a, "-e") && a[2])
			v = env_assignment(a + 2, name);
		if (v)
			found = v; /* the last one wins, as in podman */
	}
	return found ? found : phpc_env_get(envp, name);
}
