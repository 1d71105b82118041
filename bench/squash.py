#!/usr/bin/python3
"""migrate vs raw mksquashfs, and running from the squash store vs locally."""
import os
import shutil
import statistics
import subprocess
import time

from benchlib import alternate, timed

RUNS = int(os.environ.get("BENCH_RUNS") or "5")
# BENCH_COMPRESSIONS="lz4" measures the default only
COMPS = (os.environ.get("BENCH_COMPRESSIONS") or "lz4 zstd gzip").split()
IMG = "localhost/phpc-bench-debian"


def sh(argv, env, **kw):
    return subprocess.run(argv, env=env, check=True, **kw)


def main():
    env = dict(os.environ)
    tmp = env["BENCH_TMP"]
    if subprocess.run(["podman-hpc", "image", "exists", IMG], env=env).returncode != 0:
        sh(["podman-hpc", "import", "--quiet", env["BENCH_TAR_DEBIAN"], IMG], env,
           stdout=subprocess.DEVNULL)
    layer = sh(["podman-hpc", "image", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}",
                IMG], env, capture_output=True, text=True).stdout.strip()
    size = sh(["podman-hpc", "unshare", "du", "-sm", layer], env, capture_output=True,
              text=True).stdout.split()[0]
    print(f"image: {IMG}, one layer of {size} MB")
    results = {}
    for comp in COMPS:
        sq = os.path.join(tmp, f"squash-{comp}")
        out = os.path.join(tmp, f"raw-{comp}.squash")
        e = dict(env, SQUASH_DIR=sq)
        raw = ["podman-hpc", "unshare", "mksquashfs", layer, out, "-comp", comp, "-noappend",
               "-quiet", "-no-progress"]
        mig = ["podman-hpc", "migrate", "--compress", comp, IMG]
        rm = ["podman-hpc", "rmsqi", IMG]
        tr, tm = [], []
        for _ in range(RUNS):
            tr.append(timed(raw, e))
            subprocess.run(rm, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tm.append(timed(mig, e))
        mr, mm = statistics.median(tr), statistics.median(tm)
        mb = os.path.getsize(out) / 2**20
        results[comp] = (mr, mm, mb, e)
        print(f"(a) {comp:5s} mksquashfs {mr:6.2f} s   migrate {mm:6.2f} s   ratio {mm / mr:.2f}"
              f"   squash file {mb:6.1f} MB   (medians of {RUNS}; target ratio <= 1.3)")
    # (b) run from the squash store on a "node" with an empty local store
    node = os.path.join(tmp, "node")
    for comp in COMPS:
        e = results[comp][3]
        ne = dict(e, PODMANHPC_GRAPH_ROOT=f"{node}-{comp}/storage",
                  PODMANHPC_RUN_ROOT=f"{node}-{comp}/run",
                  PODMANHPC_CONFIG_HOME=f"{node}-{comp}/config")
        cmd = ["podman-hpc", "run", "--rm", IMG, "python3", "-c", "1"]
        local, squashed = alternate(cmd, e, cmd, ne, RUNS * 4)
        print(f"(b) {comp:5s} run python3 -c 1: local {local * 1000:7.1f} ms   squashed "
              f"{squashed * 1000:7.1f} ms   ratio {squashed / local:.2f}   (medians of "
              f"{RUNS * 4}; target <= 1.3)")
        subprocess.run(["podman", "--root", f"{node}-{comp}/storage", "--runroot",
                        f"{node}-{comp}/run", "unshare", "rm", "-rf", f"{node}-{comp}"],
                       env=ne, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
