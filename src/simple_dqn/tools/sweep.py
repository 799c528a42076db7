"""sweep.sh: a grid of training runs over games, seeds and settings, on Ray Tune.

    ./sweep.sh --games pong breakout --seeds 3 [--grid learning_rate=0.00025,0.0001] [train options]

Every combination of game, seed (0 .. seeds-1) and --grid value is one trial: one ordinary
training run, the same code path as train.sh, run in-process by a Ray worker. A trial writes
under the sweep's folder <storage>/<name>/:

    results/<game>_<label>.csv          the usual 16-column CSV (label: seed<seed>[_<option><value>...])
    snapshots/<game>_<label>_<epoch>.safetensors
    tensorboard/<game>_<label>/         TensorBoard curves (--tensorboard)
    sweep.csv                           the summary: one row per trial

and reports each phase's row to Ray Tune. With --checkpoint, each epoch's full-state checkpoint
is the trial's Ray checkpoint: a trial whose worker dies is retried (--max_failures) and
continues from it. Running the same command again continues an interrupted sweep.

Ray starts embedded on this machine unless --address names a running cluster (``auto`` or
``ray://host:port``); on a cluster --storage must be a folder every node sees, and every node
needs simple_dqn installed (pip install -e .).

Exit status: 0 when every trial finished, 1 when any trial failed, 2 on bad input (before any
trial starts).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from simple_dqn.errors import UsageError, report_usage_errors

ROOT = Path(__file__).resolve().parents[3]
SUMMARY_COLUMNS = ("game", "seed", "settings", "status", "epochs", "last_test_average", "best_test_average",
                   "best_epoch", "csv_file", "error")
# Options the sweep sets for each trial: they may not be given.
SET_BY_SWEEP = ("csv_file", "save_weights_prefix", "random_seed", "resume", "load_weights", "play_games")


def build_parser() -> argparse.ArgumentParser:
    """The sweep options; everything else on the command line is a train option."""
    from simple_dqn.arguments import Parser

    parser = Parser(prog="sweep.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                     allow_abbrev=False)
    parser.add_argument("--games", nargs="+", required=True, help="ROMs or game names (pong, roms/breakout.bin, "
                        "catch, ALE/Pong-v5)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per game and setting: 0 .. SEEDS-1")
    parser.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2",
                        help="a train option and the values to try (repeat for a product of grids)")
    parser.add_argument("--name", default="sweep", help="the sweep's name: its folder under --storage")
    parser.add_argument("--storage", default=str(ROOT / "sweeps"), help="folder of the sweep folders; on a "
                        "cluster one that every node sees (default: sweeps/ in the project)")
    parser.add_argument("--address", help="a running Ray cluster: auto, host:port or ray://host:port "
                        "(default: start Ray embedded on this machine)")
    parser.add_argument("--cpus_per_trial", type=float, default=1, help="CPUs Ray reserves per trial")
    parser.add_argument("--gpus_per_trial", type=float, default=0, help="GPUs Ray reserves per trial "
                        "(a fraction lets several trials share one GPU)")
    parser.add_argument("--max_failures", type=int, default=2, help="retries of a trial whose worker dies")
    return parser


def parse_grid(items: list[str], train_options: set[str]) -> list[tuple[str, list[str]]]:
    """[(option, [values])] from --grid items like learning_rate=0.001,0.0005.

    Raises:
        UsageError: an item without '=', an option that is no train option, or no values.
    """
    grid = []
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().lstrip("-")
        if not sep:
            raise UsageError(f"--grid {item!r} has no '='; write --grid OPTION=V1,V2")
        if name not in train_options:
            raise UsageError(f"--grid {item!r} names no train option; see ./train.sh --help for the options")
        if name in SET_BY_SWEEP:
            raise UsageError(f"--grid {name} is set by the sweep for each trial; leave it out")
        values = [v.strip() for v in values.split(",") if v.strip()]
        if not values:
            raise UsageError(f"--grid {name}= is empty; give at least one value (--grid {name}=V1,V2)")
        grid.append((name, values))
    return grid


def trial_configs(games: list[str], seeds: int, grid: list[tuple[str, list[str]]], train_argv: list[str],
                  folder: str) -> list[dict]:
    """One Ray config per game x seed x grid point, in that order."""
    from simple_dqn.roms import game_name

    names = [name for name, _ in grid]
    configs = []
    for game in games:
        for seed in range(seeds):
            for values in itertools.product(*(v for _, v in grid)):
                settings = dict(zip(names, values))
                label = "seed" + str(seed) + "".join(f"_{k}{v}" for k, v in settings.items())
                configs.append(dict(game=game, game_name=game_name(game), seed=seed, settings=settings,
                                    label=re.sub(r"[^\w.=-]", "_", label), train_argv=list(train_argv),
                                    folder=folder))
    return configs


def trial_paths(config: dict) -> dict[str, str]:
    """The files of one trial under the sweep folder: csv_file, save_weights_prefix, tensorboard."""
    name, folder = f"{config['game_name']}_{config['label']}", config["folder"]
    return dict(csv_file=f"{folder}/results/{name}.csv", save_weights_prefix=f"{folder}/snapshots/{name}",
                tensorboard=f"{folder}/tensorboard/{name}")


def trial_argv(config: dict) -> list[str]:
    """The train command line of one trial (what train.sh would run)."""
    paths = trial_paths(config)
    argv = [config["game"], *config["train_argv"]]
    for option, value in config["settings"].items():
        argv += [f"--{option}", value]
    argv += ["--random_seed", str(config["seed"]), "--csv_file", paths["csv_file"],
             "--save_weights_prefix", paths["save_weights_prefix"]]
    if "--tensorboard" not in config["train_argv"]:
        argv += ["--tensorboard", paths["tensorboard"]]
    return argv


def check_trials(configs: list[dict]) -> None:
    """Parse and validate every trial's command line and open each game once, before Ray starts.

    Raises:
        UsageError: a bad option or value, or a game that does not exist.
    """
    from simple_dqn.arguments import parse_arguments
    from simple_dqn.build import make_environment

    opened = set()
    for config in configs:
        argv = trial_argv(config)
        args = parse_arguments(argv)  # argparse's one-line error and exit status 2 for options that do not parse
        if config["game"] not in opened:
            make_environment(args).close()
            opened.add(config["game"])


def trial_name(trial) -> str:
    """Ray's name (and folder name) of a trial: <game>_<label>."""
    config = trial.config["trial"]
    return f"{config['game_name']}_{config['label']}"


def run_trial(ray_config: dict) -> None:
    """Ray Tune function trainable: one training run, its rows reported, its checkpoints Ray's."""
    from ray import tune

    from simple_dqn.arguments import load_arguments
    from simple_dqn.main import make_experiment
    from simple_dqn.threads import configure_threads

    config = ray_config["trial"]
    argv = trial_argv(config)
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        # A retried or resumed trial: put its last checkpoint where --resume auto finds it.
        prefix = trial_paths(config)["save_weights_prefix"]
        os.makedirs(os.path.dirname(prefix), exist_ok=True)
        with checkpoint.as_directory() as folder:
            for path in Path(folder).glob("*.checkpoint.h5"):
                shutil.copyfile(path, f"{prefix}_{path.name.rsplit('_', 1)[-1]}")
        argv += ["--resume", "auto"]
    Path(config["folder"], "trials").mkdir(parents=True, exist_ok=True)
    Path(config["folder"], "trials", f"{config['game_name']}_{config['label']}.pid").write_text(str(os.getpid()))

    def report(row: dict, checkpoint_path: str | None) -> None:
        if checkpoint_path is None:
            tune.report(row)
            return
        with tempfile.TemporaryDirectory() as folder:
            # A hard link, not a copy: Ray copies the folder into its storage itself.
            target = os.path.join(folder, os.path.basename(checkpoint_path))
            try:
                os.link(checkpoint_path, target)
            except OSError:
                shutil.copyfile(checkpoint_path, target)
            tune.report(row, checkpoint=tune.Checkpoint.from_directory(folder))

    try:
        args, snapshot = load_arguments(argv)
        configure_threads(args.threads)
        experiment = make_experiment(args, snapshot)
        experiment.reporter = report
        experiment.run()
    except UsageError as e:
        # A bad input ends this trial with its line; the other trials go on.
        tune.report(dict(error=str(e)))


def connect(address: str | None) -> None:
    """Start Ray embedded, or connect to the cluster at address.

    Raises:
        UsageError: the address does not answer.
    """
    # Short epochs checkpoint often; Ray's warning about frequent experiment snapshots is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import ray

    hint = "start one with `ray start --head`, or leave out --address to run on this machine"
    if address and address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
        except (OSError, ValueError):
            raise UsageError(f"the Ray address {address!r} does not answer; {hint}") from None
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 configure_logging=True, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UsageError(f"cannot connect to Ray at {address!r} ({str(e).splitlines()[0]}); {hint}") from None


def run_sweep(options: argparse.Namespace, train_argv: list[str]) -> list[dict]:
    """Run (or continue) the sweep on Ray Tune; returns the summary rows."""
    from ray import tune

    storage = os.path.abspath(options.storage)
    folder = os.path.join(storage, options.name)
    trainable = tune.with_resources(run_trial, {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
    if tune.Tuner.can_restore(folder):
        print(f"sweep.sh: continuing the sweep in {folder}", flush=True)
        tuner = tune.Tuner.restore(folder, trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        if "--threads" not in train_argv:  # each trial's torch threads: the CPUs Ray reserves for it
            train_argv = [*train_argv, "--threads", str(max(1, round(options.cpus_per_trial)))]
        configs = trial_configs(options.games, options.seeds, options.grid_values, train_argv, folder)
        tuner = tune.Tuner(
            trainable,
            param_space=dict(trial=tune.grid_search(configs)),
            tune_config=tune.TuneConfig(trial_name_creator=trial_name, trial_dirname_creator=trial_name),
            run_config=tune.RunConfig(
                name=options.name, storage_path=storage, verbose=1,
                failure_config=tune.FailureConfig(max_failures=options.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
        )
    results = tuner.fit()
    rows = sorted((summary_row(result) for result in results), key=lambda r: (r["game"], r["seed"], r["settings"]))
    write_summary(os.path.join(folder, "sweep.csv"), rows)
    return rows


def summary_row(result) -> dict:
    """One sweep.csv row from a Ray Tune result: the trial's settings and its test averages."""
    from simple_dqn.statistics import read_results

    config = result.config["trial"]
    path = trial_paths(config)["csv_file"]
    row = dict(game=config["game_name"], seed=config["seed"],
               settings=" ".join(f"{k}={v}" for k, v in config["settings"].items()), status="done", epochs=0,
               last_test_average="", best_test_average="", best_epoch="", csv_file=path, error="")
    error = (result.metrics or {}).get("error") or (str(result.error).strip().splitlines()[-1] if result.error else "")
    if error:
        row.update(status="failed", error=error)
    if os.path.exists(path):
        try:
            tests = read_results(path).get("test", [])
        except UsageError:
            tests = []
        if tests:
            best = max(tests, key=lambda item: item[1]["average_reward"])
            row.update(epochs=tests[-1][0], last_test_average=tests[-1][1]["average_reward"],
                       best_test_average=best[1]["average_reward"], best_epoch=best[0])
    return row


def write_summary(path: str, rows: list[dict]) -> None:
    """sweep.csv, written atomically."""
    from simple_dqn.atomic import write_dicts_csv_atomic

    write_dicts_csv_atomic(path, SUMMARY_COLUMNS, rows)


def format_row(row: dict) -> str:
    """One summary line: game, seed, settings, then the test averages or the error."""
    head = f"{row['game']} seed {row['seed']}" + (f" {row['settings']}" if row["settings"] else "")
    if row["status"] == "failed":
        return f"{head}: failed: {row['error']}"
    if row["last_test_average"] == "":
        return f"{head}: no test row"
    return (f"{head}: last test average {row['last_test_average']:g} (epoch {row['epochs']}), "
            f"best {row['best_test_average']:g} (epoch {row['best_epoch']})")


def main(argv: list[str] | None = None) -> int:
    """sweep.sh entry point; returns the exit status (2 on bad input, before any trial starts)."""
    from simple_dqn.arguments import build_parser as train_parser

    argv = list(sys.argv[1:] if argv is None else argv)
    options, train_argv = build_parser().parse_known_args(argv)

    def run() -> int:
        train_options = {a.dest for a in train_parser()._actions if a.dest not in ("help", "game")}
        for word in train_argv:
            name = word.lstrip("-").split("=")[0]
            if word.startswith("--") and name in SET_BY_SWEEP:
                raise UsageError(f"--{name} is set by the sweep for each trial; leave it out")
            if word.startswith("--") and name not in train_options:
                raise UsageError(f"{word} is neither a sweep option nor a train option; see ./sweep.sh --help "
                                 "and ./train.sh --help")
        if options.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, not {options.seeds}")
        if options.cpus_per_trial <= 0 or options.gpus_per_trial < 0 or options.max_failures < 0:
            raise UsageError("--cpus_per_trial must be positive, --gpus_per_trial and --max_failures not negative")
        options.grid_values = parse_grid(options.grid, train_options)
        folder = os.path.join(os.path.abspath(options.storage), options.name)
        check_trials(trial_configs(options.games, options.seeds, options.grid_values, train_argv, folder))
        connect(options.address)
        rows = run_sweep(options, train_argv)
        print(f"sweep.sh: {len(rows)} trial(s); summary in {os.path.join(folder, 'sweep.csv')}")
        for row in rows:
            print("  " + format_row(row))
        return 1 if any(row["status"] == "failed" for row in rows) else 0

    return report_usage_errors(run, "sweep.sh")


if __name__ == "__main__":
    sys.exit(main())
