"""Proportional prioritized experience replay (Schaul et al. 2016, "Prioritized Experience Replay").

Transition i is sampled with probability P(i) = p_i^alpha / sum_k p_k^alpha, where
p_i = |TD error_i| + epsilon (Section 3.3, proportional variant); new transitions get the
largest priority seen so far, so each is replayed at least once soon. The bias is corrected
with importance-sampling weights w_i = (N * P(i))^-beta / max_j w_j (Section 3.4, the max
taken over the minibatch), beta annealed linearly from beta_start to 1 over the minibatches of
training: the memory counts the minibatches it samples and owns the schedule.
"""

from __future__ import annotations

import numpy as np

from simple_dqn.replay_memory import MAX_SAMPLING_ROUNDS, Minibatch, ReplayMemory
from simple_dqn.schedules import linear_decay
from simple_dqn.sum_tree import SumTree


class PrioritizedReplayMemory(ReplayMemory):
    """ReplayMemory sampled in proportion to priority (see the module docstring).

    Args (beyond ReplayMemory's):
        alpha: priority exponent (paper: 0.6).
        beta_start: importance-sampling exponent of the first minibatch (paper: 0.4).
        beta_samples: minibatches over which beta reaches 1 (all of training's).
        samples: minibatches already sampled (a run resumed from a snapshot goes on from there).
        epsilon: added to |TD error| so that no priority is zero.

    Memory: adds a float64 sum tree of 2 * 2^ceil(log2(size)) nodes (16.8 MB for 1M).
    """

    def __init__(self, *, alpha: float = 0.6, beta_start: float = 0.4, beta_samples: int = 12_500_000,
                 samples: int = 0, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.beta_start = beta_start
        self.beta_samples = beta_samples
        self.samples = samples
        self.epsilon = epsilon
        self.tree = SumTree(self.size)
        self.max_priority = 1.0  # already raised to alpha

    @property
    def nbytes(self) -> int:
        return super().nbytes + self.tree.tree.nbytes

    def add(self, action: int, reward: float, screen: np.ndarray, terminal: bool, start: bool = False,
            stream: int = 0) -> None:
        # A start row is never a transition: priority 0 keeps it from being drawn.
        self.tree.set(np.array([self.next_row(stream)]), np.array([0.0 if start else self.max_priority]))
        super().add(action, reward, screen, terminal, start, stream)

    def beta(self) -> float:
        """Importance-sampling exponent of the next minibatch."""
        return linear_decay(self.samples, self.beta_start, 1.0, self.beta_samples)

    def sample_indexes(self, n: int) -> np.ndarray:
        """Draw n valid indexes in proportion to priority (invalid draws are redrawn)."""
        indexes = self.tree.sample(n, self.rng)
        for _ in range(MAX_SAMPLING_ROUNDS):
            bad = ~self.valid_indexes(indexes)
            if not bad.any():
                return indexes
            indexes[bad] = self.tree.sample(int(bad.sum()), self.rng)
        raise RuntimeError("could not sample valid transitions by priority; play more random_steps")

    def sample(self) -> Minibatch:
        """A minibatch drawn in proportion to priority, with its importance-sampling weights."""
        indexes = self.sample_indexes(self.batch_size)
        probabilities = self.tree.get(indexes) / self.tree.total
        weights = (self.count * probabilities) ** -self.beta()
        self.samples += 1
        weights /= weights.max()
        return self.gather(indexes, weights.astype(np.float32))

    def update_priorities(self, indexes: np.ndarray, td_errors) -> None:
        """Set the priorities of sampled transitions from their TD errors (array or tensor)."""
        if hasattr(td_errors, "detach"):
            td_errors = td_errors.detach().float().cpu().numpy()
        priorities = (np.abs(td_errors) + self.epsilon) ** self.alpha
        self.tree.set(indexes, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta, arrays = super().save_state()
        rows = self.saved_rows()
        arrays["priorities"] = self.tree.get(np.arange(rows.start, rows.stop))
        return dict(meta, max_priority=self.max_priority, samples=self.samples), arrays

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        super().load_state(meta, arrays)
        rows = self.saved_rows()
        self.tree.set(np.arange(rows.start, rows.stop), np.asarray(arrays["priorities"], dtype=np.float64))
        self.max_priority = float(meta["max_priority"])
        self.samples = int(meta["samples"])
