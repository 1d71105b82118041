/* Helpers for the cmocka unit tests. */
#ifndef PHPC_TESTUTIL_H
#define PHPC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fsutil.h"
#include "strv.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under /tmp; returns its path (newly allocated). */
static inline char *temp_dir(void)
{
	char tmpl[] = "/tmp/phpc-unit-XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	return phpc_xstrdup(dir);
}

/* Removes what a test made under dir, without following symlinks. */
static inline void remove_tree(const char *dir)
{
	struct phpc_error *err = NULL;
	if (phpc_rm_rf_at(AT_FDCWD, dir, &err) < 0)
		fail_msg("%s", err->msg);
}

/* Writes text to path (created or truncated), then sets its mode. */
static inline void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Writes text to a new file in a fresh temp directory; returns its path. */
static inline char *write_temp(const char *name, const char *text)
{
	char *dir = temp_dir();
	char *path = phpc_xasprintf("%s/%s", dir, name);
	free(dir);
	write_text(path, text, 0644);
	return path;
}

/* Compares a NULL-terminated argv with the expected elements, element by element. */
static inline void assert_argv_equal(char *const *got, const char *const *want)
{
	size_t i = 0;
	for (; want[i]; i++) {
		if (!got[i])
			fail_msg("argv too short: missing [%zu] \"%s\"", i, want[i]);
		if (strcmp(got[i], want[i]) != 0)
			fail_msg("argv[%zu]: got \"%s\", want \"%s\"", i, got[i], want[i]);
	}
	if (got[i])
		fail_msg("argv too long: extra [%zu] \"%s\"", i, got[i]);
}

/* Loads a configuration from envp with test defaults (no config file search). */
#include "config.h"
static inline struct phpc_config *test_config(char *const *envp, const char *add_stores)
{
	static const char *const no_files[] = {NULL};
	struct phpc_config_input in = {
	    .envp = envp,
	    .uid = 1000,
	    .user = "u",
	    .search_files = no_files,
	    .additional_stores_opt = add_stores,
	    .default_mount_program = "/usr/bin/podman-hpc-mount",
	    .default_modules_dir = "/etc/podman_hpc/modules.d",
	    .default_hooks_dir = "/usr/share/containers/oci/hooks.d",
	};
	struct phpc_config *c = NULL;
	struct phpc_error *err = NULL;
	if (phpc_config_load(&in, &c, &err) < 0)
		fail_msg("%s", err->msg);
	return c;
}

#endif
