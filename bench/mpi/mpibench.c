/*
 * mpibench: checks that an MPI job works and measures its basic costs.
 *
 *   mpibench check [--timeout S]
 *   mpibench bench [--iters N] [--warmup N] [--reps N] [--timeout S]
 *
 * check: every rank prints "rank R of N on HOST" (HOST from
 * MPI_Get_processor_name; the lines come in any order), then the ranks
 * verify an MPI_Allreduce (sum of rank + 1 against N(N+1)/2) and a
 * ping-pong of one message between rank 0 and every other rank (contents
 * checked both ways). Rank 0 ends with "check ok: N ranks on M nodes" (M:
 * distinct processor names) or "check FAILED: ..."; every rank then exits 0
 * or 1. Every rank also prints "mpilib R PATH INODE": the MPI library this
 * process loaded, as /proc/self/maps names it, which is how a test tells the
 * host's injected library from the image's own.
 *
 * bench: rank 0 prints "key value" lines:
 *   library <first line of MPI_Get_library_version>
 *   ranks N nodes M
 *   pair_nodes 1|2      whether ranks 0 and 1 share a node (1) or not (2)
 *   latency_us X        8-byte ping-pong between ranks 0 and 1, one way
 *   bandwidth_MBps X    1 MiB ping-pong between ranks 0 and 1 (10^6 B/s:
 *                       message size over the one-way time)
 *   allreduce_us X      8-byte MPI_Allreduce (sum) over all ranks, per call
 * Each figure is the median over --reps repetitions (default 11) of the mean
 * over --iters round trips or calls (default 1000; the 1 MiB ping-pong does
 * a tenth of them, at least 10), after --warmup untimed ones (default 100).
 * The caller places the ranks: 0 and 1 on one node for intra-node figures,
 * on two nodes for inter-node ones. Needs at least 2 ranks.
 *
 * --timeout S (default 300; 0: none): a rank still running after S seconds
 * prints "mpibench: rank R: timed out after S s" and exits 3, so a hung
 * job fails instead of hanging its caller.
 *
 * MPI_Finalize gets 15 s (unless --timeout 0): a rank still in it then prints
 * "mpibench: rank R: MPI_Finalize hung for 15 s" and exits 4, its results
 * already printed.
 *
 * Exit codes: 0 ok, 1 check failed, 2 usage error, 3 timeout, 4 MPI_Finalize
 * hung.
 */
#define _POSIX_C_SOURCE 200809L

#include <mpi.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_CHECK_FAILED = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_FINALIZE_HUNG = 4 };

/* Seconds MPI_Finalize may take. UCX 1.13's TCP transport (MPICH's, and Open
 * MPI's with pml ucx) can hang there for good when a peer has finished first
 * (openucx/ucx#8738); bare metal shows it as often as containers. */
#define FINALIZE_TIMEOUT 15

enum { TAG_PING = 17, TAG_PONG = 18 };

#define BW_BYTES    (1024 * 1024)
#define CHECK_WORDS 16

struct opts {
	long iters;
	long warmup;
	long reps;
	long timeout;
};

static int g_rank;
static long g_timeout;
static volatile sig_atomic_t g_finalizing;

static void usage(FILE *f)
{
	fputs("usage: mpibench check [--timeout S]\n"
	      "       mpibench bench [--iters N] [--warmup N] [--reps N] [--timeout S]\n",
	      f);
}

/* SIGALRM: async-signal-safe report and exit. */
static void on_alarm(int sig)
{
	(void)sig;
	char msg[128];
	int n = snprintf(msg, sizeof msg,
	                 g_finalizing ? "mpibench: rank %d: MPI_Finalize hung for %ld s\n"
	                              : "mpibench: rank %d: timed out after %ld s\n",
	                 g_rank, g_timeout);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg,
		             (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	_exit(g_finalizing ? EXIT_FINALIZE_HUNG : EXIT_TIMEOUT);
}

static void arm_timeout(long seconds)
{
	g_timeout = seconds;
	if (seconds <= 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds > UINT_MAX ? UINT_MAX : (unsigned)seconds);
}

/* Parses a non-negative decimal long; returns 0 on success. */
static int parse_long(const char *s, long min, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

/* Parses argv[2..]; returns 0, or -1 after writing a message to err. */
static int parse_opts(int argc, char **argv, int bench, struct opts *o, char *err, size_t errlen)
{
	*o = (struct opts){.iters = 1000, .warmup = 100, .reps = 11, .timeout = 300};
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		long *dst = NULL;
		long min = 0;
		const struct {
			const char *name;
			int bench_only;
			long min;
			long *dst;
		} table[] = {
		    {"--iters", 1, 1, &o->iters},
		    {"--warmup", 1, 0, &o->warmup},
		    {"--reps", 1, 1, &o->reps},
		    {"--timeout", 0, 0, &o->timeout},
		};
		for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
			size_t len = strlen(table[k].name);
			if (strncmp(a, table[k].name, len) != 0)
				continue;
			if (a[len] == '=')
				val = a + len + 1;
			else if (a[len] == '\0')
				val = i + 1 < argc ? argv[++i] : NULL;
			else
				continue;
			if (table[k].bench_only && !bench) {
				snprintf(err, errlen, "%s applies to bench only", table[k].name);
				return -1;
			}
			if (!val) {
				snprintf(err, errlen, "%s needs a value", table[k].name);
				return -1;
			}
			dst = table[k].dst;
			min = table[k].min;
			a = table[k].name;
			break;
		}
		if (!dst) {
			snprintf(err, errlen, "unknown argument: %s", a);
			return -1;
		}
		if (parse_long(val, min, dst) != 0) {
			snprintf(err, errlen, "bad value for %s: %s (an integer >= %ld)", a, val,
			         min);
			return -1;
		}
	}
	return 0;
}

static _Noreturn void out_of_memory(void)
{
	fprintf(stderr, "mpibench: rank %d: out of memory\n", g_rank);
	MPI_Abort(MPI_COMM_WORLD, EXIT_CHECK_FAILED);
	exit(EXIT_CHECK_FAILED); /* MPI_Abort is not declared noreturn */
}

/* The processor names of all ranks, gathered on every rank (size * len). */
static char *all_names(int size, const char *mine)
{
	char *names = calloc((size_t)size, MPI_MAX_PROCESSOR_NAME);
	if (!names)
		out_of_memory();
	char buf[MPI_MAX_PROCESSOR_NAME];
	memset(buf, 0, sizeof buf);
	strncpy(buf, mine, sizeof buf - 1);
	MPI_Allgather(buf, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names, MPI_MAX_PROCESSOR_NAME,
	              MPI_CHAR, MPI_COMM_WORLD);
	return names;
}

static int count_distinct(const char *names, int size)
{
	int distinct = 0;
	for (int i = 0; i < size; i++) {
		const char *n = names + (size_t)i * MPI_MAX_PROCESSOR_NAME;
		int seen = 0;
		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(n, names + (size_t)j * MPI_MAX_PROCESSOR_NAME) == 0;
		distinct += !seen;
	}
	return distinct;
}

/* The words rank 0 sends to rank peer, and (reply != 0) the ones it expects back. */
static void fill_pattern(int64_t *w, int peer, int reply)
{
	for (int i = 0; i < CHECK_WORDS; i++)
		w[i] = (int64_t)0x6d70696265000000LL + (int64_t)peer * 1000003 + i * 7919 +
		       (reply ? 500009 : 0);
}

static int run_check(int rank, int size, const char *host)
{
	char why[256] = "";
	int failed = 0;

	/* 1. MPI_Allreduce: sum of rank + 1 over all ranks. */
	long long mine = rank + 1, sum = 0;
	long long want = (long long)size * (size + 1) / 2;
	MPI_Allreduce(&mine, &sum, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (sum != want) {
		failed = 1;
		snprintf(why, sizeof why, "allreduce: sum %lld, expected %lld", sum, want);
	}

	/* 2. Ping-pong between rank 0 and each other rank, contents checked. */
	int64_t out[CHECK_WORDS], in[CHECK_WORDS], expect[CHECK_WORDS];
	if (rank == 0) {
		for (int peer = 1; peer < size; peer++) {
			fill_pattern(out, peer, 0);
			fill_pattern(expect, peer, 1);
			memset(in, 0, sizeof in);
			MPI_Status st;
			int count = -1;
			MPI_Send(out, CHECK_WORDS, MPI_INT64_T, peer, TAG_PING, MPI_COMM_WORLD);
			MPI_Recv(in, CHECK_WORDS, MPI_INT64_T, peer, TAG_PONG, MPI_COMM_WORLD, &st);
			MPI_Get_count(&st, MPI_INT64_T, &count);
			if (count != CHECK_WORDS || memcmp(in, expect, sizeof in) != 0) {
				if (!failed)
					snprintf(why, sizeof why,
					         "ping-pong: wrong reply from rank %d (%d words)",
					         peer, count);
				failed = 1;
			}
		}
	} else {
		MPI_Status st;
		int count = -1;
		memset(in, 0, sizeof in);
		MPI_Recv(in, CHECK_WORDS, MPI_INT64_T, 0, TAG_PING, MPI_COMM_WORLD, &st);
		MPI_Get_count(&st, MPI_INT64_T, &count);
		fill_pattern(expect, rank, 0);
		if (count != CHECK_WORDS || memcmp(in, expect, sizeof in) != 0) {
			failed = 1;
			snprintf(why, sizeof why,
			         "ping-pong: rank %d got a wrong message (%d words)", rank, count);
			fprintf(stderr, "mpibench: rank %d: %s\n", rank, why);
		}
		fill_pattern(out, rank, 1);
		MPI_Send(out, CHECK_WORDS, MPI_INT64_T, 0, TAG_PONG, MPI_COMM_WORLD);
	}

	/* 3. Node count, and the verdict shared by all ranks. */
	char *names = all_names(size, host);
	int nodes = count_distinct(names, size);
	free(names);
	int any_failed = 0;
	MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (rank == 0) {
		if (!any_failed)
			printf("check ok: %d ranks on %d nodes\n", size, nodes);
		else
			printf("check FAILED: %s\n",
			       failed ? why : "see the other ranks' messages");
		fflush(stdout);
	}
	return any_failed ? EXIT_CHECK_FAILED : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* n round trips of `bytes` between ranks 0 and 1; returns the elapsed time
 * on rank 0 (0 elsewhere). Other ranks do nothing. */
static double pingpong(int rank, char *buf, int bytes, long n)
{
	double t0 = MPI_Wtime();
	for (long i = 0; i < n; i++) {
		if (rank == 0) {
			MPI_Send(buf, bytes, MPI_BYTE, 1, TAG_PING, MPI_COMM_WORLD);
			MPI_Recv(buf, bytes, MPI_BYTE, 1, TAG_PONG, MPI_COMM_WORLD,
			         MPI_STATUS_IGNORE);
		} else if (rank == 1) {
			MPI_Recv(buf, bytes, MPI_BYTE, 0, TAG_PING, MPI_COMM_WORLD,
			         MPI_STATUS_IGNORE);
			MPI_Send(buf, bytes, MPI_BYTE, 0, TAG_PONG, MPI_COMM_WORLD);
		}
	}
	return rank == 0 ? MPI_Wtime() - t0 : 0;
}

/* Median over reps of the one-way time (s) of a `bytes` ping-pong. */
static double pingpong_oneway(int rank, char *buf, int bytes, long iters, long warmup, long reps,
                              double *samples)
{
	pingpong(rank, buf, bytes, warmup);
	for (long r = 0; r < reps; r++) {
		MPI_Barrier(MPI_COMM_WORLD);
		samples[r] = pingpong(rank, buf, bytes, iters) / (2.0 * (double)iters);
	}
	return median(samples, reps);
}

/* Median over reps of the time (s) of one 8-byte MPI_Allreduce, each rep's
 * figure the slowest rank's mean. */
static double allreduce_time(long iters, long warmup, long reps, double *samples)
{
	double in = 1.0, out = 0.0;
	for (long i = 0; i < warmup; i++)
		MPI_Allreduce(&in, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	for (long r = 0; r < reps; r++) {
		MPI_Barrier(MPI_COMM_WORLD);
		double t0 = MPI_Wtime();
		for (long i = 0; i < iters; i++)
			MPI_Allreduce(&in, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
		double mine = (MPI_Wtime() - t0) / (double)iters, worst = 0;
		MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
		samples[r] = worst;
	}
	return median(samples, reps);
}

/* Cuts s at its first line end and turns each run of blanks into one space
 * (MPICH's version string has a tab). */
static void one_line(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t') {
			if (w > s && w[-1] != ' ')
				*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

static int run_bench(int rank, int size, const char *host, const struct opts *o)
{
	char *names = all_names(size, host);
	int nodes = count_distinct(names, size);
	int pair_nodes = size >= 2 && strcmp(names, names + MPI_MAX_PROCESSOR_NAME) != 0 ? 2 : 1;
	free(names);
	if (size < 2) {
		if (rank == 0)
			fprintf(stderr, "mpibench: bench needs at least 2 ranks (got %d)\n", size);
		return EXIT_USAGE;
	}

	char *buf = calloc(1, BW_BYTES);
	double *samples = calloc((size_t)o->reps, sizeof *samples);
	if (!buf || !samples)
		out_of_memory();
	long bw_iters = o->iters / 10 > 10 ? o->iters / 10 : 10;
	long bw_warmup = o->warmup / 10;
	if (bw_warmup < 1 && o->warmup > 0)
		bw_warmup = 1;

	double lat = pingpong_oneway(rank, buf, 8, o->iters, o->warmup, o->reps, samples);
	double bw_t = pingpong_oneway(rank, buf, BW_BYTES, bw_iters, bw_warmup, o->reps, samples);
	double ar = allreduce_time(o->iters, o->warmup, o->reps, samples);

	if (rank == 0) {
		char lib[MPI_MAX_LIBRARY_VERSION_STRING];
		int len = 0;
		MPI_Get_library_version(lib, &len);
		one_line(lib);
		printf("library %s\n", lib);
		printf("ranks %d nodes %d\n", size, nodes);
		printf("pair_nodes %d\n", pair_nodes);
		printf("latency_us %.2f\n", lat * 1e6);
		printf("bandwidth_MBps %.0f\n", bw_t > 0 ? BW_BYTES / bw_t / 1e6 : 0.0);
		printf("allreduce_us %.2f\n", ar * 1e6);
		fflush(stdout);
	}
	free(samples);
	free(buf);
	return 0;
}

/* The first mapped file named libmpi* (libmpi.so.40, libmpich.so.12):
 * "PATH INODE" into out, or "none 0". */
static void mpi_library(char *out, size_t outlen)
{
	snprintf(out, outlen, "none 0");
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		unsigned long inode = 0;
		char path[3072];
		/* address perms offset dev inode path */
		if (sscanf(line, "%*s %*s %*s %*s %lu %3071s", &inode, path) != 2)
			continue;
		const char *base = strrchr(path, '/');
		if (base && strncmp(base + 1, "libmpi", 6) == 0) {
			snprintf(out, outlen, "%s %lu", path, inode);
			break;
		}
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank = 0, size = 0, len = 0;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	g_rank = rank;

	char host[MPI_MAX_PROCESSOR_NAME + 1];
	memset(host, 0, sizeof host);
	MPI_Get_processor_name(host, &len);

	const char *mode = argc > 1 ? argv[1] : "";
	int bench = strcmp(mode, "bench") == 0;
	int help = strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0;
	int rc;
	struct opts o = {0};
	char err[256];
	if (!bench && strcmp(mode, "check") != 0) {
		if (rank == 0) {
			if (*mode && !help)
				fprintf(stderr, "mpibench: unknown mode: %s\n", mode);
			usage(help ? stdout : stderr);
		}
		rc = help ? 0 : EXIT_USAGE;
	} else if (parse_opts(argc, argv, bench, &o, err, sizeof err) != 0) {
		if (rank == 0) {
			fprintf(stderr, "mpibench: %s\n", err);
			usage(stderr);
		}
		rc = EXIT_USAGE;
	} else {
		arm_timeout(o.timeout);
		if (bench) {
			rc = run_bench(rank, size, host, &o);
		} else {
			char lib[4096];
			mpi_library(lib, sizeof lib);
			printf("rank %d of %d on %s\nmpilib %d %s\n", rank, size, host, rank, lib);
			fflush(stdout);
			rc = run_check(rank, size, host);
		}
	}
	/* the results are out: a hang from here on is MPI's own (above) */
	if (rc != EXIT_USAGE && o.timeout > 0) {
		g_finalizing = 1;
		arm_timeout(FINALIZE_TIMEOUT);
	}
	MPI_Finalize();
	return rc;
}
