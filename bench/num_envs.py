"""Speed-up from playing N copies of the game side by side (--num_envs N), on Breakout.

    python bench/num_envs.py [--num_envs 1 2 4] [--steps 4000] [--rounds 3] [--backend cpu|gpu]

For each N the real agent runs the random phase, the
train phase at epsilon 1 (the original's first-epoch figure) and at epsilon 0.1, and the test
phase, with the Nature settings (batch 32, an update every 4 environment steps counted over all
games, target copy every 10,000) and max pooling, which ALE's vector environment needs (N = 1
uses one ALEGame with --frame_pooling max, and, as "1avg", the original's colour averaging).
The N values alternate within each round so that all see the same machine load; medians of the
environment steps per second and their ratio to N = 1 are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from simple_dqn.agent import Agent  # noqa: E402
from simple_dqn.ale_game import ALEGame  # noqa: E402
from simple_dqn.ale_vector_environment import ALEVectorEnvironment  # noqa: E402
from simple_dqn.build import make_network  # noqa: E402
from simple_dqn.environment import GameEnvironment  # noqa: E402
from simple_dqn.replay_memory import ReplayMemory  # noqa: E402
from simple_dqn.statistics import Statistics  # noqa: E402

PHASES = ("random", "train_eps1", "train_eps0.1", "test")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(name: str, args, device: str, seed: int) -> dict:
    """Steps per second of each phase for one configuration ("1avg", "1", "2", ...)."""
    num_envs = int(name.rstrip("avg"))
    rng = np.random.default_rng(seed)
    if num_envs == 1:
        env = GameEnvironment([ALEGame(args.game, random_seed=seed,
                                       frame_pooling="average" if name.endswith("avg") else "max")])
    else:
        env = ALEVectorEnvironment(args.game, num_envs, random_seed=seed, frame_pooling="max")
    mem = ReplayMemory(size=args.replay_size, history_length=4, screen_shape=(84, 84), batch_size=32, rng=rng,
                       streams=num_envs)
    net = make_network(env.num_actions, (84, 84), device=device, channels_last=False, autocast=args.autocast)
    agent = Agent(env, mem, net, train_frequency=4, target_steps=10_000, rng=rng)
    agent.callback = Statistics(None, progress=False)  # as main runs it
    figures = {}
    for phase in PHASES:
        if phase.startswith("train"):
            agent.exploration_rate_start = agent.exploration_rate_end = 1.0 if phase == "train_eps1" else 0.1
        env.set_mode("test" if phase == "test" else "train")
        fn = dict(random=agent.play_random, test=agent.test).get(phase, agent.train)
        steps = args.steps * (4 if phase == "random" else 1)
        sync(device)
        start = time.perf_counter()
        played = fn(steps)
        sync(device)
        figures[phase] = played / (time.perf_counter() - start)
    env.close()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--num_envs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=4000, help="environment steps per timed phase (4x for random)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replay_size", type=int, default=100_000)
    parser.add_argument("--backend", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--autocast", choices=["none", "bfloat16", "float16"], default="none")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    device = "cuda:0" if args.backend == "gpu" else "cpu"
    if device != "cpu" and not torch.cuda.is_available():
        sys.exit("bench: --backend gpu needs CUDA")
    names = ["1avg"] + [str(n) for n in args.num_envs]
    runs = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names:
            figures = run(name, args, device, seed=round_)
            runs[name].append(figures)
            print(f"round {round_ + 1} N={name:5s} " + "  ".join(f"{p} {figures[p]:8.1f}" for p in PHASES), flush=True)
    medians = {name: {p: statistics.median(r[p] for r in runs[name]) for p in PHASES} for name in names}
    base = medians["1"] if "1" in medians else medians["1avg"]
    speedups = {name: {p: medians[name][p] / base[p] for p in PHASES} for name in names}
    print(f"\nmedian environment steps/s (speed-up over N=1 with max pooling) over {args.rounds} rounds")
    print(f"{'N':<6}" + "".join(f"{p:>22}" for p in PHASES))
    for name in names:
        print(f"{name:<6}" + "".join(f"{medians[name][p]:>13.1f} ({speedups[name][p]:4.2f}x)" for p in PHASES))
    result = dict(date=time.strftime("%Y-%m-%d"), machine=f"{platform.machine()}, {os.cpu_count()} cores",
                  device=torch.cuda.get_device_name(0) if device != "cpu" else "cpu", torch=torch.__version__,
                  torch_threads=torch.get_num_threads(), autocast=args.autocast, steps=args.steps,
                  rounds=args.rounds, medians=medians, speedups=speedups, runs=runs)
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
