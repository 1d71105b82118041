#!/usr/bin/python3
"""Start-up cost of a site module: `podman-hpc run --rm --gpu IMG true` with a
fake GPU stack of 50 driver libraries (bound, plus a copied ld.so.conf file and
the image's ldconfig run by the hook) against `podman-hpc run --rm IMG true`,
alternating, medians. Two modules: one binding into a directory the image
lacks (/usr/lib/<arch>/nvidia: the hook makes it a tmpfs), and the realistic
one binding into the image's own /usr/lib64, where NERSC's gpu module puts
them (one mount point file per library in the container's overlay). Each
both on the kernel's overlayfs (podman-hpc-mount's choice for a layer
without fuse-overlayfs whiteouts) and on fuse-overlayfs
(PODMANHPC_NO_KERNEL_OVERLAY=1), and the /usr/lib64 case once more with the
storage on a tmpfs, as on diskless compute nodes. Targets: <= 15 ms extra for /usr/lib64,
plain run <= 0.93x fuse-overlayfs's (NERSC #51: their GPU module was slow
because it copied)."""
import os
import subprocess

from benchlib import paired

RUNS = int(os.environ.get("BENCH_RUNS") or "31")
IMG = "localhost/phpc-bench-glibc"
NLIBS = 50


def stack(env, name, dest):
    d = os.path.join(env["BENCH_TMP"], name)
    subprocess.run(["rm", "-rf", d], check=True)
    # 2 real libraries + 48 more = 50 bound libraries
    args = [os.path.join(env["BENCH_LIB"], "make-fake-gpu"), d, str(NLIBS - 2)]
    if dest:
        args.append(dest)
    subprocess.run(args, check=True)
    return dict(env, PODMANHPC_MODULES_DIR=os.path.join(d, "modules.d"))


def main():
    env = dict(os.environ)
    new_dir = stack(env, "fake-gpu", None)
    lib64 = stack(env, "fake-gpu64", "/usr/lib64")
    if subprocess.run(["podman-hpc", "image", "exists", IMG], env=env).returncode != 0:
        subprocess.run(["podman-hpc", "import", "--quiet",
                        os.path.join(env["BENCH_DIR"], "glibc.tar"), IMG],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    for e, where in ((new_dir, "/usr/lib/*/nvidia"), (lib64, "/usr/lib64")):
        out = subprocess.run(["podman-hpc", "run", "--rm", "--gpu", IMG, "sh", "-c",
                              f"ls {where} | grep -c libnvidia; ldconfig -p | grep -c libnvidia"],
                             env=e, check=True, capture_output=True, text=True).stdout.split()
        print(f"check: {out[0]} libraries bound in {where}, {out[1]} in its ld.so cache")
    fuse = {"PODMANHPC_NO_KERNEL_OVERLAY": "1"}
    plain = ["podman-hpc", "run", "--rm", IMG, "true"]
    gpu = ["podman-hpc", "run", "--rm", "--gpu", IMG, "true"]
    k_plain, f_plain, _ = paired(plain, env, plain, dict(env, **fuse), RUNS)
    print(f"run --rm IMG true: kernel overlay {k_plain * 1000:.1f} ms, fuse-overlayfs "
          f"{f_plain * 1000:.1f} ms, ratio {k_plain / f_plain:.3f} (target <= 0.93)")
    for name, e in (("new directory (nvidia/)", new_dir), ("the image's /usr/lib64", lib64)):
        for label, extra in (("kernel overlay", {}), ("fuse-overlayfs", fuse)):
            ee = dict(e, **extra)
            base, mod, extra_s = paired(plain, ee, gpu, ee, RUNS)
            print(f"--gpu into {name:24s} {label:15s}: {base * 1000:7.1f} -> {mod * 1000:7.1f} ms"
                  f"  +{extra_s * 1000:5.1f} ms (median of {RUNS} paired differences, "
                  f"{NLIBS} libraries)")
    # The same on a node whose storage is in memory (diskless compute nodes,
    # where NERSC's default graph_root, /tmp, is a tmpfs): every mount point
    # file is created in, and removed from, the container's upper directory.
    shm = f"/dev/shm/phpc-bench-{os.getuid()}"
    te = dict(lib64, PODMANHPC_GRAPH_ROOT=f"{shm}/storage", PODMANHPC_RUN_ROOT=f"{shm}/run")
    try:
        subprocess.run(["podman-hpc", "import", "--quiet",
                        os.path.join(env["BENCH_DIR"], "glibc.tar"), IMG],
                       env=te, check=True, stdout=subprocess.DEVNULL)
        base, mod, extra_s = paired(plain, te, gpu, te, RUNS)
        print(f"--gpu into the image's /usr/lib64, storage on tmpfs, kernel overlay: "
              f"{base * 1000:7.1f} -> {mod * 1000:7.1f} ms  +{extra_s * 1000:5.1f} ms "
              f"(median of {RUNS} paired differences)")
    finally:
        # the store's own mounts first (rm alone meets "busy"), then the
        # directory: a tmpfs left behind is memory
        subprocess.run(["podman-hpc", "system", "reset", "--force"], env=te,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["podman-hpc", "unshare", "rm", "-rf", shm], env=te,
                       stderr=subprocess.DEVNULL)
    print("target: +15 ms into /usr/lib64 (NERSC's Python version: +119 ms on this kind of "
          "machine)")


if __name__ == "__main__":
    main()
