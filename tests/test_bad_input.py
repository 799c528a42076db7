"""Every bad input ends with one line naming the problem, exit status 2, no traceback,
and nothing already on disk damaged."""

import subprocess

import pytest

from conftest import assert_one_line_error, run_cli

TINY = ["--random_steps", "100", "--train_steps", "100", "--test_steps", "50", "--epochs", "1",
        "--replay_size", "1000", "--backend", "cpu"]


@pytest.fixture
def precious_csv(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("precious\n")
    return path


def assert_untouched(path):
    assert path.read_text() == "precious\n"


@pytest.mark.parametrize("args, fragments", [
    (["roms/breakot.bin"], ["breakot", "did you mean breakout"]),
    (["ALE/Breakot-v5"], ["unknown Gymnasium", "ALE/Breakout-v5"]),
    (["breakout", "--batch_size", "0"], ["--batch_size", "positive"]),
    (["breakout", "--replay_size", "30"], ["--replay_size", "larger than"]),
    (["breakout", "--exploration_rate_start", "1.5"], ["--exploration_rate_start", "between 0 and 1"]),
    (["breakout", "--target_exploration_rate", "-0.1"], ["--target_exploration_rate", "between 0 and 1"]),
    (["breakout", "--backend", "gpu"], ["CUDA", "--backend cpu"]),
    (["breakout", "--screen_width", "20"], ["36x36"]),
    (["breakout", "--display_screen", "maybe"], ["--display_screen"]),
    (["breakout", "--no_such_flag", "1"], ["unrecognized"]),
    ([], ["no game given"]),
    (["breakout", "--random_seed", "-1"], ["--random_seed", "negative"]),
    (["breakout", "--n_step", "0"], ["--n_step", "positive"]),
    (["breakout", "--n_step", "998"], ["--n_step", "--replay_size"]),
    (["breakout", "--preset", "fast"], ["--preset", "lapan", "nature"]),
    (["breakout", "--cuda_graphs", "true"], ["--cuda_graphs", "--backend gpu"]),
    (["breakout", "--replay_on_gpu", "true"], ["--replay_on_gpu", "--backend gpu"]),
])
def test_bad_options(args, fragments, precious_csv, capsys):
    """Through main() in this process (milliseconds each): the parser's and the builder's checks."""
    import torch

    from simple_dqn.main import main

    if "--backend" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    try:
        status = main([*TINY, *args, "--csv_file", str(precious_csv)])
    except SystemExit as e:  # argparse's own errors exit from the parser
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line.lower()]  # log lines may come before it
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    assert_untouched(precious_csv)


@pytest.mark.parametrize("args, fragments", [
    (["roms/breakot.bin"], ["breakot", "did you mean breakout"]),
    (["breakout", "--batch_size", "0"], ["--batch_size", "positive"]),
    (["breakout", "--no_such_flag", "1"], ["unrecognized"]),
])
def test_bad_options_on_the_command_line(args, fragments, precious_csv):
    """The one-line contract through the real command line, for a row of each kind."""
    proc = run_cli([*TINY, *args, "--csv_file", precious_csv], timeout=120)
    assert_one_line_error(proc, *fragments)
    assert_untouched(precious_csv)


@pytest.mark.parametrize("content", [None, b"", b"not a snapshot at all", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}"])
def test_bad_snapshots(tmp_path, precious_csv, content):
    path = tmp_path / "breakout_1.safetensors"
    if content is not None:
        path.write_bytes(content)
    proc = run_cli(["--load_weights", path, *TINY, "--csv_file", precious_csv], timeout=120)
    assert_one_line_error(proc, str(path))
    assert_untouched(precious_csv)


def test_snapshot_for_another_action_set_or_screen(tmp_path, precious_csv):
    prefix = tmp_path / "catch"
    proc = run_cli(["catch", "--random_steps", "100", "--train_steps", "50", "--test_steps", "0", "--epochs", "1",
                    "--replay_size", "1000", "--screen_width", "36", "--screen_height", "36",
                    "--save_weights_prefix", prefix, "--backend", "cpu"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    snapshot = tmp_path / "catch_1.safetensors"
    proc = run_cli(["--load_weights", snapshot, "--screen_width", "44", *TINY, "--csv_file", precious_csv])
    assert_one_line_error(proc, "36x36 screens, not 36x44")
    proc = run_cli(["breakout", "--load_weights", snapshot, *TINY, "--csv_file", precious_csv])
    assert_one_line_error(proc, "game 'catch', not 'breakout'")
    proc = run_cli(["--load_weights", snapshot, "--scale_screens", "false", *TINY, "--csv_file", precious_csv])
    assert_one_line_error(proc, "trained on scaled pixels", "drop --scale_screens")
    assert_untouched(precious_csv)


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli(["catch", *TINY, "--csv_file", blocker / "sub" / "r.csv"])
    assert_one_line_error(proc, "cannot create folder")
    proc = run_cli(["catch", *TINY, "--save_weights_prefix", blocker / "sub" / "catch"])
    assert_one_line_error(proc, "cannot create folder")
    assert blocker.read_text() == "x"


def test_unwritable_csv_file_is_refused_before_it_is_announced(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("precious\n")
    proc = run_cli(["catch", *TINY, "--csv_file", not_a_folder / "results.csv"], timeout=120)
    assert_one_line_error(proc, "results.csv", "another output path")
    assert "Results are written" not in proc.stderr + proc.stdout
    assert_untouched(not_a_folder)


@pytest.mark.parametrize("script, args, fragment", [
    ("play.sh", [], "required: snapshot"),
    ("plot.sh", [], "required: csv_file"),
    ("record.sh", [], "required: snapshot"),
    ("nvis.sh", [], "required: snapshot"),
    ("play.sh", ["snapshots/pong_10.safetensors", "--display", "bogus"], "invalid choice: 'bogus'"),
    ("play.sh", ["snapshots/pong_10.safetensors", "--display", "window"], "needs a display"),
])
def test_tools_answer_bad_input_in_one_line_not_the_usage_block(script, args, fragment):
    from conftest import ROOT, cli_env

    env = {k: v for k, v in cli_env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    proc = subprocess.run([str(ROOT / script), *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=ROOT)
    assert_one_line_error(proc, fragment)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
