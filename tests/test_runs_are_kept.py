"""A run never overwrites another, output paths are files, resume takes the stored options, explicit flags win."""

import os

import pytest

from conftest import CATCH_SMALL, assert_one_line_error, results, run_cli

TINY = ["catch", *CATCH_SMALL, "--replay_size", "2000", "--random_steps", "200", "--train_steps", "300",
        "--test_steps", "100", "--random_seed", "1", "--backend", "cpu", "--log_level", "WARNING"]


def paths(folder):
    return ["--save_weights_prefix", folder / "catch", "--csv_file", folder / "catch.csv"]


def test_a_second_run_is_refused_then_overwrites_only_when_asked(tmp_path):
    first = run_cli([*TINY, "--epochs", "1", *paths(tmp_path)])
    assert first.returncode == 0, first.stderr[-2000:]
    before = (tmp_path / "catch.csv").read_bytes()
    stale = tmp_path / "catch_7.safetensors"  # an older snapshot of the same run name
    stale.write_bytes((tmp_path / "catch_1.safetensors").read_bytes())
    other = tmp_path / "catch_label_1.safetensors"  # another run's file, with a label: never touched
    other.write_bytes(b"x")
    again = run_cli([*TINY, "--epochs", "1", *paths(tmp_path)])
    assert_one_line_error(again, "an earlier run exists", "--resume auto", "--overwrite")
    assert (tmp_path / "catch.csv").read_bytes() == before
    assert stale.exists()
    forced = run_cli([*TINY, "--epochs", "1", "--overwrite", *paths(tmp_path)])
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert not stale.exists() and other.exists() and (tmp_path / "catch_1.safetensors").exists()


@pytest.mark.slow
def test_resume_auto_takes_the_stored_options_and_keeps_checkpoints_on(tmp_path):
    first = run_cli([*TINY, "--train_steps", "250", "--epochs", "1", *paths(tmp_path)])  # no --checkpoint
    assert first.returncode == 0, first.stderr[-2000:]
    assert not list(tmp_path.glob("*.checkpoint.h5"))
    # Without --checkpoint there is nothing to continue from: a second start is refused, not overwritten.
    assert_one_line_error(run_cli(["catch", "--epochs", "2", "--resume", "auto", *paths(tmp_path)]),
                          "an earlier run exists")
    second = tmp_path / "second"
    run = run_cli([*TINY, "--train_steps", "250", "--epochs", "1", "--resume", "auto", *paths(second)])
    assert run.returncode == 0, run.stderr[-2000:]
    assert (second / "catch_1.checkpoint.h5").exists()  # --resume auto turned checkpoints on
    # The command the interruption message prints: the game, the paths, --resume auto and nothing else.
    resumed = run_cli(["catch", "--epochs", "2", "--resume", "auto", "--log_level", "INFO", *paths(second)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Options taken from the checkpoint" in resumed.stderr and "train_steps" in resumed.stderr
    rows = results(second / "catch.csv")
    assert [int(r["steps"]) for r in rows if r["phase"] == "train"] == [250, 250]
    changed = run_cli(["catch", "--epochs", "3", "--resume", "auto", "--replay_size", "3000", *paths(second)])
    assert_one_line_error(changed, "--replay_size 2000", "cannot change")


@pytest.mark.slow
def test_explicit_test_steps_beat_the_snapshots_test_games(tmp_path):
    run = run_cli([*TINY, "--epochs", "1", "--test_games", "2", *paths(tmp_path)])
    assert run.returncode == 0, run.stderr[-2000:]
    test_csv = tmp_path / "test.csv"
    proc = run_cli(["--load_weights", tmp_path / "catch_1.safetensors", "--random_steps", "0", "--train_steps",
                    "0", "--test_steps", "50", "--epochs", "1", "--csv_file", test_csv])
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = [r for r in results(test_csv) if r["phase"] == "test"][-1]
    assert 50 <= int(row["steps"]) < 60  # steps, not the stored two games


def test_csv_through_a_symbolic_link_reaches_its_target(tmp_path):
    data = tmp_path / "disk"
    data.mkdir()
    target = data / "catch.csv"
    target.write_text("")
    link = tmp_path / "catch.csv"
    link.symlink_to(target)
    proc = run_cli([*TINY, "--epochs", "1", "--csv_file", link])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(results(target)) == 3  # random, train, test


@pytest.mark.parametrize("kind", ["fifo", "devnull", "directory"])
def test_output_path_that_is_not_a_file_is_one_line(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "fifo.csv"
        os.mkfifo(path)
    elif kind == "devnull":
        path = "/dev/null"
    else:
        path = tmp_path / "folder.csv"
        path.mkdir()
    proc = run_cli([*TINY, "--epochs", "1", "--csv_file", path])
    assert_one_line_error(proc, "not a file")
    if kind == "devnull":
        assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.parametrize("case", ["empty_rom", "text_rom", "long_label", "huge_replay", "nan_rate"])
def test_more_bad_input_is_one_line(tmp_path, case):
    if case in ("empty_rom", "text_rom"):
        rom = tmp_path / "game.bin"
        rom.write_text("" if case == "empty_rom" else "not a ROM\n" * 20)
        proc = run_cli([rom, "--random_steps", "10"])
        assert_one_line_error(proc, "is not an Atari 2600 ROM")
    elif case == "long_label":
        proc = run_cli([*TINY, "--csv_file", tmp_path / ("x" * 300 + ".csv")])
        assert_one_line_error(proc, "characters long", "shorter")
        assert not list(tmp_path.iterdir())
    elif case == "huge_replay":
        proc = run_cli(["catch", "--replay_size", "100000000000"])
        assert_one_line_error(proc, "--replay_size 100000000000 needs", "GB available")
    else:
        assert_one_line_error(run_cli(["catch", "--learning_rate", "nan"]), "--learning_rate must be a finite number")


@pytest.mark.slow
def test_scripts_take_options_before_the_snapshot(tmp_path):
    from conftest import run_script

    run = run_cli([*TINY, "--epochs", "1", *paths(tmp_path)])
    assert run.returncode == 0, run.stderr[-2000:]
    proc = run_script("test.sh", ["--test_steps", "50", tmp_path / "catch_1.safetensors", "--csv_file",
                                  tmp_path / "t.csv"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r for r in results(tmp_path / "t.csv") if r["phase"] == "test"]
