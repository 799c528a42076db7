"""Environments on the real emulator: ALE Breakout through ale-py, Gymnasium, catch."""

import numpy as np
import pytest

from simple_dqn.catch import CatchEnvironment
from simple_dqn.environment import ALEEnvironment, GymEnvironment, resize_screen, resolve_rom
from simple_dqn.errors import UsageError


def play_until_life_lost(env, limit=5000):
    for _ in range(limit):
        env.act(int(np.random.default_rng().integers(env.num_actions)))
        if env.life_lost:
            return True
        if env.game_over():
            env.reset_game()
    return False


def test_breakout_minimal_actions_and_screen():
    env = ALEEnvironment("roms/breakout.bin", random_seed=1)
    assert env.num_actions == 4
    assert env.name == "breakout"
    env.restart()
    env.act(1)
    screen = env.get_screen()
    assert screen.shape == (84, 84) and screen.dtype == np.uint8
    assert screen.max() > 0
    full = ALEEnvironment("breakout", minimal_action_set=False)
    assert full.num_actions == 18


def test_breakout_life_loss_is_terminal_in_train_mode_only():
    env = ALEEnvironment("breakout", random_seed=2)
    env.set_mode("train")
    env.restart()
    assert play_until_life_lost(env)
    assert not env.game_over()
    assert env.is_terminal()
    lives = env.ale.lives()
    env.restart()  # train mode: the game goes on from the same state
    assert env.ale.lives() == lives and not env.is_terminal()

    env.set_mode("test")
    env.restart()
    assert play_until_life_lost(env)
    assert not env.is_terminal(), "a lost life is not terminal in test mode"


def test_life_loss_terminal_can_be_switched_off():
    env = ALEEnvironment("breakout", random_seed=2, life_loss_terminal=False)
    env.restart()
    assert play_until_life_lost(env)
    assert not env.is_terminal()


def test_rom_resolution():
    assert resolve_rom("roms/space_invaders.bin").endswith("space_invaders.bin")
    assert resolve_rom("pong").endswith("pong.bin")
    with pytest.raises(UsageError, match="did you mean breakout"):
        resolve_rom("roms/breakot.bin")


def test_gymnasium_environment_grayscale_and_lives():
    env = GymEnvironment("ALE/Breakout-v5", random_seed=0, repeat_action_probability=0.0)
    assert env.num_actions == 4
    env.restart()
    screen = env.get_screen()
    assert screen.shape == (84, 84) and screen.dtype == np.uint8
    env.set_mode("train")
    assert play_until_life_lost(env)
    assert env.is_terminal()
    with pytest.raises(UsageError, match="unknown Gymnasium"):
        GymEnvironment("ALE/Breakot-v5")


def test_catch_rules():
    env = CatchEnvironment(screen_shape=(36, 36), random_seed=0)
    env.restart()
    total, steps = 0.0, 0
    while not env.is_terminal():
        # Move the basket under the fruit.
        action = 0 if env.basket == env.fruit_col else (1 if env.fruit_col < env.basket else 2)
        total += env.act(action)
        steps += 1
    assert steps == 9 and total == 1.0
    env.restart()
    while not env.is_terminal():
        away = 2 if env.fruit_col < 5 else 1
        total = env.act(away)
    assert total == -1.0
    screen = env.get_screen()
    assert screen.shape == (36, 36) and set(np.unique(screen)) <= {0, 255}


def test_resize_is_linear_interpolation():
    frame = np.arange(210 * 160, dtype=np.uint32).reshape(210, 160).astype(np.uint8)
    assert resize_screen(frame, (84, 84)).shape == (84, 84)


def test_gymnasium_ids_through_the_command_line(tmp_path):
    from conftest import run_cli

    for game in ("ALE/Breakout-v5", "BreakoutNoFrameskip-v4"):
        csv_path = tmp_path / "gym.csv"
        proc = run_cli([game, "--random_steps", "300", "--train_steps", "60", "--test_steps", "30", "--epochs", "1",
                        "--replay_size", "1000", "--backend", "cpu", "--csv_file", csv_path], timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert [r.split(",")[1] for r in csv_path.read_text().splitlines()[1:]] == ["random", "train", "test"]
    env = GymEnvironment("BreakoutNoFrameskip-v4", frameskip=4)
    env.restart()
    env.act(1)
    assert env.env.unwrapped.ale.getEpisodeFrameNumber() == 4, "--frame_skip reaches NoFrameskip ids"


def test_gymnasium_frame_cap_in_test_mode():
    from conftest import noop_steps_until_terminal

    env = GymEnvironment("ALE/Breakout-v5", max_episode_frames=400, repeat_action_probability=0.0)
    assert noop_steps_until_terminal(env) == 100
