#!/usr/bin/python3
"""podman-hpc-jobd with the podman backend, as the user: POST latency
(median, p99) of BENCH_JOBS jobs sent one after another, the service's RSS
once they are recorded, and GET /api/v1/JID/ of finished jobs in requests per
second. Targets: GET >= 5,000 req/s, POST p99 <= 20 ms, RSS <= 20 MiB.
First, GET of a running job (its state asked of podman, its output read from
the container's log file) against one
`podman-hpc container inspect` of its container, in turns: medians over
BENCH_RUNS pairs (21) and their ratio. BENCH_PART=live runs that part alone.
pman on this machine (rootless podman 4.3): GET 2 req/s, POST 0.6 s median,
76 MB per process."""
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import time

from benchlib import timed

N = int(os.environ.get("BENCH_JOBS") or "1000")
RUNS = int(os.environ.get("BENCH_RUNS") or "21")
IMG = "localhost/phpc-bench-tiny"
ENV = dict(os.environ)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def job_body(jid, entrypoint):
    return json.dumps({
        "jid": jid, "args": ["--level", "3"], "auid": "cube",
        "number_of_workers": 1, "cpu_limit": 1000, "memory_limit": 200,
        "gpu_limit": 0, "image": IMG, "entrypoint": entrypoint, "type": "fs",
        "env": [], "input_dir": f"key-{jid}/incoming",
        "output_dir": f"key-{jid}/outgoing"})


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (path, r.status, body)
    return json.loads(body)


def live_get(conn, sb):
    """GET of a running job, paired with podman-hpc container inspect."""
    os.makedirs(os.path.join(sb, "key-live", "incoming"))
    # (pman appends the job's args and output directory to the entrypoint)
    conn.request("POST", "/api/v1/", job_body("live", ["sh", "-c", "sleep 3600"]),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    assert r.status == 201, r.status
    t0 = time.time()
    while (job := get(conn, "/api/v1/live/"))["status"] != "started":
        assert job["status"] == "notstarted" and time.time() - t0 < 120, job
        time.sleep(0.2)
    inspect = ["podman-hpc", "container", "inspect", "live"]
    timed(inspect, ENV)
    get(conn, "/api/v1/live/")
    ta, tb = [], []
    for _ in range(RUNS):
        ta.append(timed(inspect, ENV))
        t = time.perf_counter()
        st = get(conn, "/api/v1/live/")["status"]
        tb.append(time.perf_counter() - t)
        assert st == "started", st
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"GET /api/v1/JID/ of a running job: median {mb * 1000:.0f} ms; one podman-hpc "
          f"container inspect: {ma * 1000:.0f} ms; ratio {mb / ma:.2f} ({RUNS} pairs)")
    subprocess.run(["podman-hpc", "rm", "-f", "-t", "0", "live"], env=ENV,
                   stdout=subprocess.DEVNULL)


def main():
    tmp = os.path.join(ENV["BENCH_TMP"], "jobd")
    if os.path.exists(tmp):
        subprocess.run(["podman-hpc", "unshare", "rm", "-rf", tmp], env=ENV, check=True)
    sb = os.path.join(tmp, "sb")
    os.makedirs(sb)
    if subprocess.run(["podman-hpc", "image", "exists", IMG], env=ENV).returncode != 0:
        subprocess.run(["podman-hpc", "import", "--quiet",
                        os.path.join(ENV["BENCH_DIR"], "tiny.tar"), IMG],
                       env=ENV, check=True, stdout=subprocess.DEVNULL)
    # no leftovers of an earlier run
    old = subprocess.run(["podman-hpc", "ps", "-aq", "--filter", "label=podman-hpc-jobd=1"],
                         env=ENV, capture_output=True, text=True).stdout.split()
    if old:
        subprocess.run(["podman-hpc", "rm", "-f"] + old, env=ENV, stdout=subprocess.DEVNULL)
    port = free_port()
    svc = subprocess.Popen(["podman-hpc-jobd", "--port", str(port), "--state-dir",
                            os.path.join(tmp, "state"), "--workers", "2"],
                           env=dict(ENV, STOREBASE=sb), stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port)
                c.request("GET", "/api/v1/")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        live_get(conn, sb)
        if os.environ.get("BENCH_PART") == "live":
            return
        lat = []
        for i in range(N):
            os.makedirs(os.path.join(sb, f"key-b{i}", "incoming"))
            body = job_body(f"b{i}", ["true"])
            t = time.perf_counter()
            conn.request("POST", "/api/v1/", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            lat.append(time.perf_counter() - t)
            assert r.status == 201, r.status
        lat.sort()
        p99 = lat[int(len(lat) * 0.99) - 1]
        print(f"POST of {N} jobs, one after another while their containers start: median "
              f"{statistics.median(lat) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, max "
              f"{lat[-1] * 1000:.1f} ms (target p99 <= 20 ms)")
        print(f"service RSS with {N} jobs recorded: {rss_kib(svc.pid) / 1024:.1f} MiB "
              "(target <= 20 MiB)")
        # every job handed to podman and every container ended (asked of the
        # database and of podman, not of the service: a GET of a live job
        # costs a podman-hpc process)
        t0 = time.time()
        db = os.path.join(tmp, "state", "jobs.db")
        while time.time() - t0 < 3600:
            n = subprocess.run(["sqlite3", db, "select count(*) from jobs where phase = 0"],
                               capture_output=True, text=True).stdout.strip()
            running = subprocess.run(["podman-hpc", "ps", "-q", "--filter",
                                      "label=podman-hpc-jobd=1", "--filter", "status=running"],
                                     env=ENV, capture_output=True, text=True).stdout.split()
            if n == "0" and not running:
                break
            time.sleep(2)
        print(f"all {N} containers started and ended {time.time() - t0:.0f} s after the last "
              "POST (2 workers)")
        # a new connection: the service closes one idle for 60 s
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for i in (0, N // 2, N - 1):
            conn.request("GET", f"/api/v1/b{i}/")
            r = conn.getresponse()
            st = json.loads(r.read())["status"]
            assert st == "finishedSuccessfully", (i, st)
        for threads in (1, 4, 16):
            out = subprocess.run([ENV["BENCH_HTTPLOAD"], str(port), f"/api/v1/b{N // 2}/",
                                  str(threads), "5"], capture_output=True, text=True,
                                 check=True).stdout.strip()
            print(f"GET /api/v1/JID/ of a finished job, {threads:2d} connections: {out} "
                  "(target >= 5,000 req/s)")
        print(f"service RSS after the GETs: {rss_kib(svc.pid) / 1024:.1f} MiB")
    finally:
        svc.terminate()
        svc.wait()
        ids = subprocess.run(["podman-hpc", "ps", "-aq", "--filter",
                              "label=podman-hpc-jobd=1"], env=ENV, capture_output=True,
                             text=True).stdout.split()
        for k in range(0, len(ids), 100):
            subprocess.run(["podman-hpc", "rm", "-f"] + ids[k:k + 100], env=ENV,
                           stdout=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
