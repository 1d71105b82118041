#!/usr/bin/python3
"""Start-up cost of a site module: `podman-hpc run --rm --gpu IMG true` with a
fake GPU stack of 50 driver libraries (bound, plus a copied ld.so.conf file and
the image's ldconfig run by the hook) against `podman-hpc run --rm IMG true`,
alternating, medians. Target: <= 30 ms extra (NERSC #51: their GPU module was
slow because it copied)."""
import os
import subprocess

from benchlib import alternate

RUNS = int(os.environ.get("BENCH_RUNS") or "31")
IMG = "localhost/phpc-bench-glibc"
NLIBS = 50


def main():
    env = dict(os.environ)
    gpu = os.path.join(env["BENCH_TMP"], "fake-gpu")
    subprocess.run(["rm", "-rf", gpu], check=True)
    # 2 real libraries + 48 more = 50 bound libraries
    subprocess.run([os.path.join(env["BENCH_LIB"], "make-fake-gpu"), gpu, str(NLIBS - 2)],
                   check=True)
    env["PODMANHPC_MODULES_DIR"] = os.path.join(gpu, "modules.d")
    if subprocess.run(["podman-hpc", "image", "exists", IMG], env=env).returncode != 0:
        subprocess.run(["podman-hpc", "import", "--quiet",
                        os.path.join(env["BENCH_DIR"], "glibc.tar"), IMG],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(["podman-hpc", "run", "--rm", "--gpu", IMG, "sh", "-c",
                          "ls /usr/lib/*/nvidia | wc -l; ldconfig -p | grep -c nvidia/"],
                         env=env, check=True, capture_output=True, text=True).stdout.split()
    print(f"check: {out[0]} libraries bound in the container, {out[1]} sonames in its ld.so cache")
    plain, gpu_run = alternate(["podman-hpc", "run", "--rm", IMG, "true"], env,
                               ["podman-hpc", "run", "--rm", "--gpu", IMG, "true"], env, RUNS)
    extra = (gpu_run - plain) * 1000
    print(f"run --rm IMG true          {plain * 1000:8.1f} ms (median of {RUNS})")
    print(f"run --rm --gpu IMG true    {gpu_run * 1000:8.1f} ms (median of {RUNS}, {NLIBS} libraries)")
    print(f"module start-up cost       {extra:8.1f} ms   ratio {gpu_run / plain:.3f}   "
          f"(target <= 30 ms extra)")


if __name__ == "__main__":
    main()
