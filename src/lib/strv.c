#include "strv.h"
#include "util.h"

#include <stdarg.h>

void phpc_strv_push(struct phpc_strv *s, char *owned)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = phpc_xrealloc(s->v, s->cap * sizeof(char *));
	}
	s->v[s->n++] = owned;
	s->v[s->n] = NULL;
}

void phpc_strv_add(struct phpc_strv *s, const char *str)
{
	phpc_strv_push(s, phpc_xstrdup(str));
}

void phpc_strv_addf(struct phpc_strv *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	phpc_strv_push(s, phpc_xvasprintf(fmt, ap));
	va_end(ap);
}

void phpc_strv_extend(struct phpc_strv *s, char *const *v)
{
	for (; v && *v; v++)
		phpc_strv_add(s, *v);
}

void phpc_strv_clear(struct phpc_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

bool phpc_strv_contains(char *const *v, const char *str)
{
	for (; v && *v; v++)
		if (streq(*v, str))
			return true;
	return false;
}

void phpc_strv_split(struct phpc_strv *s, const char *str, char sep)
{
	if (!*str)
		return;
	for (;;) {
		const char *e = strchr(str, sep);
		if (!e) {
			phpc_strv_add(s, str);
			return;
		}
		phpc_strv_push(s, phpc_xstrndup(str, (size_t)(e - str)));
		str = e + 1;
	}
}

char **phpc_strv_dup(char *const *v)
{
	struct phpc_strv s = {0};
	phpc_strv_extend(&s, v);
	return phpc_strv_steal(&s);
}

void phpc_strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

size_t phpc_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

char **phpc_strv_steal(struct phpc_strv *s)
{
	char **v = s->v;
	if (!v)
		v = phpc_xcalloc(1, sizeof(char *));
	s->v = NULL;
	s->n = s->cap = 0;
	return v;
}

char *phpc_strv_join(char *const *v, const char *sep)
{
	size_t sl = strlen(sep), len = 1;
	for (char *const *p = v; p && *p; p++)
		len += strlen(*p) + sl;
	char *out = phpc_xmalloc(len), *w = out;
	for (char *const *p = v; p && *p; p++) {
		if (p != v) {
			memcpy(w, sep, sl);
			w += sl;
		}
		size_t n = strlen(*p);
		memcpy(w, *p, n);
		w += n;
	}
	*w = '\0';
	return out;
}
