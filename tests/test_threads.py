"""--threads 0: torch's threads follow the cores other processes leave free (threads.AdaptiveThreads)."""

import multiprocessing
import time

import pytest
import torch

from simple_dqn.threads import AdaptiveThreads, available_cores, busy_seconds, threads_for


def test_threads_follow_the_free_cores_with_hysteresis():
    assert threads_for(free=0.2, current=2, cores=2) == 1  # another process holds about 2 cores
    assert threads_for(free=1.4, current=2, cores=2) == 2  # within 0.75 of the threads in use: kept
    assert threads_for(free=1.1, current=2, cores=2) == 1
    assert threads_for(free=1.7, current=1, cores=2) == 1
    assert threads_for(free=1.9, current=1, cores=2) == 2  # the neighbour has stopped
    assert threads_for(free=-3.0, current=8, cores=16) == 1  # never below one
    assert threads_for(free=15.9, current=4, cores=16) == 16
    assert threads_for(free=6.2, current=16, cores=16) == 6


def test_busy_seconds_counts_this_process_work():
    cores = available_cores()
    before = busy_seconds(cores)
    if before is None:
        pytest.skip("no /proc/stat")
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    # At least the 0.3 s this process spent (the clock ticks are 10 ms).
    assert busy_seconds(cores) - before >= 0.25


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.mark.skipif(len(available_cores()) < 2 or busy_seconds(available_cores()) is None,
                    reason="needs 2 cores and /proc/stat")
def test_threads_drop_to_one_beside_processes_holding_the_cores():
    previous = torch.get_num_threads()
    torch.set_num_threads(len(available_cores()))
    try:
        adaptive = AdaptiveThreads(interval=0.5, first=0.8)
        spinners = [multiprocessing.Process(target=_spin, args=(3.0,)) for _ in available_cores()]
        for spinner in spinners:
            spinner.start()
        try:
            time.sleep(1.0)
            adaptive.update()  # the spinners held every core for most of the interval
        finally:
            for spinner in spinners:
                spinner.terminate()
                spinner.join()
        assert adaptive.threads == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)
