#!/usr/bin/env bats
# podman-hpc doctor, as root and as the unprivileged user: on this machine as
# scripts/setup-host leaves it every check passes (ok, warn or skip) and it
# exits 0; then each condition broken on purpose makes its own check fail,
# with a fix, and the exit code 1. What belongs to the node (a sysctl,
# /etc/subuid, newuidmap, a device, a mount) is broken in a private mount
# namespace, which needs root: the root run breaks it there for itself or for
# the test user, the user run skips those tests.
# shellcheck disable=SC2016 # the bash -c scripts expand their own $0, $1...

load ../lib/common

TEST_USER=${PHPC_TEST_USER:-phpctest}

# every check, in the order doctor prints them (docs/doctor.md)
CHECKS="config userns subuid subgid newuidmap fuse graph_root run_root squash_dir runtime nofile nproc memlock hook mqueue slurm"

setup() {
	phpc_env
	unset SLURM_JOB_ID SLURM_STEP_ID SLURM_PROCID SLURM_LOCALID SLURM_STEP_TASKS_PER_NODE \
		CONTAINERS_CONF PODMANHPC_HOOKS_DIR
}

# Skips the test when not root, saying why.
needs_root() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root: $* in a private mount namespace"
	fi
}

# The names of the checks that failed in the last plain report, one line.
failed_checks() {
	awk '$1 == "FAIL" { printf "%s%s", sep, $2; sep = " " } END { print "" }' <<<"$output"
}

# shellcheck disable=SC2154 # status and output are set by bats's run
# Asserts the last run exited 1 and that exactly the checks named in $1
# failed; then that the first of them has a fix under it, and that its line
# and fix hold every further argument.
assert_fails() {
	local want=$1 first line s
	shift
	if [ "$status" -ne 1 ]; then
		echo "expected exit 1, got $status: $output"
		return 1
	fi
	if [ "$(failed_checks)" != "$want" ]; then
		echo "expected failed checks \"$want\", got \"$(failed_checks)\": $output"
		return 1
	fi
	first=${want%% *}
	line=$(grep -A1 "^FAIL  $first " <<<"$output")
	if [[ $line != *"fix: "* ]]; then
		echo "no fix under $first: $output"
		return 1
	fi
	for s in "$@"; do
		if [[ $line != *"$s"* ]]; then
			echo "$first lacks \"$s\": $line"
			return 1
		fi
	done
}

# Runs the test user's doctor in a private mount namespace, after the root
# commands of $1 (what breaks the node for this test only), with storage of
# its own; bats's run sets output and status.
# The doctor's podman info starts the user's rootless pause process, which
# keeps the mount namespace it was made in and which every later podman of
# the user joins (through $TMPDIR/podman-run-UID/libpod/tmp/pause.pid when
# XDG_RUNTIME_DIR is unset, as podman-hpc leaves it). In a namespace with a
# file bound over /proc/sys/..., runc can no longer mount /proc there. So
# podman gets a TMPDIR of its own here, and that pause process is stopped.
user_doctor_in_ns() {
	local ubase uhome pid
	uhome=$(getent passwd "$TEST_USER" | cut -d: -f6)
	ubase=$(mktemp -d /tmp/phpc-doctor.XXXXXX)
	mkdir "$ubase/tmp"
	chown "$TEST_USER" "$ubase" "$ubase/tmp"
	run unshare -m --propagation private bash -c "$1"'
		cd / && exec runuser -u "$1" -- env -i HOME="$2" USER="$1" PATH=/usr/bin:/bin \
			TMPDIR="$3/tmp" \
			PODMANHPC_CONFIG_FILE=/dev/null PODMANHPC_GRAPH_ROOT="$3/storage" \
			PODMANHPC_RUN_ROOT="$3/run" PODMANHPC_CONFIG_HOME="$3/config" \
			SQUASH_DIR="$3/squash" "$4" doctor' \
		bash "$TEST_USER" "$uhome" "$ubase" "$PHPC"
	for pid in "$ubase"/tmp/podman-run-*/libpod/tmp/pause.pid; do
		[ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
	done
	rm -rf "$ubase"
}

@test "doctor on this machine: every check ok, warn or skip, exit 0" {
	run "$PHPC" doctor
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "podman-hpc doctor: user $(id -un) (uid $(id -u)) on $(uname -n)" ]
	[ "$(failed_checks)" = "" ]
	# each check once, in order, with a status word
	[ "$(awk 'NR > 1 && $1 ~ /^(ok|warn|FAIL|skip)$/ { printf "%s ", $2 }' <<<"$output")" = "$CHECKS " ]
	[[ "${lines[-1]}" =~ ^0\ failed,\ [0-9]+\ warnings?,\ [0-9]+\ ok,\ [0-9]+\ skipped$ ]]
	# what this machine has (scripts/setup-host)
	local c
	for c in config fuse graph_root run_root runtime hook mqueue; do
		grep -q "^ok    $c " <<<"$output" || { echo "$c is not ok: $output"; return 1; }
	done
	grep -q '^ok    runtime     runc .*cgroupfs manager' <<<"$output"
	grep -q '^skip  slurm       not in a Slurm job$' <<<"$output"
	if [ "$(id -u)" -eq 0 ]; then
		for c in userns subuid subgid newuidmap; do
			grep -q "^skip  $c .*root" <<<"$output" || { echo "$c: $output"; return 1; }
		done
	else
		grep -q "^ok    subuid      65536 subordinate uids" <<<"$output"
		grep -q "^ok    subgid      65536 subordinate gids" <<<"$output"
		grep -q "^ok    userns      a process of yours can make a user namespace" <<<"$output"
		grep -q "^ok    newuidmap   .*/newuidmap: setuid root" <<<"$output"
		grep -q "^ok    graph_root  .*user\.\* extended attributes work" <<<"$output"
	fi
	# a warning has its fix under it
	if grep -q '^warn ' <<<"$output"; then
		grep -A1 '^warn ' <<<"$output" | grep -q '^ \{18\}fix: '
	fi
}

@test "doctor --json: one document with the user, the host and every check" {
	run "$PHPC" doctor --json
	[ "$status" -eq 0 ]
	jq -e --arg user "$(id -un)" --argjson uid "$(id -u)" --arg host "$(uname -n)" '
		.user == $user and .uid == $uid and .host == $host and .failed == 0
		and (.warnings | type) == "number"
		and ([.checks[] | select(.status == "warn")] | length) == .warnings
		and all(.checks[]; (keys == ["fix", "message", "name", "status"])
			and (.status | IN("ok", "warn", "fail", "skip"))
			and (.message | type) == "string"
			and ((.fix == null) == (.status == "ok" or .status == "skip")))
		' <<<"$output"
	[ "$(jq -r '[.checks[].name] | join(" ")' <<<"$output")" = "$CHECKS" ]
	# the same verdicts as the plain report
	local json plain
	json=$(jq -r '.checks[] | "\(.name) \(.status)"' <<<"$output")
	run "$PHPC" doctor
	plain=$(awk 'NR > 1 && $1 ~ /^(ok|warn|FAIL|skip)$/ { print $2, tolower($1) }' <<<"$output")
	[ "$json" = "$plain" ]
}

@test "doctor: a bad option is podman-hpc's error; --help runs nothing" {
	run "$PHPC" doctor --bogus
	assert_phpc_error 'doctor: unknown option "--bogus"'
	run "$PHPC" doctor extra
	assert_phpc_error 'doctor: unknown argument "extra"'
	use_fake_podman
	run "$PHPC" doctor --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"podman-hpc doctor [options]"* ]]
	[[ "$output" == *"--json"* ]]
	[ "$(fake_calls)" -eq 0 ]
}

@test "doctor: user namespaces turned off (user.max_user_namespaces = 0)" {
	needs_root "binds 0 over /proc/sys/user/max_user_namespaces"
	echo 0 >"$BATS_TEST_TMPDIR/zero"
	user_doctor_in_ns "mount --bind $BATS_TEST_TMPDIR/zero /proc/sys/user/max_user_namespaces"
	assert_fails userns "user.max_user_namespaces is 0" "sysctl -w user.max_user_namespaces="
}

@test "doctor: no subordinate uids for the user" {
	needs_root "binds an empty file over /etc/subuid"
	: >"$BATS_TEST_TMPDIR/empty"
	user_doctor_in_ns "mount --bind $BATS_TEST_TMPDIR/empty /etc/subuid"
	assert_fails subuid "$TEST_USER has no subordinate uids" "usermod --add-subuids" \
		"podman-hpc-subid" "podman-hpc system migrate"
	grep -q '^ok    subgid ' <<<"$output"
}

@test "doctor: newuidmap without its setuid bit" {
	needs_root "binds a plain copy over newuidmap"
	cp /usr/bin/newuidmap "$BATS_TEST_TMPDIR/newuidmap"
	chmod 0755 "$BATS_TEST_TMPDIR/newuidmap"
	user_doctor_in_ns "mount --bind $BATS_TEST_TMPDIR/newuidmap /usr/bin/newuidmap"
	# podman info cannot make the user's namespace either (none runs yet:
	# the test's podman has a TMPDIR of its own)
	assert_fails "newuidmap runtime" \
		"/usr/bin/newuidmap is neither setuid root nor has file capabilities" \
		"chmod u+s /usr/bin/newuidmap" "setcap cap_setuid+ep"
	grep -q '^FAIL  runtime     podman info failed (exit 125): .*/usr/bin/newuidmap.*setuid' <<<"$output"
}

@test "doctor: /dev/fuse that is not the FUSE device" {
	needs_root "binds /dev/null over /dev/fuse"
	run unshare -m --propagation private bash -c \
		'mount --bind /dev/null /dev/fuse && exec "$0" doctor' "$PHPC"
	assert_fails fuse "/dev/fuse is not the FUSE device" "character device 1:3" \
		"mknod -m 0666 /dev/fuse c 10 229"
}

@test "doctor: graph_root on a file system without extended attributes (ramfs)" {
	needs_root "mounts a ramfs"
	local ram=$BATS_TEST_TMPDIR/ram
	mkdir -p "$ram"
	run unshare -m --propagation private bash -c \
		'mount -t ramfs ramfs "$1" && chmod 0700 "$1" &&
		PODMANHPC_GRAPH_ROOT=$1/storage exec "$0" doctor' "$PHPC" "$ram"
	# (podman may or may not run on it: only the storage check is asserted)
	[ "$status" -eq 1 ]
	line=$(grep -A1 '^FAIL  graph_root ' <<<"$output")
	[[ "$line" == *"$ram/storage (not created yet; in $ram) is on ramfs, which keeps no trusted.* extended attributes"* ]]
	[[ "$line" == *"fix: set graph_root in /etc/podman_hpc/podman_hpc.yaml"*"PODMANHPC_GRAPH_ROOT"* ]]
	grep -q '^ok    run_root ' <<<"$output"
}

@test "doctor: graph_root where others could replace it is refused, and nothing is created" {
	# a directory others can write, not sticky: they could rename what
	# podman-hpc made in it (as another user's planted directory, cli.bats)
	local open=$BATS_TEST_TMPDIR/open
	mkdir "$open"
	chmod 0777 "$open"
	PODMANHPC_GRAPH_ROOT=$open/mine/storage run "$PHPC" doctor
	assert_fails graph_root "graph_root (env: PODMANHPC_GRAPH_ROOT): $open is writable by others" \
		"not sticky" "of your own"
	grep -q '^skip  runtime     podman not run' <<<"$output"
	[ ! -e "$open/mine" ]
}

@test "doctor: the OCI runtime podman is told to use does not exist" {
	printf '[engine]\nruntime = "nonexistent-runtime"\n' >"$BATS_TEST_TMPDIR/containers.conf"
	CONTAINERS_CONF=$BATS_TEST_TMPDIR/containers.conf run "$PHPC" doctor
	assert_fails runtime 'podman info failed' '"nonexistent-runtime"' \
		"runtime = \"runc\"" "$BATS_TEST_TMPDIR/containers.conf"
}

@test "doctor: too few open files (ulimit -n 256)" {
	run bash -c 'ulimit -n 256 && exec "$0" doctor' "$PHPC"
	assert_fails nofile "open files: 256 (hard limit 256), under 1024" "/etc/security/limits.conf"
}

@test "doctor: the hook missing from hooks_dir, then installed as the fix says" {
	export PODMANHPC_HOOKS_DIR=$BATS_TEST_TMPDIR/hooks.d
	mkdir "$PODMANHPC_HOOKS_DIR"
	run "$PHPC" doctor
	assert_fails hook "no entry for the hook in hooks_dir (env: PODMANHPC_HOOKS_DIR)" \
		"podman-hpc configure-hooks --hooksd $PODMANHPC_HOOKS_DIR"
	"$PHPC" configure-hooks --hooksd "$PODMANHPC_HOOKS_DIR" >/dev/null
	run "$PHPC" doctor
	[ "$status" -eq 0 ]
	grep -q "^ok    hook        $PODMANHPC_HOOKS_DIR/02-hook_tool.json runs /" <<<"$output"
}

@test "doctor: the squash store unreadable" {
	export SQUASH_DIR=$BATS_TEST_TMPDIR/squash
	mkdir "$SQUASH_DIR"
	chmod 000 "$SQUASH_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		# root reads any directory: without that privilege, as a user would
		run setpriv --inh-caps=-dac_override,-dac_read_search \
			--bounding-set=-dac_override,-dac_read_search "$PHPC" doctor
	else
		run "$PHPC" doctor
	fi
	assert_fails squash_dir "cannot open $SQUASH_DIR: Permission denied" "chmod -R go+rX"
	# podman-hpc stops there, before podman
	grep -q '^skip  runtime     podman not run' <<<"$output"
	chmod 700 "$SQUASH_DIR"
}

@test "doctor: no message queue file system at /dev/mqueue" {
	needs_root "binds an empty directory over /dev/mqueue"
	mkdir "$BATS_TEST_TMPDIR/empty"
	run unshare -m --propagation private bash -c \
		'mount --bind "$1" /dev/mqueue && exec "$0" doctor' "$PHPC" "$BATS_TEST_TMPDIR/empty"
	assert_fails mqueue "no message queue file system at /dev/mqueue" \
		"mount -t mqueue mqueue /dev/mqueue"
}

@test "doctor: in a Slurm job step without SLURM_LOCALID; outside a step, a warning" {
	SLURM_JOB_ID=42 SLURM_STEP_ID=0 SLURM_PROCID=0 SLURM_STEP_TASKS_PER_NODE=2 \
		run "$PHPC" doctor
	assert_fails slurm "in Slurm job 42 step 0, but SLURM_LOCALID is not set" "PODMANHPC_LOCALID_VAR"
	SLURM_JOB_ID=42 SLURM_STEP_ID=0 SLURM_PROCID=1 SLURM_LOCALID=1 SLURM_STEP_TASKS_PER_NODE='2(x3)' \
		run "$PHPC" doctor
	[ "$status" -eq 0 ]
	grep -q '^ok    slurm       job 42 step 0: SLURM_LOCALID=1, SLURM_STEP_TASKS_PER_NODE=2(x3) (2 tasks on this node)' <<<"$output"
	SLURM_JOB_ID=42 run "$PHPC" doctor
	[ "$status" -eq 0 ]
	grep -A1 '^warn  slurm       in Slurm job 42, but not in a job step' <<<"$output" | grep -q 'fix: run podman-hpc in a step'
}

@test "doctor: a configuration that does not load fails, and what needs it is skipped" {
	printf 'bogus_key: 1\n' >"$PODMANHPC_CONFIG_FILE"
	run "$PHPC" doctor
	assert_fails config "$PODMANHPC_CONFIG_FILE" "bogus_key"
	local c
	for c in graph_root run_root squash_dir runtime hook slurm; do
		grep -q "^skip  $c .*needs the configuration" <<<"$output" || { echo "$c: $output"; return 1; }
	done
}
