#!/usr/bin/env bats
# shared-run with real Slurm daemons (started by tests/run-all), as root and
# as the unprivileged user: one container per node for a step's tasks.
# shellcheck disable=SC2016 # the sh -c scripts are the containers': $VARs expand there

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
	cd "$BATS_TEST_TMPDIR" || return 1
}

# Nothing of a step may remain: container, state, squash or overlay mount.
assert_clean() {
	for _ in $(seq 50); do
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
	for _ in $(seq 100); do
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
	# -u makes the task use podman exec: the fd reaches it the same way
	PMI_FD=7 run "$PHPC" shared-run -u 0 "$IMG" sh -c 'echo $PMI_FD; cat <&3' 7<pmi.txt
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "3" ]
	[ "${lines[1]}" = "pmi-hello" ]
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

# Kills local task 0 (SIGKILL: no chance to say anything) while it starts the
# container, once all n tasks have registered; prints how long the others
# took to fail. Sets status, elapsed_ms and slow_run (the pid of podman run).
kill_task0() {
	local n=$1 task0 start
	export PODMANHPC_PODMAN_BIN="$TESTS_LIB/slow-podman" SLOW_PODMAN_DIR=$BATS_TEST_TMPDIR
	rm -f "$SLOW_PODMAN_DIR/run"
	srun -n "$n" "$PHPC" shared-run "$IMG" true >out.txt 2>&1 &
	local srun_pid=$!
	for _ in $(seq 300); do
		[ -e "$SLOW_PODMAN_DIR/run" ] &&
			[ "$(stat -c %s "$PODMANHPC_RUN_ROOT"/shared-run/*/joined 2>/dev/null)" = "$n" ] && break
		sleep 0.1
	done
	if [ ! -e "$SLOW_PODMAN_DIR/run" ]; then
		kill "$srun_pid"
		echo "task 0 did not start podman run: $(cat out.txt)"
		return 1
	fi
	read -r task0 slow_run <"$SLOW_PODMAN_DIR/run"
	start=$(date +%s%N)
	kill -9 "$task0"
	status=0
	wait "$srun_pid" || status=$?
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	echo "# srun -n $n: the other tasks failed ${elapsed_ms} ms after task 0 was killed" >&3
	cat out.txt
	unset PODMANHPC_PODMAN_BIN
}

@test "task 0 killed before the container is up: the others fail at once, nothing left" {
	local n
	for n in 2 8; do
		kill_task0 "$n"
		kill "$slow_run"
		[ "$status" -ne 0 ]
		[ "$elapsed_ms" -lt 15000 ] # the start timeout is 20 s for 2 tasks, 40 s for 8
		[ "$(grep -c '^Error: local task 0 on this node .* exited before the shared container' out.txt)" -eq $((n - 1)) ]
		[ "$(grep -c '^Error: ' out.txt)" -eq $((n - 1)) ]
		# the last task to leave removed the step's state
		[ -z "$(ls "$PODMANHPC_RUN_ROOT/shared-run")" ]
	done
}

@test "task 0 killed while podman run goes on: the container it makes is removed" {
	SLOW_PODMAN_THEN=$(command -v podman)
	export SLOW_PODMAN_THEN SLOW_PODMAN_SLEEP=3
	kill_task0 2
	[ "$status" -ne 0 ]
	[ "$(grep -c '^Error: local task 0 on this node' out.txt)" -eq 1 ]
	[ -z "$(ls "$PODMANHPC_RUN_ROOT/shared-run")" ]
	# podman run, orphaned, starts the container; the monitor removes it
	for _ in $(seq 100); do
		kill -0 "$slow_run" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$slow_run" 2>/dev/null; then
		echo "podman run is still going"
		return 1
	fi
	assert_clean
}

# shellcheck disable=SC2030,SC2031 # each @test is a subshell: its exports are meant to end with it
@test "a planted shared-run or state directory (symlink, writable by others) is refused" {
	# below /tmp, which everyone can write
	export PODMANHPC_RUN_ROOT
	PODMANHPC_RUN_ROOT=$(phpc_base)/planted-run
	rm -rf "$PODMANHPC_RUN_ROOT"
	export SLURM_JOB_ID=77 SLURM_STEP_ID=0 SLURM_LOCALID=0 SLURM_STEP_TASKS_PER_NODE=1
	local key dir=$PODMANHPC_RUN_ROOT/shared-run
	key=shared-$(id -u)-77.0
	use_fake_podman
	mkdir -p "$PODMANHPC_RUN_ROOT" elsewhere
	ln -s "$PWD/elsewhere" "$dir"
	run "$PHPC" shared-run "$IMG" true
	assert_phpc_error "$dir is a symbolic link" "run_root"
	rm "$dir"
	mkdir -m 0700 "$dir"
	ln -s "$PWD/elsewhere" "$dir/$key"
	run "$PHPC" shared-run "$IMG" true
	assert_phpc_error "$dir/$key is a symbolic link" "run_root"
	[ -z "$(ls elsewhere)" ]
	rm "$dir/$key"
	chmod 0777 "$dir"
	run "$PHPC" shared-run "$IMG" true
	assert_phpc_error "$dir is writable by everyone" "chmod go-w"
	chmod 0700 "$dir"
	mkdir -m 0770 "$dir/$key"
	run "$PHPC" shared-run "$IMG" true
	assert_phpc_error "$dir/$key is writable by its group" "chmod go-w"
	rm -rf "$PODMANHPC_RUN_ROOT"
}

# shellcheck disable=SC2030,SC2031 # each @test is a subshell: its exports are meant to end with it
@test "a shared-run or state directory of another user is refused" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root to plant a directory owned by someone else"
	fi
	# below /tmp, which everyone can write
	export PODMANHPC_RUN_ROOT
	PODMANHPC_RUN_ROOT=$(phpc_base)/planted-run
	rm -rf "$PODMANHPC_RUN_ROOT"
	export SLURM_JOB_ID=77 SLURM_STEP_ID=0 SLURM_LOCALID=0 SLURM_STEP_TASKS_PER_NODE=1
	local dir=$PODMANHPC_RUN_ROOT/shared-run key=shared-0-77.0
	use_fake_podman
	mkdir -p "$dir"
	chown nobody "$dir"
	run "$PHPC" shared-run "$IMG" true
	assert_phpc_error "$dir belongs to user nobody" "remove it"
	chown root "$dir"
	mkdir -m 0700 "$dir/$key"
	chown nobody "$dir/$key"
	run "$PHPC" shared-run "$IMG" true
	assert_phpc_error "$dir/$key belongs to user nobody" "remove it"
	rm -rf "$PODMANHPC_RUN_ROOT"
}
