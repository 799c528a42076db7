"""CPU threads: torch's intra-op threads, set by --threads.

OpenMP threads that finish their share of a kernel wait at a barrier for the others, spinning for a
while before they sleep (GNU OpenMP's default, which PyTorch's CPU build uses). On cores that another
process holds, a spinning thread takes the time slice the working one needs. OMP_WAIT_POLICY=PASSIVE
makes them sleep at once, but docs/speed.md ("Threads") measured it slower both on an idle machine and
beside busy processes, so it is left to the user; --threads 1 is what keeps a run fastest on a busy
2-core machine.
"""

from __future__ import annotations


def configure_threads(threads: int = 0) -> int:
    """Set torch's intra-op threads; return the number used.

    threads: 0 keeps torch's default (one per core), N > 0 uses N.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
