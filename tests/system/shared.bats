#!/usr/bin/env bats
# shared-run with real Slurm daemons (started by tests/run-all), as root and
# as the unprivileged user: one container per node for a step's tasks.

load ../lib/common

setup_file() {
	phpc_env
	ensure_image
}

setup() {
	phpc_env
	if ! sinfo -h >/dev/null 2>&1; then
		skip "Slurm is not running (tests/run-all starts slurmctld and slurmd)"
	fi
	cd "$BATS_TEST_TMPDIR"
}

# Nothing of a step may remain: container, state, squash or overlay mount.
assert_clean() {
	local i
	for i in $(seq 50); do
		[ -z "$("$PHPC" ps -aq)" ] && [ -z "$(ls "$PODMANHPC_RUN_ROOT/shared-run" 2>/dev/null)" ] && break
		sleep 0.2
	done
	[ -z "$("$PHPC" ps -aq)" ] || { echo "containers left: $("$PHPC" ps -a)"; return 1; }
	[ -z "$(ls "$PODMANHPC_RUN_ROOT/shared-run" 2>/dev/null)" ] || { echo "state left"; return 1; }
}

@test "srun -n 16: each rank once, all 16 in one container" {
	run srun -n 16 "$PHPC" shared-run "$IMG" sh -c 'echo $SLURM_PROCID $(readlink /proc/self/ns/pid)'
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 <<<"$output" | sort -n | tr '\n' ' ')" = "$(seq 0 15 | tr '\n' ' ')" ]
	[ "$(cut -d' ' -f2 <<<"$output" | sort -u | wc -l)" -eq 1 ]   # one pid namespace
	[ "$(cut -d' ' -f2 <<<"$output" | sort -u)" != "$(readlink /proc/self/ns/pid)" ]
	assert_clean
}

@test "exit codes: a task's code is its command's" {
	run srun -n 4 "$PHPC" shared-run "$IMG" sh -c 'exit $SLURM_PROCID'
	[ "$status" -eq 3 ]
	assert_clean
}

@test "a task killed by a signal fails, the others finish" {
	run srun -n 2 "$PHPC" shared-run "$IMG" sh -c '[ $SLURM_PROCID = 1 ] && kill -9 $$; echo alive $SLURM_PROCID'
	[ "$status" -ne 0 ]
	[[ "$output" == *"alive 0"* ]]
	[[ "$output" != *"alive 1"* ]]
	assert_clean
}

@test "a bad image: every task fails fast with the reason" {
	start=$(date +%s)
	run srun -n 4 "$PHPC" shared-run localhost/phpc-no-such-image true
	[ "$status" -ne 0 ]
	[ "$(grep -c 'did not start' <<<"$output")" -ge 3 ]
	[ $(($(date +%s) - start)) -lt 30 ]
	assert_clean
}

@test "scancel mid-run leaves no container, state or mount" {
	srun -n 4 -J phpc-cancel "$PHPC" shared-run "$IMG" sleep 120 >/dev/null 2>&1 &
	for i in $(seq 100); do
		[ -n "$("$PHPC" ps -q)" ] && break
		sleep 0.1
	done
	[ -n "$("$PHPC" ps -q)" ]
	scancel -n phpc-cancel
	wait || true
	assert_clean
}

@test "two steps of one job at once, each with its own container" {
	cat >job.sh <<-S
	#!/bin/sh
	srun -n 2 --overlap "$PHPC" shared-run $IMG sh -c 'sleep 1; echo a \$(readlink /proc/self/ns/pid)' &
	srun -n 2 --overlap "$PHPC" shared-run $IMG sh -c 'sleep 1; echo b \$(readlink /proc/self/ns/pid)' &
	wait
	S
	run sbatch --wait -n 4 -o out.txt job.sh
	[ "$status" -eq 0 ]
	[ "$(grep -c '^a ' out.txt)" -eq 2 ] && [ "$(grep -c '^b ' out.txt)" -eq 2 ]
	[ "$(grep '^a ' out.txt | cut -d' ' -f2 | sort -u | wc -l)" -eq 1 ]
	[ "$(grep '^b ' out.txt | cut -d' ' -f2 | sort -u | wc -l)" -eq 1 ]
	[ "$(cut -d' ' -f2 out.txt | sort -u | wc -l)" -eq 2 ]
	assert_clean
}

@test "PMI_FD: the command reads the process manager's fd as fd 3" {
	echo "pmi-hello" >pmi.txt
	PMI_FD=7 run "$PHPC" shared-run "$IMG" sh -c 'echo $PMI_FD; cat <&3' 7<pmi.txt
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "3" ]
	[ "${lines[1]}" = "pmi-hello" ]
	run srun -n 2 --mpi=pmi2 "$PHPC" shared-run "$IMG" sh -c 'ls -l /proc/self/fd/$PMI_FD'
	[ "$status" -eq 0 ]
	[ "$(grep -c 'socket:' <<<"$output")" -eq 2 ]
	assert_clean
}

@test "options: -e, -w, --entrypoint and -it reach the tasks (NERSC #147)" {
	run srun -n 2 "$PHPC" shared-run -it -e FOO=bar -w /tmp --entrypoint /bin/sh "$IMG" \
		-c 'echo $FOO $(pwd) $SLURM_PROCID'
	[ "$status" -eq 0 ]
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "bar /tmp 0 bar /tmp 1 " ]
	assert_clean
}

@test "without Slurm variables it runs as a single task (NERSC #110)" {
	run env -u SLURM_LOCALID -u SLURM_STEP_TASKS_PER_NODE -u SLURM_JOB_ID -u SLURM_STEP_ID \
		"$PHPC" shared-run "$IMG" echo single
	[ "$status" -eq 0 ]
	[ "$output" = "single" ]
	assert_clean
}

@test "a module with shared_run: true makes srun podman-hpc run share one container" {
	add_module mpi <<<'name: mpi
cli_arg: mpi
env: ENABLE_MPI
shared_run: true'
	run srun -n 4 "$PHPC" run --rm --mpi "$IMG" sh -c 'echo $ENABLE_MPI $(readlink /proc/self/ns/pid)'
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 <<<"$output" | sort -u)" = "1" ]
	[ "$(cut -d' ' -f2 <<<"$output" | sort -u | wc -l)" -eq 1 ]
	assert_clean
}
