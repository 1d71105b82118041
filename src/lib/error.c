#define PHPC_ERROR_C /* error.h: the analyzer's hint is for callers */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char oom_msg[] = "out of memory";
static struct phpc_error oom_error = {.code = ENOMEM, .msg = oom_msg};

/* The format attribute lets the compiler check fmt at every public caller
 * (-Wformat-nonliteral would otherwise refuse the vasprintf below). */
static int set_va(struct phpc_error **err, int code, bool with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int set_va(struct phpc_error **err, int code, bool with_errno, const char *fmt, va_list ap)
{
	if (code <= 0)
		code = code < 0 ? -code : EINVAL;
	if (!err || *err)
		return -code;
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	if (m && with_errno) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", m, strerror(code)) < 0)
			full = NULL;
		free(m);
		m = full;
	}
	struct phpc_error *e = m ? calloc(1, sizeof(*e)) : NULL;
	if (!e) {
		/* out of memory: the caller still gets an error, and a long-lived
		 * host (sharedrun.h) does not abort */
		free(m);
		*err = &oom_error;
		return -code;
	}
	e->code = code;
	e->msg = m;
	*err = e;
	return -code;
}

int phpc_error_set(struct phpc_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_va(err, code, false, fmt, ap);
	va_end(ap);
	return r;
}

int phpc_error_errno(struct phpc_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_va(err, code, true, fmt, ap);
	va_end(ap);
	return r;
}

int phpc_error_prefix(struct phpc_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -EINVAL;
	if (*err == &oom_error)
		return -ENOMEM;
	va_list ap;
	char *p = NULL, *m = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n >= 0 && asprintf(&m, "%s: %s", p, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = m;
	}
	if (n >= 0)
		free(p);
	return -(*err)->code;
}

void phpc_error_free(struct phpc_error *e)
{
	if (!e || e == &oom_error)
		return;
	free(e->msg);
	free(e);
}
