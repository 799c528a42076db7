"""Multi-step returns (--n_step): windows gathered by the replay memory, returns worked by hand.

Screen i is filled with the value i, so a sampled state's pixels spell out its rows.
"""

import numpy as np
import pytest
import torch

from conftest import network
from simple_dqn.deepqnetwork import n_step_returns, td_targets
from simple_dqn.replay_memory import Minibatch, ReplayMemory

SHAPE = (6, 5)


def memory(size=30, n_step=3, streams=1, history=2):
    return ReplayMemory(size=size, history_length=history, screen_shape=SHAPE, batch_size=2,
                        rng=np.random.default_rng(0), streams=streams, n_step=n_step)


def add(mem, value, reward=0.0, terminal=False, start=False, stream=0):
    mem.add(value % 5, reward, np.full(SHAPE, value, dtype=np.uint8), terminal, start=start, stream=stream)


def rows_of(states):
    return states[..., 0, 0].astype(int).tolist()


def test_window_rewards_and_views():
    mem = memory()
    add(mem, 0, start=True)
    for i in range(1, 12):
        add(mem, i, reward=float(i))
    batch = mem.gather(np.array([4]))
    # history 2, n 3: prestate rows 2..3, poststate rows 5..6, rewards of rows 4, 5, 6.
    assert rows_of(batch.states) == [[2, 3, 4, 5, 6]]
    assert rows_of(batch.prestates) == [[2, 3]] and rows_of(batch.poststates) == [[5, 6]]
    assert batch.rewards.tolist() == [[4.0, 5.0, 6.0]]
    assert batch.terminals.tolist() == [False] and batch.n_step == 3


def test_terminal_cuts_the_window():
    mem = memory()
    add(mem, 0, start=True)
    for i in range(1, 5):
        add(mem, i, reward=1.0)
    add(mem, 5, reward=-1.0, terminal=True)  # row 5 ends the episode
    add(mem, 6, start=True)  # row 6: the next episode's first screen
    add(mem, 7, reward=7.0)
    batch = mem.gather(np.array([4, 5]))
    assert batch.rewards.tolist() == [[1.0, -1.0, 0.0], [-1.0, 0.0, 0.0]]
    assert batch.terminals.tolist() == [True, True]
    assert mem.valid_indexes(np.array([4, 5])).tolist() == [True, True]


def test_validity_near_the_write_pointer_and_cut_episodes():
    mem = memory()
    add(mem, 0, start=True)
    for i in range(1, 8):
        add(mem, i)
    # Rows 0..7 written: index 5 needs rows 6 and 7 (ok), 6 would need row 8 (not written yet).
    assert mem.valid_indexes(np.arange(2, 8)).tolist() == [True, True, True, True, False, False]
    add(mem, 8, start=True)  # an episode cut without a terminal (end of a phase)
    add(mem, 9)
    add(mem, 10)
    # 6 and 7 would reach the start row 8 before a terminal; 8 is a start; 9 and 10 lack rows ahead.
    assert mem.valid_indexes(np.arange(5, 11)).tolist() == [True, False, False, False, False, False]


def test_rows_ahead_wrap_around_the_ring():
    mem = memory(size=10)
    add(mem, 0, start=True)
    for i in range(1, 13):  # rows 0..9 then 0..2 again: write pointer at 3
        add(mem, i)
    assert mem.current == 3
    batch = mem.gather(np.array([8]))
    assert rows_of(batch.states) == [[6, 7, 8, 9, 10]]  # rows 6, 7, 8, 9, 0
    # index 9 needs rows 0 and 1 (written after it): valid; index 1 would need 2 and 3 (3: next write).
    assert mem.valid_indexes(np.array([9, 0, 1])).tolist() == [True, False, False]


def test_streams_keep_their_windows():
    mem = memory(size=20, streams=2)
    for stream in (0, 1):
        add(mem, 100 * stream, start=True, stream=stream)
    for i in range(1, 10):
        for stream in (0, 1):
            add(mem, 100 * stream + i, reward=float(i), stream=stream)
    batch = mem.gather(np.array([4, 14]))
    assert rows_of(batch.states) == [[2, 3, 4, 5, 6], [102, 103, 104, 105, 106]]
    # Stream 1's rows 17..19 hold its screens 107..109; 18 would need its rows 19 and 20 (not its own).
    assert mem.valid_indexes(np.array([7, 17, 18])).tolist() == [True, True, False]
    for index in mem.sample_indexes(500):
        stream = index // 10
        rows = rows_of(mem.gather(np.array([index])).states)[0]
        assert all(value // 100 == stream for value in rows if value)


def test_sampled_windows_never_cross_episodes():
    mem = memory(size=200, n_step=3, history=4)
    rng = np.random.default_rng(5)
    episode, value = 0, 0
    add(mem, 0, start=True)
    for _ in range(600):
        value += 1
        terminal = rng.random() < 0.1
        add(mem, episode * 10 + 1, reward=float(episode), terminal=terminal)
        if terminal:
            episode = (episode + 1) % 25
            add(mem, episode * 10, start=True)
    for _ in range(50):
        batch = mem.sample()
        for states, rewards, terminal in zip(batch.states, batch.rewards, batch.terminals):
            own = int(states[3, 0, 0]) // 10  # the prestate's last screen is the transition's episode
            prestate = [int(v) for v in states[:4, 0, 0] if v]
            assert all(v // 10 == own for v in prestate)
            if not terminal:
                assert all(int(v) // 10 == own for v in states[3:, 0, 0])
                assert rewards.tolist() == [float(own)] * 3


def test_n_step_returns_and_td_target_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    # 1 + 0.9^2 * 1 = 1.81; -0.9
    assert n_step_returns(rewards, 0.9).tolist() == pytest.approx([1.81, -0.9])
    next_q = torch.tensor([[2.0, 3.0], [1.0, 0.5]])
    targets = td_targets(n_step_returns(rewards, 0.9), torch.tensor([False, True]), next_q, 0.9 ** 3)
    assert targets.tolist() == pytest.approx([1.81 + 0.729 * 3.0, -0.9])


def test_network_trains_on_the_n_step_target():
    """The loss of one update equals the one worked out from the n-step target by hand."""
    torch.manual_seed(0)
    net = network(history_length=2, screen_shape=(36, 36), optimizer="adam", learning_rate=1e-9, discount_rate=0.5,
                  loss="mse", max_reward=1, min_reward=-1, num_actions=2)
    rng = np.random.default_rng(0)
    states = rng.integers(0, 255, (2, 5, 36, 36), dtype=np.uint8)  # history 2 + n 3
    rewards = np.array([[3.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)  # 3.0 is clipped to 1
    batch = Minibatch(states, np.array([0, 1]), rewards, np.array([False, True]), np.array([0, 1]),
                      np.ones(2, dtype=np.float32), 3)
    q_pre = net.predict(states[:, :2])
    q_post = net.predict(states[:, 3:])
    targets = np.array([1 + 0.5 + 0.25 + 0.125 * q_post[0].max(), 1.0])
    errors = targets - q_pre[[0, 1], [0, 1]]
    td_errors = net.train(batch)
    assert td_errors.cpu().numpy() == pytest.approx(errors, rel=1e-4, abs=1e-5)
    assert net.take_mean_cost() == pytest.approx(float(np.mean(0.5 * errors ** 2)), rel=1e-4)


def test_n_step_needs_room_in_each_segment():
    with pytest.raises(ValueError, match="history_length \\+ n_step"):
        ReplayMemory(size=10, history_length=4, screen_shape=SHAPE, batch_size=2, n_step=6, streams=1)


def test_bootstrap_next_state_takes_the_state_one_step_ahead():
    """--bootstrap_next_state: the n-step return, discounted by gamma ** n, on the next state's value (Tianshou's C51)."""
    torch.manual_seed(0)
    net = network(history_length=2, screen_shape=(36, 36), optimizer="adam", learning_rate=1e-9, discount_rate=0.5,
                  loss="mse", max_reward=1, min_reward=-1, num_actions=2, bootstrap_next_state=True)
    rng = np.random.default_rng(0)
    states = rng.integers(0, 255, (2, 5, 36, 36), dtype=np.uint8)  # history 2 + n 3
    rewards = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    batch = Minibatch(states, np.array([1, 0]), rewards, np.array([False, True]), np.array([0, 1]),
                      np.ones(2, dtype=np.float32), 3)
    q_pre = net.predict(states[:, :2])
    q_next = net.predict(states[:, 1:3])
    assert not np.allclose(q_next[0].max(), net.predict(states[:, 3:])[0].max())  # the two targets differ
    targets = np.array([1 + 0.5 + 0.125 * q_next[0].max(), 1.0])
    td_errors = net.train(batch)
    assert td_errors.cpu().numpy() == pytest.approx(targets - q_pre[[0, 1], [1, 0]], rel=1e-4, abs=1e-5)
