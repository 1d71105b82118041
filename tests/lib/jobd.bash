# Helpers for the job service's tests: start the real podman-hpc-jobd on a
# free port of 127.0.0.1, talk to it with curl, wait for jobs.

# jobd_start DIR [ENV=VALUE...]: a service with its state in DIR/state and
# STOREBASE DIR/sb (both created), in its own process group; sets JOBD_URL,
# JOBD_PID, JOBD_LOG. Extra arguments after "--" go to podman-hpc-jobd.
jobd_start() {
	local dir=$1
	shift
	local envs=() args=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	args=("$@")
	mkdir -p "$dir/sb"
	JOBD_DIR=$dir
	JOBD_LOG=$dir/jobd.log
	local port
	port=${JOBD_PORT:-$(jobd_free_port)}
	JOBD_URL=http://127.0.0.1:$port/api/v1
	setsid env STOREBASE="$dir/sb" "${envs[@]}" podman-hpc-jobd --port "$port" \
		--state-dir "$dir/state" "${args[@]}" >>"$JOBD_LOG" 2>&1 &
	JOBD_PID=$!
	JOBD_PORT=$port
	for _ in $(seq 100); do
		curl -s -o /dev/null "$JOBD_URL/" ${JOBD_TOKEN:+-H "Authorization: Bearer $JOBD_TOKEN"} && return 0
		kill -0 "$JOBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "podman-hpc-jobd did not start:" >&2
	cat "$JOBD_LOG" >&2
	return 1
}

# Stops the service (and, with -9, everything of its session at once).
jobd_stop() {
	[ -n "${JOBD_PID:-}" ] || return 0
	if [ "${1:-}" = -9 ]; then
		# its whole session: the service and every program it runs (each
		# in a process group of its own)
		pkill -9 -s "$JOBD_PID" 2>/dev/null || true
	else
		kill "$JOBD_PID" 2>/dev/null || true
	fi
	wait "$JOBD_PID" 2>/dev/null || true
	JOBD_PID=
}

jobd_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A job description: job_json JID SCRIPT [TYPE] (entrypoint sh -c SCRIPT).
job_json() {
	jq -nc --arg jid "$1" --arg sh "$2" --arg type "${3:-fs}" '{
		jid: $jid, args: [], auid: "cube", number_of_workers: 1, cpu_limit: 1000,
		memory_limit: 200, gpu_limit: 0, image: "localhost/phpc-tiny",
		entrypoint: ["/bin/sh", "-c", $sh], type: $type, env: ["GREETING=hello"],
		input_dir: ("key-" + $jid + "/incoming"), output_dir: ("key-" + $jid + "/outgoing")}'
}

# post BODY: POSTs JSON; $status_code and $body are set (curl's exit in $?).
# shellcheck disable=SC2034 # status_code and body are the callers'
post() {
	local out
	out=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
		${JOBD_TOKEN:+-H "Authorization: Bearer $JOBD_TOKEN"} --data-binary "$1" "$JOBD_URL/") || return 1
	status_code=${out##*$'\n'}
	body=${out%$'\n'*}
}

# req METHOD PATH: any request; $status_code and $body are set.
# shellcheck disable=SC2034 # status_code and body are the callers'
req() {
	local out
	out=$(curl -s -w '\n%{http_code}' -X "$1" \
		${JOBD_TOKEN:+-H "Authorization: Bearer $JOBD_TOKEN"} "$JOBD_URL$2") || return 1
	status_code=${out##*$'\n'}
	body=${out%$'\n'*}
}

# Makes the input directory of a job, with one file.
job_input() {
	mkdir -p "$JOBD_DIR/sb/key-$1/incoming"
	echo "input of $1" >"$JOBD_DIR/sb/key-$1/incoming/in.txt"
}

# wait_status JID WANT [SECONDS]: polls GET until status is WANT.
wait_status() {
	local s=""
	for _ in $(seq $((${3:-60} * 5))); do
		req GET "/$1/"
		s=$(jq -r .status <<<"$body" 2>/dev/null)
		[ "$s" = "$2" ] && return 0
		case $s in finishedSuccessfully | finishedWithError) break ;; esac
		sleep 0.2
	done
	echo "job $1: status $s, not $2: $body" >&2
	return 1
}

# The state directory of a Slurm job: STATE/jobs/ID, ID its record's.
job_dir() {
	echo "$JOBD_DIR/state/jobs/$(sqlite3 "$JOBD_DIR/state/jobs.db" "select id from jobs where jid = '$1'")"
}
