/* A container's log in podman's k8s-file format, read by podman-hpc-jobd:
 * the container writes every byte of the content. */
#include "fuzz.h"
#include "jobspec.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t n = 0, m = 0;
	char *all = phpc_k8s_log_text(buf, size, false, &n);
	if (n > size || all[n] != '\0')
		abort();
	/* cut: the same as the text after the first newline */
	char *cut = phpc_k8s_log_text(buf, size, true, &m);
	const char *nl = memchr(buf, '\n', size);
	size_t from = nl ? (size_t)(nl - buf) + 1 : size;
	size_t k = 0;
	char *rest = phpc_k8s_log_text(buf + from, size - from, false, &k);
	if (m != k || memcmp(cut, rest, m) != 0)
		abort();
	/* what the service sends */
	const char *tail = phpc_tail_lines(all, n, 3);
	free(phpc_utf8_sanitize(tail, n - (size_t)(tail - all)));
	free(all);
	free(cut);
	free(rest);
	return 0;
}
