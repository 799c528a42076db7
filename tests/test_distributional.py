"""C51 (Bellemare et al. 2017): the projection and the loss by hand-worked numbers, the network, the options."""

import math

import numpy as np
import pytest
import torch

from conftest import CATCH_FAST, CATCH_LEARNED, assert_one_line_error, network, run_cli
from simple_dqn.distributional import cross_entropy, make_support, project_distribution
from simple_dqn.replay_memory import Minibatch

SUPPORT = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=torch.float64)  # delta_z = 1


def project(probs, reward, terminal=False, discount=0.5, support=SUPPORT):
    probs = torch.tensor([probs], dtype=torch.float64)
    return project_distribution(probs, torch.tensor([reward], dtype=torch.float64), torch.tensor([terminal]),
                                discount, support)[0].tolist()


def test_support_is_evenly_spaced_and_checked():
    assert make_support(-10, 10, 51)[[0, 1, 25, 50]].tolist() == pytest.approx([-10, -9.6, 0, 10], abs=1e-6)
    with pytest.raises(ValueError):
        make_support(-10, 10, 1)
    with pytest.raises(ValueError):
        make_support(1, 1, 51)


def test_projection_on_atoms_keeps_the_mass_there():
    # r = 1, discount 1: each atom moves one up (2 -> 3 is clipped to 2).
    assert project([0.1, 0.2, 0.3, 0.15, 0.25], 1.0, discount=1.0) == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])


def test_projection_shrinks_by_the_discount():
    # r = 0, discount 0.5: -2 -> -1 and 2 -> 1 on atoms; -1 -> -0.5 and 1 -> 0.5 split in halves.
    assert project([0.1, 0.2, 0.3, 0.15, 0.25], 0.0) == pytest.approx([0, 0.1 + 0.1, 0.1 + 0.3 + 0.075,
                                                                        0.075 + 0.25, 0])


def test_projection_splits_mass_between_neighbours():
    # All mass on z = 1: Tz = 0.25 + 0.5 * 1 = 0.75, between 0 (share 0.25) and 1 (share 0.75).
    assert project([0, 0, 0, 1, 0], 0.25) == pytest.approx([0, 0, 0.25, 0.75, 0])
    # Mass 0.4 on z = -1 -> Tz = -0.25 (0.25 to -1, 0.75 to 0); 0.6 on z = 2 -> 1.25 (0.75 to 1, 0.25 to 2).
    assert project([0, 0.4, 0, 0, 0.6], 0.25) == pytest.approx([0, 0.1, 0.3, 0.45, 0.15])


def test_projection_clips_at_v_min_and_v_max():
    # r = 1.8: z = 1 -> 2.3 and z = 2 -> 2.8, both clipped to v_max; z = -2 -> 0.8 (0.2 to 0, 0.8 to 1).
    assert project([0.5, 0, 0, 0.2, 0.3], 1.8) == pytest.approx([0, 0, 0.1, 0.4, 0.5])
    # r = -3: everything falls below v_min.
    assert project([0.2, 0.2, 0.2, 0.2, 0.2], -3.0) == pytest.approx([1, 0, 0, 0, 0])


def test_terminal_puts_all_mass_at_the_reward():
    # Terminal: Tz = r for every atom; r = 0.5 splits evenly between 0 and 1.
    assert project([0.1, 0.2, 0.3, 0.15, 0.25], 0.5, terminal=True) == pytest.approx([0, 0, 0.5, 0.5, 0])


def test_n_step_discount_is_gamma_to_the_n():
    # 3-step return with gamma 0.9: discount 0.729; mass on z = 2 -> r + 1.458 with r = 0 -> 0.542 to 1, 0.458 to 2.
    assert project([0, 0, 0, 0, 1], 0.0, discount=0.9 ** 3) == pytest.approx([0, 0, 0, 0.542, 0.458])


def test_projection_rows_sum_to_one():
    gen = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(64, 51, generator=gen, dtype=torch.float64), dim=1)
    rewards = torch.randn(64, generator=gen, dtype=torch.float64) * 5
    terminals = torch.rand(64, generator=gen) < 0.3
    target = project_distribution(probs, rewards, terminals, 0.99 ** 3, make_support(-10, 10, 51, dtype=torch.float64))
    assert torch.allclose(target.sum(dim=1), torch.ones(64, dtype=torch.float64))
    assert (target >= 0).all()


def test_cross_entropy_by_hand():
    target = torch.tensor([[0.0, 0.25, 0.75]])
    log_probs = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    expected = -(0.25 * math.log(0.3) + 0.75 * math.log(0.5))
    assert cross_entropy(target, log_probs).item() == pytest.approx(expected)


def test_network_outputs_distributions_and_their_expectation():
    torch.manual_seed(0)
    for dueling in (False, True):
        net = network(num_atoms=5, v_min=-2, v_max=2, dueling=dueling, num_actions=3)
        states = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
        log_probs = net.online.log_distribution(states)
        assert log_probs.shape == (2, 3, 5)
        assert torch.allclose(log_probs.exp().sum(dim=2), torch.ones(2, 3))
        expected = (log_probs.exp() * torch.tensor([-2.0, -1, 0, 1, 2])).sum(dim=2)
        assert np.allclose(net.predict(states.numpy()), expected.detach().numpy(), atol=1e-6)


def one_update_by_hand(double_q: bool, target_exploration_rate: float = 0.0):
    """A C51 update on one transition, against the cross-entropy of the projection worked out here."""
    torch.manual_seed(3)
    net = network(num_atoms=3, v_min=-1, v_max=1, optimizer="adam", discount_rate=0.5, double_q=double_q,
                  num_actions=2, target_exploration_rate=target_exploration_rate)
    states = np.random.default_rng(0).integers(0, 256, (1, 5, 84, 84), dtype=np.uint8)
    with torch.no_grad():
        now = torch.from_numpy(states[:, :4])
        after = torch.from_numpy(states[:, 1:])
        log_online = net.online.log_distribution(now)[0, 1]  # action 1 taken
        next_target = net.target.log_distribution(after)[0].exp()  # (2 actions, 3 atoms)
        chooser = net.online(after)[0] if double_q else (next_target * torch.tensor([-1.0, 0, 1])).sum(dim=1)
        greedy = int(chooser.argmax())
        # Expected Sarsa: the epsilon-greedy mixture, (1 - e) of the greedy action's and e of the mean.
        e = target_exploration_rate
        p = ((1 - e) * next_target[greedy] + e * next_target.mean(dim=0)).tolist()
    # Reward 0.5, discount 0.5: atoms -1, 0, 1 move to 0, 0.5, 1; 0.5 splits evenly between 0 and 1.
    target = [0.0, p[0] + 0.5 * p[1], 0.5 * p[1] + p[2]]
    expected = -sum(t * float(lp) for t, lp in zip(target, log_online))
    batch = Minibatch(states=states, actions=np.array([1]), rewards=np.array([0.5], dtype=np.float32),
                      terminals=np.array([False]), weights=np.ones(1, dtype=np.float32), indexes=np.array([0]),
                      n_step=1)
    td = net.train(batch)
    assert float(net.last_cost) == pytest.approx(expected, rel=1e-5)
    assert float(td[0]) == pytest.approx(expected, rel=1e-5)  # the per-sample loss is the priority


@pytest.mark.parametrize("double_q, target_exploration_rate", [(False, 0.0), (True, 0.0), (False, 0.4)])
def test_one_update_loss_by_hand(double_q, target_exploration_rate):
    one_update_by_hand(double_q, target_exploration_rate)


@pytest.mark.parametrize("flags, fragment", [
    (["--num_atoms", "1"], "--num_atoms must be at least 2"),
    (["--num_atoms", "-3"], "--num_atoms must be at least 2"),
    (["--num_atoms", "51", "--v_min", "10", "--v_max", "10"], "--v_min (10.0) must be below --v_max"),
])
def test_bad_support_is_one_line(flags, fragment):
    assert_one_line_error(run_cli(["catch", *flags]), fragment)


@pytest.mark.slow
def test_catch_learns_with_c51_and_its_snapshot_checks(tmp_path):
    csv_path = tmp_path / "catch.csv"
    prefix = tmp_path / "catch"
    proc = run_cli([*CATCH_FAST, "--num_atoms", "51", "--v_min", "-1", "--v_max", "1", "--n_step", "3",
                    "--double_q", "--dueling", "--prioritized_replay", "--train_steps", "1000",
                    "--csv_file", csv_path, "--save_weights_prefix", prefix], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import csv

    with open(csv_path) as f:
        reward = float([r for r in csv.DictReader(f) if r["phase"] == "test"][-1]["average_reward"])
    assert reward >= CATCH_LEARNED, f"catch test average reward {reward} < {CATCH_LEARNED} with C51"
    snapshots = sorted(tmp_path.glob("catch_*.safetensors"))
    assert snapshots
    # The snapshot's support is reused; another is refused, and so is a Q-network run.
    ok = run_cli(["--load_weights", snapshots[-1], "--play_games", "1"])
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert_one_line_error(run_cli(["--load_weights", snapshots[-1], "--play_games", "1", "--num_atoms", "21"]),
                          "c51 network of 51 atoms in [-1, 1]")
    assert_one_line_error(run_cli(["--load_weights", snapshots[-1], "--play_games", "1", "--num_atoms", "0"]),
                          "a Q-network")
