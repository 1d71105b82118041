#!/usr/bin/env bats
# Squashed images with the real podman, as root and as the unprivileged user:
# migrate, names, rmsqi, pull from a real registry, running on a "compute
# node" whose local store is empty, crash and concurrency safety.

load ../lib/common
load ../lib/registry

setup_file() {
	phpc_env
	ensure_image
	# the squash store lives outside /tmp: a compute node gets its own /tmp;
	# named after the test base, so that two runs do not share it
	SQ_BASE=/var/tmp/$(basename "$(phpc_base)")-squash
	export SQ_BASE
	rm -rf "$SQ_BASE"
	mkdir -p "$SQ_BASE"
}

teardown_file() {
	stop_registry "$SQ_BASE/registry" 2>/dev/null || true
	rm -rf "$SQ_BASE"
}

setup() {
	phpc_env
	export SQUASH_DIR=$SQ_BASE/$BATS_TEST_NUMBER
}

teardown() {
	if mountpoint -q "$SQUASH_DIR"; then
		umount "$SQUASH_DIR"
	fi
	# the containers a test left on its node (node_env)
	if [ -d "$BATS_TEST_TMPDIR/node/storage" ]; then
		node_env
		"$PHPC" rm -af -t 0 >/dev/null 2>&1 || true
		# a user cannot remove files of the image's other ids himself
		if [ "$(id -u)" -ne 0 ]; then
			"$PHPC" unshare rm -rf "$BATS_TEST_TMPDIR/node" >/dev/null 2>&1 || true
		fi
	fi
}

# Runs podman-hpc on a "compute node": a node-local store that is empty, and
# the same squash store. As root, a new mount namespace with an empty tmpfs
# over the node-local storage; as a user (who cannot make one), fresh
# node-local directories.
on_node() {
	if [ "$(id -u)" -eq 0 ]; then
		local base
		base=$(phpc_base)
		# shellcheck disable=SC2016 # sh -c's own arguments
		unshare -m sh -c 'mount -t tmpfs -o mode=0755 tmpfs "$0" && "$@"' "$base" "$@"
	else
		local node=$BATS_TEST_TMPDIR/node
		PODMANHPC_GRAPH_ROOT=$node/storage PODMANHPC_RUN_ROOT=$node/run \
			PODMANHPC_CONFIG_HOME=$node/config "$@"
	fi
}

squash_store_json() {
	python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(" ".join(sorted(n for i in d for n in i.get("names", []))) or "-")' \
		"$SQUASH_DIR/overlay-images/images.json"
}

@test "migrate: the image becomes one squashfs file, listed read-only" {
	run "$PHPC" migrate "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == "Migrated "* ]]
	[ "$(find "$SQUASH_DIR/overlay/l" -maxdepth 1 -name '*.squash' | wc -l)" -eq 1 ]
	unsquashfs -l "$SQUASH_DIR"/overlay/l/*.squash | grep -q 'squashfs-root/bin/busybox'
	run "$PHPC" images --format '{{.Repository}} {{.ReadOnly}}'
	[[ "$output" == *"$IMG true"* ]]
	for c in ls list; do
		run "$PHPC" image "$c" --format '{{.Repository}} {{.ReadOnly}}'
		[[ "$output" == *"$IMG true"* ]]
	done
	run "$PHPC" image inspect --format '{{.RepoTags}}' "$(squash_id)"
	[ "$status" -eq 0 ]
}

squash_id() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' \
		"$SQUASH_DIR/overlay-images/images.json"
}

@test "a compute node runs the squashed image with an empty local store" {
	"$PHPC" migrate "$IMG" >/dev/null
	run on_node "$PHPC" run --rm "$IMG" sh -c 'echo hello from squash; grep " / " /proc/mounts'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello from squash" ]
	[[ "${lines[1]}" == *"phpc-squash"* ]] # the squash mount is its lower
	# the node's local store holds no image layer
	# shellcheck disable=SC2016 # sh -c's own argument and environment
	run on_node sh -c '"$0" images --format "{{.ReadOnly}}"; ls "$PODMANHPC_GRAPH_ROOT"/overlay' \
		"$PHPC"
	[ "${lines[0]}" = "true" ]
	[ "${#lines[@]}" -le 2 ] # only "l" (or nothing) besides the listing
}

@test "a start reads a node-local view of the image; the store's change makes a new one" {
	"$PHPC" migrate "$IMG" >/dev/null
	"$PHPC" tag "$IMG" localhost/second
	"$PHPC" migrate localhost/second >/dev/null
	id=$("$PHPC" image inspect --format '{{.Id}}' "$IMG")
	# (rmsqi of the second name rewrites the store's index)
	# shellcheck disable=SC2016 # sh -c's own arguments and environment
	run on_node sh -c '"$0" run --rm "$1" echo ok &&
		readlink "$PODMANHPC_RUN_ROOT"/podman-hpc/views/*/"$2"/overlay/l/*.squash &&
		"$0" rmsqi localhost/second >/dev/null && "$0" run --rm "$1" echo ok2 &&
		ls -d "$PODMANHPC_RUN_ROOT"/podman-hpc/views/*/"$2" | wc -l' "$PHPC" "$IMG" "$id"
	# (the local store is every test's: the second name goes before any check)
	"$PHPC" untag "$IMG" localhost/second
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "${lines[0]}" = ok ]
	# the squash file itself is the store's
	[[ ${lines[1]} == "$SQUASH_DIR/overlay/l/"*.squash ]]
	[ "${lines[2]}" = ok2 ]
	[ "${lines[3]}" = 2 ] # one view per state of the store
}

@test "a view that cannot be made: a warning, and the start reads the store itself" {
	"$PHPC" migrate "$IMG" >/dev/null
	# shellcheck disable=SC2016 # sh -c's own arguments and environment
	run on_node sh -c 'mkdir -p "$PODMANHPC_RUN_ROOT/podman-hpc" &&
		touch "$PODMANHPC_RUN_ROOT/podman-hpc/views" && "$0" run --rm "$1" echo ok' "$PHPC" "$IMG"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "podman-hpc: warning: "*"podman reads the squash store itself" ]]
	[ "${lines[1]}" = ok ]
}

@test "two containers of one squashed image at once; no FUSE process or mount left" {
	"$PHPC" migrate "$IMG" >/dev/null
	run sh -c '"$0" run --rm "$1" sh -c "sleep 1; echo a" & "$0" run --rm "$1" sh -c "sleep 1; echo b" & wait' \
		"$PHPC" "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == *a* && "$output" == *b* ]]
	local left=""
	for _ in $(seq 100); do
		left=$(ps -u "$(id -u)" -o stat=,comm= | awk '$1 !~ /Z/ && $2 ~ /squashfuse/')
		[ -z "$left" ] && break
		sleep 0.2
	done
	[ -z "$left" ]
	if [ "$(id -u)" -eq 0 ]; then
		run grep -c phpc-squash /proc/self/mountinfo
	else
		run "$PHPC" unshare grep -c phpc-squash /proc/self/mountinfo
	fi
	[ "$output" = "0" ]
}

@test "tags: every tag, re-tag, the same ID under a second tag, one name on one image" {
	"$PHPC" tag "$IMG" localhost/phpc-t1
	run "$PHPC" migrate localhost/phpc-t1
	[ "$status" -eq 0 ]
	[ "$(squash_store_json)" = "localhost/phpc-t1:latest $IMG:latest" ]
	"$PHPC" tag "$IMG" localhost/phpc-t2:v2
	run "$PHPC" migrate "$IMG" # already there: the new name is added
	[[ "$output" == "Updated the names of "* ]]
	[ "$(squash_store_json)" = "localhost/phpc-t1:latest localhost/phpc-t2:v2 $IMG:latest" ]
	# another image takes the name phpc-t1: it leaves the first image
	"$PHPC" build -q -t localhost/phpc-t1 - >/dev/null <<<"FROM $IMG
RUN echo other > /other"
	run "$PHPC" migrate localhost/phpc-t1
	[ "$status" -eq 0 ]
	run python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(sum(n == "localhost/phpc-t1:latest" for i in d for n in i["names"]), len(d))' \
		"$SQUASH_DIR/overlay-images/images.json"
	[ "$output" = "1 2" ]
	run on_node "$PHPC" run --rm localhost/phpc-t1 cat /other
	[ "$output" = "other" ]
	run on_node "$PHPC" run --rm localhost/phpc-t2:v2 sh -c 'test -e /other || echo first'
	[ "$output" = "first" ]
	"$PHPC" rmi localhost/phpc-t1 localhost/phpc-t2:v2 >/dev/null
}

@test "docker:// names and ID prefixes" {
	run "$PHPC" migrate "docker://$IMG"
	[ "$status" -eq 0 ]
	id=$(squash_id)
	run "$PHPC" rmsqi "docker://$IMG"
	[ "$status" -eq 0 ]
	[ "$(squash_store_json)" = "-" ]
	run "$PHPC" migrate "${id:0:12}"
	[ "$status" -eq 0 ]
	[ "$(squash_store_json)" = "$IMG:latest" ]
}

@test "rmsqi removes the image, its squash file and unused layers; a second name only untags" {
	"$PHPC" tag "$IMG" localhost/phpc-second
	"$PHPC" migrate "$IMG" >/dev/null
	run "$PHPC" rmsqi localhost/phpc-second
	[ "$status" -eq 0 ]
	[[ "$output" == "untagged localhost/phpc-second:latest" ]]
	[ "$(squash_store_json)" = "$IMG:latest" ]
	run "$PHPC" rmsqi "$IMG"
	[ "$status" -eq 0 ]
	[ "$(cat "$SQUASH_DIR/overlay-images/images.json")" = "[]" ]
	[ "$(cat "$SQUASH_DIR/overlay-layers/layers.json")" = "[]" ]
	[ -z "$(ls "$SQUASH_DIR/overlay/l")" ]
	[ "$(find "$SQUASH_DIR/overlay" -mindepth 1 -maxdepth 1 ! -name '.*' ! -name l \
		! -name '*.lock' | wc -l)" -eq 0 ]
	[ -z "$(find "$SQUASH_DIR/overlay-layers" -mindepth 1 -maxdepth 1 ! -name '.*' \
		! -name '*.json' ! -name '*.lock')" ]
	run "$PHPC" images --format '{{.Repository}} {{.ReadOnly}}'
	[[ "$output" != *"true"* ]]
	"$PHPC" rmi localhost/phpc-second >/dev/null
}

@test "migrate or rmsqi of a missing image fails with a message" {
	run "$PHPC" migrate localhost/phpc-no-such-image
	[ "$status" -ne 0 ]
	[[ "$output" == *"Error: "*"phpc-no-such-image"*"not found"* ]]
	run "$PHPC" rmsqi localhost/phpc-no-such-image
	[ "$status" -ne 0 ]
	[[ "$output" == *"Error: "*"phpc-no-such-image"*"not found"* ]]
	run "$PHPC" migrate
	[ "$status" -eq 125 ]
}

@test "kill -9 during migrate leaves a valid store without the image; migrate again completes" {
	slow=$BATS_TEST_TMPDIR/slow-mksquashfs
	printf '#!/bin/sh\necho started > %s\nsleep 30\nexec mksquashfs "$@"\n' "$BATS_TEST_TMPDIR/started" >"$slow"
	chmod +x "$slow"
	PODMANHPC_MKSQUASHFS_BIN=$slow setsid "$PHPC" migrate "$IMG" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -e "$BATS_TEST_TMPDIR/started" ] && break; sleep 0.1; done
	kill -9 -- -"$pid"
	wait "$pid" || true
	run "$PHPC" images --format '{{.Repository}} {{.ReadOnly}}'
	[ "$status" -eq 0 ]
	[[ "$output" != *"true"* ]]
	python3 -c 'import json,sys; json.load(open(sys.argv[1])); json.load(open(sys.argv[2]))' \
		"$SQUASH_DIR/overlay-images/images.json" "$SQUASH_DIR/overlay-layers/layers.json"
	run "$PHPC" migrate "$IMG"
	[ "$status" -eq 0 ]
	run on_node "$PHPC" run --rm "$IMG" echo completed
	[ "$output" = "completed" ]
}

# A stand-in for mksquashfs: the real one writes the whole file, then it
# records its pid in $1 and runs on as if it were still writing.
slow_mksquashfs() {
	local mk=$BATS_TEST_TMPDIR/mksquashfs
	printf '#!/bin/sh\n"%s" "$@" || exit\necho $$ >"%s"\nexec sleep 120\n' \
		"$(command -v mksquashfs)" "$1" >"$mk"
	chmod +x "$mk"
	echo "$mk"
}

@test "kill -9 of migrate kills mksquashfs too; the next migrate removes what it left" {
	"$PHPC" build -q -t localhost/phpc-kill2 - >/dev/null <<<"FROM $IMG
RUN echo two > /two"
	running=$BATS_TEST_TMPDIR/running
	mk=$(slow_mksquashfs "$running")
	for trial in 1 2 3 4 5; do
		# one layer (read directly) and two layers (podman mounts the image)
		img=$IMG
		[ $((trial % 2)) -eq 0 ] && img=localhost/phpc-kill2
		rm -f "$running"
		PODMANHPC_MKSQUASHFS_BIN=$mk "$PHPC" migrate "$img" >/dev/null 2>&1 &
		pid=$!
		for _ in $(seq 300); do [ -s "$running" ] && break; sleep 0.1; done
		[ -s "$running" ]
		# only podman-hpc is killed: what it started must go by itself
		kill -9 "$pid"
		wait "$pid" || true
		mpid=$(cat "$running")
		for _ in $(seq 50); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$mpid" 2>/dev/null; then
			echo "trial $trial: mksquashfs $mpid outlived podman-hpc"
			return 1
		fi
	done
	# no process of these runs is left (each named the squash store)
	sleep 1
	run pgrep -u "$(id -u)" -f -- "$SQUASH_DIR/"
	[ "$status" -eq 1 ]
	# each migrate removed what the one before left: one staging directory
	# is left, with a full-size squash file
	[ "$(find "$SQUASH_DIR" -name '*.tmp*' | wc -l)" -eq 1 ]
	[ -s "$(find "$SQUASH_DIR" -name '*.tmp*')/squash" ]
	# the store is valid and lists neither image
	run "$PHPC" images --format '{{.Repository}} {{.ReadOnly}}'
	[ "$status" -eq 0 ]
	[[ "$output" != *"true"* ]]
	[ "$(squash_store_json)" = "-" ]
	# one more migrate completes it and removes every leftover
	run "$PHPC" migrate "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == "Migrated "* ]]
	[ -z "$(find "$SQUASH_DIR" -name '*.tmp*')" ]
	[ "$(squash_store_json)" = "$IMG:latest" ]
	run on_node "$PHPC" run --rm "$IMG" echo completed
	[ "$output" = "completed" ]
	"$PHPC" rmi localhost/phpc-kill2 >/dev/null
}

@test "the sweep removes only dead writers' leftovers of our patterns, never through a symlink" {
	"$PHPC" migrate "$IMG" >/dev/null
	d=$SQUASH_DIR
	mkdir "$d/.phpc-migrate.tmp.dead01" # no lock file: its writer died creating it
	echo x >"$d/.phpc-migrate.tmp.dead01/squash"
	mkdir "$d/.phpc-migrate.tmp.dead02" # a free lock: its writer is gone
	: >"$d/.phpc-migrate.tmp.dead02/lock"
	mkdir "$d/.phpc-migrate.tmp.live01" # a held lock: its writer is alive
	: >"$d/.phpc-migrate.tmp.live01/lock"
	mkdir "$BATS_TEST_TMPDIR/victim" && echo keep >"$BATS_TEST_TMPDIR/victim/file"
	ln -s "$BATS_TEST_TMPDIR/victim" "$d/.phpc-migrate.tmp.symlnk"
	mkdir "$d/.phpc-migrate.tmp.toolong" "$d/phpc-migrate.tmp.nodot1"
	echo '[]' >"$d/overlay-images/.images.json.tmp.4242"
	echo '[]' >"$d/overlay-images/.other.json.tmp.4242"
	# the lock is held (an fcntl lock) by a process that lives on
	python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(600)' "$d/.phpc-migrate.tmp.live01/lock" "$BATS_TEST_TMPDIR/locked" &
	holder=$!
	for _ in $(seq 50); do [ -e "$BATS_TEST_TMPDIR/locked" ] && break; sleep 0.1; done
	"$PHPC" tag "$IMG" localhost/phpc-sweep
	run "$PHPC" migrate localhost/phpc-sweep # any migrate sweeps
	kill "$holder"
	wait "$holder" || true
	[ "$status" -eq 0 ]
	run env LC_ALL=C ls -A "$d"
	[ "$output" = "$(printf '%s\n' .phpc-migrate.tmp.live01 .phpc-migrate.tmp.symlnk \
		.phpc-migrate.tmp.toolong overlay overlay-images overlay-layers phpc-migrate.tmp.nodot1)" ]
	[ "$(cat "$BATS_TEST_TMPDIR/victim/file")" = "keep" ]
	[ -e "$d/overlay-images/.other.json.tmp.4242" ]
	[ ! -e "$d/overlay-images/.images.json.tmp.4242" ]
	# once its writer is gone, the next one removes it
	run "$PHPC" rmsqi localhost/phpc-sweep
	[ "$status" -eq 0 ]
	[ ! -e "$d/.phpc-migrate.tmp.live01" ]
	"$PHPC" rmi localhost/phpc-sweep >/dev/null
}

# A "compute node" whose local store lasts for the test (on_node's, as root,
# goes with its mount namespace) and does not hold the image itself.
node_env() {
	local node=$BATS_TEST_TMPDIR/node
	export PODMANHPC_GRAPH_ROOT=$node/storage PODMANHPC_RUN_ROOT=$node/run \
		PODMANHPC_CONFIG_HOME=$node/config
}

@test "rmsqi refuses an image that a stopped or a running container uses, unless --force" {
	"$PHPC" migrate "$IMG" >/dev/null
	node_env
	"$PHPC" create --name phpc-stopped "$IMG" true >/dev/null
	sid=$("$PHPC" inspect --format '{{.Id}}' phpc-stopped)
	"$PHPC" run -d --name phpc-running "$IMG" sleep 300 >/dev/null
	rid=$("$PHPC" inspect --format '{{.Id}}' phpc-running)
	run "$PHPC" rmsqi "$IMG"
	assert_phpc_error "is used by containers" "phpc-stopped (${sid:0:12})" \
		"phpc-running (${rid:0:12})" "remove them first" "--force"
	[ "$(squash_store_json)" = "$IMG:latest" ]
	run "$PHPC" run --rm "$IMG" echo still runs
	[ "$output" = "still runs" ]
	# the running one alone, then the stopped one alone
	"$PHPC" rm phpc-stopped >/dev/null
	run "$PHPC" rmsqi "$IMG"
	assert_phpc_error "is used by container phpc-running (${rid:0:12}): remove it first"
	"$PHPC" rm -f -t 0 phpc-running >/dev/null
	"$PHPC" create --name phpc-stopped "$IMG" true >/dev/null
	sid=$("$PHPC" inspect --format '{{.Id}}' phpc-stopped)
	run "$PHPC" rmsqi "$IMG"
	assert_phpc_error "is used by container phpc-stopped (${sid:0:12})"
	run "$PHPC" rmsqi --force "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == "removed "*"still used by phpc-stopped (${sid:0:12})"* ]]
	[ "$(squash_store_json)" = "-" ]
	"$PHPC" rm phpc-stopped >/dev/null
}

@test "rmsqi: a container of a local store that holds the image itself does not use the squashed copy" {
	"$PHPC" migrate "$IMG" >/dev/null
	# the local store has the image: its containers use their local copy
	"$PHPC" create --name phpc-local-user "$IMG" true >/dev/null
	run "$PHPC" rmsqi "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == "removed "* ]]
	run "$PHPC" start -a phpc-local-user
	[ "$status" -eq 0 ]
	"$PHPC" rm phpc-local-user >/dev/null
	run "$PHPC" rmsqi -x "$IMG"
	assert_phpc_error "rmsqi: unknown option \"-x\""
}

@test "two migrates of different images into one store at once both succeed" {
	"$PHPC" build -q -t localhost/phpc-other - >/dev/null <<<"FROM $IMG
RUN echo x > /x"
	run sh -c '"$0" migrate "$1" & "$0" migrate localhost/phpc-other & wait %1 && wait %2' "$PHPC" "$IMG"
	[ "$status" -eq 0 ]
	[ "$(squash_store_json)" = "localhost/phpc-other:latest $IMG:latest" ]
	run on_node "$PHPC" run --rm localhost/phpc-other cat /x
	[ "$output" = "x" ]
	"$PHPC" rmi localhost/phpc-other >/dev/null
}

@test "a full disk is a clear error and leaves the store unchanged" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root to mount a small file system"
	fi
	mkdir -p "$SQUASH_DIR"
	mount -t tmpfs -o size=512k,mode=0755 tmpfs "$SQUASH_DIR"
	"$PHPC" images >/dev/null # initialises the store
	before=$(cat "$SQUASH_DIR/overlay-images/images.json" "$SQUASH_DIR/overlay-layers/layers.json")
	run "$PHPC" migrate "$IMG"
	after=$(cat "$SQUASH_DIR/overlay-images/images.json" "$SQUASH_DIR/overlay-layers/layers.json")
	umount "$SQUASH_DIR"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Error: "*"mksquashfs failed"* ]]
	[ "$before" = "$after" ]
}

@test "pull from a real registry leaves the image squashed and runnable" {
	start_registry "$SQ_BASE/registry"
	run "$PHPC" push --tls-verify=false "$IMG" "$REGISTRY/phpc/tiny:1"
	[ "$status" -eq 0 ]
	run on_node "$PHPC" pull --tls-verify=false "$REGISTRY/phpc/tiny:1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Migrated "* ]]
	[ "$(squash_store_json)" = "$REGISTRY/phpc/tiny:1" ]
	run on_node "$PHPC" run --rm "$REGISTRY/phpc/tiny:1" echo pulled
	[ "$output" = "pulled" ]
	run on_node "$PHPC" pull --tls-verify=false "$REGISTRY/phpc/nope:1"
	[ "$status" -ne 0 ]
}
