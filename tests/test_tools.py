"""plot.sh, record.sh, nvis.sh, play.sh and the profiling scripts, on real runs and real decoders."""

import os
import pty
import shutil
import subprocess

import numpy as np
import pytest

from conftest import (ROOT, REFERENCE, assert_one_line_error, cli_env, read_pty, read_pty_until, run_cli, run_script,
                      set_window_size)



@pytest.fixture(scope="module")
def breakout_run(tmp_path_factory):
    """A short real Breakout run: its results CSV (2 epochs) and snapshot of epoch 2."""
    folder = tmp_path_factory.mktemp("run")
    proc = run_cli(["roms/breakout.bin", "--random_steps", "300", "--train_steps", "200", "--test_steps", "200",
                    "--epochs", "2", "--replay_size", "2000", "--backend", "cpu", "--random_seed", "7",
                    "--save_weights_prefix", folder / "breakout", "--csv_file", folder / "breakout.csv"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


def png_shape(path):
    import imageio.v3 as iio

    return iio.imread(path).shape


def test_plot_own_run_four_panels(breakout_run):
    proc = run_script("plot.sh", [breakout_run / "breakout.csv"])
    assert proc.returncode == 0, proc.stderr
    png = breakout_run / "breakout.png"
    assert png_shape(png)[:2] == (9 * 80, 16 * 80)


def test_plot_the_originals_pong_run_and_compare_runs(tmp_path):
    out = tmp_path / "pong.png"
    proc = run_script("plot.sh", [REFERENCE / "pong.csv", "--png_file", out, "--dpi", "50"])
    assert proc.returncode == 0, proc.stderr
    assert png_shape(out)[:2] == (9 * 50, 16 * 50)
    both = tmp_path / "cmp.png"
    proc = run_script("plot.sh", [REFERENCE / "pong.csv", REFERENCE / "breakout.csv", "--png_file", both,
                                  "--fields", "average_reward,meanq,steps_per_second"])
    assert proc.returncode == 0, proc.stderr
    assert both.exists()


def test_plot_against_train_steps(tmp_path):
    from simple_dqn.statistics import curve, read_results

    phases = read_results(str(REFERENCE / "pong.csv"))
    xs, ys = curve(phases, "test", "total_train_steps", "average_reward", x_max=1_000_000)
    assert xs == [250_000, 500_000, 750_000, 1_000_000] and len(ys) == 4
    assert curve(phases, "test", "epoch", "average_reward")[0][:2] == [1, 2]
    out = tmp_path / "steps.png"
    proc = run_script("plot.sh", [REFERENCE / "pong.csv", REFERENCE / "breakout.csv", "--x", "total_train_steps",
                                  "--x_max", "2000000", "--png_file", out, "--dpi", "50"])
    assert proc.returncode == 0, proc.stderr
    assert png_shape(out)[:2] == (9 * 50, 16 * 50)


def test_plot_marks_single_points_and_says_so(breakout_run, tmp_path):
    lines = (breakout_run / "breakout.csv").read_text().splitlines()
    one = tmp_path / "one.csv"
    one.write_text("\n".join(lines[:4]) + "\n")  # header, random, and epoch 1's train and test
    proc = run_script("plot.sh", [one])
    assert proc.returncode == 0, proc.stderr
    assert "1 train or test row per phase, too few for curves" in proc.stderr
    assert png_shape(tmp_path / "one.png")[:2] == (9 * 80, 16 * 80)


def test_record_shows_its_progress_on_a_terminal(breakout_run, tmp_path):
    pid, fd = pty.fork()
    if pid == 0:
        set_window_size()
        os.environ.update(cli_env())
        os.execv(str(ROOT / "record.sh"), [str(ROOT / "record.sh"), str(breakout_run / "breakout_2.safetensors"),
                                           "--videos_dir", str(tmp_path / "v"), "--exploration_rate_test", "1",
                                           "--random_seed", "3"])
    screen = read_pty(fd, 120)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, screen[-2000:]
    assert "playing" in screen and "frame/s" in screen
    assert "writing frames" in screen and "encoding video" in screen


def test_plot_bad_input(tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    proc = run_script("plot.sh", [bad, "--png_file", tmp_path / "x.png"])
    assert_one_line_error(proc, "notes.csv", "not a simple_dqn results CSV")
    proc = run_script("plot.sh", [REFERENCE / "pong.csv", "--fields", "average_reward,bogus",
                                  "--png_file", tmp_path / "x.png"])
    assert_one_line_error(proc, "pong.csv", "bogus")
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_script("plot.sh", [REFERENCE / "pong.csv", "--png_file", blocker / "x.png"])
    assert_one_line_error(proc, "cannot create folder")
    assert not list(tmp_path.glob("*.png"))


def test_record_writes_frames_and_a_decodable_video(breakout_run, tmp_path):
    import imageio.v2 as imageio

    videos = tmp_path / "videos"
    (videos / "breakout").mkdir(parents=True)
    (videos / "breakout" / "999999.png").write_bytes(b"stale frame of an older recording")
    gif = tmp_path / "strip.gif"
    proc = run_script("record.sh", [breakout_run / "breakout_2.safetensors", "--videos_dir", videos,
                                    "--record_sound", "--exploration_rate_test", "1", "--random_seed", "3",
                                    "--gif", gif, "--gif_start", "1", "--gif_seconds", "1.5"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    played = int(proc.stdout.split(" in ")[1].split(" frames")[0])
    frames = sorted(os.listdir(videos / "breakout"))
    assert len(frames) == played and frames[0] == "000000.png", "old frames are replaced, not mixed"
    reader = imageio.get_reader(videos / "breakout_2.mp4")
    meta = reader.get_meta_data()
    assert meta["codec"] == "h264" and meta["fps"] == 60.0 and meta["audio_codec"] == "aac"
    assert reader.count_frames() == played
    first = reader.get_data(0)
    assert first.shape == (210, 160, 3) and first.std() > 5
    from PIL import Image, ImageSequence

    with Image.open(gif) as image:  # 1.5 s of the game at 20 fps, from its 60th frame, looping
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(image)]
        assert sum(durations) == 1500 and image.info["loop"] == 0  # Pillow merges repeated frames
    strip = imageio.mimread(gif)
    assert strip[0].shape[:2] == (210, 160)
    recorded = imageio.imread(videos / "breakout" / "000060.png")
    assert np.abs(strip[0][..., :3].astype(int) - recorded).mean() < 8  # GIF's palette is close, not exact


def test_nvis_page_renders_in_headless_chromium(breakout_run, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("headless Chromium is needed (Debian package chromium; .ci/run installs it)")
    page = tmp_path / "breakout.html"
    proc = run_script("nvis.sh", [breakout_run / "breakout_2.safetensors", "--visualization_file", page,
                                  "--visualization_filters", "2", "--exploration_rate_test", "1",
                                  "--max_episode_frames", "2000"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = page.read_text()
    assert text.count("<img") == 12 and "http" not in text.replace("https://", "").split("<script>")[0]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert 'data-images-rendered="12"' in dom, "every embedded image decoded in the browser"
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *flags, "--window-size=1200,1400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    import imageio.v3 as iio

    pixels = iio.imread(shot)[..., :3].reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20, "the screenshot shows pictures, not a blank page"


def test_play_headless_window_to_game_over(breakout_run):
    env = cli_env()
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    proc = subprocess.run([str(ROOT / "play.sh"), str(breakout_run / "breakout_2.safetensors"), "--display",
                           "window", "--speed", "1000", "--exploration_rate_test", "1", "--random_seed", "1"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("score ")


def test_play_in_the_terminal_with_manual_control(breakout_run):
    pid, fd = pty.fork()
    if pid == 0:  # the child: play.sh on the pseudo-terminal
        os.environ.update(cli_env())
        os.environ["COLUMNS"], os.environ["LINES"] = "100", "40"
        os.execv(str(ROOT / "play.sh"), [str(ROOT / "play.sh"), str(breakout_run / "breakout_2.safetensors"),
                                         "--display", "terminal", "--max_episode_frames", "3000",
                                         "--random_seed", "1"])
    try:
        # Press the keys as soon as the game shows: a slow start must not eat into the game, which
        # an untrained agent can lose within seconds.
        screen = read_pty_until(fd, "agent  speed x1", 60)
        assert "▀" in screen and "\x1b[38;2;" in screen, "24-bit colour half blocks"
        assert "agent  speed x1" in screen
        os.write(fd, b"m")
        screen = read_pty(fd, 3)
        assert "MANUAL" in screen
        os.write(fd, b"\x1b[D \x1b[C")  # left, fire, right
        os.write(fd, b"m")
        screen = read_pty(fd, 3)
        # A read can end mid-line: compare where the last status lines of each kind stand.
        assert screen.rfind("agent  speed") > screen.rfind("MANUAL"), "control is handed back"
        os.write(fd, b"ssssssss")  # fastest: the capped game ends soon
        # The agent may also lose its last life earlier, while the keys above were tested.
        screen += read_pty(fd, 60)
        assert "GAME OVER" in screen
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0


def test_manual_keys_map_to_the_games_actions():
    from simple_dqn.ale_game import ALEGame
    from simple_dqn.tools.play import Controls, manual_action

    env = ALEGame("breakout")  # minimal set: NOOP, FIRE, RIGHT, LEFT
    assert manual_action(env, {"fire"}) == 1
    assert manual_action(env, {"left"}) == 3
    assert manual_action(env, {"right", "fire"}) == 2
    assert manual_action(env, {"up"}) == 0
    controls = Controls()
    for key in "aa][[m":
        controls.press(key)
    assert controls.speed == 0.25 and controls.manual and controls.volume == 0.4


def test_profile_random_script():
    proc = run_script("profile_random.sh", ["--log_level", "WARNING"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Ordered by: cumulative time" in proc.stdout and "play_random" in proc.stdout


@pytest.mark.parametrize("script", ["play.sh", "record.sh", "nvis.sh"])
def test_tools_refuse_bad_snapshots(script, tmp_path):
    proc = run_script(script, [tmp_path / "breakout_3.safetensors", "--display_screen", "false"]
                      if script != "play.sh" else [tmp_path / "breakout_3.safetensors"])
    assert_one_line_error(proc, "does not exist")
    fake = tmp_path / "breakout_3.safetensors"
    fake.write_text("not a snapshot")
    proc = run_script(script, [fake])
    assert_one_line_error(proc, "not a readable snapshot")


def test_record_refuses_an_unwritable_folder(breakout_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_script("record.sh", [breakout_run / "breakout_2.safetensors", "--videos_dir", blocker / "videos"])
    assert_one_line_error(proc, "cannot create folder")
