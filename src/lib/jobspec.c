#include "jobspec.h"
#include "strv.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>

/* reqparse's own words for a missing field, which pfcon's users have seen */
#define MISSING "Missing required parameter in the JSON body or the post body or the query string"

static void field_error(struct json_object *errs, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void field_error(struct json_object *errs, const char *field, const char *fmt, ...)
{
	if (json_object_object_get_ex(errs, field, NULL))
		return; /* the first reason per field, as reqparse */
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	json_object_object_add(errs, field, json_object_new_string(msg));
}

/* The member, or NULL when absent or null (reqparse treats both as missing). */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* A JSON string without NUL bytes (a C string must be the whole value). */
static const char *plain_string(struct json_object *v)
{
	if (!json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

static char *get_string(struct json_object *o, const char *key, bool required,
                        struct json_object *errs)
{
	struct json_object *v = member(o, key);
	if (!v) {
		if (required)
			field_error(errs, key, MISSING);
		return NULL;
	}
	const char *s = plain_string(v);
	if (!s) {
		field_error(errs, key, "must be a string (without NUL characters)");
		return NULL;
	}
	return phpc_xstrdup(s);
}

/* An integer, or a string of one (pman's type=int accepts "2"). */
static bool get_int(struct json_object *o, const char *key, long min, long max, long *out,
                    struct json_object *errs)
{
	struct json_object *v = member(o, key);
	if (!v) {
		field_error(errs, key, MISSING);
		return false;
	}
	long n = 0;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		int64_t x = json_object_get_int64(v);
		if (x < LONG_MIN || x > LONG_MAX || errno) {
			field_error(errs, key, "is out of range");
			return false;
		}
		n = (long)x;
	} else if (plain_string(v)) {
		const char *s = json_object_get_string(v), *p = s;
		if (*p == '-' || *p == '+')
			p++;
		if (!*p || strspn(p, "0123456789") != strlen(p)) {
			field_error(errs, key, "invalid literal for int() with base 10: '%s'", s);
			return false;
		}
		errno = 0;
		n = strtol(s, NULL, 10);
		if (errno) {
			field_error(errs, key, "is out of range");
			return false;
		}
	} else {
		field_error(errs, key, "must be an integer");
		return false;
	}
	if (n < min || n > max) {
		field_error(errs, key, "must be from %ld to %ld", min, max);
		return false;
	}
	*out = n;
	return true;
}

static char **get_list(struct json_object *o, const char *key, bool required,
                       struct json_object *errs)
{
	struct json_object *v = member(o, key);
	if (!v) {
		if (required)
			field_error(errs, key, MISSING);
		return required ? NULL : phpc_strv_dup(NULL);
	}
	if (!json_object_is_type(v, json_type_array)) {
		field_error(errs, key, "must be a list of strings");
		return NULL;
	}
	struct phpc_strv l = {0};
	size_t n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		const char *s = plain_string(json_object_array_get_idx(v, i));
		if (!s) {
			field_error(errs, key, "must be a list of strings (item %zu is not one)",
			            i);
			phpc_strv_clear(&l);
			return NULL;
		}
		phpc_strv_add(&l, s);
	}
	return phpc_strv_steal(&l);
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* Podman's rule for a container name, which the jid becomes. */
static bool valid_jid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > PHPC_JOB_JID_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* pman strips '/' at both ends; a path that is empty (all of STOREBASE),
 * has a ".." component, or holds a character podman's --mount syntax or a
 * terminal would read (',' ':' control characters) is refused: pman
 * mounted "../outside" into the job. */
static char *store_path(struct json_object *o, const char *key, struct json_object *errs)
{
	_cleanup_free_ char *raw = get_string(o, key, true, errs);
	if (!raw)
		return NULL;
	const char *b = raw;
	while (*b == '/')
		b++;
	size_t n = strlen(b);
	while (n && b[n - 1] == '/')
		n--;
	char *p = phpc_xstrndup(b, n);
	const char *why = NULL;
	if (n == 0)
		why = "must name a directory below STOREBASE";
	for (const char *c = p; !why && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ',' || *c == ':')
			why = "must not contain ',', ':' or control characters";
	if (!why && n > PHPC_JOB_PATH_MAX)
		why = "is too long";
	size_t depth = 0;
	for (const char *c = p; !why && *c;) {
		size_t len = strcspn(c, "/");
		if (len == 2 && c[0] == '.' && c[1] == '.')
			why = "must stay below STOREBASE (no \"..\")";
		else if (len == 0 || (len == 1 && c[0] == '.'))
			/* "." would mount all of STOREBASE: every job's data */
			why =
			    "must name a directory below STOREBASE (no \".\" or empty components)";
		else if (++depth > PHPC_JOB_PATH_DEPTH)
			why = "has too many components";
		c += len;
		if (*c == '/')
			c++;
	}
	if (why) {
		field_error(errs, key, "%s", why);
		free(p);
		return NULL;
	}
	return p;
}

/* An image name that podman cannot read as an option or as two words. */
static bool valid_image(const char *s)
{
	if (!*s || *s == '-')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

int phpc_job_spec_parse(const char *body, size_t len, struct phpc_job_spec *out,
                        struct json_object **message)
{
	*out = (struct phpc_job_spec){0};
	*message = NULL;
	if (len > INT_MAX) {
		*message = json_object_new_string("the request body is too large");
		return -EINVAL;
	}
	/* the body is also kept as a C string (the job's record) */
	if (memchr(body, '\0', len)) {
		*message = json_object_new_string("the request body must not contain NUL bytes");
		return -EINVAL;
	}
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	/* the whole body, and nothing after the value */
	if (o && jerr == json_tokener_success && json_tokener_get_parse_end(tok) < len) {
		json_object_put(o);
		o = NULL;
		jerr = json_tokener_error_parse_unexpected;
	}
	if (!o || jerr != json_tokener_success) {
		const char *why = jerr == json_tokener_continue ? "unexpected end of data"
		                                                : json_tokener_error_desc(jerr);
		_cleanup_free_ char *m = phpc_xasprintf("Failed to decode JSON object: %s", why);
		*message = json_object_new_string(m);
		json_tokener_free(tok);
		if (o)
			json_object_put(o);
		return -EINVAL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*message = json_object_new_string("the request body must be a JSON object");
		return -EINVAL;
	}
	struct json_object *errs = json_object_new_object();
	struct phpc_job_spec *s = out;
	_cleanup_free_ char *jid = get_string(o, "jid", true, errs);
	if (jid) {
		const char *j = jid;
		while (*j == '/')
			j++;
		if (valid_jid(j))
			s->jid = phpc_xstrdup(j);
		else
			field_error(errs, "jid",
			            "must be 1 to %d characters of A-Z a-z 0-9 _ . - starting with "
			            "a letter or digit (it names the job's container)",
			            PHPC_JOB_JID_MAX);
	}
	s->args = get_list(o, "args", true, errs);
	s->args_path_flags = get_list(o, "args_path_flags", false, errs);
	s->auid = get_string(o, "auid", true, errs);
	/* bounds no machine exceeds: nothing downstream can overflow */
	get_int(o, "number_of_workers", 1, 100000, &s->number_of_workers, errs);
	get_int(o, "cpu_limit", 0, 100000000, &s->cpu_limit, errs);
	get_int(o, "memory_limit", 0, 1L << 30, &s->memory_limit, errs);
	get_int(o, "gpu_limit", 0, 100000, &s->gpu_limit, errs);
	s->image = get_string(o, "image", true, errs);
	if (s->image && !valid_image(s->image)) {
		field_error(errs, "image", "is not an image name");
		free(s->image);
		s->image = NULL;
	}
	s->entrypoint = get_list(o, "entrypoint", true, errs);
	s->type = get_string(o, "type", true, errs);
	if (s->type && !streq(s->type, "ds") && !streq(s->type, "fs") && !streq(s->type, "ts")) {
		field_error(errs, "type", "%s is not a valid choice", s->type);
		free(s->type);
		s->type = NULL;
	}
	s->env = get_list(o, "env", false, errs);
	s->input_dir = store_path(o, "input_dir", errs);
	s->output_dir = store_path(o, "output_dir", errs);
	json_object_put(o);
	if (json_object_object_length(errs) > 0) {
		*message = errs;
		phpc_job_spec_clear(s);
		return -EINVAL;
	}
	json_object_put(errs);
	const char *late = NULL;
	if (!s->entrypoint[0])
		late = "\"entrypoint\" cannot be empty";
	for (char **e = s->env; !late && *e; e++)
		if (!strchr(*e, '=') || **e == '=')
			late = "\"env\" must be a list of \"key=value\" strings";
		else if (strpbrk(*e, "\n\r"))
			/* the job's variables go to podman as a file of lines */
			late = "\"env\" items must not contain line breaks";
	if (late) {
		*message = json_object_new_string(late);
		phpc_job_spec_clear(s);
		return -EINVAL;
	}
	return 0;
}

void phpc_job_spec_clear(struct phpc_job_spec *s)
{
	free(s->jid);
	phpc_strv_free(s->args);
	phpc_strv_free(s->args_path_flags);
	free(s->auid);
	free(s->image);
	phpc_strv_free(s->entrypoint);
	free(s->type);
	phpc_strv_free(s->env);
	free(s->input_dir);
	free(s->output_dir);
	*s = (struct phpc_job_spec){0};
}

char **phpc_job_cmd(const struct phpc_job_spec *s)
{
	struct phpc_strv c = {0};
	phpc_strv_extend(&c, s->entrypoint);
	size_t n = phpc_strv_len(s->args);
	for (size_t i = 0; i < n; i++) {
		phpc_strv_add(&c, s->args[i]);
		if (phpc_strv_contains(s->args_path_flags, s->args[i])) {
			/* the flag's value is the input directory (a flag
			 * that ends the list gets one too, as in pman) */
			phpc_strv_add(&c, PHPC_JOB_INCOMING);
			i++;
		}
	}
	if (s->type && streq(s->type, "ds"))
		phpc_strv_add(&c, PHPC_JOB_INCOMING);
	phpc_strv_add(&c, PHPC_JOB_OUTGOING);
	return phpc_strv_steal(&c);
}

static bool shell_safe(const char *w)
{
	if (!*w)
		return false;
	for (const char *p = w; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(isascii(c) && (isalnum(c) || strchr("_@%+=:,./-", c))))
			return false;
	}
	return true;
}

char *phpc_job_cmd_string(char *const *cmd)
{
	struct phpc_strv words = {0};
	for (size_t i = 0; cmd && cmd[i]; i++) {
		if (shell_safe(cmd[i])) {
			phpc_strv_add(&words, cmd[i]);
			continue;
		}
		size_t n = 2;
		for (const char *p = cmd[i]; *p; p++)
			n += *p == '\'' ? 5 : 1;
		char *q = phpc_xmalloc(n + 1), *w = q;
		*w++ = '\'';
		for (const char *p = cmd[i]; *p; p++) {
			if (*p == '\'') {
				memcpy(w, "'\"'\"'", 5);
				w += 5;
			} else {
				*w++ = *p;
			}
		}
		*w++ = '\'';
		*w = '\0';
		phpc_strv_push(&words, q);
	}
	char *joined = phpc_strv_join(words.v, " ");
	phpc_strv_clear(&words);
	return joined;
}

const char *phpc_job_status_name(enum phpc_job_status s)
{
	switch (s) {
	case PHPC_JOB_NOTSTARTED:
		return "notstarted";
	case PHPC_JOB_STARTED:
		return "started";
	case PHPC_JOB_SUCCESS:
		return "finishedSuccessfully";
	case PHPC_JOB_ERROR:
		return "finishedWithError";
	case PHPC_JOB_UNDEFINED:
		break;
	}
	return "undefined";
}

enum phpc_job_status phpc_job_status_from_container(const char *state, bool oom_killed,
                                                    int exit_code)
{
	if (!state)
		return PHPC_JOB_UNDEFINED;
	if (streq(state, "running") || streq(state, "paused"))
		return PHPC_JOB_STARTED;
	if (streq(state, "created") || streq(state, "configured") || streq(state, "initialized"))
		return PHPC_JOB_NOTSTARTED;
	if (oom_killed || streq(state, "dead"))
		return PHPC_JOB_ERROR;
	if (streq(state, "exited") || streq(state, "stopped"))
		return exit_code == 0 ? PHPC_JOB_SUCCESS : PHPC_JOB_ERROR;
	return PHPC_JOB_UNDEFINED;
}

/* The state's first word: scontrol writes "CANCELLED by 1001". */
static bool state_is(const char *state, const char *word)
{
	size_t n = strlen(word);
	return strncmp(state, word, n) == 0 && (state[n] == '\0' || state[n] == ' ');
}

enum phpc_job_status phpc_job_status_from_slurm(const char *state, int exit_code)
{
	static const char *const waiting[] = {"PENDING",       "REQUEUED",  "REQUEUE_HOLD",
	                                      "REQUEUE_FED",   "SUSPENDED", "CONFIGURING",
	                                      "RESV_DEL_HOLD", NULL};
	static const char *const running[] = {"RUNNING",   "COMPLETING", "STAGE_OUT",
	                                      "SIGNALING", "RESIZING",   NULL};
	static const char *const failed[] = {
	    "FAILED",        "CANCELLED",    "TIMEOUT",  "NODE_FAIL",
	    "OUT_OF_MEMORY", "BOOT_FAIL",    "DEADLINE", "PREEMPTED",
	    "REVOKED",       "SPECIAL_EXIT", NULL};
	if (state && *state) {
		for (const char *const *w = waiting; *w; w++)
			if (state_is(state, *w))
				return PHPC_JOB_NOTSTARTED;
		for (const char *const *w = running; *w; w++)
			if (state_is(state, *w))
				return PHPC_JOB_STARTED;
		for (const char *const *w = failed; *w; w++)
			if (state_is(state, *w))
				return PHPC_JOB_ERROR;
		if (state_is(state, "COMPLETED"))
			return exit_code <= 0 ? PHPC_JOB_SUCCESS : PHPC_JOB_ERROR;
		return PHPC_JOB_UNDEFINED;
	}
	/* Slurm no longer knows the job (MinJobAge passed): the exit code
	 * its script recorded decides */
	if (exit_code < 0)
		return PHPC_JOB_UNDEFINED;
	return exit_code == 0 ? PHPC_JOB_SUCCESS : PHPC_JOB_ERROR;
}

/* The length of the valid UTF-8 sequence at p (at most left bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	unsigned int cp;
	if (c < 0x80)
		return c ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *phpc_utf8_sanitize(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	char *out = phpc_xmalloc(len * 3 + 1), *w = out;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		if (n) {
			memcpy(w, p + i, n);
			w += n;
			i += n;
		} else {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			i++;
		}
	}
	*w = '\0';
	return out;
}

const char *phpc_tail_lines(const char *text, size_t len, long n)
{
	if (n <= 0)
		return text + len;
	size_t end = len;
	if (end && text[end - 1] == '\n')
		end--;
	long seen = 0;
	for (size_t i = end; i > 0; i--) {
		if (text[i - 1] == '\n' && ++seen == n)
			return text + i;
	}
	return text;
}

/* One k8s-file record, line[0..n) without its newline: the content's
 * start, or NULL when it is not "TIME STREAM TAG CONTENT"; *full when the
 * tag is F (the line ends here). */
static const char *k8s_record(const char *line, size_t n, bool *full)
{
	const char *end = line + n;
	const char *p = memchr(line, ' ', n); /* after the time */
	if (!p || p == line)
		return NULL;
	p++;
	if (end - p < 7 || (memcmp(p, "stdout ", 7) != 0 && memcmp(p, "stderr ", 7) != 0))
		return NULL;
	p += 7;
	if (p == end || (p[0] != 'P' && p[0] != 'F'))
		return NULL;
	*full = p[0] == 'F';
	p++;
	/* "F" alone: an empty line written without the space before it */
	if (p == end)
		return p;
	return *p == ' ' ? p + 1 : NULL;
}

char *phpc_k8s_log_text(const char *buf, size_t size, bool cut, size_t *len)
{
	char *text = phpc_xmalloc(size + 1);
	size_t o = 0;
	size_t i = 0;
	/* cut: the first record is a piece of one, and the pieces after it
	 * may finish its line: all up to the first whole line's end go (at
	 * worst one line more than needed, never a line's tail as a line) */
	bool skipping = cut;
	if (cut) {
		const char *nl = memchr(buf, '\n', size);
		i = nl ? (size_t)(nl - buf) + 1 : size;
	}
	while (i < size) {
		const char *nl = memchr(buf + i, '\n', size - i);
		if (!nl)
			break; /* being written */
		size_t n = (size_t)(nl - (buf + i));
		bool full = false;
		const char *c = k8s_record(buf + i, n, &full);
		if (c && skipping) {
			skipping = !full;
			c = NULL;
		}
		if (c) {
			size_t k = (size_t)(nl - c);
			memcpy(text + o, c, k);
			o += k;
			if (full)
				text[o++] = '\n';
		}
		i += n + 1;
	}
	text[o] = '\0';
	*len = o;
	return text;
}
