"""Learning on the built-in catch game: from scratch to a test average reward of at least conftest.CATCH_LEARNED."""

import csv

import pytest

from conftest import CATCH_FAST, CATCH_LEARNED, HAS_BF16, run_cli


def last_test_reward(path):
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r["phase"] == "test"]
    return float(rows[-1]["average_reward"])


@pytest.mark.slow
@pytest.mark.parametrize("extra", [
    [],
    # Graves RMSProp needs a larger step than 0.00025 to learn catch in 1,500 updates.
    ["--preset", "nature", "--optimizer", "rmsprop", "--learning_rate", "0.0025"],
    # bfloat16 passes are given a second epoch.
    pytest.param(["--numerics", "auto", "--epochs", "2"], marks=pytest.mark.skipif(
        not HAS_BF16, reason="--numerics auto is float32 on this CPU: the default run is the same run")),
], ids=["default", "nature", "numerics_auto"])
# Elsewhere: n-step returns with 4 games (the CPU recipe's shape) and double Q, dueling, prioritized
# replay and the autocast / channels_last fast paths with 4 games (test_num_envs.py); C51 with n-step,
# double Q, dueling and prioritized replay (test_distributional.py); noisy nets (test_noisy.py).
def test_catch_learns(tmp_path, extra):
    csv_path = tmp_path / "catch.csv"
    proc = run_cli([*CATCH_FAST, *extra, "--csv_file", csv_path], timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reward = last_test_reward(csv_path)
    assert reward >= CATCH_LEARNED, f"catch test average reward {reward} < {CATCH_LEARNED} with {extra}"
