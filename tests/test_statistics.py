"""The 16-column statistics CSV: exact header, rows, atomic rewrites, the original's files."""

import csv

import numpy as np
import pytest

from conftest import REFERENCE
from simple_dqn.errors import UsageError
from simple_dqn.replay_memory import ReplayMemory
from simple_dqn.statistics import CSV_COLUMNS, Statistics, read_rows

ORIGINAL_HEADER = ("epoch,phase,steps,nr_games,average_reward,min_game_reward,max_game_reward,"
                   "last_exploration_rate,total_train_steps,replay_memory_count,meanq,meancost,"
                   "weight_updates,total_time,epoch_time,steps_per_second")


def test_header_is_the_originals_16_columns():
    assert ",".join(CSV_COLUMNS) == ORIGINAL_HEADER
    with open(REFERENCE / "breakout.csv") as f:
        assert f.readline().strip() == ORIGINAL_HEADER


def test_rows_count_games_and_rewards(tmp_path):
    path = tmp_path / "r.csv"
    stats = Statistics(str(path), progress=False)
    assert not path.exists()  # the constructor touches no file
    mem = ReplayMemory(size=100, history_length=4, screen_shape=(36, 36), batch_size=4)
    stats.reset("random")
    for reward, terminal in [(1, False), (2, True), (0, False), (5, True), (3, False)]:
        stats.on_step(np.zeros(1), np.array([reward]), np.array([terminal]), 1.0)
    row = stats.write(0, "random", total_train_steps=0, memory=mem, net=None)
    assert row[:9] == [0, "random", 5, 2, 4.0, 3, 5, 1.0, 0]
    with open(path) as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 2 and len(rows[1]) == 16
    # A phase with no finished game reports the unfinished one, as the original.
    stats.reset("test")
    stats.on_step(np.zeros(1), np.array([7.0]), np.array([False]), 0.05)
    row = stats.write(1, "test", total_train_steps=10, memory=mem, net=None)
    assert row[3:7] == [1, 7.0, 7, 7]


def test_resume_keeps_rows_up_to_the_epoch(tmp_path):
    path = tmp_path / "r.csv"
    stats = Statistics(str(path), progress=False)
    for epoch, phase in [(0, "random"), (1, "train"), (1, "test"), (2, "train"), (2, "test")]:
        stats.reset(phase)
        stats.on_step(np.zeros(1), np.array([1.0]), np.array([True]), 1.0)
        stats.write(epoch, phase, total_train_steps=0, memory=None, net=None)
    Statistics(str(path), progress=False).open_csv(keep_until_epoch=1)
    assert [(r[0], r[1]) for r in read_rows(str(path))] == [("0", "random"), ("1", "train"), ("1", "test")]


def test_read_rows_accepts_the_original_files_and_refuses_others(tmp_path):
    rows = read_rows(str(REFERENCE / "pong.csv"))
    assert len(rows) == 401 and rows[0][1] == "random"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(UsageError, match="not a simple_dqn results CSV"):
        read_rows(str(bad))
