"""main: parse the command line, wire the components and run the experiment protocol.

Protocol (as the original): a random phase fills the replay memory (epoch 0), then each
epoch trains for train_steps, saves a snapshot and tests for test_steps. --play_games N
only plays N games. Only this module sees the parsed arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import sys
import time

import numpy as np

from simple_dqn.errors import UsageError
from simple_dqn.statistics import CSV_COLUMNS

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

        games = [ALEGame(args.game, frame_skip=args.frame_skip, repeat_action_probability=args.repeat_action_probability,
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
    args.backend = backend
    if backend == "cpu":
        return "cpu"
    if not cuda:
        raise UsageError("--backend gpu needs CUDA, which this machine does not have; use --backend cpu")
    if args.device_id >= torch.cuda.device_count():
        raise UsageError(f"--device_id {args.device_id} does not exist: this machine has "
                         f"{torch.cuda.device_count()} GPU(s)")
    return f"cuda:{args.device_id}"


def make_memory(args, screen_shape, rng):
    """Uniform or prioritized replay memory, as the options say, one stream per game."""
    from simple_dqn.replay_memory import ReplayMemory

    kwargs = dict(size=args.replay_size, history_length=args.history_length, screen_shape=screen_shape,
                  batch_size=args.batch_size, rng=rng, streams=args.num_envs, n_step=args.n_step)
    if not args.prioritized_replay:
        return ReplayMemory(**kwargs)
    from simple_dqn.prioritized_replay import PrioritizedReplayMemory

    return PrioritizedReplayMemory(alpha=args.priority_alpha, beta_start=args.priority_beta_start,
                                   beta_steps=args.epochs * args.train_steps, epsilon=args.priority_epsilon,
                                   **kwargs)


def build(args, snapshot, **env_kwargs):
    """Seed the generators and build (env, mem, net, agent) from the resolved arguments.

    env_kwargs go to the ALE game (play and record hook into its frames).

    Raises:
        UsageError: a bad game, an incompatible snapshot or an unusable backend.
    """
    import torch

    from simple_dqn.agent import Agent
    from simple_dqn.deepqnetwork import DeepQNetwork
    from simple_dqn.snapshot import check_compatible, snapshot_fields

    if args.random_seed is not None:
        random.seed(args.random_seed)
        np.random.seed(args.random_seed % 2**32)
        torch.manual_seed(args.random_seed)
    rng = np.random.default_rng(args.random_seed)
    device = choose_device(args)
    from simple_dqn.atomic import ensure_writable_dir

    for path in (args.save_weights_prefix, args.csv_file):
        if path:
            ensure_writable_dir(path)

    env = make_environment(args, **env_kwargs)
    if snapshot is not None:
        check_compatible(snapshot.path, snapshot_fields(snapshot), game=env.name, num_actions=env.num_actions,
                         screen_shape=env.screen_shape, history_length=args.history_length)
    mem = make_memory(args, env.screen_shape, rng)
    net = DeepQNetwork(num_actions=env.num_actions, history_length=args.history_length,
                       screen_shape=env.screen_shape, device=device, datatype=args.datatype,
                       learning_rate=args.learning_rate, discount_rate=args.discount_rate,
                       optimizer=args.optimizer, decay_rate=args.decay_rate, clip_error=args.clip_error,
                       min_reward=args.min_reward, max_reward=args.max_reward, batch_norm=args.batch_norm,
                       dueling=args.dueling, double_q=args.double_q, init=args.init, loss=args.loss,
                       rmsprop_variant=args.rmsprop_variant, batch_size=args.batch_size,
                       channels_last=args.channels_last, autocast=args.autocast)
    if snapshot is not None:
        logger.info("Loading weights from %s", snapshot.path)
        try:
            net.load_weights(snapshot.tensors)
        except ValueError as e:
            raise UsageError(f"snapshot {snapshot.path!r} does not fit this network: {e}") from None
        if args.start_epoch == snapshot.epoch:
            net.train_iterations = snapshot.weight_updates  # resuming: the CSV's weight_updates go on
    agent = Agent(env, mem, net, history_length=args.history_length,
                  exploration_rate_start=args.exploration_rate_start,
                  exploration_rate_end=args.exploration_rate_end,
                  exploration_decay_steps=args.exploration_decay_steps,
                  exploration_rate_test=args.exploration_rate_test, train_frequency=args.train_frequency,
                  train_repeat=args.train_repeat, target_steps=args.target_steps,
                  random_starts=args.random_starts, total_train_steps=args.start_epoch * args.train_steps,
                  rng=rng)
    return env, mem, net, agent


def phase_plan(args) -> list[tuple[int, str, int]]:
    """The phases to run, in order: (epoch, phase, steps); test by games is phase "test_games"."""
    plan = [(0, "random", args.random_steps)] if args.random_steps else []
    for epoch in range(args.start_epoch + 1, args.epochs + 1):
        if args.train_steps:
            plan.append((epoch, "train", args.train_steps))
        if args.test_games:
            plan.append((epoch, "test_games", args.test_games))
        elif args.test_steps:
            plan.append((epoch, "test", args.test_steps))
    return plan


def capture_state(env, mem, net, agent, stats) -> dict:
    """Every component's (meta, arrays) for a checkpoint, the process's random generators included."""
    import torch

    version, internal, gauss = random.getstate()
    components = dict(agent=agent.save_state(), memory=mem.save_state(), network=net.save_state(),
                      statistics=stats.save_state(),
                      rng=(dict(python=[version, list(internal), gauss]),
                           dict(torch=torch.get_rng_state().numpy())))
    try:
        components["environment"] = env.save_state()
    except NotImplementedError:
        logger.warning("%s cannot save its game state: a resumed run starts a new episode", type(env).__name__)
    return components


def restore_state(checkpoint, env, mem, net, agent, stats, total_steps) -> bool:
    """Load every component from an open checkpoint. Returns whether the game state was restored.

    Raises:
        UsageError: a damaged checkpoint or one that does not fit these components.
    """
    import torch

    try:
        agent.load_state(*checkpoint.component("agent"))
        mem.load_state(*checkpoint.component("memory"))
        net.load_state(*checkpoint.component("network"))
        meta, arrays = checkpoint.component("statistics")
        stats.load_state(meta, arrays, total_steps)
        meta, arrays = checkpoint.component("rng")
        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(torch.from_numpy(np.asarray(arrays["torch"], dtype=np.uint8)))
        if "environment" in checkpoint.file:
            env.load_state(*checkpoint.component("environment"))
            return True
        return False
    except UsageError:
        raise
    except ValueError as e:
        if "--num_envs" not in str(e):
            raise UsageError(f"checkpoint {checkpoint.path!r} is damaged or does not fit this run ({e}); "
                             "use an earlier checkpoint") from None
        raise UsageError(f"checkpoint {checkpoint.path!r} does not fit this run: {e}") from None
    except Exception as e:
        raise UsageError(f"checkpoint {checkpoint.path!r} is damaged or does not fit this run "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                         "use an earlier checkpoint") from None


def find_checkpoint(args, snapshot) -> str | None:
    """The checkpoint this run continues from: --resume auto, or the one beside a resumed snapshot."""
    from simple_dqn.checkpoint import checkpoint_beside, find_resumable

    if args.resume == "auto":
        if not args.save_weights_prefix:
            raise UsageError("--resume auto needs --save_weights_prefix (train.sh sets it) to find checkpoints")
        path = find_resumable(args.save_weights_prefix)
        if path is None:
            logger.info("No checkpoint of %s to resume from: starting a new run", args.save_weights_prefix)
        return path
    if snapshot is not None and args.start_epoch > 0 and args.train_steps > 0:
        path = checkpoint_beside(snapshot.path)
        if path is None:
            logger.warning("No checkpoint beside %s: resuming with its weights only; the replay memory "
                           "starts empty and the optimizer state is new", snapshot.path)
        return path
    return None


PHASE_MODES = dict(random="train", train="train", test="test", test_games="test")
PHASE_TITLES = dict(random="Populating replay memory with random moves", train="Training", test="Testing",
                    test_games="Testing")


class Experiment:
    """The experiment protocol over built components: phases, rows, snapshots and checkpoints.

    Args:
        args: the resolved command line.
        snapshot: the --load_weights snapshot, or None.

    Raises:
        UsageError: bad components, or a checkpoint that is damaged or made for another run.
    """

    def __init__(self, args, snapshot):
        from simple_dqn.statistics import Statistics

        self.args = args
        self.prefix = args.save_weights_prefix
        self.env, self.mem, self.net, self.agent = build(args, snapshot)
        self.position = None  # (epoch, phase, steps done) to continue from
        self.steps_played = 0  # over all phases and resumes: orders checkpoints
        self.force_restart = False  # the game state could not be restored: start a new episode
        self.last_row: list = []  # the CSV values of the last phase
        # Called as reporter(row dict, end-of-epoch checkpoint path or None) after each phase (sweeps).
        self.reporter = None
        checkpoint_file = find_checkpoint(args, snapshot)
        if checkpoint_file is None:
            resuming = args.start_epoch > 0 and args.train_steps > 0
            self.stats = Statistics(args.csv_file, append_after_epoch=args.start_epoch if resuming else None,
                                    tensorboard=self.tensorboard_log())
        else:
            self.resume(checkpoint_file)
        self.agent.callback = self.stats

    def tensorboard_log(self):
        """The --tensorboard log, or None."""
        if not self.args.tensorboard:
            return None
        from simple_dqn.tensorboard_log import TensorBoardLog

        return TensorBoardLog(self.args.tensorboard, self.args.tensorboard_every)

    def resume(self, path: str) -> None:
        """Restore every component from the checkpoint at path and where the run stood."""
        from simple_dqn.checkpoint import Checkpoint
        from simple_dqn.snapshot import check_compatible
        from simple_dqn.statistics import Statistics

        env = self.env
        with Checkpoint(path) as checkpoint:
            header = checkpoint.header
            try:
                check_compatible(path, header, game=env.name, num_actions=env.num_actions,
                                 screen_shape=env.screen_shape, history_length=self.args.history_length)
                self.position = (int(header["epoch"]), str(header["phase"]), int(header["done"]))
                self.steps_played = int(header["progress"])
            except (KeyError, TypeError, ValueError):
                raise UsageError(f"checkpoint {path!r} has a damaged header; use an earlier one") from None
            epoch, phase, done = self.position
            self.args.start_epoch = max(0, epoch - 1) if phase != "random" else 0
            # The saved rows replace the CSV's: rows a killed run wrote after this checkpoint go.
            self.stats = Statistics(None, tensorboard=self.tensorboard_log())
            self.stats.csv_file = self.args.csv_file
            restored_game = restore_state(checkpoint, env, self.mem, self.net, self.agent, self.stats, None)
        self.force_restart = not restored_game
        logger.info("Resuming from checkpoint %s at epoch %d, phase %s, after %d steps", path, epoch, phase, done)

    def run(self) -> int:
        """Play the games asked for, or run the phases of the plan. Returns the exit status."""
        try:
            if self.args.play_games:
                return self.play()
            if self.args.checkpoint and self.prefix:
                self.stop_on_signals()
            plan = self.remaining(phase_plan(self.args))
            for index, (epoch, phase, steps) in enumerate(plan):
                if not self.run_phase(epoch, phase, steps):
                    return 0  # stopped by a signal, after writing a checkpoint
                if phase == "train" and self.prefix:
                    self.save_snapshot(epoch)
                last_of_epoch = index + 1 == len(plan) or plan[index + 1][0] != epoch
                checkpoint = None
                if self.args.checkpoint and self.prefix and epoch > 0 and last_of_epoch:
                    checkpoint = self.end_of_epoch_checkpoint(epoch)
                if self.reporter is not None:
                    self.reporter(dict(zip(CSV_COLUMNS, self.last_row)), checkpoint)
        finally:
            self.stats.close()
            self.env.close()
        logger.info("All done")
        return 0

    def remaining(self, plan: list[tuple[int, str, int]]) -> list[tuple[int, str, int]]:
        """The part of the plan still to run when resuming from a checkpoint."""
        if self.position is None:
            return plan
        keys = [(epoch, phase) for epoch, phase, _ in plan]
        if self.position[:2] in keys:
            return plan[keys.index(self.position[:2]):]
        return [item for item in plan if item[0] > self.position[0]]

    def run_phase(self, epoch: int, phase: str, steps: int) -> bool:
        """Set the mode, reset the statistics, run the agent, write the row.

        Returns False when a signal stopped the phase (a checkpoint was written).
        """
        agent, stats = self.agent, self.stats
        resumed = self.position is not None and (epoch, phase) == self.position[:2]
        done = self.position[2] if resumed else 0
        if phase == "train" and done == 0:
            logger.info("Epoch #%d", epoch)
        logger.info(" %s for %d %s", PHASE_TITLES[phase], steps, "games" if phase == "test_games" else "steps")
        self.env.set_mode(PHASE_MODES[phase])
        row_phase = "test" if phase == "test_games" else phase
        if done == 0:
            stats.reset(row_phase, None if phase == "test_games" else steps)
        if phase == "test_games":
            self.evaluate(epoch)
            played = steps
        else:
            run = dict(random=agent.play_random, train=agent.train, test=agent.test)[phase]
            played = done + run(steps - done, restart=done == 0 or self.force_restart)
        self.steps_played += played - done
        if agent.stop_requested:
            self.interrupted_checkpoint(epoch, phase, 0 if phase == "test_games" else played)
            return False
        self.last_row = stats.write(epoch, row_phase, total_train_steps=agent.total_train_steps, memory=self.mem,
                                    net=self.net)
        return True

    def play(self) -> int:
        """--play_games: play whole games with exploration_rate_test, write a "play" row."""
        from simple_dqn.evaluation import format_summary, summarize

        logger.info("Playing for %d game(s)", self.args.play_games)
        self.env.set_mode("test")
        self.stats.reset("play")
        scores = self.agent.play(self.args.play_games)
        self.stats.write(0, "play", total_train_steps=self.agent.total_train_steps, memory=self.mem, net=self.net)
        print(f"played {len(scores)} game(s): {format_summary(summarize(scores))}", flush=True)
        return 0

    def evaluate(self, epoch: int) -> None:
        """--test_games: the Nature evaluation protocol; prints the summary, writes the per-game CSV."""
        from simple_dqn.evaluation import format_summary, summarize, write_games_csv

        scores = self.agent.play(self.args.test_games)
        print(f"epoch {epoch} test over {self.args.test_games} games: {format_summary(summarize(scores))}",
              flush=True)
        if self.args.csv_file:
            path = re.sub(r"\.csv$", "", self.args.csv_file) + "_games.csv"
            write_games_csv(path, epoch, scores)
            logger.info("Per-game scores written to %s", path)

    def save_snapshot(self, epoch: int) -> None:
        """Write <prefix>_<epoch>.safetensors with the online network and the run's metadata."""
        from simple_dqn.snapshot import save_snapshot

        args, env = self.args, self.env
        path = f"{self.prefix}_{epoch}.safetensors"
        logger.info("Saving weights to %s", path)
        save_snapshot(path, self.net.weights(), game=env.name, environment=args.environment, epoch=epoch,
                      total_train_steps=self.agent.total_train_steps, action_set=env.action_set,
                      screen_shape=env.screen_shape, history_length=args.history_length,
                      architecture=dict(batch_norm=args.batch_norm, dueling=args.dueling),
                      options=snapshot_options(args), weight_updates=self.net.train_iterations)

    def write_checkpoint(self, path: str, epoch: int, phase: str, done: int) -> None:
        """A full-state checkpoint saying the run goes on with ``done`` steps of (epoch, phase)."""
        from simple_dqn.checkpoint import save_checkpoint

        started = time.perf_counter()
        env = self.env
        header = dict(game=env.name, num_actions=env.num_actions, action_set=env.action_set,
                      screen_height=env.screen_shape[0], screen_width=env.screen_shape[1],
                      history_length=self.args.history_length, epoch=epoch, phase=phase, done=done,
                      progress=self.steps_played, options=snapshot_options(self.args))
        size = save_checkpoint(path, header, capture_state(env, self.mem, self.net, self.agent, self.stats))
        logger.info("Checkpoint %s written: %.1f MB in %.1f s", path, size / 1e6, time.perf_counter() - started)

    def end_of_epoch_checkpoint(self, epoch: int) -> str:
        """Write <prefix>_<epoch>.checkpoint.h5, pointing at the next epoch, prune the older ones; return its path."""
        from simple_dqn.checkpoint import checkpoint_path, interrupted_path, prune_epoch_checkpoints

        path = checkpoint_path(self.prefix, epoch)
        self.write_checkpoint(path, epoch + 1, "train", 0)
        prune_epoch_checkpoints(self.prefix)
        if os.path.exists(interrupted_path(self.prefix)):
            os.unlink(interrupted_path(self.prefix))
        return path

    def interrupted_checkpoint(self, epoch: int, phase: str, done: int) -> None:
        """After SIGINT or SIGTERM: <prefix>_interrupted.checkpoint.h5 and how to resume."""
        from simple_dqn.checkpoint import interrupted_path

        path = interrupted_path(self.prefix)
        self.write_checkpoint(path, epoch, phase, done)
        print(f"simple_dqn: stopped in epoch {epoch}, phase {phase}, after {done} steps; resume with "
              f"--resume auto (e.g. ./train.sh <rom> [label] --resume auto) or from {path}",
              file=sys.stderr, flush=True)

    def stop_on_signals(self) -> None:
        """Make SIGINT and SIGTERM end the phase after the current step (a second one ends the process)."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return  # a sweep trial in a Ray worker's thread: Ray owns the signals

        def request_stop(signum, frame):
            self.agent.stop_requested = True
            signal.signal(signum, signal.SIG_DFL)
            print(f"simple_dqn: {signal.Signals(signum).name}: finishing the step, then writing a checkpoint",
                  file=sys.stderr, flush=True)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, request_stop)


def run(args, snapshot) -> int:
    """Build the components and run the experiment. Returns the exit status."""
    return Experiment(args, snapshot).run()


def snapshot_options(args) -> dict:
    """The options a snapshot records: everything JSON can hold, paths and display flags included."""
    return {k: v for k, v in vars(args).items() if isinstance(v, (bool, int, float, str, type(None)))}


def load_arguments(argv: list[str]):
    """Parse argv; with --load_weights, load that snapshot and reuse its options.

    Returns (args, snapshot or None). Raises UsageError for a bad snapshot or option.
    """
    from simple_dqn.arguments import explicit_options, parse_arguments

    snapshot = None
    load_weights = explicit_options(argv).get("load_weights")
    if load_weights:
        from simple_dqn.snapshot import load_snapshot

        snapshot = load_snapshot(load_weights)
    args = parse_arguments(argv, snapshot.options if snapshot else None)
    if snapshot is not None and args.game is None:
        args.game = snapshot.options.get("game") or snapshot.game
    logging.basicConfig(format="%(asctime)s %(message)s", level=getattr(logging, args.log_level), force=True)
    return args, snapshot


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input, 130 on Ctrl-C)."""
    from simple_dqn.errors import report_usage_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    return report_usage_errors(lambda: run(*load_arguments(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
