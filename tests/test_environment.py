"""Environments on the real emulator: ALE Breakout through ale-py (frame pooling, the episode rules,
the frame cap), Gymnasium, catch."""

import numpy as np
import pytest

from conftest import one_game

from simple_dqn.ale_game import ALEGame
from simple_dqn.catch import CatchGame
from simple_dqn.environment import resize_screen
from simple_dqn.errors import UsageError
from simple_dqn.gym_game import GymGame
from simple_dqn.roms import resolve_rom


def play_until_life_lost(env, limit=5000):
    """Random play in stream 0 until a step loses a life; returns (lost, that step's terminal flag)."""
    rng = np.random.default_rng()
    for _ in range(limit):
        _, _, terminals = env.step(rng.integers(env.num_actions, size=1))
        if env.life_lost[0]:
            return True, bool(terminals[0])
        if env.ended[0]:
            env.restart()
    return False, False


def test_breakout_minimal_actions_and_screen():
    env = one_game(ALEGame("roms/breakout.bin", random_seed=1))
    assert env.num_actions == 4
    assert env.name == "breakout"
    env.restart()
    _, screens, _ = env.step(np.array([1]))
    screen = screens[0]
    assert screen.shape == (84, 84) and screen.dtype == np.uint8
    assert screen.max() > 0
    full = one_game(ALEGame("breakout", minimal_action_set=False))
    assert full.num_actions == 18


def test_breakout_life_loss_is_terminal_in_train_mode_only():
    env = one_game(ALEGame("breakout", random_seed=2))
    ale = env.games[0].ale
    env.set_mode("train")
    env.restart()
    lost, terminal = play_until_life_lost(env)
    assert lost
    assert not env.ended[0]
    assert terminal
    lives = ale.lives()
    env.restart()  # train mode: the game goes on from the same state
    assert ale.lives() == lives and not env.life_lost[0] and not env.ended[0]

    env.set_mode("test")
    env.restart()
    lost, terminal = play_until_life_lost(env)
    assert lost
    assert not terminal, "a lost life is not terminal in test mode"


def test_life_loss_terminal_can_be_switched_off():
    env = one_game(ALEGame("breakout", random_seed=2), life_loss_terminal=False)
    env.restart()
    lost, terminal = play_until_life_lost(env)
    assert lost
    assert not terminal


def test_rom_resolution():
    assert resolve_rom("roms/space_invaders.bin").endswith("space_invaders.bin")
    assert resolve_rom("pong").endswith("pong.bin")
    with pytest.raises(UsageError, match="did you mean breakout"):
        resolve_rom("roms/breakot.bin")


def test_gymnasium_environment_grayscale_and_lives():
    env = one_game(GymGame("ALE/Breakout-v5", random_seed=0, repeat_action_probability=0.0))
    assert env.num_actions == 4
    screen = env.restart()[0]
    assert screen.shape == (84, 84) and screen.dtype == np.uint8
    env.set_mode("train")
    lost, terminal = play_until_life_lost(env)
    assert lost
    assert terminal
    with pytest.raises(UsageError, match="unknown Gymnasium"):
        GymGame("ALE/Breakot-v5")


def test_catch_rules():
    env = one_game(CatchGame(screen_shape=(36, 36), random_seed=0))
    game = env.games[0]
    env.restart()
    total, steps, terminal = 0.0, 0, False
    while not terminal:
        # Move the basket under the fruit.
        action = 0 if game.basket == game.fruit_col else (1 if game.fruit_col < game.basket else 2)
        rewards, screens, terminals = env.step(np.array([action]))
        total += rewards[0]
        terminal = terminals[0]
        steps += 1
    assert steps == 9 and total == 1.0
    env.restart()
    terminal = False
    while not terminal:
        away = 2 if game.fruit_col < 5 else 1
        rewards, screens, terminals = env.step(np.array([away]))
        total, terminal = rewards[0], terminals[0]
    assert total == -1.0
    screen = screens[0]
    assert screen.shape == (36, 36) and set(np.unique(screen)) <= {0, 255}


def test_resize_is_linear_interpolation():
    frame = np.arange(210 * 160, dtype=np.uint32).reshape(210, 160).astype(np.uint8)
    assert resize_screen(frame, (84, 84)).shape == (84, 84)


def test_gymnasium_ids_through_the_command_line(tmp_path):
    from conftest import results, run_cli

    for game in ("ALE/Breakout-v5", "BreakoutNoFrameskip-v4"):
        csv_path = tmp_path / f"{game.replace('/', '_')}.csv"
        proc = run_cli([game, "--random_steps", "300", "--train_steps", "60", "--test_steps", "30", "--epochs", "1",
                        "--replay_size", "1000", "--backend", "cpu", "--csv_file", csv_path], timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert [r["phase"] for r in results(csv_path)] == ["random", "train", "test"]
    env = one_game(GymGame("BreakoutNoFrameskip-v4", frameskip=4))
    env.restart()
    env.step(np.array([1]))
    assert env.games[0].env.unwrapped.ale.getEpisodeFrameNumber() == 4, "--frame_skip reaches NoFrameskip ids"


def test_gymnasium_frame_cap_in_test_mode():
    from conftest import noop_steps_until_terminal

    env = one_game(GymGame("ALE/Breakout-v5", repeat_action_probability=0.0), max_episode_frames=400)
    assert noop_steps_until_terminal(env) == 100


def test_max_pooling_of_two_known_frames():
    pooled = ALEGame("breakout", frame_pooling="max", frame_skip=4, random_seed=5)
    frames = ALEGame("breakout", frame_pooling="none", frame_skip=1, random_seed=5)
    for game in (pooled, frames):
        game.reset_game()
    for step in range(40):
        action = 1 if step % 10 == 0 else (2 if step % 3 else 3)
        pooled.act(action)
        raw = []
        for _ in range(4):
            frames.act(action)
            raw.append(frames.ale.getScreenGrayscale().copy())
        expected = resize_screen(np.maximum(raw[-1], raw[-2]), (84, 84))
        np.testing.assert_array_equal(pooled.get_screen(), expected)
    assert not np.array_equal(raw[-1], raw[-2]), "the test needs frames that differ"


def test_no_pooling_is_the_last_frame():
    env = ALEGame("breakout", frame_pooling="none", random_seed=5)
    env.reset_game()
    env.act(1)
    np.testing.assert_array_equal(env.get_screen(), resize_screen(env.ale.getScreenGrayscale(), (84, 84)))


def test_frame_cap_ends_test_games_only():
    from conftest import noop_steps_until_terminal

    env = one_game(ALEGame("breakout", random_seed=1), max_episode_frames=400)
    assert noop_steps_until_terminal(env) == 100 and env.games[0].ale.getEpisodeFrameNumber() == 400
    env.set_mode("train")
    assert not env.game_ended()


class GreedyNoop:
    """A network whose greedy action is always the first (NOOP)."""

    def predict(self, states):
        q = np.zeros((len(states), 4), dtype=np.float32)
        q[:, 0] = 1.0
        return q


def test_each_kind_of_game_names_its_fire_action():
    from simple_dqn.ale_vector_environment import ALEVectorEnvironment

    # Breakout's minimal set is NOOP, FIRE, RIGHT, LEFT; Pong's NOOP, FIRE, RIGHT, LEFT, ... too;
    # the full set puts FIRE at 1 as well. Catch has no FIRE.
    assert ALEGame("breakout").fire_action == 1
    assert one_game(ALEGame("breakout")).fire_action == 1
    assert ALEVectorEnvironment("breakout", 2).fire_action == 1
    assert GymGame("ALE/Breakout-v5").fire_action == 1
    assert one_game(CatchGame()).fire_action is None
    # Freeway has no FIRE in its minimal set (NOOP, UP, DOWN).
    assert ALEGame("freeway").fire_action is None
    assert GymGame("ALE/Freeway-v5").fire_action is None


@pytest.mark.parametrize("fire_action", [None, 1])
def test_fire_reset_launches_breakout_ball(fire_action):
    from simple_dqn.agent import Agent

    env = one_game(ALEGame("breakout", random_seed=3))
    agent = Agent(env, None, GreedyNoop(), exploration_rate_test=0.0, random_starts=5, fire_action=fire_action,
                  rng=np.random.default_rng(0))
    agent.begin()
    lives = env.games[0].ale.lives()
    for _ in range(400):  # a launched ball that nobody returns costs a life within about 100 steps
        agent.act(0.0)
        agent.observe(0.0)
    # In test mode a lost life does not end the episode, so nothing fires a second ball.
    assert lives - env.games[0].ale.lives() == (0 if fire_action is None else 1)
