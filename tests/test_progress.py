"""Progress where a person waits: bars on a terminal (quiet in a pipe), a run line with the epoch and ETA,
a line per finished game of a test by games."""

import os
import pty
import sys

from conftest import ROOT, cli_env, read_pty, run_cli, set_window_size

TINY = ["catch", "--random_starts", "0", "--replay_size", "2000", "--random_steps", "200", "--train_steps", "300",
        "--test_games", "3", "--epochs", "2", "--screen_width", "36", "--screen_height", "36", "--backend", "cpu",
        "--random_seed", "1"]


def test_run_line_has_the_epoch_of_the_total_and_the_run_eta_and_each_test_game_is_logged(tmp_path):
    proc = run_cli([*TINY, "--csv_file", tmp_path / "c.csv"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Epoch #1 of 2\n" in proc.stderr  # no ETA before an epoch has run
    assert "Epoch #2 of 2, run ETA 0:0" in proc.stderr
    for game in (1, 2, 3):
        assert f"game {game} of 3: " in proc.stderr
    assert "epoch 1/2 train" not in proc.stderr, "no bar in a pipe"


def test_bars_by_steps_and_by_games_on_a_terminal(tmp_path):
    pid, fd = pty.fork()
    if pid == 0:
        set_window_size()
        os.environ.update(cli_env())
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "simple_dqn", *TINY, "--csv_file", str(tmp_path / "c.csv"),
                                  "--log_level", "WARNING"])
    text = read_pty(fd, 300)  # until the run ends
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
    assert "epoch 1/2 train" in text and "step/s" in text
    assert "epoch 2/2 test" in text and "/3 [" in text and "game/s" in text  # the test's bar counts games
