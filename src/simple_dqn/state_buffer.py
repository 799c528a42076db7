"""The agent's current states: the last history_length screens of each stream's game."""

from __future__ import annotations

import numpy as np


class StateBuffer:
    """A rolling window of the last history_length screens of N streams.

    Attributes:
        states: uint8 (N, history_length, H, W), oldest screen first; a ready minibatch for
            prediction.
    """

    def __init__(self, *, num_envs: int = 1, history_length: int, screen_shape: tuple[int, int]):
        self.history_length = history_length
        self.states = np.zeros((num_envs, history_length, *screen_shape), dtype=np.uint8)

    def add(self, screens: np.ndarray) -> None:
        """Append each stream's newest screen (uint8 (N, H, W)), dropping the oldest."""
        self.states[:, :-1] = self.states[:, 1:]
        self.states[:, -1] = screens

    def begin(self, mask: np.ndarray, screens: np.ndarray) -> None:
        """New episodes in the streams in mask (bool (N,)): zeros plus the first screen (DeepMind's
        zero padding), from the rows of screens (uint8 (N, H, W)) in mask."""
        self.states[mask] = 0
        self.states[mask, -1] = screens[mask]
