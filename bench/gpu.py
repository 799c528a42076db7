"""The GPU path's options, each on and off in one run: CUDA graphs, the replay memory on the
GPU, and (with N games) stepping the games while the GPU trains.

    python bench/gpu.py [--rounds 3] [--steps 3000] [--num_envs 16] [--json bench/results_gpu.json]

Breakout, Nature DQN settings (train_frequency 4: one minibatch of 32 per 4 environment steps,
target copy every 10,000 steps; a 100,000-screen memory filled by 10,000 random steps first).
Configurations are built afresh and alternated within each round; the figures are medians
over rounds of environment steps per second for the train phase at epsilon 1 (no
prediction, the original's first epoch), at epsilon 0.1 (steady state) and the test phase
(epsilon 0.05), and, for one game, the per-part times of bench/throughput.py with the
train phase's ceiling 1 / (env_step + 0.9 predict + (sample + update) / 4).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from simple_dqn.agent import Agent  # noqa: E402
from simple_dqn.ale_game import ALEGame  # noqa: E402
from simple_dqn.ale_vector_environment import ALEVectorEnvironment  # noqa: E402
from simple_dqn.build import make_network  # noqa: E402
from simple_dqn.environment import GameEnvironment  # noqa: E402
from simple_dqn.replay_memory import ReplayMemory  # noqa: E402
from simple_dqn.statistics import Statistics  # noqa: E402
from throughput import median_time, sync  # noqa: E402

DEVICE = "cuda:0"
PHASES = ("train_eps1", "train_eps0.1", "test")


def configurations(num_envs: int) -> dict[str, dict]:
    """name -> (games, cuda_graphs, replay_on_gpu, overlap); the first of each N is the baseline."""
    one = {"1 eager": (1, False, False, False), "1 graphs": (1, True, False, False),
           "1 gpu_memory": (1, False, True, False), "1 graphs+gpu_memory": (1, True, True, False)}
    many = {f"{num_envs} eager": (num_envs, False, False, True),
            f"{num_envs} graphs+gpu_memory no_overlap": (num_envs, True, True, False),
            f"{num_envs} graphs+gpu_memory": (num_envs, True, True, True)}
    return {**one, **many}


def network(game: str, num_actions: int, graphs: bool):
    """The Nature network on the GPU as main builds it (channels-last, float32), graphed or eager."""
    return make_network(num_actions, (84, 84), device=DEVICE, cuda_graphs=graphs)


def parts(agent, env, mem, net, repeats: int) -> dict[str, float]:
    """Median seconds of one environment step, prediction, minibatch sample and update."""
    rng = np.random.default_rng(1)
    state = agent.buffer.states.copy()
    batch = mem.sample()

    def env_step():
        _, _, terminals = env.step(rng.integers(env.num_actions, size=1))
        if terminals[0]:
            env.restart(terminals)

    def predict():
        net.predict(state)

    def sample():
        mem.sample()
        sync(DEVICE)

    def update():
        net.train(batch)
        sync(DEVICE)

    return dict(env_step=median_time(env_step, repeats * 10), predict=median_time(predict, repeats),
                sample=median_time(sample, repeats), update=median_time(update, repeats))


def run(config: tuple, args, seed: int) -> dict:
    games, graphs, gpu_memory, overlap = config
    rng = np.random.default_rng(seed)
    if games == 1:
        env = GameEnvironment([ALEGame(args.game, random_seed=seed, frame_pooling="max")])
    else:
        env = ALEVectorEnvironment(args.game, games, random_seed=seed, frame_pooling="max")
    mem = ReplayMemory(size=args.replay_size, history_length=4, screen_shape=(84, 84), batch_size=32, rng=rng,
                       streams=games, device=DEVICE if gpu_memory else None)
    net = network(args.game, env.num_actions, graphs)
    agent = Agent(env, mem, net, train_frequency=4, target_steps=10_000, rng=rng)
    if games > 1:
        agent.overlap = overlap
    agent.callback = Statistics(None, progress=False)  # as main runs it
    agent.play_random(10_000)
    figures = {}
    net.train(mem.sample())  # captures the graphs (once per run, not per phase)
    steps = args.steps if games == 1 else args.vector_steps * games
    for phase in PHASES:
        if phase.startswith("train"):
            agent.exploration_rate_start = agent.exploration_rate_end = 1.0 if phase == "train_eps1" else 0.1
        env.set_mode("test" if phase == "test" else "train")
        fn = agent.test if phase == "test" else agent.train
        sync(DEVICE)
        start = time.perf_counter()
        played = fn(steps)
        sync(DEVICE)
        figures[phase] = played / (time.perf_counter() - start)
    if games == 1:
        env.set_mode("train")
        figures["parts_ms"] = {k: v * 1000 for k, v in parts(agent, env, mem, net, args.repeats).items()}
    env.close()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--num_envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000, help="steps of one game per timed phase")
    parser.add_argument("--vector_steps", type=int, default=500, help="steps per game of N per timed phase")
    parser.add_argument("--profile", action="store_true", help="also print the GPU time and kernel count of "
                        "one update, eager and graphed (torch.profiler)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--replay_size", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", help="run only the configurations whose names start so")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs CUDA")
    torch.backends.cudnn.benchmark = True
    configs = configurations(args.num_envs)
    if args.only:
        configs = {k: v for k, v in configs.items() if any(k.startswith(o) for o in args.only)}
    profiled = profile_updates() if args.profile else None
    runs = {name: [] for name in configs}
    for round_ in range(args.rounds):
        for name, config in configs.items():
            figures = run(config, args, seed=round_)
            runs[name].append(figures)
            print(f"round {round_ + 1} {name:<34}" + "  ".join(f"{p} {figures[p]:8.1f}" for p in PHASES)
                  + (("  parts_ms " + " ".join(f"{k} {v:.3f}" for k, v in figures["parts_ms"].items()))
                     if "parts_ms" in figures else ""), flush=True)
    medians = {}
    for name, rows in runs.items():
        medians[name] = {p: statistics.median(r[p] for r in rows) for p in PHASES}
        if "parts_ms" in rows[0]:
            part = {k: statistics.median(r["parts_ms"][k] for r in rows) for k in rows[0]["parts_ms"]}
            ceiling = 1000 / (part["env_step"] + 0.9 * part["predict"] + (part["sample"] + part["update"]) / 4)
            medians[name].update(parts_ms=part, ceiling_train_eps01=ceiling,
                                 fraction_of_ceiling=medians[name]["train_eps0.1"] / ceiling)
    print(f"\nmedian environment steps/s over {args.rounds} rounds")
    for name, m in medians.items():
        line = f"{name:<34}" + "".join(f"{p} {m[p]:9.1f}  " for p in PHASES)
        if "parts_ms" in m:
            line += (" ".join(f"{k} {v:.3f}ms" for k, v in m["parts_ms"].items())
                     + f"  ceiling {m['ceiling_train_eps01']:.0f} ({m['fraction_of_ceiling']:.2f})")
        print(line)
    result = dict(date=time.strftime("%Y-%m-%d"), machine=f"{platform.machine()}, {__import__('os').cpu_count()} "
                  "cores", device=torch.cuda.get_device_name(0), torch=torch.__version__, game=args.game,
                  steps_per_game=args.steps, rounds=args.rounds, replay_size=args.replay_size, medians=medians,
                  runs=runs)
    if profiled:
        result["update_profile"] = profiled
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


def profile_updates(updates: int = 50) -> dict:
    """GPU time, kernel launches and wall time per update, eager and graphed (Nature network, batch 32)."""
    from torch.profiler import ProfilerActivity, profile

    rng = np.random.default_rng(0)
    mem = ReplayMemory(size=5000, history_length=4, screen_shape=(84, 84), batch_size=32, rng=rng, device=DEVICE)
    for i in range(5000):
        mem.add(int(rng.integers(4)), 0.0, rng.integers(0, 256, (84, 84), dtype=np.uint8), False, start=i == 0)
    figures = {}
    for graphs in (False, True):
        net = network("breakout", 4, graphs)
        batch = mem.sample()
        for _ in range(10):
            net.train(batch)
        sync(DEVICE)
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(updates):
                net.train(batch)
            sync(DEVICE)
        events = [e for e in prof.key_averages() if getattr(e, "device_type", None) is not None
                  and str(e.device_type).endswith("CUDA")]
        gpu_us = sum(getattr(e, "self_device_time_total", 0) for e in events)
        kernels = sum(e.count for e in events)
        start = time.perf_counter()
        for _ in range(updates):
            net.train(batch)
        sync(DEVICE)
        wall = (time.perf_counter() - start) / updates
        name = "graphed" if graphs else "eager"
        figures[name] = dict(gpu_ms=gpu_us / updates / 1000, kernels=kernels / updates, wall_ms=wall * 1000)
        print(f"update {name}: GPU {figures[name]['gpu_ms']:.3f} ms in {figures[name]['kernels']:.0f} kernels, "
              f"wall {figures[name]['wall_ms']:.3f} ms", flush=True)
    return figures


if __name__ == "__main__":
    main()
