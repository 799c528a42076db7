"""CPU threads: torch's intra-op threads and OpenMP's wait policy, chosen for a machine that may be shared.

OpenMP threads that finish their share of a kernel wait at a barrier for the others; by default GNU
OpenMP (which PyTorch's CPU build uses) spins there for a while before sleeping. On cores that another
process holds, the spinning thread takes the time slice the working one needs, and every kernel waits
for a thread that is not running: docs/speed.md measures the collapse and the passive policy's cost.
"""

from __future__ import annotations

import os

DEFAULT_WAIT_POLICY = "PASSIVE"


def set_wait_policy() -> None:
    """Make OpenMP's threads sleep at barriers unless OMP_WAIT_POLICY is set already.

    Takes effect only before torch starts its OpenMP runtime: call it before importing torch.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", DEFAULT_WAIT_POLICY)


def configure_threads(threads: int = 0) -> int:
    """Set the wait policy (see set_wait_policy) and torch's intra-op threads; return the threads used.

    threads: 0 keeps torch's default (one per core), N > 0 uses N.
    """
    set_wait_policy()
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
