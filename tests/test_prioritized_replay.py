"""Proportional prioritized replay: sampling, importance weights, the beta schedule, by hand-worked numbers."""

import numpy as np
import pytest

from simple_dqn.prioritized_replay import PrioritizedReplayMemory


def test_prioritized_sampling_follows_priorities_and_weights_are_right():
    mem = PrioritizedReplayMemory(size=64, history_length=1, screen_shape=(36, 36), batch_size=4,
                                  alpha=1.0, beta_start=1.0, epsilon=0.0, rng=np.random.default_rng(0))
    screen = np.zeros((36, 36), np.uint8)
    mem.add(0, 0.0, screen, False, start=True)
    for _ in range(4):
        mem.add(0, 0.0, screen, False)
    # Rows 1..4 are transitions; give them priorities 1, 2, 3, 4 (alpha 1).
    mem.update_priorities(np.array([1, 2, 3, 4]), np.array([1.0, 2.0, 3.0, 4.0]))
    draws = np.concatenate([mem.sample_indexes(4) for _ in range(5000)])
    frequencies = np.bincount(draws, minlength=5)[1:] / len(draws)
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    batch = mem.gather(np.array([1, 4]))
    batch = mem.sample()
    p = mem.tree.get(batch.indexes) / 10.0
    w = (mem.count * p) ** -1.0
    np.testing.assert_allclose(batch.weights, w / w.max(), rtol=1e-6)
    # Hand case: P = 0.1 and 0.4 with N = 5 and beta 1 give w = 2 and 0.5, normalised 1 and 0.25.
    hand = (5 * np.array([0.1, 0.4])) ** -1.0
    np.testing.assert_allclose(hand / hand.max(), [1.0, 0.25])


def test_prioritized_replay_anneals_beta_over_the_minibatches_it_samples():
    def memory(**kwargs):
        return PrioritizedReplayMemory(size=64, history_length=1, screen_shape=(36, 36), batch_size=2,
                                       beta_start=0.4, beta_samples=10, rng=np.random.default_rng(0), **kwargs)

    mem = memory()
    for i in range(6):
        mem.add(0, 0.0, np.zeros((36, 36), np.uint8), False, start=i == 0)
    betas = []
    for _ in range(12):
        betas.append(mem.beta())
        mem.sample()
    np.testing.assert_allclose(betas[:6], [0.4, 0.46, 0.52, 0.58, 0.64, 0.7])
    assert betas[10:] == [1.0, 1.0]
    copy = memory()
    copy.load_state(*mem.save_state())
    assert copy.samples == 12 and copy.beta() == 1.0
    assert memory(samples=5).beta() == 0.7  # a run resumed from a snapshot goes on from its minibatches


def test_new_transitions_get_max_priority():
    mem = PrioritizedReplayMemory(size=64, history_length=1, screen_shape=(36, 36), batch_size=4)
    screen = np.zeros((36, 36), np.uint8)
    for _ in range(5):
        mem.add(0, 0.0, screen, False)
    mem.update_priorities(np.array([2]), np.array([10.0]))
    mem.add(0, 0.0, screen, False)
    assert mem.tree.get(np.array([5]))[0] == pytest.approx(mem.max_priority)
    assert mem.max_priority == pytest.approx((10.0 + mem.epsilon) ** 0.6)
