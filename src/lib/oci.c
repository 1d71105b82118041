#include "oci.h"
#include "jsonutil.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <json.h>

static struct json_object *parse(const char *json, const char *what, struct phpc_error **err)
{
	enum json_tokener_error jerr = json_tokener_success;
	struct json_object *o = json_tokener_parse_verbose(json, &jerr);
	if (!o || !json_object_is_type(o, json_type_object)) {
		if (o)
			json_object_put(o);
		phpc_error_set(err, EINVAL, "%s is not a JSON object: %s", what,
		               jerr == json_tokener_success ? "wrong type"
		                                            : json_tokener_error_desc(jerr));
		return NULL;
	}
	return o;
}

int phpc_oci_state_parse(const char *json, struct phpc_oci_state *out, struct phpc_error **err)
{
	*out = (struct phpc_oci_state){0};
	struct json_object *o = parse(json, "the OCI state", err);
	if (!o)
		return -EINVAL;
	struct json_object *pid = NULL;
	const char *bundle = phpc_json_str(o, "bundle");
	const char *id = phpc_json_str(o, "id");
	int r = 0;
	if (!json_object_object_get_ex(o, "pid", &pid) ||
	    !json_object_is_type(pid, json_type_int) || json_object_get_int64(pid) <= 0)
		r = phpc_error_set(err, EINVAL, "the OCI state has no valid \"pid\"");
	else if (!bundle || !*bundle)
		r = phpc_error_set(err, EINVAL, "the OCI state has no \"bundle\"");
	if (r == 0) {
		out->pid = (pid_t)json_object_get_int64(pid);
		out->bundle = phpc_xstrdup(bundle);
		out->id = phpc_xstrdup(id ? id : "");
	}
	json_object_put(o);
	return r;
}

void phpc_oci_state_clear(struct phpc_oci_state *s)
{
	free(s->id);
	free(s->bundle);
	*s = (struct phpc_oci_state){0};
}

static char **string_array(struct json_object *arr)
{
	struct phpc_strv s = {0};
	size_t n =
	    arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(arr, i);
		if (json_object_is_type(it, json_type_string))
			phpc_strv_add(&s, json_object_get_string(it));
	}
	return phpc_strv_steal(&s);
}

static void parse_process(struct json_object *proc, struct phpc_oci_config *out)
{
	static const char *const sets[5] = {"bounding", "effective", "inheritable", "permitted",
	                                    "ambient"};
	struct json_object *user = NULL, *caps = NULL, *v = NULL, *g = NULL;
	const char *cwd = proc ? phpc_json_str(proc, "cwd") : NULL;
	out->cwd = phpc_xstrdup(cwd && *cwd ? cwd : "/");
	if (proc && json_object_object_get_ex(proc, "user", &user)) {
		if (json_object_object_get_ex(user, "uid", &v))
			out->uid = (uid_t)json_object_get_int64(v);
		if (json_object_object_get_ex(user, "gid", &v))
			out->gid = (gid_t)json_object_get_int64(v);
		if (json_object_object_get_ex(user, "additionalGids", &g) &&
		    json_object_is_type(g, json_type_array)) {
			out->ngroups = json_object_array_length(g);
			out->groups = phpc_xcalloc(out->ngroups ? out->ngroups : 1, sizeof(gid_t));
			for (size_t i = 0; i < out->ngroups; i++)
				out->groups[i] =
				    (gid_t)json_object_get_int64(json_object_array_get_idx(g, i));
		}
	}
	bool have_caps = proc && json_object_object_get_ex(proc, "capabilities", &caps);
	for (int i = 0; i < 5; i++) {
		struct json_object *arr = NULL;
		if (have_caps)
			json_object_object_get_ex(caps, sets[i], &arr);
		out->caps[i] = string_array(arr);
	}
	if (proc && json_object_object_get_ex(proc, "noNewPrivileges", &v))
		out->no_new_privs = json_object_get_boolean(v);
}

int phpc_oci_config_parse(const char *json, const char *bundle, struct phpc_oci_config *out,
                          struct phpc_error **err)
{
	*out = (struct phpc_oci_config){0};
	struct json_object *o = parse(json, "config.json", err), *root = NULL, *proc = NULL,
	                   *env = NULL, *ann = NULL;
	if (!o)
		return -EINVAL;
	const char *path = NULL;
	if (json_object_object_get_ex(o, "root", &root))
		path = phpc_json_str(root, "path");
	if (!path || !*path) {
		json_object_put(o);
		return phpc_error_set(err, EINVAL, "config.json has no root.path");
	}
	out->root_path =
	    path[0] == '/' ? phpc_xstrdup(path) : phpc_xasprintf("%s/%s", bundle, path);
	struct phpc_strv e = {0}, a = {0};
	if (json_object_object_get_ex(o, "process", &proc) &&
	    json_object_object_get_ex(proc, "env", &env) &&
	    json_object_is_type(env, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(env); i++) {
			struct json_object *it = json_object_array_get_idx(env, i);
			if (json_object_is_type(it, json_type_string))
				phpc_strv_add(&e, json_object_get_string(it));
		}
	}
	if (json_object_object_get_ex(o, "annotations", &ann) &&
	    json_object_is_type(ann, json_type_object)) {
		json_object_object_foreach(ann, k, v)
		{
			if (json_object_is_type(v, json_type_string))
				phpc_strv_addf(&a, "%s=%s", k, json_object_get_string(v));
		}
	}
	out->env = phpc_strv_steal(&e);
	out->annotations = phpc_strv_steal(&a);
	parse_process(proc, out);
	json_object_put(o);
	return 0;
}

void phpc_oci_config_clear(struct phpc_oci_config *c)
{
	free(c->root_path);
	free(c->cwd);
	free(c->groups);
	for (int i = 0; i < 5; i++)
		phpc_strv_free(c->caps[i]);
	phpc_strv_free(c->env);
	phpc_strv_free(c->annotations);
	*c = (struct phpc_oci_config){0};
}
