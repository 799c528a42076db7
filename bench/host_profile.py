"""Where a train phase of N games spends its time: cProfile of the real agent, grouped into parts.

    python bench/host_profile.py [--game breakout] [--steps 20000] [--flags "--preset tianshou --numerics auto"]

Builds the run from the command-line flags given (the game's N streams, the replay memory, the network,
the agent), fills the memory with random steps, then profiles one train phase of --steps environment
steps and prints each part's share of the wall time (the parts are the profiled functions' own times,
summed by the module or function they belong to), with the environment steps per second; then
--rounds train phases of as many steps without the profiler, whose median is the unprofiled speed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from simple_dqn.arguments import parse_arguments  # noqa: E402
from report import emit, machine  # noqa: E402
from simple_dqn.build import build  # noqa: E402

# (part, file fragment, function): the part's time is that function's cumulative time; parts that
# contain others (the action choice holds the prediction) have those taken off.
PARTS = [
    ("network update (sample, forward, backward, Adam)", "agent.py", "count_train_step"),
    ("prediction", "deepqnetwork.py", "predict"),
    ("action choice without the prediction", "agent.py", "choose_actions"),
    ("environment recv: waiting for the emulators, episode rules", "environment.py", "recv"),
    ("screen resize", "ale_vector_environment.py", "_resize_into"),
    ("emulators, sending", "environment.py", "send"),
    ("replay writes", "replay_memory.py", "add"),
    ("state buffers", "state_buffer.py", "add"),
    ("statistics", "statistics.py", "on_step"),
    ("episode starts", "agent.py", "start_episodes"),
]
NESTED = {"action choice without the prediction": ["prediction"],
          "environment recv: waiting for the emulators, episode rules": ["screen resize"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--flags", default="--preset tianshou --numerics auto")
    parser.add_argument("--rounds", type=int, default=2, help="unprofiled train phases after the profiled one")
    parser.add_argument("--json")
    options = parser.parse_args()
    args = parse_arguments([options.game, *shlex.split(options.flags), "--random_seed", "1"])
    env, mem, net, agent = build(args, None)
    env.set_mode("train")
    agent.play_random(max(args.random_steps, 2 * args.batch_size * args.num_envs))
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    played = agent.train(options.steps)
    profile.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profile)
    cumulative = {part: 0.0 for part, _, _ in PARTS}
    for (file, _, name), (_, _, _, cum, _) in stats.stats.items():
        for part, fragment, function in PARTS:
            if name == function and fragment in file:
                cumulative[part] += cum
    for part, inner in NESTED.items():
        cumulative[part] -= sum(cumulative[p] for p in inner)
    # Under the profiler every Python call costs more: the figures are shares, not the unprofiled speed.
    parts = {part: round(t / played * 1e6, 1) for part, t in cumulative.items()}
    parts["rest of the loop"] = round((wall - sum(cumulative.values())) / played * 1e6, 1)
    unprofiled = []
    for _ in range(options.rounds):
        start = time.perf_counter()
        steps = agent.train(options.steps, restart=False)
        unprofiled.append(steps / (time.perf_counter() - start))
    result = dict(**machine(), game=options.game, flags=options.flags, num_envs=args.num_envs, steps=played,
                  wall_s=round(wall, 2), steps_per_second_profiled=round(played / wall, 1),
                  steps_per_second_unprofiled=[round(v, 1) for v in unprofiled],
                  steps_per_second_unprofiled_median=round(statistics.median(unprofiled), 1) if unprofiled else None,
                  us_per_environment_step=parts)
    emit(result, options.json)
    env.close()


if __name__ == "__main__":
    main()
