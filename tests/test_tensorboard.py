"""--tensorboard: the event file, read back with tensorboard's own reader, holds the CSV's values."""

import csv

import pytest

from conftest import CATCH_FAST, run_cli


def scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_holds_the_csv_values(tmp_path):
    csv_path, log_dir = tmp_path / "catch.csv", tmp_path / "tb"
    proc = run_cli([*CATCH_FAST, "--epochs", "1", "--random_steps", "300", "--train_steps", "500", "--test_steps",
                    "200", "--csv_file", csv_path, "--tensorboard", log_dir, "--tensorboard_every", "100"], timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    tags = scalars(log_dir)
    for row in rows:
        step = int(row["total_train_steps"])
        for column in ("average_reward", "nr_games", "meanq", "meancost", "weight_updates"):
            logged = dict(tags[f"{row['phase']}/{column}"])
            assert logged[step] == pytest.approx(float(row[column]), rel=1e-6, abs=1e-6), (row["phase"], column)
    train, test = (next(r for r in rows if r["phase"] == p) for p in ("train", "test"))
    # One game_reward per finished game; their mean is the row's average_reward.
    for row in (train, test):
        rewards = [value for _, value in tags[f"{row['phase']}/game_reward"]]
        assert len(rewards) == int(row["nr_games"])
        assert sum(rewards) / len(rewards) == pytest.approx(float(row["average_reward"]))
    updates = int(train["weight_updates"])
    assert [step for step, _ in tags["update/loss"]] == list(range(100, updates + 1, 100))
    assert len(tags["update/meanq"]) == updates // 100
