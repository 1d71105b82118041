/* Errors with context (conventions 1): a failing function returns a negative
 * errno and fills *err; callers prepend context; only main() prints. */
#ifndef PHPC_ERROR_H
#define PHPC_ERROR_H

struct phpc_error {
	int code;  /* positive errno-style code */
	char *msg; /* owned, one line, no trailing newline */
};

/* Sets *err (if err is not NULL and *err is NULL) and returns -code. */
int phpc_error_set(struct phpc_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like phpc_error_set, with ": strerror(code)" appended. */
int phpc_error_errno(struct phpc_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to an existing error; returns -(*err)->code. */
int phpc_error_prefix(struct phpc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void phpc_error_free(struct phpc_error *e);

static inline void phpc_error_freep(struct phpc_error **e)
{
	phpc_error_free(*e);
	*e = 0;
}
#define _cleanup_error_ __attribute__((cleanup(phpc_error_freep)))

#endif
