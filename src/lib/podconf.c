#include "podconf.h"
#include "fsutil.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>

static void append(char **buf, size_t *len, const char *s, size_t n)
{
	*buf = phpc_xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void appendf(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = phpc_xvasprintf(fmt, ap);
	va_end(ap);
	append(buf, len, s, strlen(s));
}

void phpc_toml_append_string(char **buf, size_t *len, const char *s)
{
	append(buf, len, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			append(buf, len, e, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			appendf(buf, len, "\\u%04x", *p);
		} else {
			append(buf, len, (const char *)p, 1);
		}
	}
	append(buf, len, "\"", 1);
}

static void kv(char **buf, size_t *len, const char *key, const char *val)
{
	appendf(buf, len, "%s = ", key);
	phpc_toml_append_string(buf, len, val);
	append(buf, len, "\n", 1);
}

static const char header[] = "# Written by podman-hpc from the site configuration; "
                             "changes here are overwritten.\n";

char *phpc_storage_conf_text(const struct phpc_config *cfg)
{
	char *b = NULL;
	size_t n = 0;
	append(&b, &n, header, sizeof(header) - 1);
	append(&b, &n, "[storage]\n", 10);
	kv(&b, &n, "driver", "overlay");
	kv(&b, &n, "graphroot", phpc_cfg_str(cfg, PHPC_K_GRAPH_ROOT));
	kv(&b, &n, "runroot", phpc_cfg_str(cfg, PHPC_K_RUN_ROOT));
	appendf(&b, &n, "\n[storage.options]\nadditionalimagestores = [");
	phpc_toml_append_string(&b, &n, cfg->squash_dir);
	for (char **p = cfg->all_additional_stores; *p; p++) {
		append(&b, &n, ", ", 2);
		phpc_toml_append_string(&b, &n, *p);
	}
	appendf(&b, &n, "]\n\n[storage.options.overlay]\n");
	kv(&b, &n, "mount_program", phpc_cfg_str(cfg, PHPC_K_MOUNT_PROGRAM));
	kv(&b, &n, "ignore_chown_errors", "true");
	return b;
}

char *phpc_containers_conf_text(const struct phpc_config *cfg)
{
	char *b = NULL;
	size_t n = 0;
	(void)cfg;
	append(&b, &n, header, sizeof(header) - 1);
	append(&b, &n, "[containers]\n", 13);
	kv(&b, &n, "seccomp_profile", "unconfined");
	append(&b, &n, "\n[engine]\n", 10);
	kv(&b, &n, "cgroup_manager", "cgroupfs");
	return b;
}

int phpc_podconf_update(const struct phpc_config *cfg, bool *changed, struct phpc_error **err)
{
	_cleanup_free_ char *dir =
	    phpc_xasprintf("%s/containers", phpc_cfg_str(cfg, PHPC_K_CONFIG_HOME));
	_cleanup_close_ int dfd = phpc_mkdir_p_open(dir, 0700, true, err);
	if (dfd < 0)
		return dfd;
	_cleanup_free_ char *sc = phpc_storage_conf_text(cfg);
	_cleanup_free_ char *cc = phpc_containers_conf_text(cfg);
	bool c1 = false, c2 = false;
	int r = phpc_write_file_if_changed(dfd, "storage.conf", sc, strlen(sc), 0644, &c1, err);
	if (r == 0)
		r = phpc_write_file_if_changed(dfd, "containers.conf", cc, strlen(cc), 0644, &c2,
		                               err);
	if (r < 0)
		return phpc_error_prefix(err, "writing podman configuration in %s", dir);
	if (changed)
		*changed = c1 || c2;
	return 0;
}
