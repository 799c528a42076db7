"""The evaluation protocol of the Nature paper: play N whole games, report score statistics.

Mnih et al. 2015 (Methods, "Evaluation procedure") played 30 games of up to 5 minutes with
epsilon 0.05 and up to 30 random no-op starts; the simple_dqn blog compared agents the same way.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from simple_dqn.atomic import write_text_atomic

SUMMARY_FIELDS = ("games", "mean", "std", "min", "max", "median")


def summarize(scores: list[float]) -> dict[str, float]:
    """Mean, population standard deviation, min, max and median of game scores.

    Raises:
        ValueError: no scores.
    """
    if not scores:
        raise ValueError("no games were played")
    array = np.asarray(scores, dtype=np.float64)
    return dict(games=len(array), mean=float(array.mean()), std=float(array.std()),
                min=float(array.min()), max=float(array.max()), median=float(np.median(array)))


def format_summary(summary: dict[str, float]) -> str:
    """One line: 'games: 30, mean: 12.3, std: ..., min: ..., max: ..., median: ...'."""
    return ", ".join(f"{k}: {summary[k]:g}" for k in SUMMARY_FIELDS)


def write_games_csv(path: str, epoch: int, scores: list[float]) -> None:
    """Write one row per game (epoch, game, score) and a summary block, atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("epoch", "game", "score"))
    writer.writerows((epoch, i + 1, score) for i, score in enumerate(scores))
    summary = summarize(scores)
    writer.writerow(())
    writer.writerow(("epoch", *SUMMARY_FIELDS))
    writer.writerow((epoch, *(summary[k] for k in SUMMARY_FIELDS)))
    write_text_atomic(path, text.getvalue())
