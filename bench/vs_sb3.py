"""This project against Stable-Baselines3's DQN: steps per second of the random-fill and training phases.

    bench/vs_sb3.sh [--fill_steps 10000] [--train_steps 4000] [--rounds 2] [--no_parallel]

Both run Breakout (BreakoutNoFrameskip-v4 for SB3, with its standard AtariWrapper: 4-frame skip
with max pooling, 84x84 grayscale, 30 no-op starts, life loss terminal; the ROM through ALE here)
with the Nature settings: batch 32, a network update every 4 steps, target copy every 10,000,
a replay buffer of 100,000, the same seed. Training runs with epsilon held at 1, as
simple_dqn's first-epoch figure, so both measure environment, storage, sampling and update and
no prediction. Runs alternate (ours, SB3, ours, SB3, ...) so both see the same machine load;
the medians and their ratios are printed and written as JSON.

Besides one game each (ours with the original's colour averaging, in float32 and with
bfloat16 autocast), both also run two games side by side: ours with --num_envs 2 (ALE's C++
threads, max pooling), SB3 with n_envs=2 in SubprocVecEnv (one process per game) and
train_freq=2 vector steps, so that both keep one update per 4 environment steps.

With --recipe, both also run the CPU recipe's replay ratio (--preset tianshou): ten games, one update
per 10 environment steps, a target copy every 5,000; ours with --num_envs 10 on ALE's C++ threads in float32
and with --numerics auto, SB3 with n_envs=10 in SubprocVecEnv, train_freq=1 vector step and Adam 1e-4.

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


def run_ours(fill_steps: int, train_steps: int, seed: int, autocast: str = "none", channels_last: bool = True,
             num_envs: int = 1, train_frequency: int = 4, target_steps: int = 10_000,
             numerics: str = "float32") -> dict:
    import numpy as np

    from simple_dqn.agent import Agent
    from simple_dqn.ale_game import ALEGame
    from simple_dqn.ale_vector_environment import ALEVectorEnvironment
    from simple_dqn.build import make_network
    from simple_dqn.environment import GameEnvironment
    from simple_dqn.replay_memory import ReplayMemory
    from simple_dqn.statistics import Statistics

    rng = np.random.default_rng(seed)
    if num_envs == 1:
        env = GameEnvironment([ALEGame("breakout", random_seed=seed)])
    else:
        env = ALEVectorEnvironment("breakout", num_envs, random_seed=seed, frame_pooling="max")
    mem = ReplayMemory(size=100_000, history_length=4, screen_shape=(84, 84), batch_size=32, rng=rng,
                       streams=num_envs)
    optimizer = dict(optimizer="adam", learning_rate=0.0001) if train_frequency > 4 else {}
    net = make_network(env.num_actions, (84, 84), channels_last=channels_last, autocast=autocast, numerics=numerics,
                       **optimizer)
    agent = Agent(env, mem, net, exploration_rate_start=1.0, exploration_rate_end=1.0,
                  train_frequency=train_frequency, target_steps=target_steps, rng=rng)
    agent.callback = Statistics(None, progress=False)  # as main runs it
    started = time.perf_counter()
    filled = agent.play_random(fill_steps)
    fill = filled / (time.perf_counter() - started)
    started = time.perf_counter()
    trained = agent.train(train_steps)
    train = trained / (time.perf_counter() - started)
    env.close()
    return dict(fill=fill, train=train)


def run_sb3(fill_steps: int, train_steps: int, seed: int, n_envs: int = 1, recipe: bool = False) -> dict:
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack

    gym.register_envs(ale_py)

    class Clock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.marks = {}

        def _on_training_start(self):
            self.marks["start"] = time.perf_counter()

        def _on_step(self):
            if "filled" not in self.marks and self.num_timesteps >= fill_steps:
                self.marks["filled"] = time.perf_counter()
            return True

        def _on_training_end(self):
            self.marks["end"] = time.perf_counter()

    vec_env_cls = DummyVecEnv if n_envs == 1 else SubprocVecEnv
    # fork: the workers inherit ale_py's registration of the Atari ids.
    vec_env_kwargs = {} if n_envs == 1 else dict(start_method="fork")
    env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=n_envs, seed=seed, vec_env_cls=vec_env_cls,
                                       vec_env_kwargs=vec_env_kwargs), n_stack=4)
    # train_freq counts vector steps: one update per 4 environment steps for any n_envs.
    model = DQN("CnnPolicy", env, buffer_size=100_000, learning_starts=fill_steps, batch_size=32,
                train_freq=1 if recipe else max(1, 4 // n_envs),
                gradient_steps=1, target_update_interval=5_000 if recipe else 10_000,
                learning_rate=0.0001 if recipe else 0.00025,
                exploration_initial_eps=1.0, exploration_final_eps=1.0, optimize_memory_usage=False,
                seed=seed, device="cpu", verbose=0)
    clock = Clock()
    model.learn(total_timesteps=fill_steps + train_steps, callback=clock)
    env.close()
    return dict(fill=fill_steps / (clock.marks["filled"] - clock.marks["start"]),
                train=train_steps / (clock.marks["end"] - clock.marks["filled"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fill_steps", type=int, default=10_000)
    parser.add_argument("--train_steps", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_parallel", action="store_true", help="skip the two-game runs")
    parser.add_argument("--recipe", action="store_true", help="also the CPU recipe's 10 games, one update per 10 steps")
    parser.add_argument("--only_recipe", action="store_true", help="the recipe's runs only")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    import platform

    import stable_baselines3
    import torch

    runners = {"ours": run_ours, "sb3": run_sb3,
               "ours_bf16": lambda *a: run_ours(*a, autocast="bfloat16", channels_last=False)}
    pairs = [("ours", "sb3"), ("ours_bf16", "sb3")]
    if not args.no_parallel:
        runners.update(ours_n2=lambda *a: run_ours(*a, num_envs=2), sb3_n2=lambda *a: run_sb3(*a, n_envs=2))
        pairs += [("ours_n2", "sb3_n2"), ("ours_n2", "sb3")]
    if args.only_recipe:
        runners, pairs = {}, []
    if args.recipe or args.only_recipe:
        recipe = dict(num_envs=10, train_frequency=10, target_steps=5_000)
        runners.update(ours_recipe=lambda *a: run_ours(*a, **recipe),
                       ours_recipe_auto=lambda *a: run_ours(*a, **recipe, numerics="auto"),
                       sb3_recipe=lambda *a: run_sb3(*a, n_envs=10, recipe=True))
        pairs += [("ours_recipe", "sb3_recipe"), ("ours_recipe_auto", "sb3_recipe")]
    results = {name: [] for name in runners}
    for round_ in range(args.rounds):
        for name, fn in runners.items():
            figures = fn(args.fill_steps, args.train_steps, args.seed + round_)
            results[name].append(figures)
            print(f"round {round_ + 1} {name:9s} fill {figures['fill']:8.1f} steps/s   train {figures['train']:7.1f} steps/s",
                  flush=True)
    medians = {name: {phase: statistics.median(r[phase] for r in runs) for phase in ("fill", "train")}
               for name, runs in results.items()}
    ratios = {f"{ours}/{peer} {phase}": medians[ours][phase] / medians[peer][phase]
              for ours, peer in pairs for phase in ("fill", "train")}
    from report import machine

    summary = dict(**machine(), machine=f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                   torch=torch.__version__, torch_threads=torch.get_num_threads(),
                   stable_baselines3=stable_baselines3.__version__, fill_steps=args.fill_steps,
                   train_steps=args.train_steps, rounds=args.rounds, medians=medians, ratios=ratios, runs=results)
    print("\nmedian steps/s " + "".join(f"{name:>11}" for name in runners))
    for phase in ("fill", "train"):
        print(f"{phase:14s} " + "".join(f"{medians[name][phase]:11.1f}" for name in runners))
    print("\nratio" + "".join(f"{ours + '/' + peer:>20}" for ours, peer in pairs))
    for phase in ("fill", "train"):
        print(f"{phase:5s}" + "".join(f"{ratios[f'{ours}/{peer} {phase}']:19.2f}x" for ours, peer in pairs))
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
