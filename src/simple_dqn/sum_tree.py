"""A sum tree over priorities with vectorised update and sampling (no Python loop over items).

The tree is one float64 array of 2 * capacity nodes (capacity a power of two): leaves at
[capacity, 2 * capacity), node k holds tree[2k] + tree[2k + 1], the root tree[1] holds the
total. Updating B leaves and drawing B samples each cost O(B log capacity) numpy work, one
vectorised operation per tree level.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Priorities of ``size`` items; sample item i with probability priority_i / total.

    Args:
        size: number of items (leaves used).
    """

    def __init__(self, size: int):
        self.size = size
        self.capacity = 1 << max(0, int(size - 1).bit_length())
        self.depth = self.capacity.bit_length() - 1
        self.tree = np.zeros(2 * self.capacity, dtype=np.float64)

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self.tree[1])

    def get(self, indexes: np.ndarray) -> np.ndarray:
        """Priorities of items ``indexes`` (int array) as float64."""
        return self.tree[self.capacity + np.asarray(indexes)]

    def set(self, indexes: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities of items ``indexes`` (>= 0) and update their ancestors.

        With repeated indexes, the last priority given wins.
        """
        nodes = self.capacity + np.asarray(indexes, dtype=np.int64)
        self.tree[nodes] = priorities
        for _ in range(self.depth):  # all leaves sit at one depth, so each pass is one level up
            nodes = np.unique(nodes // 2)
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]

    def find(self, targets: np.ndarray) -> np.ndarray:
        """Items whose cumulative-priority interval holds each target in [0, total).

        Descends all targets together, one tree level per step.
        """
        targets = np.array(targets, dtype=np.float64)
        nodes = np.ones(len(targets), dtype=np.int64)
        for _ in range(self.depth):
            left = self.tree[2 * nodes]
            go_right = targets >= left
            targets -= np.where(go_right, left, 0.0)
            nodes = 2 * nodes + go_right
        return np.minimum(nodes - self.capacity, self.size - 1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n items, stratified: one uniform target in each of n equal slices of the total.

        Raises:
            ValueError: all priorities are zero.
        """
        total = self.total
        if total <= 0:
            raise ValueError("cannot sample: all priorities are zero")
        targets = (np.arange(n) + rng.random(n)) * (total / n)
        return self.find(np.minimum(targets, np.nextafter(total, 0)))
