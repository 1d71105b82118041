/* dlcall LIB FUNC: dlopen()s LIB by name (through the ld.so cache, as an
 * application finds a driver library) and prints what FUNC returns. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: dlcall LIB FUNC\n");
		return 2;
	}
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlcall: %s\n", dlerror());
		return 1;
	}
	int (*f)(void) = (int (*)(void))dlsym(h, argv[2]);
	if (!f) {
		fprintf(stderr, "dlcall: %s\n", dlerror());
		return 1;
	}
	printf("%s %s = %d\n", argv[1], argv[2], f());
	return 0;
}
