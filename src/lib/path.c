#include "path.h"
#include "util.h"

#include <errno.h>

int phpc_path_normalize_into(const char *path, char *out, size_t size)
{
	size_t n = 0;
	const char *p = path;
	if (size < 2)
		return -ENAMETOOLONG;
	out[n++] = '/';
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p);
		if (cl == 0 || (cl == 1 && p[0] == '.')) {
			/* nothing */
		} else if (cl == 2 && p[0] == '.' && p[1] == '.') {
			/* ".." never climbs above "/" */
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
		} else {
			if (n + 1 + cl >= size)
				return -ENAMETOOLONG;
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, cl);
			n += cl;
		}
		p = e;
	}
	out[n] = '\0';
	return 0;
}

char *phpc_path_normalize(const char *path)
{
	size_t size = strlen(path) + 2;
	char *out = phpc_xmalloc(size);
	phpc_path_normalize_into(path, out, size); /* fits: never longer than path + "/" */
	return out;
}
