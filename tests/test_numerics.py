"""--numerics: the auto rule per CPU, master weights, exact resume with bfloat16 passes, bad input."""

import numpy as np
import pytest
import torch

from conftest import HAS_BF16, assert_one_line_error, network, run_cli
from simple_dqn.errors import UsageError
from simple_dqn.numerics import choose_numerics, require_bf16_hardware
from simple_dqn.replay_memory import Minibatch

AMX = frozenset({"avx512f", "amx_tile", "amx_bf16", "avx512_bf16"})
ZEN4 = frozenset({"avx512f", "avx512_bf16"})
OLD = frozenset({"avx2", "fma"})


def test_auto_picks_bfloat16_only_where_the_cpu_has_it():
    assert choose_numerics("auto", "cpu", AMX)[0] == "bfloat16"
    assert choose_numerics("auto", "cpu", ZEN4)[0] == "bfloat16"
    assert choose_numerics("auto", "cpu", OLD) == ("float32", "auto: the CPU has neither amx_bf16 nor avx512_bf16")
    assert choose_numerics("auto", "cuda", AMX)[0] == "float32"
    assert choose_numerics("float32", "cpu", AMX)[0] == "float32"


def test_bfloat16_without_the_hardware_is_refused():
    with pytest.raises(UsageError, match="amx_bf16 or avx512_bf16.*--numerics auto"):
        choose_numerics("bfloat16", "cpu", OLD)


def test_bfloat16_autocast_needs_the_hardware_on_a_cpu():
    require_bf16_hardware("--autocast", "cpu", AMX)
    require_bf16_hardware("--autocast", "cpu", ZEN4)
    require_bf16_hardware("--autocast", "cuda", OLD)  # a GPU's bfloat16 is its own
    with pytest.raises(UsageError, match="--autocast bfloat16 needs a CPU with amx_bf16 or avx512_bf16.*drop --autocast"):
        require_bf16_hardware("--autocast", "cpu", OLD)


@pytest.mark.skipif(HAS_BF16, reason="this CPU has bfloat16 hardware")
def test_bfloat16_autocast_without_the_hardware_is_one_line():
    assert_one_line_error(run_cli(["catch", "--autocast", "bfloat16", "--backend", "cpu"]), "--autocast bfloat16",
                          "amx_bf16")


def test_bfloat16_with_autocast_is_one_line():
    assert_one_line_error(run_cli(["catch", "--numerics", "bfloat16", "--autocast", "bfloat16"]),
                          "--numerics bfloat16", "--autocast")


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has no bfloat16 hardware")
def test_master_weights_stay_float32_and_the_copy_follows_them():
    torch.manual_seed(0)
    net = network(numerics="bfloat16", optimizer="adam", num_actions=3)
    assert next(net.online.parameters()).dtype == torch.float32
    assert next(net.compute.parameters()).dtype == torch.bfloat16
    before = [p.detach().clone() for p in net.online.parameters()]
    rng = np.random.default_rng(0)
    batch = Minibatch(states=rng.integers(0, 256, (8, 5, 84, 84), dtype=np.uint8), actions=rng.integers(0, 3, 8),
                      rewards=np.ones(8, dtype=np.float32), terminals=np.zeros(8, dtype=bool),
                      weights=np.ones(8, dtype=np.float32), indexes=np.arange(8), n_step=1)
    net.train(batch)
    moved = [not torch.equal(a, b) for a, b in zip(before, net.online.parameters())]
    assert all(moved)
    for master, copy in zip(net.online.parameters(), net.compute.parameters()):
        assert master.grad.dtype == torch.float32
        assert torch.equal(copy, master.detach().to(copy.dtype))
    # Weights saved are the float32 master's.
    assert all(v.dtype == torch.float32 for v in net.weights().values())


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has no bfloat16 hardware")
@pytest.mark.parametrize("dueling", [False, True])
def test_bfloat16_passes_give_float32_q_values(dueling):
    """The output layers stay float32 in the compute and target copies: Q-values finer than bfloat16's
    8-bit mantissa, so small TD errors are not rounding."""
    torch.manual_seed(0)
    net = network(numerics="bfloat16", optimizer="adam", num_actions=3, dueling=dueling)
    for copy in (net.compute, net.target):
        assert next(copy.features.parameters()).dtype == torch.bfloat16
        assert all(next(layer.parameters()).dtype == torch.float32 for layer in copy.output_layers())
    states = np.random.default_rng(0).integers(0, 256, (16, 4, 84, 84), dtype=np.uint8)
    q = torch.from_numpy(net.predict(states))
    assert q.dtype == torch.float32
    assert not torch.equal(q, q.to(torch.bfloat16).float())  # some values need more than 8 bits


@pytest.mark.slow
@pytest.mark.skipif(not HAS_BF16, reason="this CPU has no bfloat16 hardware")
def test_bfloat16_resume_is_exact(tmp_path):
    from test_checkpoint import RUN, assert_same_weights, rows_without_time

    run = [*RUN, "--numerics", "bfloat16"]
    ref = tmp_path / "ref"
    part = tmp_path / "part"
    proc = run_cli([*run, "--epochs", "2", "--save_weights_prefix", ref / "catch", "--csv_file", ref / "catch.csv"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli([*run, "--epochs", "1", "--save_weights_prefix", part / "catch", "--csv_file", part / "catch.csv"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli([*run, "--epochs", "2", "--save_weights_prefix", part / "catch", "--csv_file", part / "catch.csv",
                    "--resume", "auto"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert rows_without_time(part / "catch.csv") == rows_without_time(ref / "catch.csv")
    assert_same_weights(part / "catch_2.safetensors", ref / "catch_2.safetensors")


def test_threads_option_and_wait_policy():
    from simple_dqn.arguments import parse_arguments

    assert parse_arguments(["catch"]).threads == 0
    assert parse_arguments(["catch", "--threads", "1"]).threads == 1
    assert_one_line_error(run_cli(["catch", "--threads", "-1"]), "--threads must not be negative")


def test_a_run_logs_its_threads(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT, cli_env

    env = cli_env()
    proc = subprocess.run([sys.executable, "-m", "simple_dqn", "catch", "--play_games", "1", "--threads", "1",
                           "--screen_width", "36", "--screen_height", "36"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CPU threads: 1" in proc.stderr
    assert "following the cores" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "simple_dqn", "catch", "--play_games", "1",
                           "--screen_width", "36", "--screen_height", "36"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "following the cores other processes leave free" in proc.stderr
