#!/usr/bin/env bats
# The job service's Slurm backend on the simulated cluster
# (tests/lib/cluster.bash): the service on the login node, its state and
# STOREBASE on the shared directory, the image in the shared squash store;
# a job of 1 and of 2 nodes runs one container per node.
# shellcheck disable=SC2154,SC2034,SC2016 # status_code and body are set by post and
# req; JOBD_* are read by tests/lib/jobd.bash; the sh -c scripts are the jobs'

load ../lib/jobd

setup_file() {
	# each test skips in setup(): bats 1.8 reports a skip here as a failure
	[ -e /etc/slurm/.phpc-cluster ] || return 0
	command -v podman-hpc-jobd >/dev/null || return 0
	cluster=$(cat /etc/slurm/.phpc-cluster)
	base=$cluster/shared/jobd-$(id -un)
	podman unshare rm -rf "$base" 2>/dev/null || rm -rf "$base"
	mkdir -p "$base/squash"
	chmod 0755 "$base" "$base/squash"
	export JOBD_BASE=$base SQUASH_DIR=$base/squash
	cd / || return
	"$BATS_TEST_DIRNAME/../lib/make-tiny-image" "$base/tiny.tar"
	podman-hpc import "$base/tiny.tar" localhost/phpc-tiny >/dev/null
	podman-hpc migrate localhost/phpc-tiny >/dev/null
	podman-hpc rmi localhost/phpc-tiny >/dev/null
}

teardown_file() {
	[ -n "${JOBD_BASE:-}" ] || return 0
	cd / || return
	podman-hpc rmsqi localhost/phpc-tiny >/dev/null 2>&1
	podman unshare rm -rf "$JOBD_BASE" 2>/dev/null || rm -rf "$JOBD_BASE"
}

setup() {
	[ -e /etc/slurm/.phpc-cluster ] || skip "the simulated cluster is not running (tests/run-all starts it)"
	command -v podman-hpc-jobd >/dev/null || skip "podman-hpc-jobd is not installed"
	export SQUASH_DIR=$JOBD_BASE/squash
	JOBD_TOKEN=
	JOBD_PORT=
	cd / || return
}

teardown() {
	jobd_stop
}

@test "jobd on Slurm: jobs of 1 and 2 nodes, one container per node, status, logs and output" {
	jobd_start "$JOBD_BASE/svc" CONTAINER_ENV=slurm TIMELIMIT_MINUTES=5
	job_input n1
	post "$(job_json n1 'cp /share/incoming/in.txt /share/outgoing/out.txt; echo "$GREETING from one node"')"
	[ "$status_code" = 201 ]
	job_input n2
	post "$(job_json n2 'echo x >> /share/outgoing/runs; echo "$GREETING from a node"' | jq -c '.number_of_workers = 2')"
	[ "$status_code" = 201 ]
	wait_status n1 finishedSuccessfully 180
	[[ "$(jq -r .logs <<<"$body")" == *"hello from one node"* ]]
	[ "$(cat "$JOBD_BASE/svc/sb/key-n1/outgoing/out.txt")" = "input of n1" ]
	wait_status n2 finishedSuccessfully 180
	[ "$(jq -r .message <<<"$body")" = COMPLETED ]
	# a container on each of the job's 2 nodes
	[ "$(jq -r .logs <<<"$body" | grep -c 'hello from a node')" -eq 2 ]
	[ "$(wc -l <"$JOBD_BASE/svc/sb/key-n2/outgoing/runs")" -eq 2 ]
	dir=$(job_dir n2)
	id=$(cat "$dir/slurm-id")
	# Slurm forgets an ended job after MinJobAge: asked while it knows it
	if info=$(scontrol -o show job "$id" 2>/dev/null); then
		grep -q 'NodeList=node\[1-2\]' <<<"$info"
	fi
	req DELETE /n2/
	[ "$status_code" = 204 ]
	[ ! -e "$dir" ]
}
