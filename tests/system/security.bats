#!/usr/bin/env bats
# An image must never steer the host, and another user must never steer your
# storage: the attacks of docs/security.md's threat model, and what an
# attacker would try next, with malicious images made on this machine, as
# root and as the unprivileged user. Every case checks that the host's files are unchanged
# byte for byte, that no module the user did not ask for was applied, that
# podman returned within a bound, and the message.

load ../lib/common

setup_file() {
	phpc_env
	ensure_image
}

setup() {
	phpc_env
	base=$(phpc_base)
	victim=$BATS_TEST_TMPDIR/victim
	mkdir -p "$victim"
	printf 'alias ls="ls --color"\n' >"$victim/.bashrc"
	echo "private" >"$victim/secret"
	victim_sum=$(cd "$victim" && sha256sum .bashrc secret)
	mods=$PODMANHPC_MODULES_DIR
	echo "injected by the module" >"$mods/x.conf"
	add_module xmod <<-Y
	name: xmod
	cli_arg: xmod
	env: ENABLE_X
	copy:
	  - x.conf:/etc/x.conf
	Y
	add_module ldmod <<-Y
	name: ldmod
	cli_arg: ldmod
	env: ENABLE_LDMOD
	copy:
	  - x.conf:/etc/ld.so.conf.d/x.conf
	Y
	add_home_module
}

victim_unchanged() {
	local now
	now=$(cd "$victim" && sha256sum .bashrc secret)
	if [ "$now" != "$victim_sum" ]; then
		echo "host files changed:"
		diff <(echo "$victim_sum") <(echo "$now")
		return 1
	fi
	[ "$(ls -A "$victim")" = "$(printf '.bashrc\nsecret')" ]
}

# evil_image NAME FN [--change ...]: the tiny image, FN run in its root
# directory to add what the attack needs, imported with the changes given.
evil_image() {
	local name=$1 fn=$2 d
	shift 2
	d=$BATS_TEST_TMPDIR/rootfs-$name
	mkdir -p "$d"
	tar -C "$d" -xf "$(phpc_base)/tiny.tar"
	(cd "$d" && "$fn")
	tar --owner=0 --group=0 --numeric-owner -C "$d" -cf "$d.tar" .
	local changes=()
	for c in "$@"; do changes+=(--change "$c"); done
	"$PHPC" import -q "${changes[@]}" "$d.tar" "localhost/$name" >/dev/null
}

nothing() { :; }

# run with a bound: a hanging hook or podman is a failure, not a stuck suite
run_bounded() {
	run timeout 120 "$@"
	if [ "$status" -eq 124 ]; then
		echo "did not return within 120 s"
		return 1
	fi
}

@test "an image's ENV cannot enable a module, choose LOG_PLUGIN or a rule's variable" {
	evil_image phpc-evil-env nothing \
		"ENV LOG_PLUGIN=$victim/.bashrc" 'ENV ENABLE_GPU=1;echo injected;' \
		'ENV ENABLE_X=1' 'ENV MOUNT_HOME=1' "ENV HOME=$victim"
	run_bounded "$PHPC" run --rm localhost/phpc-evil-env sh -c \
		"cat /etc/x.conf 2>&1; ls $victim 2>&1; echo ran"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "ran" ]
	[[ "$output" != *"injected by the module"* ]]
	[[ "$output" != *"secret"* ]]
	victim_unchanged
	# the user's own choices still work: a flag, and -e VAR=1 typed (NERSC's way)
	run_bounded "$PHPC" run --rm --xmod localhost/phpc-evil-env cat /etc/x.conf
	[ "$status" -eq 0 ]
	[ "$output" = "injected by the module" ]
	run_bounded "$PHPC" run --rm -e ENABLE_X=1 localhost/phpc-evil-env cat /etc/x.conf
	[ "$output" = "injected by the module" ]
	# the rule's $HOME is the user's, not the image's
	run_bounded "$PHPC" run --rm --home localhost/phpc-evil-env ls "$victim"
	[ "$status" -ne 0 ]
	victim_unchanged
	"$PHPC" rmi localhost/phpc-evil-env >/dev/null
}

plant_request() {
	mkdir -p podman-hpc/requests storage/podman-hpc/requests
	for f in podman-hpc/requests/0123456789abcdef0123456789abcdef \
		storage/podman-hpc/requests/0123456789abcdef0123456789abcdef; do
		printf '{"token":"0123456789abcdef0123456789abcdef","modules_dir":"%s","modules":["xmod"],"env":{},"log":"%s/.bashrc"}' \
			"$PODMANHPC_MODULES_DIR" "$victim" >"$f"
		chmod 600 "$f"
	done
}

@test "an image that carries podman-hpc's annotations and a forged request gets nothing" {
	evil_image phpc-evil-ann plant_request
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	printf 'FROM localhost/phpc-evil-ann\nLABEL podman_hpc.request=0123456789abcdef0123456789abcdef\n' \
		>"$ctx/Containerfile"
	"$PHPC" build -q --annotation podman_hpc.hook_tool=true \
		--annotation podman_hpc.request=0123456789abcdef0123456789abcdef \
		-t localhost/phpc-evil-ann2 "$ctx" >/dev/null
	run "$PHPC" image inspect --format '{{.Annotations}}' localhost/phpc-evil-ann2
	[[ "$output" == *"podman_hpc.request"* ]] # the attack is in place
	run_bounded "$PHPC" run --rm localhost/phpc-evil-ann2 sh -c 'cat /etc/x.conf 2>&1; echo ran'
	[ "$status" -eq 0 ]
	[ "$output" != "injected by the module" ]
	[[ "$output" == *"ran"* ]]
	victim_unchanged
	# plain podman with our hook's directory: the hook runs, finds no request
	hooks=$("$PHPC" infohpc | sed -n 's/^hooks_dir ([^)]*): //p')
	mp=$("$PHPC" infohpc | sed -n 's/^mount_program ([^)]*): //p')
	run_bounded podman --root "$base/storage" --runroot "$base/run" \
		--storage-opt "mount_program=$mp" --storage-opt ignore_chown_errors=true \
		--hooks-dir "$hooks" run --rm localhost/phpc-evil-ann2 sh -c 'cat /etc/x.conf 2>&1; echo ran'
	[ "$status" -eq 0 ]
	[[ "$output" != *"injected by the module"* ]]
	victim_unchanged
	# with the user's flag the user's request wins over the image's annotation
	run_bounded "$PHPC" run --rm --xmod localhost/phpc-evil-ann2 cat /etc/x.conf
	[ "$output" = "injected by the module" ]
	victim_unchanged
	"$PHPC" rmi localhost/phpc-evil-ann2 localhost/phpc-evil-ann >/dev/null
}

@test "LOG_PLUGIN: no symlink followed, no hard link written, no file truncated, mode 0600" {
	d=$BATS_TEST_TMPDIR/logs
	mkdir -p "$d"
	ln -s "$victim/.bashrc" "$d/link.log"
	run_bounded "$PHPC" run --rm --xmod -e LOG_PLUGIN="$d/link.log" "$IMG" true
	[ "$status" -eq 0 ]
	[ -L "$d/link.log" ]
	ln "$victim/.bashrc" "$d/hard.log"
	run_bounded "$PHPC" run --rm --xmod -e LOG_PLUGIN="$d/hard.log" "$IMG" true
	[ "$status" -eq 0 ]
	rm "$d/hard.log"
	victim_unchanged
	# a symlinked directory on the way: resolved by podman-hpc as the user
	ln -s "$d" "$BATS_TEST_TMPDIR/logdir"
	run_bounded "$PHPC" run --rm --xmod -e LOG_PLUGIN="$BATS_TEST_TMPDIR/logdir/new.log" "$IMG" true
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$d/new.log")" = 600 ]
	grep -q 'applying module xmod' "$d/new.log"
	# an existing log of the user's is appended to, never truncated
	lines_before=$(wc -l <"$d/new.log")
	run_bounded "$PHPC" run --rm --xmod -e LOG_PLUGIN="$d/new.log" "$IMG" true
	[ "$(wc -l <"$d/new.log")" -gt "$lines_before" ]
	[ "$(grep -c 'podman-hpc-hook ' "$d/new.log")" -eq 2 ]
	# a directory that does not exist, or a name too long, is one clear
	# error before podman starts
	use_fake_podman
	run "$PHPC" run --rm --xmod -e LOG_PLUGIN=/nonexistent/dir/x.log "$IMG" true
	assert_phpc_error "LOG_PLUGIN=/nonexistent/dir/x.log" "/nonexistent/dir"
	run "$PHPC" run --rm --xmod -e "LOG_PLUGIN=$d/$(printf 'x%.0s' $(seq 1 300))" "$IMG" true
	assert_phpc_error "LOG_PLUGIN: the file name is longer than 255 bytes"
}

dangling_newline() {
	ln -s "$(printf 'nowhere\ninjected line\033[31m')" etc/x.d
}

@test "the image's file names reach the log and the terminal escaped" {
	evil_image phpc-evil-name dangling_newline
	add_module xd <<-Y
	name: xd
	cli_arg: xd
	env: ENABLE_XD
	copy:
	  - x.conf:/etc/x.d/x.conf
	Y
	log=$BATS_TEST_TMPDIR/hook.log
	run_bounded "$PHPC" run --rm --xd -e LOG_PLUGIN="$log" localhost/phpc-evil-name true
	[ "$status" -ne 0 ]
	[[ "$output" == *'nowhere\x0ainjected line\x1b[31m'* ]]
	# (bats's errexit does not stop at a failed '! cmd': '|| false' does)
	! grep -q '^injected' <<<"$output" || false
	grep -q 'nowhere\\x0ainjected line\\x1b' "$log"
	! grep -q '^injected' "$log" || false
	! grep -q $'\033' "$log" || false
	"$PHPC" rmi localhost/phpc-evil-name >/dev/null
}

fifo_at_destination() { mkfifo etc/x.conf; }

# (an image layer cannot carry a socket: tar drops them)
@test "a FIFO at a copy's destination is refused at once, nothing hangs" {
	evil_image phpc-evil-fifo fifo_at_destination
	start=$(date +%s)
	run_bounded "$PHPC" run --rm --xmod localhost/phpc-evil-fifo echo started
	[ "$status" -ne 0 ]
	[ $(($(date +%s) - start)) -lt 60 ]
	[[ "$output" != *started* ]]
	[[ "$output" == *"x.conf is a FIFO in the image: refusing to write over it"* ]]
	! pgrep -u "$(id -u)" -f podman-hpc-hook || false
	"$PHPC" rmi localhost/phpc-evil-fifo >/dev/null
}

device_at_destination() { mknod etc/x.conf c 1 3; }

@test "a device node at a copy's destination is refused (never the host's device)" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "an unprivileged user cannot make a device node for the image"
	fi
	evil_image phpc-evil-dev device_at_destination
	run_bounded "$PHPC" run --rm --xmod localhost/phpc-evil-dev echo started
	[ "$status" -ne 0 ]
	[[ "$output" == *"x.conf is a character device in the image"* ]]
	[ -c /dev/null ]
	"$PHPC" rmi localhost/phpc-evil-dev >/dev/null
}

hardlinked_destination() { echo "image data" >etc/orig.conf && ln etc/orig.conf etc/x.conf; }

@test "a copy over a hard link replaces the link, the other name keeps its data" {
	evil_image phpc-evil-hl hardlinked_destination
	run_bounded "$PHPC" run --rm --xmod localhost/phpc-evil-hl cat /etc/x.conf /etc/orig.conf
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "injected by the module" ]
	[ "${lines[1]}" = "image data" ]
	"$PHPC" rmi localhost/phpc-evil-hl >/dev/null
}

@test "a container started again keeps the modules it was created with, and only those" {
	HOME=$victim run_bounded "$PHPC" create --name phpc-restart --home "$IMG" cat "$victim/secret"
	[ "$status" -eq 0 ]
	token=$("$PHPC" inspect --format '{{index .Config.Annotations "podman_hpc.request"}}' phpc-restart)
	[ -e "$base/storage/podman-hpc/requests/$token" ]
	for i in 1 2; do
		run_bounded "$PHPC" start -a phpc-restart
		[ "$status" -eq 0 ]
		[ "$output" = "private" ]
	done
	# the request moved into the container's own directory, and goes with it
	[ ! -e "$base/storage/podman-hpc/requests/$token" ]
	id=$("$PHPC" inspect --format '{{.Id}}' phpc-restart)
	[ -e "$base/storage/overlay-containers/$id/userdata/podman-hpc-request.json" ]
	"$PHPC" rm phpc-restart >/dev/null
	[ ! -e "$base/storage/overlay-containers/$id" ]
	victim_unchanged
}

@test "a copy of many files and deep paths works and stays inside" {
	src=$BATS_TEST_TMPDIR/many
	deep=$src/$(printf 'd%.0s/' $(seq 1 40))
	mkdir -p "$deep"
	for i in $(seq 1 500); do echo "$i" >"$src/f$i"; done
	echo deep >"$deep/leaf"
	add_module many <<-Y
	name: many
	cli_arg: many
	env: ENABLE_MANY
	copy:
	  - $src:/opt/many
	Y
	run_bounded "$PHPC" run --rm --many "$IMG" sh -c \
		"ls /opt/many | wc -l; cat /opt/many/f500 /opt/many/$(printf 'd%.0s/' $(seq 1 40))leaf"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 501 ]
	[ "${lines[1]}" = 500 ]
	[ "${lines[2]}" = deep ]
}

@test "a run_root planted by another user in a shared directory is refused" {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root to plant a directory owned by someone else"
	fi
	shared=$BATS_TEST_TMPDIR/shared
	mkdir -m 1777 "$shared"
	mkdir -m 0777 "$shared/1000_hpc"
	chown nobody "$shared/1000_hpc"
	PODMANHPC_RUN_ROOT=$shared/1000_hpc run "$PHPC" ps
	assert_phpc_error "$shared/1000_hpc belongs to user nobody" "not to you" \
		"run_root (env: PODMANHPC_RUN_ROOT)" "remove it"
	[ -z "$(ls -A "$shared/1000_hpc")" ] # nothing written into it
	# a squash store another user owns below a shared directory
	mkdir -m 0755 "$shared/storage"
	chown nobody "$shared/storage"
	SQUASH_DIR=$shared/storage run "$PHPC" images
	assert_phpc_error "$shared/storage belongs to user nobody" "SQUASH_DIR"
}

@test "a symlink or a world-writable directory on the way to your storage is refused" {
	shared=$BATS_TEST_TMPDIR/shared
	mkdir -m 1777 "$shared"
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$shared/me_hpc"
	PODMANHPC_RUN_ROOT=$shared/me_hpc run "$PHPC" ps
	assert_phpc_error "$shared/me_hpc is a symbolic link" "run_root"
	PODMANHPC_GRAPH_ROOT=$shared/me_hpc/storage run "$PHPC" ps
	assert_phpc_error "$shared/me_hpc is a symbolic link" "graph_root"
	mkdir -m 0777 "$shared/open"
	PODMANHPC_RUN_ROOT=$shared/open/run run "$PHPC" ps
	assert_phpc_error "$shared/open is writable by others" "chmod go-w"
	mkdir -m 0777 "$BATS_TEST_TMPDIR/store"
	SQUASH_DIR=$BATS_TEST_TMPDIR/store run "$PHPC" images
	assert_phpc_error "$BATS_TEST_TMPDIR/store is writable by everyone" "SQUASH_DIR"
	PODMANHPC_ADDITIONAL_STORES=$BATS_TEST_TMPDIR/store run "$PHPC" images
	assert_phpc_error "additional_stores $BATS_TEST_TMPDIR/store is writable by everyone"
}

@test "directories podman-hpc creates are the user's, mode 0700" {
	fresh=$BATS_TEST_TMPDIR/fresh
	use_fake_podman
	PODMANHPC_RUN_ROOT=$fresh/run PODMANHPC_GRAPH_ROOT=$fresh/run/storage \
		PODMANHPC_CONFIG_HOME=$fresh/config run "$PHPC" ps
	[ "$status" -eq 0 ]
	for d in "$fresh/run" "$fresh/run/storage" "$fresh/config"; do
		[ "$(stat -c '%a %u' "$d")" = "700 $(id -u)" ]
	done
}

@test "without SCRATCH or SQUASH_DIR the squash store is the user's own, not /tmp/storage" {
	use_fake_podman
	env -u SQUASH_DIR -u SCRATCH "$PHPC" images
	fake_argv 1 | grep -qx "additionalimagestore=$base/run/squash"
	run env -u SQUASH_DIR -u SCRATCH "$PHPC" infohpc
	[[ "$output" == *"squash_dir (default): $base/run/squash"* ]]
	[ "$(stat -c '%a %u' "$base/run/squash")" = "700 $(id -u)" ]
}

@test "build: RUN steps see the modules, the image keeps no annotation, variable, file or mount point" {
	libs=$BATS_TEST_TMPDIR/libs
	mkdir -p "$libs"
	echo "lib data" >"$libs/libfake.so.1"
	add_module lib <<-Y
	name: lib
	cli_arg: lib
	env: ENABLE_LIB
	bind:
	  - $libs/libfake.so.1:/usr/lib/fake/deep/libfake.so.1
	Y
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	printf 'FROM %s\nRUN cat /etc/x.conf /usr/lib/fake/deep/libfake.so.1 > /built.txt && mkdir -p /usr/lib/keep && echo mine > /usr/lib/keep/f\n' \
		"$IMG" >"$ctx/Containerfile"
	# (buildah's layer cache does not key on --volume: build afresh)
	run_bounded "$PHPC" build --no-cache --xmod --lib -t localhost/phpc-built-sec "$ctx"
	[ "$status" -eq 0 ]
	run "$PHPC" run --rm localhost/phpc-built-sec sh -c \
		'cat /built.txt; cat /usr/lib/keep/f; ls -d /etc/x.conf /usr/lib/fake 2>&1 | grep -c "No such file"'
	[ "${lines[0]}" = "injected by the module" ]
	[ "${lines[1]}" = "lib data" ]
	[ "${lines[2]}" = "mine" ] # the step's own files stay
	[ "${lines[3]}" = 2 ]      # the mount points do not
	run "$PHPC" image inspect --format '{{.Config.Env}} {{.Annotations}} {{.Labels}}' \
		localhost/phpc-built-sec
	[[ "$output" != *podman_hpc* && "$output" != *PODMANHPC* && "$output" != *ENABLE_* ]]
	# the layers themselves
	"$PHPC" save -o "$BATS_TEST_TMPDIR/built.tar" localhost/phpc-built-sec
	mkdir "$BATS_TEST_TMPDIR/saved"
	tar -C "$BATS_TEST_TMPDIR/saved" -xf "$BATS_TEST_TMPDIR/built.tar"
	listing=$(for l in "$BATS_TEST_TMPDIR"/saved/*/layer.tar; do tar -tf "$l"; done)
	grep -q 'built.txt' <<<"$listing"
	! grep -E '(^|/)etc/x.conf$|usr/lib/fake' <<<"$listing" || false
	"$PHPC" rmi localhost/phpc-built-sec >/dev/null
}

@test "shared-run: an image's PMI_FD gets it no host fd, and the task holds none" {
	for fd in 4 5 7; do
		evil_image "phpc-evil-pmi$fd" nothing "ENV PMI_FD=$fd"
		# shellcheck disable=SC2016 # the task's sh expands them
		run_bounded env -u PMI_FD "$PHPC" shared-run --rm "localhost/phpc-evil-pmi$fd" sh -c \
			'for f in /proc/$$/fd/*; do echo "$f -> $(readlink "$f")"; done; echo "PMI_FD=[$PMI_FD]"'
		[ "$status" -eq 0 ]
		[[ "$output" == *"PMI_FD=[]"* ]]
		# stdio only: no state directory, lock or host directory
		! grep -E -- "-> .*(shared-run|$base|^/$)" <<<"$output" || false
		[ "$(grep -c -- ' -> ' <<<"$output")" -le 4 ]
		# the step's monitor removes the container in the background
		for _ in $(seq 100); do
			[ -z "$("$PHPC" ps -aq --filter "ancestor=localhost/phpc-evil-pmi$fd")" ] && break
			sleep 0.2
		done
		"$PHPC" rmi "localhost/phpc-evil-pmi$fd" >/dev/null
	done
}

@test "the image's ldconfig gets neither the log nor more than its time" {
	fake_ldconfig() {
		mkdir -p sbin
		printf '#!/bin/sh\necho FORGED-LINE\ncat /proc/self/fd/2 > /tmp/leaked 2>/dev/null\necho x > /tmp/ran\n' >sbin/ldconfig
		chmod +x sbin/ldconfig
	}
	evil_image phpc-evil-ldc fake_ldconfig
	log=$BATS_TEST_TMPDIR/hook.log
	echo "PRIOR LINE $victim/secret-path" >"$log"
	chmod 600 "$log"
	# ldmod injects loader configuration: the image's ldconfig runs
	run_bounded "$PHPC" run --rm --ldmod -e LOG_PLUGIN="$log" localhost/phpc-evil-ldc \
		sh -c 'cat /tmp/ran; cat /tmp/leaked 2>/dev/null | wc -c'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = x ]   # the image's ldconfig did run
	[ "${lines[1]}" = 0 ]   # and read nothing of the host's log
	! grep -q FORGED-LINE "$log" || false
	grep -q "PRIOR LINE" "$log"
	"$PHPC" rmi localhost/phpc-evil-ldc >/dev/null
}
