/* The site configuration file (podman_hpc.yaml) with its templates, in a
 * fixed environment. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct phpc_config_input in = {
	    .envp = fuzz_envp,
	    .uid = 1000,
	    /* given, so that {{ user }} never consults the password database */
	    .user = "fuzz",
	    .additional_stores_opt = "/opt/a,/opt/b",
	    .default_mount_program = "/usr/bin/podman-hpc-mount",
	    .default_modules_dir = "/etc/podman_hpc/modules.d",
	    .default_hooks_dir = "/usr/share/containers/oci/hooks.d",
	};
	struct phpc_error *err = NULL;
	struct phpc_config *c = NULL;
	if (phpc_config_parse(&in, "podman_hpc.yaml", (const char *)data, size, &c, &err) == 0)
		phpc_config_free(c);
	phpc_error_free(err);
	return 0;
}
