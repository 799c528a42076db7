"""Tianshou's own C51 on an Atari game, run on this machine as the reference for this project's runs.

The settings are those of Tianshou's examples/atari/atari_c51.py (thu-ml/tianshou), whose benchmark
(examples/atari/benchmark/*/result.json, 10 seeds) docs/results.md quotes: envpool's v5 games (10 for
training, with a lost life as terminal and clipped rewards; 10 for tests, whole games and raw scores;
up to 30 no-ops and FIRE at a reset, 4-frame skip with max pooling, 84x84 INTER_AREA grayscale, 4-screen
stacks, a 27,000-step cap), a 100,000-transition replay memory of the 10 streams, 3-step returns, gamma
0.99, 51 atoms in [-10, 10], double-Q action choice, Adam 1e-4, a minibatch of 32 per 10 environment steps,
a target copy every 500 updates, epsilon 1 -> 0.05 over 1M environment steps, tests of 10 games at epsilon
0.005 after each epoch of 100,000 environment steps, 320 random transitions before learning, unscaled
0-255 pixels into PyTorch's default-initialised Nature network.

Writes one "test" row per epoch in this project's 16-column results CSV (columns it does not measure are
nan), so that plot.sh draws it beside this project's runs. Run it with bench/tianshou_c51.sh, which
installs Tianshou and envpool into bench/.venv-tianshou (bench only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import envpool
import numpy as np
import torch
from tianshou.data import Collector, VectorReplayBuffer
from tianshou.policy import C51Policy
from tianshou.trainer import OffpolicyTrainer
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from simple_dqn.atomic import write_dicts_csv_atomic  # noqa: E402
from simple_dqn.statistics import CSV_COLUMNS  # noqa: E402


class C51Network(nn.Module):
    """The Nature DQN network with num_actions x num_atoms outputs and a softmax per action.

    forward: (B, 4, 84, 84) uint8 or float screens, 0-255 -> (B, num_actions, num_atoms) float32
    probabilities (Bellemare et al. 2017, section 4).
    """

    def __init__(self, channels: int, num_actions: int, num_atoms: int):
        super().__init__()
        self.num_actions, self.num_atoms = num_actions, num_atoms
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, 1), nn.ReLU(), nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(),
            nn.Linear(512, num_actions * num_atoms))

    def forward(self, obs, state=None, info=None):
        logits = self.net(torch.as_tensor(obs, dtype=torch.float32))
        return logits.view(-1, self.num_actions, self.num_atoms).softmax(-1), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Breakout", help="envpool game name without -v5 (default Breakout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps_per_epoch", type=int, default=100_000, help="environment steps per epoch")
    parser.add_argument("--test_step_cap", type=int, default=27_000, help="a test game's step cap (envpool's)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    parser.add_argument("--csv_file", required=True, help="results CSV to write (16 columns, test rows)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = f"{args.game}-v5"
    train_envs = envpool.make_gymnasium(task, num_envs=10, seed=args.seed, episodic_life=True, reward_clip=True,
                                        stack_num=4)
    test_envs = envpool.make_gymnasium(task, num_envs=10, seed=args.seed, episodic_life=False, reward_clip=False,
                                       stack_num=4, max_episode_steps=args.test_step_cap)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    net = C51Network(4, train_envs.action_space.n, 51)
    policy = C51Policy(model=net, optim=torch.optim.Adam(net.parameters(), lr=1e-4), discount_factor=0.99,
                       action_space=train_envs.action_space, num_atoms=51, v_min=-10.0, v_max=10.0,
                       estimation_step=3, target_update_freq=500)
    buffer = VectorReplayBuffer(100_000, buffer_num=10, ignore_obs_next=True, save_only_last_obs=True, stack_num=4)
    train_collector = Collector(policy, train_envs, buffer, exploration_noise=True)
    test_collector = Collector(policy, test_envs, exploration_noise=True)

    def train_fn(epoch: int, env_step: int) -> None:
        policy.set_eps(max(0.05, 1.0 - env_step / 1e6 * 0.95))

    def test_fn(epoch: int, env_step: int | None) -> None:
        policy.set_eps(0.005)

    start = time.time()
    train_collector.reset()
    train_collector.collect(n_step=320)
    trainer = OffpolicyTrainer(policy=policy, train_collector=train_collector, test_collector=test_collector,
                               max_epoch=args.epochs, step_per_epoch=args.steps_per_epoch, step_per_collect=10,
                               episode_per_test=10, batch_size=32, train_fn=train_fn, test_fn=test_fn,
                               update_per_step=0.1, test_in_train=False, show_progress=False)
    rows = []
    epoch_start = start
    for stats in trainer:
        returns = np.asarray(stats.test_collect_stat.returns, dtype=np.float64)
        now = time.time()
        env_steps = int(train_collector.collect_step)
        nan = float("nan")
        values = [stats.epoch, "test", int(stats.test_collect_stat.n_collected_steps), len(returns), returns.mean(),
                  returns.min(), returns.max(), 0.005, env_steps, nan, nan, nan, int(stats.info_stat.gradient_step),
                  now - start, now - epoch_start, nan]
        rows.append(dict(zip(CSV_COLUMNS, values)))
        epoch_start = now
        write_dicts_csv_atomic(args.csv_file, CSV_COLUMNS, rows)
        print(f"epoch {stats.epoch}: {env_steps} environment steps, test average {returns.mean():.1f} "
              f"(min {returns.min():.0f}, max {returns.max():.0f}), {now - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
