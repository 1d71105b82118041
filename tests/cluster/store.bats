#!/usr/bin/env bats
# One image for the whole simulated cluster (tests/lib/cluster.bash): pulled
# once on the login node into the squash store on the shared directory, then
# started on every node from there, with no request to the registry from any
# node. The registry listens on the cluster's network (the login node's
# address on the bridge), so a node that did pull would be seen in its log.

# shellcheck source=../lib/registry.bash
. "$BATS_TEST_DIRNAME/../lib/registry.bash"

setup_file() {
	# each test skips in setup(): bats 1.8 reports a skip here as a failure
	[ -e /etc/slurm/.phpc-cluster ] || return 0
	cluster=$(cat /etc/slurm/.phpc-cluster)
	base=$cluster/shared/store-$(id -un)
	rm -rf "$base"
	mkdir -p "$base/squash"
	chmod 0755 "$base" "$base/squash"
	export STORE_BASE=$base
	cd / || return
	# the login node's address on the cluster's bridge: the nodes reach it
	REGISTRY_LOG_LEVEL=info start_registry "$base/registry" 10.77.0.1
	echo "$REGISTRY" >"$base/registry.addr"
	"$BATS_TEST_DIRNAME/../lib/make-tiny-image" "$base/tiny.tar"
	podman-hpc import "$base/tiny.tar" localhost/phpc-store-tiny >/dev/null
	podman-hpc push -q --tls-verify=false localhost/phpc-store-tiny "$REGISTRY/phpc/tiny:1"
	podman-hpc rmi localhost/phpc-store-tiny >/dev/null
}

teardown_file() {
	[ -n "${STORE_BASE:-}" ] || return 0
	cd / || return
	SQUASH_DIR=$STORE_BASE/squash podman-hpc rmsqi "$(cat "$STORE_BASE/registry.addr")/phpc/tiny:1" \
		>/dev/null 2>&1
	podman-hpc rmi -a >/dev/null 2>&1
	stop_registry "$STORE_BASE/registry"
	# what podman wrote there belongs to the user's subordinate ids
	podman unshare rm -rf "$STORE_BASE" 2>/dev/null || rm -rf "$STORE_BASE"
}

setup() {
	[ -e /etc/slurm/.phpc-cluster ] || skip "the simulated cluster is not running (tests/run-all starts it)"
	export SQUASH_DIR=$STORE_BASE/squash
	REGISTRY=$(cat "$STORE_BASE/registry.addr")
	cd / || return
}

@test "a pull on the login node is the cluster's only pull: every node starts the squashed image" {
	reg=$STORE_BASE/registry
	blobs_before=$(registry_requests "$reg" GET '/v2/phpc/tiny/blobs/')
	run podman-hpc pull --tls-verify=false "$REGISTRY/phpc/tiny:1"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ $output == *"Migrated "* ]]
	blobs=$(($(registry_requests "$reg" GET '/v2/phpc/tiny/blobs/') - blobs_before))
	# a config and one layer: each fetched once
	[ "$blobs" -eq 2 ]
	total=$(registry_all_requests "$reg")

	run timeout 300 srun -N2 --ntasks-per-node=1 podman-hpc shared-run "$REGISTRY/phpc/tiny:1" hostname
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "node1 node2 " ]
	run timeout 300 srun -N2 --ntasks-per-node=2 podman-hpc run --rm "$REGISTRY/phpc/tiny:1" true
	[ "$status" -eq 0 ] || { echo "$output"; false; }

	# no node asked the registry anything: not a blob, not a manifest
	[ "$(registry_all_requests "$reg")" -eq "$total" ] ||
		{ tail -n 5 "$reg/registry.log"; false; }
}

@test "a node can reach the registry: the test above would have seen a pull" {
	reg=$STORE_BASE/registry
	before=$(registry_requests "$reg" GET '/v2/')
	# shellcheck disable=SC2016 # for the node's shell
	run timeout 60 srun -N1 -w node2 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1#*:}" &&
		printf "GET /v2/ HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3' bash "$REGISTRY"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "HTTP/1.0 200"* ]]
	[ "$(registry_requests "$reg" GET '/v2/')" -gt "$before" ]
}
