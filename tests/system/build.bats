#!/usr/bin/env bats
# Rootless builds with podman-hpc build: a Dockerfile whose RUN steps install
# a Debian package from the Debian archive, add a user and give it files.
# As root and as the test user (who has a subuid/subgid range) it works and
# the image keeps the ownership; as a user without a range (phpcnosub, made
# by scripts/setup-host; the root run switches to it) the steps that need
# other ids fail, and the variant docs/site-tools.md gives works.

load ../lib/common
load ../lib/mpi-image
load ../lib/registry

NOSUB_USER=${PHPC_NOSUB_USER:-phpcnosub}
BASE=localhost/phpc-debian

setup_file() {
	phpc_env
}

setup() {
	phpc_env
	require_mpi_image "$BASE"
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
}

teardown() {
	"$PHPC" rmi -f localhost/phpc-built >/dev/null 2>&1 || true
	if [ -n "${NOSUB_BASE:-}" ]; then nosub_cleanup; fi
	stop_registry "$BATS_TEST_TMPDIR/registry" 2>/dev/null || true
}

# The Dockerfile users write on their desktop (FROM $2, or the base).
full_dockerfile() {
	cat >"$1/Dockerfile" <<-EOF
	FROM ${2:-$BASE}
	RUN apt-get update -q && apt-get install -y -q --no-install-recommends hello && hello
	RUN useradd -m alice && install -d -o alice -g alice /srv/data \\
	    && echo x > /srv/data/f && chown alice:alice /srv/data/f
	USER alice
	RUN id -un > /srv/data/whoami
	EOF
}

@test "build as root or as a user with a subuid range: packages, users and owners work" {
	full_dockerfile "$ctx"
	run "$PHPC" build --network host -t localhost/phpc-built "$ctx"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Hello, world!"* ]]
	[[ "$output" != *"no subordinate uid range"* ]]
	run "$PHPC" run --rm localhost/phpc-built sh -c 'stat -c %U:%G:%u /srv/data/f; cat /srv/data/whoami; hello'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]%:*}" = "alice:alice" ]
	[ "${lines[0]##*:}" -ge 1000 ]
	[ "${lines[1]}" = alice ]
	[ "${lines[2]}" = "Hello, world!" ]
}

# Runs a command as the user without a range, with a storage, a site file and
# a build context of its own in NOSUB_BASE.
as_nosub() {
	local home
	home=$(getent passwd "$NOSUB_USER" | cut -d: -f6)
	runuser -u "$NOSUB_USER" -- env -i HOME="$home" USER="$NOSUB_USER" PATH=/usr/bin:/bin \
		PODMANHPC_GRAPH_ROOT="$NOSUB_BASE/storage" PODMANHPC_RUN_ROOT="$NOSUB_BASE/run" \
		PODMANHPC_CONFIG_HOME="$NOSUB_BASE/config" SQUASH_DIR="$NOSUB_BASE/squash" \
		PODMANHPC_CONFIG_FILE="$NOSUB_BASE/podman_hpc.yaml" \
		PODMANHPC_MODULES_DIR="$NOSUB_BASE/modules.d" "$@"
}

nosub_cleanup() {
	as_nosub "$PHPC" rm -af -t 0 >/dev/null 2>&1 || true
	rm -rf "$NOSUB_BASE"
	NOSUB_BASE=
}

@test "build without a subuid range: what needs other ids fails, the documented variant works" {
	[ "$(id -u)" -eq 0 ] || skip "root only: switches to the user without a range ($NOSUB_USER)"
	id "$NOSUB_USER" >/dev/null 2>&1 || skip "no user $NOSUB_USER (scripts/setup-host makes it)"
	run getsubids "$NOSUB_USER"
	[ "$status" -ne 0 ]
	NOSUB_BASE=/tmp/phpc-test-nosub-$$
	rm -rf "$NOSUB_BASE"
	as_nosub mkdir -m 0700 "$NOSUB_BASE" "$NOSUB_BASE/modules.d" "$NOSUB_BASE/ctx"
	as_nosub touch "$NOSUB_BASE/podman_hpc.yaml"
	ctx=$NOSUB_BASE/ctx
	# the base comes from a registry, so that the build itself unpacks its
	# layers, files of group 42 (shadow) among them, with the user's one id
	start_registry "$BATS_TEST_TMPDIR/registry"
	"$PHPC" push -q --tls-verify=false "$BASE" "$REGISTRY/phpc/debian:12"
	from=$REGISTRY/phpc/debian:12
	build=(build --tls-verify=false --network host -t localhost/phpc-built "$ctx")

	# the desktop Dockerfile: apt's drop to _apt fails first
	full_dockerfile "$ctx" "$from"
	chmod 0644 "$ctx/Dockerfile"
	run as_nosub "$PHPC" "${build[@]}"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"warning: you have no subordinate uid range"* ]]
	[[ "$output" == *"seteuid 42 failed"* ]]
	[[ "$output" == *'building at STEP "RUN apt-get update'* ]]

	# a chown to another user fails on its own too
	cat >"$ctx/Dockerfile" <<-EOF
	FROM $from
	RUN useradd alice && touch /f && chown alice /f
	EOF
	chmod 0644 "$ctx/Dockerfile"
	run as_nosub "$PHPC" "${build[@]}"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"chown"*"Invalid argument"* ]]

	# the variant that works: apt without its sandbox user, no other owners
	cat >"$ctx/Dockerfile" <<-EOF
	FROM $from
	RUN apt-get -o APT::Sandbox::User=root update -q \\
	    && apt-get -o APT::Sandbox::User=root install -y -q --no-install-recommends hello
	RUN useradd alice && mkdir -p /srv/data && echo x > /srv/data/f
	EOF
	chmod 0644 "$ctx/Dockerfile"
	run as_nosub "$PHPC" "${build[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	run as_nosub "$PHPC" run --rm localhost/phpc-built sh -c 'hello; getent passwd alice | cut -d: -f1; stat -c %U /srv/data/f'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Hello, world!" ]
	[ "${lines[1]}" = alice ]
	[ "${lines[2]}" = root ]
	# a file of group shadow in the base belongs to root here: one id
	run as_nosub "$PHPC" run --rm localhost/phpc-built stat -c %G /etc/gshadow
	[ "$output" = root ]
}
