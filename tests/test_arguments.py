"""The command line: presets, explicit flags over presets and snapshots, the original's flags as aliases."""

from simple_dqn.arguments import PRESETS, parse_arguments


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


def test_the_cpu_recipe_is_tianshou_at_natures_update_period_with_expected_sarsa():
    tianshou, cpu = (vars(parse_arguments(["pong", "--preset", name])) for name in ("tianshou", "cpu"))
    differ = {key: (tianshou[key], cpu[key]) for key in tianshou if tianshou[key] != cpu[key]}
    assert differ == dict(preset=("tianshou", "cpu"), train_frequency=(10, 4), target_steps=(5_000, 2_000),
                          numerics=("float32", "auto"), target_exploration_rate=(0.0, 0.05))


def test_snapshot_options_are_reused_but_explicit_flags_win():
    stored = dict(rmsprop_variant="graves", dueling=True, learning_rate=0.01, preset="nature",
                  csv_file="elsewhere.csv", epochs=7)
    args = parse_arguments(["breakout", "--load_weights", "x", "--learning_rate", "0.5"], stored)
    assert args.rmsprop_variant == "graves" and args.dueling and args.learning_rate == 0.5
    assert args.csv_file is None and args.epochs == 200, "paths and run lengths are not reused"


def test_the_originals_flags_are_aliases_of_one_option_each():
    assert parse_arguments(["breakout", "--color_averaging", "false"]).frame_pooling == "none"
    assert parse_arguments(["breakout", "--preset", "nature", "--color_averaging"]).frame_pooling == "average"
    assert not hasattr(parse_arguments(["breakout"]), "color_averaging")
    unclipped = parse_arguments(["breakout", "--clip_error", "0"])
    assert unclipped.loss == "mse", "the original's --clip_error 0 (no clipping) is the MSE loss"
    assert parse_arguments(["breakout", "--clip_error", "2"]).loss == "huber"


def test_every_boolean_is_parsed_one_way():
    for flag in ("--display_screen", "--minimal_action_set", "--life_loss_terminal", "--batch_norm", "--double_q",
                 "--dueling", "--channels_last", "--prioritized_replay", "--checkpoint"):
        dest = flag[2:]
        assert getattr(parse_arguments(["breakout", flag]), dest) is True, flag  # bare
        for word, value in (("true", True), ("yes", True), ("0", False), ("off", False)):
            assert getattr(parse_arguments(["breakout", flag, word]), dest) is value, (flag, word)
