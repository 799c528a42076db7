"""The command line: the original simple_dqn's flags, defaults and groups, plus presets.

Values are resolved in this order, each overriding the one before:
parser defaults < the options stored in the snapshot given by --load_weights < the
explicitly given --preset < flags given explicitly on the command line.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

from simple_dqn.errors import UsageError

logger = logging.getLogger("simple_dqn")

TRUE_WORDS = ("true", "yes", "1", "y", "t", "on")
FALSE_WORDS = ("false", "no", "0", "n", "f", "off")

# Each preset is a documented bundle of flags; explicit flags still override it.
PRESETS: dict[str, dict] = {
    # The original simple_dqn's defaults.
    "simple_dqn": {},
    # Everything DeepMind's Nature DQN used (Mnih et al. 2015 and its released code).
    "nature": dict(rmsprop_variant="graves", frame_pooling="max", init="fan_in", random_starts=30,
                   max_episode_frames=18000),
    # The evaluation recommendations of Machado et al. 2018, "Revisiting the ALE".
    "machado": dict(repeat_action_probability=0.25, minimal_action_set=False, life_loss_terminal=False),
    # Fast learning: the Pong settings of M. Lapan, "Deep Reinforcement Learning Hands-On" (2nd ed.,
    # 2020), chapter 8 (lib/common.py HYPERPARAMS["pong"]: Adam 1e-4, replay 100k, 10k random steps,
    # target sync 1,000, epsilon 1 -> 0.02 over 100k steps, one update per step, MSE loss, PyTorch's
    # default init), plus 3-step returns (Rainbow's n, Hessel et al. 2018); max pooling and the
    # 18,000-frame test cap as Nature; epochs of 25k steps tested over 30 games (Nature's protocol).
    "lapan": dict(optimizer="adam", learning_rate=0.0001, loss="mse", replay_size=100_000, random_steps=10_000,
                  target_steps=1_000, exploration_rate_end=0.02, exploration_decay_steps=100_000,
                  train_frequency=1, n_step=3, frame_pooling="max", init="fan_in", max_episode_frames=18_000,
                  train_steps=25_000, test_games=30, epochs=40),
    # Learning with few updates, for CPUs: the many-game, low-replay-ratio settings of Tianshou's
    # Atari DQN example (thu-ml/tianshou, examples/atari/atari_dqn.py: 10 games stepped side by side,
    # one update per 10 environment steps, replay 100k, 3-step returns, Adam 1e-4, MSE loss, a target
    # copy every 500 updates = 5,000 environment steps, training epsilon 1 -> 0.05), with the
    # exploration decay over 250k steps as Dopamine's (epsilon_decay_period) instead of Tianshou's 1M;
    # max pooling, the 18,000-frame test cap and 30-game tests as Nature's protocol.
    "tianshou": dict(optimizer="adam", learning_rate=0.0001, loss="mse", replay_size=100_000, random_steps=10_000,
                     num_envs=10, train_frequency=10, target_steps=5_000, n_step=3, exploration_rate_end=0.05,
                     exploration_decay_steps=250_000, frame_pooling="max", init="fan_in",
                     max_episode_frames=18_000, train_steps=100_000, test_games=30, epochs=10),
    # Rainbow (Hessel et al. 2018, Table 1 and section 4): double Q, prioritized replay (omega 0.5,
    # beta 0.4 -> 1, priorities from the loss), dueling, 3-step returns, C51 (51 atoms in [-10, 10]),
    # noisy nets (sigma_0 0.5) instead of epsilon-greedy exploration, Adam 6.25e-5 with epsilon 1.5e-4,
    # learning from 80K frames = 20,000 steps, a target copy every 32K frames = 8,000 steps; Nature's
    # memory (1M), update period (4) and max pooling; tests as the Nature protocol.
    "rainbow": dict(double_q=True, prioritized_replay=True, priority_alpha=0.5, priority_beta_start=0.4, dueling=True,
                    n_step=3, num_atoms=51, v_min=-10.0, v_max=10.0, noisy=True, exploration_rate_start=0.0,
                    exploration_rate_end=0.0, optimizer="adam", learning_rate=0.0000625, adam_epsilon=1.5e-4,
                    random_steps=20_000, target_steps=8_000, replay_size=1_000_000, train_frequency=4,
                    frame_pooling="max", init="fan_in", max_episode_frames=18_000, test_games=30),
}
# The CPU recipe, measured on Pong (docs/results.md): tianshou's settings with one update per 4
# environment steps, the Nature DQN's update period (Mnih et al. 2015, "update frequency" 4), where
# Tianshou trains once per 10; a target copy every 500 updates as Tianshou's (2,000 steps here);
# bfloat16 passes where the CPU has bfloat16 hardware, float32 elsewhere (--numerics auto); Expected
# Sarsa targets under the test's epsilon-greedy policy (--target_exploration_rate 0.05).
PRESETS["cpu"] = dict(PRESETS["tianshou"], train_frequency=4, target_steps=2_000, numerics="auto",
                      target_exploration_rate=0.05)

# Options a snapshot records and --load_weights reuses unless given again (what defines the
# game, the network and the training); paths, step counts of the current run and display
# options are not reused.
REUSED_OPTIONS = (
    "environment", "frame_skip", "repeat_action_probability", "minimal_action_set", "frame_pooling",
    "screen_width", "screen_height", "max_episode_frames", "life_loss_terminal",
    "replay_size", "history_length", "prioritized_replay", "priority_alpha", "priority_beta_start",
    "priority_epsilon", "n_step", "learning_rate", "discount_rate", "batch_size", "optimizer", "decay_rate",
    "rmsprop_variant", "clip_error", "loss", "min_reward", "max_reward", "batch_norm", "double_q",
    "target_exploration_rate", "bootstrap_next_state", "dueling", "noisy", "scale_screens", "adam_epsilon", "num_atoms", "v_min", "v_max",
    "init", "datatype", "autocast", "channels_last", "exploration_rate_start", "exploration_rate_end",
    "exploration_decay_steps", "exploration_rate_test", "train_frequency", "train_repeat",
    "target_steps", "random_starts", "fire_reset", "store_start_actions", "random_steps", "train_steps", "test_steps", "test_games",
    "checkpoint", "preset", "num_envs",
)


def str2bool(value: str | bool) -> bool:
    """Parse a boolean flag value: true/false, yes/no, 1/0 (any case), as the original accepted."""
    if isinstance(value, bool):
        return value
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"expected true/false/yes/no/1/0, got {value!r}")


class _FullActionSet(argparse.Action):
    """--full_action_set [BOOL] is --minimal_action_set false."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.minimal_action_set = not str2bool(True if values is None else values)


class _ColorAveraging(argparse.Action):
    """--color_averaging [BOOL], the original's flag: --frame_pooling average (true) or none (false)."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.frame_pooling = "average" if str2bool(True if values is None else values) else "none"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _flag(group, name, **kwargs):
    """A boolean flag that may be given bare (--double_q) or with a value (--double_q false)."""
    group.add_argument(name, type=str2bool, nargs="?", const=True, metavar="BOOL", **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, grouped as the original's main.py."""
    parser = Parser(prog="simple_dqn", description="Train, test or play a Deep Q-learning agent on an "
                     "Atari game (ALE), a Gymnasium environment or the built-in catch game.")
    parser.add_argument("game", nargs="?", help="ROM file (roms/breakout.bin, or a bundled game name), "
                        "Gymnasium id (ALE/Breakout-v5) or 'catch'. May be left out with --load_weights: "
                        "the snapshot names its game.")

    env = parser.add_argument_group("Environment")
    env.add_argument("--environment", choices=["ale", "gym", "catch"], default="ale",
                     help="Play through ALE, Gymnasium, or the built-in catch game (also inferred "
                     "from the game name).")
    _flag(env, "--display_screen", default=False, help="Display game screen during "
                     "training and testing.")
    env.add_argument("--frame_skip", type=int, default=4, help="How many emulator frames to repeat "
                     "each chosen action.")
    env.add_argument("--repeat_action_probability", type=float, default=0.0, help="Probability that the "
                     "previous action is repeated instead of the chosen one, per frame (sticky actions).")
    _flag(env, "--minimal_action_set", default=True, help="Use the game's minimal "
                     "action set.")
    env.add_argument("--full_action_set", action=_FullActionSet, nargs="?", metavar="BOOL",
                     help="Use all 18 actions: the same as --minimal_action_set false.")
    env.add_argument("--frame_pooling", choices=["average", "max", "none"], default="average",
                     help="How the last two frames of a step make the screen: average (ALE colour "
                     "averaging, the original), max (Nature DQN) or none.")
    env.add_argument("--color_averaging", action=_ColorAveraging, dest="frame_pooling", nargs="?", metavar="BOOL",
                     default=argparse.SUPPRESS, help="The original's flag: true is --frame_pooling average, "
                     "false --frame_pooling none.")
    env.add_argument("--screen_width", type=int, default=84, help="Screen width after resize, in pixels.")
    env.add_argument("--screen_height", type=int, default=84, help="Screen height after resize, in pixels.")
    env.add_argument("--max_episode_frames", type=int, default=0, help="End a test or play game after "
                     "this many emulator frames (0: no cap; 18000 = 5 minutes at 60 Hz, the Nature cap).")
    _flag(env, "--life_loss_terminal", default=True, help="In train mode a lost life "
                     "ends the episode for learning (the original and DeepMind); false as Machado et al.")
    env.add_argument("--num_envs", type=int, default=1, help="Play this many copies of the game side by side "
                     "(ALE games on C++ threads, needing --frame_pooling max or none), acting for all with one "
                     "batched prediction; steps, epsilon and training count the steps of all copies.")
    env.add_argument("--record_screen_path", help="Record game screens under this path.")
    env.add_argument("--record_sound_filename", help="Record game sound in this file.")

    mem = parser.add_argument_group("Replay memory")
    mem.add_argument("--replay_size", type=int, default=1_000_000, help="Maximum size of replay memory, "
                     "in transitions (screens).")
    mem.add_argument("--history_length", type=int, default=4, help="How many screens form a state.")
    _flag(mem, "--prioritized_replay", default=False, help="Proportional prioritized replay "
          "(Schaul et al. 2016).")
    mem.add_argument("--priority_alpha", type=float, default=0.6, help="Priority exponent alpha.")
    mem.add_argument("--priority_beta_start", type=float, default=0.4, help="Importance-sampling exponent "
                     "beta at the start, annealed linearly to 1 over all training steps.")
    mem.add_argument("--n_step", type=int, default=1, help="Multi-step returns: learn from the discounted sum "
                     "of this many rewards and the target network's value after them (Sutton 1988; Rainbow, "
                     "Hessel et al. 2018); 1 is DQN's one-step TD target.")
    mem.add_argument("--priority_epsilon", type=float, default=1e-6, help="Added to |TD error| so that "
                     "no transition has zero priority.")

    net = parser.add_argument_group("Deep Q-learning network")
    net.add_argument("--learning_rate", type=float, default=0.00025, help="Learning rate.")
    net.add_argument("--discount_rate", type=float, default=0.99, help="Discount rate for future rewards.")
    net.add_argument("--batch_size", type=int, default=32, help="Minibatch size, in transitions.")
    net.add_argument("--optimizer", choices=["rmsprop", "adam", "adadelta"], default="rmsprop",
                     help="Network optimization algorithm.")
    net.add_argument("--decay_rate", type=float, default=0.95, help="Decay rate for RMSProp and Adadelta.")
    net.add_argument("--rmsprop_variant", choices=["standard", "graves"], default="standard",
                     help="standard: neon's RMSProp (the original); graves: DeepMind's centred form "
                     "(Graves 2013, eq. 40).")
    net.add_argument("--clip_error", type=float, default=1.0, help="The Huber loss's delta: the TD error "
                     "in the gradient is clipped to [-clip_error, clip_error] (with 1 exactly the original's "
                     "error clipping). 0 is the original's 'no clipping': --loss mse.")
    net.add_argument("--loss", choices=["huber", "mse"], default="huber", help="huber (delta --clip_error) "
                     "or mse (0.5 * TD error^2, never clipped).")
    net.add_argument("--min_reward", type=float, default=-1.0, help="Minimum reward (clip).")
    net.add_argument("--max_reward", type=float, default=1.0, help="Maximum reward (clip).")
    _flag(net, "--batch_norm", default=False, help="Use batch normalization in all "
                     "hidden layers.")
    _flag(net, "--double_q", default=False, help="Double Q-learning target (van Hasselt et al. 2016).")
    net.add_argument("--target_exploration_rate", type=float, default=0.0, help="Bootstrap the TD target on the "
                     "epsilon-greedy policy with this exploration rate, (1 - e) * max_a Q + e * mean_a Q (Expected "
                     "Sarsa, Sutton and Barto 2018, section 6.6), so that the agent learns the values of the "
                     "slightly random policy it is tested with (--exploration_rate_test); 0: Q-learning's max.")
    _flag(net, "--bootstrap_next_state", default=False, help="With --n_step > 1, bootstrap the TD target from "
          "the state one step ahead (discounted by discount_rate ** n_step) instead of n_step steps ahead, as "
          "Tianshou's C51 and Rainbow do; each of the next n_step - 1 rewards is then counted again inside the "
          "bootstrapped value.")
    _flag(net, "--dueling", default=False, help="Dueling network head (Wang et al. 2016).")
    net.add_argument("--num_atoms", type=int, default=0, help="Distributional DQN, C51 (Bellemare et al. 2017): "
                     "learn per action a distribution over this many atoms evenly spaced in [--v_min, --v_max] "
                     "(51 in the paper), with a cross-entropy loss instead of --loss; 0: off, the Q-network.")
    net.add_argument("--v_min", type=float, default=-10.0, help="C51's smallest atom (return, clipped rewards).")
    net.add_argument("--v_max", type=float, default=10.0, help="C51's largest atom.")
    _flag(net, "--noisy", default=False, help="Noisy networks (Fortunato et al. 2018): factorised Gaussian noise, "
          "sigma_0 0.5, on the fully connected layers, drawn afresh at every update and every action of a train "
          "phase (tests and play use the mean weights); usually with --exploration_rate_start 0 "
          "--exploration_rate_end 0.")
    _flag(net, "--scale_screens", default=True, help="Divide the pixels by 255 before the first layer (Nature DQN, "
          "the original); false feeds them as 0-255, as Tianshou's Atari examples do, which makes every activation "
          "255 times larger and each Adam step larger in the outputs.")
    net.add_argument("--adam_epsilon", type=float, default=1e-8, help="Adam's epsilon (PyTorch's default; Rainbow "
                     "uses 1.5e-4).")
    net.add_argument("--init", choices=["xavier", "fan_in"], default="xavier", help="Weight initialisation: "
                     "xavier (the original's neon) or fan_in (DeepMind's Torch default).")

    backend = parser.add_argument_group("Backend")
    backend.add_argument("--backend", choices=["cpu", "gpu"], default=None, help="Compute on the CPU or "
                         "a CUDA GPU (default: gpu when CUDA is available, else cpu).")
    backend.add_argument("--device_id", type=int, default=0, help="GPU device id (GPU backend only).")
    backend.add_argument("--datatype", choices=["float16", "float32", "float64"], default="float32",
                         help="The dtype of the network's weights, the optimizer's state and the loss "
                         "(what --autocast leaves alone).")
    backend.add_argument("--autocast", choices=["none", "bfloat16", "float16"], default="none",
                         help="The dtype of the convolutions and matrix products of the forward and "
                         "backward passes (mixed precision; weights, optimizer and loss stay in --datatype): "
                         "bfloat16 is 1.7x faster on CPUs with AVX-512 BF16 and on GPUs, and refused on CPUs "
                         "without amx_bf16 or avx512_bf16, which would emulate it.")
    backend.add_argument("--numerics", choices=["float32", "bfloat16", "auto"], default="float32",
                         help="float32: every pass in --datatype (the original). bfloat16: the forward and backward "
                         "passes and the predictions in bfloat16 on a copy of the network, float32 master weights "
                         "and optimizer (about 2x faster on CPUs with AMX; needs amx_bf16 or avx512_bf16). auto: "
                         "bfloat16 where the CPU has either flag, float32 elsewhere. The choice is logged.")
    backend.add_argument("--threads", type=int, default=0, help="torch's CPU threads. 0: as many as the cores "
                         "other processes leave free, measured every 5 seconds (on a busy machine a thread per "
                         "core runs several times slower); N: always N.")
    _flag(backend, "--channels_last", default=True, help="Keep convolution activations "
                         "channels-last (NHWC): the same network, faster convolutions.")
    backend.add_argument("--cuda_graphs", type=str2bool, default=None, help="Replay the update and the "
                         "prediction as CUDA graphs: the same arithmetic, one launch each (default: true on the "
                         "gpu backend; gpu only).")
    backend.add_argument("--replay_on_gpu", type=str2bool, default=False, help="Mirror the replay memory's "
                         "screens on the GPU and gather minibatches there (1M screens take 7.06 GB of GPU "
                         "memory; gpu only).")

    agent = parser.add_argument_group("Agent")
    agent.add_argument("--exploration_rate_start", type=float, default=1.0, help="Exploration rate at the "
                       "beginning of decay.")
    agent.add_argument("--exploration_rate_end", type=float, default=0.1, help="Exploration rate at the end "
                       "of decay.")
    agent.add_argument("--exploration_decay_steps", type=float, default=1_000_000, help="How many train "
                       "steps to decay the exploration rate over.")
    agent.add_argument("--exploration_rate_test", type=float, default=0.05, help="Exploration rate used "
                       "during testing and play.")
    agent.add_argument("--train_frequency", type=int, default=4, help="Train the network every this many "
                       "agent steps.")
    agent.add_argument("--train_repeat", type=int, default=1, help="Minibatches to train on each time.")
    agent.add_argument("--target_steps", type=int, default=10_000, help="Copy the online network to the "
                       "target network every this many agent steps (0: never).")
    agent.add_argument("--random_starts", type=int, default=30, help="Play at most this many no-op steps "
                       "after a restart, for more varied starts.")
    _flag(agent, "--fire_reset", default=False, help="Play FIRE as the first action of every episode, "
          "after its random start (after each lost life in training), on Atari games (ROMs or Gymnasium's "
          "ALE ids) that have FIRE: Breakout's ball waits for it (OpenAI Baselines' FireResetEnv, used by "
          "Tianshou); other games play as without.")
    _flag(agent, "--store_start_actions", default=True, help="Store the random start's no-ops (and FIRE) in "
          "the replay memory as transitions, as the original's published runs; false hides them, as DeepMind's "
          "and Baselines' environment wrappers: the learned episode begins after its random start.")

    vis = parser.add_argument_group("Visualization")
    vis.add_argument("--visualization_filters", type=int, default=4, help="Number of filters to visualize "
                     "from each convolutional layer.")
    vis.add_argument("--visualization_file", help="Write the layer visualization to this HTML file.")

    main = parser.add_argument_group("Main loop")
    main.add_argument("--random_steps", type=int, default=50_000, help="Populate replay memory with this "
                      "many random steps before learning.")
    main.add_argument("--train_steps", type=int, default=250_000, help="Training steps per epoch.")
    main.add_argument("--test_steps", type=int, default=125_000, help="Testing steps after each epoch.")
    main.add_argument("--test_games", type=int, default=0, help="Test by playing exactly this many games "
                      "instead of --test_steps, and report mean, std, min, max and median score.")
    main.add_argument("--epochs", type=int, default=200, help="How many epochs to run.")
    main.add_argument("--start_epoch", type=int, default=0, help="Start from this epoch: sets the exploration "
                      "rate (start_epoch * train_steps train steps done) and the snapshot names.")
    main.add_argument("--play_games", type=int, default=0, help="Play this many games and exit (no training "
                      "or testing).")
    main.add_argument("--load_weights", help="Load the network from this snapshot.")
    main.add_argument("--save_weights_prefix", help="Save the network after each epoch to "
                      "<prefix>_<epoch>.safetensors.")
    main.add_argument("--csv_file", help="Write training progress to this CSV file.")
    _flag(main, "--checkpoint", default=False, help="End each epoch with a full-state checkpoint beside the "
          "snapshot (networks, optimizer, counters, random generators, replay memory), and make Ctrl-C or "
          "SIGTERM write one mid-epoch; see --resume.")
    main.add_argument("--tensorboard", metavar="DIR", help="Also write TensorBoard curves to this folder: "
                      "each row's values, each game's reward, the loss and mean Q (tensorboard --logdir DIR).")
    main.add_argument("--tensorboard_every", type=int, default=1000, help="Log the loss and mean Q to "
                      "TensorBoard every this many weight updates.")
    main.add_argument("--resume", choices=["auto"], default=None, help="auto: continue from the newest valid "
                      "checkpoint of --save_weights_prefix, if there is one, with the options stored in it (flags "
                      "given again win); turns --checkpoint on.")
    _flag(main, "--overwrite", default=False, help="Start this training run even where an earlier run's CSV or "
          "snapshots exist, removing that run's snapshots and checkpoints (without it such a start is refused).")

    common = parser.add_argument_group("Common")
    common.add_argument("--preset", choices=sorted(PRESETS), default="simple_dqn", help="A bundle of the "
                        "options above: simple_dqn (the original's defaults), nature (DeepMind's), "
                        "machado (Machado et al. 2018), rainbow (Hessel et al. 2018), lapan (fast learning: "
                        "Lapan's Deep RL Hands-On, 3-step returns, Pong in under 500k steps), tianshou (few "
                        "updates: 10 games, one update per 10 steps) or cpu (the CPU recipe: tianshou with one "
                        "update per 4 steps, Expected Sarsa targets at epsilon 0.05 and bfloat16 where the CPU "
                        "has it); explicit flags override it.")
    common.add_argument("--random_seed", type=int, help="Random seed for repeatable experiments.")
    common.add_argument("--log_level", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        default="INFO", help="Log level.")
    return parser


def explicit_options(argv: list[str]) -> dict:
    """The options given on the command line, without defaults (argparse errors exit 2)."""
    parser = build_parser()
    for action in parser._actions:
        if action.dest != "help":
            action.default = argparse.SUPPRESS
    return vars(parser.parse_args(argv))


# Options of a run that a resumed run (--resume auto) does not take from its checkpoint.
NOT_RESUMED = ("resume", "load_weights", "start_epoch", "log_level", "save_weights_prefix", "csv_file", "overwrite",
               "display_screen", "backend", "device_id")
# Options that cannot change in the middle of a run: given again with another value, a resume is refused.
FIXED_IN_A_RUN = ("game", "environment", "num_envs", "replay_size", "history_length", "screen_width",
                  "screen_height", "n_step", "prioritized_replay", "num_atoms", "v_min", "v_max", "dueling",
                  "batch_norm", "optimizer", "frame_skip", "minimal_action_set")
# Pairs where giving the first explicitly switches the stored second off.
EXCLUDING = (("test_steps", "test_games", 0),)


def parse_arguments(argv: list[str] | None = None, snapshot_options: dict | None = None,
                    run_options: dict | None = None) -> argparse.Namespace:
    """Parse and resolve the command line: resolve_arguments() without its list of stored options."""
    return resolve_arguments(argv, snapshot_options, run_options)[0]


def resolve_arguments(argv: list[str] | None = None, snapshot_options: dict | None = None,
                      run_options: dict | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Parse and resolve the command line (see the module docstring for the order).

    Returns (args, the names of the stored options taken that differ from the defaults).

    snapshot_options: the options stored in the --load_weights snapshot, or None.
    run_options: the options stored in the checkpoint that --resume auto continues, or None:
        all of them but NOT_RESUMED are used, below the flags given explicitly.

    Raises:
        SystemExit(2): unknown flags or values that do not parse.
        UsageError: values that cannot work (see validate()), or a flag of FIXED_IN_A_RUN given
            with another value than the resumed run's.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    explicit = explicit_options(argv)
    values = vars(args)
    stored = {}
    if snapshot_options:
        stored = {key: snapshot_options[key] for key in REUSED_OPTIONS if key in snapshot_options}
    if run_options:
        stored = {key: value for key, value in run_options.items() if key in values and key not in NOT_RESUMED}
        for key in FIXED_IN_A_RUN:
            if key in explicit and key in stored and explicit[key] != stored[key] and key != "game":
                raise UsageError(f"the run being resumed uses --{key} {stored[key]}, which cannot change in the "
                                 f"middle of a run; drop --{key} or start a new run under a new label")
    values.update(stored)
    if "preset" in explicit:
        values.update(PRESETS[explicit["preset"]])
        values["preset"] = explicit["preset"]
    elif not stored:
        values.update(PRESETS[values["preset"]])
    values.update(explicit)
    for given, other, off in EXCLUDING:
        if given in explicit and other not in explicit and values[other] != off:
            values[other] = off  # explicit flags win over a stored choice that excludes them
    if values["resume"] == "auto":
        values["checkpoint"] = True  # a resumed run goes on writing checkpoints
    defaults = build_parser()
    used = sorted(key for key in stored if key not in explicit and stored[key] != defaults.get_default(key))
    if snapshot_options and "game" in explicit and "environment" not in explicit:
        values["environment"] = "ale"  # a game named again is inferred afresh, not taken from the snapshot
    if snapshot_options and values["game"] is None:
        values["game"] = snapshot_options.get("game")  # the snapshot's game
    if values["clip_error"] == 0:
        values["loss"] = "mse"  # the original's --clip_error 0: no clipping
    values["exploration_decay_steps"] = int(values["exploration_decay_steps"])
    if values["game"] == "catch" or values["environment"] == "catch":
        values["environment"] = "catch"
        values["game"] = "catch"
    validate(args)
    return args, used


def validate(args: argparse.Namespace) -> None:
    """Refuse option values that cannot work, with a one-line message naming the fix.

    Raises:
        UsageError
    """
    positive = ("frame_skip", "screen_width", "screen_height", "replay_size", "history_length", "batch_size",
                "train_frequency", "train_repeat", "epochs", "visualization_filters", "num_envs", "n_step",
                "tensorboard_every")
    for name in positive:
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name} must be a positive number, not {getattr(args, name)}")
    non_negative = ("random_steps", "train_steps", "test_steps", "test_games", "start_epoch", "play_games",
                    "target_steps", "random_starts", "max_episode_frames", "exploration_decay_steps",
                    "clip_error", "device_id", "priority_epsilon", "random_seed", "threads")
    for name in non_negative:
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise UsageError(f"--{name} must not be negative, not {getattr(args, name)}")
    if args.replay_size <= args.batch_size + args.history_length:
        raise UsageError(f"--replay_size ({args.replay_size}) must be larger than --batch_size + "
                         f"--history_length ({args.batch_size + args.history_length}); raise --replay_size")
    if args.num_envs > 1:
        for name in ("display_screen", "record_screen_path", "record_sound_filename"):
            if getattr(args, name):
                raise UsageError(f"--{name} shows or records one game; drop it or use --num_envs 1")
    if args.replay_size // args.num_envs <= args.history_length + args.n_step:
        raise UsageError(f"--replay_size ({args.replay_size}) leaves each of the {args.num_envs} game(s) "
                         f"{args.replay_size // args.num_envs} rows, not more than --history_length + --n_step "
                         f"({args.history_length + args.n_step}); raise --replay_size or lower --num_envs")
    for name in ("exploration_rate_start", "exploration_rate_end", "exploration_rate_test",
                 "target_exploration_rate", "repeat_action_probability", "discount_rate", "decay_rate",
                 "priority_alpha", "priority_beta_start"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"--{name} must be between 0 and 1, not {value}")
    for name in ("learning_rate", "adam_epsilon", "discount_rate", "v_min", "v_max", "decay_rate",
                 "exploration_rate_start", "exploration_rate_end", "exploration_rate_test", "min_reward", "max_reward",
                 "repeat_action_probability", "priority_alpha", "priority_beta_start", "priority_epsilon"):
        if not math.isfinite(getattr(args, name)):
            raise UsageError(f"--{name} must be a finite number, not {getattr(args, name)}")
    if args.adam_epsilon <= 0:
        raise UsageError(f"--adam_epsilon must be positive, not {args.adam_epsilon}")
    if args.learning_rate <= 0:
        raise UsageError(f"--learning_rate must be positive, not {args.learning_rate}")
    if args.numerics != "float32" and (args.autocast != "none" or args.datatype != "float32"):
        raise UsageError(f"--numerics {args.numerics} keeps float32 master weights and runs its own bfloat16 "
                         "passes; drop --autocast and --datatype, or use --numerics float32")
    if args.num_atoms < 0 or args.num_atoms == 1:
        raise UsageError(f"--num_atoms must be at least 2 (C51 uses 51), or 0 for the Q-network, not {args.num_atoms}")
    if args.num_atoms and not args.v_min < args.v_max:
        raise UsageError(f"--v_min ({args.v_min}) must be below --v_max ({args.v_max}); C51 uses -10 and 10")
    if args.min_reward > args.max_reward:
        raise UsageError(f"--min_reward ({args.min_reward}) is larger than --max_reward ({args.max_reward})")
    if min(args.screen_width, args.screen_height) < 36:
        raise UsageError(f"the Nature network needs screens of at least 36x36 pixels, not "
                         f"{args.screen_height}x{args.screen_width}; raise --screen_width/--screen_height")
    if args.game is None and not args.load_weights:
        raise UsageError("no game given; name a ROM (roms/breakout.bin), a Gymnasium id or 'catch', "
                         "or a snapshot with --load_weights")
    if args.start_epoch >= args.epochs and not args.play_games:
        raise UsageError(f"--start_epoch ({args.start_epoch}) is not below --epochs ({args.epochs}): "
                         "nothing to do; raise --epochs")


def snapshot_options(args) -> dict:
    """The options a snapshot records: everything JSON can hold, paths and display flags included."""
    return {k: v for k, v in vars(args).items() if isinstance(v, (bool, int, float, str, type(None)))}


def load_arguments(argv: list[str]):
    """Parse argv; with --load_weights, load that snapshot and reuse its options.

    Returns (args, snapshot or None). Raises UsageError for a bad snapshot or option.
    """
    snapshot = None
    load_weights = explicit_options(argv).get("load_weights")
    if load_weights:
        from simple_dqn.snapshot import load_snapshot

        snapshot = load_snapshot(load_weights)
    run_options = None
    given = explicit_options(argv)
    if given.get("resume") == "auto" and given.get("save_weights_prefix"):
        from simple_dqn.checkpoint import Checkpoint, find_resumable

        path = find_resumable(given["save_weights_prefix"])
        if path is not None:
            with Checkpoint(path) as checkpoint:
                run_options = checkpoint.header.get("options")
    args, used = resolve_arguments(argv, snapshot.options if snapshot else None, run_options)
    logging.basicConfig(format="%(asctime)s %(message)s", level=getattr(logging, args.log_level), force=True)
    if used:
        logger.info("Options taken from the %s: %s", "checkpoint" if run_options else "snapshot", ", ".join(used))
    return args, snapshot
