"""Snapshots: safetensors round trip, metadata, name rules, refusing wrong files."""

import os

import numpy as np
import pytest
import torch

from conftest import network
from simple_dqn.errors import UsageError
from simple_dqn.snapshot import check_compatible, load_snapshot, save_snapshot, snapshot_fields, split_snapshot_name


def save(net, path, **overrides):
    meta = dict(game="breakout", environment="ale", epoch=3, total_train_steps=750, action_set=[0, 1, 3, 4],
                screen_shape=(84, 84), history_length=4, architecture=dict(batch_norm=False, dueling=False),
                options=dict(learning_rate=0.001, preset="nature"))
    meta.update(overrides)
    save_snapshot(str(path), net.weights(), **meta)


def test_round_trip(tmp_path, rng):
    net = network()
    path = tmp_path / "breakout_3.safetensors"
    save(net, path)
    snap = load_snapshot(str(path))
    assert snap.game == "breakout" and snap.epoch == 3 and snap.num_actions == 4
    assert snap.options["preset"] == "nature" and snap.screen_shape == (84, 84)
    other = network()
    other.load_weights(snap.tensors)
    states = rng.integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    np.testing.assert_array_equal(net.predict(states), other.predict(states))
    assert oct(os.stat(path).st_mode & 0o777) != "0o600"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_snapshot_names():
    assert split_snapshot_name("snapshots/space_invaders_126.safetensors") == ("space_invaders", 126)
    assert split_snapshot_name("breakout_label_7.safetensors") == ("breakout_label", 7)
    with pytest.raises(UsageError, match="_<epoch>"):
        split_snapshot_name("snapshots/breakout.safetensors")


def test_refuses_other_game_actions_and_screens(tmp_path):
    net = network()
    save(net, tmp_path / "b_1.safetensors")
    snap = load_snapshot(str(tmp_path / "b_1.safetensors"))
    check_compatible(snap.path, snapshot_fields(snap), game="breakout", num_actions=4, screen_shape=(84, 84), history_length=4)
    with pytest.raises(UsageError, match="6 actions|4 actions"):
        check_compatible(snap.path, snapshot_fields(snap), game="breakout", num_actions=6, screen_shape=(84, 84), history_length=4)
    with pytest.raises(UsageError, match="84x84 screens, not 80x80"):
        check_compatible(snap.path, snapshot_fields(snap), game="breakout", num_actions=4, screen_shape=(80, 80), history_length=4)
    with pytest.raises(UsageError, match="game 'breakout', not 'pong'"):
        check_compatible(snap.path, snapshot_fields(snap), game="pong", num_actions=4, screen_shape=(84, 84), history_length=4)


def test_refuses_another_c51_support_or_its_absence(tmp_path):
    net = network()
    save(net, tmp_path / "b_1.safetensors")
    fields = snapshot_fields(load_snapshot(str(tmp_path / "b_1.safetensors")))
    same = dict(game="breakout", num_actions=4, screen_shape=(84, 84), history_length=4)
    check_compatible("q", fields, **same, support=(0, -10.0, 10.0))
    check_compatible("q", fields, **same, support=(0, -1.0, 1.0))  # no atoms: the bounds do not matter
    with pytest.raises(UsageError, match=r"holds a Q-network, but the options ask for a C51 network of 51 atoms"):
        check_compatible("q", fields, **same, support=(51, -10.0, 10.0))
    c51 = dict(fields, num_atoms=51, v_min=-10.0, v_max=10.0)
    check_compatible("c51", c51, **same, support=(51, -10, 10))
    with pytest.raises(UsageError, match=r"51 atoms in \[-10, 10\], but the options ask for a C51 network of 51 "
                       r"atoms in \[-1, 1\]; drop --num_atoms"):
        check_compatible("c51", c51, **same, support=(51, -1.0, 1.0))
    with pytest.raises(UsageError, match="ask for a Q-network"):
        check_compatible("c51", c51, **same, support=(0, -10.0, 10.0))


def test_refuses_another_input_scale(tmp_path):
    net = network()
    save(net, tmp_path / "b_1.safetensors")
    fields = snapshot_fields(load_snapshot(str(tmp_path / "b_1.safetensors")))
    same = dict(game="breakout", num_actions=4, screen_shape=(84, 84), history_length=4)
    check_compatible("scaled", fields, **same, scale_screens=True)
    with pytest.raises(UsageError, match="trained on scaled pixels.*drop --scale_screens"):
        check_compatible("scaled", fields, **same, scale_screens=False)
    with pytest.raises(UsageError, match="trained on 0-255 pixels"):
        check_compatible("raw", dict(fields, scale_screens=False), **same, scale_screens=True)


@pytest.mark.parametrize("damage", ["missing", "truncated", "text", "flipped", "no_metadata"])
def test_damaged_files_give_usage_errors(tmp_path, damage):
    net = network()
    path = tmp_path / "b_1.safetensors"
    save(net, path)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "text":
        path.write_text("hello, I am not a snapshot\n")
    elif damage == "flipped":
        path.write_bytes(data[:4] + bytes([data[4] ^ 0xFF]) + data[5:])
    elif damage == "no_metadata":
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(UsageError):
        load_snapshot(str(path))
