"""Never lose a run: full-state checkpoints, exact resume, signals, kills and damaged files."""

import csv
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CATCH_SMALL, ROOT, assert_one_line_error, cli_env, run_cli
from simple_dqn.errors import UsageError
from simple_dqn.statistics import CSV_COLUMNS

TIME_COLUMNS = {"total_time", "epoch_time", "steps_per_second"}
# --threads fixed: threads that follow the machine's load (the default) would change the order of the
# sums between the runs these tests compare bit for bit.
RUN = ["catch", *CATCH_SMALL, "--replay_size", "20000", "--random_steps", "300", "--train_steps", "700",
       "--test_steps", "150", "--exploration_decay_steps", "3000", "--target_steps", "100", "--train_frequency", "1",
       "--optimizer", "adam", "--learning_rate", "0.001", "--random_seed", "1", "--backend", "cpu", "--checkpoint", "--log_level", "WARNING", "--threads", "2"]


def rows_without_time(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    keep = [i for i, c in enumerate(CSV_COLUMNS) if c not in TIME_COLUMNS]
    return [[row[i] for i in keep] for row in rows[1:]]


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key] == wb[key]).all(), key


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """The uninterrupted 2-epoch run every resumed run must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    proc = run_cli([*RUN, "--epochs", "2", "--save_weights_prefix", folder / "catch", "--csv_file",
                    folder / "catch.csv"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


@pytest.mark.slow
def test_one_epoch_plus_resume_equals_two_epochs(reference_run, tmp_path):
    prefix, csv_path = tmp_path / "catch", tmp_path / "catch.csv"
    proc = run_cli([*RUN, "--epochs", "1", "--save_weights_prefix", prefix, "--csv_file", csv_path])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "catch_1.checkpoint.h5").exists()
    # What resume.sh runs: the snapshot, its epoch, the same prefix and CSV.
    proc = run_cli(["--load_weights", tmp_path / "catch_1.safetensors", "--start_epoch", "1", "--epochs", "2",
                    "--save_weights_prefix", prefix, "--csv_file", csv_path])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows_without_time(csv_path) == rows_without_time(reference_run / "catch.csv")
    assert_same_weights(tmp_path / "catch_2.safetensors", reference_run / "catch_2.safetensors")


def test_resume_without_checkpoint_warns_and_uses_weights_only(reference_run, tmp_path):
    snapshot = tmp_path / "catch_1.safetensors"
    snapshot.write_bytes((reference_run / "catch_1.safetensors").read_bytes())
    proc = run_cli(["--load_weights", snapshot, "--start_epoch", "1", "--epochs", "2", "--train_steps", "100",
                    "--test_steps", "50", "--random_steps", "100", "--log_level", "INFO", "--csv_file",
                    tmp_path / "r.csv"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "No checkpoint beside" in proc.stderr and "replay memory starts empty" in proc.stderr


def start(args):
    return subprocess.Popen([sys.executable, "-m", "simple_dqn", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT)


def wait_for_rows(csv_path, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if csv_path.exists() and len(csv_path.read_text().splitlines()) >= n + 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"{csv_path} never reached {n} rows")


def interrupt(args, signum, csv_path, rows):
    """Start a run, send it signum once its CSV has `rows` rows and it has trained a while; check it
    stopped with an interrupted checkpoint."""
    proc = start(args)
    wait_for_rows(csv_path, rows)  # the phase before is done: the next one is under way
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert "resume with --resume auto" in stderr and "Traceback" not in stderr
    assert (csv_path.parent / "catch_interrupted.checkpoint.h5").exists()


@pytest.mark.slow
def test_signals_write_a_mid_epoch_checkpoint_that_resumes_exactly(reference_run, tmp_path):
    """SIGINT (Ctrl-C) in epoch 1's training, then SIGTERM in the resumed run's epoch 2: the run ends with
    the rows and weights of the unbroken one."""
    prefix, csv_path = tmp_path / "catch", tmp_path / "catch.csv"
    args = [*RUN, "--epochs", "2", "--save_weights_prefix", prefix, "--csv_file", csv_path]
    interrupt(args, signal.SIGINT, csv_path, 1)
    interrupt([*args, "--resume", "auto"], signal.SIGTERM, csv_path, 3)
    proc = run_cli([*args, "--resume", "auto", "--log_level", "INFO"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Resuming from checkpoint" in proc.stderr and "after 0 steps" not in proc.stderr
    assert rows_without_time(csv_path) == rows_without_time(reference_run / "catch.csv")
    assert_same_weights(tmp_path / "catch_2.safetensors", reference_run / "catch_2.safetensors")
    assert not (tmp_path / "catch_interrupted.checkpoint.h5").exists()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])  # 0: killed while a checkpoint is written; 1: at random moments
def test_sigkill_at_random_moments_then_resume_auto(reference_run, tmp_path, seed):
    prefix, csv_path = tmp_path / "catch", tmp_path / "catch.csv"
    args = [*RUN, "--epochs", "2", "--save_weights_prefix", prefix, "--csv_file", csv_path]
    rng = random.Random(seed)
    for attempt in range(2):
        proc = start([*args, "--resume", "auto"])
        if seed == 0 and attempt == 0:
            # Kill while a checkpoint is being written: the moment its temporary file appears.
            deadline = time.time() + 120
            while time.time() < deadline and not list(tmp_path.glob(".catch_1.checkpoint.h5.*")):
                time.sleep(0.001)
        else:
            time.sleep(rng.uniform(1.0, 6.0))  # the run takes about 10 s: its start, phases and checkpoints
        proc.kill()
        proc.wait()
        if csv_path.exists():
            rows = rows_without_time(csv_path)
            assert all(len(r) == len(CSV_COLUMNS) - len(TIME_COLUMNS) for r in rows), "no partial rows"
            keys = [(r[0], r[1]) for r in rows]
            assert len(keys) == len(set(keys)), "no duplicated rows"
    proc = run_cli([*args, "--resume", "auto"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows_without_time(csv_path) == rows_without_time(reference_run / "catch.csv")
    assert_same_weights(tmp_path / "catch_2.safetensors", reference_run / "catch_2.safetensors")


@pytest.mark.slow
def test_damaged_newest_checkpoint_is_skipped(reference_run, tmp_path):
    prefix, csv_path = tmp_path / "catch", tmp_path / "catch.csv"
    args = [*RUN, "--epochs", "2", "--save_weights_prefix", prefix, "--csv_file", csv_path]
    proc = run_cli([*args, "--epochs", "1"])
    assert proc.returncode == 0
    newest = tmp_path / "catch_9.checkpoint.h5"
    data = bytearray((tmp_path / "catch_1.checkpoint.h5").read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    proc = run_cli([*args, "--resume", "auto", "--log_level", "INFO"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Skipping checkpoint" in proc.stderr and "catch_1.checkpoint.h5 at epoch 2" in proc.stderr
    assert rows_without_time(csv_path) == rows_without_time(reference_run / "catch.csv")


# --- fuzzing the loaders: whatever the bytes, a UsageError (one line), never another exception


@pytest.fixture(scope="module")
def components():
    """A catch agent built as main builds it, to load checkpoints and snapshots into."""
    from simple_dqn.arguments import parse_arguments
    from simple_dqn.build import build

    args = parse_arguments(["catch", "--screen_width", "36", "--screen_height", "36", "--replay_size", "20000",
                            "--backend", "cpu"])
    return build(args, None)


def load_checkpoint_into(path, components):
    """Restore a checkpoint into the catch components as make_experiment does."""
    from simple_dqn.checkpoint import Checkpointer, ProcessRandomState
    from simple_dqn.statistics import Statistics

    env, mem, net, agent = components
    parts = dict(agent=agent, memory=mem, network=net, statistics=Statistics(None, progress=False),
                 rng=ProcessRandomState(), environment=env)
    header = dict(game=env.name, num_actions=env.num_actions, screen_height=env.screen_shape[0],
                  screen_width=env.screen_shape[1], history_length=4)
    Checkpointer(None, parts, header).restore(str(path))


def load_snapshot_into(path, components):
    from simple_dqn.snapshot import check_compatible, load_snapshot, snapshot_fields

    env, _, net, _ = components
    snapshot = load_snapshot(str(path))
    check_compatible(snapshot.path, snapshot_fields(snapshot), game=env.name, num_actions=env.num_actions,
                     screen_shape=env.screen_shape, history_length=4)
    try:
        net.load_weights(snapshot.tensors)
    except ValueError as e:
        raise UsageError(str(e)) from None


def damage(data: bytes, cut: float, flips: list[tuple[float, int]]) -> bytes:
    data = bytearray(data[: max(0, int(len(data) * cut))])
    for where, mask in flips:
        if data:
            data[int(where * (len(data) - 1))] ^= mask
    return bytes(data)


DAMAGE = dict(cut=st.sampled_from([1.0, 1.0, 0.99, 0.5, 0.1, 0.0]),
              flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=0, max_size=4))
FUZZ = settings(max_examples=40, deadline=20_000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(**DAMAGE)
def test_fuzz_checkpoint_loader(reference_run, components, tmp_path_factory, cut, flips):
    original = (reference_run / "catch_2.checkpoint.h5").read_bytes()
    path = tmp_path_factory.mktemp("fuzz") / "c.checkpoint.h5"
    damaged = damage(original, cut, flips)
    path.write_bytes(damaged)
    try:
        load_checkpoint_into(path, components)
    except UsageError as e:
        assert "\n" not in str(e)
    else:
        assert damaged == original or flips, "an undamaged-looking file loaded"


@FUZZ
@given(**DAMAGE)
def test_fuzz_snapshot_loader(reference_run, components, tmp_path_factory, cut, flips):
    original = (reference_run / "catch_2.safetensors").read_bytes()
    path = tmp_path_factory.mktemp("fuzz") / "catch_2.safetensors"
    path.write_bytes(damage(original, cut, flips))
    try:
        load_snapshot_into(path, components)
    except UsageError as e:
        assert "\n" not in str(e)


def rewrite_safetensors(src, dst, change):
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = f.metadata()
    change(tensors, metadata)
    save_file(tensors, str(dst), metadata=metadata)


@pytest.mark.parametrize("case", ["shape", "dtype", "game", "actions", "screen", "version"])
def test_snapshot_from_elsewhere_is_refused(reference_run, components, tmp_path, case):
    import torch

    def change(tensors, metadata):
        key = sorted(tensors)[0]
        if case == "shape":
            tensors[key] = torch.zeros(3, 3)
        elif case == "dtype":
            tensors[key] = tensors[key].to(torch.int64)
        elif case == "game":
            metadata["game"] = "pong"
        elif case == "actions":
            metadata["action_set"] = "[0, 1, 2, 3, 4, 5]"
        elif case == "screen":
            metadata["screen_width"] = "84"
        elif case == "version":
            metadata["format_version"] = "99"

    path = tmp_path / "catch_2.safetensors"
    rewrite_safetensors(reference_run / "catch_2.safetensors", path, change)
    with pytest.raises(UsageError):
        load_snapshot_into(path, components)
    proc = run_cli(["--load_weights", path, "--random_steps", "0", "--train_steps", "0", "--test_steps", "10",
                    "--screen_width", "36", "--screen_height", "36", "--backend", "cpu"])
    assert_one_line_error(proc)


@pytest.mark.parametrize("case", ["game", "screen", "shape", "dtype", "json"])
def test_checkpoint_from_elsewhere_is_refused(reference_run, components, tmp_path, case):
    import h5py

    path = tmp_path / "c.checkpoint.h5"
    path.write_bytes((reference_run / "catch_2.checkpoint.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        import json

        header = json.loads(f.attrs["header"])
        if case == "game":
            header["game"] = "breakout"
        elif case == "screen":
            header["screen_height"] = 84
        elif case == "shape":
            del f["network/online/features.0.weight"]
            f["network/online/features.0.weight"] = np.zeros((2, 2), np.float32)
        elif case == "dtype":
            data = f["memory/screens"][:]
            del f["memory/screens"]
            f["memory/screens"] = data.astype(np.float32)
        elif case == "json":
            f["agent"].attrs["meta"] = "{not json"
        f.attrs["header"] = json.dumps(header)
    with pytest.raises(UsageError):
        load_checkpoint_into(path, components)


def test_checkpoint_of_format_version_1_is_refused_by_name(reference_run, tmp_path):
    import h5py

    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "catch_2.checkpoint.h5"
    path.write_bytes((reference_run / "catch_2.checkpoint.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "1"
    with pytest.raises(UsageError, match="format version '1'"):
        from simple_dqn.checkpoint import Checkpoint

        Checkpoint(str(path))
    proc = run_cli([*RUN, "--epochs", "3", "--save_weights_prefix", folder / "catch", "--csv_file",
                    folder / "catch.csv", "--resume", "auto"])
    assert_one_line_error(proc)
    assert "format version '1'" in proc.stderr and path.exists()  # refused, never skipped or replaced


def test_a_resume_whose_games_start_anew_starts_their_scores_anew(tmp_path):
    """Where the checkpoint cannot hold the games (ALE's vector environment, Gymnasium), the running
    game scores of the statistics start again with them, so no game adds up two games' rewards."""
    from simple_dqn.arguments import parse_arguments
    from simple_dqn.checkpoint import Position
    from simple_dqn.main import make_experiment

    flags = [*RUN, "--epochs", "2", "--save_weights_prefix", str(tmp_path / "catch"), "--csv_file",
             str(tmp_path / "catch.csv")]
    first = make_experiment(parse_arguments(flags), None)
    first.stats.stream_rewards = np.array([5.0])
    del first.checkpointer.components["environment"]  # as a backend that cannot save its games
    first.checkpointer.interrupted(Position(1, "train", 10, 510))
    resumed = make_experiment(parse_arguments([*flags, "--resume", "auto"]), None)
    assert resumed.force_restart and resumed.stats.stream_rewards.tolist() == [0.0]
