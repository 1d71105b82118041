#!/usr/bin/env bats
# Squashed images with the real podman, as root and as the unprivileged user:
# migrate, names, rmsqi, pull from a real registry, running on a "compute
# node" whose local store is empty, crash and concurrency safety.

load ../lib/common
load ../lib/registry

setup_file() {
	phpc_env
	ensure_image
	# the squash store lives outside /tmp: a compute node gets its own /tmp
	export SQ_BASE=/var/tmp/phpc-squash-test-$(id -u)
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

# Runs podman-hpc on a "compute node": a node-local store that is empty, and
# the same squash store. As root, a new mount namespace with an empty tmpfs
# over the node-local storage; as a user (who cannot make one), fresh
# node-local directories.
on_node() {
	if [ "$(id -u)" -eq 0 ]; then
		local base
		base=$(phpc_base)
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
	[ "$(ls "$SQUASH_DIR"/overlay/l/*.squash | wc -l)" -eq 1 ]
	unsquashfs -l "$SQUASH_DIR"/overlay/l/*.squash | grep -q 'squashfs-root/bin/busybox'
	run "$PHPC" images --format '{{.Repository}} {{.ReadOnly}}'
	[[ "$output" == *"$IMG true"* ]]
	for c in "image ls" "image list"; do
		run "$PHPC" $c --format '{{.Repository}} {{.ReadOnly}}'
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
	run on_node sh -c '"$0" images --format "{{.ReadOnly}}"; ls "$PODMANHPC_GRAPH_ROOT"/overlay' \
		"$PHPC"
	[ "${lines[0]}" = "true" ]
	[ "${#lines[@]}" -le 2 ] # only "l" (or nothing) besides the listing
}

@test "two containers of one squashed image at once; no FUSE process or mount left" {
	"$PHPC" migrate "$IMG" >/dev/null
	run sh -c '"$0" run --rm "$1" sh -c "sleep 1; echo a" & "$0" run --rm "$1" sh -c "sleep 1; echo b" & wait' \
		"$PHPC" "$IMG"
	[ "$status" -eq 0 ]
	[[ "$output" == *a* && "$output" == *b* ]]
	sleep 1
	[ -z "$(ps -u "$(id -u)" -o stat=,comm= | awk '$1 !~ /Z/ && $2 ~ /squashfuse/')" ]
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
	[ "$(ls "$SQUASH_DIR/overlay" | grep -vc -e '^l$' -e '\.lock$')" -eq 0 ]
	[ -z "$(ls "$SQUASH_DIR/overlay-layers" | grep -v -e '\.json$' -e '\.lock$')" ]
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
	for i in $(seq 100); do [ -e "$BATS_TEST_TMPDIR/started" ] && break; sleep 0.1; done
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
	mount -t tmpfs -o size=512k tmpfs "$SQUASH_DIR"
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
