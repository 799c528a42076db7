"""Results over several runs: mean test curves with confidence bands, and an IQM score table.

    ./plot.sh sweeps/<name>                       a sweep folder (its sweep.csv names the runs)
    ./plot.sh --aggregate a.csv b.csv ...         any results CSVs

Runs are grouped by game and by algorithm (a sweep's settings, or for loose CSVs their folder and
the file name's label without its seedN part: results/pong_lapan_seed0.csv and
results/pong_lapan_seed1.csv are two runs of "results/lapan" on pong).

- Curves: per game, the mean test average_reward of each algorithm's runs against --x, with a 95%
  confidence band, mean +- t(0.975, n-1) * s / sqrt(n) (Student's t interval over runs), drawn over
  the x values every run of the group reached.
- Score table: each run's last test average, human-normalised, (score - random) / (human - random)
  (Mnih et al. 2015), with the reference scores of data/reference_scores.csv; per algorithm the
  interquartile mean (IQM) over all runs and games with a 95% stratified-bootstrap confidence
  interval, computed by rliable (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
  Precipice", Section 4). Games without reference scores are left out of the table.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simple_dqn.errors import UsageError

REFERENCE_SCORES = Path(__file__).resolve().parents[1] / "data" / "reference_scores.csv"
TABLE_COLUMNS = ("algorithm", "games", "runs_per_game", "iqm", "iqm_low", "iqm_high", "mean", "median")


@dataclass
class Run:
    """One training run: its results CSV, game and algorithm, and its rows by phase."""

    path: str
    game: str
    algorithm: str
    phases: dict = field(default_factory=dict)


def reference_scores() -> dict[str, tuple[float, float]]:
    """game -> (random score, human score), from data/reference_scores.csv."""
    with open(REFERENCE_SCORES, newline="") as f:
        return {row["game"]: (float(row["random"]), float(row["human"])) for row in csv.DictReader(f)}


def game_of(stem: str) -> tuple[str, str]:
    """Split a results file stem into (game, label): the longest known game name it starts with,
    else the part before the first underscore."""
    known = sorted(reference_scores(), key=len, reverse=True)
    for game in known:
        if stem == game or stem.startswith(game + "_"):
            return game, stem[len(game) + 1:]
    game, _, label = stem.partition("_")
    return game, label


def loose_run(path: str) -> Run:
    """A results CSV given by path: game and label from its name, algorithm from folder and label."""
    game, label = game_of(Path(path).stem)
    label = "_".join(part for part in label.split("_") if not re.fullmatch(r"seed\d+", part))
    folder = Path(path).resolve().parent.name
    return Run(path, game, f"{folder}/{label}" if label else folder)


def sweep_runs(folder: str) -> list[Run]:
    """The runs of a sweep folder, as its sweep.csv lists them.

    Raises:
        UsageError: the folder has no sweep.csv.
    """
    summary = Path(folder) / "sweep.csv"
    if not summary.exists():
        raise UsageError(f"{folder!r} is not a sweep folder (no sweep.csv); give results CSVs with --aggregate")
    with open(summary, newline="") as f:
        rows = list(csv.DictReader(f))
    name = Path(folder).resolve().name
    return [Run(row["csv_file"], row["game"], f"{name} {row['settings']}".strip())
            for row in rows if os.path.exists(row["csv_file"])]


def load_runs(paths: list[str]) -> list[Run]:
    """Runs from sweep folders and results CSVs, their rows read.

    Raises:
        UsageError: a bad CSV or folder, or no runs at all.
    """
    from simple_dqn.statistics import read_results

    runs = []
    for path in paths:
        runs += sweep_runs(path) if os.path.isdir(path) else [loose_run(path)]
    if not runs:
        raise UsageError("no runs to aggregate: the sweep folders hold no results CSVs yet")
    for run in runs:
        run.phases = read_results(run.path)
    return runs


def groups(runs: list[Run]) -> dict[str, dict[str, list[Run]]]:
    """game -> algorithm -> runs, in first-seen order."""
    out: dict[str, dict[str, list[Run]]] = {}
    for run in runs:
        out.setdefault(run.game, {}).setdefault(run.algorithm, []).append(run)
    return out


def mean_curve(runs: list[Run], x: str = "total_train_steps", field_name: str = "average_reward"):
    """(xs, mean, low, high) of the runs' test rows over the x values all of them reached.

    The band is the 95% Student's t interval of the mean over runs (zero width for one run).
    """
    from scipy import stats

    from simple_dqn.statistics import curve

    curves = [dict(zip(*curve(run.phases, "test", x, field_name))) for run in runs]
    xs = sorted(set.intersection(*(set(c) for c in curves)))
    values = np.array([[c[v] for v in xs] for c in curves], dtype=np.float64).reshape(len(curves), len(xs))
    mean = values.mean(axis=0)
    if len(runs) < 2:
        return xs, mean, mean, mean
    half = stats.t.ppf(0.975, len(runs) - 1) * values.std(axis=0, ddof=1) / math.sqrt(len(runs))
    return xs, mean, mean - half, mean + half


def final_scores(runs: list[Run]) -> dict[str, dict[str, list[float]]]:
    """algorithm -> game -> each run's last test average_reward (runs without a test row left out)."""
    out: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        tests = run.phases.get("test", [])
        if tests:
            out.setdefault(run.algorithm, {}).setdefault(run.game, []).append(tests[-1][1]["average_reward"])
    return out


def score_table(runs: list[Run], reps: int = 2000, seed: int = 0) -> list[dict]:
    """Per algorithm: the IQM of human-normalised final scores with its 95% stratified-bootstrap CI.

    Each algorithm's scores form a (runs, games) matrix over its games with reference scores,
    as many runs per game as its game with the fewest has. Returns one dict per algorithm
    (TABLE_COLUMNS); algorithms with no scored game are left out.
    """
    from rliable import library as rly
    from rliable import metrics

    references = reference_scores()
    table = []
    for algorithm, by_game in final_scores(runs).items():
        games = sorted(g for g in by_game if g in references)
        if not games:
            continue
        count = min(len(by_game[g]) for g in games)
        matrix = np.array([[(by_game[g][i] - references[g][0]) / (references[g][1] - references[g][0])
                            for g in games] for i in range(count)])
        np.random.seed(seed)  # rliable's bootstrap draws from numpy's global generator
        points, intervals = rly.get_interval_estimates(
            {algorithm: matrix}, lambda scores: np.array([metrics.aggregate_iqm(scores)]), reps=reps)
        table.append(dict(algorithm=algorithm, games=" ".join(games), runs_per_game=count,
                          iqm=float(points[algorithm][0]), iqm_low=float(intervals[algorithm][0, 0]),
                          iqm_high=float(intervals[algorithm][1, 0]), mean=float(matrix.mean()),
                          median=float(np.median(matrix.mean(axis=0)))))
    return table


def format_table(table: list[dict]) -> str:
    """The score table as aligned text lines."""
    lines = [f"{'algorithm':<40} {'games':<24} runs  IQM (95% CI)             mean    median"]
    for row in table:
        lines.append(f"{row['algorithm']:<40} {row['games']:<24} {row['runs_per_game']:>4}  "
                     f"{row['iqm']:7.3f} ({row['iqm_low']:.3f}, {row['iqm_high']:.3f})  "
                     f"{row['mean']:7.3f} {row['median']:7.3f}")
    return "\n".join(lines)


def write_table(path: str, table: list[dict]) -> None:
    """The score table as CSV, written atomically."""
    from simple_dqn.atomic import write_dicts_csv_atomic

    write_dicts_csv_atomic(path, TABLE_COLUMNS, table)
