"""This project against Stable-Baselines3's DQN: steps per second of the random-fill and training phases.

    bench/vs_sb3.sh [--fill_steps 10000] [--train_steps 4000] [--rounds 2]

Both run Breakout (BreakoutNoFrameskip-v4 for SB3, with its standard AtariWrapper: 4-frame skip
with max pooling, 84x84 grayscale, 30 no-op starts, life loss terminal; the ROM through ALE here)
with the Nature settings: batch 32, a network update every 4 steps, target copy every 10,000,
a replay buffer of 100,000, the same seed. Training runs with epsilon held at 1, as
simple_dqn's first-epoch figure, so both measure environment, storage, sampling and update and
no prediction. Runs alternate (ours, SB3, ours, SB3, ...) so both see the same machine load;
the medians and their ratios are printed and written as JSON.

Stable-Baselines3 is installed by bench/vs_sb3.sh into bench/.venv only; it is never a
dependency of simple_dqn.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


def run_ours(fill_steps: int, train_steps: int, seed: int, autocast: str = "none", channels_last: bool = True) -> dict:
    import numpy as np

    from simple_dqn.agent import Agent
    from simple_dqn.deepqnetwork import DeepQNetwork
    from simple_dqn.environment import ALEEnvironment
    from simple_dqn.replay_memory import ReplayMemory
    from simple_dqn.statistics import Statistics

    rng = np.random.default_rng(seed)
    env = ALEEnvironment("breakout", random_seed=seed)
    mem = ReplayMemory(size=100_000, history_length=4, screen_shape=(84, 84), batch_size=32, rng=rng)
    net = DeepQNetwork(num_actions=env.num_actions, history_length=4, screen_shape=(84, 84), autocast=autocast,
                       channels_last=channels_last)
    agent = Agent(env, mem, net, exploration_rate_start=1.0, exploration_rate_end=1.0, train_frequency=4,
                  target_steps=10_000, rng=rng)
    agent.callback = Statistics(None, progress=False)  # as main runs it
    started = time.perf_counter()
    agent.play_random(fill_steps)
    fill = fill_steps / (time.perf_counter() - started)
    started = time.perf_counter()
    agent.train(train_steps)
    train = train_steps / (time.perf_counter() - started)
    return dict(fill=fill, train=train)


def run_sb3(fill_steps: int, train_steps: int, seed: int) -> dict:
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)

    class Clock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.marks = {}

        def _on_training_start(self):
            self.marks["start"] = time.perf_counter()

        def _on_step(self):
            if self.num_timesteps == fill_steps:
                self.marks["filled"] = time.perf_counter()
            return True

        def _on_training_end(self):
            self.marks["end"] = time.perf_counter()

    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=1, seed=seed), n_stack=4)
    model = DQN("CnnPolicy", env, buffer_size=100_000, learning_starts=fill_steps, batch_size=32, train_freq=4,
                gradient_steps=1, target_update_interval=10_000, learning_rate=0.00025,
                exploration_initial_eps=1.0, exploration_final_eps=1.0, optimize_memory_usage=False,
                seed=seed, device="cpu", verbose=0)
    clock = Clock()
    model.learn(total_timesteps=fill_steps + train_steps, callback=clock)
    return dict(fill=fill_steps / (clock.marks["filled"] - clock.marks["start"]),
                train=train_steps / (clock.marks["end"] - clock.marks["filled"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fill_steps", type=int, default=10_000)
    parser.add_argument("--train_steps", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    import platform

    import stable_baselines3
    import torch

    runners = {"ours": run_ours, "sb3": run_sb3,
               "ours_bf16": lambda *a: run_ours(*a, autocast="bfloat16", channels_last=False)}
    results = {name: [] for name in runners}
    for round_ in range(args.rounds):
        for name, fn in runners.items():
            figures = fn(args.fill_steps, args.train_steps, args.seed + round_)
            results[name].append(figures)
            print(f"round {round_ + 1} {name:9s} fill {figures['fill']:8.1f} steps/s   train {figures['train']:7.1f} steps/s",
                  flush=True)
    medians = {name: {phase: statistics.median(r[phase] for r in runs) for phase in ("fill", "train")}
               for name, runs in results.items()}
    ratios = {f"{name}/sb3 {phase}": medians[name][phase] / medians["sb3"][phase]
              for name in ("ours", "ours_bf16") for phase in ("fill", "train")}
    summary = dict(date=time.strftime("%Y-%m-%d"), machine=f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                   torch=torch.__version__, torch_threads=torch.get_num_threads(),
                   stable_baselines3=stable_baselines3.__version__, fill_steps=args.fill_steps,
                   train_steps=args.train_steps, rounds=args.rounds, medians=medians, ratios=ratios, runs=results)
    print("\nmedian steps/s      ours  ours_bf16     SB3   ours/SB3  ours_bf16/SB3")
    for phase in ("fill", "train"):
        print(f"{phase:12s}  {medians['ours'][phase]:8.1f} {medians['ours_bf16'][phase]:10.1f} "
              f"{medians['sb3'][phase]:7.1f}   {ratios[f'ours/sb3 {phase}']:7.2f}x  {ratios[f'ours_bf16/sb3 {phase}']:12.2f}x")
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
