"""The Python API: a snapshot as a policy, a Gymnasium ALE environment seen through the project's
preprocessing, a run started from Python; and the README's examples of them, run as written."""

import os
import re

import gymnasium
import numpy as np
import pytest

import simple_dqn
from conftest import ROOT
from simple_dqn.errors import UsageError

PONG = str(ROOT / "snapshots" / "pong_10.safetensors")


@pytest.fixture(scope="module")
def policy():
    return simple_dqn.load_policy(PONG)


def make_pong(**kwargs):
    import ale_py

    gymnasium.register_envs(ale_py)
    return gymnasium.make("ALE/Pong-v5", **dict(dict(frameskip=1, obs_type="grayscale",
                                                     repeat_action_probability=0.0), **kwargs))


def test_gymnasium_states_are_the_projects_own(policy):
    from simple_dqn.arguments import load_arguments
    from simple_dqn.build import make_environment
    from simple_dqn.state_buffer import StateBuffer

    args, _ = load_arguments(["--load_weights", PONG, "--num_envs", "1"])
    ours = make_environment(args)
    ours.set_mode("test")
    buffer = StateBuffer(history_length=4, screen_shape=(84, 84))
    buffer.begin(np.ones(1, dtype=bool), ours.restart())
    env = policy.wrap(make_pong())
    state, _ = env.reset(seed=0)
    assert state.dtype == np.uint8 and state.shape == (4, 84, 84) and (state == buffer.states[0]).all()
    for action in np.random.default_rng(1).integers(policy.num_actions, size=400).tolist():
        _, screens, _ = ours.step(np.array([action]))
        buffer.add(screens)
        state, *_ = env.step(action)
        assert (state == buffer.states[0]).all()
    assert state[-1].std() > 0


def test_the_shipped_agent_wins_pong_through_gymnasium(policy):
    env = policy.wrap(make_pong())
    state, _ = env.reset(seed=0)
    rng, score, done = np.random.default_rng(0), 0.0, False
    while not done:
        state, reward, terminated, truncated, _ = env.step(policy.act(state, exploration_rate=0.05, rng=rng))
        score, done = score + reward, terminated or truncated
    assert score >= 10  # a random policy scores about -20, a broken preprocessing about as badly


def test_policy_shapes_and_refusals(policy):
    states = np.zeros((3, 4, 84, 84), dtype=np.uint8)
    assert policy.q_values(states).shape == (3, 6) and policy.q_values(states[0]).shape == (6,)
    actions = policy.act(states, exploration_rate=1.0, rng=np.random.default_rng(0))
    assert actions.shape == (3,) and actions.dtype == np.int64 and isinstance(policy.act(states[0]), int)
    with pytest.raises(ValueError, match="uint8"):
        policy.q_values(states.astype(np.float32))
    with pytest.raises(ValueError, match="states must be"):
        policy.q_values(np.zeros((3, 84, 84, 4), dtype=np.uint8))
    for kwargs, message in [(dict(frameskip=4), "frameskip=1"), (dict(obs_type="rgb"), "grayscale"),
                            (dict(full_action_space=True), "full_action_space=False")]:
        with pytest.raises(UsageError, match=message):
            policy.wrap(make_pong(**kwargs))
    with pytest.raises(UsageError, match="does not exist|cannot"):
        simple_dqn.load_policy("snapshots/none_1.safetensors")


def test_train_from_python_returns_rows_and_snapshots_and_keeps_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = dict(epochs=2, random_steps=200, train_steps=300, test_steps=100, replay_size=2000, screen_width=36,
                   screen_height=36, random_seed=1, backend="cpu", log_level="WARNING")
    run = simple_dqn.train("catch", **options)
    assert [(r["epoch"], r["phase"]) for r in run.rows] == [(0, "random"), (1, "train"), (1, "test"),
                                                           (2, "train"), (2, "test")]
    assert run.rows[-1]["total_train_steps"] == 600 and isinstance(run.rows[-1]["average_reward"], float)
    assert run.snapshots == [os.path.join("snapshots", "catch_1.safetensors"),
                             os.path.join("snapshots", "catch_2.safetensors")]
    assert run.csv_file == os.path.join("results", "catch.csv") and os.path.exists(run.csv_file)
    with pytest.raises(UsageError, match="earlier run exists"):
        simple_dqn.train("catch", **options)
    assert len(simple_dqn.train("catch", overwrite=True, **options).rows) == 5
    with pytest.raises(UsageError, match="--learning_rate"):
        simple_dqn.train("catch", learning_rate="nan", overwrite=True, **options)


def test_a_snapshot_keeps_its_unscaled_screens(tmp_path, monkeypatch):
    # The input scale is part of the network: a snapshot trained on 0-255 pixels must be loaded so.
    monkeypatch.chdir(tmp_path)
    run = simple_dqn.train("catch", epochs=1, random_steps=100, train_steps=100, test_steps=50, replay_size=500,
                           screen_width=36, screen_height=36, scale_screens=False, random_seed=1, backend="cpu",
                           log_level="WARNING")
    assert simple_dqn.load_policy(run.snapshots[-1]).network.online.input_scale == 1.0
    with pytest.raises(UsageError, match="0-255 pixels"):
        simple_dqn.load_policy(run.snapshots[-1], scale_screens=True)


def readme_python_blocks():
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readmes_python_examples_run_as_written(tmp_path, monkeypatch, capsys):
    blocks = readme_python_blocks()
    assert len(blocks) == 2
    (tmp_path / "snapshots").mkdir()
    os.symlink(PONG, tmp_path / "snapshots" / "pong_10.safetensors")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["score"] >= 10
    assert namespace["run"].rows[-1]["epoch"] == 2 and len(namespace["run"].snapshots) == 2
