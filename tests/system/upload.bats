#!/usr/bin/env bats
# The site registry and podman-hpc upload, as root and as the unprivileged
# user: podman-hpc-registry sets up Debian's docker-registry for real on
# 127.0.0.1 (as root under its service account; as the user, a registry of
# his own), upload commits and pushes a container, and a "second node" with
# an empty store pulls and runs it. Also a pull-through cache of another
# registry: one pull upstream for two nodes.

load ../lib/common
load ../lib/registry

# an admin's tool, in sbin: not on an ordinary user's PATH
PHPC_REGISTRY=${PHPC_REGISTRY:-$(command -v podman-hpc-registry || echo /usr/sbin/podman-hpc-registry)}

# start_site_registry DIR PORT [OPTIONS...]: podman-hpc-registry --foreground
# with its files under DIR, its data in DIR/data, its registries.conf.d entry
# where podman reads a user's ($HOME/.config/containers/registries.conf.d).
start_site_registry() {
	local dir=$1 port=$2
	shift 2
	local user=()
	[ "$(id -u)" -eq 0 ] || user=(--user "$(id -un)")
	mkdir -p "$dir"
	"$PHPC_REGISTRY" "${user[@]}" --listen "127.0.0.1:$port" --unprivileged-port \
		--config-dir "$dir/etc" \
		--no-unit --registries-conf-dir "$HOME/.config/containers/registries.conf.d" \
		--foreground "$@" "$dir/data" >"$dir/log" 2>&1 &
	echo $! >"$dir/pid"
	wait_port "$port" || { cat "$dir/log" >&2; return 1; }
}

stop_site_registry() {
	[ -e "$1/pid" ] && kill "$(cat "$1/pid")" 2>/dev/null
	rm -f "$1/pid"
}

setup_file() {
	phpc_env
	ensure_image
	# outside /tmp's private test directories: the service account must
	# reach the registry's storage
	REG_BASE=/var/tmp/$(basename "$(phpc_base)")-upload
	export REG_BASE
	rm -rf "$REG_BASE"
	mkdir -p "$REG_BASE"
	chmod 0755 "$REG_BASE"
	# the user's home, shared by the "nodes" as a cluster's home is
	export HOME=$REG_BASE/home
	mkdir -p "$HOME"
	REG_PORT=$(free_port)
	export REG_PORT
	start_site_registry "$REG_BASE/site" "$REG_PORT"
	export PODMANHPC_UPLOAD_REGISTRY=127.0.0.1:$REG_PORT
}

teardown_file() {
	stop_site_registry "$REG_BASE/site"
	stop_site_registry "$REG_BASE/cache" 2>/dev/null || true
	stop_registry "$REG_BASE/upstream" 2>/dev/null || true
	phpc_env
	"$PHPC" rm -af -t 0 >/dev/null 2>&1 || true
	rm -rf "$REG_BASE"
}

setup() {
	phpc_env
	export HOME=$REG_BASE/home
	export PODMANHPC_UPLOAD_REGISTRY=127.0.0.1:$REG_PORT
	ME=$(id -un)
}

# A second node: its own empty store and squash store, the same home.
node2() {
	local n=$BATS_TEST_TMPDIR/node2
	mkdir -p "$n"
	PODMANHPC_GRAPH_ROOT=$n/storage PODMANHPC_RUN_ROOT=$n/run PODMANHPC_CONFIG_HOME=$n/config \
		SQUASH_DIR=$n/squash "$@"
}

node2_cleanup() {
	node2 "$PHPC" rm -af -t 0 >/dev/null 2>&1 || true
	node2 "$PHPC" rmi -af >/dev/null 2>&1 || true
	if mountpoint -q "$BATS_TEST_TMPDIR/node2/squash"; then umount "$BATS_TEST_TMPDIR/node2/squash"; fi
}

@test "podman-hpc-registry: the service runs under its account, with the files it wrote" {
	[ -e "$REG_BASE/site/etc/registry.yml" ]
	grep -q "rootdirectory: \"$REG_BASE/site/data\"" "$REG_BASE/site/etc/registry.yml"
	conf=$HOME/.config/containers/registries.conf.d/50-podman-hpc-registry.conf
	grep -q "location = \"127.0.0.1:$REG_PORT\"" "$conf"
	grep -q 'insecure = true' "$conf"
	grep -q "upload_registry: 127.0.0.1:$REG_PORT" "$REG_BASE/site/log"
	pid=$(cat "$REG_BASE/site/pid")
	# the registry replaced the set-up program: same process, now docker-registry
	[ "$(cat "/proc/$pid/comm")" = docker-registry ]
	if [ "$(id -u)" -eq 0 ]; then
		acct=podman-hpc-registry
		[ "$(stat -c %U "$REG_BASE/site/data")" = podman-hpc-registry ]
		getent passwd podman-hpc-registry | grep -q ':/usr/sbin/nologin$'
	else
		acct=$ME
	fi
	uid=$(id -u "$acct") gid=$(id -g "$acct")
	# every id the account's, no group of root's, no capability (a high port)
	grep -qP "^Uid:\t$uid\t$uid\t$uid\t$uid$" "/proc/$pid/status"
	grep -qP "^Gid:\t$gid\t$gid\t$gid\t$gid$" "/proc/$pid/status"
	grep -qP "^Groups:\t(${gid} ?)*$" "/proc/$pid/status"
	grep -qP '^CapEff:\t0+$' "/proc/$pid/status"
	# nothing of the caller's environment
	! tr '\0' '\n' <"/proc/$pid/environ" | grep -q '^HOME=' || false
	run curl -fsS "http://127.0.0.1:$REG_PORT/v2/"
	[ "$status" -eq 0 ]
}

@test "podman-hpc-registry: wrong set-ups get one clear error and write nothing" {
	d=$BATS_TEST_TMPDIR/reg
	run "$PHPC_REGISTRY" --config-dir "$d/etc" --registries-conf-dir "$d/c" --no-unit
	[ "$status" -eq 1 ]
	[[ "$output" == *"which directory holds the registry's data?"* ]]
	run "$PHPC_REGISTRY" --listen 10.1.2.3:5000 --config-dir "$d/etc" --no-unit "$d/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a loopback address"*"--insecure"* ]]
	run "$PHPC_REGISTRY" --proxy registry-1.docker.io --config-dir "$d/etc" --no-unit "$d/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--proxy: \"registry-1.docker.io\" is not a registry URL"* ]]
	run "$PHPC_REGISTRY" --bogus "$d/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown or incomplete option --bogus"* ]]
	run "$PHPC_REGISTRY" --registry-bin docker-registry --config-dir "$d/etc" "$d/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--registry-bin must be an absolute path"* ]]
	run "$PHPC_REGISTRY" --user -x --config-dir "$d/etc" --no-unit "$d/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *'--user "-x": an account name is'* ]]
	run "$PHPC_REGISTRY" --config-dir "$d/etc" --no-unit "relative/data"
	[ "$status" -eq 1 ]
	[[ "$output" == *"absolute path"* ]]
	if [ "$(id -u)" -ne 0 ]; then
		run "$PHPC_REGISTRY" --config-dir "$d/etc" --no-unit "$d/data"
		[ "$status" -eq 1 ]
		[[ "$output" == *"run as root"* ]]
	else
		# a port any user could take while the registry is down
		run "$PHPC_REGISTRY" --listen 127.0.0.1:5000 --config-dir "$d/etc" --no-unit "$d/data"
		[ "$status" -eq 1 ]
		[[ "$output" == *"any user can bind port 5000"*"--unprivileged-port"* ]]
		run "$PHPC_REGISTRY" --user root --config-dir "$d/etc" --no-unit "$d/data"
		[ "$status" -eq 1 ]
		[[ "$output" == *"must not run as root"* ]]
		# storage someone else could write: refused, it is what everyone pulls
		mkdir -p "$d/open"
		chown podman-hpc-registry "$d/open"
		chmod 0777 "$d/open"
		run "$PHPC_REGISTRY" --config-dir "$d/etc" --no-unit \
			--registries-conf-dir "$d/c" "$d/open"
		[ "$status" -eq 1 ]
		[[ "$output" == *"writable by others"*"chmod go-w"* ]]
		mkdir -p "$d/theirs"
		chown nobody "$d/theirs"
		run "$PHPC_REGISTRY" --config-dir "$d/etc" --no-unit \
			--registries-conf-dir "$d/c" "$d/theirs"
		[ "$status" -eq 1 ]
		[[ "$output" == *"exists and belongs to uid"*"someone may have put it there"* ]]
		# a parent another user owns: they could rename the data away
		mkdir -p "$d/nobodys"
		chown nobody "$d/nobodys"
		run "$PHPC_REGISTRY" --config-dir "$d/etc" --no-unit \
			--registries-conf-dir "$d/c" "$d/nobodys/data"
		[ "$status" -eq 1 ]
		[[ "$output" == *"$d/nobodys belongs to user nobody"* ]]
		[ ! -e "$d/nobodys/data" ]
	fi
	[ ! -e "$d/etc" ]
	[ ! -e "$d/c" ]
}

@test "podman-hpc-registry as root writes the systemd unit and the system entry" {
	[ "$(id -u)" -eq 0 ] || skip "root only: a site admin's set-up"
	d=$BATS_TEST_TMPDIR/sys
	(umask 077 && "$PHPC_REGISTRY" --name group --config-dir "$d/etc" --unit-dir "$d/units" \
		--registries-conf-dir "$d/conf.d" "$REG_BASE/new/group-data") >"$d.out" 2>&1
	run cat "$d.out"
	[[ "$output" == *"systemctl daemon-reload && systemctl enable --now podman-hpc-registry-group.service"* ]]
	unit=$d/units/podman-hpc-registry-group.service
	grep -qx 'User=podman-hpc-registry' "$unit"
	grep -qx "ExecStart=/usr/bin/docker-registry serve $d/etc/group.yml" "$unit"
	grep -qx "ReadWritePaths=$REG_BASE/new/group-data" "$unit"
	grep -qx 'ProtectSystem=strict' "$unit"
	grep -qx 'AmbientCapabilities=CAP_NET_BIND_SERVICE' "$unit"
	grep -q 'addr: "127.0.0.1:555"' "$d/etc/group.yml"
	grep -qx 'location = "127.0.0.1:555"' "$d/conf.d/50-podman-hpc-group.conf"
	! grep -q localhost "$d/conf.d/50-podman-hpc-group.conf" || false
	if command -v systemd-analyze >/dev/null; then
		run systemd-analyze verify "$unit"
		[[ "$output" != *"Unknown key"* ]]
	fi
	# whatever the admin's umask: the account reaches its data, users the entry
	[ "$(stat -c '%U %a' "$REG_BASE/new/group-data")" = "podman-hpc-registry 750" ]
	[ "$(stat -c '%U %a' "$REG_BASE/new")" = "root 755" ]
	[ "$(stat -c %a "$d/conf.d")" = 755 ]
	[ "$(stat -c %a "$d/conf.d/50-podman-hpc-group.conf")" = 644 ]
	[ "$(stat -c %a "$d/etc/group.yml")" = 644 ]
}

@test "podman-hpc-registry on a port below 1024: the account keeps only the capability to bind it" {
	[ "$(id -u)" -eq 0 ] || skip "root only: ports below 1024"
	port=
	for p in $(seq 600 999); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
	done
	[ -n "$port" ]
	d=$REG_BASE/low
	"$PHPC_REGISTRY" --name low --listen "127.0.0.1:$port" --config-dir "$d/etc" --no-unit \
		--registries-conf-dir "$d/c" --foreground "$d/data" >"$d.log" 2>&1 &
	pid=$!
	wait_port "$port" || { cat "$d.log"; false; }
	run curl -fsS "http://127.0.0.1:$port/v2/"
	[ "$status" -eq 0 ]
	uid=$(id -u podman-hpc-registry)
	grep -qP "^Uid:\t$uid\t$uid\t$uid\t$uid$" "/proc/$pid/status"
	# CAP_NET_BIND_SERVICE (bit 10) and nothing else
	grep -qP '^CapEff:\t0+400$' "/proc/$pid/status"
	grep -qP '^CapAmb:\t0+400$' "/proc/$pid/status"
	kill "$pid"
}

@test "upload: commit, push, local copy removed, and a second node pulls and runs it" {
	"$PHPC" rm -f work >/dev/null 2>&1 || true
	run "$PHPC" run --name work "$IMG" sh -c 'echo made-on-login > /payload'
	[ "$status" -eq 0 ]
	run "$PHPC" upload mytools
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ran these commands for you:"* ]]
	[[ "$output" == *"podman-hpc commit --quiet --author "*" $ME/mytools"* || "$output" == *"podman-hpc commit --quiet --author "*"localhost/$ME/mytools:latest"* ]]
	[[ "$output" == *"podman-hpc push 127.0.0.1:$REG_PORT/$ME/mytools:latest"* ]]
	[[ "$output" == *"podman-hpc image rm localhost/$ME/mytools:latest 127.0.0.1:$REG_PORT/$ME/mytools:latest"* ]]
	[[ "$output" == *"podman-hpc pull 127.0.0.1:$REG_PORT/$ME/mytools"* ]]
	[[ "$output" == *"apptainer pull --no-https docker://127.0.0.1:$REG_PORT/$ME/mytools"* ]]
	[[ "$output" == *"exactly this one as 127.0.0.1:$REG_PORT/$ME/mytools@sha256:"* ]]
	# a registry on loopback is this node's: upload says so
	[[ "$output" == *"To run it on this node"* ]]
	# the local copy is gone, the container stays
	run "$PHPC" image exists "localhost/$ME/mytools"
	[ "$status" -ne 0 ]
	run "$PHPC" image exists "127.0.0.1:$REG_PORT/$ME/mytools"
	[ "$status" -ne 0 ]
	run "$PHPC" container exists work
	[ "$status" -eq 0 ]
	run curl -fsS "http://127.0.0.1:$REG_PORT/v2/_catalog"
	[[ "$output" == *"\"$ME/mytools\""* ]]

	# the second node: nothing local; pulled (and squashed), then run
	run node2 "$PHPC" pull "127.0.0.1:$REG_PORT/$ME/mytools"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Migrated "* ]]
	run node2 "$PHPC" run --rm "127.0.0.1:$REG_PORT/$ME/mytools" cat /payload
	[ "$output" = made-on-login ]
	node2_cleanup
	"$PHPC" rm -f work >/dev/null
}

@test "upload NAME CONTAINER with a tag; the user's last container by default" {
	"$PHPC" rm -f first second >/dev/null 2>&1 || true
	"$PHPC" run --name first "$IMG" sh -c 'echo one > /which' >/dev/null
	"$PHPC" run --name second "$IMG" sh -c 'echo two > /which' >/dev/null
	run "$PHPC" upload pick:v1 first
	[ "$status" -eq 0 ]
	[[ "$output" == *"push 127.0.0.1:$REG_PORT/$ME/pick:v1"* ]]
	run "$PHPC" upload last
	[ "$status" -eq 0 ]
	# run pulls what the node does not have (podman's progress on stderr first)
	run node2 "$PHPC" run --rm "127.0.0.1:$REG_PORT/$ME/pick:v1" cat /which
	echo "$output"
	[ "${lines[-1]}" = one ]
	run node2 "$PHPC" run --rm "127.0.0.1:$REG_PORT/$ME/last" cat /which
	[ "${lines[-1]}" = two ]
	node2_cleanup
	"$PHPC" rm -f first second >/dev/null
}

@test "upload of a container that ran with a site module warns that what the module put there goes into the image" {
	echo from-the-site >"$PODMANHPC_MODULES_DIR/site.conf"
	add_module site <<-'Y'
	name: site
	cli_arg: site
	env: ENABLE_SITE
	copy:
	  - site.conf:/etc/site.conf
	Y
	"$PHPC" rm -f modded plain >/dev/null 2>&1 || true
	run "$PHPC" run --name modded --site "$IMG" cat /etc/site.conf
	[ "$output" = from-the-site ]
	local cid
	cid=$("$PHPC" container inspect --format '{{.Id}}' modded)
	run --separate-stderr "$PHPC" upload modded-img modded
	# shellcheck disable=SC2154 # stderr is set by bats's run
	echo "$output"$'\n'"$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"podman-hpc: warning: container ${cid:0:12} ran with site modules (such as --gpu or --mpi): what they put in it (mount points, ld.so.cache) goes into the image too"* ]]
	# as it says: the image has the module's file
	run node2 "$PHPC" run --rm "127.0.0.1:$REG_PORT/$ME/modded-img" cat /etc/site.conf
	[ "${lines[-1]}" = from-the-site ]
	# a container started without module flags: no warning
	"$PHPC" run --name plain "$IMG" true
	run --separate-stderr "$PHPC" upload plain-img plain
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"site modules"* ]]
	node2_cleanup
	"$PHPC" rm -f modded plain >/dev/null
}

@test "upload: bad names, no container, no registry: one clear error, nothing left" {
	"$PHPC" rm -af -t 0 >/dev/null
	run "$PHPC" upload mytools
	[ "$status" -eq 125 ]
	[[ "$output" == "Error: you have no container to upload: make one first"* ]]
	"$PHPC" run --name work "$IMG" true >/dev/null
	run "$PHPC" upload mytools nosuch
	[ "$status" -eq 125 ]
	[[ "$output" == *"no container \"nosuch\""* ]]
	run "$PHPC" upload My_Tools
	[ "$status" -eq 125 ]
	[[ "$output" == *"\"My_Tools\" is not an image name"* ]]
	run "$PHPC" upload mytools -- -x
	[ "$status" -eq 125 ]
	[[ "$output" == *'no container "-x"'* ]]
	# a name of the user's own: not moved to the commit, not removed
	"$PHPC" tag "$IMG" "localhost/$ME/taken:latest"
	run "$PHPC" upload taken
	[ "$status" -eq 125 ]
	[[ "$output" == *"you have an image named localhost/$ME/taken:latest already"* ]]
	run "$PHPC" image exists "localhost/$ME/taken:latest"
	[ "$status" -eq 0 ]
	"$PHPC" rmi "localhost/$ME/taken:latest" >/dev/null
	run "$PHPC" upload
	[ "$status" -eq 125 ]
	[[ "$output" == *"expected NAME"* ]]
	run env -u PODMANHPC_UPLOAD_REGISTRY "$PHPC" upload mytools
	[ "$status" -eq 125 ]
	[[ "$output" == *"this site has no registry to upload to"*"upload_registry"* ]]
	echo "upload_registry: not a registry" >"$PODMANHPC_CONFIG_FILE"
	run env -u PODMANHPC_UPLOAD_REGISTRY "$PHPC" upload mytools
	echo "$output"
	[ "$status" -eq 125 ]
	[[ "$output" == *"upload_registry: \"not a registry\" is not a registry address"* ]]
	# the registry does not answer: the push fails, nothing stays behind
	port=$(free_port)
	PODMANHPC_UPLOAD_REGISTRY=127.0.0.1:$port run "$PHPC" upload mytools
	[ "$status" -eq 125 ]
	[[ "$output" == *"pushing to 127.0.0.1:$port failed"* ]]
	run "$PHPC" images --format '{{.Repository}}'
	[[ "$output" != *"mytools"* ]]
	run "$PHPC" container exists work
	[ "$status" -eq 0 ]
	"$PHPC" rm -f work >/dev/null
}

@test "a pull-through cache: two nodes pull an image, the upstream serves it once" {
	REGISTRY_LOG_LEVEL=info start_registry "$REG_BASE/upstream"
	run "$PHPC" push --tls-verify=false "$IMG" "$REGISTRY/lib/tiny:1"
	[ "$status" -eq 0 ]
	before=$(registry_requests "$REG_BASE/upstream" GET '/v2/lib/tiny/blobs/')
	cport=$(free_port)
	start_site_registry "$REG_BASE/cache" "$cport" --proxy "http://$REGISTRY"
	conf=$HOME/.config/containers/registries.conf.d/50-podman-hpc-cache.conf
	grep -q "prefix = \"$REGISTRY\"" "$conf"
	grep -q "location = \"127.0.0.1:$cport\"" "$conf"
	# both nodes name the upstream; podman goes to the cache first
	run node2 "$PHPC" pull "$REGISTRY/lib/tiny:1"
	[ "$status" -eq 0 ]
	node2_cleanup
	first=$(registry_requests "$REG_BASE/upstream" GET '/v2/lib/tiny/blobs/')
	# the cache fetched the blobs (docker-registry 2.8 fetches each twice on
	# a miss: one copy for its store, one streamed to the client)
	[ "$first" -gt "$before" ]
	run node2 "$PHPC" pull "$REGISTRY/lib/tiny:1"
	[ "$status" -eq 0 ]
	run node2 "$PHPC" run --rm "$REGISTRY/lib/tiny:1" echo via-cache
	[ "$output" = via-cache ]
	node2_cleanup
	after=$(registry_requests "$REG_BASE/upstream" GET '/v2/lib/tiny/blobs/')
	echo "before $before first $first after $after"
	# the second node's pull took no blob from the upstream: the cache had them
	[ "$after" -eq "$first" ]
	grep -q 'GET /v2/lib/tiny/blobs/' "$REG_BASE/cache/log"
	stop_site_registry "$REG_BASE/cache"
	rm -f "$conf"
}
