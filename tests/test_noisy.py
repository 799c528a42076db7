"""Noisy networks (Fortunato et al. 2018): the factorised noise by hand, acting with and without it, learning."""

import math

import numpy as np
import pytest
import torch

from conftest import CATCH_FAST, CATCH_LEARNED, network, results, run_cli
from simple_dqn.noisy import SIGMA_0, NoisyLinear, set_sampling


def test_initialisation_follows_section_3_2():
    layer = NoisyLinear(16, 3)
    bound = 1 / math.sqrt(16)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    assert torch.allclose(layer.weight_sigma, torch.full((3, 16), SIGMA_0 * bound))
    assert torch.allclose(layer.bias_sigma, torch.full((3,), SIGMA_0 * bound))


def test_factorised_noise_by_hand():
    layer = NoisyLinear(4, 2)
    x = torch.randn(5, 4)
    torch.manual_seed(11)
    y = layer(x)  # training mode: noise drawn, eps_in first, then eps_out
    torch.manual_seed(11)
    f = lambda e: e.sign() * e.abs().sqrt()  # noqa: E731
    eps_in, eps_out = f(torch.randn(4)), f(torch.randn(2))
    weight = layer.weight_mu + layer.weight_sigma * eps_out[:, None] * eps_in[None, :]
    bias = layer.bias_mu + layer.bias_sigma * eps_out
    assert torch.allclose(y, x @ weight.T + bias, atol=1e-6)


def test_mean_weights_outside_training_unless_sampling():
    layer = NoisyLinear(4, 2).eval()
    x = torch.randn(3, 4)
    assert torch.equal(layer(x), layer(x))
    assert torch.allclose(layer(x), x @ layer.weight_mu.T + layer.bias_mu)
    set_sampling(layer, True)
    assert not torch.equal(layer(x), layer(x))


def test_network_acts_with_noise_only_when_asked():
    torch.manual_seed(0)
    net = network(noisy=True, num_atoms=5, dueling=True, num_actions=3)
    states = np.random.default_rng(0).integers(0, 256, (4, 4, 84, 84), dtype=np.uint8)
    assert np.array_equal(net.predict(states), net.predict(states))
    net.set_acting_noise(True)
    assert not np.array_equal(net.predict(states), net.predict(states))
    net.set_acting_noise(False)
    assert np.array_equal(net.predict(states), net.predict(states))


@pytest.mark.slow
def test_catch_learns_with_noise_for_exploration(tmp_path):
    csv_path = tmp_path / "catch.csv"
    proc = run_cli([*CATCH_FAST, "--noisy", "--exploration_rate_start", "0", "--exploration_rate_end", "0",
                    "--csv_file", csv_path], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reward = float([r for r in results(csv_path) if r["phase"] == "test"][-1]["average_reward"])
    assert reward >= CATCH_LEARNED, f"catch test average reward {reward} < {CATCH_LEARNED} with --noisy and no epsilon"
