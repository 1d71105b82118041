"""Shared benchmark helpers: wall-clock timing of whole commands, alternating
between two commands so that drift on a noisy machine hits both alike."""
import statistics
import subprocess
import time


def timed(argv, env):
    t = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def alternate(a, env_a, b, env_b, runs):
    """Medians (seconds) of a and b over runs each, after one warm-up each."""
    med_a, med_b, _ = paired(a, env_a, b, env_b, runs)
    return med_a, med_b


def paired(a, env_a, b, env_b, runs, before_b=None):
    """Like alternate, plus the median of the per-pair differences b - a,
    which a slow phase of the machine shifts less than a difference of
    medians: (median a, median b, median of b - a). before_b, if given, is
    called before each run of b, untimed: the state b must start from."""
    prepare = before_b or (lambda: None)
    timed(a, env_a)
    prepare()
    timed(b, env_b)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(timed(a, env_a))
        prepare()
        tb.append(timed(b, env_b))
    return (statistics.median(ta), statistics.median(tb),
            statistics.median(y - x for x, y in zip(ta, tb)))
