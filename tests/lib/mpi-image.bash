# shellcheck shell=bash
# The MPI test image: a Debian 12 (bookworm) minbase root file system with
# Open MPI, MPICH and PMIx, run time only (no compilers), and the two
# mpibench programs (bench/mpi) in /usr/local/bin, built on the host with
# mpicc.openmpi and mpicc.mpich (the host is Debian 12 too, so the libraries
# they link match the image's). Sourced by the bats tests, the benchmarks and
# scripts/setup-host.
#
#   mpi_image_archive    prints the path of the image's tar archive (for
#                        podman import), building it first if needed
#   mpi_image NAME       imports that archive into the caller's podman-hpc
#                        storage (set up by phpc_env) as NAME, unless NAME is
#                        already that image
#   mpi_image_squashed NAME  mpi_image NAME, then migrated to SQUASH_DIR
#                        unless it is there already
#   require_mpi_image NAME   (bats) mpi_image NAME, or skip the test when the
#                        Debian archive could not be reached to build it
#
# The archive is built once per machine, by root (debootstrap needs it; the
# unprivileged test user only reads it), in $MPI_IMAGE_CACHE
# (/var/cache/podman-hpc-tests, 0755, the archives 0644), in two stages:
#   mpi-base-bookworm-KEY.tar  the debootstrap root file system; KEY hashes
#                              the suite, the package list and the recipe
#   mpi-bookworm-KEY.tar       that plus the mpibench binaries; KEY hashes
#                              the base's key, mpibench.c, bench/mpi/build
#                              and the recipe
# so a change to mpibench.c only recompiles and re-tars (seconds), and a
# change to the package list runs debootstrap again (minutes). Builders take
# a lock ($MPI_IMAGE_CACHE/.lock), so concurrent callers build once, and
# write to a temporary file renamed into place, so no reader sees half an
# archive. Old archives are not removed: rm $MPI_IMAGE_CACHE/mpi-* does.
#
# When the Debian archive cannot be reached, the reason is recorded next to
# the base archive (mpi-base-...-KEY.unavailable) and later calls fail with
# it, status 2, without retrying (MPI_IMAGE_RETRY=1 retries, as
# scripts/setup-host does). Other failures have status 1.
#
# Settings (environment): MPI_IMAGE_CACHE, MPI_IMAGE_MIRROR (a Debian
# mirror, http://deb.debian.org/debian), MPI_IMAGE_TIMEOUT (seconds
# debootstrap may take, 1200).

MPI_IMAGE_CACHE=${MPI_IMAGE_CACHE:-/var/cache/podman-hpc-tests}
MPI_IMAGE_MIRROR=${MPI_IMAGE_MIRROR:-http://deb.debian.org/debian}
MPI_IMAGE_TIMEOUT=${MPI_IMAGE_TIMEOUT:-1200}
MPI_IMAGE_SUITE=bookworm
# What the image holds besides minbase (debootstrap adds their run-time
# dependencies: libopenmpi3, libmpich12, hwloc, libfabric, libucx, ...).
MPI_IMAGE_PACKAGES=(openmpi-bin mpich libpmix2)
_MPI_IMAGE_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mpi-image.bash"
_MPI_IMAGE_BENCH="$(dirname "$_MPI_IMAGE_LIB")/../../bench/mpi"

_mpi_image_hash() {
	sha256sum | cut -c1-12
}

# The key of the base stage: suite, packages, the recipe's code.
_mpi_image_base_key() {
	{
		echo "suite $MPI_IMAGE_SUITE"
		echo "packages ${MPI_IMAGE_PACKAGES[*]}"
		declare -f _mpi_image_build_base
	} | _mpi_image_hash
}

# The key of the final archive: the base's key, the program and its build,
# the recipe's code.
_mpi_image_key() {
	local f
	for f in mpibench.c build; do
		[ -r "$_MPI_IMAGE_BENCH/$f" ] || {
			echo "mpi-image: $_MPI_IMAGE_BENCH/$f not found" >&2
			return 1
		}
	done
	{
		_mpi_image_base_key
		cat "$_MPI_IMAGE_BENCH/mpibench.c" "$_MPI_IMAGE_BENCH/build"
		declare -f _mpi_image_build_final
	} | _mpi_image_hash
}

_mpi_image_base_path() {
	echo "$MPI_IMAGE_CACHE/mpi-base-$MPI_IMAGE_SUITE-$(_mpi_image_base_key).tar"
}

mpi_image_archive() {
	local key out base mark
	key=$(_mpi_image_key) || return 1
	out="$MPI_IMAGE_CACHE/mpi-$MPI_IMAGE_SUITE-$key.tar"
	if [ -r "$out" ]; then
		echo "$out"
		return 0
	fi
	base=$(_mpi_image_base_path)
	mark=${base%.tar}.unavailable
	if [ ! -r "$base" ] && [ -r "$mark" ] &&
		{ [ "$(id -u)" -ne 0 ] || [ -z "${MPI_IMAGE_RETRY:-}" ]; }; then
		cat "$mark" >&2
		return 2
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "mpi-image: $out does not exist; build it as root (scripts/setup-host does)" >&2
		return 1
	fi
	# A process of its own, so that set -e holds whatever the caller's
	# context, and its EXIT trap cleans up.
	MPI_IMAGE_CACHE=$MPI_IMAGE_CACHE MPI_IMAGE_MIRROR=$MPI_IMAGE_MIRROR \
		MPI_IMAGE_TIMEOUT=$MPI_IMAGE_TIMEOUT \
		bash -c 'set -euo pipefail; source "$1"; shift; _mpi_image_build "$@"' \
		mpi-image "$_MPI_IMAGE_LIB" "$out" "$base" "$key"
}

mpi_image() {
	local name=${1:?usage: mpi_image NAME} archive key have
	archive=$(mpi_image_archive) || return
	key=${archive##*-}
	key=${key%.tar}
	have=$("${PHPC:-podman-hpc}" image inspect --format '{{index .Labels "podman-hpc-tests.mpi"}}' \
		"$name" 2>/dev/null) || have=
	[ "$have" = "$key" ] && return 0
	# an older build under that name: drop it rather than leave it dangling
	[ -z "$have" ] || "${PHPC:-podman-hpc}" rmi "$name" >/dev/null 2>&1 || true
	"${PHPC:-podman-hpc}" import -q --change "LABEL podman-hpc-tests.mpi=$key" "$archive" "$name" >/dev/null
}

# mpi_image_squashed NAME: mpi_image NAME, and that image migrated to the
# squash store (SQUASH_DIR), unless the store already holds it (same ID).
mpi_image_squashed() {
	local name=${1:?usage: mpi_image_squashed NAME} id listing
	mpi_image "$name" || return
	id=$("${PHPC:-podman-hpc}" image inspect --format '{{.Id}}' "$name") || return
	listing=$("${PHPC:-podman-hpc}" images --no-trunc --format '{{.ID}} {{.ReadOnly}}') || return
	grep -qE "^(sha256:)?${id#sha256:} true$" <<<"$listing" && return 0
	"${PHPC:-podman-hpc}" migrate "$name" >&2
}

require_mpi_image() {
	local why rc=0
	why=$(mpi_image "$@" 2>&1) || rc=$?
	case $rc in
	0) return 0 ;;
	2) skip "$(tail -n 1 <<<"$why")" ;;
	*)
		echo "$why" >&2
		return "$rc"
		;;
	esac
}

# --- the builder (run as root, in its own bash with set -euo pipefail) -------

_mpi_image_work=
_mpi_image_child=

_mpi_image_signalled() {
	if [ -n "$_mpi_image_child" ]; then
		kill -TERM "$_mpi_image_child" 2>/dev/null || true
		wait "$_mpi_image_child" 2>/dev/null || true
	fi
	exit 143 # (the EXIT trap cleans up)
}

_mpi_image_build() {
	local out=$1 base=$2 key=$3
	umask 022
	mkdir -p "$MPI_IMAGE_CACHE"
	chmod 0755 "$MPI_IMAGE_CACHE"
	exec 9>"$MPI_IMAGE_CACHE/.lock"
	if ! flock -w 3600 9; then
		echo "mpi-image: timed out waiting for $MPI_IMAGE_CACHE/.lock" >&2
		exit 1
	fi
	if [ ! -r "$out" ]; then # (or another caller built it meanwhile)
		# what a builder killed outright left (we hold the lock: none runs)
		local old
		for old in "$MPI_IMAGE_CACHE"/.build.*; do
			[ -d "$old" ] && _mpi_image_cleanup "$old"
		done
		_mpi_image_work=$(mktemp -d "$MPI_IMAGE_CACHE/.build.XXXXXX")
		trap '_mpi_image_cleanup "$_mpi_image_work"' EXIT
		trap _mpi_image_signalled TERM INT HUP
		if [ ! -r "$base" ]; then
			_mpi_image_build_base "$base"
		fi
		_mpi_image_build_final "$base" "$out" "$key"
	fi
	echo "$out"
}

_mpi_image_cleanup() {
	local dir=$1 m
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	# whatever debootstrap left mounted (proc, sys), innermost first
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
	rm -rf --one-file-system "$dir"
}

# Records why the Debian archive cannot be used, and exits 2.
_mpi_image_unavailable() {
	local base=$1 why=$2
	echo "MPI image unavailable: $why" >"${base%.tar}.unavailable"
	chmod 0644 "${base%.tar}.unavailable"
	cat "${base%.tar}.unavailable" >&2
	exit 2
}

_mpi_image_build_base() {
	local base=$1 root=$_mpi_image_work/root log=$_mpi_image_work/debootstrap.out
	local pkgs rc=0 start=$SECONDS
	command -v debootstrap >/dev/null || {
		echo "mpi-image: debootstrap is not installed (scripts/install-deps installs it)" >&2
		exit 1
	}
	if ! wget -q -T 20 -t 2 -O /dev/null "$MPI_IMAGE_MIRROR/dists/$MPI_IMAGE_SUITE/Release"; then
		_mpi_image_unavailable "$base" "cannot reach the Debian archive ($MPI_IMAGE_MIRROR)"
	fi
	pkgs=$(IFS=,; echo "${MPI_IMAGE_PACKAGES[*]}")
	echo "mpi-image: debootstrap $MPI_IMAGE_SUITE minbase + $pkgs (once per machine; a few minutes)" >&2
	mkdir -p "$MPI_IMAGE_CACHE/debs"
	# In the background, so that a signal to us stops it (timeout, which
	# leads the process group of debootstrap, wget and dpkg, passes it on).
	timeout "$MPI_IMAGE_TIMEOUT" debootstrap --variant=minbase --include="$pkgs" \
		--cache-dir="$MPI_IMAGE_CACHE/debs" "$MPI_IMAGE_SUITE" "$root" "$MPI_IMAGE_MIRROR" \
		>"$log" 2>&1 &
	_mpi_image_child=$!
	wait "$_mpi_image_child" || rc=$?
	_mpi_image_child=
	if [ "$rc" -ne 0 ]; then
		[ -r "$root/debootstrap/debootstrap.log" ] && cat "$root/debootstrap/debootstrap.log" >>"$log"
		if [ "$rc" -eq 124 ]; then
			_mpi_image_unavailable "$base" "debootstrap from $MPI_IMAGE_MIRROR took over $MPI_IMAGE_TIMEOUT s"
		fi
		local net
		net=$(grep -Ei -m 1 "couldn't download|failed getting release|couldn't find release|temporary failure|unable to (resolve|connect)|connection (refused|timed out)|hash sum mismatch" "$log" || true)
		[ -z "$net" ] || _mpi_image_unavailable "$base" "debootstrap could not download from $MPI_IMAGE_MIRROR: $net"
		echo "mpi-image: debootstrap failed ($rc); the end of its output:" >&2
		tail -n 25 "$log" >&2
		exit 1
	fi
	# What the tests need not carry: documentation, apt's indexes and
	# downloads, logs, the build host's name and resolver.
	rm -rf "$root"/usr/share/{doc,man,info,locale}/* "$root"/var/lib/apt/lists/* \
		"$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
		"$root"/var/log/apt/* "$root/etc/hostname" "$root/etc/resolv.conf"
	dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package} ${Version}\n' \
		"${MPI_IMAGE_PACKAGES[@]}" libopenmpi3 libmpich12 libc6 >"$root/etc/mpi-image-packages"
	tar --numeric-owner --one-file-system -C "$root" \
		--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
		--exclude='./tmp/*' --exclude='./debootstrap' -cf "$_mpi_image_work/base.tar" .
	chmod 0644 "$_mpi_image_work/base.tar"
	mv -f "$_mpi_image_work/base.tar" "$base"
	rm -f "${base%.tar}.unavailable"
	rm -rf --one-file-system "$root"
	echo "mpi-image: $base ($((SECONDS - start)) s)" >&2
}

_mpi_image_build_final() {
	local base=$1 out=$2 key=$3 stage=$_mpi_image_work/final listing b lib
	mkdir -p "$stage/usr/local/bin" "$stage/etc"
	"$_MPI_IMAGE_BENCH/build" "$stage/usr/local/bin" >&2
	# Each library the programs link must be in the image.
	listing=$(tar -tf "$base")
	for b in "$stage"/usr/local/bin/mpibench-*; do
		for lib in $(readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
			grep -q "/$lib\$" <<<"$listing" || {
				echo "mpi-image: ${b##*/} needs $lib, which the image lacks" >&2
				exit 1
			}
		done
	done
	{
		echo "key $key"
		echo "base ${base##*/}"
		dpkg-query -W -f='host ${Package} ${Version}\n' libopenmpi-dev libmpich-dev
	} >"$stage/etc/mpi-image"
	cp "$base" "$_mpi_image_work/final.tar"
	tar --owner=0 --group=0 --numeric-owner -C "$stage" -rf "$_mpi_image_work/final.tar" \
		./usr/local/bin/mpibench-openmpi ./usr/local/bin/mpibench-mpich ./etc/mpi-image
	chmod 0644 "$_mpi_image_work/final.tar"
	mv -f "$_mpi_image_work/final.tar" "$out"
}
