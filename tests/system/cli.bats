#!/usr/bin/env bats
# podman-hpc's command line, checked exactly against a fake podman that logs
# its argv: default arguments, global flags, environment, PMI_FD, config
# precedence and every kind of bad input. The real-podman tests are in
# podman.bats.

load ../lib/common

setup() {
	phpc_env
	use_fake_podman
	uid=$(id -u)
	base=$(phpc_base)
	site=$BATS_TEST_TMPDIR
	export PODMANHPC_HOOKS_DIR=$site/hooks.d
	"$PHPC" configure-hooks --hooksd "$PODMANHPC_HOOKS_DIR" >/dev/null
}

@test "run: the exact podman argv, defaults before the user's arguments" {
	run "$PHPC" run -it --rm img prog --flag
	[ "$status" -eq 0 ]
	[ "$(fake_calls)" -eq 1 ] # one exec, no `podman --help` first
	expected="$PODMANHPC_PODMAN_BIN
run
--root
$base/storage
--runroot
$base/run
--storage-opt
mount_program=/usr/bin/podman-hpc-mount
--cgroup-manager
cgroupfs
--storage-opt
ignore_chown_errors=true
--storage-opt
additionalimagestore=$base/squash
--hooks-dir
$site/hooks.d
--env
PODMANHPC_MODULES_DIR=$site/modules.d
--security-opt
seccomp=unconfined
-it
--rm
img
prog
--flag"
	diff <(echo "$expected") <(echo "$PODMANHPC_PODMAN_BIN"; fake_argv 1)
}

@test "the environment podman gets: XDG_CONFIG_HOME set, XDG_RUNTIME_DIR removed" {
	XDG_RUNTIME_DIR=/run/user/$uid run "$PHPC" ps
	[ "$status" -eq 0 ]
	[ "$(fake_env XDG_CONFIG_HOME)" = "$base/config" ]
	[ "$(fake_env XDG_RUNTIME_DIR)" = "<unset>" ]
}

@test "podman's exit code is podman-hpc's" {
	FAKE_PODMAN_EXIT=42 run "$PHPC" ps -a
	[ "$status" -eq 42 ]
}

@test "global flags before the subcommand pass through (NERSC #64)" {
	run "$PHPC" --noout --log-level debug images
	[ "$status" -eq 0 ]
	fake_argv 1 | head -4 | tr '\n' ' ' | grep -qx -- '--noout --log-level debug images '
}

@test "our global --additional-stores is used (NERSC ignored it)" {
	run "$PHPC" --additional-stores /x,/y image ls
	[ "$status" -eq 0 ]
	fake_argv 1 | grep -qx "additionalimagestore=$base/squash,/x,/y"
	grep -q '"/x", "/y"' "$base/config/containers/storage.conf"
}

@test "--squash-dir overrides SQUASH_DIR" {
	run "$PHPC" --squash-dir "$BATS_TEST_TMPDIR/sq" images
	[ "$status" -eq 0 ]
	fake_argv 1 | grep -qx "additionalimagestore=$BATS_TEST_TMPDIR/sq"
	[ -f "$BATS_TEST_TMPDIR/sq/overlay-images/images.json" ] # store initialised
}

@test "PMI_FD is moved to fd 3 and passed with --preserve-fds 1" {
	echo "pmi-secret" >"$BATS_TEST_TMPDIR/pmi"
	export FAKE_PODMAN_READ_FD3=1
	PMI_FD=7 run "$PHPC" run --rm img true 7<"$BATS_TEST_TMPDIR/pmi"
	[ "$status" -eq 0 ]
	fake_argv 1 | grep -qx -- '--preserve-fds'
	[ "$(fake_env PMI_FD)" = 3 ]
	grep -q '^pmi-secret' "$FAKE_PODMAN_LOG"
}

@test "PMI_FD that is not open is an error" {
	PMI_FD=77 run "$PHPC" run --rm img true
	assert_phpc_error "PMI_FD=77"
}

@test "generated storage.conf and containers.conf are rewritten only when they change" {
	run "$PHPC" ps
	f="$base/config/containers/storage.conf"
	grep -q 'driver = "overlay"' "$f"
	grep -q "additionalimagestores = \[\"$base/squash\"\]" "$f"
	before=$(stat -c %Y.%i "$f")
	sleep 1.1
	run "$PHPC" ps
	[ "$(stat -c %Y.%i "$f")" = "$before" ]
	SQUASH_DIR=$BATS_TEST_TMPDIR/other run "$PHPC" ps
	grep -q "$BATS_TEST_TMPDIR/other" "$f"
}

@test "module flags are whole words and stop at the image (NERSC #129, #79)" {
	add_module gpu <<<'name: gpu
cli_arg: gpu
env: ENABLE_GPU
additional_args: ["-e NVIDIA_VISIBLE_DEVICES"]'
	run "$PHPC" run --gpus all --gpu img prog --gpu
	[ "$status" -eq 0 ]
	argv=$(fake_argv 1)
	grep -qx -- '-e NVIDIA_VISIBLE_DEVICES' <<<"$argv"
	grep -qx 'ENABLE_GPU=1' <<<"$argv"
	[ "$(grep -cx -- '--gpu' <<<"$argv")" -eq 1 ] # only the container's
	[ "$(tail -1 <<<"$argv")" = "--gpu" ]
	grep -qx -- '--gpus' <<<"$argv"
}

@test "depends_on enables the dependency and says so" {
	add_module base <<<'name: base
cli_arg: base
env: ENABLE_BASE'
	add_module top <<<'name: top
cli_arg: top
env: ENABLE_TOP
depends_on: [base]'
	run "$PHPC" run --top img true
	[ "$status" -eq 0 ]
	[[ "$output" == *"enabling --base"* ]]
	fake_argv 1 | grep -qx 'ENABLE_BASE=1'
}

@test "modules work on build (NERSC #34): mounts only, nothing baked into the image" {
	echo conf >"$BATS_TEST_TMPDIR/x.conf"
	add_module gpu <<<"name: gpu
cli_arg: gpu
env: ENABLE_GPU
additional_args: [--ipc=host]
copy:
  - $BATS_TEST_TMPDIR/x.conf:/etc/x.conf
bind:
  - /dev/null:/dev/nvidia0"
	run "$PHPC" build --gpu -t x .
	[ "$status" -eq 0 ]
	argv=$(fake_argv 1)
	! grep -qx -- '--gpu' <<<"$argv" || false
	! grep -q 'ENABLE_GPU' <<<"$argv" || false
	! grep -qx -- '--ipc=host' <<<"$argv" || false
	grep -qx '/dev/null:/dev/nvidia0' <<<"$argv"
	grep -qx "$BATS_TEST_TMPDIR/x.conf:/etc/x.conf:ro" <<<"$argv"
}

@test "run --help: podman's help with the site's module flags" {
	add_module home <<<'name: home
cli_arg: home
help: Mount home directory
env: MOUNT_HOME'
	run "$PHPC" run --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"podman-hpc run [options] IMAGE"* ]]
	[[ "$output" == *"Podman-hpc options (site modules):"* ]]
	[[ "$output" == *"--home"*"Mount home directory"* ]]
	[[ "$output" == *"Podman options:"* ]]
}

# Whether the text $2 has a "Usage:" line naming "podman-hpc $1", on that
# line or the next (podman's layout: "Usage:" then the command line indented).
usage_names() {
	awk -v want="podman-hpc $1" '
		/^Usage:/ { if (index($0, want)) found = 1; next_line = 1; next }
		next_line { if (index($0, want)) found = 1; next_line = 0 }
		END { exit !found }' <<<"$2"
}

@test "every command of ours has --help: exit 0, a usage line, nothing run" {
	add_module home <<<'name: home
cli_arg: home
help: Mount home directory
env: MOUNT_HOME'
	local sub
	for sub in infohpc version help configure-hooks doctor migrate rmsqi shared-run rank; do
		run "$PHPC" "$sub" --help
		if [ "$status" -ne 0 ] || ! usage_names "$sub" "$output"; then
			echo "$sub --help: exit $status, output: $output"
			return 1
		fi
		case $sub in shared-run | rank) continue ;; esac # -h is run's --hostname
		run "$PHPC" "$sub" -h
		[ "$status" -eq 0 ]
		usage_names "$sub" "$output"
	done
	[ "$(fake_calls)" -eq 0 ] # help starts no podman
	run "$PHPC" configure-hooks --hooksd "$BATS_TEST_TMPDIR/hk" --help
	[ "$status" -eq 0 ]
	[ ! -e "$BATS_TEST_TMPDIR/hk" ] # and writes no hooks.d entry
	# the table's options are listed
	run "$PHPC" migrate --help
	[[ "$output" == *"--compress ALG"* ]]
	[[ "$output" != *"phpc-internal-guard"* ]]
	run "$PHPC" rmsqi --help
	[[ "$output" == *"-f, --force"* ]]
	run "$PHPC" configure-hooks --help
	[[ "$output" == *"--hooksd DIR"* ]]
	# shared-run: the per-task options and the site's module flags
	run "$PHPC" shared-run --help
	[[ "$output" == *"-w, --workdir"* ]]
	[[ "$output" == *"Podman-hpc options (site modules):"* ]]
	[[ "$output" == *"--home"*"Mount home directory"* ]]
	# help COMMAND and --help COMMAND give the same
	run "$PHPC" help rmsqi
	usage_names rmsqi "$output"
	run "$PHPC" --help migrate
	usage_names migrate "$output"
	# run --help still lists the module flags
	run "$PHPC" run --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--home"*"Mount home directory"* ]]
}

@test "pull --help: podman's pull help, renamed, and that the image is then migrated" {
	# a podman whose help names its command, as the real one does
	cat >"$BATS_TEST_TMPDIR/podman" <<-'EOF'
	#!/bin/sh
	[ "$*" = "pull --help" ] || { echo "unexpected: $*" >&2; exit 3; }
	printf 'Pull an image from a registry\n\nUsage:\n  podman pull [options] IMAGE [IMAGE...]\n\nOptions:\n  -q, --quiet   Suppress output\n'
	EOF
	chmod +x "$BATS_TEST_TMPDIR/podman"
	PODMANHPC_PODMAN_BIN=$BATS_TEST_TMPDIR/podman run "$PHPC" pull --help
	[ "$status" -eq 0 ]
	usage_names pull "$output"
	[[ "$output" == *"migrates each pulled image"* ]]
	[[ "$output" == *"Podman options:"*"--quiet"* ]]
	PODMANHPC_PODMAN_BIN=$BATS_TEST_TMPDIR/podman run "$PHPC" pull docker.io/x --help
	[ "$status" -eq 0 ]
	usage_names pull "$output"
}

@test "podman-hpc --help lists each command of ours once, aligned" {
	run "$PHPC" --help
	[ "$status" -eq 0 ]
	list=$(sed -n '/^podman-hpc commands:/,/^$/p' <<<"$output" | sed '1d;$d')
	local sub
	for sub in infohpc version help configure-hooks doctor migrate rmsqi pull shared-run rank; do
		[ "$(grep -c "^  $sub  " <<<"$list")" -eq 1 ] || { echo "$sub: $list"; return 1; }
	done
	# every summary starts in the same column
	[ "$(awk '{ match($0, /^  [^ ]+ +/); print RLENGTH }' <<<"$list" | sort -u | wc -l)" -eq 1 ]
	[[ "$output" == *"podman-hpc COMMAND --help"* ]]
}

@test "bad input: unknown options of migrate and rmsqi, a missing value" {
	run "$PHPC" migrate --bogus "$IMG"
	assert_phpc_error 'migrate: unknown option "--bogus"' "podman-hpc migrate --help"
	run "$PHPC" migrate -x "$IMG"
	assert_phpc_error 'migrate: unknown option "-x"'
	run "$PHPC" rmsqi --bogus=1 "$IMG"
	assert_phpc_error 'rmsqi: unknown option "--bogus"' "podman-hpc rmsqi --help"
	run "$PHPC" rmsqi -x "$IMG"
	assert_phpc_error 'rmsqi: unknown option "-x"'
	run "$PHPC" migrate "$IMG" --compress
	assert_phpc_error "--compress" "needs a value"
	run "$PHPC" infohpc --bogus
	assert_phpc_error 'infohpc: unknown option "--bogus"'
}

@test "version and --version print ours and podman's (NERSC #48)" {
	run "$PHPC" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "podman-hpc version "* ]]
	[ "${lines[1]}" = "podman version 9.9.9-fake" ]
	run "$PHPC" version
	[ "${lines[1]}" = "podman version 9.9.9-fake" ]
}

@test "infohpc shows values with their sources: file, env, default" {
	cat >"$PODMANHPC_CONFIG_FILE" <<-'Y'
	wait_timeout: 30
	graph_root_template: /tmp/{{ uid }}/tmpl
	Y
	run env -u PODMANHPC_GRAPH_ROOT PODMANHPC_LOCALID_VAR=MY_RANK MY_VAR=v \
		PODMANHPC_GRAPH_ROOT_TEMPLATE='/e/{{ env.MY_VAR }}' "$PHPC" infohpc
	[ "$status" -eq 0 ]
	[[ "$output" == *"graph_root (env: PODMANHPC_GRAPH_ROOT_TEMPLATE): /e/v"* ]]
	[[ "$output" == *"wait_timeout (file: wait_timeout): 30"* ]]
	[[ "$output" == *"localid_var (env: PODMANHPC_LOCALID_VAR): MY_RANK"* ]]
	[[ "$output" == *"ntasks_pattern (default): [0-9]+"* ]]
	[[ "$output" == *"config_file: $PODMANHPC_CONFIG_FILE"* ]]
}

@test "bad input: unknown config key" {
	printf 'podman_bin: podman\nwait_timeoutt: 3\n' >"$PODMANHPC_CONFIG_FILE"
	run "$PHPC" run --rm img true
	assert_phpc_error "$PODMANHPC_CONFIG_FILE" "line 2" "wait_timeoutt"
}

@test "bad input: YAML syntax error" {
	printf 'graph_root: [unclosed\n' >"$PODMANHPC_CONFIG_FILE"
	run "$PHPC" images
	assert_phpc_error "$PODMANHPC_CONFIG_FILE" "line" "YAML syntax error"
}

@test "bad input: wrong type" {
	printf 'wait_timeout: soon\n' >"$PODMANHPC_CONFIG_FILE"
	run "$PHPC" ps
	assert_phpc_error "$PODMANHPC_CONFIG_FILE" "line 1" "wait_timeout" "soon"
	printf 'podman_bin:\n  - a\n  - b\n' >"$PODMANHPC_CONFIG_FILE"
	run "$PHPC" ps
	assert_phpc_error "podman_bin" "list"
	printf '' >"$PODMANHPC_CONFIG_FILE"
	PODMANHPC_USE_DEFAULT_ARGS=perhaps run "$PHPC" ps
	assert_phpc_error "PODMANHPC_USE_DEFAULT_ARGS" "perhaps"
}

@test "bad input: a template naming an unset variable" {
	printf 'run_root_template: /x/{{ env.PHPC_NOT_SET_VAR }}\n' >"$PODMANHPC_CONFIG_FILE"
	run "$PHPC" ps
	assert_phpc_error "run_root_template" "PHPC_NOT_SET_VAR" "line 1"
}

@test "bad input: malformed module" {
	printf 'name: broken\ncli_arg: broken\nenv: [a, b\n' >"$PODMANHPC_MODULES_DIR/broken.yaml"
	run "$PHPC" run --rm img true
	assert_phpc_error "$PODMANHPC_MODULES_DIR/broken.yaml" "line"
	printf 'cli_arg: x\nenv: X\n' >"$PODMANHPC_MODULES_DIR/broken.yaml"
	run "$PHPC" run --rm img true
	assert_phpc_error "broken.yaml" '"name"'
}

@test "bad input: duplicate module" {
	add_module a <<<'name: same
cli_arg: one
env: ONE'
	add_module b <<<'name: same
cli_arg: two
env: TWO'
	run "$PHPC" run --rm img true
	assert_phpc_error "a.yaml" "b.yaml" "same"
}

@test "bad input: conflicting module flags" {
	add_module mpich <<<'name: mpich
cli_arg: mpi
env: M
conflicts: [ompi]'
	add_module ompi <<<'name: ompi
cli_arg: openmpi-pmi2
env: O'
	run "$PHPC" run --mpi --openmpi-pmi2 img true
	assert_phpc_error "--mpi" "--openmpi-pmi2"
}

@test "bad input: missing podman binary" {
	PODMANHPC_PODMAN_BIN=/nonexistent/podman run "$PHPC" images
	assert_phpc_error "/nonexistent/podman" "podman_bin"
	PODMANHPC_PODMAN_BIN=no-such-podman-xyz run "$PHPC" images
	assert_phpc_error "no-such-podman-xyz" "PATH"
}

@test "bad input: a missing PODMANHPC_CONFIG_FILE and a missing option value" {
	PODMANHPC_CONFIG_FILE=/nonexistent/podman_hpc.yaml run "$PHPC" images
	assert_phpc_error "/nonexistent/podman_hpc.yaml"
	run "$PHPC" images --squash-dir
	[ "$status" -eq 0 ] # after the subcommand it is podman's argument
	rm -f "$FAKE_PODMAN_LOG"
	run "$PHPC" --squash-dir
	assert_phpc_error "--squash-dir"
}

@test "use_default_args false: podman gets only the user's arguments" {
	PODMANHPC_USE_DEFAULT_ARGS=no run "$PHPC" run --rm img true
	[ "$status" -eq 0 ]
	diff <(printf 'run\n--rm\nimg\ntrue\n') <(fake_argv 1)
}

@test "a config_home planted by another user is refused" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root to plant a directory owned by someone else"
	fi
	mkdir -p "$BATS_TEST_TMPDIR/planted/containers"
	chown -R nobody "$BATS_TEST_TMPDIR/planted"
	PODMANHPC_CONFIG_HOME=$BATS_TEST_TMPDIR/planted run "$PHPC" ps
	assert_phpc_error "$BATS_TEST_TMPDIR/planted" "belongs to user nobody (uid $(id -u nobody))" \
		"not to you" "config_home (env: PODMANHPC_CONFIG_HOME)"
}

# shellcheck disable=SC2030,SC2031 # each test's export stays in that test
@test "without our hook in the hooks dir: no annotation, and a warning once" {
	export PODMANHPC_HOOKS_DIR=$BATS_TEST_TMPDIR/empty-hooks.d
	mkdir -p "$PODMANHPC_HOOKS_DIR"
	rm -f "$base/config/.hook-missing-warned"
	run "$PHPC" run --rm img true
	[ "$status" -eq 0 ]
	[[ "$output" == *"hook is not installed in $PODMANHPC_HOOKS_DIR"* ]]
	! fake_argv 1 | grep -q 'podman_hpc.hook_tool' || false
	rm -f "$FAKE_PODMAN_LOG"
	run "$PHPC" run --rm img true
	[ "$status" -eq 0 ]
	[[ "$output" != *"hook is not installed"* ]]
}

@test "with the hook, it binds, with the user's values of the rules' variables" {
	add_module home <<'Y'
name: home
cli_arg: home
env: MOUNT_HOME
bind:
  - $HOME:$HOME
  - ${SCRATCH}/x:/x
Y
	HOME=$BATS_TEST_TMPDIR SCRATCH=/s run "$PHPC" run --home -e SCRATCH=/mine img true
	[ "$status" -eq 0 ]
	argv=$(fake_argv 1)
	grep -qx 'podman_hpc.hook_tool=true' <<<"$argv"
	! grep -qx -- '--volume' <<<"$argv" || false
	# the user's values travel in a private file named by a random token
	token=$(sed -n 's/^podman_hpc\.request=//p' <<<"$argv")
	[[ "$token" =~ ^[0-9a-f]{32}$ ]]
	req="$base/storage/podman-hpc/requests/$token"
	[ "$(stat -c %a "$req")" = 600 ]
	[ "$(stat -c %a "$base/storage/podman-hpc/requests")" = 700 ]
	grep -q '"modules":\["home"\]' "$req"
	grep -q "\"HOME\":\"$BATS_TEST_TMPDIR\"" "$req"
	grep -q '"SCRATCH":"/mine"' "$req" # the user's -e first
	# nothing to do: no request, no hook
	rm -f "$FAKE_PODMAN_LOG"
	run "$PHPC" run img true
	! fake_argv 1 | grep -q 'podman_hpc' || false
}

# shellcheck disable=SC2030,SC2031 # each test's export stays in that test
@test "without the hook, podman mounts the modules' binds" {
	export PODMANHPC_HOOKS_DIR=$BATS_TEST_TMPDIR/empty-hooks.d
	mkdir -p "$PODMANHPC_HOOKS_DIR"
	add_module home <<'Y'
name: home
cli_arg: home
env: MOUNT_HOME
bind:
  - $HOME:$HOME
Y
	HOME=$BATS_TEST_TMPDIR run "$PHPC" run --home img true
	[ "$status" -eq 0 ]
	argv=$(fake_argv 1)
	grep -qx "$BATS_TEST_TMPDIR:$BATS_TEST_TMPDIR" <<<"$argv"
	! grep -q 'podman_hpc.env' <<<"$argv" || false
}

@test "configure-hooks writes the entry, keeps it, and replaces it only with --force" {
	d=$BATS_TEST_TMPDIR/hk
	run "$PHPC" configure-hooks --hooksd "$d"
	[ "$status" -eq 0 ]
	[[ "$output" == "wrote $d/02-hook_tool.json" ]]
	grep -q '"path": "/usr/bin/podman-hpc-hook"' "$d/02-hook_tool.json"
	grep -q '"podman_hpc.hook_tool": "true"' "$d/02-hook_tool.json"
	grep -q '"prestart"' "$d/02-hook_tool.json"
	run "$PHPC" configure-hooks --hooksd "$d"
	[ "$status" -eq 0 ]
	[[ "$output" == "already configured: "* ]]
	echo '{"site": "own"}' >"$d/02-hook_tool.json"
	run "$PHPC" configure-hooks --hooksd "$d"
	assert_phpc_error "--force"
	grep -q '"own"' "$d/02-hook_tool.json"
	run "$PHPC" configure-hooks --hooksd "$d" --force
	[ "$status" -eq 0 ]
	grep -q 'podman-hpc-hook' "$d/02-hook_tool.json"
	run "$PHPC" configure-hooks --bogus
	assert_phpc_error "--bogus"
}
