#!/usr/bin/env bats
# podman-hpc-jobd, the job service with pman's API, as root and as the
# unprivileged user: the real service, real podman (and real Slurm, started
# by tests/run-all), driven with curl as pfcon drives pman.
# shellcheck disable=SC2154,SC2034,SC2016 # status_code and body are set by post and
# req; JOBD_* are read by tests/lib/jobd.bash; the sh -c scripts are the jobs'

load ../lib/common
load ../lib/jobd

setup_file() {
	phpc_env
	ensure_image
	command -v podman-hpc-jobd >/dev/null || skip "podman-hpc-jobd is not installed"
}

setup() {
	phpc_env
	JOBD_TOKEN=
	JOBD_PORT=
}

teardown() {
	jobd_stop
	"$PHPC" ps -aq --filter label=podman-hpc-jobd=1 | xargs -r "$PHPC" rm -f >/dev/null 2>&1 || true
}

@test "jobd: pman's flow: POST, the container named jid with the mounts, finished, output, DELETE, gone" {
	jobd_start "$BATS_TEST_TMPDIR"
	req GET /
	[ "$status_code" = 200 ]
	[ "$(jq -r .container_env <<<"$body")" = podman ]
	[ "$(jq -r .storage_type <<<"$body")" = host ]
	job_input j1
	post "$(job_json j1 'cp /share/incoming/in.txt /share/outgoing/out.txt; echo "$GREETING from $0"')"
	[ "$status_code" = 201 ]
	[ "$(jq -r .status <<<"$body")" = notstarted ]
	[ "$(jq -r .cmd <<<"$body")" = "/bin/sh -c 'cp /share/incoming/in.txt /share/outgoing/out.txt; echo \"\$GREETING from \$0\"' /share/outgoing" ]
	wait_status j1 finishedSuccessfully
	[ "$(jq -r .message <<<"$body")" = exited ]
	[ "$(jq -r .logs <<<"$body")" = "hello from /share/outgoing" ]
	[ "$(jq -r .timestamp <<<"$body")" != "" ]
	[ "$(cat "$BATS_TEST_TMPDIR/sb/key-j1/outgoing/out.txt")" = "input of j1" ]
	mounts=$("$PHPC" container inspect j1 --format '{{range .Mounts}}{{.Source}}>{{.Destination}}:{{.RW}} {{end}}')
	[[ "$mounts" == *"$BATS_TEST_TMPDIR/sb/key-j1/incoming>/share/incoming:false"* ]]
	[[ "$mounts" == *"$BATS_TEST_TMPDIR/sb/key-j1/outgoing>/share/outgoing:true"* ]]
	req DELETE /j1/
	[ "$status_code" = 204 ]
	[ -z "$body" ]
	run "$PHPC" container exists j1
	[ "$status" -eq 1 ]
	req GET /j1/
	[ "$status_code" = 404 ]
	# a finished job's status is kept: a second GET is the same
}

@test "jobd: a GET of a running job runs one podman-hpc (inspect); its logs are read from the container's log file" {
	# podman-hpc, with each call the service makes written down
	calls=$BATS_TEST_TMPDIR/calls
	wrap=$BATS_TEST_TMPDIR/podman-hpc-logged
	printf '#!/bin/sh\necho "$1 $2" >>%s\nexec podman-hpc "$@"\n' "$calls" >"$wrap"
	chmod +x "$wrap"
	jobd_start "$BATS_TEST_TMPDIR" PODMANHPC_JOBD_PODMAN_HPC="$wrap"
	job_input l1
	post "$(job_json l1 'echo one; printf "two "; sleep 0.5; echo >&2 three; while [ ! -e /share/outgoing/go ]; do sleep 0.2; done; echo four')"
	[ "$status_code" = 201 ]
	wait_status l1 started 60
	# three was written: the logs below are whole
	for _ in $(seq 100); do
		[[ "$("$PHPC" logs l1 2>&1)" == *three* ]] && break
		sleep 0.2
	done
	[ "$("$PHPC" container inspect l1 --format '{{.HostConfig.LogConfig.Type}}')" = k8s-file ]
	: >"$calls"
	req GET /l1/
	[ "$(jq -r .status <<<"$body")" = started ]
	[ "$(cat "$calls")" = "container inspect" ]
	# a piece of a line and stderr, as podman logs shows them
	[ "$(jq -r .logs <<<"$body")" = "$(printf 'one\ntwo three')" ]
	touch "$BATS_TEST_TMPDIR/sb/key-l1/outgoing/go"
	wait_status l1 finishedSuccessfully
	[ "$(jq -r .logs <<<"$body")" = "$(printf 'one\ntwo three\nfour')" ]
	[ "$(jq -r .logs <<<"$body")" = "$("$PHPC" logs l1 2>&1)" ]
}

@test "jobd: every bad request is a 4xx with pman's message, and nothing is created" {
	jobd_start "$BATS_TEST_TMPDIR"
	job_input b1
	good=$(job_json b1 true)
	post '{}'
	[ "$status_code" = 400 ]
	for f in jid args auid number_of_workers cpu_limit memory_limit gpu_limit image entrypoint type input_dir output_dir; do
		[ "$(jq -r ".message.$f" <<<"$body")" = "Missing required parameter in the JSON body or the post body or the query string" ]
	done
	out=$(curl -s -w ' %{http_code}' -d "$good" "$JOBD_URL/")
	[ "$out" = "{\"message\":\"Did not attempt to load JSON data because the request Content-Type was not 'application/json'.\"} 400" ]
	post '{"jid": "x",'
	[ "$status_code" = 400 ]
	[[ "$(jq -r .message <<<"$body")" == "Failed to decode JSON object: "* ]]
	post "$(jq -c '.type = "xs"' <<<"$good")"
	[ "$status_code" = 400 ]
	[ "$(jq -r .message.type <<<"$body")" = "xs is not a valid choice" ]
	post "$(jq -c '.cpu_limit = "1.5"' <<<"$good")"
	[ "$status_code" = 400 ]
	[[ "$(jq -r .message.cpu_limit <<<"$body")" == *"'1.5'"* ]]
	post "$(jq -c '.number_of_workers = 2' <<<"$good")"
	[ "$status_code" = 400 ]
	[[ "$(jq -r .message <<<"$body")" == "number_of_workers must be 1 with CONTAINER_ENV=podman"* ]]
	post "$(jq -c '.entrypoint = []' <<<"$good")"
	[ "$(jq -r .message <<<"$body")" = '"entrypoint" cannot be empty' ]
	post "$(jq -c '.env = ["NOEQUALS"]' <<<"$good")"
	[ "$(jq -r .message <<<"$body")" = '"env" must be a list of "key=value" strings' ]
	# paths that leave STOREBASE: "..", a symlink, a missing input directory
	mkdir -p "$BATS_TEST_TMPDIR/outside/incoming"
	post "$(jq -c '.input_dir = "../outside/incoming"' <<<"$good")"
	[ "$status_code" = 400 ]
	[[ "$(jq -r .message.input_dir <<<"$body")" == *'no ".."'* ]]
	ln -s "$BATS_TEST_TMPDIR/outside" "$BATS_TEST_TMPDIR/sb/link"
	post "$(jq -c '.input_dir = "link/incoming"' <<<"$good")"
	[ "$status_code" = 400 ]
	[[ "$(jq -r .message.input_dir <<<"$body")" == *"symbolic link"* ]]
	post "$(jq -c '.output_dir = "link/new"' <<<"$good")"
	[ "$status_code" = 400 ]
	[ ! -e "$BATS_TEST_TMPDIR/outside/new" ]
	post "$(jq -c '.input_dir = "nothere/incoming"' <<<"$good")"
	[ "$status_code" = 400 ]
	[ "$(jq -r .message.input_dir <<<"$body")" = "is not a directory below STOREBASE" ]
	[ ! -e "$BATS_TEST_TMPDIR/sb/nothere" ]
	post "$(jq -c '.jid = "bad name"' <<<"$good")"
	[ "$status_code" = 400 ]
	post "$(jq -c '.image = "--privileged"' <<<"$good")"
	[ "$status_code" = 400 ]
	# a body over --max-body, methods, redirects, unknown URLs
	{ printf '{"jid": "'; head -c 2000000 /dev/zero | tr '\0' x; printf '"}'; } >"$BATS_TEST_TMPDIR/big.json"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "@$BATS_TEST_TMPDIR/big.json" "$JOBD_URL/")
	[ "$code" = 413 ]
	req PUT /
	[ "$status_code" = 405 ]
	req POST /b1/
	[ "$status_code" = 405 ]
	out=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "${JOBD_URL%/api/v1}/api/v1")
	[ "$out" = "308 ${JOBD_URL}/" ]
	req GET /../../etc/passwd
	[ "$status_code" = 404 ]
	req GET /nosuchjob/
	[ "$status_code" = 404 ]
	# none of them made a job or a container
	[ -z "$("$PHPC" ps -aq --filter label=podman-hpc-jobd=1)" ]
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/state/jobs.db" 'select count(*) from jobs')" = 0 ]
}

@test "jobd: a job's env reaches its container only: no module, LOG_PLUGIN or rule variable of podman-hpc" {
	# a site module that binds the home directory, enabled by a variable
	add_home_module
	echo secret >"$HOME/.phpc-jobd-marker-$$"
	jobd_start "$BATS_TEST_TMPDIR"
	job_input e1
	post "$(job_json e1 "echo \"MOUNT_HOME=\$MOUNT_HOME\"; cat $HOME/.phpc-jobd-marker-$$ 2>&1 || true" |
		jq -c --arg log "$BATS_TEST_TMPDIR/hook.log" '.env = ["MOUNT_HOME=1", "LOG_PLUGIN=" + $log, "HOME=/"]')"
	[ "$status_code" = 201 ]
	wait_status e1 finishedSuccessfully
	rm -f "$HOME/.phpc-jobd-marker-$$"
	logs=$(jq -r .logs <<<"$body")
	[[ "$logs" == *"MOUNT_HOME=1"* ]]      # the variable is the container's
	[[ "$logs" != *secret* ]]               # the module did not apply
	[ ! -e "$BATS_TEST_TMPDIR/hook.log" ]   # nor did LOG_PLUGIN
}

@test "jobd: a job may not use a path inside a running job's output directory (409), nor all of STOREBASE" {
	jobd_start "$BATS_TEST_TMPDIR"
	job_input o1
	post "$(job_json o1 'sleep 30')"
	[ "$status_code" = 201 ]
	mkdir -p "$BATS_TEST_TMPDIR/sb/key-o1/outgoing/x"
	post "$(job_json o2 true | jq -c '.input_dir = "key-o1/outgoing/x"')"
	[ "$status_code" = 409 ]
	[[ "$(jq -r .message <<<"$body")" == *'job "o1", which has not finished'* ]]
	post "$(job_json o3 true | jq -c '.input_dir = "."')"
	[ "$status_code" = 400 ]
	post "$(job_json o4 true | jq -c '.output_dir = "./"')"
	[ "$status_code" = 400 ]
	req DELETE /o1/
	[ "$status_code" = 204 ]
	# a jid used again right after its DELETE is a new job
	job_input o1
	post "$(job_json o1 'echo second')"
	[ "$status_code" = 201 ]
	wait_status o1 finishedSuccessfully 90
	[ "$(jq -r .logs <<<"$body")" = second ]
}

@test "jobd: a jid POSTed again right after its DELETE mid-start runs once the old container is gone" {
	jobd_start "$BATS_TEST_TMPDIR"
	job_input r1
	post "$(job_json r1 'sleep 60')"
	[ "$status_code" = 201 ]
	# at once: podman-hpc run -d of the first job has not returned yet
	req DELETE /r1/
	[ "$status_code" = 204 ]
	post "$(job_json r1 'echo again')"
	[ "$status_code" = 201 ]
	wait_status r1 finishedSuccessfully 90
	[ "$(jq -r .logs <<<"$body")" = again ]
	# the first job's container went; the second's is the one named r1
	local n=""
	for _ in $(seq 60); do
		n=$("$PHPC" ps -aq --filter label=podman-hpc-jobd=1 --filter name='^r1$' | wc -l)
		[ "$n" = 1 ] && break
		sleep 0.5
	done
	[ "$n" = 1 ]
	req DELETE /r1/
	[ "$status_code" = 204 ]
}

@test "jobd: a deleted job's container nobody removes holds its jid: the new job ends with an error that says so" {
	# left by a service killed between a DELETE and the removal
	"$PHPC" create --name=h1 --label=podman-hpc-jobd=1 --label=podman-hpc-jobd.id=0 \
		localhost/phpc-tiny true >/dev/null
	jobd_start "$BATS_TEST_TMPDIR"
	job_input h1
	post "$(job_json h1 true)"
	[ "$status_code" = 201 ]
	wait_status h1 finishedWithError 300
	[[ "$(jq -r .message <<<"$body")" == *"container named h1 of a deleted job"*"remove it, or use another jid"* ]]
	# the service did not remove what it cannot prove is its own
	[ -n "$("$PHPC" ps -aq --filter name='^h1$')" ]
	"$PHPC" rm h1 >/dev/null
}

@test "jobd: a failing job and an image that does not exist finish with an error that says why" {
	jobd_start "$BATS_TEST_TMPDIR"
	job_input f1
	job_input f2
	post "$(job_json f1 'echo failing >&2; exit 3')"
	[ "$status_code" = 201 ]
	wait_status f1 finishedWithError
	[ "$(jq -r .logs <<<"$body")" = failing ]
	post "$(job_json f2 true | jq -c '.image = "localhost/phpc-no-such-image"')"
	[ "$status_code" = 201 ]
	wait_status f2 finishedWithError
	[[ "$(jq -r .message <<<"$body")" == "podman-hpc run failed"* ]]
	# a job that never had a container goes too
	req DELETE /f2/
	[ "$status_code" = 204 ]
	req GET /f2/
	[ "$status_code" = 404 ]
}

@test "jobd: a second POST of a jid is a 409, and the job runs once" {
	jobd_start "$BATS_TEST_TMPDIR"
	job_input d1
	post "$(job_json d1 'echo run >> /share/outgoing/runs')"
	[ "$status_code" = 201 ]
	post "$(job_json d1 'echo run >> /share/outgoing/runs')"
	[ "$status_code" = 409 ]
	[[ "$(jq -r .message <<<"$body")" == *'"d1" already exists'* ]]
	wait_status d1 finishedSuccessfully
	[ "$(wc -l <"$BATS_TEST_TMPDIR/sb/key-d1/outgoing/runs")" -eq 1 ]
}

@test "jobd: with --token-file every request needs the bearer token; a token file others can read is refused" {
	tok=$BATS_TEST_TMPDIR/token
	printf '%s\n' 0123456789abcdef0123456789abcdef >"$tok"
	chmod 644 "$tok"
	mkdir -p "$BATS_TEST_TMPDIR/sb"
	run env STOREBASE="$BATS_TEST_TMPDIR/sb" podman-hpc-jobd --port "$(jobd_free_port)" \
		--state-dir "$BATS_TEST_TMPDIR/s2" --token-file "$tok"
	[ "$status" -ne 0 ]
	[[ "$output" == *"nobody else can read or write (chmod 600"* ]]
	chmod 600 "$tok"
	JOBD_TOKEN=0123456789abcdef0123456789abcdef
	jobd_start "$BATS_TEST_TMPDIR" -- --token-file "$tok"
	req GET /
	[ "$status_code" = 200 ]
	code=$(curl -s -o /dev/null -w '%{http_code}' "$JOBD_URL/")
	[ "$code" = 401 ]
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer 0123456789abcdef0123456789abcdeX' "$JOBD_URL/")
	[ "$code" = 401 ]
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$(job_json t1 true)" "$JOBD_URL/")
	[ "$code" = 401 ]
	[ -z "$("$PHPC" ps -aq --filter label=podman-hpc-jobd=1)" ]
}

@test "jobd: bad settings stop it at start with one message" {
	run env STOREBASE= podman-hpc-jobd --state-dir "$BATS_TEST_TMPDIR/s"
	[ "$status" -ne 0 ]
	[[ "$output" == *"STOREBASE is not set"* ]]
	mkdir -p "$BATS_TEST_TMPDIR/sb"
	run env STOREBASE="$BATS_TEST_TMPDIR/sb" CONTAINER_ENV=swarm podman-hpc-jobd --state-dir "$BATS_TEST_TMPDIR/s"
	[ "$status" -ne 0 ]
	[[ "$output" == *"CONTAINER_ENV=swarm is not one podman-hpc-jobd runs"* ]]
	run env STOREBASE="$BATS_TEST_TMPDIR/sb" podman-hpc-jobd --port 99999
	[ "$status" -ne 0 ]
	[[ "$output" == *"--port=99999"* ]]
	run env STOREBASE="$BATS_TEST_TMPDIR/sb" podman-hpc-jobd --listen example.org
	[ "$status" -ne 0 ]
	[[ "$output" == *"give an IP address"* ]]
}

@test "jobd: kill -9 mid-job and a restart: running jobs keep running, none is lost or started twice" {
	jobd_start "$BATS_TEST_TMPDIR"
	job_input k1
	# it runs until the test lets it end: no race with a busy machine
	post "$(job_json k1 'echo run >> /share/outgoing/runs; while [ ! -e /share/outgoing/go ]; do sleep 0.2; done; echo "done"')"
	[ "$status_code" = 201 ]
	wait_status k1 started 60
	jobd_stop -9
	# the container runs on without the service
	sleep 1
	[ "$("$PHPC" container inspect k1 --format '{{.State.Status}}')" = running ]
	jobd_start "$BATS_TEST_TMPDIR"
	req GET /k1/
	[ "$status_code" = 200 ]
	[ "$(jq -r .status <<<"$body")" = started ]
	touch "$BATS_TEST_TMPDIR/sb/key-k1/outgoing/go"
	wait_status k1 finishedSuccessfully
	[ "$(jq -r .logs <<<"$body")" = "done" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/sb/key-k1/outgoing/runs")" -eq 1 ]
}

@test "jobd: kill -9 before the job was handed to podman: the restart starts it, once" {
	# a podman-hpc that waits before it runs: the service and it are killed
	# together, between the 201 and the container's creation
	slow=$BATS_TEST_TMPDIR/slow-podman-hpc
	printf '#!/bin/sh\n[ "$1" = run ] && sleep 3\nexec podman-hpc "$@"\n' >"$slow"
	chmod +x "$slow"
	jobd_start "$BATS_TEST_TMPDIR" PODMANHPC_JOBD_PODMAN_HPC="$slow"
	job_input k2
	post "$(job_json k2 'echo run >> /share/outgoing/runs')"
	[ "$status_code" = 201 ]
	sleep 0.5
	jobd_stop -9
	sleep 3
	run "$PHPC" container exists k2
	[ "$status" -eq 1 ]
	jobd_start "$BATS_TEST_TMPDIR"
	wait_status k2 finishedSuccessfully
	[ "$(wc -l <"$BATS_TEST_TMPDIR/sb/key-k2/outgoing/runs")" -eq 1 ]
	grep -q "1 job(s) recorded before a restart and not yet started" "$JOBD_LOG"
}

@test "jobd: 200 concurrent POSTs: 200 jobs recorded, none lost, none started twice" {
	jobd_start "$BATS_TEST_TMPDIR" -- --workers 4
	for i in $(seq 200); do
		job_input "c$i"
		job_json "c$i" 'echo run >> /share/outgoing/runs' >"$BATS_TEST_TMPDIR/c$i.json"
	done
	# 50 clients at once
	seq 200 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
		-H 'Content-Type: application/json' --data-binary "@$BATS_TEST_TMPDIR/c{}.json" \
		"$JOBD_URL/" >"$BATS_TEST_TMPDIR/codes"
	[ "$(grep -c '^201$' "$BATS_TEST_TMPDIR/codes")" -eq 200 ]
	[ "$(sqlite3 "$BATS_TEST_TMPDIR/state/jobs.db" 'select count(*) from jobs')" = 200 ]
	for i in $(seq 200); do
		wait_status "c$i" finishedSuccessfully 300
		[ "$(wc -l <"$BATS_TEST_TMPDIR/sb/key-c$i/outgoing/runs")" -eq 1 ]
	done
	[ "$("$PHPC" ps -a --filter label=podman-hpc-jobd=1 --format '{{.Names}}' | sort -u | wc -l)" -eq 200 ]
}

@test "jobd: the Slurm backend runs a job as a batch job, with its status, logs and output" {
	sinfo -h >/dev/null 2>&1 || skip "Slurm is not running (tests/run-all starts slurmctld and slurmd)"
	jobd_start "$BATS_TEST_TMPDIR" CONTAINER_ENV=slurm TIMELIMIT_MINUTES=5
	req GET /
	[ "$(jq -r .container_env <<<"$body")" = slurm ]
	job_input s1
	post "$(job_json s1 'cp /share/incoming/in.txt /share/outgoing/out.txt; echo "$GREETING from slurm"')"
	[ "$status_code" = 201 ]
	wait_status s1 finishedSuccessfully 120
	[ "$(jq -r .message <<<"$body")" = COMPLETED ]
	[[ "$(jq -r .logs <<<"$body")" == *"hello from slurm"* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/sb/key-s1/outgoing/out.txt")" = "input of s1" ]
	job_input s2
	post "$(job_json s2 'exit 7')"
	wait_status s2 finishedWithError 120
	# two nodes on a one-node cluster: pending until DELETE cancels it
	job_input s3
	post "$(job_json s3 true | jq -c '.number_of_workers = 2')"
	[ "$status_code" = 201 ]
	dir=$(job_dir s3)
	for _ in $(seq 300); do
		[ -s "$dir/slurm-id" ] && break
		sleep 0.2
	done
	id=$(cat "$dir/slurm-id")
	req GET /s3/
	[ "$(jq -r .status <<<"$body")" = notstarted ]
	# the batch job is the job's: its name is the jid (pending, so Slurm
	# still knows it)
	scontrol show job "$id" | grep -q "JobName=s3"
	req DELETE /s3/
	[ "$status_code" = 204 ]
	[ ! -e "$dir" ]
	state=$(scontrol -o show job "$id" 2>/dev/null | grep -o 'JobState=[A-Z]*' || echo gone)
	[[ "$state" =~ ^(JobState=CANCELLED|gone)$ ]]
}
