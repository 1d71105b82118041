# A real OCI registry (Debian's docker-registry), for tests.
# start_registry DIR [ADDR]: starts it on ADDR (127.0.0.1 by default) with its
# data in DIR, sets REGISTRY=ADDR:PORT. REGISTRY_LOG_LEVEL=info logs every
# request to DIR/registry.log (registry_requests counts them).
# free_port [ADDR]: a TCP port nobody listens on at ADDR (127.0.0.1).
free_port() {
	python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "${1:-127.0.0.1}"
}

# wait_port PORT [ADDR]: until something listens there (10 s at most).
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

start_registry() {
	local dir=$1 addr=${2:-127.0.0.1} port
	mkdir -p "$dir/data"
	port=$(free_port "$addr")
	cat >"$dir/config.yml" <<-Y
	version: 0.1
	log:
	  level: ${REGISTRY_LOG_LEVEL:-error}
	storage:
	  filesystem:
	    rootdirectory: $dir/data
	http:
	  addr: $addr:$port
	Y
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	echo $! >"$dir/registry.pid"
	if wait_port "$port" "$addr"; then
		export REGISTRY=$addr:$port
		return 0
	fi
	echo "registry did not start: $(cat "$dir/registry.log")" >&2
	return 1
}

stop_registry() {
	local dir=$1
	[ -e "$dir/registry.pid" ] && kill "$(cat "$dir/registry.pid")" 2>/dev/null
	rm -f "$dir/registry.pid"
}

# registry_requests DIR METHOD PATH_REGEX: how many requests of METHOD whose
# path matches PATH_REGEX the registry answered (REGISTRY_LOG_LEVEL=info: its
# access log, a line '... "GET /v2/... HTTP/1.1" 200 ...' per request).
registry_requests() {
	grep -cE "\"$2 $3[^ ]* HTTP/[0-9.]+\" [0-9]+ " "$1/registry.log" || true
}

# registry_all_requests DIR: how many requests of any kind it answered.
registry_all_requests() {
	grep -cE '"[A-Z]+ /[^ ]* HTTP/[0-9.]+" [0-9]+ ' "$1/registry.log" || true
}
