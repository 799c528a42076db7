"""Threads on a shared CPU: one network update and one prediction with torch's threads and OpenMP's wait
policy set each way, on an idle machine and beside busy processes, alternated in one run.

    python bench/threads.py [--rounds 3] [--load 2] [--load_kind python|torch] [--json bench/results_threads_<cpu>.json]

Each setting runs in its own child process (OpenMP reads its environment when it starts): torch's threads
one per core, one, or following the free cores (threads.AdaptiveThreads, simple_dqn's --threads 0, checked
before every call), after WARMUP seconds of updates; and GNU OpenMP's wait at barriers: unset (spin for a while, then sleep),
OMP_WAIT_POLICY ACTIVE (spin), PASSIVE (sleep at once), or a short GOMP_SPINCOUNT. The load is --load
processes spinning in Python (--load_kind python), or --load copies of the measured child itself training
without end (torch: the test suite beside a training run, both with the same settings). Medians over rounds
of each child's median, in milliseconds per call.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from report import machine

CHILD = r"""
import os, statistics, sys, time
sys.path.insert(0, {src!r})
import numpy as np
from simple_dqn.threads import AdaptiveThreads, configure_threads
configure_threads(max({threads}, 0))
adapt = AdaptiveThreads() if {threads} < 0 else None
import torch
from simple_dqn.build import make_network
from simple_dqn.replay_memory import Minibatch
net = make_network(4, (84, 84), optimizer="adam", numerics={numerics!r})
rng = np.random.default_rng(0)
batch = Minibatch(states=rng.integers(0, 256, (32, 5, 84, 84), dtype=np.uint8), actions=rng.integers(0, 4, 32),
                  rewards=np.zeros(32, np.float32), terminals=np.zeros(32, bool), weights=np.ones(32, np.float32),
                  indexes=np.arange(32), n_step=1)
states = rng.integers(0, 256, (10, 4, 84, 84), dtype=np.uint8)
def call(fn):
    if adapt is not None:
        adapt.update()
    fn()
def med(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter(); call(fn); out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)
warm_until = time.monotonic() + {warmup}
while {forever} or time.monotonic() < warm_until:  # the neighbours settle (and adapt)
    call(lambda: net.train(batch))
print(med(lambda: net.train(batch), 15), med(lambda: net.predict(states), 30), torch.get_num_threads())
"""

WARMUP = 6.0  # seconds of updates before the measurement: longer than AdaptiveThreads' first interval

# (label, environment) of the OpenMP wait settings measured; None removes the variable.
WAITS = {
    "unset": {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None},
    "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None},
    "SPINCOUNT=10000": {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "10000"},
}


def spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def child(threads: int, wait: str, numerics: str, forever: bool = False) -> tuple[list[str], dict]:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    for name, value in WAITS[wait].items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    src = str(Path(__file__).resolve().parent.parent / "src")
    code = CHILD.format(src=src, threads=threads, numerics=numerics, forever=forever, warmup=WARMUP)
    return [sys.executable, "-c", code], env


def run_child(threads: int, wait: str, numerics: str) -> tuple[float, float, int]:
    command, env = child(threads, wait, numerics)
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    update, predict, used = out.stdout.split()
    return float(update), float(predict), int(used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", type=int, default=2, help="busy processes beside the loaded runs")
    parser.add_argument("--load_kind", choices=("python", "torch"), default="python")
    parser.add_argument("--waits", nargs="+", choices=tuple(WAITS), default=["ACTIVE", "PASSIVE"])
    parser.add_argument("--numerics", default="float32")
    parser.add_argument("--json")
    args = parser.parse_args()
    cores = os.cpu_count()
    # threads: 0 torch's default (one per core), 1, -1 following the free cores (simple_dqn's default).
    settings = [(threads, wait) for threads in (0, 1, -1) for wait in args.waits]
    times: dict = {}
    for _ in range(args.rounds):
        for loaded in (False, True):
            for threads, policy in settings:
                workers = []
                if loaded and args.load_kind == "python":
                    stop_at = time.time() + 600
                    workers = [multiprocessing.Process(target=spin, args=(stop_at,)) for _ in range(args.load)]
                    for w in workers:
                        w.start()
                elif loaded:
                    command, env = child(threads, policy, args.numerics, forever=True)
                    workers = [subprocess.Popen(command, env=env) for _ in range(args.load)]
                    time.sleep(5)  # past their start-up, training
                try:
                    update, predict, used = run_child(threads, policy, args.numerics)
                finally:
                    for w in workers:
                        w.terminate()
                    for w in workers:
                        w.join() if hasattr(w, "join") else w.wait()
                label = {0: "cores", -1: "adaptive"}.get(threads, threads)
                key = f"{'loaded' if loaded else 'idle'}/threads={label}({used})/{policy}"
                times.setdefault(key, []).append((update, predict))
    result = dict(**machine(), cpu_count=cores, load_processes=args.load, load_kind=args.load_kind,
                  numerics=args.numerics,
                  unit="ms, median over rounds of medians",
                  update_32={k: round(statistics.median(u for u, _ in v), 2) for k, v in times.items()},
                  predict_10={k: round(statistics.median(p for _, p in v), 2) for k, v in times.items()})
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
