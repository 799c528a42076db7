"""The components of a run, built in a straight line from the parsed arguments.

The environment of --num_envs games, the replay memory, the Q-networks and the agent that
plays and trains with them (DQN Zoo's run_atari.py builds its parts the same way).
"""

from __future__ import annotations

import logging
import os
import random
import re

import numpy as np

from simple_dqn.errors import UsageError

logger = logging.getLogger("simple_dqn")


def plays_gymnasium(args) -> bool:
    """Whether args.game goes through Gymnasium: --environment gym, or a name like ALE/Breakout-v5
    that is not a file."""
    return args.environment == "gym" or bool(not os.path.exists(args.game) and re.search(r"-v\d+$", args.game))


def make_environment(args, **ale_kwargs):
    """The --num_envs streams of the game named by args.game / args.environment (see environment.py).

    ALE games above one stream play on ALE's vector environment; the others step one emulator
    per stream in turn, stream i seeded with random_seed + i so that the streams differ.
    ale_kwargs: extra ALEGame arguments (frame_callback, sound) for one ALE game.
    """
    from simple_dqn.environment import GameEnvironment

    rules = dict(life_loss_terminal=args.life_loss_terminal, max_episode_frames=args.max_episode_frames)
    screen_shape = (args.screen_height, args.screen_width)
    if args.environment == "ale" and not plays_gymnasium(args) and args.num_envs > 1:
        from simple_dqn.ale_vector_environment import ALEVectorEnvironment

        return ALEVectorEnvironment(args.game, args.num_envs, frame_skip=args.frame_skip,
                                    repeat_action_probability=args.repeat_action_probability,
                                    minimal_action_set=args.minimal_action_set, frame_pooling=args.frame_pooling,
                                    screen_shape=screen_shape, random_seed=args.random_seed, **rules)
    seeds = [None if args.random_seed is None else args.random_seed + i for i in range(args.num_envs)]
    if args.environment == "catch":
        from simple_dqn.catch import CatchGame

        games = [CatchGame(screen_shape=screen_shape, random_seed=seed) for seed in seeds]
    elif plays_gymnasium(args):
        from simple_dqn.gym_game import GymGame

        kwargs = {}
        if args.game.startswith("ALE/") or "NoFrameskip" in args.game:
            # ALE-backed ids take the same emulator options as --environment ale.
            kwargs = dict(repeat_action_probability=args.repeat_action_probability, frameskip=args.frame_skip,
                          full_action_space=not args.minimal_action_set)
        games = [GymGame(args.game, screen_shape=screen_shape, random_seed=seed, **kwargs) for seed in seeds]
    else:
        from simple_dqn.ale_game import ALEGame

        games = [ALEGame(args.game, frame_skip=args.frame_skip,
                         repeat_action_probability=args.repeat_action_probability,
                         minimal_action_set=args.minimal_action_set, frame_pooling=args.frame_pooling,
                         screen_shape=screen_shape, random_seed=args.random_seed,
                         display_screen=args.display_screen, record_screen_path=args.record_screen_path,
                         record_sound_filename=args.record_sound_filename, **ale_kwargs)]
    return GameEnvironment(games, **rules)


def choose_device(args) -> str:
    """torch device for --backend/--device_id; default gpu when CUDA is available.

    Raises:
        UsageError: --backend gpu on a machine without CUDA, or a device id that does not exist.
    """
    import torch

    cuda = torch.cuda.is_available()
    backend = args.backend or ("gpu" if cuda else "cpu")
    if backend == "cpu":
        for flag in ("cuda_graphs", "replay_on_gpu"):
            if getattr(args, flag, None):
                raise UsageError(f"--{flag} needs the gpu backend; drop it or add --backend gpu on a CUDA machine")
        return "cpu"
    if not cuda:
        raise UsageError("--backend gpu needs CUDA, which this machine does not have; use --backend cpu")
    if args.device_id >= torch.cuda.device_count():
        raise UsageError(f"--device_id {args.device_id} does not exist: this machine has "
                         f"{torch.cuda.device_count()} GPU(s)")
    torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN time its kernels once
    return f"cuda:{args.device_id}"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory_fits(replay_size: int, screen_shape: tuple[int, int]) -> None:
    """Refuse a replay memory larger than the machine's available memory, before allocating it.

    The memory holds each screen once, one byte per pixel, plus about 7 bytes of action, reward and
    flags per transition (replay_memory.py).

    Raises:
        UsageError: naming what it needs and what there is.
    """
    needed = replay_size * (screen_shape[0] * screen_shape[1] + 7)
    available = available_memory()
    if available is not None and needed > available:
        raise UsageError(f"--replay_size {replay_size} needs {needed / 1e9:.3g} GB for its {screen_shape[0]}x"
                         f"{screen_shape[1]} screens, but this machine has {available / 1e9:.3g} GB available; "
                         "lower --replay_size")


def make_memory(args, screen_shape, rng, device: str = "cpu"):
    """Uniform or prioritized replay memory, as the options say, one stream per game.

    device: the network's; the screens are mirrored there with --replay_on_gpu.
    """
    from simple_dqn.replay_memory import ReplayMemory

    check_memory_fits(args.replay_size, screen_shape)
    kwargs = dict(size=args.replay_size, history_length=args.history_length, screen_shape=screen_shape,
                  batch_size=args.batch_size, rng=rng, streams=args.num_envs, n_step=args.n_step,
                  device=device if getattr(args, "replay_on_gpu", False) else None)
    if not args.prioritized_replay:
        return ReplayMemory(**kwargs)
    from simple_dqn.prioritized_replay import PrioritizedReplayMemory

    per_step = args.train_repeat / args.train_frequency  # minibatches per train step
    return PrioritizedReplayMemory(alpha=args.priority_alpha, beta_start=args.priority_beta_start,
                                   beta_samples=int(args.epochs * args.train_steps * per_step),
                                   samples=int(args.start_epoch * args.train_steps * per_step),
                                   epsilon=args.priority_epsilon, **kwargs)


# The options make_network takes, each the command line's of that name (and default).
NETWORK_OPTIONS = ("history_length", "batch_norm", "dueling", "channels_last", "num_atoms", "v_min", "v_max", "noisy",
                   "scale_screens", "init", "datatype", "numerics", "optimizer", "learning_rate", "decay_rate",
                   "rmsprop_variant", "batch_size", "adam_epsilon", "loss", "clip_error", "discount_rate", "min_reward",
                   "max_reward", "double_q", "target_exploration_rate", "bootstrap_next_state", "autocast",
                   "cuda_graphs")


def network_options(args) -> dict:
    """make_network's keywords from the resolved command line."""
    return {name: getattr(args, name) for name in NETWORK_OPTIONS}


def make_network(num_actions: int, screen_shape: tuple[int, int], *, device: str = "cpu", history_length: int = 4,
                 batch_norm: bool = False, dueling: bool = False, channels_last: bool = True, num_atoms: int = 0,
                 v_min: float = -10.0, v_max: float = 10.0, noisy: bool = False, scale_screens: bool = True,
                 init: str = "xavier", datatype: str = "float32", numerics: str = "float32", optimizer: str = "rmsprop",
                 learning_rate: float = 0.00025, decay_rate: float = 0.95, rmsprop_variant: str = "standard",
                 batch_size: int = 32, adam_epsilon: float = 1e-8, loss: str = "huber", clip_error: float = 1.0,
                 discount_rate: float = 0.99, min_reward: float = -1.0, max_reward: float = 1.0,
                 double_q: bool = False, target_exploration_rate: float = 0.0, bootstrap_next_state: bool = False,
                 autocast: str = "none", cuda_graphs: bool | None = None):
    """The Q-networks and their update from parts: the Nature network (online, initialised, and
    target), the optimizer over the online weights and the TD loss.

    Every keyword is the command-line option of that name, with its default (the original's;
    tests/test_network.py checks they agree); network_options(args) gives them from a command
    line. device: a torch device string ("cpu", "cuda:0"). cuda_graphs None: on wherever the
    device is a GPU and the numerics are float32.

    Raises:
        ValueError: a screen smaller than the network accepts, or an unknown loss or init.
        UsageError: bfloat16 numerics or autocast on a CPU without bfloat16 hardware.
    """
    from functools import partial

    import torch

    from simple_dqn.deepqnetwork import DTYPES, LOSSES, DeepQNetwork, QNetwork, init_weights, td_loss
    from simple_dqn.numerics import choose_numerics, require_bf16_hardware
    from simple_dqn.optimizers import make_optimizer

    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}")
    architecture = dict(num_actions=num_actions, history_length=history_length, screen_shape=screen_shape,
                        batch_norm=batch_norm, dueling=dueling, channels_last=channels_last,
                        num_atoms=num_atoms, v_min=v_min, v_max=v_max, noisy=noisy,
                        scale_screens=scale_screens)
    placement = dict(device=torch.device(device), dtype=DTYPES[datatype],
                     memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    online = QNetwork(**architecture)
    init_weights(online, init)
    online.to(**placement)
    numerics, reason = choose_numerics(numerics, torch.device(device).type)
    if autocast == "bfloat16":
        require_bf16_hardware("--autocast", torch.device(device).type)
    logger.info("Numerics: %s (%s)", numerics, reason)
    compute = None
    if numerics == "bfloat16":
        placement["dtype"] = torch.bfloat16  # the passes' copy and the target network; online is the master
        compute = QNetwork(**architecture).to(**placement).keep_outputs_float32()
    target = QNetwork(**architecture).to(**placement)
    if compute is not None:
        target.keep_outputs_float32()
    # CUDA graphs are the gpu default (bench/gpu.py: 2.6x the eager train phase on an H100).
    graphs = device != "cpu" if cuda_graphs is None else bool(cuda_graphs)
    if compute is not None and cuda_graphs is None:
        graphs = False
    update = make_optimizer(optimizer, online.parameters(), learning_rate=learning_rate, decay_rate=decay_rate,
                            rmsprop_variant=rmsprop_variant, batch_size=batch_size, adam_epsilon=adam_epsilon)
    return DeepQNetwork(online, target, update, partial(td_loss, loss=loss, clip_error=clip_error),
                        discount_rate=discount_rate, min_reward=min_reward, max_reward=max_reward,
                        double_q=double_q, target_exploration_rate=target_exploration_rate,
                        bootstrap_next_state=bootstrap_next_state, autocast=autocast,
                        cuda_graphs=graphs, compute=compute)


def build(args, snapshot, **env_kwargs):
    """Seed the generators and build (env, mem, net, agent) from the resolved arguments.

    snapshot: the --load_weights snapshot, or None. env_kwargs go to the ALE game (play and
    record hook into its frames).

    Raises:
        UsageError: a bad game, an incompatible snapshot or an unusable backend.
    """
    import torch

    from simple_dqn.agent import Agent
    from simple_dqn.snapshot import check_compatible, snapshot_fields

    if args.random_seed is not None:
        random.seed(args.random_seed)
        np.random.seed(args.random_seed % 2**32)
        torch.manual_seed(args.random_seed)
    rng = np.random.default_rng(args.random_seed)
    device = choose_device(args)
    from simple_dqn.atomic import ensure_writable_dir, regular_file_target

    for path in (args.save_weights_prefix, args.csv_file):
        if path:
            ensure_writable_dir(path)
    if args.csv_file:
        regular_file_target(args.csv_file)  # refused now, not after the first phase
    if args.save_weights_prefix:
        regular_file_target(f"{args.save_weights_prefix}_interrupted.checkpoint.h5")  # the longest name it writes

    env = make_environment(args, **env_kwargs)
    if snapshot is not None:
        check_compatible(snapshot.path, snapshot_fields(snapshot), game=env.name, num_actions=env.num_actions,
                         screen_shape=env.screen_shape, history_length=args.history_length,
                         support=(args.num_atoms, args.v_min, args.v_max), scale_screens=args.scale_screens)
    mem = make_memory(args, env.screen_shape, rng, device)
    net = make_network(env.num_actions, env.screen_shape, device=device, **network_options(args))
    if snapshot is not None:
        logger.info("Loading weights from %s", snapshot.path)
        try:
            net.load_weights(snapshot.tensors)
        except ValueError as e:
            raise UsageError(f"snapshot {snapshot.path!r} does not fit this network: {e}") from None
        if args.start_epoch == snapshot.epoch:
            net.weight_updates = snapshot.weight_updates  # resuming: the CSV's weight_updates go on
    agent = Agent(env, mem, net, history_length=args.history_length,
                  exploration_rate_start=args.exploration_rate_start,
                  exploration_rate_end=args.exploration_rate_end,
                  exploration_decay_steps=args.exploration_decay_steps,
                  exploration_rate_test=args.exploration_rate_test, train_frequency=args.train_frequency,
                  train_repeat=args.train_repeat, target_steps=args.target_steps,
                  random_starts=args.random_starts, fire_action=env.fire_action if args.fire_reset else None,
                  store_start_actions=args.store_start_actions,
                  total_train_steps=args.start_epoch * args.train_steps, rng=rng)
    return env, mem, net, agent
