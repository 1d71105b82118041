#include "hooks.h"
#include "fsutil.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <json.h>

char *phpc_hook_json(const char *hook_path)
{
	struct json_object *o = json_object_new_object();
	struct json_object *hook = json_object_new_object(), *args = json_object_new_array();
	struct json_object *when = json_object_new_object(), *ann = json_object_new_object();
	struct json_object *stages = json_object_new_array();
	json_object_object_add(o, "version", json_object_new_string("1.0.0"));
	json_object_object_add(hook, "path", json_object_new_string(hook_path));
	json_object_array_add(args, json_object_new_string("podman-hpc-hook"));
	json_object_object_add(hook, "args", args);
	json_object_object_add(o, "hook", hook);
	json_object_object_add(ann, PHPC_HOOK_ANNOTATION, json_object_new_string("true"));
	json_object_object_add(when, "annotations", ann);
	json_object_object_add(o, "when", when);
	json_object_array_add(stages, json_object_new_string("prestart"));
	json_object_object_add(o, "stages", stages);
	char *s = phpc_xasprintf("%s\n", json_object_to_json_string_ext(
	                                     o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                            JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

int phpc_hooks_dir_find_hook(const char *dir, char **file, char **text, struct phpc_error **err)
{
	DIR *d = opendir(dir);
	if (!d)
		return phpc_error_errno(err, errno, "cannot read %s", dir);
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || !streq(de->d_name + n - 5, ".json"))
			continue;
		_cleanup_free_ char *t = NULL;
		if (phpc_read_file(dirfd(d), de->d_name, &t, NULL, NULL) == 0 &&
		    strstr(t, "\"" PHPC_HOOK_ANNOTATION "\"")) {
			found = 1;
			if (file)
				*file = phpc_xasprintf("%s/%s", dir, de->d_name);
			if (text)
				*text = steal_pointer(&t);
		}
	}
	closedir(d);
	return found;
}

bool phpc_hooks_dir_has_hook(const char *dir)
{
	return phpc_hooks_dir_find_hook(dir, NULL, NULL, NULL) == 1;
}

int phpc_hook_install(const char *dir, const char *hook_path, bool force, bool *written,
                      struct phpc_error **err)
{
	*written = false;
	_cleanup_close_ int dfd = phpc_mkdir_p_open(dir, 0755, false, err);
	if (dfd < 0)
		return dfd;
	_cleanup_free_ char *want = phpc_hook_json(hook_path);
	_cleanup_free_ char *have = NULL;
	if (phpc_read_file(dfd, PHPC_HOOK_FILE, &have, NULL, NULL) == 0) {
		if (streq(have, want))
			return 0;
		if (!force)
			return phpc_error_set(err, EEXIST,
			                      "%s/%s exists with other content; use --force to "
			                      "replace it",
			                      dir, PHPC_HOOK_FILE);
	}
	int r = phpc_write_file_atomic(dfd, PHPC_HOOK_FILE, want, strlen(want), 0644, err);
	*written = r == 0;
	return r;
}
