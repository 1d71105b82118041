#!/usr/bin/env bats
# The group registry on the simulated cluster (tests/lib/cluster.bash): set
# up by podman-hpc-registry on the login node's address on the cluster's
# bridge, a container uploaded from the login node with podman-hpc upload,
# then pulled and run on a compute node, whose requests the registry's log
# shows coming from that node's address.

# shellcheck source=../lib/registry.bash
. "$BATS_TEST_DIRNAME/../lib/registry.bash"

setup_file() {
	# each test skips in setup(): bats 1.8 reports a skip here as a failure
	[ -e /etc/slurm/.phpc-cluster ] || return 0
	cluster=$(cat /etc/slurm/.phpc-cluster)
	base=$cluster/shared/upload-$(id -un)
	rm -rf "$base"
	mkdir -p "$base/home" "$base/squash"
	chmod 0755 "$base" "$base/squash"
	export UP_BASE=$base
	cd / || return
	port=$(free_port 10.77.0.1)
	export UP_REG=10.77.0.1:$port
	local user=()
	[ "$(id -u)" -eq 0 ] || user=(--user "$(id -un)")
	# the users' home is shared by every node, so is the registries.conf.d
	# entry in it (a site copies its /etc entry to every node instead)
	HOME=$base/home "$(command -v podman-hpc-registry || echo /usr/sbin/podman-hpc-registry)" \
		"${user[@]}" --listen "$UP_REG" --insecure --unprivileged-port --no-unit \
		--config-dir "$base/etc" \
		--registries-conf-dir "$base/home/.config/containers/registries.conf.d" \
		--foreground "$base/data" >"$base/registry.log" 2>&1 &
	echo $! >"$base/registry.pid"
	wait_port "$port" 10.77.0.1 && return 0
	cat "$base/registry.log" >&2
	return 1
}

teardown_file() {
	[ -n "${UP_BASE:-}" ] || return 0
	cd / || return
	HOME=$UP_BASE/home SQUASH_DIR=$UP_BASE/squash podman-hpc rmsqi -f "$UP_REG/$(id -un)/tools" \
		>/dev/null 2>&1
	podman-hpc rm -f phpc-upload-work >/dev/null 2>&1
	podman-hpc rmi localhost/phpc-upload-tiny >/dev/null 2>&1
	[ -e "$UP_BASE/registry.pid" ] && kill "$(cat "$UP_BASE/registry.pid")" 2>/dev/null
	podman unshare rm -rf "$UP_BASE" 2>/dev/null || rm -rf "$UP_BASE"
}

setup() {
	[ -e /etc/slurm/.phpc-cluster ] || skip "the simulated cluster is not running (tests/run-all starts it)"
	export HOME=$UP_BASE/home SQUASH_DIR=$UP_BASE/squash
	export PODMANHPC_UPLOAD_REGISTRY=$UP_REG
	cd / || return
}

@test "upload on the login node, then a compute node pulls and runs it from the group registry" {
	me=$(id -un)
	"$BATS_TEST_DIRNAME/../lib/make-tiny-image" "$UP_BASE/tiny.tar"
	podman-hpc import "$UP_BASE/tiny.tar" localhost/phpc-upload-tiny >/dev/null
	run podman-hpc run --name phpc-upload-work localhost/phpc-upload-tiny \
		sh -c 'echo made-on-the-login-node > /payload'
	[ "$status" -eq 0 ]
	run podman-hpc upload tools phpc-upload-work
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ $output == *"podman-hpc pull $UP_REG/$me/tools"* ]]

	# node2's /tmp (its store) is its own: it must fetch the image
	run timeout 300 srun -N1 -w node2 podman-hpc pull "$UP_REG/$me/tools"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run timeout 300 srun -N1 -w node2 podman-hpc run --rm "$UP_REG/$me/tools" \
		sh -c 'cat /payload; hostname'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "${lines[-2]}" = made-on-the-login-node ]
	[ "${lines[-1]}" = node2 ]
	# the blobs went to node2's address (10.77.0.12) on the bridge
	grep -qE "^10\.77\.0\.12 .*\"GET /v2/$me/tools/blobs/" "$UP_BASE/registry.log" ||
		{ tail -n 5 "$UP_BASE/registry.log"; false; }
}
