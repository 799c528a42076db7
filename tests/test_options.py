"""The DeepMind options and the improvements: each one's mechanics, by hand-worked numbers."""

import math

import numpy as np
import pytest
import torch

from simple_dqn.arguments import PRESETS, parse_arguments
from simple_dqn.deepqnetwork import QNetwork, init_weights, td_targets
from simple_dqn.ale_game import ALEGame
from simple_dqn.environment import resize_screen
from simple_dqn.evaluation import summarize
from simple_dqn.optimizers import GravesRMSprop, NeonRMSprop
from simple_dqn.prioritized_replay import PrioritizedReplayMemory


def test_graves_rmsprop_hand_computed_step():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = GravesRMSprop([w], lr=0.1, decay=0.95, eps=0.01, grad_scale=2.0)
    w.grad = torch.tensor([0.5, -1.0])
    opt.step()
    g = np.array([1.0, -2.0])  # scaled by grad_scale
    m = 0.05 * g
    v = 0.05 * g ** 2
    expected = np.array([1.0, -2.0]) - 0.1 * g / np.sqrt(v - m ** 2 + 0.01)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)
    # A second step uses the running means.
    w.grad = torch.tensor([0.25, 0.0])
    opt.step()
    g2 = np.array([0.5, 0.0])
    m = 0.95 * m + 0.05 * g2
    v = 0.95 * v + 0.05 * g2 ** 2
    expected = expected - 0.1 * g2 / np.sqrt(v - m ** 2 + 0.01)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)


def test_neon_rmsprop_hand_computed_step():
    w = torch.tensor([1.0], requires_grad=True)
    opt = NeonRMSprop([w], lr=0.01, decay=0.9, eps=1e-6)
    w.grad = torch.tensor([2.0])
    opt.step()
    v = 0.1 * 4.0
    assert math.isclose(w.item(), 1.0 - 0.01 * 2.0 / (math.sqrt(v + 1e-6) + 1e-6), rel_tol=1e-6)


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


def test_fan_in_init_bounds():
    net = QNetwork(num_actions=4, history_length=4, screen_shape=(84, 84))
    init_weights(net, "fan_in")
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            bound = 1 / math.sqrt(module.weight[0].numel())
            assert module.weight.abs().max() <= bound and module.bias.abs().max() <= bound
            assert module.weight.abs().max() > 0.9 * bound, "uniform over the whole range"
            assert module.bias.abs().max() > 0, "biases are drawn too, not zero"


def test_double_q_target_hand_made_batch():
    rewards = torch.tensor([1.0, 0.0])
    terminals = torch.tensor([False, False])
    next_q_target = torch.tensor([[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]])
    next_q_online = torch.tensor([[9.0, 0.0, 0.0], [0.0, 7.0, 1.0]])
    double = td_targets(rewards, terminals, next_q_target, 0.5, next_q_online)
    # online picks actions 0 and 1; the target network evaluates them: 1.0 and -1.0
    assert torch.allclose(double, torch.tensor([1.0 + 0.5 * 1.0, 0.5 * -1.0]))
    plain = td_targets(rewards, terminals, next_q_target, 0.5)
    assert torch.allclose(plain, torch.tensor([1.0 + 0.5 * 5.0, 0.5 * 3.0]))


def test_dueling_shape_and_mean_zero_advantage():
    torch.manual_seed(0)
    net = QNetwork(num_actions=5, history_length=4, screen_shape=(84, 84), dueling=True)
    states = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    q = net(states)
    assert q.shape == (6, 5)
    features = net.features(states.float() / 255)
    value = net.value(features)
    np.testing.assert_allclose((q - value).mean(dim=1).detach().numpy(), 0.0, atol=1e-5)


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


def test_new_transitions_get_max_priority():
    mem = PrioritizedReplayMemory(size=64, history_length=1, screen_shape=(36, 36), batch_size=4)
    screen = np.zeros((36, 36), np.uint8)
    for _ in range(5):
        mem.add(0, 0.0, screen, False)
    mem.update_priorities(np.array([2]), np.array([10.0]))
    mem.add(0, 0.0, screen, False)
    assert mem.tree.get(np.array([5]))[0] == pytest.approx(mem.max_priority)
    assert mem.max_priority == pytest.approx((10.0 + mem.epsilon) ** 0.6)


def test_presets_and_explicit_override():
    nature = parse_arguments(["breakout", "--preset", "nature"])
    for key, value in PRESETS["nature"].items():
        assert getattr(nature, key) == value
    overridden = parse_arguments(["breakout", "--preset", "nature", "--frame_pooling", "average"])
    assert overridden.frame_pooling == "average" and overridden.init == "fan_in"
    machado = parse_arguments(["breakout", "--preset", "machado"])
    assert machado.repeat_action_probability == 0.25 and not machado.minimal_action_set
    assert not machado.life_loss_terminal
    default = parse_arguments(["breakout"])
    assert (default.rmsprop_variant, default.frame_pooling, default.init, default.loss) == (
        "standard", "average", "xavier", "huber")
    assert parse_arguments(["breakout", "--full_action_set"]).minimal_action_set is False
    assert parse_arguments(["breakout", "--color_averaging", "false"]).frame_pooling == "none"


def test_snapshot_options_are_reused_but_explicit_flags_win():
    stored = dict(rmsprop_variant="graves", dueling=True, learning_rate=0.01, preset="nature",
                  csv_file="elsewhere.csv", epochs=7)
    args = parse_arguments(["breakout", "--load_weights", "x", "--learning_rate", "0.5"], stored)
    assert args.rmsprop_variant == "graves" and args.dueling and args.learning_rate == 0.5
    assert args.csv_file is None and args.epochs == 200, "paths and run lengths are not reused"


def test_evaluation_summary():
    summary = summarize([1.0, 2.0, 3.0, 10.0])
    assert summary == dict(games=4, mean=4.0, std=pytest.approx(np.std([1, 2, 3, 10])), min=1.0, max=10.0,
                           median=2.5)


def test_frame_cap_ends_test_games_only():
    from conftest import noop_steps_until_terminal

    from conftest import one_game

    env = one_game(ALEGame("breakout", random_seed=1), max_episode_frames=400)
    assert noop_steps_until_terminal(env) == 100 and env.games[0].ale.getEpisodeFrameNumber() == 400
    env.set_mode("train")
    assert not env.game_ended()


def test_test_games_protocol_on_the_command_line(tmp_path):
    from conftest import run_cli

    prefix = tmp_path / "catch"
    common = ["--screen_width", "36", "--screen_height", "36", "--backend", "cpu", "--random_starts", "0"]
    proc = run_cli(["catch", "--random_steps", "200", "--train_steps", "100", "--test_steps", "0", "--epochs", "1",
                    "--replay_size", "1000", "--save_weights_prefix", prefix, *common], timeout=120)
    assert proc.returncode == 0, proc.stderr
    csv_path = tmp_path / "eval.csv"
    proc = run_cli(["--load_weights", tmp_path / "catch_1.safetensors", "--random_steps", "0", "--train_steps", "0",
                    "--test_games", "30", "--csv_file", csv_path, *common], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test over 30 games: games: 30, mean:" in proc.stdout
    lines = (tmp_path / "eval_games.csv").read_text().splitlines()
    assert lines[0] == "epoch,game,score" and len(lines) == 1 + 30 + 1 + 2
    assert lines[-2] == "epoch,games,mean,std,min,max,median"
