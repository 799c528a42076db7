"""sweep.sh on Ray Tune (embedded and against a cluster started by hand), trial retries from
checkpoints, and the aggregate plot and IQM table over seeds."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import CATCH_SMALL, REFERENCE, ROOT, assert_one_line_error, cli_env, run_cli, run_script

# Catch, small and fast: 3 epochs of a few seconds each.
TRAIN = [*CATCH_SMALL, "--replay_size", "5000", "--random_steps", "300", "--train_steps", "600",
         "--test_steps", "300", "--epochs", "3", "--train_frequency", "2", "--optimizer", "adam",
         "--learning_rate", "0.001", "--exploration_decay_steps", "1000", "--target_steps", "100", "--backend", "cpu"]
TIMING = ("total_time", "epoch_time", "steps_per_second")

pytestmark = pytest.mark.slow


def sweep(args, timeout=600):
    return run_script("sweep.sh", args, timeout=timeout)


def rows_without_timing(path):
    with open(path) as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def catch_sweep(tmp_path_factory):
    storage = tmp_path_factory.mktemp("sweeps")
    args = ["--games", "catch", "--seeds", "2", "--grid", "learning_rate=0.001,0.0005", "--storage", storage,
            "--name", "grid", *[a for a in TRAIN if a not in ("--learning_rate", "0.001")], "--checkpoint",
            "--epochs", "2"]
    proc = sweep(args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return storage / "grid", args, proc


def test_local_sweep_writes_every_run_and_the_summary(catch_sweep):
    folder, _, proc = catch_sweep
    csvs = sorted(p.name for p in (folder / "results").glob("*.csv"))
    assert csvs == [f"catch_seed{s}_learning_rate{lr}.csv" for s in (0, 1) for lr in ("0.0005", "0.001")]
    with open(folder / "sweep.csv") as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 4 and {row["status"] for row in summary} == {"done"}
    for row in summary:
        tests = [r for r in rows_without_timing(row["csv_file"]) if r["phase"] == "test"]
        assert len(tests) == 2 and float(row["last_test_average"]) == float(tests[-1]["average_reward"])
        assert float(row["best_test_average"]) == max(float(t["average_reward"]) for t in tests)
        assert f"catch seed {row['seed']} {row['settings']}: last test average" in proc.stdout
    # TensorBoard is on inside a sweep; the seeds really differ.
    assert len(list((folder / "tensorboard").glob("*/events.out.tfevents.*"))) == 4
    a, b = (rows_without_timing(folder / "results" / f"catch_seed{s}_learning_rate0.001.csv") for s in (0, 1))
    assert a != b


def test_running_the_same_sweep_again_continues_it(catch_sweep):
    folder, args, _ = catch_sweep
    before = (folder / "sweep.csv").read_text()
    proc = sweep(args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "continuing the sweep" in proc.stdout
    assert (folder / "sweep.csv").read_text() == before  # nothing ran again


def test_killed_trial_is_retried_from_its_checkpoint(tmp_path):
    """SIGKILL the trial's worker after its first epoch: Ray retries it from the epoch's checkpoint,
    and the run ends with the rows of an unbroken run."""
    storage = tmp_path / "sweeps"
    command = [str(ROOT / "sweep.sh"), "--games", "catch", "--storage", str(storage), "--name", "retry",
               "--max_failures", "1", *TRAIN, "--epochs", "2", "--checkpoint"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env())
    folder = storage / "retry"
    pid_file = folder / "trials" / "catch_seed0.pid"
    deadline = time.time() + 300
    progress = folder / "catch_seed0" / "progress.csv"
    # Ray writes the row that came with the epoch's checkpoint once it has registered the checkpoint.
    while not (progress.exists() and any(line.startswith("1,test,") for line in progress.read_text().splitlines())):
        assert proc.poll() is None and time.time() < deadline, "no checkpointed epoch was reported"
        time.sleep(0.05)
    killed = int(pid_file.read_text())
    os.kill(killed, signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
    assert int(pid_file.read_text()) != killed  # a new worker ran the trial's rest
    # Ray's record of the reported rows: the random phase once, so the retry did not start over.
    with open(folder / "catch_seed0" / "progress.csv") as f:
        reported = [(row["epoch"], row["phase"]) for row in csv.DictReader(f)]
    assert reported.count(("0", "random")) == 1 and reported[-1] == ("2", "test")

    unbroken = tmp_path / "unbroken.csv"
    run = run_cli(["catch", *TRAIN, "--epochs", "2", "--random_seed", "0", "--csv_file", unbroken], timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert rows_without_timing(folder / "results" / "catch_seed0.csv") == rows_without_timing(unbroken)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sweep_on_a_ray_cluster_started_by_hand(tmp_path):
    """The same sweep on a cluster started with `ray start --head`; one of its trials stops with a
    one-line error (the GPU backend where there is no CUDA, found only when the trial builds its
    network): that line goes in the summary, the other trial finishes, exit status 1."""
    import torch

    ray = shutil.which("ray", path=os.path.dirname(sys.executable))
    port = free_port()
    # Ray clusters authenticate clients with a shared token: the cluster and the sweep get the same one.
    env = dict(cli_env(), RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=os.urandom(16).hex())
    start = subprocess.run([ray, "start", "--head", "--port", str(port), "--num-cpus", "2",
                            "--include-dashboard", "false", "--disable-usage-stats"],
                           capture_output=True, text=True, timeout=180, env=env)
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        storage = tmp_path / "shared"
        train = [a for a in TRAIN if a not in ("--backend", "cpu")]
        proc = subprocess.run([str(ROOT / "sweep.sh"), "--games", "catch", "--grid", "backend=cpu,gpu", "--storage",
                               str(storage), "--name", "cluster", "--address", f"127.0.0.1:{port}", *train,
                               "--epochs", "1"], capture_output=True, text=True, timeout=600, env=env)
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env=env)
    with open(storage / "cluster" / "sweep.csv") as f:
        rows = {row["settings"]: row for row in csv.DictReader(f)}
    assert rows["backend=cpu"]["status"] == "done" and rows["backend=cpu"]["epochs"] == "1"
    if torch.cuda.is_available():
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert rows["backend=gpu"]["status"] == "failed" and "CUDA" in rows["backend=gpu"]["error"]
    assert "catch seed 0 backend=gpu: failed:" in proc.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--games", "catch", "--grid", "bogus=1,2"], ["bogus", "no train option"]),
    (["--games", "catch", "--grid", "learning_rate="], ["learning_rate", "empty"]),
    (["--games", "catch", "--grid", "learning_rate"], ["no '='"]),
    (["--games", "breakot"], ["breakot", "did you mean breakout"]),
    (["--games", "catch", "--address", "127.0.0.1:9"], ["127.0.0.1:9", "does not answer", "ray start --head"]),
    (["--games", "catch", "--csv_file", "x.csv"], ["--csv_file", "set by the sweep"]),
    (["--games", "catch", "--no_such_option", "1"], ["--no_such_option", "neither"]),
    (["--games", "catch", "--seeds", "0"], ["--seeds"]),
])
def test_bad_sweep_input_stops_before_any_trial(tmp_path, args, fragments):
    proc = sweep([*args, "--storage", tmp_path / "sweeps"], timeout=120)
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "sweeps").exists()


def test_aggregate_plot_and_iqm_table(catch_sweep, tmp_path):
    from simple_dqn.tools.aggregate import load_runs, mean_curve, reference_scores, score_table

    folder, _, _ = catch_sweep
    proc = run_script("plot.sh", [folder, "--dpi", "40"])
    assert proc.returncode == 0, proc.stderr
    assert (folder / "aggregate.png").exists() and (folder / "aggregate_scores.csv").exists()

    # The original's published runs beside this sweep's: one table row per algorithm.
    out = tmp_path / "all.png"
    paths = [REFERENCE / "pong.csv", REFERENCE / "breakout.csv", *sorted((folder / "results").glob("*.csv"))]
    proc = run_script("plot.sh", ["--aggregate", *paths, "--png_file", out, "--dpi", "40"])
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "all_scores.csv") as f:
        table = {row["algorithm"]: row for row in csv.DictReader(f)}
    original = table["simple_dqn_results"]
    assert original["games"] == "breakout pong" and original["runs_per_game"] == "1"
    refs = reference_scores()
    runs = load_runs([str(p) for p in paths[:2]])
    by_hand = [(r.phases["test"][-1][1]["average_reward"] - refs[r.game][0]) / (refs[r.game][1] - refs[r.game][0])
               for r in runs]
    # The IQM of two scores is their mean.
    assert float(original["iqm"]) == pytest.approx(np.mean(by_hand))
    catch = score_table(load_runs([str(p) for p in paths[2:]]))
    # Loose CSVs group by folder and label without the seed: two learning rates, two seeds each.
    assert sorted(row["runs_per_game"] for row in catch) == [2, 2] and {row["games"] for row in catch} == {"catch"}
    assert all(row["iqm_low"] <= row["iqm"] <= row["iqm_high"] for row in catch)

    # The band: mean +- t(0.975, n-1) s / sqrt(n) over the runs of a group.
    grid_runs = load_runs([str(folder)])
    lr = [r for r in grid_runs if r.algorithm.endswith("learning_rate=0.001")]
    xs, mean, low, high = mean_curve(lr)
    values = np.array([[v["average_reward"] for _, v in r.phases["test"]] for r in lr])
    assert xs == [600, 1200]
    assert mean == pytest.approx(values.mean(axis=0))
    assert high - mean == pytest.approx(12.706204736 * values.std(axis=0, ddof=1) / np.sqrt(2))


def test_plot_bad_aggregate_input(tmp_path):
    proc = run_script("plot.sh", [tmp_path, "--png_file", tmp_path / "x.png"])
    assert_one_line_error(proc, "not a sweep folder")
