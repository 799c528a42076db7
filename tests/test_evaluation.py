"""The Nature evaluation protocol: whole games, their summary and the per-game CSV."""

import numpy as np
import pytest

from simple_dqn.evaluation import summarize


def test_evaluation_summary():
    summary = summarize([1.0, 2.0, 3.0, 10.0])
    assert summary == dict(games=4, mean=4.0, std=pytest.approx(np.std([1, 2, 3, 10])), min=1.0, max=10.0,
                           median=2.5)


def test_test_games_protocol_on_the_command_line(tmp_path):
    from conftest import run_cli

    prefix = tmp_path / "catch"
    common = ["--screen_width", "36", "--screen_height", "36", "--backend", "cpu", "--random_starts", "0"]
    proc = run_cli(["catch", "--random_steps", "200", "--train_steps", "100", "--test_steps", "0", "--epochs", "1",
                    "--replay_size", "1000", "--save_weights_prefix", prefix, *common], timeout=120)
    assert proc.returncode == 0, proc.stderr
    csv_path = tmp_path / "eval.csv"
    proc = run_cli(["--load_weights", tmp_path / "catch_1.safetensors", "--random_steps", "0", "--train_steps", "0",
                    "--test_games", "30", "--epochs", "1", "--csv_file", csv_path, *common], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test over 30 games: games: 30, mean:" in proc.stdout
    lines = (tmp_path / "eval_games.csv").read_text().splitlines()
    assert lines[0] == "epoch,game,score" and len(lines) == 1 + 30 + 1 + 2
    assert lines[-2] == "epoch,games,mean,std,min,max,median"
