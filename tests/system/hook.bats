#!/usr/bin/env bats
# The OCI hook with the real podman, as root and as the unprivileged user: a
# fake NVIDIA driver stack (real shared libraries, a tool, /dev/null as
# /dev/nvidia0) injected into a glibc image made on this machine.

load ../lib/common

GIMG=localhost/phpc-glibc

setup_file() {
	phpc_env
	local base
	base=$(phpc_base)
	if ! "$PHPC" image exists "$GIMG" 2>/dev/null; then
		[ -e "$base/glibc.tar" ] || "$TESTS_LIB/make-glibc-image" "$base/glibc.tar"
		"$PHPC" import "$base/glibc.tar" "$GIMG" >/dev/null
	fi
	export FAKE_GPU=$BATS_FILE_TMPDIR/gpu
	"$TESTS_LIB/make-fake-gpu" "$FAKE_GPU" 3
}

setup() {
	phpc_env
	export PODMANHPC_MODULES_DIR=$FAKE_GPU/modules.d
	arch=$(gcc -print-multiarch)
}

@test "--gpu: ldconfig lists the libraries, dlopen works, the device and tool are there" {
	# (the directory the image lacked is a private tmpfs: nothing lands in its layer)
	run "$PHPC" run --rm --gpu "$GIMG" sh -c \
		'ldconfig -p; dlcall libcuda.so.1 cuDriverGetVersion; test -c /dev/nvidia0 && echo dev-ok; nvidia-smi'
	[ "$status" -eq 0 ]
	[[ "$output" == *"libcuda.so.1 (libc6,x86-64) => /usr/lib/$arch/nvidia/libcuda.so.1"* ]]
	[[ "$output" == *"libnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/$arch/nvidia/libnvidia-ml.so.1"* ]]
	[[ "$output" == *"libcuda.so.1 cuDriverGetVersion = 12040"* ]]
	[[ "$output" == *"dev-ok"* ]]
	[[ "$output" == *"NVIDIA-SMI fake driver"* ]]
}

@test "without --gpu none of it is there" {
	run "$PHPC" run --rm "$GIMG" sh -c \
		"ldconfig -p | grep -c nvidia; ls /dev/nvidia0 /usr/lib/$arch/nvidia /etc/ld.so.conf.d/02-gpu.conf 2>&1"
	[ "${lines[0]}" = "0" ]
	[ "$(grep -c 'No such file' <<<"$output")" -eq 3 ]
	run "$PHPC" run --rm "$GIMG" dlcall libcuda.so.1 cuDriverGetVersion
	[ "$status" -ne 0 ]
}

@test "a copy rule puts the config file in place" {
	run "$PHPC" run --rm --gpu "$GIMG" cat /etc/ld.so.conf.d/02-gpu.conf
	[ "$status" -eq 0 ]
	[ "$output" = "/usr/lib/$arch/nvidia" ]
}

@test "the module's env variable alone enables it in the hook, binds included" {
	run "$PHPC" run --rm -e ENABLE_GPU=1 "$GIMG" dlcall libcuda.so.1 cuDriverGetVersion
	[ "$status" -eq 0 ]
	[ "$output" = "libcuda.so.1 cuDriverGetVersion = 12040" ]
	run "$PHPC" run --rm -e ENABLE_GPU=1 "$GIMG" sh -c 'test -c /dev/nvidia0 && nvidia-smi'
	[ "$status" -eq 0 ]
}

@test "a module whose variable is 0, false or empty does not apply (NERSC applied it)" {
	for v in 0 false ""; do
		run "$PHPC" run --rm -e "ENABLE_GPU=$v" "$GIMG" ls /etc/ld.so.conf.d/02-gpu.conf
		[ "$status" -ne 0 ]
	done
}

@test "LOG_PLUGIN writes the hook's decisions to a host file" {
	log=$BATS_TEST_TMPDIR/hook.log
	run "$PHPC" run --rm --gpu -e LOG_PLUGIN="$log" "$GIMG" true
	[ "$status" -eq 0 ]
	grep -q '\] podman-hpc-hook ' "$log"
	grep -q '\] module gpu: requested by the user' "$log"
	grep -q "copy $FAKE_GPU/01-gpu.conf -> /etc/ld.so.conf.d/02-gpu.conf" "$log"
	grep -q 'ldconfig: done' "$log"
}

@test "a module that injects no library does not run the image's ldconfig" {
	cat >"$PODMANHPC_MODULES_DIR/tool.yaml" <<-Y
	name: tool
	cli_arg: tool
	env: ENABLE_TOOL
	bind:
	  - $FAKE_GPU/bin/nvidia-smi:/usr/bin/phpc-tool
	  - /dev/null:/dev/phpc-null
	Y
	log=$BATS_TEST_TMPDIR/hook.log
	run "$PHPC" run --rm --tool -e LOG_PLUGIN="$log" "$GIMG" sh -c 'phpc-tool; test -c /dev/phpc-null && echo dev-ok'
	rm -f "$PODMANHPC_MODULES_DIR/tool.yaml"
	[ "$status" -eq 0 ]
	[[ "$output" == *dev-ok* ]]
	grep -q 'ldconfig: not needed' "$log"
	! grep -q 'ldconfig: done' "$log" || false
}

@test "an image's symlinks cannot make the hook write outside the container" {
	victim=$BATS_TEST_TMPDIR/host-victim
	mkdir -p "$victim"
	echo "host data" >"$victim/keep.conf"
	# an image whose paths point out of its root, absolutely and with ..
	d=$BATS_TEST_TMPDIR/evil
	mkdir -p "$d/etc" "$d/bin"
	cp /bin/busybox "$d/bin/"
	ln -s busybox "$d/bin/sh"
	ln -s busybox "$d/bin/cat"
	ln -s "$victim" "$d/etc/ld.so.conf.d"
	ln -s "$victim/keep.conf" "$d/etc/evil.conf"
	ln -s "../../../../../../../../$victim" "$d/etc/dots"
	tar --owner=0 --group=0 --numeric-owner -C "$d" -cf "$BATS_TEST_TMPDIR/evil.tar" .
	"$PHPC" import -q "$BATS_TEST_TMPDIR/evil.tar" localhost/phpc-evil >/dev/null
	mods=$BATS_TEST_TMPDIR/mods
	mkdir -p "$mods"
	echo "evil" >"$mods/payload.conf"
	cat >"$mods/evil.yaml" <<-Y
	name: evil
	cli_arg: evil
	env: ENABLE_EVIL
	copy:
	  - payload.conf:/etc/ld.so.conf.d/02-evil.conf
	  - payload.conf:/etc/dots/03-evil.conf
	Y
	cat >"$mods/final.yaml" <<-Y
	name: final
	cli_arg: final
	env: ENABLE_FINAL
	copy:
	  - payload.conf:/etc/evil.conf
	Y
	PODMANHPC_MODULES_DIR=$mods run "$PHPC" run --rm --evil localhost/phpc-evil true
	[ "$status" -ne 0 ] # refused: the symlinks lead nowhere inside the container
	[[ "$output" == *"podman-hpc-hook"*"symlink"* ]]
	PODMANHPC_MODULES_DIR=$mods run "$PHPC" run --rm --final localhost/phpc-evil cat /etc/evil.conf
	[ "$status" -eq 0 ]
	[ "$output" = "evil" ] # the symlink was replaced inside the container
	cat >"$mods/bind.yaml" <<-Y
	name: bind
	cli_arg: evilbind
	env: ENABLE_EVILBIND
	bind:
	  - /dev/null:/etc/ld.so.conf.d/mountpoint
	  - /dev/null:/etc/dots/mountpoint2
	Y
	PODMANHPC_MODULES_DIR=$mods run "$PHPC" run --rm --evilbind localhost/phpc-evil true
	[ "$status" -ne 0 ]
	[[ "$output" == *"podman-hpc-hook"*"symlink"* ]]
	[ "$(ls -A "$victim")" = "keep.conf" ]
	[ "$(cat "$victim/keep.conf")" = "host data" ]
	"$PHPC" rmi localhost/phpc-evil >/dev/null
}

@test "a real failure stops the container with a clear message" {
	mods=$BATS_TEST_TMPDIR/mods
	mkdir -p "$mods"
	echo x >"$mods/f.conf"
	cat >"$mods/bad.yaml" <<-Y
	name: bad
	cli_arg: bad
	env: ENABLE_BAD
	copy:
	  - f.conf:/etc
	Y
	PODMANHPC_MODULES_DIR=$mods run "$PHPC" run --rm --bad "$GIMG" echo started
	[ "$status" -ne 0 ]
	[[ "$output" != *"started"* ]]
	[[ "$output" == *"podman-hpc-hook: module bad: cannot copy $mods/f.conf to /etc"* ]]
}

@test "a missing source is skipped with a log line, the container starts" {
	mods=$BATS_TEST_TMPDIR/mods
	mkdir -p "$mods"
	cat >"$mods/opt.yaml" <<-Y
	name: opt
	cli_arg: opt
	env: ENABLE_OPT
	copy:
	  - /nonexistent/lib*.so:/opt/
	Y
	log=$BATS_TEST_TMPDIR/hook.log
	PODMANHPC_MODULES_DIR=$mods run "$PHPC" run --rm --opt -e LOG_PLUGIN="$log" "$GIMG" echo started
	[ "$status" -eq 0 ]
	[ "$output" = "started" ]
	grep -q 'no source matches /nonexistent/lib\*.so, skipped' "$log"
}

@test "modules on build (NERSC #34): RUN steps see the driver, the image keeps none of it" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	printf 'FROM %s\nRUN dlcall /usr/lib/%s/nvidia/libcuda.so.1 cuDriverGetVersion > /built.txt && cat /etc/ld.so.conf.d/02-gpu.conf >> /built.txt\n' \
		"$GIMG" "$arch" >"$ctx/Containerfile"
	run "$PHPC" build --no-cache --gpu -t localhost/phpc-built "$ctx"
	[ "$status" -eq 0 ]
	run "$PHPC" run --rm localhost/phpc-built sh -c \
		"cat /built.txt; ls -d /usr/lib/$arch/nvidia /etc/ld.so.conf.d/02-gpu.conf 2>&1 | grep -c 'No such file'; env | grep -c ENABLE_GPU"
	[ "${lines[0]}" = "/usr/lib/$arch/nvidia/libcuda.so.1 cuDriverGetVersion = 12040" ]
	[ "${lines[1]}" = "/usr/lib/$arch/nvidia" ]
	# not even the empty mount points (podman-hpc-build-runtime removes them)
	[ "${lines[2]}" = "2" ]
	[ "${lines[3]}" = "0" ]
	"$PHPC" rmi localhost/phpc-built >/dev/null
}
