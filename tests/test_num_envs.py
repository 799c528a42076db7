"""--num_envs: N games side by side, one replay memory segment per stream, batched acting.

The memory must never build a state across two streams or across an episode start, and
the vector agent's replay ratio must be the single-game agent's.
"""

import numpy as np
import pytest

from conftest import CATCH_FAST, CATCH_LEARNED, HAS_BF16, assert_one_line_error, one_game, results, run_cli
from simple_dqn.agent import Agent
from simple_dqn.ale_game import ALEGame
from simple_dqn.ale_vector_environment import ALEVectorEnvironment
from simple_dqn.catch import CatchGame
from simple_dqn.environment import GameEnvironment
from simple_dqn.prioritized_replay import PrioritizedReplayMemory
from simple_dqn.replay_memory import ReplayMemory
from simple_dqn.statistics import Statistics

SHAPE = (3, 2)


def stream_screen(stream, episode, t):
    """A screen whose pixels spell out (stream, episode, time): never 0, so padding shows."""
    screen = np.empty(SHAPE, dtype=np.uint8)
    screen[0] = stream + 1
    screen[1] = episode % 250 + 1
    screen[2] = t % 250 + 1
    return screen


@pytest.mark.parametrize("memory_class", [ReplayMemory, PrioritizedReplayMemory])
def test_sampled_states_stay_in_one_stream_and_one_episode(memory_class):
    rng = np.random.default_rng(3)
    streams, history = 3, 4
    mem = memory_class(size=3 * 40 + 2, history_length=history, screen_shape=SHAPE, batch_size=64, rng=rng,
                       streams=streams)
    episode, t = [0] * streams, [0] * streams
    # Streams add in an irregular order and end episodes at random, and every segment wraps.
    for _ in range(500):
        s = int(rng.integers(streams))
        terminal = bool(rng.random() < 0.1)
        mem.add(int(rng.integers(4)), 1.0, stream_screen(s, episode[s], t[s]), terminal, stream=s)
        t[s] += 1
        if terminal:
            episode[s] += 1
            t[s] = 0
            mem.add(0, 0.0, stream_screen(s, episode[s], 0), False, start=True, stream=s)
            t[s] = 1
    assert mem.counts == [40, 40, 40] and mem.count == 120
    seen_streams = set()
    for _ in range(30):
        batch = mem.sample()
        rows = batch.indexes
        assert ((rows // mem.segment) == (rows - history) // mem.segment).all(), "a window crosses segments"
        for states in batch.states:
            kept = states[states[:, 0, 0] > 0]  # screens not zeroed as padding
            assert len(kept) >= 2  # at least the prestate's last screen and the poststate's
            assert len(set(kept[:, 0, 0])) == 1, "a state mixes two streams"
            assert len(set(kept[:, 1, 0])) == 1, "a state mixes two episodes"
            times = kept[:, 2, 0].astype(int)
            assert (np.diff(times) == 1).all(), f"screens are not consecutive: {times}"
            # Zero padding only before the episode's first screen (time 1 = the start row).
            if len(kept) < history + 1:
                assert times[0] == 1
            seen_streams.add(int(kept[0, 0, 0]))
    assert seen_streams == {1, 2, 3}


def test_sampling_is_uniform_over_streams_of_different_fill():
    mem = ReplayMemory(size=3000, history_length=2, screen_shape=SHAPE, batch_size=32,
                       rng=np.random.default_rng(0), streams=3)
    for s, n in enumerate((100, 400, 900)):
        for i in range(n):
            mem.add(0, 0.0, stream_screen(s, 0, i), False, start=i == 0, stream=s)
    indexes = np.concatenate([mem.sample_indexes(1000) for _ in range(20)])
    share = np.bincount(indexes // mem.segment, minlength=3) / len(indexes)
    expected = np.array([97, 397, 897]) / 1391  # valid rows per stream
    assert np.abs(share - expected).max() < 0.01, share


def test_vector_memory_checkpoint_round_trip_and_stream_mismatch():
    kwargs = dict(size=600, history_length=4, screen_shape=SHAPE, batch_size=8)
    mem = ReplayMemory(rng=np.random.default_rng(0), streams=3, **kwargs)
    for i in range(450):
        mem.add(i % 4, float(i), stream_screen(i % 3, 0, i), i % 50 == 49, start=i < 3, stream=i % 3)
    meta, arrays = mem.save_state()
    copy = ReplayMemory(rng=np.random.default_rng(0), streams=3, **kwargs)
    copy.load_state(meta, {k: np.array(v) for k, v in arrays.items()})
    assert copy.counts == mem.counts and copy.currents == mem.currents
    batch = mem.sample_indexes(16)
    assert (copy.gather(batch).states == mem.gather(batch).states).all()
    with pytest.raises(ValueError, match="--num_envs 3"):
        ReplayMemory(rng=np.random.default_rng(0), streams=2, **kwargs).load_state(meta, arrays)


def catch_agent(num_envs, memory_size=5000, **kwargs):
    env = GameEnvironment([CatchGame(screen_shape=(36, 36), random_seed=i) for i in range(num_envs)])
    mem = ReplayMemory(size=memory_size, history_length=4, screen_shape=(36, 36), batch_size=8,
                       rng=np.random.default_rng(0), streams=num_envs)
    return Agent(env, mem, None, rng=np.random.default_rng(1), **kwargs), env, mem


def test_memory_states_equal_the_states_the_agent_acted_on():
    agent, env, mem = catch_agent(4, random_starts=5)
    agent.begin(store=True)
    checked = 0
    for _ in range(300):
        before = agent.buffer.states.copy()
        rows = [mem.next_row(i) for i in range(4)]
        agent.act(1.0)
        _, terminals = agent.observe(1.0, store=True)
        agent.start_episodes(terminals, store=True)
        for i, row in enumerate(rows):
            if row % mem.segment < mem.history_length:
                continue
            batch = mem.gather(np.array([row]))
            assert (batch.prestates[0] == before[i]).all(), f"stream {i} row {row}: prestate differs"
            assert (batch.poststates[0, :-1] == before[i, 1:]).all()
            checked += 1
    assert checked > 1000


def test_vector_agent_keeps_the_single_agent_replay_ratio():
    class CountingNet:
        def __init__(self):
            self.updates, self.target_copies = 0, 0

        def train(self, minibatch):
            self.updates += 1
            return np.zeros(len(minibatch.indexes))

        def update_target_network(self):
            self.target_copies += 1

        def predict(self, states):
            return np.zeros((len(states), 3))

    agent, env, mem = catch_agent(4, train_frequency=4, train_repeat=2, target_steps=100)
    agent.net = CountingNet()
    agent.play_random(400)
    played = agent.train(1000)
    # Random starts are not steps: the phase may end up to 3 steps late, and the updates follow the count.
    assert 1000 <= played < 1004 and agent.total_train_steps == played
    assert agent.net.updates == 2 * -(-played // 4)  # one minibatch (x train_repeat) per 4 env steps
    assert agent.net.target_copies == -(-played // 100)


def test_statistics_count_steps_and_games_of_all_streams():
    agent, env, mem = catch_agent(3, random_starts=0)
    stats = Statistics(None, progress=False)
    stats.reset("random")
    agent.callback = stats
    played = agent.play_random(301)
    assert played == 303 and stats.num_steps == 303  # the phase ends on the step that reaches 301
    # A catch game lasts 9 steps: each of the 3 streams finished 101 // 9 = 11 games.
    assert stats.num_games == 33
    assert -1 <= stats.min_game_reward <= stats.average_reward <= stats.max_game_reward <= 1
    assert len(stats.stream_rewards) == 3


def test_play_scores_exactly_the_games_asked_for():
    agent, env, mem = catch_agent(4)
    env.set_mode("test")
    scores = agent.play(6)
    assert len(scores) == 6 and set(scores) <= {-1.0, 1.0}


def test_ale_vector_screens_equal_the_single_environment_screens():
    vector = ALEVectorEnvironment("breakout", 2, frame_pooling="max")
    single = one_game(ALEGame("breakout", frame_pooling="max"))
    first = vector.restart()
    assert (first[0] == single.restart()[0]).all()
    rng = np.random.default_rng(0)
    lives_lost = 0
    for _ in range(400):
        actions = rng.integers(vector.num_actions, size=2)
        reward, screen, terminal = single.step(actions[:1])
        rewards, screens, terminals = vector.step(actions)
        assert rewards[0] == reward[0]
        assert (screens[0] == screen[0]).all()
        assert terminals[0] == terminal[0]
        if terminals.any():
            restarted = vector.restart(terminals)
            if terminals[0]:
                lives_lost += 1
                assert (restarted[0] == single.restart()[0]).all()
    assert lives_lost >= 1  # random play in Breakout loses a life within 400 steps


def test_ale_vector_test_mode_frame_cap_restarts_the_game():
    vector = ALEVectorEnvironment("breakout", 2, frame_pooling="none", max_episode_frames=400)
    vector.set_mode("test")
    vector.restart()
    ends = []
    for step in range(1, 251):
        _, _, terminals = vector.step(np.zeros(2, dtype=np.int64))  # never fire: only the cap ends it
        if terminals.any():
            assert terminals.all()
            ends.append(step)
            vector.restart(terminals)
    assert ends == [100, 200]  # 400 frames / frame_skip 4, then a new game capped again


def test_ale_vector_environment_refuses_colour_averaging():
    from simple_dqn.errors import UsageError

    with pytest.raises(UsageError, match="--frame_pooling max"):
        ALEVectorEnvironment("breakout", 2, frame_pooling="average")


def test_breakout_trains_through_the_cli_with_num_envs(tmp_path):
    csv_path = tmp_path / "breakout.csv"
    proc = run_cli(["breakout", "--num_envs", "2", "--frame_pooling", "max", "--random_steps", "200",
                    "--train_steps", "100", "--test_steps", "100", "--epochs", "1", "--replay_size", "2000",
                    "--backend", "cpu", "--random_seed", "1", "--csv_file", csv_path], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    random, train, test = results(csv_path)
    # A phase ends on the first step of both games that reaches its length (start actions not counted).
    assert [r["phase"] for r in (random, train, test)] == ["random", "train", "test"]
    steps = [int(r["steps"]) for r in (random, train, test)]
    assert 200 <= steps[0] <= 201 and 100 <= steps[1] <= 101 and 100 <= steps[2] <= 101
    assert int(train["total_train_steps"]) == steps[1]  # total_train_steps count the steps of both games
    # The memory holds every step of both streams, their random starts (up to 31 no-ops and
    # FIRE) included, plus a start row per episode.
    games = int(random["nr_games"]) + int(train["nr_games"]) + 2
    assert sum(steps[:2]) + 2 <= int(train["replay_memory_count"]) <= sum(steps[:2]) + 33 * games


@pytest.mark.parametrize("args, fragments", [
    (["breakout", "--num_envs", "2"], ["--frame_pooling max"]),
    (["breakout", "--num_envs", "0"], ["--num_envs", "positive"]),
    (["catch", "--num_envs", "400"], ["--replay_size", "--num_envs"]),
    (["breakout", "--num_envs", "2", "--frame_pooling", "max", "--display_screen", "true"], ["--display_screen"]),
])
def test_bad_num_envs(args, fragments):
    proc = run_cli([*args, "--random_steps", "100", "--replay_size", "2000", "--backend", "cpu"], timeout=120)
    assert_one_line_error(proc, *fragments)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [
    ["--n_step", "3"],
    # bfloat16 autocast (given a second epoch) only where the CPU has it: elsewhere it is refused.
    [*(["--autocast", "bfloat16", "--epochs", "2"] if HAS_BF16 else []), "--channels_last", "true", "--prioritized_replay",
     "--double_q", "--dueling"],
], ids=["num_envs_4_n_step", "num_envs_4_all_fast_paths"])
def test_catch_learns_with_num_envs(tmp_path, extra):
    csv_path = tmp_path / "catch.csv"
    proc = run_cli([*CATCH_FAST, "--num_envs", "4", *extra, "--csv_file", csv_path], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reward = float([r for r in results(csv_path) if r["phase"] == "test"][-1]["average_reward"])
    assert reward >= CATCH_LEARNED, f"catch test average reward {reward} < {CATCH_LEARNED} with --num_envs 4 {extra}"


def test_checkpoint_resumes_with_the_same_num_envs_only(tmp_path):
    run = ["catch", "--random_starts", "0", "--replay_size", "2000", "--random_steps", "200", "--train_steps",
           "300", "--test_steps", "100", "--screen_width", "36", "--screen_height", "36", "--random_seed", "1",
           "--backend", "cpu", "--checkpoint", "--save_weights_prefix", tmp_path / "catch",
           "--csv_file", tmp_path / "catch.csv"]
    first = run_cli([*run, "--num_envs", "2", "--epochs", "1"], timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    before = (tmp_path / "catch.csv").read_text()
    other = run_cli([*run, "--num_envs", "3", "--epochs", "2", "--resume", "auto"], timeout=120)
    assert_one_line_error(other, "--num_envs 2")
    assert (tmp_path / "catch.csv").read_text() == before
    same = run_cli([*run, "--num_envs", "2", "--epochs", "2", "--resume", "auto"], timeout=120)
    assert same.returncode == 0, same.stderr[-2000:]
    rows = results(tmp_path / "catch.csv")
    assert [(r["epoch"], r["phase"], r["total_train_steps"]) for r in rows] == [
        ("0", "random", "0"), ("1", "train", "300"), ("1", "test", "300"), ("2", "train", "600"), ("2", "test", "600")]
    # The replay memory came back: epoch 2 adds to epoch 1's count instead of starting over.
    assert int(rows[3]["replay_memory_count"]) > int(rows[2]["replay_memory_count"]) + 300


def test_resume_sh_reuses_the_snapshots_num_envs(tmp_path):
    import torch

    from simple_dqn.arguments import load_arguments
    from simple_dqn.snapshot import save_snapshot

    path = tmp_path / "catch_1.safetensors"
    save_snapshot(str(path), {"w": torch.zeros(1)}, game="catch", environment="catch", epoch=1, total_train_steps=10,
                  action_set=[0, 1, 2], screen_shape=(36, 36), history_length=4, architecture={},
                  options={"num_envs": 4, "game": "catch", "replay_size": 2000}, weight_updates=1)
    args, _ = load_arguments(["--load_weights", str(path), "--start_epoch", "1", "--backend", "cpu"])
    assert args.num_envs == 4
    args, _ = load_arguments(["--load_weights", str(path), "--num_envs", "2", "--backend", "cpu"])
    assert args.num_envs == 2
