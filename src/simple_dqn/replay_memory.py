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

With n_step > 1 (multi-step returns) transition i looks n_step rows ahead instead of one:

    prestate  = screens[i - history_length          .. i - 1]
    poststate = screens[i - history_length + n_step .. i + n_step - 1]
    rewards   = rewards[i .. i + n_step - 1], cut after the first terminal among them

and one row of history_length + n_step screens is gathered. Such an index is also rejected
when the rows i+1 .. i+n_step-1 reach the write pointer or an episode's start row before a
terminal has ended the window (an episode cut off without a terminal, as at the end of a
train phase). The memory still stores one-step transitions, each screen once: the n-step
window is assembled only when sampled.

With several streams (--num_envs N games played side by side) the ring is cut into N
segments of size // N rows, one ring per stream, so that a state never mixes two games; an
index is then checked against its own segment's fill and write pointer, and sampling is
uniform over the transitions of all segments.

Memory: size * (H * W + 1 + 4 + 1 + 1) bytes; 1,000,000 screens of 84x84 take 7.06e9 bytes
(6.58 GiB), as the original's 6.57 GB.

With device set (--replay_on_gpu) the screens are mirrored in a uint8 tensor on that device (DeviceScreens):
the screens added since the last minibatch are copied over in one transfer when it is
sampled, and the minibatch's states are gathered there, so they never cross the bus. The
host array stays the one a checkpoint saves; the mirror costs the same bytes again on the GPU.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from simple_dqn.errors import StateMismatch

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

    states: uint8 (batch_size, history_length + n_step, H, W), screens
        i-history_length .. i+n_step-1: a numpy array, or a torch tensor on the memory's
        device when the memory keeps its screens there.
    prestates: uint8 view of the first history_length screens; poststates: uint8 view of the
        last history_length screens (with n_step 1: states[:, :-1] and states[:, 1:]).
    actions: int64 (batch_size,).
    rewards: float32 raw game rewards (clipped by the network): (batch_size,) with n_step 1,
        else (batch_size, n_step) with zeros after a terminal.
    terminals: bool (batch_size,), True when an episode ended within the n_step steps (no
        bootstrap from the poststate).
    indexes: int64 memory rows of the transitions; weights: float32 importance-sampling
        weights (all 1 without prioritized replay).
    n_step: steps between the prestate and the poststate.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    indexes: np.ndarray
    weights: np.ndarray
    n_step: int = 1

    @property
    def prestates(self) -> np.ndarray:
        return self.states[:, :self.states.shape[1] - self.n_step]

    @property
    def poststates(self) -> np.ndarray:
        return self.states[:, self.n_step:]


class ReplayMemory:
    """Fixed-size ring buffer of transitions, sampled uniformly.

    Args:
        size: capacity in transitions (= screens).
        history_length: screens per state.
        screen_shape: (height, width) of a screen.
        batch_size: transitions per minibatch.
        rng: numpy Generator used for sampling (seed it for reproducible runs).
        streams: games whose transitions arrive interleaved (--num_envs); each gets its own
            segment of size // streams rows.
        n_step: steps per sampled transition (multi-step returns, Sutton 1988; Hessel et al.
            2018, "Rainbow", eq. 2); 1 is the one-step transition of DQN.
        device: None (screens on the host only) or a torch CUDA device that mirrors them
            (see the module docstring); minibatch states are then tensors on it.

    Attributes:
        count: transitions stored, over all streams (at most size).
        current: the row the next add() of stream 0 writes (the ring's write pointer).

    Raises:
        ValueError: size not larger than batch_size + history_length, a segment not larger
            than history_length + n_step, or a non-positive size.
    """

    def __init__(self, *, size: int, history_length: int, screen_shape: tuple[int, int],
                 batch_size: int, rng: np.random.Generator | None = None, streams: int = 1,
                 n_step: int = 1, device: str | None = None):
        if min(size, history_length, batch_size, streams, n_step, *screen_shape) <= 0:
            raise ValueError("replay memory sizes must be positive")
        if size <= batch_size + history_length:
            raise ValueError(f"replay_size ({size}) must be larger than batch_size + history_length "
                             f"({batch_size + history_length})")
        if size // streams <= history_length + n_step:
            raise ValueError(f"replay_size ({size}) leaves {size // streams} rows to each of {streams} streams; "
                             f"each needs more than history_length + n_step ({history_length + n_step})")
        self.size = size
        self.streams = streams
        self.segment = size // streams  # rows per stream; size % streams rows stay unused
        self.history_length = history_length
        self.screen_shape = tuple(screen_shape)
        self.batch_size = batch_size
        self.n_step = n_step
        self.rng = rng if rng is not None else np.random.default_rng()
        # np.empty does not touch the pages: resident memory grows as the ring fills.
        self.screens = np.empty((size, *self.screen_shape), dtype=np.uint8)
        self.actions = np.empty(size, dtype=np.uint8)
        self.rewards = np.empty(size, dtype=np.float32)
        self.terminals = np.empty(size, dtype=np.bool_)
        self.starts = np.empty(size, dtype=np.bool_)
        self.counts = [0] * streams  # rows filled in each stream's segment
        self.currents = [0] * streams  # the segment row each stream's next add() writes
        self._offsets = np.arange(-history_length, 0)
        self._states = np.empty((batch_size, history_length + n_step, *self.screen_shape), dtype=np.uint8)
        self.device = None if device is None else torch.device(device)
        self.mirror = None if device is None else DeviceScreens(self.screens, self.device)

    @property
    def nbytes(self) -> int:
        """Bytes held by the memory's arrays when full."""
        return sum(a.nbytes for a in (self.screens, self.actions, self.rewards, self.terminals, self.starts))

    @property
    def count(self) -> int:
        """Transitions stored over all streams (at most size)."""
        return sum(self.counts)

    @property
    def current(self) -> int:
        """The row stream 0's next add() writes (the write pointer of a single-stream memory)."""
        return self.currents[0]

    def next_row(self, stream: int = 0) -> int:
        """The array row the next add() of ``stream`` writes."""
        return stream * self.segment + self.currents[stream]

    def add(self, action: int, reward: float, screen: np.ndarray, terminal: bool, start: bool = False,
            stream: int = 0) -> None:
        """Store one transition: the action taken, the reward, the screen that followed, terminal.

        screen: uint8 (H, W). start: screen is an episode's first screen (action and reward are
        then ignored). stream: which game the transition comes from (0..streams-1).
        Overwrites the stream's oldest transition once its segment is full.
        """
        current = self.currents[stream]
        row = stream * self.segment + current
        self.actions[row] = action
        self.rewards[row] = reward
        self.screens[row] = screen
        self.terminals[row] = terminal
        self.starts[row] = start
        if self.mirror is not None:
            self.mirror.written.append(row)
        if current == self.counts[stream]:
            self.counts[stream] = current + 1
        self.currents[stream] = (current + 1) % self.segment

    def get_state(self, index: int) -> np.ndarray:
        """The state ending at screen ``index`` of stream 0: uint8 (history_length, H, W).

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
        if self.streams == 1:
            local, count, current = indexes, self.counts[0], self.currents[0]
        else:
            stream = np.clip(indexes // self.segment, 0, self.streams - 1)
            local = indexes - stream * self.segment
            count, current = np.asarray(self.counts)[stream], np.asarray(self.currents)[stream]
        ok = (local >= self.history_length) & (local < count)
        straddles = (local >= current) & (local - self.history_length < current)
        ok &= ~straddles
        ok &= ~self.starts[np.clip(indexes, 0, self.size - 1)]
        if self.n_step > 1:
            # Rows ahead up to the first terminal: written before the write pointer (the
            # distance from i forward to it exceeds k) and not a start row.
            ahead = (np.asarray(current) - local) % self.segment
            alive = np.ones(indexes.shape, dtype=bool)
            for k in range(1, self.n_step):
                alive &= ~self.terminals[self._row_ahead(indexes, k - 1)]
                ok &= ~alive | ((ahead > k) & ~self.starts[self._row_ahead(indexes, k)])
        return ok

    def _row_ahead(self, indexes: np.ndarray, k: int) -> np.ndarray:
        """The array rows k steps after ``indexes`` in their own segment's ring (k >= 0)."""
        base = np.clip(indexes, 0, self.streams * self.segment - 1) // self.segment * self.segment
        return base + (np.clip(indexes, 0, self.size - 1) - base + k) % self.segment

    def _candidates(self, n: int) -> np.ndarray:
        """n indexes drawn uniformly from rows history_length .. count-1 of every segment."""
        if self.streams == 1:
            return self.rng.integers(self.history_length, self.counts[0], size=n)
        lengths = np.maximum(np.asarray(self.counts) - self.history_length, 0)
        ends = np.cumsum(lengths)
        draws = self.rng.integers(0, ends[-1], size=n)
        stream = np.searchsorted(ends, draws, side="right")
        return stream * self.segment + self.history_length + draws - (ends[stream] - lengths[stream])

    def sample_indexes(self, n: int) -> np.ndarray:
        """Draw ``n`` valid transition indexes uniformly (vectorised rejection sampling).

        Raises:
            RuntimeError: no valid index found in MAX_SAMPLING_ROUNDS rounds (memory too empty).
        """
        if max(self.counts) <= self.history_length:
            raise RuntimeError(f"replay memory holds {self.count} transitions; "
                               f"it needs more than history_length={self.history_length} in one stream to sample")
        out = np.empty(n, dtype=np.int64)
        filled = 0
        for _ in range(MAX_SAMPLING_ROUNDS):
            need = n - filled
            candidates = self._candidates(2 * need + 8)
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
        n = self.n_step
        states = self._states if len(indexes) == self.batch_size else \
            np.empty((len(indexes), self.history_length + n, *self.screen_shape), dtype=np.uint8)
        # Sampled indexes lie history_length or more rows into their segment, so the rows
        # behind never wrap around a ring nor reach into another stream's segment; the rows
        # ahead (n_step > 1) wrap within the segment.
        behind = indexes[:, None] + self._offsets
        ahead = indexes[:, None] if n == 1 else \
            np.stack([self._row_ahead(indexes, k) for k in range(n)], axis=1)
        rows = np.concatenate([behind, ahead], axis=1)
        zeroed = before_last_start(self.starts[behind], rows.shape[1])
        if self.mirror is not None:
            states = self.mirror.take(rows, zeroed)
        else:
            np.take(self.screens, rows, axis=0, out=states)
            if zeroed is not None:
                states[zeroed] = 0
        if weights is None:
            weights = np.ones(len(indexes), dtype=np.float32)
        actions = self.actions[indexes].astype(np.int64)
        if n == 1:
            return Minibatch(states, actions, self.rewards[indexes], self.terminals[indexes], indexes, weights)
        # Rewards after the first terminal of the window belong to the next episode: zero them.
        terminals = self.terminals[ahead]
        alive = np.ones_like(terminals)
        alive[:, 1:] = ~np.logical_or.accumulate(terminals[:, :-1], axis=1)
        rewards = np.where(alive, self.rewards[ahead], np.float32(0))
        return Minibatch(states, actions, rewards, (terminals & alive).any(axis=1), indexes, weights, n)

    def sample(self) -> Minibatch:
        """A minibatch of batch_size uniformly sampled valid transitions."""
        return self.gather(self.sample_indexes(self.batch_size))

    def update_priorities(self, indexes: np.ndarray, td_errors: np.ndarray) -> None:
        """No-op for uniform replay; prioritized replay overrides it."""

    def saved_rows(self) -> slice:
        """The rows a checkpoint holds: the filled ones, or every segment's rows with streams."""
        return slice(0, self.counts[0] if self.streams == 1 else self.streams * self.segment)

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The filled part of the memory for a checkpoint: (meta, arrays of the saved rows)."""
        rows = self.saved_rows()
        arrays = dict(screens=self.screens[rows], actions=self.actions[rows], rewards=self.rewards[rows],
                      terminals=self.terminals[rows], starts=self.starts[rows])
        meta = dict(size=self.size, streams=self.streams, counts=list(self.counts), currents=list(self.currents))
        return meta, arrays

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore from save_state().

        Raises:
            StateMismatch: the saved memory was made for another size, number of streams or screen shape.
            ValueError: a damaged array.
        """
        if int(meta["size"]) != self.size or tuple(arrays["screens"].shape[1:]) != self.screen_shape:
            raise StateMismatch(f"the saved replay memory holds {meta['size']} screens of "
                             f"{tuple(arrays['screens'].shape[1:])}, this one {self.size} of {self.screen_shape}")
        streams = int(meta["streams"])
        if streams != self.streams:
            raise StateMismatch(f"the saved replay memory holds {streams} streams (--num_envs {streams}), this one "
                             f"{self.streams}; resume with --num_envs {streams}")
        self.counts, self.currents = [int(c) for c in meta["counts"]], [int(c) for c in meta["currents"]]
        rows = self.saved_rows().stop
        for name in ("screens", "actions", "rewards", "terminals", "starts"):
            target = getattr(self, name)
            if arrays[name].shape[0] != rows or arrays[name].dtype != target.dtype:
                raise ValueError(f"the saved replay memory's {name} array is damaged")
            copy_rows(arrays[name], target, rows)
        if self.mirror is not None:
            self.mirror.written_up_to = rows


class DeviceScreens:
    """The replay memory's screens mirrored in a uint8 tensor on a device (--replay_on_gpu).

    The host array stays the one that add() writes and a checkpoint saves; the rows written
    since the last minibatch go over in one transfer when it is gathered, and the minibatch's
    states are gathered on the device, so they never cross the bus.

    Attributes:
        written: host rows added since the last transfer.
        written_up_to: send rows 0..written_up_to - 1 at the next transfer (after load_state), or 0.
    """

    def __init__(self, screens: np.ndarray, device: torch.device):
        self.screens, self.device = screens, device
        self.tensor = torch.zeros(screens.shape, dtype=torch.uint8, device=device)
        self.written: list[int] = []
        self.written_up_to = 0

    def take(self, rows: np.ndarray, zeroed: np.ndarray | None) -> torch.Tensor:
        """The screens of rows (int64 (B, W)) as uint8 (B, W, H, W) on the device, the zeroed ones 0."""
        self._send()
        states = self.tensor.index_select(0, torch.from_numpy(rows.ravel()).to(self.device)).view(
            *rows.shape, *self.screens.shape[1:])
        if zeroed is not None:  # a product, not a masked store: that would wait for the GPU
            states *= torch.from_numpy((~zeroed).astype(np.uint8)).to(self.device)[:, :, None, None]
        return states

    def _send(self) -> None:
        if self.written_up_to:
            self.tensor[:self.written_up_to].copy_(torch.from_numpy(self.screens[:self.written_up_to]))
            self.written_up_to = 0
        if self.written:
            rows = np.asarray(self.written, dtype=np.int64)
            self.written.clear()
            self.tensor[torch.from_numpy(rows).to(self.device)] = torch.from_numpy(self.screens[rows]).to(self.device)


def before_last_start(starts: np.ndarray, width: int) -> np.ndarray | None:
    """Which window positions precede the last episode start (they are zeroed), or None.

    starts: bool (B, history_length), the start flags of window positions
    0 .. history_length - 1. Returns bool (B, width), or None when no window holds a start
    (the common case in Atari).
    """
    has_start = starts.any(axis=1)
    if not has_start.any():
        return None
    last_start = starts.shape[1] - 1 - np.argmax(starts[:, ::-1], axis=1)  # position of the last start
    return np.arange(width)[None, :] < np.where(has_start, last_start, 0)[:, None]
