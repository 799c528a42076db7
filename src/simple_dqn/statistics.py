"""Per-phase statistics: the original's 16-column CSV, log lines and a progress bar.

Columns (defined once here; plot.py imports them):
  epoch                  0 for the random phase and play, then 1, 2, ...
  phase                  random, train, test or play
  steps                  agent steps played in the phase
  nr_games               episodes that ended in the phase (train: a lost life ends one);
                         1 when none ended, with the unfinished episode's reward
  average_reward         mean reward of those episodes (raw game score, not clipped)
  min_game_reward, max_game_reward
  last_exploration_rate  epsilon of the phase's last step
  total_train_steps      train steps since the start of training (drives epsilon)
  replay_memory_count    transitions in the replay memory
  meanq                  mean over a fixed validation minibatch (drawn once) of max_a Q(s, a)
  meancost               mean training loss of the phase's weight updates (0 without updates)
  weight_updates         weight updates since the start of training
  total_time             seconds since the statistics were created (wall clock)
  epoch_time             seconds the phase took (wall clock)
  steps_per_second       steps / epoch_time
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import sys
import time

import numpy as np

from simple_dqn.atomic import write_text_atomic
from simple_dqn.errors import UsageError

logger = logging.getLogger(__name__)

CSV_COLUMNS = (
    "epoch", "phase", "steps", "nr_games", "average_reward", "min_game_reward", "max_game_reward",
    "last_exploration_rate", "total_train_steps", "replay_memory_count", "meanq", "meancost",
    "weight_updates", "total_time", "epoch_time", "steps_per_second",
)


def read_rows(path: str, delimiter: str = ",") -> list[list[str]]:
    """The data rows of a results CSV written by this project or the original one.

    Raises:
        UsageError: the file is missing, unreadable or its header is not the 16 columns.
    """
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"cannot read results file {path!r}: {getattr(e, 'strerror', None) or e}") from None
    if not rows or tuple(c.strip() for c in rows[0]) != CSV_COLUMNS:
        raise UsageError(f"{path!r} is not a simple_dqn results CSV (its header is not the 16 columns "
                         f"{','.join(CSV_COLUMNS[:3])},...)")
    return rows[1:]


def read_results(path: str, skiprows: int = 0, delimiter: str = ",") -> dict[str, list[tuple[int, dict]]]:
    """Rows of a results CSV grouped by phase: phase -> [(epoch, {column: float})].

    skiprows: data rows to leave out at the start.

    Raises:
        UsageError: the file is missing, not a 16-column results CSV, has a short row or a
            value that is not a number, or has no data rows.
    """
    phases: dict[str, list[tuple[int, dict]]] = {}
    for number, row in enumerate(read_rows(path, delimiter)[skiprows:], start=2 + skiprows):
        if not row:
            continue
        if len(row) != len(CSV_COLUMNS):
            raise UsageError(f"{path!r} line {number} has {len(row)} values, not {len(CSV_COLUMNS)}")
        try:
            values = {k: float(v) for k, v in zip(CSV_COLUMNS, row) if k != "phase"}
        except ValueError:
            raise UsageError(f"{path!r} line {number} holds a value that is not a number") from None
        phases.setdefault(row[1].strip(), []).append((int(values["epoch"]), values))
    if not phases:
        raise UsageError(f"{path!r} has no data rows to plot")
    return phases


def curve(phases: dict, phase: str, x: str, field: str, x_max: float | None = None) -> tuple[list, list]:
    """The (x values, field values) of one phase's rows (from read_results), x_max and beyond left out."""
    points = [v for _, v in phases.get(phase, []) if x_max is None or v[x] <= x_max]
    return [v[x] for v in points], [v[field] for v in points]


class Statistics:
    """Observer of the agent and the network; writes one CSV row and log lines per phase.

    Args:
        csv_file: path of the results CSV, or None for log lines only. The constructor touches
            no file: open_csv() starts it, or load_state() (a resumed run) rewrites it.
        progress: show a tqdm progress bar per phase (default: when stderr is a terminal).
        tensorboard: a TensorBoardLog that gets the rows, the games and the updates too, or None.

    Rows are written by rewriting the whole file to a temporary name and renaming it, so a
    crash or Ctrl-C never leaves a partial row.

    Raises (writing):
        UsageError: the CSV's folder cannot be written, or the file to append to is not a
            results CSV.
    """

    def __init__(self, csv_file: str | None = None, progress: bool | None = None, tensorboard=None):
        self.csv_file = csv_file
        self.tensorboard = tensorboard
        self.steps_seen = 0  # agent steps over all phases: the x axis of TensorBoard's game rewards
        self.rows: list[list[str]] = []
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.start_time = time.perf_counter()
        self.validation_states: np.ndarray | None = None
        self._bar = None
        self.reset()

    def open_csv(self, keep_until_epoch: int | None = None) -> None:
        """Start the CSV: its header, and with keep_until_epoch the rows of an existing file up to
        that epoch (a run resumed from a snapshot without a checkpoint); else a new file.

        Raises:
            UsageError: the folder cannot be written, or the file to keep rows of is not a results CSV.
        """
        if not self.csv_file:
            return
        if keep_until_epoch is not None and os.path.exists(self.csv_file):
            self.rows = [r for r in read_rows(self.csv_file) if r and int(float(r[0])) <= keep_until_epoch]
        self._flush()
        logger.info("Results are written to %s", self.csv_file)

    def reset(self, phase: str = "", total: int | None = None, by_games: bool = False, desc: str = "") -> None:
        """Start counting a new phase.

        total: the phase's steps, or its games with by_games (a test by games: its bar counts
        games, and each finished game is logged at INFO); None for no bar. desc: the bar's label.
        """
        self.phase = phase
        self.games_total = total if by_games else None
        self.epoch_start_time = time.perf_counter()
        self.num_steps = 0
        self.num_games = 0
        self.stream_rewards = np.zeros(0)  # running reward of each stream's game
        self.average_reward = 0.0
        self.min_game_reward = math.inf
        self.max_game_reward = -math.inf
        self.last_exploration_rate = 1.0
        self._close_bar()
        if self.progress and total:
            from simple_dqn.progress import progress_bar

            self._bar = progress_bar(total, desc or phase, "game" if by_games else "step", enabled=True)

    def on_step(self, actions: np.ndarray, rewards: np.ndarray, terminals: np.ndarray, exploration_rate: float,
                steps: int | None = None) -> None:
        """Count one step of the N streams (called by the agent).

        actions int (N,), rewards float (N,) raw game rewards, terminals bool (N,); steps: how
        many of them count (default N). Each stream keeps its own running game reward.
        """
        if len(self.stream_rewards) != len(rewards):
            self.stream_rewards = np.zeros(len(rewards))
        self.stream_rewards += rewards
        steps = len(rewards) if steps is None else steps
        self.num_steps += steps
        self.steps_seen += steps
        self.last_exploration_rate = exploration_rate
        if np.count_nonzero(terminals):  # not any(): this runs every step
            for i in np.flatnonzero(terminals):
                self._end_game(float(self.stream_rewards[i]))
                self.stream_rewards[i] = 0.0
        self._update_bar(steps, exploration_rate)

    def on_update(self, net) -> None:
        """After each weight update (called by the agent)."""
        if self.tensorboard is not None:
            self.tensorboard.update(net)

    def _end_game(self, reward: float) -> None:
        if self.tensorboard is not None:
            self.tensorboard.game(self.phase, reward, self.steps_seen)
        self.num_games += 1
        self.average_reward += (reward - self.average_reward) / self.num_games
        self.min_game_reward = min(self.min_game_reward, reward)
        self.max_game_reward = max(self.max_game_reward, reward)
        if self.games_total:
            logger.info("  game %d of %d: %g (average %.2f)", self.num_games, self.games_total, reward,
                        self.average_reward)
            if self._bar is not None:
                self._bar.update(1)
                self._bar.set_postfix(avg_reward=f"{self.average_reward:.2f}", refresh=False)

    def _update_bar(self, steps: int, exploration_rate: float) -> None:
        if self._bar is not None and not self.games_total:
            before = self._bar.n
            self._bar.update(steps)
            if before // 500 != self._bar.n // 500:
                self._bar.set_postfix(eps=f"{exploration_rate:.3f}", avg_reward=f"{self.average_reward:.2f}",
                                      refresh=False)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def row(self, epoch: int, phase: str, *, total_train_steps: int, memory, net) -> list:
        """Close the phase and return its 16 CSV values (see the module docstring)."""
        self._close_bar()
        now = time.perf_counter()
        total_time = now - self.start_time
        epoch_time = now - self.epoch_start_time
        if self.num_games == 0:
            # No episode ended in the phase: report the unfinished one, as the original did
            # (with N streams, their N unfinished ones).
            unfinished = self.stream_rewards if len(self.stream_rewards) else np.zeros(1)
            self.num_games = len(unfinished)
            self.average_reward = float(unfinished.mean())
            self.min_game_reward, self.max_game_reward = float(unfinished.min()), float(unfinished.max())
        enough = memory is not None and memory.count > memory.batch_size + memory.history_length
        if self.validation_states is None and enough:
            # A fixed set of states for tracking Q-value dynamics (Mnih et al. 2015, Fig. 2).
            # Drawn as a minibatch is, but not one: prioritized replay's schedule counts minibatches.
            prestates = memory.gather(memory.sample_indexes(memory.batch_size)).prestates
            # A tensor on the GPU with --replay_on_gpu.
            self.validation_states = prestates.cpu().numpy() if hasattr(prestates, "cpu") else prestates.copy()
        meanq = 0.0
        if self.validation_states is not None and net is not None:
            meanq = float(np.mean(np.max(net.predict(self.validation_states), axis=1)))
        meancost = net.take_mean_cost() if net is not None else 0.0
        return [epoch, phase, self.num_steps, self.num_games, self.average_reward,
                _number(self.min_game_reward), _number(self.max_game_reward), self.last_exploration_rate,
                total_train_steps, memory.count if memory is not None else 0, meanq, meancost,
                net.weight_updates if net is not None else 0, total_time, epoch_time,
                self.num_steps / epoch_time if epoch_time > 0 else 0.0]

    def write(self, epoch: int, phase: str, *, total_train_steps: int, memory, net) -> list:
        """Write the phase's row to the CSV (atomically) and log it; returns the row."""
        values = self.row(epoch, phase, total_train_steps=total_train_steps, memory=memory, net=net)
        if self.csv_file:
            self.rows.append([_cell(v) for v in values])
            self._flush()
        if self.tensorboard is not None:
            self.tensorboard.row(CSV_COLUMNS, values)
        logger.info("  num_games: %d, average_reward: %f, min_game_reward: %s, max_game_reward: %s",
                    values[3], values[4], values[5], values[6])
        logger.info("  last_exploration_rate: %f, epoch_time: %ds, steps_per_second: %d",
                    values[7], values[14], values[15])
        return values

    def _flush(self) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(self.rows)
        write_text_atomic(self.csv_file, text.getvalue())

    def close(self) -> None:
        """Close the progress bar and the TensorBoard log."""
        self._close_bar()
        if self.tensorboard is not None:
            self.tensorboard.close()

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The running counts of the phase, the rows written and the validation states."""
        now = time.perf_counter()
        meta = dict(phase=self.phase, num_steps=self.num_steps, num_games=self.num_games,
                    average_reward=self.average_reward,
                    min_game_reward=_json_number(self.min_game_reward),
                    max_game_reward=_json_number(self.max_game_reward),
                    stream_rewards=self.stream_rewards.tolist(),
                    last_exploration_rate=self.last_exploration_rate, total_elapsed=now - self.start_time,
                    epoch_elapsed=now - self.epoch_start_time, rows=self.rows, steps_seen=self.steps_seen)
        arrays = {} if self.validation_states is None else dict(validation_states=self.validation_states)
        return meta, arrays

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state() and rewrite the CSV with the saved rows (dropping any later ones)."""
        self.reset(meta["phase"])
        for key in ("num_steps", "num_games", "average_reward", "last_exploration_rate"):
            setattr(self, key, meta[key])
        self.stream_rewards = np.asarray(meta["stream_rewards"], dtype=np.float64)
        self.steps_seen = int(meta["steps_seen"])
        self.min_game_reward = float(meta["min_game_reward"])
        self.max_game_reward = float(meta["max_game_reward"])
        now = time.perf_counter()
        self.start_time = now - meta["total_elapsed"]
        self.epoch_start_time = now - meta["epoch_elapsed"]
        if "validation_states" in arrays:
            self.validation_states = np.asarray(arrays["validation_states"])
        self.rows = [list(map(str, row)) for row in meta["rows"]]
        if self.csv_file:
            self._flush()


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # JSON has no infinity


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _cell(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)
