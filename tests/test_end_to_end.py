"""The shell scripts on a real ROM: train.sh, test.sh and resume.sh, and Ctrl-C during training."""

import csv
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, cli_env, results, run_script
from simple_dqn.snapshot import load_snapshot
from simple_dqn.statistics import CSV_COLUMNS

LABEL = "pytest_e2e"


@pytest.fixture
def cleanup():
    yield
    for path in [*ROOT.glob(f"results/breakout_{LABEL}*"), *ROOT.glob(f"snapshots/breakout_{LABEL}_*")]:
        path.unlink()


def read_csv(path):
    with open(path) as f:
        return list(csv.reader(f))


@pytest.mark.slow
def test_train_test_resume_on_breakout(cleanup):
    steps = ["--random_steps", "500", "--train_steps", "1000", "--test_steps", "500", "--random_seed", "3",
             "--backend", "cpu", "--replay_size", "10000"]
    proc = run_script("train.sh", ["roms/breakout.bin", LABEL, "--epochs", "1", *steps])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = results(ROOT / f"results/breakout_{LABEL}.csv")
    assert [(r["epoch"], r["phase"], r["steps"]) for r in rows] == [("0", "random", "500"), ("1", "train", "1000"),
                                                                    ("1", "test", "500")]
    train = rows[1]
    assert int(train["total_train_steps"]) == 1000 and int(train["weight_updates"]) == 250
    assert abs(float(train["last_exploration_rate"]) - (1 - 999 * 0.9 / 1e6)) < 1e-9
    snapshot = ROOT / f"snapshots/breakout_{LABEL}_1.safetensors"
    assert load_snapshot(str(snapshot)).epoch == 1

    proc = run_script("test.sh", [snapshot, "--test_steps", "500"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "average_reward" in proc.stderr
    test_rows = results(ROOT / f"results/breakout_{LABEL}_test.csv")
    assert [(r["epoch"], r["phase"]) for r in test_rows] == [("1", "test")]

    proc = run_script("resume.sh", [snapshot, "--epochs", "2", "--train_steps", "1000", "--test_steps", "500",
                                    "--random_steps", "250"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = results(ROOT / f"results/breakout_{LABEL}.csv")
    phases = [(r["epoch"], r["phase"]) for r in rows]
    assert phases[:3] == [("0", "random"), ("1", "train"), ("1", "test")], "resume keeps the old rows"
    assert phases[-2:] == [("2", "train"), ("2", "test")]
    resumed = rows[-2]
    assert int(resumed["total_train_steps"]) == 2000, "epsilon continues from the snapshot's epoch"
    assert int(resumed["weight_updates"]) == 500, "weight updates go on counting"
    assert (ROOT / f"snapshots/breakout_{LABEL}_2.safetensors").exists()


@pytest.mark.slow
def test_ctrl_c_leaves_the_csv_whole(tmp_path):
    csv_path = tmp_path / "r.csv"
    proc = subprocess.Popen([sys.executable, "-m", "simple_dqn", "breakout", "--random_steps", "300",
                             "--train_steps", "100000", "--epochs", "1", "--replay_size", "5000",
                             "--csv_file", str(csv_path), "--backend", "cpu"],
                            stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT,
                            # A shell's background job inherits SIGINT ignored; a terminal's Ctrl-C does not.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (csv_path.exists() and len(read_csv(csv_path)) >= 2):
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode in (0, 130), stderr
    assert "Traceback" not in stderr
    rows = read_csv(csv_path)
    assert tuple(rows[0]) == CSV_COLUMNS and all(len(r) == 16 for r in rows)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".r.csv.*"))


def test_train_sh_takes_options_before_the_rom_and_label():
    name = f"catch_{LABEL}_first"
    try:
        proc = run_script("train.sh", ["--epochs", "1", "--random_steps", "100", "--train_steps", "100",
                                       "--test_steps", "50", "--replay_size", "1000", "catch", f"{LABEL}_first",
                                       "--backend", "cpu", "--screen_width", "36", "--screen_height", "36"])
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = results(ROOT / f"results/{name}.csv")
        assert [(r["epoch"], r["phase"]) for r in rows] == [("0", "random"), ("1", "train"), ("1", "test")]
        assert (ROOT / f"snapshots/{name}_1.safetensors").exists()
    finally:
        for path in [*ROOT.glob(f"results/{name}*"), *ROOT.glob(f"snapshots/{name}_*")]:
            path.unlink()
