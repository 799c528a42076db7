"""The update's numerics on this CPU: one update of the Nature network (forward, backward, Adam) at
batch 32 and 64 and a prediction at batch 1 and 10, for each way of computing, alternated in one process.

    python bench/numerics.py [--rounds 7] [--iterations 10] [--json bench/results_numerics_<cpu>.json]

Ways (each contiguous and channels-last):
  fp32            float32 throughout (--numerics float32)
  autocast_bf16   torch.autocast(bfloat16) over float32 weights (--autocast bfloat16)
  fp32_precision  float32 tensors, oneDNN told to run convolutions and matrix products in bf16
                  (torch.backends.mkldnn.{conv,matmul}.fp32_precision = "bf16")
  master_bf16     bfloat16 passes on a copy, float32 master weights and optimizer (--numerics bfloat16;
                  skipped on a CPU without bfloat16 hardware, where simple_dqn refuses it)
Each round times every way once (iterations calls, after warm-up) in turn; the figures are the
medians over rounds, in milliseconds per call. Then each way runs again in a child process with
ONEDNN_VERBOSE=1 and the oneDNN kernels it executed are listed (primitive, implementation, pass)
with the number of reorders per update.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from simple_dqn.build import make_network  # noqa: E402
from simple_dqn.numerics import cpu_bf16_flags  # noqa: E402
from report import machine  # noqa: E402
from simple_dqn.replay_memory import Minibatch  # noqa: E402

WAYS = {
    "fp32": {},
    "autocast_bf16": dict(autocast="bfloat16"),
    "fp32_precision": {},
    "master_bf16": dict(numerics="bfloat16"),
}
NUM_ACTIONS = 4  # Breakout's minimal action set


def set_fp32_precision(value: str) -> None:
    """oneDNN's fp32 math mode for convolutions and matrix products ("bf16" or "ieee")."""
    torch.backends.mkldnn.conv.fp32_precision = value
    torch.backends.mkldnn.matmul.fp32_precision = value


def make(way: str, channels_last: bool):
    return make_network(NUM_ACTIONS, (84, 84), optimizer="adam", learning_rate=0.0001, channels_last=channels_last,
                        **WAYS[way])


def minibatch(batch: int, rng: np.random.Generator) -> Minibatch:
    return Minibatch(states=rng.integers(0, 256, (batch, 5, 84, 84), dtype=np.uint8),
                     actions=rng.integers(0, NUM_ACTIONS, batch), rewards=rng.normal(size=batch).astype(np.float32),
                     terminals=rng.random(batch) < 0.05, weights=np.ones(batch, dtype=np.float32),
                     indexes=np.arange(batch), n_step=1)


def calls(net, rng):
    """name -> function doing one call of that kind."""
    batches = {32: minibatch(32, rng), 64: minibatch(64, rng)}
    states = {1: rng.integers(0, 256, (1, 4, 84, 84), dtype=np.uint8),
              10: rng.integers(0, 256, (10, 4, 84, 84), dtype=np.uint8)}
    return {"update_32": lambda: net.train(batches[32]), "update_64": lambda: net.train(batches[64]),
            "predict_1": lambda: net.predict(states[1]), "predict_10": lambda: net.predict(states[10])}


def time_calls(fn, iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) / iterations * 1000.0


def measure(ways: list[str], rounds: int, iterations: int) -> dict:
    rng = np.random.default_rng(0)
    setups = {}
    for way in ways:
        for layout in ("contiguous", "channels_last"):
            torch.manual_seed(0)
            set_fp32_precision("bf16" if way == "fp32_precision" else "ieee")
            net = make(way, layout == "channels_last")
            setups[(way, layout)] = calls(net, rng)
    times: dict = collections.defaultdict(list)
    for round_ in range(rounds + 1):  # round 0 is the warm-up, not kept
        for (way, layout), fns in setups.items():
            set_fp32_precision("bf16" if way == "fp32_precision" else "ieee")
            for name, fn in fns.items():
                ms = time_calls(fn, iterations if round_ else 3)
                if round_:
                    times[(way, layout, name)].append(ms)
    set_fp32_precision("ieee")
    return {f"{way}/{layout}/{name}": round(statistics.median(v), 3) for (way, layout, name), v in times.items()}


def kernels(way: str, layout: str) -> dict:
    """The oneDNN kernels that one child process's updates and predictions executed."""
    code = (f"import sys; sys.argv=['x']; sys.path.insert(0, {str(Path(__file__).parent)!r}); import numerics as b; "
            f"import numpy as np; b.set_fp32_precision({'bf16' if way == 'fp32_precision' else 'ieee'!r}); "
            f"net=b.make({way!r}, {layout == 'channels_last'}); fns=b.calls(net, np.random.default_rng(0)); "
            "[fns['update_32']() for _ in range(4)]; fns['predict_10']()")
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600).stdout
    seen: collections.Counter = collections.Counter()
    reorders = 0
    for line in out.splitlines():
        parts = line.split(",")
        if len(parts) > 6 and parts[0] == "onednn_verbose" and "exec" in parts:
            i = parts.index("exec")
            kind, impl, prop = parts[i + 2], parts[i + 3], parts[i + 4]
            if kind == "reorder":
                reorders += 1
            else:
                seen[f"{kind} {impl} {prop}"] += 1
    return dict(kernels=dict(seen), reorders_per_update=round(reorders / 5, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--no_kernels", action="store_true", help="skip the ONEDNN_VERBOSE runs")
    args = parser.parse_args()
    # Without bfloat16 hardware --numerics bfloat16 is refused; the other ways still run (emulated).
    ways = [way for way in WAYS if way != "master_bf16" or cpu_bf16_flags()]
    result = dict(**machine(),
                  threads=torch.get_num_threads(), torch=torch.__version__,
                  rounds=args.rounds, iterations=args.iterations, unit="ms per call, median over rounds",
                  skipped=[way for way in WAYS if way not in ways], ms=measure(ways, args.rounds, args.iterations))
    if not args.no_kernels:
        result["onednn"] = {f"{way}/{layout}": kernels(way, layout) for way in ways
                            for layout in ("contiguous", "channels_last")}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
