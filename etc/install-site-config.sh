#!/bin/sh
# meson install script: puts the example site configuration in place where a
# site has none yet. A file that exists is never overwritten: it is the
# site's, and may have been edited.
set -eu
examples="${DESTDIR:-}$1"
dest="${DESTDIR:-}$2"
mkdir -p "$dest/modules.d"
install_new() {
	if [ -e "$2" ] || [ -L "$2" ]; then
		echo "podman-hpc: keeping existing $2"
	else
		cp "$1" "$2"
		chmod 0644 "$2"
	fi
}
install_new "$examples/podman_hpc.yaml" "$dest/podman_hpc.yaml"
for f in "$examples"/*.conf; do install_new "$f" "$dest/$(basename "$f")"; done
for f in "$examples"/modules.d/*.yaml; do install_new "$f" "$dest/modules.d/$(basename "$f")"; done
