#include "shared.h"
#include "config.h"
#include "env.h"
#include "podopts.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <regex.h>

int phpc_shared_ntasks(const char *value, const char *pattern, int *out, struct phpc_error **err)
{
	*out = 1;
	if (!value || !*value)
		return 0;
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED) != 0)
		return phpc_error_set(err, EINVAL,
		                      "ntasks_pattern \"%s\" is not a valid regular "
		                      "expression",
		                      pattern);
	regmatch_t m;
	int r = 0;
	if (regexec(&re, value, 1, &m, 0) != 0) {
		r = phpc_error_set(err, EINVAL, "no task count matching \"%s\" in \"%s\"", pattern,
		                   value);
	} else {
		char num[24] = ""; /* a task count is short; no allocation (sharedrun.h) */
		size_t len = (size_t)(m.rm_eo - m.rm_so);
		snprintf(num, sizeof(num), "%.*s", (int)(len < sizeof(num) ? len : sizeof(num) - 1),
		         value + m.rm_so);
		char *end = NULL;
		long n = strtol(num, &end, 10);
		if (len >= sizeof(num) || !*num || *end || n < 1 || n > 1000000)
			r = phpc_error_set(err, EINVAL, "\"%s\" is not a task count", num);
		else
			*out = (int)n;
	}
	regfree(&re);
	return r;
}

double phpc_shared_scale(double base, int ntasks)
{
	return base * round(1.0 + log2(ntasks > 0 ? ntasks : 1));
}

enum phpc_shared_verdict phpc_shared_wait_verdict(bool ready, bool failed,
                                                  enum phpc_shared_leader leader, bool timed_out)
{
	if (failed)
		return PHPC_WAIT_FAILED;
	if (ready)
		return PHPC_WAIT_READY;
	if (leader == PHPC_LEADER_GONE)
		return PHPC_WAIT_LEADER_GONE;
	return timed_out ? PHPC_WAIT_TIMEOUT : PHPC_WAIT_MORE;
}

double phpc_shared_poll_wait(double left, double poll_s, double leader_check_s,
                             enum phpc_shared_leader leader)
{
	double w = poll_s;
	if (leader != PHPC_LEADER_UNKNOWN && leader_check_s < w)
		w = leader_check_s;
	if (left < w)
		w = left;
	return w > 0 ? w : 0;
}

bool phpc_shared_remove_on_leave(long joined, int ntasks, bool started)
{
	return !started || joined >= ntasks;
}

char *phpc_shared_key(char *const *envp, uid_t uid, pid_t launcher)
{
	const char *job = phpc_env_get(envp, "SLURM_JOB_ID");
	const char *step = phpc_env_get(envp, "SLURM_STEP_ID");
	char *key = NULL;
	/* checked, not phpc_xasprintf: long-lived hosts call this (sharedrun.h) */
	int n = job && *job && step && *step
	            ? asprintf(&key, "shared-%u-%s.%s", (unsigned)uid, job, step)
	            : asprintf(&key, "shared-%u-p%d", (unsigned)uid, (int)launcher);
	return n < 0 ? NULL : key;
}

static void take(char *const *args, int *i, int end, char **dst)
{
	const char *a = args[*i], *eq = strchr(a, '=');
	free(*dst);
	if (a[1] == '-' && eq)
		*dst = phpc_xstrdup(eq + 1);
	else if (a[1] != '-' && a[2])
		*dst = phpc_xstrdup(a + 2); /* -wDIR */
	else
		*dst = *i + 1 < end ? phpc_xstrdup(args[++*i]) : phpc_xstrdup("");
}

static bool is(const char *a, const char *s, const char *l)
{
	size_t ll = strlen(l);
	return (s && strncmp(a, s, 2) == 0) || (strncmp(a, l, ll) == 0 && (!a[ll] || a[ll] == '='));
}

void phpc_shared_split(char *const *args, int image_idx, struct phpc_shared_opts *o)
{
	*o = (struct phpc_shared_opts){0};
	for (int i = 0; i < image_idx; i++) {
		const char *a = args[i];
		char *v = NULL;
		if (is(a, "-e", "--env") && !is(a, NULL, "--env-file") &&
		    !is(a, NULL, "--env-host") && !is(a, NULL, "--env-merge")) {
			/* the container gets it (for its own env) and so does each task,
			 * with the task's own value when no value is given */
			phpc_strv_add(&o->run, a);
			take(args, &i, image_idx, &v);
			if (a[1] == '-' ? !strchr(a, '=') : !a[2])
				phpc_strv_add(&o->run, v);
			phpc_strv_push(&o->env, v);
		} else if (is(a, NULL, "--env-file")) {
			phpc_strv_add(&o->run, a);
			take(args, &i, image_idx, &v);
			if (!strchr(a, '='))
				phpc_strv_add(&o->run, v);
			phpc_strv_push(&o->env_files, v);
		} else if (is(a, "-w", "--workdir")) {
			take(args, &i, image_idx, &o->workdir);
		} else if (is(a, "-u", "--user")) {
			take(args, &i, image_idx, &o->user);
		} else if (is(a, NULL, "--entrypoint")) {
			/* the container runs shared_run_command; the entrypoint is
			 * the tasks' (NERSC #147) */
			take(args, &i, image_idx, &o->entrypoint);
		} else if (streq(a, "-t") || streq(a, "--tty") || streq(a, "-it") ||
		           streq(a, "-ti")) {
			/* each task uses its own terminal, if it has one */
			o->tty = true;
		} else if (streq(a, "-i") || streq(a, "--interactive") || streq(a, "-d") ||
		           streq(a, "--detach") || streq(a, "--rm")) {
			/* the container is detached and removed by podman-hpc; each task
			 * has its own stdin */
		} else if (is(a, NULL, "--name")) {
			take(args, &i, image_idx, &v); /* the name is podman-hpc's */
			free(v);
		} else {
			phpc_strv_add(&o->run, a);
			size_t len = a[1] == '-' ? strcspn(a + 2, "=") : 0;
			bool valued =
			    a[1] == '-' ? !a[2 + len] && phpc_podopt_long_takes_value(PHPC_OPTS_RUN,
			                                                              a + 2, len)
			                : a[1] && !a[2] &&
			                      phpc_podopt_short_takes_value(PHPC_OPTS_RUN, a[1]);
			if (valued && i + 1 < image_idx)
				phpc_strv_add(&o->run, args[++i]);
		}
	}
}

void phpc_shared_opts_clear(struct phpc_shared_opts *o)
{
	phpc_strv_clear(&o->run);
	phpc_strv_clear(&o->env);
	phpc_strv_clear(&o->env_files);
	free(o->workdir);
	free(o->user);
	free(o->entrypoint);
	*o = (struct phpc_shared_opts){0};
}

bool phpc_env_pattern_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern);
	if (pl && pattern[pl - 1] == '*')
		return strncmp(pattern, name, pl - 1) == 0;
	return streq(pattern, name);
}

/* Sets NAME=VALUE in env, replacing an earlier value. */
static void env_set(struct phpc_strv *env, const char *name, size_t nlen, const char *value)
{
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], name, nlen) == 0 && env->v[i][nlen] == '=') {
			free(env->v[i]);
			env->v[i] = phpc_xasprintf("%.*s=%s", (int)nlen, name, value);
			return;
		}
	}
	phpc_strv_addf(env, "%.*s=%s", (int)nlen, name, value);
}

static void apply_env_arg(struct phpc_strv *env, const char *arg, char *const *host)
{
	/* podman's -e accepts " NAME" (NERSC's modules pass "-e SLURM_*" as one
	 * argument) */
	while (*arg == ' ')
		arg++;
	const char *eq = strchr(arg, '=');
	if (eq) {
		env_set(env, arg, (size_t)(eq - arg), eq + 1);
		return;
	}
	for (char *const *h = host; h && *h; h++) {
		const char *he = strchr(*h, '=');
		if (!he)
			continue;
		_cleanup_free_ char *name = phpc_xstrndup(*h, (size_t)(he - *h));
		if (phpc_env_pattern_match(arg, name))
			env_set(env, name, strlen(name), he + 1);
	}
}

char **phpc_shared_task_env(char *const *container_env, char *const *exec_args,
                            char *const *user_env, char *const *host_env)
{
	struct phpc_strv env = {0};
	phpc_strv_extend(&env, container_env);
	for (char *const *a = exec_args; a && *a; a++) {
		const char *arg = *a;
		if ((streq(arg, "-e") || streq(arg, "--env")) && a[1])
			apply_env_arg(&env, *++a, host_env);
		else if (str_has_prefix(arg, "-e"))
			apply_env_arg(&env, arg + 2, host_env);
		else if (str_has_prefix(arg, "--env="))
			apply_env_arg(&env, arg + 6, host_env);
	}
	for (char *const *u = user_env; u && *u; u++)
		apply_env_arg(&env, *u, host_env);
	return phpc_strv_steal(&env);
}
