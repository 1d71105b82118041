#!/usr/bin/env bats
# MPI in containers across the simulated cluster (tests/lib/cluster.bash):
# 2 nodes x 2 ranks, Open MPI over PMIx and MPICH over PMI-2, one container
# per node (shared-run) and one per rank (run with a module, rank under
# mpirun/mpiexec), with the site's shipped modules. The image (Debian with
# openmpi-bin and mpich, tests/lib/mpi-image.bash) is imported on the login
# node and migrated to the squash store in the shared directory; the nodes
# start it from there, each with its own node-local storage.

# shellcheck source=../lib/mpi-image.bash
. "$BATS_TEST_DIRNAME/../lib/mpi-image.bash"

IMG=localhost/phpc-mpi-test

setup_file() {
	[ -e /etc/slurm/.phpc-cluster ] || skip "the simulated cluster is not running (tests/run-all starts it)"
	cluster=$(cat /etc/slurm/.phpc-cluster)
	SQUASH_DIR=$cluster/shared/squash-$(id -un)
	export SQUASH_DIR
	mkdir -p "$SQUASH_DIR"
	chmod 0755 "$SQUASH_DIR"
	# the nodes' /tmp is their own: run from a directory every node has
	cd / || return
	export PHPC=podman-hpc
	local rc=0 why
	why=$(mpi_image "$IMG" 2>&1) || rc=$?
	if [ "$rc" -eq 2 ]; then
		echo "skip: $why" >"$BATS_FILE_TMPDIR/skip"
		return 0
	fi
	[ "$rc" -eq 0 ] || { echo "$why" >&2; return 1; }
	podman-hpc migrate "$IMG" >/dev/null
}

teardown_file() {
	[ -e /etc/slurm/.phpc-cluster ] || return 0
	cd / || return
	podman-hpc rmsqi "$IMG" >/dev/null 2>&1
	podman-hpc rmi "$IMG" >/dev/null 2>&1
	return 0
}

setup() {
	[ -e /etc/slurm/.phpc-cluster ] || skip "the simulated cluster is not running (tests/run-all starts it)"
	if [ -e "$BATS_FILE_TMPDIR/skip" ]; then skip "$(cat "$BATS_FILE_TMPDIR/skip")"; fi
	cluster=$(cat /etc/slurm/.phpc-cluster)
	SQUASH_DIR=$cluster/shared/squash-$(id -un)
	export SQUASH_DIR
	cd / || return
}

# the check: every rank once, an allreduce and a ping-pong with every rank
assert_check() { # ranks nodes
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	grep -q "^check ok: $1 ranks on $2 nodes$" <<<"$output" || { echo "$output"; return 1; }
	[ "$(grep -c '^rank [0-9]* of '"$1"' on node[12]$' <<<"$output")" -eq "$1" ]
}

@test "the cluster: 2 nodes with their own hostname, address and /tmp" {
	# shellcheck disable=SC2016 # for the node's shell
	run srun -N2 --ntasks-per-node=1 sh -c 'echo $(hostname) $(ls -di /tmp | cut -d" " -f1)'
	[ "$status" -eq 0 ]
	[ "$(sort -u <<<"$output" | wc -l)" -eq 2 ]
	grep -q '^node1 ' <<<"$output"
	grep -q '^node2 ' <<<"$output"
}

@test "Open MPI, srun --mpi=pmix, shared-run: one container per node" {
	run timeout 300 srun -N2 --ntasks-per-node=2 --mpi=pmix podman-hpc shared-run \
		--openmpi-pmix -e 'PMIX_*' -e 'OMPI_*' "$IMG" mpibench-openmpi check
	assert_check 4 2
	! grep -q 'using podman exec' <<<"$output" || false
}

@test "Open MPI, srun --mpi=pmix, run --openmpi-pmix: one container per rank, CMA kept" {
	run timeout 300 srun -N2 --ntasks-per-node=2 --mpi=pmix podman-hpc run --rm --openmpi-pmix \
		"$IMG" mpibench-openmpi check
	assert_check 4 2
	! grep -q 'CMA is not available' <<<"$output" || false
}

@test "MPICH, srun --mpi=pmi2 (PMI_FD), shared-run" {
	run timeout 300 srun -N2 --ntasks-per-node=2 --mpi=pmi2 podman-hpc shared-run "$IMG" \
		mpibench-mpich check
	assert_check 4 2
}

@test "MPICH, srun --mpi=pmi2 (PMI_FD), one container per rank (rank)" {
	run timeout 300 srun -N2 --ntasks-per-node=2 --mpi=pmi2 podman-hpc rank "$IMG" \
		mpibench-mpich check
	assert_check 4 2
}

@test "Open MPI's mpirun on the login node: one container per rank (rank)" {
	run timeout 300 salloc -N2 mpirun.openmpi --oversubscribe -n 4 --map-by ppr:2:node \
		podman-hpc rank "$IMG" mpibench-openmpi check
	assert_check 4 2
	! grep -q 'CMA is not available' <<<"$output" || false
}

@test "MPICH's mpiexec (hydra) on the login node: one container per rank (rank)" {
	# hydra's proxies call back to the address of -iface: the cluster's bridge
	run timeout 300 salloc -N2 mpiexec.mpich -iface phpcbr0 -n 4 -ppn 2 \
		podman-hpc rank "$IMG" mpibench-mpich check
	assert_check 4 2
}

@test "rank outside a launcher: one clear error" {
	run podman-hpc rank "$IMG" true
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "Error: rank: no MPI launcher started this process"* ]]
}

@test "a module whose piece is missing on the node names the module and the piece" {
	mods=$cluster/shared/mods-$(id -un)
	rm -rf "$mods"
	mkdir -p "$mods"
	cat >"$mods/needy.yaml" <<'Y'
name: needy
cli_arg: needy
env: ENABLE_NEEDY
requires:
  - /opt/no-such-mpi/lib/libmpi.so.12
Y
	PODMANHPC_MODULES_DIR=$mods run srun -N1 -n1 podman-hpc run --rm --needy "$IMG" true
	rm -rf "$mods"
	[ "$status" -eq 125 ]
	grep -q 'Error: module "needy" (--needy) needs /opt/no-such-mpi/lib/libmpi.so.12 on this node' <<<"$output"
}
