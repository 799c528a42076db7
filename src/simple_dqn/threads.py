"""CPU threads: torch's intra-op threads, fixed by --threads N or following the free cores (--threads 0).

OpenMP threads that finish their share of a kernel wait at a barrier for the others, spinning for a
while before they sleep (GNU OpenMP's default, which PyTorch's CPU build uses). On cores that another
process holds, a spinning thread takes the time slice the working one needs, and two torch processes
with a thread per core each run several times slower than with one thread each (docs/speed.md,
"Threads"). OMP_WAIT_POLICY=PASSIVE avoids the spinning but slows an idle machine's updates and
predictions, so the default instead follows the cores: AdaptiveThreads gives torch as many threads as
cores that other processes leave free, measured every few seconds from /proc/stat.
"""

from __future__ import annotations

import logging
import os
import time

logger = logging.getLogger("simple_dqn")


def configure_threads(threads: int = 0) -> int:
    """Set torch's intra-op threads; return the number used.

    threads: 0 keeps torch's default (one per core; AdaptiveThreads then follows the free cores),
    N > 0 uses N.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def available_cores() -> list[int]:
    """The CPUs this process may run on (its affinity), ids as in /proc/stat's cpuN lines."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity call, as on macOS
        return list(range(os.cpu_count() or 1))


def busy_seconds(cores: list[int]) -> float | None:
    """CPU seconds spent busy on these cores since boot (all processes), from /proc/stat; None where
    there is none. Busy is everything but idle and iowait; steal counts (another guest holds the core)."""
    wanted = {f"cpu{core}" for core in cores}
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
    except OSError:
        return None
    ticks = 0
    for fields in lines:
        if fields[0] in wanted:
            values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            ticks += sum(values) - values[3] - values[4]
    return ticks / os.sysconf("SC_CLK_TCK")


def threads_for(free: float, current: int, cores: int, hysteresis: float = 0.75) -> int:
    """The threads to use with ``free`` cores (fractional) left by other processes: ``current`` while
    free is within ``hysteresis`` cores of it, else free rounded, between 1 and cores."""
    if abs(free - current) <= hysteresis:
        return current
    return max(1, min(cores, round(free)))


class AdaptiveThreads:
    """torch's intra-op threads set to the cores other processes leave free.

    update(), called every step of a phase, costs a clock read except every ``interval`` seconds,
    when it compares the cores' busy time (/proc/stat) with this process's own CPU time
    (time.process_time: its torch and ALE threads) over the interval: others_busy cores in use by
    other processes; it then sets max(1, cores - others_busy) threads, rounded, changing only when
    that differs from the threads in use by more than ``hysteresis`` cores, so that a neighbour near
    a boundary does not flip it. Where /proc/stat is missing it does nothing.

    Args:
        interval: seconds between measurements; first: seconds before the first (start-up included).
    """

    def __init__(self, interval: float = 5.0, first: float = 0.5, hysteresis: float = 0.75):
        import torch

        self._torch = torch
        self.cores = available_cores()
        self.interval = interval
        self.hysteresis = hysteresis
        self.threads = torch.get_num_threads()
        self._last = self._measure()
        self._due = time.monotonic() + first

    def _measure(self) -> tuple[float, float | None, float]:
        return time.monotonic(), busy_seconds(self.cores), time.process_time()

    def update(self) -> None:
        """Measure and set the threads when due (see the class)."""
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self.interval
        sample = self._measure()
        (t0, busy0, own0), (t1, busy1, own1) = self._last, sample
        self._last = sample
        if busy0 is None or busy1 is None or t1 <= t0:
            return
        others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)
        threads = threads_for(len(self.cores) - others, self.threads, len(self.cores), self.hysteresis)
        if threads != self.threads:
            self._torch.set_num_threads(threads)
            logger.info("CPU threads: %d (other processes use %.1f of %d cores)", threads, others, len(self.cores))
            self.threads = threads
