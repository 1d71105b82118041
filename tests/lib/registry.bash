# A real OCI registry (Debian's docker-registry) on 127.0.0.1, for tests.
# start_registry DIR: starts it with its data in DIR, sets REGISTRY=127.0.0.1:PORT.
start_registry() {
	local dir=$1 port
	mkdir -p "$dir/data"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$dir/config.yml" <<-Y
	version: 0.1
	log:
	  level: error
	storage:
	  filesystem:
	    rootdirectory: $dir/data
	http:
	  addr: 127.0.0.1:$port
	Y
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	echo $! >"$dir/registry.pid"
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			export REGISTRY=127.0.0.1:$port
			return 0
		fi
		sleep 0.1
	done
	echo "registry did not start: $(cat "$dir/registry.log")" >&2
	return 1
}

stop_registry() {
	local dir=$1
	[ -e "$dir/registry.pid" ] && kill "$(cat "$dir/registry.pid")" 2>/dev/null
	rm -f "$dir/registry.pid"
}
