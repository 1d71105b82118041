/* The body of POST /api/v1/ to podman-hpc-jobd: anyone who can reach the
 * service sends it. */
#include "fuzz.h"
#include "jobspec.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phpc_job_spec s;
	struct json_object *msg = NULL;
	if (phpc_job_spec_parse((const char *)data, size, &s, &msg) == 0) {
		/* what the service does with one: the command and its text */
		char **cmd = phpc_job_cmd(&s);
		free(phpc_job_cmd_string(cmd));
		phpc_strv_free(cmd);
		phpc_job_spec_clear(&s);
	} else {
		/* the error body */
		(void)json_object_to_json_string(msg);
	}
	if (msg)
		json_object_put(msg);
	return 0;
}
