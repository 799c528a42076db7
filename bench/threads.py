"""Threads on a shared CPU: one network update and one prediction with torch's threads and OpenMP's wait
policy set each way, on an idle machine and beside busy processes, alternated in one run.

    python bench/threads.py [--rounds 3] [--load 2] [--json bench/results_threads_<cpu>.json]

Each setting runs in its own child process (OpenMP reads OMP_WAIT_POLICY when it starts): `--threads N`
through simple_dqn's own option, OMP_WAIT_POLICY ACTIVE (threads spin at barriers, GNU OpenMP's default
behaviour for a while) or PASSIVE (they sleep). The load is --load processes spinning in Python, as other
work on the machine would. Medians over rounds of each child's median, in milliseconds per call.
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
from simple_dqn.threads import configure_threads
configure_threads({threads})
import torch
from simple_dqn.build import make_network
from simple_dqn.replay_memory import Minibatch
net = make_network(4, (84, 84), optimizer="adam", numerics={numerics!r})
rng = np.random.default_rng(0)
batch = Minibatch(states=rng.integers(0, 256, (32, 5, 84, 84), dtype=np.uint8), actions=rng.integers(0, 4, 32),
                  rewards=np.zeros(32, np.float32), terminals=np.zeros(32, bool), weights=np.ones(32, np.float32),
                  indexes=np.arange(32), n_step=1)
states = rng.integers(0, 256, (10, 4, 84, 84), dtype=np.uint8)
def med(fn, n):
    fn(); fn()
    out = []
    for _ in range(n):
        t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)
print(med(lambda: net.train(batch), 15), med(lambda: net.predict(states), 30), torch.get_num_threads())
"""


def spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def run_child(threads: int, policy: str, numerics: str) -> tuple[float, float, int]:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    env["OMP_WAIT_POLICY"] = policy
    src = str(Path(__file__).resolve().parent.parent / "src")
    code = CHILD.format(src=src, threads=threads, numerics=numerics)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    update, predict, used = out.stdout.split()
    return float(update), float(predict), int(used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", type=int, default=2, help="busy processes beside the loaded runs")
    parser.add_argument("--numerics", default="float32")
    parser.add_argument("--json")
    args = parser.parse_args()
    cores = os.cpu_count()
    settings = [(0, "ACTIVE"), (0, "PASSIVE"), (1, "PASSIVE"), (1, "ACTIVE")]
    times: dict = {}
    for _ in range(args.rounds):
        for loaded in (False, True):
            for threads, policy in settings:
                workers = []
                if loaded:
                    stop_at = time.time() + 600
                    workers = [multiprocessing.Process(target=spin, args=(stop_at,)) for _ in range(args.load)]
                    for w in workers:
                        w.start()
                try:
                    update, predict, used = run_child(threads, policy, args.numerics)
                finally:
                    for w in workers:
                        w.terminate()
                key = f"{'loaded' if loaded else 'idle'}/threads={threads or 'auto'}({used})/{policy}"
                times.setdefault(key, []).append((update, predict))
    result = dict(**machine(), cpu_count=cores, load_processes=args.load, numerics=args.numerics,
                  unit="ms, median over rounds of medians",
                  update_32={k: round(statistics.median(u for u, _ in v), 2) for k, v in times.items()},
                  predict_10={k: round(statistics.median(p for _, p in v), 2) for k, v in times.items()})
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
