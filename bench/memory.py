"""Resident memory of a full 1,000,000-screen replay memory at 84x84, and the peer's figure.

    python bench/memory.py [--size 1000000]

Fills the memory with real Breakout screens (50,000 played, then repeated, since every
byte is touched either way) and prints the process's resident set size (VmRSS) before and
after, next to the bytes Stable-Baselines3's DQN replay buffer allocates for the same
capacity: it stores each observation as a stack of 4 frames, twice (obs and next_obs)
unless optimize_memory_usage=True, which keeps one copy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

from simple_dqn.ale_game import ALEGame  # noqa: E402
from simple_dqn.replay_memory import ReplayMemory  # noqa: E402


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def real_screens(n: int, seed: int = 0) -> np.ndarray:
    """n preprocessed Breakout screens from random play: uint8 (n, 84, 84)."""
    game = ALEGame("breakout", random_seed=seed)
    rng = np.random.default_rng(seed)
    screens = np.empty((n, 84, 84), dtype=np.uint8)
    game.reset_game()
    for i in range(n):
        game.act(int(rng.integers(game.num_actions)))
        screens[i] = game.get_screen()
        if game.game_over():
            game.reset_game()
    return screens


def fill(mem: ReplayMemory, screens: np.ndarray) -> None:
    for i in range(mem.size):
        mem.add(i % 4, 0.0, screens[i % len(screens)], i % 500 == 499, start=i % 500 == 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    screens = real_screens(50_000)
    before = rss_bytes()
    mem = ReplayMemory(size=args.size, history_length=4, screen_shape=(84, 84), batch_size=32)
    started = time.perf_counter()
    fill(mem, screens)
    fill_seconds = time.perf_counter() - started
    after = rss_bytes()
    sb3 = args.size * 4 * 84 * 84  # one (4, 84, 84) uint8 observation per transition
    result = dict(size=args.size, memory_nbytes=mem.nbytes, rss_before=before, rss_after=after,
                  rss_of_memory=after - before, fill_seconds=round(fill_seconds, 1),
                  sb3_bytes_default=2 * sb3, sb3_bytes_optimize_memory_usage=sb3)
    gib = 2 ** 30
    print(f"replay memory of {args.size:,} screens: arrays {mem.nbytes / 1e9:.2f} GB ({mem.nbytes / gib:.2f} GiB); "
          f"process resident {after / 1e9:.2f} GB ({after / gib:.2f} GiB), of which the memory adds "
          f"{(after - before) / 1e9:.2f} GB")
    print(f"Stable-Baselines3 DQN buffer for the same capacity: {2 * sb3 / 1e9:.1f} GB (obs + next_obs), "
          f"{sb3 / 1e9:.1f} GB with optimize_memory_usage=True")
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
