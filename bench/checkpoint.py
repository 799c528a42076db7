"""Cost of a full-state checkpoint with a 1,000,000-screen replay memory: seconds and bytes.

    python bench/checkpoint.py [--size 1000000] [--folder /tmp]

Fills the memory with real Breakout screens (50,000 played, then repeated), writes a
checkpoint as the training loop does at the end of an epoch, reads it back into a second
process-local memory, and prints the write time, read time, file size and compression ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import fill, real_screens  # noqa: E402

from simple_dqn.checkpoint import Checkpoint, save_checkpoint  # noqa: E402
from simple_dqn.replay_memory import ReplayMemory  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--folder", default=tempfile.gettempdir())
    args = parser.parse_args()
    mem = ReplayMemory(size=args.size, history_length=4, screen_shape=(84, 84), batch_size=32)
    fill(mem, real_screens(50_000))
    path = os.path.join(args.folder, "bench.checkpoint.h5")
    started = time.perf_counter()
    size = save_checkpoint(path, dict(progress=0), dict(memory=mem.save_state()))
    write_seconds = time.perf_counter() - started
    restored = ReplayMemory(size=args.size, history_length=4, screen_shape=(84, 84), batch_size=32)
    started = time.perf_counter()
    with Checkpoint(path) as checkpoint:
        restored.load_state(*checkpoint.component("memory"))
    read_seconds = time.perf_counter() - started
    assert (restored.screens[-1] == mem.screens[-1]).all() and restored.count == mem.count
    os.unlink(path)
    result = dict(size=args.size, memory_bytes=mem.nbytes, file_bytes=size, ratio=round(mem.nbytes / size, 1),
                  write_seconds=round(write_seconds, 1), read_seconds=round(read_seconds, 1))
    print(f"checkpoint of {args.size:,} screens: written in {write_seconds:.1f} s, read in {read_seconds:.1f} s, "
          f"{size / 1e6:.0f} MB on disk ({mem.nbytes / size:.0f}x smaller than the {mem.nbytes / 1e9:.2f} GB in memory)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
