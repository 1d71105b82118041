#!/usr/bin/python3
"""podman-hpc-subid with 10,000 users of libnss-extrausers (bench/subid makes
them and runs this in its mount namespace): (a) empty subuid and subgid
before each run, so that 10,000 blocks are decided and appended to both;
(b) every user already in both, the hourly run that writes nothing. Each is
paired with `getent passwd`, the same NSS enumeration alone, the floor of
any tool that lists the users; medians of BENCH_RUNS pairs and of their
differences. Target: well under a second for (a) and (b)."""
import os
import re
import subprocess

from benchlib import paired

RUNS = int(os.environ.get("BENCH_RUNS") or "21")


def main():
    env = dict(os.environ)
    tmp = env["BENCH_TMP"]
    uids, gids = os.path.join(tmp, "subuid"), os.path.join(tmp, "subgid")
    tool = [env["BENCH_SUBID"], "--uid-min", "1000", "--uid-max", "60000",
            "--subuid", uids, "--subgid", gids]
    getent = ["getent", "passwd"]
    users = subprocess.run(getent, capture_output=True, text=True, check=True).stdout
    n = sum(1 for line in users.splitlines() if re.match(r"b[0-9]+:", line))
    print(f"users: {n} from extrausers, {len(users.splitlines())} in all; "
          f"{RUNS} pairs per case; {env['BENCH_SUBID']}")

    def empty():
        for f in (uids, gids):
            with open(f, "w"):
                pass

    base, run, diff = paired(getent, env, tool, env, RUNS, before_b=empty)
    with open(uids) as f:
        lines = sum(1 for _ in f)
    print(f"(a) empty files, {lines} lines appended to each: podman-hpc-subid "
          f"{run * 1000:7.1f} ms   getent passwd {base * 1000:6.1f} ms   "
          f"difference {diff * 1000:7.1f} ms")
    # (b): the files as (a) left them; each run must leave them untouched
    before = [os.stat(f).st_mtime_ns for f in (uids, gids)]
    base, run, diff = paired(getent, env, tool, env, RUNS)
    if [os.stat(f).st_mtime_ns for f in (uids, gids)] != before:
        raise SystemExit("bench/subid: the no-op run rewrote a file")
    print(f"(b) all {lines} present, nothing written:      podman-hpc-subid "
          f"{run * 1000:7.1f} ms   getent passwd {base * 1000:6.1f} ms   "
          f"difference {diff * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
