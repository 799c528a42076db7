"""How deep the training loop's calls are: Python frames from Experiment.run down to the emulator's
wrapper's act and down to the optimizer's step, in a short Pong run (one game, then four on ALE's vector
environment, whose emulators step on C++ threads: there the depth to env.send is counted).

    python bench/call_depth.py [--json FILE]

Frames are counted with sys.setprofile on the first call of each target after the first weight update.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from report import emit, machine  # noqa: E402


def depth_below(frame, base_code) -> int | None:
    """Frames from frame up to the frame running base_code (None if it is not on the stack)."""
    depth = 0
    while frame is not None:
        if frame.f_code is base_code:
            return depth
        frame, depth = frame.f_back, depth + 1
    return None


def measure(flags: list[str]) -> dict:
    from simple_dqn.arguments import parse_arguments
    from simple_dqn.main import Experiment

    args = parse_arguments(["roms/pong.bin", "--random_steps", "200", "--train_steps", "300", "--test_steps", "0",
                            "--epochs", "1", "--replay_size", "2000", "--train_frequency", "1", "--log_level",
                            "WARNING", *flags])
    try:
        from simple_dqn.main import make_experiment
    except ImportError:  # before the Checkpointer (2026-12-01): Experiment built its components
        experiment = Experiment(args, None)
    else:
        experiment = make_experiment(args, None)
    base = Experiment.run.__code__
    found: dict[str, int] = {}

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "act" and frame.f_code.co_filename.endswith("ale_game.py") \
                and "ALEGame.act" not in found and experiment.net.weight_updates:
            found["ALEGame.act"] = depth_below(frame, base)  # the emulator's wrapper; ALE's act is one below
        elif event == "call" and frame.f_code.co_name == "send" and "vector" in frame.f_code.co_filename \
                and "vector env.send" not in found and experiment.net.weight_updates:
            found["vector env.send"] = depth_below(frame, base)
        elif event == "call" and frame.f_code.co_name == "step" and "optim" in frame.f_code.co_filename \
                and "optimizer step" not in found:
            found["optimizer step"] = depth_below(frame, base)

    sys.setprofile(profile)
    try:
        experiment.run()
    finally:
        sys.setprofile(None)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    options = parser.parse_args()
    result = dict(**machine(), one_game=measure([]),
                  four_games=measure(["--num_envs", "4", "--frame_pooling", "max"]))
    emit(result, options.json)


if __name__ == "__main__":
    main()
