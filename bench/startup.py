"""A command's start-up: wall seconds of a short catch run, for each source tree given, alternated.

    python bench/startup.py SRC [SRC ...] [--rounds 5] [--json bench/results_startup_<cpu>.json]

Each SRC is a folder holding the simple_dqn package (src/ of a checkout or a git worktree at
another commit). Each round runs, once per SRC in turn and in a new process,
``python -m simple_dqn catch --random_steps 100 --train_steps 10 --test_steps 10 --epochs 1``
(a network, an optimizer, 110 steps and a test: almost all of it is the start) and the same
with ``--help`` (argument parsing only). Medians over rounds, in seconds, and whether the run
imported torch._dynamo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from report import emit, machine

RUN = ["catch", "--random_steps", "100", "--train_steps", "10", "--test_steps", "10", "--epochs", "1",
       "--log_level", "WARNING"]
PROBE = ("import runpy, sys; sys.argv = ['simple_dqn', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('simple_dqn', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('DYNAMO', 'torch._dynamo' in sys.modules)\n")


def timed(src: str, args: list[str], folder: str) -> tuple[float, bool]:
    """(wall seconds, whether torch._dynamo was imported) of one command."""
    env = dict(os.environ, PYTHONPATH=src)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=folder, env=env, capture_output=True,
                         text=True, check=True).stdout
    return time.perf_counter() - started, "DYNAMO True" in out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    srcs = [os.path.abspath(s) for s in args.src]
    runs: dict[str, list[float]] = {s: [] for s in srcs}
    helps: dict[str, list[float]] = {s: [] for s in srcs}
    dynamo: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for src in srcs:
                seconds, dynamo[src] = timed(src, RUN, folder)
                runs[src].append(seconds)
                helps[src].append(timed(src, ["--help"], folder)[0])
    emit(dict(machine=machine(), rounds=args.rounds, command=" ".join(RUN),
              results={src: dict(run_s=round(statistics.median(runs[src]), 3),
                                 help_s=round(statistics.median(helps[src]), 3),
                                 imports_dynamo=dynamo[src], run_all_s=[round(x, 3) for x in runs[src]])
                       for src in srcs}), args.json)


if __name__ == "__main__":
    main()
