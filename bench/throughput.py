"""Throughput of the random, train and test phases on Breakout, with the per-part times and the
ceiling they imply.

    python bench/throughput.py [--backend cpu|gpu] [--steps 2000] [--json out.json]

Parts (medians over repeated calls, seconds):
  env_step  one agent step in ALE: act (frame_skip frames) + screen + terminal check
  predict   one Q-value prediction for the current state (batch of 1)
  sample    one minibatch sampled from the replay memory (vectorised gather)
  h2d       the minibatch's host-to-device copy (0 on the CPU backend: no copy is made)
  update    one network update on a sampled minibatch (forward, backward, optimizer step),
            the copy included
Ceiling of the train phase (the issue's formula, epsilon-greedy at its end value so that
prediction happens on (1 - epsilon) of the steps):
  1 / (env_step + (1 - epsilon) * predict + (sample + update) / train_frequency)
The phases are timed with the real Agent: random (no network), train with epsilon 1 (the
original's first-epoch figure) and with epsilon 0.1 (steady state), test with epsilon 0.05.
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
from simple_dqn.build import make_network  # noqa: E402
from simple_dqn.ale_game import ALEGame  # noqa: E402
from simple_dqn.environment import GameEnvironment  # noqa: E402
from simple_dqn.replay_memory import ReplayMemory  # noqa: E402


def median_time(fn, repeats: int, warmup: int = 3) -> float:
    """Median wall-clock seconds of fn() over repeats calls (after warmup calls)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def build(args, device):
    env = GameEnvironment([ALEGame(args.game, random_seed=0)])
    mem = ReplayMemory(size=args.replay_size, history_length=4, screen_shape=(84, 84), batch_size=32,
                       rng=np.random.default_rng(0))
    net = make_network(env.num_actions, (84, 84), device=device, channels_last=bool(args.channels_last),
                       autocast=args.autocast)
    agent = Agent(env, mem, net, train_frequency=args.train_frequency, target_steps=10_000,
                  rng=np.random.default_rng(0), exploration_decay_steps=1_000_000)
    return env, mem, net, agent


def measure_parts(env, mem, net, agent, device, repeats):
    rng = np.random.default_rng(1)
    env.set_mode("train")

    actions = np.zeros(1, dtype=np.int64)

    def env_step():
        actions[0] = rng.integers(env.num_actions)
        _, _, terminals = env.step(actions)
        if terminals[0]:
            env.restart()

    state = agent.buffer.states
    batch = mem.sample()
    parts = {
        "env_step": median_time(env_step, repeats * 10),
        "predict": median_time(lambda: net.predict(state), repeats),
        "sample": median_time(mem.sample, repeats),
    }
    if device.startswith("cuda"):
        def h2d():
            torch.from_numpy(batch.states).to(device, non_blocking=True)
            sync(device)
        parts["h2d"] = median_time(h2d, repeats)
    else:
        parts["h2d"] = 0.0

    def update():
        net.train(batch)
        sync(device)
    parts["update"] = median_time(update, max(20, repeats // 2))
    return parts


def time_phase(fn, steps, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn(steps)
    sync(device)
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--backend", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--steps", type=int, default=2000, help="agent steps per timed phase")
    parser.add_argument("--replay_size", type=int, default=100_000)
    parser.add_argument("--train_frequency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--autocast", choices=["none", "bfloat16", "float16"], default="none")
    parser.add_argument("--channels_last", type=int, choices=[0, 1], default=1)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    device = "cuda:0" if args.backend == "gpu" else "cpu"
    if device != "cpu" and not torch.cuda.is_available():
        sys.exit("bench: --backend gpu needs CUDA")

    env, mem, net, agent = build(args, device)
    agent.play_random(max(5000, args.steps))  # memory to sample from
    parts = measure_parts(env, mem, net, agent, device, args.repeats)

    phases = {"random": time_phase(agent.play_random, args.steps, device)}
    agent.exploration_rate_start = agent.exploration_rate_end = 1.0
    phases["train_eps1"] = time_phase(agent.train, args.steps, device)
    agent.exploration_rate_start = agent.exploration_rate_end = 0.1
    phases["train_eps0.1"] = time_phase(agent.train, args.steps, device)
    env.set_mode("test")
    phases["test"] = time_phase(agent.test, args.steps, device)

    per_update = (parts["sample"] + parts["update"]) / args.train_frequency
    ceilings = {
        "train_eps1": 1.0 / (parts["env_step"] + per_update),
        "train_eps0.1": 1.0 / (parts["env_step"] + 0.9 * parts["predict"] + per_update),
        "issue_formula": 1.0 / (parts["env_step"] + parts["predict"] + parts["update"] / args.train_frequency),
        "test": 1.0 / (parts["env_step"] + 0.95 * parts["predict"]),
    }
    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores", "device": torch.cuda.get_device_name(0) if device != "cpu" else "cpu",
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "steps": args.steps,
        "autocast": args.autocast, "channels_last": bool(args.channels_last),
        "parts_ms": {k: round(v * 1000, 4) for k, v in parts.items()},
        "steps_per_second": {k: round(v, 1) for k, v in phases.items()},
        "ceiling_steps_per_second": {k: round(v, 1) for k, v in ceilings.items()},
        "fraction_of_ceiling": {k: round(phases[k] / ceilings[k], 3) for k in ("train_eps1", "train_eps0.1", "test")},
    }
    print(f"{'part':<12}{'median ms':>12}")
    for k, v in result["parts_ms"].items():
        print(f"{k:<12}{v:>12.3f}")
    print(f"\n{'phase':<14}{'steps/s':>10}{'ceiling':>10}{'fraction':>10}")
    for k, v in result["steps_per_second"].items():
        ceiling = ceilings.get(k)
        print(f"{k:<14}{v:>10.1f}" + (f"{ceiling:>10.1f}{v / ceiling:>10.2f}" if ceiling else ""))
    print(f"\nissue formula 1/(t_env + t_predict + t_update/{args.train_frequency}): "
          f"{ceilings['issue_formula']:.1f} steps/s; train (eps 0.1) reaches "
          f"{phases['train_eps0.1'] / ceilings['issue_formula']:.2f} of it")
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
