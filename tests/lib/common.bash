# Shared set-up for the system tests. They run the installed podman-hpc, as
# root and as the unprivileged test user, against the real podman; a separate
# per-run storage keeps them away from the user's own images.

PHPC=${PHPC:-podman-hpc}
TESTS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMG=localhost/phpc-tiny

# Per-user, per-suite storage: cleaned by the runner at the end.
phpc_base() {
	echo "${PHPC_TEST_BASE:-/tmp/phpc-test-$(id -u)}"
}

phpc_env() {
	local base
	base=$(phpc_base)
	export PODMANHPC_GRAPH_ROOT="$base/storage"
	export PODMANHPC_RUN_ROOT="$base/run"
	export PODMANHPC_CONFIG_HOME="$base/config"
	export SQUASH_DIR="$base/squash"
	# site files are per test: what one test writes never reaches another
	local site=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-$base}}
	export PODMANHPC_MODULES_DIR="$site/modules.d"
	export PODMANHPC_CONFIG_FILE="$site/podman_hpc.yaml"
	mkdir -p "$base" "$PODMANHPC_MODULES_DIR"
	[ -e "$PODMANHPC_CONFIG_FILE" ] || echo "# test site config" >"$PODMANHPC_CONFIG_FILE"
	unset PODMANHPC_PODMAN_BIN PODMANHPC_USE_DEFAULT_ARGS
}

# Installs a module file into the test modules dir.
add_module() {
	cat >"$PODMANHPC_MODULES_DIR/$1.yaml"
}

# The site module NERSC ships as home.yaml: $HOME bound read-write, enabled
# by --home or MOUNT_HOME=1.
add_home_module() {
	add_module home <<-'Y'
	name: home
	cli_arg: home
	env: MOUNT_HOME
	bind:
	  - $HOME:$HOME
	Y
}

# Imports the tiny image once per suite run.
ensure_image() {
	if ! "$PHPC" image exists "$IMG" 2>/dev/null; then
		local tar
		tar="$(phpc_base)/tiny.tar"
		[ -e "$tar" ] || "$TESTS_LIB/make-tiny-image" "$tar"
		"$PHPC" import "$tar" "$IMG" >/dev/null
	fi
}

# Uses the fake podman for this test; $FAKE_PODMAN_LOG records its calls.
use_fake_podman() {
	export PODMANHPC_PODMAN_BIN="$TESTS_LIB/fake-podman"
	export FAKE_PODMAN_LOG="$BATS_TEST_TMPDIR/podman.log"
	rm -f "$FAKE_PODMAN_LOG"
}

# The argv of the fake podman's Nth invocation (1-based), one per line.
fake_argv() {
	awk -v n="${1:-1}" '/^=== invocation/ { c++; on = (c == n); next }
		/^--- / { on = 0 } on { print }' "$FAKE_PODMAN_LOG"
}

# A value from the fake podman's Nth invocation's environment block.
fake_env() {
	awk -v n="${2:-1}" -v k="$1" '/^=== invocation/ { c++; on = 0; next }
		/^--- env/ { on = (c == n); next } /^--- / { on = 0 }
		on && index($0, k "=") == 1 { print substr($0, length(k) + 2) }' "$FAKE_PODMAN_LOG"
}

fake_calls() {
	[ -e "$FAKE_PODMAN_LOG" ] || { echo 0; return; }
	grep -c '^=== invocation' "$FAKE_PODMAN_LOG"
}

# Asserts the last command failed with podman-hpc's own exit code, one
# "Error: ..." line containing every argument, and no podman started.
# shellcheck disable=SC2154 # status and output are set by bats's run
assert_phpc_error() {
	if [ "$status" -ne 125 ]; then
		echo "expected exit 125, got $status; output: $output"
		return 1
	fi
	local errs
	errs=$(grep -c '^Error: ' <<<"$output" || true)
	if [ "$errs" -ne 1 ]; then
		echo "expected exactly one Error: line, got: $output"
		return 1
	fi
	local s
	for s in "$@"; do
		if [[ "$output" != *"$s"* ]]; then
			echo "message lacks \"$s\": $output"
			return 1
		fi
	done
	if [ -n "${FAKE_PODMAN_LOG:-}" ] && [ "$(fake_calls)" -ne 0 ]; then
		echo "podman was started although podman-hpc failed"
		return 1
	fi
}
