#!/usr/bin/env bats
# podman-hpc with the real podman, run by the test runner as root and as the
# unprivileged test user: a tiny image made on this machine, containers
# started and removed, podman commands passed through.

load ../lib/common

setup_file() {
	phpc_env
	ensure_image
}

setup() {
	phpc_env
}

@test "run --rm IMG echo hi prints hi" {
	run "$PHPC" run --rm "$IMG" echo hi
	[ "$status" -eq 0 ]
	[ "$output" = "hi" ]
}

@test "the container's exit code is podman-hpc's" {
	run "$PHPC" run --rm "$IMG" sh -c 'exit 7'
	[ "$status" -eq 7 ]
}

@test "--help after the image reaches the container (NERSC #79, #171)" {
	run "$PHPC" run --rm "$IMG" echo prog --help
	[ "$status" -eq 0 ]
	[ "$output" = "prog --help" ]
}

@test "images, image ls and --noout images pass through" {
	run "$PHPC" images --format '{{.Repository}}'
	[ "$status" -eq 0 ]
	[[ "$output" == *"$IMG"* ]]
	run "$PHPC" image ls --format '{{.Repository}}:{{.Tag}}'
	[ "$status" -eq 0 ]
	[[ "$output" == *"$IMG:latest"* ]]
	run "$PHPC" --noout images
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "ps -a lists a container; rm and rmi pass through" {
	name=phpc-ps-$$-$BATS_TEST_NUMBER
	run "$PHPC" create --name "$name" "$IMG" true
	[ "$status" -eq 0 ]
	run "$PHPC" ps -a --format '{{.Names}}'
	[[ "$output" == *"$name"* ]]
	run "$PHPC" rm "$name"
	[ "$status" -eq 0 ]
	run "$PHPC" ps -a --format '{{.Names}}'
	[[ "$output" != *"$name"* ]]
	run "$PHPC" tag "$IMG" localhost/phpc-tag-test
	[ "$status" -eq 0 ]
	run "$PHPC" rmi localhost/phpc-tag-test
	[ "$status" -eq 0 ]
	run "$PHPC" image exists localhost/phpc-tag-test
	[ "$status" -ne 0 ]
}

@test "a podman error passes through with podman's exit code" {
	run "$PHPC" run --rm localhost/phpc-no-such-image-xyz true
	[ "$status" -ne 0 ]
	[ "$status" -ne 125 ] || [[ "$output" == *"Error:"* ]]
	[[ "$output" == *"phpc-no-such-image-xyz"* ]]
}

@test "--home (a module) makes \$HOME visible in the container" {
	add_module home <<'Y'
name: home
cli_arg: home
help: Mount home directory
env: MOUNT_HOME
bind:
  - $HOME:$HOME
Y
	home=$BATS_TEST_TMPDIR/home
	mkdir -p "$home"
	echo "marker-$$" >"$home/marker"
	# shellcheck disable=SC2016 # the container's sh expands them
	HOME=$home run "$PHPC" run --rm --home "$IMG" sh -c 'cat $0/marker; echo $MOUNT_HOME' "$home"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "marker-$$" ]
	[ "${lines[1]}" = "1" ]
	HOME=$home run "$PHPC" run --rm "$IMG" cat "$home/marker"
	[ "$status" -ne 0 ]
}

@test "a module's :ro bind is read-only, and a glob binds every match" {
	src=$BATS_TEST_TMPDIR/libs
	mkdir -p "$src"
	touch "$src/libfake-a.so.1" "$src/libfake-b.so.1"
	add_module ro <<<"name: ro
cli_arg: fakelibs
env: ENABLE_FAKELIBS
bind:
  - $src/libfake*:/opt/fake/
  - $src:/opt/rodir:ro"
	run "$PHPC" run --rm --fakelibs "$IMG" sh -c 'ls /opt/fake; touch /opt/rodir/x 2>/dev/null && echo writable || echo readonly'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "libfake-a.so.1" ]
	[ "${lines[1]}" = "libfake-b.so.1" ]
	[ "${lines[2]}" = "readonly" ]
}

@test "run --help shows podman's options and the site's module flags" {
	add_module home <<<'name: home
cli_arg: home
help: Mount home directory
env: MOUNT_HOME'
	run "$PHPC" run --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--home"*"Mount home directory"* ]]
	[[ "$output" == *"--volume"* ]]
	[[ "$output" == *"podman-hpc run"* ]]
}

@test "version shows ours and the real podman's" {
	run "$PHPC" version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "podman-hpc version "* ]]
	[[ "${lines[1]}" == "podman version "[0-9]* ]]
}

@test "infohpc: a value set by the file and one by the environment" {
	printf 'wait_timeout: 42\n' >"$BATS_TEST_TMPDIR/c.yaml"
	PODMANHPC_CONFIG_FILE=$BATS_TEST_TMPDIR/c.yaml PODMANHPC_TASKS_PER_NODE_VAR=MY_TASKS \
		run "$PHPC" infohpc
	[ "$status" -eq 0 ]
	[[ "$output" == *"wait_timeout (file: wait_timeout): 42"* ]]
	[[ "$output" == *"tasks_per_node_var (env: PODMANHPC_TASKS_PER_NODE_VAR): MY_TASKS"* ]]
}

@test "bad input never starts a container" {
	printf 'bogus: 1\n' >"$BATS_TEST_TMPDIR/c.yaml"
	before=$("$PHPC" ps -aq | wc -l)
	PODMANHPC_CONFIG_FILE=$BATS_TEST_TMPDIR/c.yaml run "$PHPC" run -d "$IMG" sleep 30
	[ "$status" -eq 125 ]
	[[ "$output" == "Error: "*"bogus"* ]]
	[ "$("$PHPC" ps -aq | wc -l)" -eq "$before" ]
}

@test "a local image runs on the kernel's overlayfs; one with fuse-overlayfs whiteouts on fuse-overlayfs" {
	run "$PHPC" run --rm "$IMG" sh -c 'grep " / " /proc/mounts'
	[ "$status" -eq 0 ]
	[[ $output == "overlay / overlay "* ]] || { echo "$output"; false; }
	# a deleted file and a replaced directory: the layers hold ".wh." files
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	printf 'FROM %s\nRUN rm /bin/vi && mkdir /d && touch /d/x\nRUN rm -rf /d && mkdir /d && touch /d/y\n' \
		"$IMG" >"$ctx/Containerfile"
	run "$PHPC" build -q -t localhost/phpc-whiteouts "$ctx"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run "$PHPC" run --rm localhost/phpc-whiteouts sh -c 'grep " / " /proc/mounts | cut -d" " -f3; ls /bin/vi; ls /d'
	"$PHPC" rmi localhost/phpc-whiteouts >/dev/null
	[[ ${lines[0]} == "fuse.fuse-overlayfs" ]] || { echo "$output"; false; }
	[[ $output == *"/bin/vi: No such file or directory"* ]]
	[ "${lines[-1]}" = y ]
	# a container that deletes a file on the kernel's overlay, committed
	run "$PHPC" run --name phpc-kdel "$IMG" sh -c 'rm /bin/vi && rm -rf /root && mkdir /root && touch /root/z'
	[ "$status" -eq 0 ]
	run "$PHPC" commit -q phpc-kdel localhost/phpc-kdel
	[ "$status" -eq 0 ]
	"$PHPC" rm phpc-kdel >/dev/null
	run "$PHPC" run --rm localhost/phpc-kdel sh -c 'ls /bin/vi; ls -A /root'
	"$PHPC" rmi localhost/phpc-kdel >/dev/null
	[[ $output == *"/bin/vi: No such file or directory"* ]]
	[ "${lines[-1]}" = z ]
	# and the way back, for a site whose kernel refuses: fuse-overlayfs
	run env PODMANHPC_NO_KERNEL_OVERLAY=1 "$PHPC" run --rm "$IMG" sh -c 'grep " / " /proc/mounts | cut -d" " -f3'
	[ "$output" = fuse.fuse-overlayfs ]
}
