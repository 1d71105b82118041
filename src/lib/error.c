#include "error.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>

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
	struct phpc_error *e = phpc_xcalloc(1, sizeof(*e));
	e->code = code;
	if (with_errno && m) {
		e->msg = phpc_xasprintf("%s: %s", m, strerror(code));
		free(m);
	} else {
		e->msg = m ? m : phpc_xstrdup("unknown error");
	}
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
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		char *m = phpc_xasprintf("%s: %s", p, (*err)->msg);
		free(p);
		free((*err)->msg);
		(*err)->msg = m;
	}
	return -(*err)->code;
}

void phpc_error_free(struct phpc_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}
