#!/bin/sh
# meson install script: the hooks.d entry for podman-hpc-hook, written by the
# just-installed podman-hpc. An existing different entry is kept (it may be
# the site's); `podman-hpc configure-hooks --force` replaces it.
set -eu
dir="${DESTDIR:-}$1"
PODMANHPC_CONFIG_FILE=/dev/null "${DESTDIR:-}$2" configure-hooks --hooksd "$dir" ||
	echo "podman-hpc: kept the existing hooks.d entry in $dir"
