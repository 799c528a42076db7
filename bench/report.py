"""What every benchmark's JSON carries: the machine (CPU model, bfloat16 flags) and the date; written and printed."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from simple_dqn.numerics import cpu_bf16_flags, cpu_flags  # noqa: E402


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what platform knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """cpu, bf16_flags, amx_tile and date, for the head of a result."""
    return dict(cpu=cpu_model(), bf16_flags=cpu_bf16_flags(), amx_tile="amx_tile" in cpu_flags(),
                date=time.strftime("%Y-%m-%d"))


def emit(result: dict, json_path: str | None) -> None:
    """Print the result as JSON and, with json_path, write it there."""
    text = json.dumps(result, indent=1)
    print(text)
    if json_path:
        Path(json_path).write_text(text + "\n")
