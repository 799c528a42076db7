"""plot.sh: learning curves from results CSVs (this project's and the original simple_dqn's).

    python -m simple_dqn.tools.plot results/breakout.csv [more.csv ...] [--fields a,b] [--png_file f.png]

One CSV: a panel per field with three lines against epoch: the random baseline (the random
phase's value held flat), train and test. Several CSVs: their test curves overlaid, labelled
by file name, to compare runs. Panels fill a near-square grid left to right, top to bottom.
--x total_train_steps (or weight_updates, total_time) puts that column on the x axis instead
of the epoch, to compare runs whose epochs differ in length; --x_max cuts the axis there.
A sweep folder, or several CSVs with --aggregate, give the mean curves over seeds and the IQM
score table instead (aggregate.py).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from simple_dqn.arguments import Parser
from simple_dqn.errors import UsageError, report_usage_errors
from simple_dqn.statistics import CSV_COLUMNS, curve, read_results

DEFAULT_FIELDS = "average_reward,meanq,nr_games,meancost"
X_FIELDS = ("epoch", "total_train_steps", "weight_updates", "total_time")


def grid(n: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for n panels."""
    columns = math.ceil(math.sqrt(n))
    return math.ceil(n / columns), columns


def plot(csv_files: list[str], png_file: str, fields: list[str], *, dpi: int = 80, figure_width: float = 16,
         figure_height: float = 9, skiprows: int = 0, delimiter: str = ",", x: str = "epoch",
         x_max: float | None = None) -> None:
    """Draw the panels and write png_file atomically.

    x: the column on the x axis (one of X_FIELDS); x_max: drop the points beyond it.

    Raises:
        UsageError: a bad CSV, an unknown field, or an unwritable output folder.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from simple_dqn.atomic import atomic_path

    unknown = [f for f in fields if f not in CSV_COLUMNS or f == "phase"]
    if unknown:
        raise UsageError(f"{csv_files[0]!r} has no field {unknown[0]!r}; choose from "
                         f"{', '.join(c for c in CSV_COLUMNS if c != 'phase')}")
    runs = [(path, read_results(path, skiprows, delimiter)) for path in csv_files]
    for path, phases in runs:
        most = max(len(curve(phases, name, x, "epoch", x_max)[0]) for name in ("train", "test"))
        if most < 2:
            print(f"plot.sh: warning: {path} has {most or 'no'} train or test row{'' if most == 1 else 's'} per "
                  "phase, too few for curves: its values are drawn as single points", file=sys.stderr)
    rows, columns = grid(len(fields))
    figure = plt.figure(figsize=(figure_width, figure_height))
    for i, field in enumerate(fields):
        axes = figure.add_subplot(rows, columns, i + 1)
        if len(runs) == 1:
            phases = runs[0][1]
            xs = sorted(x_value for name in ("train", "test") for x_value in curve(phases, name, x, field, x_max)[0])
            if phases.get("random"):
                baseline = phases["random"][0][1][field]
                axes.plot([xs[0] if xs else 0, xs[-1] if xs else 0], [baseline, baseline], label="random")
            for name in ("train", "test"):
                points = curve(phases, name, x, field, x_max)
                axes.plot(*points, label=name, **single_point_marker(points))
            axes.legend(loc="best")
        else:
            for path, phases in runs:
                points = curve(phases, "test", x, field, x_max)
                axes.plot(*points, label=os.path.splitext(os.path.basename(path))[0], **single_point_marker(points))
            axes.legend(loc="best", fontsize="small")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(field)
        axes.set_xlabel(x)
        axes.set_ylabel(field)
        axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(png_file) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png")
    plt.close(figure)


def single_point_marker(points: tuple[list, list]) -> dict:
    """A line of one point draws nothing: mark it."""
    return dict(marker="o") if len(points[0]) == 1 else {}


def build_parser() -> argparse.ArgumentParser:
    """The plot.sh command line (the original plot.py's options, several CSV files allowed)."""
    parser = Parser(prog="plot.sh", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv_file", nargs="+", help="results CSV file(s), or sweep folder(s) to aggregate")
    parser.add_argument("--aggregate", action="store_true", help="mean test curve per game and algorithm "
                        "with a 95%% confidence band over seeds, and the IQM score table (the default for "
                        "sweep folders)")
    parser.add_argument("--png_file", help="output PNG (default: the first CSV with .png)")
    parser.add_argument("--fields", default=DEFAULT_FIELDS, help="comma-separated CSV columns, one panel each "
                        f"(default {DEFAULT_FIELDS})")
    parser.add_argument("--x", choices=X_FIELDS, default="epoch", help="the column on the x axis (default "
                        "epoch; total_train_steps compares runs with epochs of other lengths)")
    parser.add_argument("--x_max", type=float, help="leave out the points beyond this x value")
    parser.add_argument("--dpi", type=int, default=80, help="dots per inch of the PNG")
    parser.add_argument("--figure_width", type=float, default=16, help="figure width in inches")
    parser.add_argument("--figure_height", type=float, default=9, help="figure height in inches")
    parser.add_argument("--skiprows", type=int, default=0, help="data rows to skip after the header")
    parser.add_argument("--delimiter", default=",", help="CSV delimiter")
    return parser


def plot_aggregate(runs: list, png_file: str, *, x: str = "total_train_steps", dpi: int = 80,
                   figure_width: float = 16, figure_height: float = 9) -> None:
    """One panel per game: each algorithm's mean test curve and its 95% band; written atomically.

    runs: tools.aggregate.Run records with their rows read (load_runs).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simple_dqn.atomic import atomic_path
    from simple_dqn.tools.aggregate import groups, mean_curve

    by_game = groups(runs)
    rows, columns = grid(len(by_game))
    figure = plt.figure(figsize=(figure_width, figure_height))
    for i, (game, algorithms) in enumerate(by_game.items()):
        axes = figure.add_subplot(rows, columns, i + 1)
        for algorithm, members in algorithms.items():
            xs, mean, low, high = mean_curve(members, x)
            line, = axes.plot(xs, mean, label=f"{algorithm} (n={len(members)})")
            axes.fill_between(xs, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
        axes.set_title(f"{game}: test average_reward, mean and 95% CI")
        axes.set_xlabel(x)
        axes.set_ylabel("average_reward")
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    with atomic_path(png_file) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png")
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """plot.sh entry point; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)

    def run():
        if args.aggregate or any(os.path.isdir(path) for path in args.csv_file):
            return aggregate(args)
        fields = [f.strip() for f in args.fields.split(",") if f.strip()]
        if not fields:
            raise UsageError("--fields is empty; name at least one CSV column")
        png = args.png_file or os.path.splitext(args.csv_file[0])[0] + ".png"
        plot(args.csv_file, png, fields, dpi=args.dpi, figure_width=args.figure_width,
             figure_height=args.figure_height, skiprows=args.skiprows, delimiter=args.delimiter, x=args.x,
             x_max=args.x_max)
        print(f"wrote {png}")

    return report_usage_errors(run, "plot.sh")


def aggregate(args) -> None:
    """plot.sh --aggregate / a sweep folder: the mean-curve PNG and the IQM table (printed and CSV)."""
    from simple_dqn.tools.aggregate import format_table, load_runs, score_table, write_table

    first = args.csv_file[0]
    if args.png_file:
        png = args.png_file
    elif os.path.isdir(first):
        png = os.path.join(first, "aggregate.png")
    else:
        png = os.path.splitext(first)[0] + "_aggregate.png"
    runs = load_runs(args.csv_file)
    x = "total_train_steps" if args.x == "epoch" else args.x
    plot_aggregate(runs, png, x=x, dpi=args.dpi, figure_width=args.figure_width, figure_height=args.figure_height)
    print(f"wrote {png}")
    table = score_table(runs)
    if table:
        scores = os.path.splitext(png)[0] + "_scores.csv"
        write_table(scores, table)
        print("human-normalised final test averages (IQM with 95% stratified-bootstrap CI, rliable):")
        print(format_table(table))
        print(f"wrote {scores}")


if __name__ == "__main__":
    sys.exit(main())
