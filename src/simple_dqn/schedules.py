"""Schedules: pure functions of step counts."""

from __future__ import annotations


def linear_decay(step: int, start: float, end: float, decay_steps: int) -> float:
    """Value decayed linearly from ``start`` at step 0 to ``end`` at ``decay_steps``, then held.

    Used for the exploration rate (Mnih et al. 2015: 1 -> 0.1 over 1,000,000 steps) and for
    prioritized replay's beta (Schaul et al. 2016: beta_start -> 1). Steps are agent steps.
    """
    if decay_steps <= 0 or step >= decay_steps:
        return end
    return start - step * (start - end) / decay_steps
