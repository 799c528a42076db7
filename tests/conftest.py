"""Shared helpers: run the real command line in a subprocess, the project's paths."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from simple_dqn.numerics import cpu_bf16_flags

ROOT = Path(__file__).resolve().parent.parent
# The original simple_dqn's published statistics files (MIT; docs/reference/simple_dqn_results/LICENSE.simple_dqn).
REFERENCE = ROOT / "docs" / "reference" / "simple_dqn_results"

# SIMPLE_DQN_TEST_BACKEND=gpu runs the network, replay memory and learning tests on CUDA;
# SIMPLE_DQN_TEST_FLAGS adds flags to their command lines (say "--replay_on_gpu true").
BACKEND = os.environ.get("SIMPLE_DQN_TEST_BACKEND", "cpu")
DEVICE = "cuda:0" if BACKEND == "gpu" else "cpu"
EXTRA_FLAGS = os.environ.get("SIMPLE_DQN_TEST_FLAGS", "").split()

# What the catch learning tests ask of a test phase's average reward (100 games of catch in 900
# steps; a random policy scores about -0.4). Agents that learned reach 0.7-1.0 here, and a 100-game
# mean has a standard error near 0.08: a bar at 0.6 holds across CPU kinds, whose float kernels
# give the same seed other trajectories, and no agent that failed to learn passes it.
CATCH_LEARNED = 0.6

# Whether this CPU computes bfloat16 in hardware (amx_bf16 or avx512_bf16); elsewhere it is emulated,
# several times slower, and --numerics auto is float32.
HAS_BF16 = bool(cpu_bf16_flags())

# Catch on 36x36 screens without no-op starts: what every short catch run of the tests shares.
CATCH_SMALL = ["--random_starts", "0", "--screen_width", "36", "--screen_height", "36"]

# Small, fast settings under which catch learns in one epoch of 1,500 train steps (see test_learning.py).
CATCH_FAST = ["catch", *CATCH_SMALL, "--replay_size", "20000", "--random_steps", "1000",
              "--train_steps", "1500", "--test_steps", "900", "--epochs", "1",
              "--exploration_decay_steps", "3000", "--exploration_rate_end", "0.05", "--target_steps", "100",
              "--train_frequency", "1", "--optimizer", "adam", "--learning_rate", "0.001",
              "--random_seed", "1", "--backend", BACKEND, *EXTRA_FLAGS]


def results(path) -> list[dict]:
    """The rows of a results CSV by column name (the header checked to be the 16 columns)."""
    import csv

    from simple_dqn.statistics import CSV_COLUMNS

    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS, reader.fieldnames
        return list(reader)


def cli_env() -> dict:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(args: list[str], timeout: float = 600, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run `python -m simple_dqn ARGS` for real; returns the finished process (text output)."""
    return subprocess.run([sys.executable, "-m", "simple_dqn", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=cli_env())


def run_script(script: str, args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run one of the project's shell scripts (train.sh, ...) inside the active environment."""
    return subprocess.run([str(ROOT / script), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=cli_env())


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit status 2, no traceback, one error line on stderr that contains the fragments."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]


def noop_steps_until_terminal(env, limit: int = 100_000) -> int:
    """Restart env's games in test mode and play no-ops until stream 0 is terminal; returns the steps played.

    In Breakout a player who never fires never loses, so only a frame cap ends the game.
    """
    import numpy as np

    env.set_mode("test")
    env.restart()
    noops = np.zeros(env.num_envs, dtype=np.int64)
    for steps in range(1, limit + 1):
        _, _, terminals = env.step(noops)
        if terminals[0]:
            return steps
    raise AssertionError(f"no terminal within {limit} steps")


def network(num_actions: int = 4, screen_shape: tuple[int, int] = (84, 84), **options):
    """The Q-networks main builds with these make_network options (defaults: the command line's,
    history 4), on DEVICE (the CPU unless SIMPLE_DQN_TEST_BACKEND=gpu)."""
    from simple_dqn.build import make_network

    return make_network(num_actions, screen_shape, device=DEVICE, **options)


def one_game(game, **rules):
    """An Environment of the one game given (environment.GameEnvironment, N = 1)."""
    from simple_dqn.environment import GameEnvironment

    return GameEnvironment([game], **rules)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)


def set_window_size(rows=40, columns=120):
    """Give the pseudo-terminal a size, as a real one has (tqdm draws nothing 0 columns wide)."""
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def read_pty(fd, seconds):
    out = b""
    end = time.time() + seconds
    while time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


def read_pty_until(fd, text, seconds):
    """Read the pseudo-terminal until text has appeared (or seconds have passed)."""
    out = ""
    end = time.time() + seconds
    while text not in out and time.time() < end:
        out += read_pty(fd, 0.5)
    return out
