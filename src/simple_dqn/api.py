"""The Python entry points: a trained agent as a policy, a Gymnasium ALE environment seen as it sees
its games, and a training run started from Python.

    import simple_dqn

    policy = simple_dqn.load_policy("snapshots/pong_10.safetensors")
    env = policy.wrap(gymnasium.make("ALE/Pong-v5", frameskip=1, obs_type="grayscale",
                                     repeat_action_probability=0.0))
    state, _ = env.reset(seed=0)
    state, reward, terminated, truncated, _ = env.step(policy.act(state))

    run = simple_dqn.train("catch", epochs=2, train_steps=2000, csv_file="results/catch.csv",
                           save_weights_prefix="snapshots/catch")
    run.rows[-1]["average_reward"], run.snapshots[-1]

Every keyword is the command line's option of that name (``--train_steps`` is ``train_steps=``);
bad input raises errors.UsageError with the command line's one-line message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import gymnasium
import numpy as np

from simple_dqn.agent import epsilon_greedy
from simple_dqn.environment import resize_screen
from simple_dqn.errors import UsageError
from simple_dqn.state_buffer import StateBuffer


def _argv(options: dict) -> list[str]:
    """Keyword options as command-line arguments (True/False as a flag's value, None left out)."""
    argv = []
    for key, value in options.items():
        if value is None:
            continue
        argv += [f"--{key}", ("true" if value else "false") if isinstance(value, bool) else str(value)]
    return argv


class Policy:
    """A snapshot's online network acting on states.

    A state is uint8 (history_length, H, W): the last history_length preprocessed screens, oldest
    first, each the game's grayscale frame pooled over the last two frames of a step of
    frame_skip frames (frame_pooling "max"; "none": the last frame) and resized to
    screen_shape with bilinear interpolation (OpenCV INTER_LINEAR); an episode's first state
    is zeros with its first screen last. Actions are indexes 0..num_actions-1 into action_set
    (ALE action ids: the game's minimal action set, unless trained with the full one).

    Attributes:
        game, action_set, num_actions, history_length, screen_shape, frame_skip,
        frame_pooling: what the snapshot was trained with.
        snapshot: the snapshot's path.
    """

    def __init__(self, network, snapshot, args):
        self.network, self._args = network, args
        self.snapshot = snapshot.path
        self.game, self.action_set = snapshot.game, list(snapshot.action_set)
        self.num_actions, self.history_length = snapshot.num_actions, snapshot.history_length
        self.screen_shape = tuple(snapshot.screen_shape)
        self.frame_skip, self.frame_pooling = args.frame_skip, args.frame_pooling

    def q_values(self, states: np.ndarray) -> np.ndarray:
        """Q-values (the expected return, for C51), float32 (N, num_actions), of uint8 states
        (N, history_length, H, W), or (num_actions,) of one state (history_length, H, W).

        Raises:
            ValueError: states of another shape or dtype.
        """
        states = np.asarray(states)
        single = states.ndim == 3
        batch = states[None] if single else states
        expected = (self.history_length, *self.screen_shape)
        if batch.ndim != 4 or batch.shape[1:] != expected or batch.dtype != np.uint8:
            raise ValueError(f"states must be uint8 (N, {', '.join(map(str, expected))}) or one state "
                             f"{expected}, not {batch.dtype} {states.shape}")
        q = self.network.predict(np.ascontiguousarray(batch))
        return q[0] if single else q

    def act(self, states: np.ndarray, exploration_rate: float = 0.0,
            rng: np.random.Generator | None = None) -> np.ndarray | int:
        """Epsilon-greedy actions: int64 (N,) for states (N, ...), an int for one state.

        exploration_rate: the probability of a uniformly random action (the Nature evaluation:
        0.05); rng: the generator for it (default: a new unseeded one).
        """
        q = np.atleast_2d(self.q_values(states))
        actions = epsilon_greedy(lambda: q, len(q), self.num_actions, exploration_rate,
                                 rng if rng is not None else np.random.default_rng())
        return int(actions[0]) if np.asarray(states).ndim == 3 else actions

    def wrap(self, env) -> "AtariPreprocessing":
        """A Gymnasium ALE environment whose observations are this policy's states (AtariPreprocessing)."""
        return AtariPreprocessing(env, frame_skip=self.frame_skip, frame_pooling=self.frame_pooling,
                                  screen_shape=self.screen_shape, history_length=self.history_length,
                                  action_set=self.action_set)

    def play(self, games: int = 1, **options) -> list[float]:
        """Play whole games on the project's own environment, as test.sh does (exploration_rate_test,
        random no-op starts); options are the command line's. Returns the games' scores."""
        from simple_dqn.arguments import load_arguments
        from simple_dqn.build import build

        args, snapshot = load_arguments(["--load_weights", self.snapshot, "--log_level", "WARNING",
                                         "--replay_size", "1000", *_argv(options)])
        env, _, _, agent = build(args, snapshot)
        try:
            env.set_mode("test")
            return agent.play(games)
        finally:
            env.close()


def load_policy(snapshot: str, **options) -> Policy:
    """The snapshot's agent as a Policy (its stored options, overridden by options).

    Raises:
        UsageError: a missing, damaged or foreign snapshot, a bad option, or an option that
            contradicts the snapshot's network (history, C51 support, input scale).
    """
    from simple_dqn.arguments import load_arguments
    from simple_dqn.build import choose_device, make_network, network_options
    from simple_dqn.snapshot import check_compatible, snapshot_fields

    args, loaded = load_arguments(["--load_weights", snapshot, "--log_level", "WARNING", *_argv(options)])
    check_compatible(loaded.path, snapshot_fields(loaded), game=loaded.game, num_actions=loaded.num_actions,
                     screen_shape=loaded.screen_shape, history_length=args.history_length,
                     support=(args.num_atoms, args.v_min, args.v_max), scale_screens=args.scale_screens)
    network = make_network(loaded.num_actions, tuple(loaded.screen_shape), device=choose_device(args),
                           **network_options(args))
    try:
        network.load_weights(loaded.tensors)
    except ValueError as e:
        raise UsageError(f"snapshot {loaded.path!r} does not fit its network: {e}") from None
    return Policy(network, loaded, args)


class AtariPreprocessing(gymnasium.Wrapper):
    """A Gymnasium ALE environment whose observations are states as the project makes them.

    One step plays the action for frame_skip emulator frames and returns the new state (uint8
    (history_length, H, W), see Policy), the frames' summed raw reward, and terminated /
    truncated as soon as a frame ends the game. The screen is ALE's grayscale frame, max-pooled
    with the frame before the step's last (frame_pooling "max", as ale_game.ALEGame) or the
    last frame ("none"), resized with environment.resize_screen. No random start is played:
    reset() gives the zero-padded first state.

    Args:
        env: made with frameskip=1 and obs_type="grayscale", e.g. gymnasium.make("ALE/Pong-v5",
            frameskip=1, obs_type="grayscale", repeat_action_probability=0.0).
        action_set: the ALE action ids the agent's actions index, checked against the env's.

    Raises:
        UsageError: not an ALE environment, another frame skip or observation type, another
            action set, or a frame pooling that needs ALE's colour averaging ("average").
    """

    def __init__(self, env, *, frame_skip: int = 4, frame_pooling: str = "max",
                 screen_shape: tuple[int, int] = (84, 84), history_length: int = 4,
                 action_set: list[int] | None = None):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "ale"):
            raise UsageError(f"{env} is not an ALE environment; make one with gymnasium.make('ALE/<Game>-v5', ...)")
        if getattr(base, "_frameskip", 1) != 1:
            raise UsageError("make the environment with frameskip=1: the frames of a step are skipped and pooled "
                             "here, as in training")
        if tuple(env.observation_space.shape) != tuple(base.ale.getScreenDims()):
            raise UsageError("make the environment with obs_type='grayscale': the screens are ALE's grayscale frames")
        if frame_pooling not in ("max", "none"):
            raise UsageError(f"frame pooling {frame_pooling!r} is ALE's colour averaging, which a Gymnasium "
                             "environment does not offer; act on the project's own games with Policy.play()")
        ids = [int(getattr(a, "value", a)) for a in getattr(base, "_action_set", [])]
        if action_set is not None and ids != list(action_set):
            raise UsageError(f"the environment's actions are ALE's {ids}, the agent's {list(action_set)}; make it "
                             "with full_action_space=" + ("True" if len(action_set) == 18 else "False"))
        self.frame_skip, self.frame_pooling = frame_skip, frame_pooling
        self.screen_shape = tuple(screen_shape)
        self.buffer = StateBuffer(history_length=history_length, screen_shape=self.screen_shape)
        self.observation_space = gymnasium.spaces.Box(0, 255, self.buffer.states.shape[1:], dtype=np.uint8)
        self._frame = None  # the last raw grayscale frame

    def reset(self, **kwargs):
        """Start a game; returns (the first state, info)."""
        frame, info = self.env.reset(**kwargs)
        self._frame = frame
        self.buffer.begin(np.ones(1, dtype=np.bool_), self._screen(frame)[None])
        return self.buffer.states[0].copy(), info

    def step(self, action):
        """Play the action for frame_skip frames; returns (state, reward, terminated, truncated, info)."""
        reward, before_last = 0.0, self._frame
        terminated = truncated = False
        info: dict = {}
        for frame in range(self.frame_skip):
            if frame == self.frame_skip - 1 and frame > 0:
                before_last = self._frame
            self._frame, r, terminated, truncated, info = self.env.step(action)
            reward += float(r)
            if terminated or truncated:
                break
        pooled = np.maximum(self._frame, before_last) if self.frame_pooling == "max" else self._frame
        self.buffer.add(self._screen(pooled)[None])
        return self.buffer.states[0].copy(), reward, terminated, truncated, info

    def _screen(self, frame: np.ndarray) -> np.ndarray:
        return resize_screen(np.asarray(frame, dtype=np.uint8), self.screen_shape)


@dataclass
class RunResult:
    """What a training run left: its CSV rows (one dict per phase, by the 16 column names, numbers
    as int or float), its snapshot paths by epoch, and the files' paths."""

    rows: list[dict]
    snapshots: list[str]
    csv_file: str | None
    save_weights_prefix: str | None


def train(game: str, **options) -> RunResult:
    """Run the experiment protocol as train.sh does, in this process; options are the command line's.

    game: a ROM path, a bundled game name, "catch" or a Gymnasium id (as the command line's).
    Without csv_file and save_weights_prefix, writes results/<game>.csv and snapshots/<game>_<epoch>
    under the current folder, as train.sh does under the project.

    Raises:
        UsageError: bad options, an earlier run in the way (pass overwrite=True or resume="auto").
    """
    from simple_dqn.arguments import load_arguments
    from simple_dqn.main import earlier_run_files, run
    from simple_dqn.roms import game_name
    from simple_dqn.statistics import CSV_COLUMNS, read_rows

    name = game_name(game)
    options.setdefault("csv_file", os.path.join("results", f"{name}.csv"))
    options.setdefault("save_weights_prefix", os.path.join("snapshots", name))
    args, snapshot = load_arguments([game, *_argv(options)])
    run(args, snapshot)
    rows = [dict(zip(CSV_COLUMNS, map(_value, row))) for row in read_rows(args.csv_file)] if args.csv_file else []
    snapshots = sorted((p for p in earlier_run_files(args.save_weights_prefix) if p.endswith(".safetensors")),
                       key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
    return RunResult(rows, snapshots, args.csv_file, args.save_weights_prefix)


def _value(cell: str):
    try:
        number = float(cell)
    except ValueError:
        return cell
    return int(number) if number.is_integer() and "." not in cell and "e" not in cell.lower() else number
