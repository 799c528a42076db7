"""TensorBoard curves beside the results CSV (--tensorboard DIR), with torch.utils.tensorboard.

Tags (all scalars):
  <phase>/<column>     each CSV row's numeric columns (phase random, train, test or play),
                       at step total_train_steps
  <phase>/game_reward  each finished game's (episode's) reward, at the count of agent steps
                       the statistics have seen over all phases
  update/loss          the loss of every --tensorboard_every-th weight update, at the update count
  update/meanq         the mean Q(s, a) of that update's minibatch, at the update count

Open with ``tensorboard --logdir DIR``.
"""

from __future__ import annotations


class TensorBoardLog:
    """Writes the tags above to an event file in log_dir.

    Args:
        log_dir: folder of the event files (created).
        every_updates: log update/loss and update/meanq every this many weight updates.

    Raises:
        UsageError: log_dir cannot be created or written.
    """

    def __init__(self, log_dir: str, every_updates: int = 1000):
        from torch.utils.tensorboard import SummaryWriter

        from simple_dqn.atomic import ensure_writable_dir

        ensure_writable_dir(f"{log_dir}/events")
        self.writer = SummaryWriter(log_dir)
        self.every_updates = every_updates

    def game(self, phase: str, reward: float, step: int) -> None:
        """One finished game's reward."""
        self.writer.add_scalar(f"{phase}/game_reward", reward, step)

    def row(self, columns: tuple[str, ...], values: list) -> None:
        """One CSV row: every numeric column under <phase>/<column>."""
        row = dict(zip(columns, values))
        phase, step = row.pop("phase"), int(row["total_train_steps"])
        for name, value in row.items():
            self.writer.add_scalar(f"{phase}/{name}", float(value), step)
        self.writer.flush()

    def update(self, net) -> None:
        """After a weight update: log its loss and mean Q every every_updates updates."""
        updates = net.weight_updates
        if updates % self.every_updates or net.last_cost is None:
            return
        self.writer.add_scalar("update/loss", float(net.last_cost), updates)
        self.writer.add_scalar("update/meanq", float(net.last_q_taken.float().mean()), updates)

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
