/* pman's job description: fields, bundled errors, the command, quoting and
 * the status mappings (src/lib/jobspec.h). */
#include "testutil.h"

#include "jobspec.h"

#include <errno.h>

#define GOOD                                                                                   \
	"\"jid\": \"/chris-jid-1\", \"args\": [\"--saveinputmeta\", \"--inputdir\", "          \
	"\"/x/y\", \"--level\", \"3\"], \"args_path_flags\": [\"--inputdir\"], \"auid\": "     \
	"\"cube\", \"number_of_workers\": \"1\", \"cpu_limit\": 1000, \"memory_limit\": 200, " \
	"\"gpu_limit\": 0, \"image\": \"fnndsc/pl-simplefsapp\", \"entrypoint\": "             \
	"[\"python3\", \"/usr/local/bin/simplefsapp\"], \"type\": \"ds\", \"env\": "           \
	"[\"A=1\"], \"input_dir\": \"/key-1/incoming/\", \"output_dir\": \"key-1/outgoing\""

static int parse(const char *body, struct phpc_job_spec *s, struct json_object **msg)
{
	return phpc_job_spec_parse(body, strlen(body), s, msg);
}

/* The error body's message for a body, as JSON text. */
static char *message_of(const char *body)
{
	struct phpc_job_spec s;
	struct json_object *msg = NULL;
	assert_int_equal(parse(body, &s, &msg), -EINVAL);
	assert_non_null(msg);
	char *text = phpc_xstrdup(json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
	json_object_put(msg);
	return text;
}

static void test_good(void **state)
{
	(void)state;
	struct phpc_job_spec s;
	struct json_object *msg = NULL;
	assert_int_equal(parse("{" GOOD "}", &s, &msg), 0);
	assert_null(msg);
	assert_string_equal(s.jid, "chris-jid-1");
	assert_int_equal(s.number_of_workers, 1);
	assert_int_equal(s.cpu_limit, 1000);
	assert_string_equal(s.input_dir, "key-1/incoming");
	assert_string_equal(s.output_dir, "key-1/outgoing");
	char **cmd = phpc_job_cmd(&s);
	const char *want[] = {"python3",
	                      "/usr/local/bin/simplefsapp",
	                      "--saveinputmeta",
	                      "--inputdir",
	                      "/share/incoming",
	                      "--level",
	                      "3",
	                      "/share/incoming",
	                      "/share/outgoing",
	                      NULL};
	assert_argv_equal(cmd, want);
	phpc_strv_free(cmd);
	phpc_job_spec_clear(&s);
}

static void test_missing_fields_bundled(void **state)
{
	(void)state;
	_cleanup_free_ char *m = message_of("{}");
	const char *fields[] = {"jid",        "args",         "auid",      "number_of_workers",
	                        "cpu_limit",  "memory_limit", "gpu_limit", "image",
	                        "entrypoint", "type",         "input_dir", "output_dir"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		_cleanup_free_ char *k =
		    phpc_xasprintf("\"%s\":\"Missing required parameter", fields[i]);
		if (!strstr(m, k))
			fail_msg("no error for %s in %s", fields[i], m);
	}
	/* the optional ones are not named */
	assert_null(strstr(m, "\"env\""));
	assert_null(strstr(m, "args_path_flags"));
}

static void test_bad_values(void **state)
{
	(void)state;
	struct {
		const char *patch, *field, *why;
	} cases[] = {
	    {"\"type\": \"xs\"", "type", "xs is not a valid choice"},
	    {"\"cpu_limit\": \"1.5\"", "cpu_limit",
	     "invalid literal for int() with base 10: '1.5'"},
	    {"\"cpu_limit\": 1.5", "cpu_limit", "must be an integer"},
	    {"\"memory_limit\": -1", "memory_limit", "must be from 0 to"},
	    {"\"number_of_workers\": 0", "number_of_workers", "must be from 1 to"},
	    {"\"cpu_limit\": 99999999999999999999999", "cpu_limit", "must be from 0 to"},
	    {"\"cpu_limit\": \"9223372036854775807\"", "cpu_limit", "must be from 0 to"},
	    {"\"input_dir\": \".\"", "input_dir", "no \\\".\\\" or empty"},
	    {"\"input_dir\": \"./\"", "input_dir", "no \\\".\\\" or empty"},
	    {"\"output_dir\": \"a/./b\"", "output_dir", "no \\\".\\\" or empty"},
	    {"\"output_dir\": \"a//b\"", "output_dir", "no \\\".\\\" or empty"},
	    {"\"jid\": \"a b\"", "jid", "must be 1 to 128"},
	    {"\"jid\": \"-x\"", "jid", "must be 1 to 128"},
	    {"\"jid\": \"///\"", "jid", "must be 1 to 128"},
	    {"\"args\": \"--x\"", "args", "must be a list of strings"},
	    {"\"args\": [1]", "args", "item 0 is not one"},
	    {"\"image\": \"--privileged\"", "image", "is not an image name"},
	    {"\"image\": \"a b\"", "image", "is not an image name"},
	    {"\"input_dir\": \"../outside/incoming\"", "input_dir", "no \\\"..\\\""},
	    {"\"input_dir\": \"a/../../b\"", "input_dir", "no \\\"..\\\""},
	    {"\"output_dir\": \"/\"", "output_dir", "must name a directory"},
	    {"\"output_dir\": \"a,b\"", "output_dir", "must not contain"},
	    {"\"output_dir\": \"a\\nb\"", "output_dir", "must not contain"},
	    {"\"auid\": \"a\\u0000b\"", "auid", "without NUL"},
	    {"\"env\": {}", "env", "must be a list"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		/* a later member replaces the earlier one (json-c keeps the last) */
		_cleanup_free_ char *body = phpc_xasprintf("{" GOOD ", %s}", cases[i].patch);
		_cleanup_free_ char *m = message_of(body);
		_cleanup_free_ char *k = phpc_xasprintf("\"%s\":\"", cases[i].field);
		if (!strstr(m, k) || !strstr(m, cases[i].why))
			fail_msg("%s: got %s", cases[i].patch, m);
		/* only that field */
		assert_int_equal(m[0], '{');
		assert_null(strstr(m + 1, "\",\""));
	}
}

static void test_string_messages(void **state)
{
	(void)state;
	struct {
		const char *body, *want;
	} cases[] = {
	    {"{" GOOD ", \"entrypoint\": []}", "\"\\\"entrypoint\\\" cannot be empty\""},
	    {"{" GOOD ", \"env\": [\"A\"]}",
	     "\"\\\"env\\\" must be a list of \\\"key=value\\\" strings\""},
	    {"{" GOOD ", \"env\": [\"=x\"]}",
	     "\"\\\"env\\\" must be a list of \\\"key=value\\\" strings\""},
	    {"[1, 2]", "\"the request body must be a JSON object\""},
	    {"{" GOOD ", \"env\": [\"A=1\\nB=2\"]}",
	     "\"\\\"env\\\" items must not contain line breaks\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		_cleanup_free_ char *m = message_of(cases[i].body);
		if (strcmp(m, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].body, m, cases[i].want);
	}
	struct phpc_job_spec sp;
	struct json_object *nul = NULL;
	assert_int_equal(phpc_job_spec_parse("{\"a\": \"\0\"}", 10, &sp, &nul), -EINVAL);
	assert_string_equal(json_object_get_string(nul),
	                    "the request body must not contain NUL bytes");
	json_object_put(nul);
	const char *bad[] = {"{", "{\"jid\": }", "{} x", "", "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		_cleanup_free_ char *m = message_of(bad[i]);
		if (!strstr(m, "Failed to decode JSON object: "))
			fail_msg("%s: got %s", bad[i], m);
	}
}

static void test_cmd_forms(void **state)
{
	(void)state;
	char *args[] = {"--in", NULL};
	char *flags[] = {"--in", NULL};
	char *ep[] = {"app", NULL};
	struct phpc_job_spec s = {
	    .args = args, .args_path_flags = flags, .entrypoint = ep, .type = "fs"};
	char **cmd = phpc_job_cmd(&s);
	/* a flag that ends the list gets the input directory too; no
	 * /share/incoming appended for an fs job */
	const char *want[] = {"app", "--in", "/share/incoming", "/share/outgoing", NULL};
	assert_argv_equal(cmd, want);
	phpc_strv_free(cmd);
}

static void test_quoting(void **state)
{
	(void)state;
	char *cmd[] = {"/bin/sh", "-c",   "cp /share/incoming/in.txt /share/outgoing/out.txt",
	               "",        "it's", "a=b,c:d@e%f+g",
	               "é",       NULL};
	_cleanup_free_ char *s = phpc_job_cmd_string(cmd);
	assert_string_equal(s, "/bin/sh -c 'cp /share/incoming/in.txt /share/outgoing/out.txt' "
	                       "'' 'it'\"'\"'s' a=b,c:d@e%f+g 'é'");
}

static void test_status(void **state)
{
	(void)state;
	assert_string_equal(
	    phpc_job_status_name(phpc_job_status_from_container("running", false, 0)), "started");
	assert_int_equal(phpc_job_status_from_container("paused", false, 0), PHPC_JOB_STARTED);
	assert_int_equal(phpc_job_status_from_container("created", false, 0), PHPC_JOB_NOTSTARTED);
	assert_int_equal(phpc_job_status_from_container("exited", false, 0), PHPC_JOB_SUCCESS);
	assert_int_equal(phpc_job_status_from_container("exited", false, 3), PHPC_JOB_ERROR);
	assert_int_equal(phpc_job_status_from_container("exited", true, 0), PHPC_JOB_ERROR);
	assert_int_equal(phpc_job_status_from_container("removing", false, 0), PHPC_JOB_UNDEFINED);
	assert_int_equal(phpc_job_status_from_container(NULL, false, 0), PHPC_JOB_UNDEFINED);
	assert_string_equal(phpc_job_status_name(PHPC_JOB_SUCCESS), "finishedSuccessfully");
	assert_string_equal(phpc_job_status_name(PHPC_JOB_ERROR), "finishedWithError");
	assert_string_equal(phpc_job_status_name(PHPC_JOB_NOTSTARTED), "notstarted");
	assert_string_equal(phpc_job_status_name(PHPC_JOB_UNDEFINED), "undefined");

	assert_int_equal(phpc_job_status_from_slurm("PENDING", -1), PHPC_JOB_NOTSTARTED);
	assert_int_equal(phpc_job_status_from_slurm("RUNNING", -1), PHPC_JOB_STARTED);
	assert_int_equal(phpc_job_status_from_slurm("COMPLETED", 0), PHPC_JOB_SUCCESS);
	assert_int_equal(phpc_job_status_from_slurm("FAILED", 2), PHPC_JOB_ERROR);
	assert_int_equal(phpc_job_status_from_slurm("CANCELLED by 1001", -1), PHPC_JOB_ERROR);
	assert_int_equal(phpc_job_status_from_slurm("TIMEOUT", -1), PHPC_JOB_ERROR);
	assert_int_equal(phpc_job_status_from_slurm("RUNNINGX", -1), PHPC_JOB_UNDEFINED);
	/* gone from Slurm's memory: the recorded exit code decides */
	assert_int_equal(phpc_job_status_from_slurm("", 0), PHPC_JOB_SUCCESS);
	assert_int_equal(phpc_job_status_from_slurm(NULL, 1), PHPC_JOB_ERROR);
	assert_int_equal(phpc_job_status_from_slurm(NULL, -1), PHPC_JOB_UNDEFINED);
}

static void test_utf8_and_tail(void **state)
{
	(void)state;
	const char in[] = "ok \xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xf0\x9f\x98\x80 \xc0\xaf";
	_cleanup_free_ char *s = phpc_utf8_sanitize(in, sizeof(in) - 1);
	assert_string_equal(s, "ok \xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
	                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80 "
	                       "\xef\xbf\xbd\xef\xbf\xbd");
	_cleanup_free_ char *z = phpc_utf8_sanitize("a\0b", 3);
	assert_string_equal(z, "a\xef\xbf\xbd"
	                       "b");
	const char *t = "1\n2\n3\n";
	assert_string_equal(phpc_tail_lines(t, strlen(t), 2), "2\n3\n");
	assert_string_equal(phpc_tail_lines(t, strlen(t), 5), t);
	assert_string_equal(phpc_tail_lines(t, strlen(t), 0), "");
	assert_string_equal(phpc_tail_lines("a\nb", 3, 1), "b");
}

static void test_k8s_log(void **state)
{
	(void)state;
	/* as conmon wrote it for: echo a; printf partial; echo rest;
	 * printf 'no newline'; echo err >&2 */
	const char log[] = "2026-11-22T21:14:24.046030289+00:00 stdout F a\n"
	                   "2026-11-22T21:14:24.046030289+00:00 stdout P partial\n"
	                   "2026-11-22T21:14:24.149205776+00:00 stdout F rest\n"
	                   "2026-11-22T21:14:24.149205776+00:00 stdout P no newline\n"
	                   "2026-11-22T21:14:24.149234710+00:00 stderr F err\n";
	size_t n = 0;
	_cleanup_free_ char *t = phpc_k8s_log_text(log, sizeof(log) - 1, false, &n);
	assert_string_equal(t, "a\npartialrest\nno newlineerr\n");
	assert_int_equal(n, strlen(t));
	/* read from the middle: the cut first record is left out, and so are
	 * pieces that may be its line's (never "rest" alone as a line) */
	_cleanup_free_ char *c = phpc_k8s_log_text(log + 10, sizeof(log) - 11, true, &n);
	assert_string_equal(c, "no newlineerr\n");
	const char *p2 = strstr(log, "P partial") - 5;
	_cleanup_free_ char *c2 = phpc_k8s_log_text(p2, strlen(p2), true, &n);
	assert_string_equal(c2, "no newlineerr\n");
	const char *p3 = strstr(log, "F rest") - 5;
	_cleanup_free_ char *c3 = phpc_k8s_log_text(p3, strlen(p3), true, &n);
	assert_string_equal(c3, ""); /* "no newline" + "err" is one line */
	/* a record being written, empty lines, framing that is not conmon's */
	const char odd[] = "T stdout F \nT stdout F\nT stdin F x\nT stdout X y\n"
	                   "stdout F z\nT stdout Fq\nT stderr F  two\nT stdout F tail";
	_cleanup_free_ char *o = phpc_k8s_log_text(odd, sizeof(odd) - 1, false, &n);
	assert_string_equal(o, "\n\n two\n");
	/* content keeps its bytes, NUL included: the caller sanitizes */
	const char nul[] = "T stdout F a\0b\n";
	_cleanup_free_ char *z = phpc_k8s_log_text(nul, sizeof(nul) - 1, false, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(z, "a\0b\n", 4);
	_cleanup_free_ char *e = phpc_k8s_log_text("", 0, true, &n);
	assert_string_equal(e, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),       cmocka_unit_test(test_missing_fields_bundled),
	    cmocka_unit_test(test_bad_values), cmocka_unit_test(test_string_messages),
	    cmocka_unit_test(test_cmd_forms),  cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_status),     cmocka_unit_test(test_utf8_and_tail),
	    cmocka_unit_test(test_k8s_log),
	};
	return cmocka_run_group_tests_name("jobspec", tests, NULL, NULL);
}
