#!/usr/bin/python3
"""shared-run: steps of 1, 8, 32, 64 tasks against one podman-hpc run, with
srun and with a launcher that sets srun's variables (no Slurm launch cost),
and one task's join cost against podman exec.

Every measurement starts on a quiet machine: the previous step's container
removal (done in the background by shared-run's monitor, or inside podman
run --rm) has finished. On 2 cores, a removal still running would be charged
to the next step."""
import os
import statistics
import subprocess
import time

from benchlib import timed

RUNS = int(os.environ.get("BENCH_RUNS") or "7")
IMG = "localhost/phpc-bench-tiny"
ENV = dict(os.environ)


def quiet():
    for _ in range(200):
        out = subprocess.run(["podman-hpc", "ps", "-aq"], env=ENV, capture_output=True,
                             text=True).stdout
        if not out.strip():
            break
        time.sleep(0.05)
    time.sleep(0.2)


def med(fn, runs=RUNS):
    quiet()
    fn()
    samples = []
    for _ in range(runs):
        quiet()
        samples.append(fn())
    return statistics.median(samples)


STEP = [0]


def launch(n):
    STEP[0] += 1
    t = time.perf_counter()
    procs = [subprocess.Popen(["podman-hpc", "shared-run", IMG, "true"],
                              env=dict(ENV, SLURM_LOCALID=str(i), SLURM_PROCID=str(i),
                                       SLURM_STEP_TASKS_PER_NODE=str(n), SLURM_JOB_ID="launch",
                                       SLURM_STEP_ID=f"{os.getpid()}.{STEP[0]}"))
             for i in range(n)]
    codes = [p.wait() for p in procs]
    assert not any(codes), codes
    return time.perf_counter() - t


def main():
    os.chdir(ENV["BENCH_TMP"])
    if subprocess.run(["podman-hpc", "image", "exists", IMG], env=ENV).returncode != 0:
        subprocess.run(["podman-hpc", "import", "--quiet",
                        os.path.join(ENV["BENCH_DIR"], "tiny.tar"), IMG],
                       env=ENV, check=True, stdout=subprocess.DEVNULL)
    if ENV.get("BENCH_PART") != "join":
        steps()
    join()


def steps():
    single = med(lambda: timed(["podman-hpc", "run", "--rm", IMG, "true"], ENV))
    print(f"one podman-hpc run --rm IMG true: {single * 1000:.1f} ms (medians of {RUNS})")
    for n in [1, 8, 32, 64]:
        srun_true = med(lambda: timed(["srun", "-n", str(n), "true"], ENV))
        srun = med(lambda: timed(["srun", "-n", str(n), "podman-hpc", "shared-run", IMG, "true"],
                                 ENV))
        direct = med(lambda: launch(n))
        print(f"{n:2d} tasks: launcher {direct * 1000:6.1f} ms (ratio {direct / single:.2f})   "
              f"srun {srun * 1000:6.1f} ms (ratio {srun / single:.2f}; srun -n {n} true "
              f"alone {srun_true * 1000:.1f} ms)")
    print("target: 64 tasks <= 1.5 x one run")


def join():
    """One task joining a running shared container, against podman exec and
    against starting /bin/true (the floor of any process start)."""
    job = {"SLURM_JOB_ID": "bench", "SLURM_STEP_ID": str(os.getpid()),
           "SLURM_STEP_TASKS_PER_NODE": "2"}
    leader = subprocess.Popen(["podman-hpc", "shared-run", IMG, "sleep", "60"],
                              env=dict(ENV, SLURM_LOCALID="0", **job))
    name = f"shared-{os.getuid()}-bench.{os.getpid()}"
    for _ in range(100):
        if subprocess.run(["podman-hpc", "container", "exists", name], env=ENV).returncode == 0:
            break
        time.sleep(0.1)
    task = dict(ENV, SLURM_LOCALID="1", **job)
    timed(["podman-hpc", "shared-run", IMG, "true"], task)  # the container is up
    tj, tt, te = [], [], []
    for _ in range(RUNS * 4):  # alternating: drift hits both alike
        tj.append(timed(["podman-hpc", "shared-run", IMG, "true"], task))
        tt.append(timed(["/bin/true"], ENV))
    for _ in range(RUNS):
        te.append(timed(["podman-hpc", "exec", name, "true"], ENV))
    j, t = statistics.median(tj), statistics.median(tt)
    print(f"one task joining the running container: {j * 1000:.2f} ms, {(j - t) * 1000:.2f} ms "
          f"above starting /bin/true ({t * 1000:.2f} ms; medians of {RUNS * 4} alternating); "
          f"podman exec: {statistics.median(te) * 1000:.1f} ms; target <= 3 ms")
    leader.kill()
    leader.wait()


if __name__ == "__main__":
    main()
