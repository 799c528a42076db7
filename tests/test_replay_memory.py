"""Replay memory: state assembly by slicing, episode boundaries, sampling, memory figure.

Screen i is filled with the value i (mod 256), so a sampled state's pixels spell out its rows.
"""

import numpy as np
import pytest

from simple_dqn.replay_memory import ReplayMemory

SHAPE = (6, 5)


def memory(size=20, history=4, batch=4, seed=0):
    return ReplayMemory(size=size, history_length=history, screen_shape=SHAPE, batch_size=batch,
                        rng=np.random.default_rng(seed))


def screen(value):
    return np.full(SHAPE, value % 256, dtype=np.uint8)


def fill(mem, n, terminal_every=0, start_first=True):
    for i in range(n):
        mem.add(i % 7, float(i), screen(i), bool(terminal_every and i % terminal_every == terminal_every - 1),
                start=start_first and i == 0)


def rows_of(states):
    return states[..., 0, 0].astype(int)


def test_get_state_at_start_and_wraparound():
    mem = memory(size=10)
    fill(mem, 10)
    assert rows_of(mem.get_state(5)).tolist() == [2, 3, 4, 5]
    # At the start of the ring the state wraps around to the newest rows (index lists).
    assert rows_of(mem.get_state(1)).tolist() == [8, 9, 0, 1]
    fill(mem, 3)  # overwrite rows 0..2 with screens 0..2 again
    assert mem.count == 10 and mem.current == 3


def test_gathered_minibatch_rows_and_views():
    mem = memory(size=50)
    fill(mem, 30)
    batch = mem.gather(np.array([10, 20]))
    assert rows_of(batch.prestates).tolist() == [[6, 7, 8, 9], [16, 17, 18, 19]]
    assert rows_of(batch.poststates).tolist() == [[7, 8, 9, 10], [17, 18, 19, 20]]
    assert batch.actions.tolist() == [10 % 7, 20 % 7]
    assert batch.rewards.tolist() == [10.0, 20.0]
    assert batch.states.dtype == np.uint8 and batch.prestates.base is not None


def test_history_before_an_episode_start_is_zeroed():
    mem = memory(size=50)
    fill(mem, 12)
    mem.add(0, 0.0, screen(100), False, start=True)  # row 12: first screen of a new episode
    mem.add(1, 1.0, screen(101), False)  # row 13
    mem.add(2, 1.0, screen(102), True)  # row 14
    batch = mem.gather(np.array([13, 14]))
    assert rows_of(batch.prestates).tolist() == [[0, 0, 0, 100], [0, 0, 100, 101]]
    assert rows_of(batch.poststates).tolist() == [[0, 0, 100, 101], [0, 100, 101, 102]]
    assert batch.terminals.tolist() == [False, True]


def test_valid_indexes_rules():
    mem = memory(size=20)
    fill(mem, 12)
    mem.add(0, 0.0, screen(50), False, start=True)  # row 12
    fill(mem, 3, start_first=False)  # rows 13..15
    valid = mem.valid_indexes(np.arange(20))
    assert not valid[:4].any(), "history would run off the start"
    assert not valid[12], "a start row is not a transition"
    assert valid[13] and valid[11] and valid[4]
    assert not valid[16:].any(), "rows not yet written"


def test_write_pointer_is_never_inside_a_sampled_window():
    mem = memory(size=20, batch=8)
    fill(mem, 27)  # wrapped: current = 7, rows 7.. are the oldest
    valid = mem.valid_indexes(np.arange(20))
    for index in range(7, 7 + 4):
        assert not valid[index], index
    assert valid[11] and valid[6]


@pytest.mark.parametrize("seed", range(5))
def test_sampling_never_returns_a_forbidden_index(seed):
    mem = memory(size=64, batch=32, seed=seed)
    rng = np.random.default_rng(seed)
    for i in range(150):
        mem.add(0, 0.0, screen(i), bool(rng.random() < 0.1), start=bool(rng.random() < 0.1))
    for _ in range(50):
        indexes = mem.sample_indexes(32)
        assert mem.valid_indexes(indexes).all()
        assert (indexes >= 4).all() and (indexes < mem.count).all()
        assert not mem.starts[indexes].any()
        window = (indexes[:, None] + np.arange(-4, 1)) % mem.size
        assert not (window[:, 1:] == mem.current).any()


def test_sampling_is_vectorised_and_covers_the_memory():
    mem = memory(size=1000, batch=32)
    fill(mem, 1000)
    seen = np.concatenate([mem.sample().indexes for _ in range(300)])
    assert len(np.unique(seen)) > 900


def test_empty_memory_cannot_sample():
    mem = memory()
    fill(mem, 3)
    with pytest.raises(RuntimeError, match="history_length"):
        mem.sample()


def test_size_must_exceed_batch_plus_history():
    with pytest.raises(ValueError, match="larger than"):
        ReplayMemory(size=36, history_length=4, screen_shape=SHAPE, batch_size=32)


def test_memory_figure_for_one_million_screens():
    mem = ReplayMemory(size=1_000_000, history_length=4, screen_shape=(84, 84), batch_size=32)
    # One byte per pixel, each screen once, plus 7 bytes of bookkeeping per transition.
    assert mem.nbytes == 1_000_000 * (84 * 84 + 7)
    assert mem.nbytes < 7.1e9


def test_memory_state_round_trip():
    mem = memory(size=30)
    fill(mem, 45)
    meta, arrays = mem.save_state()
    copy = memory(size=30, seed=9)
    copy.load_state(meta, {k: np.array(v) for k, v in arrays.items()})
    assert (copy.count, copy.current) == (mem.count, mem.current)
    np.testing.assert_array_equal(copy.screens, mem.screens)
    np.testing.assert_array_equal(copy.get_state(3), mem.get_state(3))
    with pytest.raises(ValueError, match="holds 30 screens"):
        memory(size=40).load_state(meta, arrays)


@pytest.mark.parametrize("n_step", [1, 3])
def test_device_mirror_gathers_the_host_minibatches(n_step):
    """--replay_on_gpu: the screens mirrored on the device (the CPU in CI) give the same
    minibatches, episode starts zeroed, also after the ring wraps and after load_state."""
    import torch

    from conftest import DEVICE

    def build(device):
        return ReplayMemory(size=40, history_length=4, screen_shape=SHAPE, batch_size=16,
                            rng=np.random.default_rng(3), n_step=n_step, device=device)

    def play(mem, first, n):  # episodes of 6 screens, each opened by a start row; no screen is 0
        for i in range(first, first + n):
            mem.add(i % 7, float(i), screen(1 + i % 250), i % 6 == 5, start=i % 6 == 0)

    host, mirrored = build(None), build(DEVICE)
    for mem in (host, mirrored):
        play(mem, 0, 30)
    for round_ in range(3):
        a, b = host.sample(), mirrored.sample()
        assert torch.is_tensor(b.states) and b.states.device == torch.device(DEVICE)
        assert np.array_equal(a.states, b.states.cpu().numpy())
        assert (a.states == 0).any()  # some window reaches back across an episode start
        assert np.array_equal(a.rewards, b.rewards) and np.array_equal(a.terminals, b.terminals)
        for mem in (host, mirrored):
            play(mem, 30 + 17 * round_, 17)  # wraps the ring
    restored = build(DEVICE)
    restored.load_state(*mirrored.save_state())
    restored.rng = np.random.default_rng(9)
    host.rng = np.random.default_rng(9)
    assert np.array_equal(host.sample().states, restored.sample().states.cpu().numpy())
    # Rows added after load_state and before the first minibatch reach the device too.
    partial, partial_host = build(None), build(None)
    play(partial, 0, 20)
    play(partial_host, 0, 20)
    resumed = build(DEVICE)
    resumed.load_state(*partial.save_state())
    for mem in (resumed, partial_host):
        play(mem, 20, 12)
        mem.rng = np.random.default_rng(4)
    assert np.array_equal(partial_host.sample().states, resumed.sample().states.cpu().numpy())
