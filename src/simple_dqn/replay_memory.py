"""Replay memory: a preallocated uint8 ring of screens, each screen stored once.

Row i holds the transition that ended in screen i: the action taken, the reward received,
the screen that followed, whether it was terminal, and whether screen i is the first screen
of an episode (a start row, stored at each restart; its action and reward mean nothing).
A state is history_length consecutive screens, so transition i is

    prestate  = screens[i - history_length     .. i - 1]
    poststate = screens[i - history_length + 1 .. i    ]
    action, reward, terminal = actions[i], rewards[i], terminals[i]

Index diagram for history_length = 4 (one row of history_length + 1 screens is gathered;
the prestate and the poststate are two overlapping views of it)::

    rows        i-4  i-3  i-2  i-1   i
    prestate    [----------------]
    poststate        [----------------]

An index i is rejected when
  * i < history_length (its history would run off the start of the array),
  * the write pointer falls inside rows i-history_length+1 .. i (once the ring is full,
    rows current-1 and current are the newest and the oldest screen: not one episode), or
  * row i is a start row: the transition into an episode's first screen came from another
    episode. terminals[i] may be True (a terminal poststate ends the TD target).

Screens before the last start row inside a window belong to the previous episode and are
zeroed in the gathered minibatch, as DeepMind's replay (and the agent's state buffer at a
restart) pads the history with zeros. The original simple_dqn instead rejected every state
with an episode end inside, which never trains on an episode's first history_length steps:
harmless in Atari, fatal in 9-step games like catch.

Memory: size * (H * W + 1 + 4 + 1 + 1) bytes; 1,000,000 screens of 84x84 take 7.06e9 bytes
(6.58 GiB), as the original's 6.57 GB.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MAX_SAMPLING_ROUNDS = 100  # bound on the rejection-sampling rounds of one minibatch


def copy_rows(source, target: np.ndarray, count: int) -> None:
    """target[:count] = source, reading an h5py dataset straight into target (no second copy)."""
    if hasattr(source, "read_direct"):
        if count:
            source.read_direct(target, np.s_[0:count], np.s_[0:count])
    else:
        target[:count] = source


class Minibatch(NamedTuple):
    """A minibatch of transitions; all arrays share the first dimension batch_size.

    states: uint8 (batch_size, history_length + 1, H, W), screens i-history_length .. i.
    prestates: uint8 view states[:, :-1]; poststates: uint8 view states[:, 1:].
    actions: int64 (batch_size,); rewards: float32 raw game rewards (clipped by the network);
    terminals: bool (batch_size,), True when the poststate is terminal;
    indexes: int64 memory rows of the transitions; weights: float32 importance-sampling
    weights (all 1 without prioritized replay).
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    indexes: np.ndarray
    weights: np.ndarray

    @property
    def prestates(self) -> np.ndarray:
        return self.states[:, :-1]

    @property
    def poststates(self) -> np.ndarray:
        return self.states[:, 1:]


class ReplayMemory:
    """Fixed-size ring buffer of transitions, sampled uniformly.

    Args:
        size: capacity in transitions (= screens).
        history_length: screens per state.
        screen_shape: (height, width) of a screen.
        batch_size: transitions per minibatch.
        rng: numpy Generator used for sampling (seed it for reproducible runs).

    Raises:
        ValueError: size not larger than batch_size + history_length, or a non-positive size.
    """

    def __init__(self, *, size: int, history_length: int, screen_shape: tuple[int, int],
                 batch_size: int, rng: np.random.Generator | None = None):
        if min(size, history_length, batch_size, *screen_shape) <= 0:
            raise ValueError("replay memory sizes must be positive")
        if size <= batch_size + history_length:
            raise ValueError(f"replay_size ({size}) must be larger than batch_size + history_length "
                             f"({batch_size + history_length})")
        self.size = size
        self.history_length = history_length
        self.screen_shape = tuple(screen_shape)
        self.batch_size = batch_size
        self.rng = rng if rng is not None else np.random.default_rng()
        # np.empty does not touch the pages: resident memory grows as the ring fills.
        self.screens = np.empty((size, *self.screen_shape), dtype=np.uint8)
        self.actions = np.empty(size, dtype=np.uint8)
        self.rewards = np.empty(size, dtype=np.float32)
        self.terminals = np.empty(size, dtype=np.bool_)
        self.starts = np.empty(size, dtype=np.bool_)
        self.count = 0  # rows filled so far, at most size
        self.current = 0  # the row the next add() writes
        self._offsets = np.arange(-history_length, 1)
        self._states = np.empty((batch_size, history_length + 1, *self.screen_shape), dtype=np.uint8)

    @property
    def nbytes(self) -> int:
        """Bytes held by the memory's arrays when full."""
        return sum(a.nbytes for a in (self.screens, self.actions, self.rewards, self.terminals, self.starts))

    def add(self, action: int, reward: float, screen: np.ndarray, terminal: bool, start: bool = False) -> None:
        """Store one transition: the action taken, the reward, the screen that followed, terminal.

        screen: uint8 (H, W). start: screen is an episode's first screen (action and reward are
        then ignored). Overwrites the oldest transition once the memory is full.
        """
        self.actions[self.current] = action
        self.rewards[self.current] = reward
        self.screens[self.current] = screen
        self.terminals[self.current] = terminal
        self.starts[self.current] = start
        self.count = max(self.count, self.current + 1)
        self.current = (self.current + 1) % self.size

    def get_state(self, index: int) -> np.ndarray:
        """The state ending at screen ``index``: uint8 (history_length, H, W).

        Slicing when the history does not wrap around the ring, an index list when it does.
        """
        index %= self.count
        if index >= self.history_length - 1:
            return self.screens[index - self.history_length + 1:index + 1]
        rows = [(index - i) % self.count for i in reversed(range(self.history_length))]
        return self.screens[rows]

    def valid_indexes(self, indexes: np.ndarray) -> np.ndarray:
        """Boolean mask: which transition indexes may be sampled (see the module docstring)."""
        indexes = np.asarray(indexes)
        ok = (indexes >= self.history_length) & (indexes < self.count)
        straddles = (indexes >= self.current) & (indexes - self.history_length < self.current)
        ok &= ~straddles
        ok &= ~self.starts[np.clip(indexes, 0, self.size - 1)]
        return ok

    def sample_indexes(self, n: int) -> np.ndarray:
        """Draw ``n`` valid transition indexes uniformly (vectorised rejection sampling).

        Raises:
            RuntimeError: no valid index found in MAX_SAMPLING_ROUNDS rounds (memory too empty).
        """
        if self.count <= self.history_length:
            raise RuntimeError(f"replay memory holds {self.count} transitions; "
                               f"it needs more than history_length={self.history_length} to sample")
        out = np.empty(n, dtype=np.int64)
        filled = 0
        for _ in range(MAX_SAMPLING_ROUNDS):
            need = n - filled
            candidates = self.rng.integers(self.history_length, self.count, size=2 * need + 8)
            good = candidates[self.valid_indexes(candidates)][:need]
            out[filled:filled + len(good)] = good
            filled += len(good)
            if filled == n:
                return out
        raise RuntimeError("could not sample a minibatch of valid transitions from the replay memory: "
                           "nearly every stored row is an episode start; play more random_steps")

    def gather(self, indexes: np.ndarray, weights: np.ndarray | None = None) -> Minibatch:
        """Assemble the minibatch of ``indexes`` with one vectorised gather of screens.

        The returned states array is reused by the next call: copy it to keep it.
        """
        indexes = np.asarray(indexes, dtype=np.int64)
        states = self._states if len(indexes) == self.batch_size else \
            np.empty((len(indexes), self.history_length + 1, *self.screen_shape), dtype=np.uint8)
        # Sampled indexes are >= history_length, so the rows never wrap around the ring.
        rows = indexes[:, None] + self._offsets
        np.take(self.screens, rows, axis=0, out=states)
        self._zero_before_starts(states, self.starts[rows[:, :-1]])
        if weights is None:
            weights = np.ones(len(indexes), dtype=np.float32)
        return Minibatch(states, self.actions[indexes].astype(np.int64), self.rewards[indexes],
                         self.terminals[indexes], indexes, weights)

    @staticmethod
    def _zero_before_starts(states: np.ndarray, starts: np.ndarray) -> None:
        """Zero the screens that precede the last episode start in each window (in place).

        states: uint8 (B, history_length + 1, H, W); starts: bool (B, history_length), the start
        flags of window positions 0 .. history_length - 1.
        """
        has_start = starts.any(axis=1)
        if not has_start.any():
            return  # the common case in Atari: no episode boundary in any window
        width = starts.shape[1]
        last_start = width - 1 - np.argmax(starts[:, ::-1], axis=1)  # position of the last start
        before = np.arange(width + 1)[None, :] < np.where(has_start, last_start, 0)[:, None]
        states[before] = 0

    def sample(self, step: int = 0) -> Minibatch:
        """A minibatch of batch_size uniformly sampled valid transitions (step: unused here)."""
        return self.gather(self.sample_indexes(self.batch_size))

    def update_priorities(self, indexes: np.ndarray, td_errors: np.ndarray) -> None:
        """No-op for uniform replay; prioritized replay overrides it."""

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The filled part of the memory for a checkpoint: (meta, arrays of count rows)."""
        arrays = dict(screens=self.screens[:self.count], actions=self.actions[:self.count],
                      rewards=self.rewards[:self.count], terminals=self.terminals[:self.count],
                      starts=self.starts[:self.count])
        return dict(size=self.size, count=self.count, current=self.current), arrays

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore from save_state().

        Raises:
            ValueError: the saved memory does not fit this one (size or screen shape).
        """
        count = int(meta["count"])
        if int(meta["size"]) != self.size or tuple(arrays["screens"].shape[1:]) != self.screen_shape:
            raise ValueError(f"the saved replay memory holds {meta['size']} screens of "
                             f"{tuple(arrays['screens'].shape[1:])}, this one {self.size} of {self.screen_shape}")
        for name in ("screens", "actions", "rewards", "terminals", "starts"):
            target = getattr(self, name)
            if arrays[name].shape[0] != count or arrays[name].dtype != target.dtype:
                raise ValueError(f"the saved replay memory's {name} array is damaged")
            copy_rows(arrays[name], target, count)
        self.count, self.current = count, int(meta["current"])
