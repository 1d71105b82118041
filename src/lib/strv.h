/* A growable NULL-terminated vector of owned strings: argv, env, lists. */
#ifndef PHPC_STRV_H
#define PHPC_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct phpc_strv {
	char **v; /* NULL-terminated once anything was added; may be NULL when empty */
	size_t n;
	size_t cap;
};

void phpc_strv_push(struct phpc_strv *s, char *owned);
void phpc_strv_add(struct phpc_strv *s, const char *str);
void phpc_strv_addf(struct phpc_strv *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends copies of every string of a NULL-terminated vector (NULL is empty). */
void phpc_strv_extend(struct phpc_strv *s, char *const *v);
void phpc_strv_clear(struct phpc_strv *s);
bool phpc_strv_contains(char *const *v, const char *str);
/* Splits on sep; empty input gives an empty vector; items are not trimmed. */
void phpc_strv_split(struct phpc_strv *s, const char *str, char sep);
/* The strings of v joined by sep, newly allocated ("" for an empty vector). */
char *phpc_strv_join(char *const *v, const char *sep);
/* Deep copy of a NULL-terminated vector into a fresh one. */
char **phpc_strv_dup(char *const *v);
void phpc_strv_free(char **v);
size_t phpc_strv_len(char *const *v);
/* Returns the vector (never NULL: an empty one is a single NULL) and empties s. */
char **phpc_strv_steal(struct phpc_strv *s);

static inline void phpc_strv_clearp(struct phpc_strv *s)
{
	phpc_strv_clear(s);
}
static inline void phpc_strv_freep(char ***v)
{
	phpc_strv_free(*v);
}
#define _cleanup_strv_  __attribute__((cleanup(phpc_strv_clearp)))
#define _cleanup_strvp_ __attribute__((cleanup(phpc_strv_freep)))

#endif
