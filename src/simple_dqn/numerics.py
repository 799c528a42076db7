"""The --numerics choice: float32, or bfloat16 passes with float32 master weights, and auto between them.

bfloat16 pays only on hardware with bfloat16 arithmetic: on x86 CPUs Intel's AMX tiles (flag
amx_bf16, 4th-generation Xeon and later) or AVX-512 BF16 (flag avx512_bf16, e.g. AMD Zen 4);
elsewhere oneDNN emulates it, many times slower than float32 (pytorch issues #118499, #111456).
docs/speed.md has the measurements behind the auto rule.
"""

from __future__ import annotations

import functools

from simple_dqn.errors import UsageError

CHOICES = ("float32", "bfloat16", "auto")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, as on macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_bf16_flags(flags: frozenset[str] | None = None) -> list[str]:
    """Which of amx_bf16 and avx512_bf16 the CPU has."""
    flags = cpu_flags() if flags is None else flags
    return [flag for flag in BF16_FLAGS if flag in flags]


def require_bf16_hardware(option: str, device_type: str, flags: frozenset[str] | None = None) -> None:
    """Refuse a bfloat16 option (--autocast bfloat16) on a CPU that would emulate it.

    Emulated, bfloat16 convolutions are many times slower than float32 (bench/numerics.py on an
    AVX2-only CPU: 8-13x for autocast); GPUs are left alone.

    Raises:
        UsageError: on a CPU without amx_bf16 or avx512_bf16.
    """
    if device_type == "cpu" and not cpu_bf16_flags(flags):
        raise UsageError(f"{option} bfloat16 needs a CPU with amx_bf16 or avx512_bf16 (this one has neither and "
                         f"would emulate it, many times slower); drop {option}")


def choose_numerics(requested: str, device_type: str, flags: frozenset[str] | None = None) -> tuple[str, str]:
    """The numerics a run uses and why, for the log: (float32 | bfloat16, reason).

    auto picks bfloat16 on a CPU with amx_bf16 or avx512_bf16 and float32 elsewhere, including
    GPUs (whose fast path, CUDA graphs, does not capture the master-weights copies).

    Raises:
        UsageError: bfloat16 asked for on a CPU without bfloat16 hardware, or an unknown choice.
    """
    if requested not in CHOICES:
        raise UsageError(f"--numerics must be one of {', '.join(CHOICES)}, not {requested!r}")
    have = cpu_bf16_flags(flags)
    if requested == "float32":
        return "float32", "asked for"
    if device_type != "cpu":
        if requested == "bfloat16":
            return "bfloat16", f"asked for, on {device_type}"
        return "float32", f"auto on {device_type}: CUDA graphs run float32"
    if requested == "bfloat16":
        if not have:
            raise UsageError("--numerics bfloat16 needs a CPU with amx_bf16 or avx512_bf16 (this one has neither "
                             "and would emulate it, many times slower); use --numerics auto or float32")
        return "bfloat16", f"asked for; the CPU has {' and '.join(have)}"
    if have:
        return "bfloat16", f"auto: the CPU has {' and '.join(have)}"
    return "float32", "auto: the CPU has neither amx_bf16 nor avx512_bf16"
