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
	/* cut: records are read one by one, so what is left is the end of
	 * the whole text */
	char *cut = phpc_k8s_log_text(buf, size, true, &m);
	if (m > n || memcmp(cut, all + (n - m), m) != 0)
		abort();
	/* what the service sends */
	const char *tail = phpc_tail_lines(all, n, 3);
	free(phpc_utf8_sanitize(tail, n - (size_t)(tail - all)));
	free(all);
	free(cut);
	return 0;
}
