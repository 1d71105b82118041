/* A small HTTP/1.1 load generator for bench/jobd: THREADS keep-alive
 * connections to 127.0.0.1:PORT, each sending GET PATH as fast as answers
 * come, for SECONDS; prints requests per second and the count of answers
 * that were not 200.
 *   httpload PORT PATH THREADS SECONDS [TOKEN] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port_;
static char req_[1024];
static size_t reqlen_;
static atomic_long ok_, bad_;
static atomic_int stop_;

static int connect_one(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* Reads one response (headers, then Content-Length bytes); returns the
 * status code, or -1 when the connection ended. */
static int read_response(int fd, char *buf, size_t cap, size_t *have)
{
	for (;;) {
		char *end = memmem(buf, *have, "\r\n\r\n", 4);
		if (end) {
			size_t head = (size_t)(end - buf) + 4;
			int code = atoi(buf + 9);
			char *cl = memmem(buf, head, "Content-Length:", 15);
			size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
			while (*have < head + body) {
				ssize_t n = read(fd, buf + *have, cap - *have);
				if (n <= 0)
					return -1;
				*have += (size_t)n;
			}
			memmove(buf, buf + head + body, *have - head - body);
			*have -= head + body;
			return code;
		}
		if (*have == cap)
			return -1;
		ssize_t n = read(fd, buf + *have, cap - *have);
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

static void *worker(void *arg)
{
	(void)arg;
	static _Thread_local char buf[1 << 16];
	size_t have = 0;
	int fd = connect_one();
	while (!atomic_load(&stop_)) {
		if (write(fd, req_, reqlen_) != (ssize_t)reqlen_) {
			close(fd);
			fd = connect_one();
			have = 0;
			continue;
		}
		int code = read_response(fd, buf, sizeof(buf), &have);
		if (code < 0) {
			close(fd);
			fd = connect_one();
			have = 0;
			continue;
		}
		if (code == 200)
			atomic_fetch_add(&ok_, 1);
		else
			atomic_fetch_add(&bad_, 1);
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: httpload PORT PATH THREADS SECONDS [TOKEN]\n");
		return 2;
	}
	port_ = atoi(argv[1]);
	int threads = atoi(argv[3]);
	double seconds = atof(argv[4]);
	char auth[300] = "";
	if (argc > 5)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", argv[5]);
	reqlen_ = (size_t)snprintf(req_, sizeof(req_),
	                           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", argv[2], auth);
	pthread_t *t = calloc((size_t)threads, sizeof(*t));
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop_, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.0f req/s, %ld answers, %ld not 200\n", (double)atomic_load(&ok_) / el,
	       atomic_load(&ok_), atomic_load(&bad_));
	free(t);
	return 0;
}
