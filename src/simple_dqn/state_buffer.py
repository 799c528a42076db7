"""The agent's current state: the last history_length screens of the game being played."""

from __future__ import annotations

import numpy as np


class StateBuffer:
    """A rolling window of the last history_length screens, uint8 (1, history_length, H, W).

    The leading dimension of 1 makes get_state() a ready minibatch for prediction.
    """

    def __init__(self, *, history_length: int, screen_shape: tuple[int, int]):
        self.history_length = history_length
        self.buffer = np.zeros((1, history_length, *screen_shape), dtype=np.uint8)

    def add(self, screen: np.ndarray) -> None:
        """Append a screen (uint8 (H, W)), dropping the oldest."""
        self.buffer[0, :-1] = self.buffer[0, 1:]
        self.buffer[0, -1] = screen

    def get_state(self) -> np.ndarray:
        """The current state as a minibatch of one: uint8 (1, history_length, H, W), a view."""
        return self.buffer

    def reset(self) -> None:
        """Zero all screens."""
        self.buffer.fill(0)
