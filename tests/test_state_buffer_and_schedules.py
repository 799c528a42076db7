import numpy as np

from simple_dqn.schedules import linear_decay
from simple_dqn.state_buffer import StateBuffer
from simple_dqn.sum_tree import SumTree


def test_state_buffer_rolls_and_resets():
    buf = StateBuffer(history_length=3, screen_shape=(2, 2))
    for value in (1, 2, 3, 4):
        buf.add(np.full((1, 2, 2), value, np.uint8))
    state = buf.states
    assert state.shape == (1, 3, 2, 2) and state.dtype == np.uint8
    assert state[0, :, 0, 0].tolist() == [2, 3, 4]
    buf.begin(np.array([True]), np.full((1, 2, 2), 9, np.uint8))
    assert state[0, :, 0, 0].tolist() == [0, 0, 9]  # zero padding, then the episode's first screen


def test_state_buffer_begins_only_the_streams_asked():
    buf = StateBuffer(num_envs=3, history_length=2, screen_shape=(1, 1))
    buf.add(np.array([1, 2, 3], np.uint8).reshape(3, 1, 1))
    buf.begin(np.array([False, True, False]), np.array([7, 8, 9], np.uint8).reshape(3, 1, 1))
    assert buf.states[:, :, 0, 0].tolist() == [[0, 1], [0, 8], [0, 3]]


def test_exploration_schedule():
    assert linear_decay(0, 1.0, 0.1, 1000) == 1.0
    assert abs(linear_decay(500, 1.0, 0.1, 1000) - 0.55) < 1e-12
    assert linear_decay(1000, 1.0, 0.1, 1000) == 0.1
    assert linear_decay(5000, 1.0, 0.1, 1000) == 0.1
    # Resuming at start_epoch 2 of 250 train steps each continues the same line.
    assert abs(linear_decay(2 * 250, 1.0, 0.1, 1000) - 0.55) < 1e-12
    assert linear_decay(10, 0.4, 1.0, 0) == 1.0


def test_sum_tree_sampling_matches_priorities():
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 10.0])
    tree = SumTree(len(priorities))
    tree.set(np.arange(len(priorities)), priorities)
    assert tree.total == priorities.sum()
    rng = np.random.default_rng(0)
    draws = np.concatenate([tree.sample(32, rng) for _ in range(5000)])
    frequencies = np.bincount(draws, minlength=len(priorities)) / len(draws)
    np.testing.assert_allclose(frequencies, priorities / priorities.sum(), atol=0.01)
    assert frequencies[4] == 0.0


def test_sum_tree_update_keeps_sums():
    tree = SumTree(1000)
    rng = np.random.default_rng(1)
    values = np.zeros(1000)
    for _ in range(20):
        indexes = rng.integers(0, 1000, 32)
        new = rng.random(32)
        tree.set(indexes, new)
        values[indexes] = new  # numpy assignment: last write wins, as the tree's
    assert abs(tree.total - values.sum()) < 1e-9
    np.testing.assert_allclose(tree.get(np.arange(1000)), values)
