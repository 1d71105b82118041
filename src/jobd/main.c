/* podman-hpc-jobd: pman's job API (docs/jobd.md) over podman-hpc, on this
 * machine or on a Slurm cluster. Reads pman's environment variables, takes
 * its own options, and serves until SIGTERM or SIGINT. */
#include "api.h"
#include "fsutil.h"
#include "jobdb.h"
#include "phpc-build.h"
#include "safedir.h"
#include "strv.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE                                                                               \
	"Usage: podman-hpc-jobd [OPTION]...\n"                                              \
	"Serves pman's job API (/api/v1/) over podman-hpc.\n\n"                             \
	"  --listen ADDR      address to listen on (default 127.0.0.1; ::1 for IPv6)\n"     \
	"  --port N           port (default 5010)\n"                                        \
	"  --state-dir DIR    the job database and Slurm job files (default\n"              \
	"                     $XDG_STATE_HOME/podman-hpc-jobd or ~/.local/state/...)\n"     \
	"  --token-file FILE  require \"Authorization: Bearer TOKEN\" with the token in\n"  \
	"                     FILE (yours, readable by nobody else)\n"                      \
	"  --max-body BYTES   largest request body (default 1048576)\n"                     \
	"  --workers N        jobs started at once (default 4)\n"                           \
	"  --threads N        HTTP threads (default 4)\n"                                   \
	"  --help, --version\n\n"                                                           \
	"Environment (as pman's): CONTAINER_ENV (podman or slurm), STOREBASE (required),\n" \
	"STORAGE_TYPE (host), JOB_LOGS_TAIL, JOB_LABELS, IGNORE_LIMITS, REMOVE_JOBS,\n"     \
	"SHM_SIZE, CONTAINER_USER, ENABLE_HOME_WORKAROUND, TIMELIMIT_MINUTES; and\n"        \
	"PODMANHPC_JOBD_GPU_FLAG (default --gpu), PODMANHPC_JOBD_PODMAN_HPC.\n"

static volatile sig_atomic_t stop_;

static void on_signal(int sig)
{
	stop_ = sig;
}

static int parse_long(const char *what, const char *s, long min, long max, long *out,
                      struct phpc_error **err)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return phpc_error_set(err, EINVAL, "%s=%s: give a whole number from %ld to %ld",
		                      what, s, min, max);
	*out = v;
	return 0;
}

/* pman's booleans ("yes"/"no", "true"/"false", "1"/"0"), with a default. */
static int env_bool(const char *name, bool dflt, bool *out, struct phpc_error **err)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		*out = dflt;
		return 0;
	}
	if (phpc_parse_bool(v, out) < 0)
		return phpc_error_set(err, EINVAL, "%s=%s: use yes or no", name, v);
	return 0;
}

static char *env_dup(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? phpc_xstrdup(v) : NULL;
}

/* The token: a file of the service's user that nobody else can read, one
 * line (surrounding white space ignored). */
static int read_token(const char *path, char **out, struct phpc_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return phpc_error_errno(err, errno, "cannot open --token-file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return phpc_error_errno(err, errno, "cannot read --token-file %s", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return phpc_error_set(err, EPERM,
		                      "--token-file %s must be a regular file of yours that nobody "
		                      "else can read or write (chmod 600 %s)",
		                      path, path);
	_cleanup_free_ char *text = NULL;
	int r = phpc_read_fd(fd, path, &text, NULL, err);
	if (r < 0)
		return r;
	char *b = text;
	while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
		b++;
	size_t n = strlen(b);
	while (n && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	if (n < 16)
		return phpc_error_set(err, EINVAL,
		                      "--token-file %s holds %zu characters: use a token of at "
		                      "least 16 (e.g. openssl rand -hex 32 > %s)",
		                      path, n, path);
	*out = phpc_xstrndup(b, n);
	return 0;
}

static int config_from_env(struct jobd_config *c, struct phpc_error **err)
{
	const char *env = getenv("CONTAINER_ENV");
	c->container_env = env && *env ? env : "podman";
	if (streq(c->container_env, "podman") || streq(c->container_env, "docker"))
		c->backend = JOBD_PODMAN;
	else if (streq(c->container_env, "slurm"))
		c->backend = JOBD_SLURM;
	else
		return phpc_error_set(
		    err, EINVAL,
		    "CONTAINER_ENV=%s is not one podman-hpc-jobd runs: use podman "
		    "(containers on this machine) or slurm (batch jobs)",
		    c->container_env);
	const char *st = getenv("STORAGE_TYPE");
	if (st && *st && !streq(st, "host"))
		return phpc_error_set(err, EINVAL,
		                      "STORAGE_TYPE=%s is not supported: podman-hpc-jobd mounts "
		                      "directories of STOREBASE (STORAGE_TYPE=host)",
		                      st);
	const char *sb = getenv("STOREBASE");
	if (!sb || !*sb)
		return phpc_error_set(
		    err, EINVAL,
		    "STOREBASE is not set: set it to the directory that holds the "
		    "jobs' input and output directories");
	c->storebase = realpath(sb, NULL);
	if (!c->storebase)
		return phpc_error_errno(err, errno, "STOREBASE=%s", sb);
	/* another user who can write in it could put a symlink where a job's
	 * directory goes between the check and the mount */
	int r = phpc_dir_check(c->storebase, PHPC_DIR_STORE, geteuid(), "STOREBASE", err);
	if (r < 0)
		return r;
	if (strpbrk(c->storebase, ",:"))
		return phpc_error_set(err, EINVAL,
		                      "STOREBASE=%s: a path with ',' or ':' cannot be mounted by "
		                      "podman's --mount; use another directory",
		                      c->storebase);
	const char *tail = getenv("JOB_LOGS_TAIL");
	c->logs_tail = 1000;
	if (tail && *tail && parse_long("JOB_LOGS_TAIL", tail, 0, 1000000, &c->logs_tail, err) < 0)
		return -EINVAL;
	const char *tl = getenv("TIMELIMIT_MINUTES");
	if (tl && *tl &&
	    parse_long("TIMELIMIT_MINUTES", tl, 0, 525600, &c->timelimit_minutes, err) < 0)
		return -EINVAL;
	if (env_bool("IGNORE_LIMITS", false, &c->ignore_limits, err) < 0 ||
	    env_bool("REMOVE_JOBS", true, &c->remove_jobs, err) < 0 ||
	    env_bool("ENABLE_HOME_WORKAROUND", false, &c->home_workaround, err) < 0)
		return -EINVAL;
	struct phpc_strv labels = {0};
	const char *jl = getenv("JOB_LABELS");
	if (jl && *jl) {
		phpc_strv_split(&labels, jl, ',');
		for (size_t i = 0; i < labels.n; i++)
			if (!strchr(labels.v[i], '=') || labels.v[i][0] == '=') {
				r = phpc_error_set(
				    err, EINVAL,
				    "JOB_LABELS=%s: give key=value pairs separated by "
				    "commas",
				    jl);
				phpc_strv_clear(&labels);
				return r;
			}
	}
	c->job_labels = phpc_strv_steal(&labels);
	c->shm_size = env_dup("SHM_SIZE");
	c->container_user = env_dup("CONTAINER_USER");
	const char *gpu = getenv("PODMANHPC_JOBD_GPU_FLAG");
	c->gpu_flag = phpc_xstrdup(gpu ? gpu : "--gpu");
	const char *ph = getenv("PODMANHPC_JOBD_PODMAN_HPC");
	c->podman_hpc = phpc_find_executable(ph && *ph ? ph : "podman-hpc", getenv("PATH"));
	if (!c->podman_hpc)
		c->podman_hpc = phpc_xstrdup(PHPC_BINDIR "/podman-hpc");
	if (access(c->podman_hpc, X_OK) < 0)
		return phpc_error_errno(err, errno, "cannot run %s (PODMANHPC_JOBD_PODMAN_HPC)",
		                        c->podman_hpc);
	return 0;
}

static char *default_state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME");
	if (x && *x == '/')
		return phpc_xasprintf("%s/podman-hpc-jobd", x);
	const char *home = getenv("HOME");
	return phpc_xasprintf("%s/.local/state/podman-hpc-jobd", home && *home ? home : "/tmp");
}

static int parse_address(const char *addr, long port, struct jobd_listen *l,
                         struct phpc_error **err)
{
	memset(&l->addr, 0, sizeof(l->addr));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&l->addr;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		l->len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		l->len = sizeof(*in6);
	} else {
		return phpc_error_set(err, EINVAL,
		                      "--listen %s: give an IP address (127.0.0.1, ::1, or one of "
		                      "this host's)",
		                      addr);
	}
	return 0;
}

static bool is_loopback(const struct jobd_listen *l)
{
	if (l->addr.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&l->addr)->sin_addr.s_addr) >> 24) ==
		       127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&l->addr)->sin6_addr);
}

static void config_clear(struct jobd_config *c)
{
	free(c->storebase);
	free(c->state_dir);
	free(c->podman_hpc);
	free(c->token);
	phpc_strv_free(c->job_labels);
	free(c->container_user);
	free(c->shm_size);
	free(c->gpu_flag);
}

static int run(int argc, char **argv, struct phpc_error **err)
{
	static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
	                                     {"port", required_argument, NULL, 'p'},
	                                     {"state-dir", required_argument, NULL, 's'},
	                                     {"token-file", required_argument, NULL, 't'},
	                                     {"max-body", required_argument, NULL, 'b'},
	                                     {"workers", required_argument, NULL, 'w'},
	                                     {"threads", required_argument, NULL, 'T'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {NULL, 0, NULL, 0}};
	const char *listen = "127.0.0.1", *token_file = NULL;
	_cleanup_free_ char *state_dir = NULL;
	long port = 5010, max_body = 1 << 20, workers = 4, threads = 4;
	int o;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;
		switch (o) {
		case 'l':
			listen = optarg;
			break;
		case 'p':
			r = parse_long("--port", optarg, 1, 65535, &port, err);
			break;
		case 's':
			free(state_dir);
			state_dir = phpc_xstrdup(optarg);
			break;
		case 't':
			token_file = optarg;
			break;
		case 'b':
			r = parse_long("--max-body", optarg, 1024, 1L << 30, &max_body, err);
			break;
		case 'w':
			r = parse_long("--workers", optarg, 1, 256, &workers, err);
			break;
		case 'T':
			r = parse_long("--threads", optarg, 1, 256, &threads, err);
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		case 'V':
			printf("podman-hpc-jobd %s\n", PHPC_VERSION);
			return 0;
		default:
			return phpc_error_set(err, EINVAL, "unknown option %s (see --help)",
			                      argv[optind - 1]);
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return phpc_error_set(err, EINVAL, "unexpected argument %s (see --help)",
		                      argv[optind]);
	_cleanup_(config_clear) struct jobd_config c = {.workers = (int)workers};
	int r = config_from_env(&c, err);
	if (r < 0)
		return r;
	struct jobd_listen l = {.threads = (int)threads, .max_body = (size_t)max_body};
	r = parse_address(listen, port, &l, err);
	if (r < 0)
		return r;
	if (token_file && (r = read_token(token_file, &c.token, err)) < 0)
		return r;
	if (!is_loopback(&l) && !c.token)
		jobd_log("warning: listening on %s without --token-file: anyone who can reach "
		         "it can run containers as %s",
		         listen, getenv("USER") ? getenv("USER") : "this user");
	c.state_dir = state_dir ? steal_pointer(&state_dir) : default_state_dir();
	/* the state directory is the service user's own, created 0700 */
	_cleanup_close_ int sfd =
	    phpc_dir_open(c.state_dir, PHPC_DIR_PRIVATE, geteuid(), "--state-dir", err);
	if (sfd < 0)
		return sfd;
	/* every connection, and every job being started, holds descriptors */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	_cleanup_free_ char *dbpath = phpc_xasprintf("%s/jobs.db", c.state_dir);
	struct jobdb *db = NULL;
	r = jobdb_open(dbpath, &db, err);
	if (r < 0)
		return r;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* the threads started below never take these signals */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct jobd *d = NULL;
	r = jobd_start(&c, db, &l, &d, err);
	if (r < 0) {
		jobdb_close(db);
		return phpc_error_prefix(err, "--listen %s --port %ld", listen, port);
	}
	jobd_log("serving http://%s%s%s:%ld/api/v1/ (CONTAINER_ENV=%s, STOREBASE=%s, %ld "
	         "jobs recorded in %s)",
	         l.addr.ss_family == AF_INET6 ? "[" : "", listen,
	         l.addr.ss_family == AF_INET6 ? "]" : "", port, c.container_env, c.storebase,
	         jobdb_count(db), dbpath);
	sigset_t none;
	sigemptyset(&none);
	while (!stop_)
		sigsuspend(&none);
	jobd_log("stopping (signal %d)", (int)stop_);
	jobd_stop(d);
	jobdb_close(db);
	return 0;
}

int main(int argc, char **argv)
{
	struct phpc_error *err = NULL;
	int r = run(argc, argv, &err);
	if (r < 0) {
		fprintf(stderr, "podman-hpc-jobd: %s\n", err ? err->msg : strerror(-r));
		phpc_error_free(err);
		return r == -EINVAL ? 2 : 1;
	}
	return 0;
}
