#!/usr/bin/python3
"""Wrapper overhead of podman-hpc against bare podman with the same flags.

For each case the bare podman argv is the one podman-hpc itself builds
(captured through the fake podman), so both sides use the same storage,
hooks and options; runs alternate between the two; medians and their ratio
are printed. Peak RSS: podman-hpc exec'ing /bin/true, read from
ru_maxrss, which Linux keeps across exec as the larger of the two images.
"""
import os
import statistics
import subprocess

from benchlib import alternate, timed

RUNS = int(os.environ.get("BENCH_RUNS") or "31")
LIB = os.environ.get("BENCH_LIB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib")
IMG = "localhost/phpc-bench-tiny"


def bare_argv(args, env):
    """The podman argv podman-hpc builds for args, and the env it hands over."""
    log = os.path.join(env["BENCH_TMP"], "fake.log")
    if os.path.exists(log):
        os.unlink(log)
    e = dict(env, PODMANHPC_PODMAN_BIN=os.path.join(LIB, "fake-podman"), FAKE_PODMAN_LOG=log)
    subprocess.run(["podman-hpc"] + args, env=e, check=True, stdout=subprocess.DEVNULL)
    lines = open(log).read().split("\n")
    argv = lines[1:lines.index("--- env")]
    xdg = [l.split("=", 1)[1] for l in lines if l.startswith("XDG_CONFIG_HOME=")][0]
    benv = {k: v for k, v in env.items() if k != "XDG_RUNTIME_DIR"}
    benv["XDG_CONFIG_HOME"] = xdg
    return ["podman"] + argv, benv


def compare(name, args, env):
    bare, benv = bare_argv(args, env)
    mb, mw = alternate(bare, benv, ["podman-hpc"] + args, env, RUNS)
    print(f"{name:34s} podman {mb * 1000:8.1f} ms   podman-hpc {mw * 1000:8.1f} ms   "
          f"ratio {mw / mb:.3f}   (medians of {RUNS}, alternating)")
    return mw / mb


def main():
    env = dict(os.environ)
    if subprocess.run(["podman-hpc", "image", "exists", IMG], env=env).returncode != 0:
        subprocess.run(["podman-hpc", "import", "--quiet", os.path.join(env["BENCH_DIR"], "tiny.tar"), IMG], env=env,
                       check=True, stdout=subprocess.DEVNULL)
    r1 = compare("run --rm IMG true", ["run", "--rm", IMG, "true"], env)
    r2 = compare("images", ["images"], env)
    maxrss = env["BENCH_MAXRSS"]
    e = dict(env, PODMANHPC_PODMAN_BIN="/bin/true")

    def rss(argv):
        out = subprocess.run([maxrss] + argv, env=e, capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])

    ours = max(rss(["podman-hpc", "run", "--rm", IMG, "true"]) for _ in range(5))
    floor = max(rss(["/bin/true"]) for _ in range(5))
    print(f"peak RSS of podman-hpc before exec: {ours / 1024:.2f} MiB (max of 5; includes "
          f"the exec'd /bin/true and the launcher's fork, which alone measure "
          f"{floor / 1024:.2f} MiB)")
    # The wrapper's own cost, without podman's noise around it.
    t_true, t_wrap = [], []
    for _ in range(max(RUNS, 50)):
        t_true.append(timed(["/bin/true"], e))
        t_wrap.append(timed(["podman-hpc", "run", "--rm", IMG, "true"], e))
    own = statistics.median(t_wrap) - statistics.median(t_true)
    print(f"podman-hpc's own time per call (run, with modules; exec'ing /bin/true): "
          f"{own * 1000:.2f} ms")
    print(f"targets: ratio <= 1.03 (run {r1:.3f}, images {r2:.3f}); own peak RSS <= 3 MiB "
          f"({ours / 1024:.2f})")


if __name__ == "__main__":
    main()
