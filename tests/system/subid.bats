#!/usr/bin/env bats
# podman-hpc-subid (docs/subid.md) on real users: users added by useradd to
# a copy of /etc, and 10,000 users of libnss-extrausers, each command in a
# private mount namespace where the copy is /etc, so that this machine's
# users and files are never touched. Root only (useradd, mount).
#
#   PHPC_SUBID=build/src/subid/podman-hpc-subid bats tests/system/subid.bats
# shellcheck disable=SC2154,SC2016 # status, output and stderr are set by bats's
# run; the sh -c script of ns expands its own arguments

bats_require_minimum_version 1.5.0

load ../lib/common

PHPC_SUBID=${PHPC_SUBID:-podman-hpc-subid}

setup() {
	[ "$(id -u)" -eq 0 ] ||
		skip "podman-hpc-subid is root's: these tests add users with useradd in a private mount namespace"
	SUBID=$(command -v "$PHPC_SUBID" || command -v /usr/sbin/podman-hpc-subid) ||
		skip "podman-hpc-subid is not installed (or set PHPC_SUBID)"
	SUBID=$(realpath "$SUBID")
	T=$BATS_TEST_TMPDIR
	cp -a /etc "$T/etc"
	mkdir "$T/mail"
	# the range of these tests, as login.defs gives it: no user of this
	# machine falls in it
	sed -i -e 's/^UID_MIN.*/UID_MIN 1050/' -e 's/^UID_MAX.*/UID_MAX 1100/' "$T/etc/login.defs"
	rm -f "$T/etc/subuid" "$T/etc/subgid"
	# what must never change: this machine's files
	real_sums=$(sha256sum /etc/passwd /etc/group /etc/shadow /etc/subuid /etc/subgid \
		/etc/nsswitch.conf 2>&1)
}

teardown() {
	if [ -n "${holder:-}" ]; then
		kill "$holder" 2>/dev/null || true
		wait "$holder" 2>/dev/null || true
	fi
	[ -n "${real_sums:-}" ] || return 0
	local now
	now=$(sha256sum /etc/passwd /etc/group /etc/shadow /etc/subuid /etc/subgid \
		/etc/nsswitch.conf 2>&1)
	[ "$now" = "$real_sums" ] || {
		echo "this machine's /etc changed!"
		return 1
	}
}

# Runs a command with $T/etc as /etc (and $T/extrausers, $T/nsswitch.conf
# when the test made them), in a mount namespace of its own.
ns() {
	unshare -m --propagation private -- sh -c '
		t=$1
		shift
		mount --bind "$t/etc" /etc && mount --bind "$t/mail" /var/mail || exit 99
		if [ -d "$t/extrausers" ]; then
			mount --bind "$t/extrausers" /var/lib/extrausers &&
				mount --bind "$t/nsswitch.conf" /etc/nsswitch.conf || exit 99
		fi
		exec "$@"' sh "$T" "$@"
}

# useradd NAME UID [OPTION...], without a home, a lastlog entry or
# useradd's own subordinate ids
add_user() {
	local name=$1 uid=$2
	shift 2
	ns useradd -M -l -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -u "$uid" "$@" "$name"
}

# The file is exactly BEFORE followed by the LINEs.
assert_appended() { # FILE BEFORE [LINE...]
	local f=$1 before=$2
	shift 2
	{
		cat "$before"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$T/want"
	cmp "$T/want" "$f" || {
		diff "$T/want" "$f"
		return 1
	}
}

# inode, size and mtime: a file not rewritten keeps all three
stamp() {
	stat -c '%i %s %Y.%y' "$@"
}

snapshot() {
	cp -p "$T/etc/subuid" "$T/subuid.before"
	cp -p "$T/etc/subgid" "$T/subgid.before"
}

# The site of most tests: entries by hand, by number and by useradd, a
# comment and a line that is no entry; users in, out of and across them.
site() {
	printf '%s\n' "# subordinate ids, some given by hand" "manual:70000000:65536" \
		"pre:300000:65536" "1071:400000:65536" "this line is not an entry" >"$T/etc/subuid"
	printf '%s\n' "manual:70000000:65536" "pre:300000:65536" >"$T/etc/subgid"
	add_user ann 1050
	add_user bea 1051
	ns useradd -M -l -u 1052 ua # useradd gives ua subordinate ids itself
	add_user cid 1069           # its block, 70057984-70123519, meets manual's
	add_user pre 1070
	add_user num 1071                  # in subuid by number
	add_user inside 70000100 -N -g 100 # a uid inside manual's block
	grep -q '^ua:' "$T/etc/subuid"
	snapshot
	# (useradd sorted the file when it looked for ua's free range, comments
	# and other lines last: the lines as they are now)
	l_manual=$(grep -n '^manual:' "$T/subuid.before" | cut -d: -f1)
	l_junk=$(grep -n '^this line' "$T/subuid.before" | cut -d: -f1)
}

@test "subid: useradd's users get their blocks; existing lines stay byte for byte; overlaps reported" {
	site
	run --separate-stderr ns "$SUBID"
	echo "$output"$'\n'"$stderr"
	[ "$status" -eq 2 ] # written, with a user left out, an overlap and a bad line
	assert_appended "$T/etc/subuid" "$T/subuid.before" ann:68812800:65536 bea:68878336:65536
	assert_appended "$T/etc/subgid" "$T/subgid.before" ann:68812800:65536 bea:68878336:65536 \
		num:70189056:65536
	[ "$output" = "podman-hpc-subid: 6 users with uids 1050-1100: /etc/subuid added 2, 3 had one; /etc/subgid added 3, 2 had one; 1 left out, 1 overlaps, 1 bad lines" ]
	grep -Fx 'podman-hpc-subid: warning: /etc/subuid line '"$l_junk"': "this line is not an entry" is not three fields, owner:start:count: podman (containers/storage) refuses the whole file over such a line, so no user of this node can start a rootless container (podman-hpc, podman); fix the line by hand' <<<"$stderr"
	grep -F 'podman-hpc-subid: warning: user cid (uid 1069) gets no block: 70057984-70123519 would overlap /etc/subuid line '"$l_manual"' (manual: 70000000-70065535); give cid a free range by hand' <<<"$stderr"
	grep -F 'podman-hpc-subid: warning: /etc/subuid: uid 70000100 of user inside lies inside line '"$l_manual"' (manual: 70000000-70065535): manual'"'"'s containers can act as inside' <<<"$stderr"
	[ "$(grep -c . <<<"$stderr")" -eq 3 ]
	# mode, owner, no leftovers of the write or the locks
	[ "$(stat -c '%a %U %G' "$T/etc/subuid" "$T/etc/subgid")" = $'644 root root\n644 root root' ]
	[ -z "$(find "$T/etc" -maxdepth 1 \( -name 'sub[ug]id.*' -o -name '.sub*.tmp.*' \))" ]
	# what newuidmap reads: ann's own range, by name
	ns getent passwd ann | grep -q ':1050:'
}

@test "subid: --dry-run prints what a run appends, as diff -U0 would, and writes nothing" {
	site
	local before
	before=$(stamp "$T/etc/subuid" "$T/etc/subgid")
	run --separate-stderr ns "$SUBID" --dry-run
	[ "$status" -eq 2 ]
	[ "$(stamp "$T/etc/subuid" "$T/etc/subgid")" = "$before" ]
	[ -z "$(find "$T/etc" -maxdepth 1 -name 'sub[ug]id.*')" ]
	grep -F '/etc/subuid would add 2, 3 had one;' <<<"$stderr"
	grep -F '(dry run: nothing written)' <<<"$stderr"
	local dry=$output
	run ns "$SUBID"
	[ "$status" -eq 2 ]
	local want
	want=$(
		diff -U0 --label /etc/subuid --label /etc/subuid "$T/subuid.before" "$T/etc/subuid"
		diff -U0 --label /etc/subgid --label /etc/subgid "$T/subgid.before" "$T/etc/subgid"
	) || true # (diff's status is 1: the files differ)
	[ "$dry" = "$want" ]
	grep -Fx '+num:70189056:65536' <<<"$dry"
}

@test "subid: a second run adds nothing and leaves both files untouched" {
	add_user ann 1050
	add_user bea 1051
	run ns "$SUBID"
	[ "$status" -eq 0 ]
	[ "$output" = "podman-hpc-subid: 2 users with uids 1050-1100: /etc/subuid added 2, 0 had one; /etc/subgid added 2, 0 had one; 0 left out, 0 overlaps, 0 bad lines" ]
	local before
	before=$(stamp "$T/etc/subuid" "$T/etc/subgid")
	sleep 1.1 # (a rewrite would change the mtime)
	run ns "$SUBID"
	[ "$status" -eq 0 ]
	[ "$output" = "podman-hpc-subid: 2 users with uids 1050-1100: /etc/subuid added 0, 2 had one; /etc/subgid added 0, 2 had one; 0 left out, 0 overlaps, 0 bad lines" ]
	[ "$(stamp "$T/etc/subuid" "$T/etc/subgid")" = "$before" ]
	run --separate-stderr ns "$SUBID" --dry-run
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

# Users useradd would refuse but LDAP may have: lines of the copy of /etc/passwd.
add_passwd() { # NAME UID
	printf '%s:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$1" "$2" "$2" >>"$T/etc/passwd"
}

# Whether newuidmap, run by user $1 for a user namespace of its own, maps
# 65536 ids from $2 (as the copy of /etc/subuid lets it). setpriv and id
# read a number as a user name first: name users whose name is another uid.
newuidmap_allows() {
	# shellcheck disable=SC2016 # the inner shell's own variables
	ns setpriv --reuid "$1" --regid "$(ns id -g "$1")" --clear-groups sh -c '
		unshare --user sleep 30 &
		pid=$!
		while [ "$(readlink /proc/$pid/ns/user)" = "$(readlink /proc/self/ns/user)" ]; do
			sleep 0.05
		done
		newuidmap "$pid" 0 "$(id -u)" 1 1 "$1" 65536 2>&1
		rc=$?
		kill "$pid"
		exit "$rc"' sh "$2"
}

@test "subid: a name that reads as another uid, or that NSS lists for two uids: no block the other could use" {
	add_user ann 1050
	add_user carl 1060
	add_passwd 1060 1061 # "1060:..." is carl's too; 4.20 takes user 1060 for carl
	add_user dora 1070
	add_passwd dora 1071  # a second dora: newuidmap takes uid 1071 for 1070
	add_passwd dolly 1071 # uid 1071's second name: nothing looks for it
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	run --separate-stderr ns "$SUBID"
	echo "$output"$'\n'"$stderr"
	[ "$status" -eq 2 ]
	[ "$(cat "$T/etc/subuid")" = "ann:68812800:65536" ]
	cmp "$T/etc/subuid" "$T/etc/subgid"
	grep -Fx 'podman-hpc-subid: warning: user 1060 (uid 1061) gets no block: its name reads as uid 1060, and newuidmap from shadow-utils 4.20 on takes such a user for that uid, so it would get uid 1060'"'"'s ids, not its own; rename it' <<<"$stderr"
	grep -Fx 'podman-hpc-subid: warning: user carl (uid 1060) gets no block: the name of user 1060 (uid 1061) reads as uid 1060, and newuidmap from shadow-utils 4.20 on takes that user for it, so any block of carl'"'"'s would be theirs too; rename user 1060' <<<"$stderr"
	grep -Fx 'podman-hpc-subid: warning: user dora (uid 1070) gets no block: NSS lists the name dora for uid 1070 and for uid 1071, and newuidmap (and podman) take both for uid 1070, so any block of one would be the other'"'"'s; rename one of them' <<<"$stderr"
	grep -F 'podman-hpc-subid: warning: user dora (uid 1071) gets no block: NSS lists the name dora for uid 1070 and for uid 1071' <<<"$stderr"
	[ "$(grep -c . <<<"$stderr")" -eq 4 ]
	newuidmap_allows ann 68812800
	run newuidmap_allows 1071 68812800
	[ "$status" -ne 0 ]
	# why dora gets none: a block by uid 1070 is uid 1071's too
	printf '1070:80000000:65536\n' >>"$T/etc/subuid"
	printf '1070:80000000:65536\n' >>"$T/etc/subgid"
	newuidmap_allows 1071 80000000
	run --separate-stderr ns "$SUBID" --dry-run
	[ "$status" -eq 2 ]
	grep -F 'podman-hpc-subid: warning: /etc/subuid: line 2 (1070: 80000000-80065535): its owner is uid 1070, and NSS lists the name of uid 1071, dora, for uid 1070 too: newuidmap and podman let both use that block' <<<"$stderr"
	# an entry "1060:..." made earlier serves carl and user 1060: reported
	printf '1060:300000:65536\n' >"$T/etc/subuid"
	run --separate-stderr ns "$SUBID" --dry-run
	[ "$status" -eq 2 ]
	grep -F 'podman-hpc-subid: warning: /etc/subuid: line 1 (1060: 300000-365535): its owner is uid 1060 and also the name of the user with uid 1061: newuidmap and podman let both use that block' <<<"$stderr"
	newuidmap_allows carl 300000
	newuidmap_allows 1061 300000
}

@test "subid: a name with white space at an end or a control character gets its block under its uid" {
	add_user ann 1050
	add_passwd 'ann ' 1051 # podman would read "ann :..." as ann's
	add_passwd $'bel\a' 1052
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	run --separate-stderr ns "$SUBID"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/etc/subuid")" = $'ann:68812800:65536\n1051:68878336:65536\n1052:68943872:65536' ]
	newuidmap_allows 1051 68878336
	newuidmap_allows ann 68812800
	run newuidmap_allows 1051 68812800
	[ "$status" -ne 0 ]
}

@test "subid: a group's gid inside a block keeps that block from being written" {
	add_user ann 1050
	add_user bea 1051
	ns groupadd -g 68812900 staffx # inside ann's block, 68812800-68878335
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	run --separate-stderr ns "$SUBID"
	[ "$status" -eq 2 ]
	[ "$(cat "$T/etc/subuid")" = "bea:68878336:65536" ]
	cmp "$T/etc/subuid" "$T/etc/subgid"
	[ "$stderr" = "podman-hpc-subid: warning: user ann (uid 1050) gets no block: 68812800-68878335 would hold gid 68812900 (group staffx) in /etc/subgid; give ann a free range by hand (usermod --add-subuids and --add-subgids FIRST-LAST ann)" ]
	# an entry made by hand that holds it: reported
	printf 'ann:68812800:65536\n' >>"$T/etc/subgid"
	run --separate-stderr ns "$SUBID" --dry-run
	[ "$status" -eq 2 ]
	grep -F 'podman-hpc-subid: warning: /etc/subgid: gid 68812900 (group staffx) lies inside line 2 (ann: 68812800-68878335)' <<<"$stderr"
}

@test "subid: the uid range: login.defs's UID_MIN and UID_MAX, or --uid-min and --uid-max" {
	add_user low 1049
	add_user first 1050
	add_user last 1100
	add_user high 1101
	run ns "$SUBID" --dry-run
	[ "$status" -eq 0 ]
	[ "$(grep -c '^+[a-z]' <<<"$output")" -eq 4 ]
	grep -Fx '+first:68812800:65536' <<<"$output"
	grep -Fx '+last:72089600:65536' <<<"$output"
	if grep -E '^\+(low|high):' <<<"$output"; then false; fi
	grep -F '2 users with uids 1050-1100' <<<"$output"
	run ns "$SUBID" --uid-min 1049 --uid-max 1049
	[ "$status" -eq 0 ]
	[ "$(cat "$T/etc/subuid")" = "low:68747264:65536" ]
	# without login.defs: 1000 to 60000 (the machine's own users in range too)
	rm "$T/etc/login.defs"
	run ns "$SUBID" --dry-run
	grep -F 'users with uids 1000-60000' <<<"$output"
	grep -Fx '+high:72155136:65536' <<<"$output"
}

@test "subid: --min-users: fewer users listed than the floor is an error, and nothing is written" {
	add_user ann 1050
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	local n
	n=$(ns getent passwd | wc -l)
	run --separate-stderr ns "$SUBID" --min-users $((n + 1))
	[ "$status" -eq 1 ]
	[ "$stderr" = "podman-hpc-subid: NSS listed $n users, fewer than --min-users $((n + 1)): a source of users (LDAP, SSSD) may be unreachable, which glibc does not report as an error; nothing written (compare getent passwd | wc -l)" ]
	[ ! -s "$T/etc/subuid" ] && [ ! -s "$T/etc/subgid" ]
	[ -z "$(find "$T/etc" -maxdepth 1 -name 'sub[ug]id.*')" ]
	run ns "$SUBID" --min-users "$n"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/etc/subuid")" = "ann:68812800:65536" ]
}

@test "subid: a lock file of a running process: a clear error and nothing written; a stale one is taken over" {
	add_user ann 1050
	printf 'keep:300000:65536\n' | tee "$T/etc/subuid" >"$T/etc/subgid"
	snapshot
	sleep 300 >/dev/null 2>&1 3>&- &
	holder=$!
	printf '%s\0' "$holder" >"$T/etc/subgid.lock"
	run ns "$SUBID"
	[ "$status" -eq 1 ]
	[ "$output" = "podman-hpc-subid: /etc/subgid.lock is held by process $holder (sleep): try again when it is done; if that process is not changing /etc/subgid, remove /etc/subgid.lock" ]
	cmp "$T/etc/subuid" "$T/subuid.before"
	cmp "$T/etc/subgid" "$T/subgid.before"
	# its own lock of subuid released, the other's left
	[ ! -e "$T/etc/subuid.lock" ]
	[ -e "$T/etc/subgid.lock" ]
	kill "$holder"
	wait "$holder" || true
	# now the lock's process is gone: stale
	run ns "$SUBID"
	[ "$status" -eq 0 ]
	assert_appended "$T/etc/subgid" "$T/subgid.before" ann:68812800:65536
	[ ! -e "$T/etc/subgid.lock" ]
}

@test "subid: lckpwdf held by another program: an error after glibc's 15 seconds, nothing written" {
	add_user ann 1050
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(120)' "$T/etc/.pwd.lock" "$T/locked" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 100); do
		[ ! -e "$T/locked" ] || break
		sleep 0.1
	done
	[ -e "$T/locked" ]
	run ns "$SUBID"
	[ "$status" -eq 1 ]
	grep -F 'podman-hpc-subid: cannot take the lock of the user database (/etc/.pwd.lock, lckpwdf) within 15 seconds' <<<"$output"
	[ ! -s "$T/etc/subuid" ]
	[ ! -s "$T/etc/subgid" ]
}

@test "subid: --subuid and --subgid: other files, their own locks, /etc left alone" {
	add_user ann 1050
	mkdir "$T/other"
	printf 'x:100000:10\n' >"$T/other/uids"
	run ns "$SUBID" --subuid "$T/other/uids" --subgid "$T/other/gids"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/other/uids")" = $'x:100000:10\nann:68812800:65536' ]
	[ "$(cat "$T/other/gids")" = "ann:68812800:65536" ]
	[ "$(ls -A "$T/other")" = $'gids\nuids' ]
	[ ! -e "$T/etc/subuid" ] && [ ! -e "$T/etc/subgid" ]
	run ns "$SUBID" --subuid "$T/other/uids" --subgid "$T/other/uids"
	[ "$status" -eq 1 ]
	[[ $output == *"are the same file" ]]
	# relative paths too
	run ns sh -c 'cd "$1" && exec "$2" --subuid uids --subgid gids' sh "$T/other" "$SUBID"
	[ "$status" -eq 0 ]
}

@test "subid: subgid failing after subuid was written: exit 1 saying so, and the next run completes it" {
	add_user ann 1050
	mkdir -m 0755 "$T/u" "$T/g"
	# a file system of one page for subgid: its lock file takes it, and the
	# new file finds no room
	run ns sh -c 'mount -t tmpfs -o size=4k,mode=0755 none "$1/g" && exec "$2" --subuid "$1/u/uids" --subgid "$1/g/gids"' sh "$T" "$SUBID"
	[ "$status" -eq 1 ]
	[[ $output == "podman-hpc-subid: $T/u/uids was written, $T/g/gids not (run again once this is fixed): $T/g/gids: "* ]]
	[ "$(cat "$T/u/uids")" = "ann:68812800:65536" ]
	[ ! -e "$T/g/gids" ]
	run ns "$SUBID" --subuid "$T/u/uids" --subgid "$T/g/gids"
	[ "$status" -eq 0 ]
	[[ $output == *"added 0, 1 had one; $T/g/gids added 1, 0 had one;"* ]]
	[ "$(cat "$T/g/gids")" = "ann:68812800:65536" ]
}

@test "subid: as root, files in a directory that others can write, or that is not root's, are refused" {
	add_user ann 1050
	refused() { # MESSAGE DIR
		run --separate-stderr ns "$SUBID" --subuid "$2/uids" --subgid "$T/ok/gids"
		[ "$status" -eq 1 ] || { echo "$2: $status"; return 1; }
		[ "$stderr" = "podman-hpc-subid: $1" ] || { echo "$stderr"; return 1; }
		[ -z "$(find "$2" "$T/ok" -maxdepth 1 -type f)" ]
	}
	mkdir -m 0755 "$T/ok" "$T/theirs" "$T/group" "$T/open" "$T/open/sub"
	mkdir -m 1777 "$T/sticky"
	chmod 0777 "$T/open"
	chmod 0775 "$T/group"
	chown nobody "$T/theirs"
	refused "--subuid $T/open is writable by everyone (mode 0777): other users could change what is kept there; run 'chmod go-w' on it" "$T/open"
	refused "--subuid $T/group is writable by its group (mode 0775): other users could change what is kept there; run 'chmod go-w' on it" "$T/group"
	refused "--subuid $T/sticky is writable by everyone (mode 1777): other users could change what is kept there; choose a directory that only its owner can write" "$T/sticky"
	refused "$T/theirs belongs to user nobody (uid 65534), not to you, in /tmp, which others can write: another user may have created it to control your --subuid; remove it (ask its owner or an admin) or set --subuid to a directory of your own" "$T/theirs"
	# a directory on the way that others can write: they could swap the rest
	refused "--subuid: $T/open is writable by others (mode 0777) and not sticky: they could rename or replace $T/open/sub; run 'chmod go-w' on it if it is yours, or set --subuid elsewhere" "$T/open/sub"
	# --dry-run reads only
	run ns "$SUBID" --dry-run --subuid "$T/open/uids" --subgid "$T/ok/gids"
	[ "$status" -eq 0 ]
}

@test "subid: not root: an error without --dry-run, the diff with it, files of one's own with --subuid and --subgid" {
	add_user ann 1050
	printf 'keep:300000:65536\n' | tee "$T/etc/subuid" >"$T/etc/subgid"
	ns setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$SUBID" ||
		skip "$SUBID cannot be run by nobody (its directory is closed)"
	run ns setpriv --reuid=nobody --regid=nogroup --clear-groups "$SUBID"
	[ "$status" -eq 1 ]
	[ "$output" = "podman-hpc-subid: writing /etc/subuid and /etc/subgid needs root: run it as root, add --dry-run to see what it would add, or give --subuid FILE --subgid FILE to write files of yours" ]
	run --separate-stderr ns setpriv --reuid=nobody --regid=nogroup --clear-groups "$SUBID" --dry-run
	[ "$status" -eq 0 ]
	grep -Fx '+ann:68812800:65536' <<<"$output"
	own=$(mktemp -d /tmp/phpc-subid-own.XXXXXX)
	chown nobody "$own"
	run ns setpriv --reuid=nobody --regid=nogroup --clear-groups "$SUBID" \
		--subuid "$own/u" --subgid "$own/g"
	rc=$status
	content=$(cat "$own/u" 2>&1)
	owner=$(stat -c %U "$own/u" 2>&1)
	rm -rf "$own"
	[ "$rc" -eq 0 ]
	[ "$content" = "ann:68812800:65536" ]
	[ "$owner" = nobody ]
	# /etc's files take lckpwdf, root's: an error that says so, not a timeout
	run ns setpriv --reuid=nobody --regid=nogroup --clear-groups "$SUBID" \
		--subuid /etc/subuid --subgid /tmp/phpc-subid-g
	[ "$status" -eq 1 ]
	[ "$output" = "podman-hpc-subid: writing /etc/subuid needs root: run it as root, add --dry-run to see what it would add, or give --subuid FILE --subgid FILE to write files of yours" ]
}

@test "subid: bad arguments: one error line, exit 1, nothing written" {
	add_user ann 1050
	printf 'keep:300000:65536\n' | tee "$T/etc/subuid" >"$T/etc/subgid"
	snapshot
	check_error() { # MESSAGE-PART ARG...
		local want=$1
		shift
		run --separate-stderr ns "$SUBID" "$@"
		[ "$status" -eq 1 ] || { echo "$* gave $status"; return 1; }
		[ -z "$output" ]
		[ "$(grep -c . <<<"$stderr")" -eq 1 ] || { echo "$stderr"; return 1; }
		[[ $stderr == "podman-hpc-subid: "*"$want"* ]] || { echo "$stderr"; return 1; }
		cmp "$T/etc/subuid" "$T/subuid.before"
		cmp "$T/etc/subgid" "$T/subgid.before"
	}
	# the setting of a site that made adjacent users' blocks overlap
	check_error "--multiplier 10000 is smaller than --count 65536: the blocks of adjacent uids would overlap" --multiplier 10000
	run --separate-stderr ns "$SUBID" --multiplier 10000
	[[ $stderr == *"use --count 10000 to keep these starts, or --scheme offset" ]]
	check_error "--scheme linear: use multiply or offset" --scheme linear
	check_error "--count 0: give a number of ids from 1 to 4294967296" --count 0
	check_error "--count 12k: give a whole number" --count 12k
	check_error "--uid-max -5: give a whole number" --uid-max -5
	check_error "unknown option --frobnicate" --frobnicate
	check_error "--count needs a value" --count
	check_error "unexpected argument extra" extra
	check_error "--min-users many: give a whole number" --min-users many
	check_error "--base belongs to --scheme offset" --base 5000000
	check_error "--multiplier and --offset belong to --scheme multiply" --scheme offset --offset 5
	check_error "--uid-min 2000 is above --uid-max 1100" --uid-min 2000
	check_error "raise --base above 1100" --scheme offset --uid-min 1050 --base 1000
	# offset's blocks are counted from --uid-min: each node's login.defs may differ
	check_error "--scheme offset needs --uid-min: its blocks are counted from that uid, and every node must count from the same one" --scheme offset
	check_error "--scheme offset needs --uid-min" --scheme offset --uid-max 1100
	check_error "even the block of uid 70000 (--uid-min)" --uid-min 70000 --uid-max 99999
	run ns "$SUBID" --help
	[ "$status" -eq 0 ]
	[[ $output == "Usage: podman-hpc-subid "* ]]
	[[ $output == *"A multiplier smaller than the count is refused"* ]]
	cmp "$T/etc/subuid" "$T/subuid.before"
}

@test "subid: 5-digit uids: --scheme offset packs them; multiply's blocks past 2^32 are not written" {
	add_user ten 70000
	add_user eleven 70001
	add_user top 99999
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	run ns "$SUBID" --scheme offset --uid-min 70000 --uid-max 99999 --count 40000
	[ "$status" -eq 0 ]
	[ "$(cat "$T/etc/subuid")" = $'ten:100000:40000\neleven:140000:40000\ntop:1200060000:40000' ]
	cmp "$T/etc/subuid" "$T/etc/subgid"
	# multiply: uid 65535's block ends exactly at 2^32, 65536's would not fit
	add_user fits 65535
	add_user over 65536
	run --separate-stderr ns "$SUBID" --uid-min 65000 --uid-max 65536
	[ "$status" -eq 2 ]
	grep -Fx 'fits:4294901760:65536' "$T/etc/subuid"
	if grep '^over:' "$T/etc/subuid"; then false; fi
	[[ $stderr == *"user over (uid 65536) gets no block: it would start at 4294967296 and end past 4294967295, the last id (blocks fit for uids up to 65535); use --scheme offset, or a smaller --multiplier and --count"* ]]
}

@test "subid: the file's mode and owner are kept; a missing one is created 0644; a last line without newline gets one" {
	add_user ann 1050
	printf 'keep:300000:65536' >"$T/etc/subuid"
	chmod 0640 "$T/etc/subuid"
	chgrp shadow "$T/etc/subuid"
	cp -p "$T/etc/subuid" "$T/subuid.before"
	run ns "$SUBID"
	[ "$status" -eq 0 ]
	[ "$(stat -c '%a %U %G' "$T/etc/subuid")" = "640 root shadow" ]
	[ "$(stat -c '%a %U %G' "$T/etc/subgid")" = "644 root root" ]
	[ "$(cat "$T/etc/subuid")" = $'keep:300000:65536\nann:68812800:65536' ]
	[ "$(tail -c1 "$T/etc/subuid" | od -An -c | tr -d ' ')" = '\n' ]
}

@test "subid: lines over which podman or newuidmap refuses the whole file: exit 2, kept as they are; a missing last newline is added" {
	add_user ann 1050
	printf 'keep:300000:65536\nlast:400000:65536' >"$T/etc/subuid"
	printf 'keep:300000:65536\nann:68812800:65536\n' >"$T/etc/subgid"
	run --separate-stderr ns "$SUBID" --uid-min 1051 # nobody to add
	[ "$status" -eq 0 ]
	[ "$stderr" = 'podman-hpc-subid: warning: /etc/subuid line 2: the last, has no newline at its end: newer shadow-utils (newuidmap, useradd) refuse such a file as "Non-text file"; the newline is added' ]
	[ "$(cat "$T/etc/subuid")" = $'keep:300000:65536\nlast:400000:65536' ]
	[ "$(tail -c1 "$T/etc/subuid" | od -An -c | tr -d ' ')" = '\n' ]
	# a NUL byte (newuidmap) and a line of four fields (podman): reported,
	# kept, and what can be added is added
	printf 'a:300000:2\0junk\nb:400000:4:5\n' >"$T/etc/subuid"
	cp "$T/etc/subuid" "$T/subuid.before"
	run --separate-stderr ns "$SUBID"
	[ "$status" -eq 2 ]
	assert_appended "$T/etc/subuid" "$T/subuid.before" ann:68812800:65536
	grep -F 'podman-hpc-subid: warning: /etc/subuid line 1: holds a NUL byte: newer shadow-utils (newuidmap, useradd) refuse the whole file as "Non-text file", so no user of this node can start a rootless container' <<<"$stderr"
	grep -F 'podman-hpc-subid: warning: /etc/subuid line 2: "b:400000:4:5" is not three fields, owner:start:count: podman (containers/storage) refuses the whole file' <<<"$stderr"
	[[ $output == *"0 left out, 0 overlaps, 2 bad lines" ]]
}

@test "subid: 10,000 users from libnss-extrausers get blocks that overlap nothing" {
	[ -d /var/lib/extrausers ] || skip "libnss-extrausers is not installed (scripts/install-deps)"
	"$TESTS_LIB/make-extrausers" "$T" 10000 x 20000
	add_user ann 1050 # a real user too, from files
	# the machine's range, 1000-60000, so its own users are in it too
	sed -i -e 's/^UID_MIN.*/UID_MIN 1000/' -e 's/^UID_MAX.*/UID_MAX 60000/' "$T/etc/login.defs"
	: >"$T/etc/subuid"
	: >"$T/etc/subgid"
	ns getent passwd >"$T/users"
	[ "$(grep -c '^x[0-9]*:' "$T/users")" -eq 10000 ]
	run ns "$SUBID"
	[ "$status" -eq 0 ]
	local n
	n=$(awk -F: '$3 >= 1000 && $3 <= 60000' "$T/users" | cut -d: -f1 | sort -u | wc -l)
	[[ $output == "podman-hpc-subid: $n users with uids 1000-60000: /etc/subuid added $n, 0 had one; /etc/subgid added $n, 0 had one; 0 left out, 0 overlaps, 0 bad lines" ]]
	for f in subuid subgid; do
		# every user in range has a line, by name, with its uid's block
		awk -F: 'NR == FNR { if ($3 >= 1000 && $3 <= 60000) want[$1] = $3 * 65536; next }
			{ got[$1] = $2; if ($3 != 65536) bad++ }
			END { for (u in want) if (got[u] != want[u]) { print "missing " u; bad++ }
				exit bad > 0 }' "$T/users" "$T/etc/$f"
		[ "$(grep -c '^x[0-9]*:' "$T/etc/$f")" -eq 10000 ]
		# no two blocks share an id
		sort -t: -k2,2n "$T/etc/$f" | awk -F: 'NR > 1 && $2 < end { print "overlap: " $0; bad = 1 }
			{ end = $2 + $3 } END { exit bad }'
	done
	# the hourly run after: nothing to do
	local before
	before=$(stamp "$T/etc/subuid" "$T/etc/subgid")
	run ns "$SUBID"
	[ "$status" -eq 0 ]
	[[ $output == *"added 0, $n had one; /etc/subgid added 0, $n had one; 0 left out, 0 overlaps, 0 bad lines" ]]
	[ "$(stamp "$T/etc/subuid" "$T/etc/subgid")" = "$before" ]
}
