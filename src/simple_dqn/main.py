"""main: parse the command line, build the components, run the experiment protocol.

The protocol (as the original's main.py): a random phase fills the replay memory (epoch 0),
then each epoch trains for train_steps, saves a snapshot and tests for test_steps steps (or
--test_games whole games, the Nature evaluation). --play_games N only plays N games. With
--checkpoint each epoch ends with a full-state checkpoint, and SIGINT or SIGTERM end the
phase after the current step with one, which --resume auto continues exactly.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass

from simple_dqn.arguments import snapshot_options
from simple_dqn.build import build
from simple_dqn.errors import UsageError
from simple_dqn.statistics import CSV_COLUMNS

logger = logging.getLogger("simple_dqn")

TITLES = dict(random="Populating replay memory with random moves", train="Training", test="Testing")


@dataclass(frozen=True)
class Phase:
    """One phase of the protocol.

    kind: "random", "train" or "test" (the CSV's phase); length: steps, or whole games when
    by_games (the Nature evaluation, --test_games).
    """

    epoch: int
    kind: str
    length: int
    by_games: bool = False

    def __str__(self) -> str:
        return f"{TITLES[self.kind]} for {self.length} {'games' if self.by_games else 'steps'}"


def phase_plan(args, start_epoch: int) -> list[Phase]:
    """The phases of a run that continues after start_epoch, in order."""
    plan = [Phase(0, "random", args.random_steps)] if args.random_steps else []
    for epoch in range(start_epoch + 1, args.epochs + 1):
        if args.train_steps:
            plan.append(Phase(epoch, "train", args.train_steps))
        if args.test_games or args.test_steps:
            plan.append(Phase(epoch, "test", args.test_games or args.test_steps, by_games=bool(args.test_games)))
    return plan


class Experiment:
    """The experiment protocol over built components: phases, CSV rows, snapshots and checkpoints.

    Args:
        args: the resolved command line (read, never changed).
        env, mem, net, agent, stats: the built components (build.build, statistics.Statistics);
            the agent reports to stats.
        checkpointer: checkpoint.Checkpointer of the run, or None (no checkpoints written).
        position: checkpoint.Position the run continues from, or None for a run from its start.
        restart: start new episodes where the run continues (the checkpoint could not hold the games).
    """

    def __init__(self, args, env, mem, net, agent, stats, checkpointer=None, position=None, restart=False):
        self.args = args
        self.prefix = args.save_weights_prefix
        self.env, self.mem, self.net, self.agent, self.stats = env, mem, net, agent, stats
        self.checkpointer = checkpointer
        self.position = position
        self.force_restart = restart
        self.steps_played = position.progress if position else 0  # over all phases and resumes
        if position is None:
            self.start_epoch = args.start_epoch
        else:
            self.start_epoch = max(0, position.epoch - 1) if position.kind != "random" else 0
        self.last_row: list = []  # the CSV values of the last phase
        self._first_epoch = None  # (epoch, time.monotonic()) of the first epoch this process began
        # Called as reporter(row dict, end-of-epoch checkpoint path or None) after each phase (sweeps).
        self.reporter = None

    def run(self) -> int:
        """Play the games asked for, or run the phases of the plan. Returns the exit status."""
        previous_handlers = {}
        try:
            if self.args.play_games:
                return self.play()
            if self.checkpointer is not None:
                previous_handlers = self.stop_on_signals()
            plan = self.remaining(phase_plan(self.args, self.start_epoch))
            for index, phase in enumerate(plan):
                played = self.run_phase(phase)
                if self.agent.stop_requested:
                    self.interrupted_checkpoint(phase, played)
                    return 0
                self.end_phase(phase, end_of_epoch=index + 1 == len(plan) or plan[index + 1].epoch != phase.epoch)
        finally:
            self.stats.close()
            self.env.close()
            for signum, handler in previous_handlers.items():  # a run started from Python leaves none behind
                signal.signal(signum, handler)
        logger.info("All done")
        return 0

    def run_phase(self, phase: Phase) -> int:
        """Play a phase, or its rest when resuming; returns its steps (games) played so far.

        A test by games is played whole (after an interruption its statistics are restored).
        """
        position = self.position
        before = position.played if position and (phase.epoch, phase.kind) == (position.epoch, position.kind) else 0
        if phase.kind == "train" and before == 0:
            logger.info("Epoch #%d of %d%s", phase.epoch, self.args.epochs, self.run_eta(phase.epoch))
        logger.info(" %s", phase)
        self.env.set_mode("test" if phase.kind == "test" else "train")
        if before == 0:
            desc = phase.kind if phase.kind == "random" else f"epoch {phase.epoch}/{self.args.epochs} {phase.kind}"
            self.stats.reset(phase.kind, phase.length, by_games=phase.by_games, desc=desc)
        if phase.by_games:
            if before < phase.length:
                self.evaluate(phase.epoch, phase.length)
            played = phase.length
        else:
            play = dict(random=self.agent.play_random, train=self.agent.train, test=self.agent.test)[phase.kind]
            played = before + play(phase.length - before, restart=before == 0 or self.force_restart)
        self.steps_played += played - before
        return played

    def run_eta(self, epoch: int) -> str:
        """", run ETA h:mm:ss" from the epochs this process has run so far, before ``epoch`` starts."""
        now = time.monotonic()
        if self._first_epoch is None:
            self._first_epoch = (epoch, now)
            return ""
        first, started = self._first_epoch
        per_epoch = (now - started) / max(1, epoch - first)
        seconds = int(per_epoch * (self.args.epochs - epoch + 1))
        return f", run ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def end_phase(self, phase: Phase, end_of_epoch: bool) -> None:
        """The phase's CSV row; a snapshot after training; a checkpoint at the end of an epoch."""
        self.last_row = self.stats.write(phase.epoch, phase.kind, total_train_steps=self.agent.total_train_steps,
                                         memory=self.mem, net=self.net)
        if phase.kind == "train" and self.prefix:
            self.save_snapshot(phase.epoch)
        checkpoint = None
        if self.checkpointer is not None and phase.epoch > 0 and end_of_epoch:
            checkpoint = self.checkpointer.end_of_epoch(phase.epoch, self.steps_played)
        if self.reporter is not None:
            self.reporter(dict(zip(CSV_COLUMNS, self.last_row)), checkpoint)

    def remaining(self, plan: list[Phase]) -> list[Phase]:
        """The part of the plan still to run when resuming from a checkpoint."""
        if self.position is None:
            return plan
        keys = [(phase.epoch, phase.kind) for phase in plan]
        where = (self.position.epoch, self.position.kind)
        if where in keys:
            return plan[keys.index(where):]
        return [phase for phase in plan if phase.epoch > self.position.epoch]

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

    def evaluate(self, epoch: int, games: int) -> None:
        """The Nature evaluation protocol: prints the summary, writes the per-game CSV."""
        from simple_dqn.evaluation import format_summary, summarize, write_games_csv

        scores = self.agent.play(games)
        print(f"epoch {epoch} test over {games} games: {format_summary(summarize(scores))}", flush=True)
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
                      architecture=dict(batch_norm=args.batch_norm, dueling=args.dueling,
                                        num_atoms=args.num_atoms, v_min=args.v_min, v_max=args.v_max,
                                        noisy=args.noisy,
                                        numerics=self.net.numerics),
                      options=snapshot_options(args), weight_updates=self.net.weight_updates)

    def interrupted_checkpoint(self, phase: Phase, played: int) -> None:
        """After SIGINT or SIGTERM: <prefix>_interrupted.checkpoint.h5 and how to resume."""
        from simple_dqn.checkpoint import Position

        path = self.checkpointer.interrupted(Position(phase.epoch, phase.kind, played, self.steps_played))
        print(f"simple_dqn: stopped in epoch {phase.epoch}, phase {phase.kind}, after {played} steps; resume with "
              f"--resume auto (e.g. ./train.sh <rom> [label] --resume auto) or from {path}",
              file=sys.stderr, flush=True)

    def stop_on_signals(self) -> dict:
        """Make SIGINT and SIGTERM end the phase after the current step (a second one ends the process).

        Returns the handlers they had, by signal number, for run() to put back.
        """
        import threading

        if threading.current_thread() is not threading.main_thread():
            return {}  # a sweep trial in a Ray worker's thread: Ray owns the signals

        def request_stop(signum, frame):
            self.agent.stop_requested = True
            signal.signal(signum, signal.SIG_DFL)
            print(f"simple_dqn: {signal.Signals(signum).name}: finishing the step, then writing a checkpoint",
                  file=sys.stderr, flush=True)

        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        for signum in previous:
            signal.signal(signum, request_stop)
        return previous


def make_experiment(args, snapshot) -> Experiment:
    """Build the components and, where the run continues a checkpoint, restore them from it.

    A new training run is refused over an earlier one's files (protect_earlier_run).

    Raises:
        UsageError: bad components, an earlier run in the way, or a checkpoint that is damaged
            or made for another run.
    """
    from simple_dqn.checkpoint import Checkpointer, ProcessRandomState, checkpoint_to_continue
    from simple_dqn.statistics import Statistics

    env, mem, net, agent = build(args, snapshot)
    stats = Statistics(args.csv_file, tensorboard=tensorboard_log(args))
    agent.callback = stats
    components = dict(agent=agent, memory=mem, network=net, statistics=stats, rng=ProcessRandomState(),
                      environment=env)
    header = dict(game=env.name, num_actions=env.num_actions, action_set=env.action_set,
                  screen_height=env.screen_shape[0], screen_width=env.screen_shape[1],
                  history_length=args.history_length, options=snapshot_options(args))
    checkpointer = Checkpointer(args.save_weights_prefix, components, header)
    writes = args.checkpoint and bool(args.save_weights_prefix)
    path = checkpoint_to_continue(args, snapshot)
    if path is None:
        resuming = args.start_epoch > 0 and args.train_steps > 0  # from a snapshot's weights only
        if not resuming and args.train_steps > 0 and not args.play_games:
            protect_earlier_run(args)
        stats.open_csv(keep_until_epoch=args.start_epoch if resuming else None)
        return Experiment(args, env, mem, net, agent, stats, checkpointer if writes else None)
    # The saved rows replace the CSV's: rows a killed run wrote after this checkpoint go.
    position, restored = checkpointer.restore(path)
    if "environment" not in restored:
        stats.stream_rewards[:] = 0.0  # the games start anew: their running scores with them
    logger.info("Resuming from checkpoint %s at epoch %d, phase %s, after %d steps", path, position.epoch,
                position.kind, position.played)
    return Experiment(args, env, mem, net, agent, stats, checkpointer if writes else None, position,
                      restart="environment" not in restored)


def tensorboard_log(args):
    """The --tensorboard log, or None."""
    if not args.tensorboard:
        return None
    from simple_dqn.tensorboard_log import TensorBoardLog

    return TensorBoardLog(args.tensorboard, args.tensorboard_every)


def earlier_run_files(prefix: str | None) -> list[str]:
    """The snapshots (<prefix>_<epoch>.safetensors) and checkpoints a run with this prefix left."""
    import glob

    if not prefix:
        return []
    pattern = re.compile(re.escape(os.path.basename(prefix)) + r"_(\d+\.safetensors|\d+\.checkpoint\.h5|"
                         r"interrupted\.checkpoint\.h5)")
    return sorted(p for p in glob.glob(glob.escape(prefix) + "_*") if pattern.fullmatch(os.path.basename(p)))


def protect_earlier_run(args) -> None:
    """Refuse to start a training run over an earlier one's CSV or snapshots, unless --overwrite;
    with it, remove the earlier run's snapshots and checkpoints so that no mix of the two remains.

    Raises:
        UsageError: naming the run and the ways on.
    """
    files = earlier_run_files(args.save_weights_prefix)
    csv_exists = bool(args.csv_file) and os.path.isfile(args.csv_file) and os.path.getsize(args.csv_file) > 0
    if not files and not csv_exists:
        return
    if args.resume == "auto" and not args.overwrite and not made_without_checkpoints(files):
        # The same run, killed before its first checkpoint: nothing to continue, so it starts again.
        for path in files:
            os.unlink(path)
        logger.warning("--resume auto: no checkpoint of %s yet; starting the run again", args.save_weights_prefix)
        return
    if not args.overwrite:
        what = [repr(args.csv_file)] if csv_exists else []
        if files:
            what.append(f"{len(files)} snapshot/checkpoint file(s) {args.save_weights_prefix}_*")
        if args.resume == "auto":
            raise UsageError(f"an earlier run exists ({' and '.join(what)}) that was made without --checkpoint, so "
                             "--resume auto cannot continue it; continue from its weights with ./resume.sh "
                             "<snapshot>, choose a new label, or add --overwrite to replace it")
        raise UsageError(f"an earlier run exists ({' and '.join(what)}); continue it with --resume auto, "
                         "choose a new label, or add --overwrite to replace it")
    for path in files:
        os.unlink(path)
    logger.warning("--overwrite: removed %d file(s) of the earlier run %s", len(files), args.save_weights_prefix)


def made_without_checkpoints(files: list[str]) -> bool:
    """Whether the earlier run's snapshots say it ran without --checkpoint (so it can never be resumed)."""
    import json

    from simple_dqn.snapshot import read_metadata

    for path in files:
        if path.endswith(".safetensors"):
            try:
                if not json.loads(read_metadata(path)["options"]).get("checkpoint", False):
                    return True
            except (UsageError, KeyError, ValueError):
                continue
    return False


def run(args, snapshot) -> int:
    """Build the components and run the experiment. Returns the exit status."""
    from simple_dqn.threads import AdaptiveThreads, configure_threads

    used = configure_threads(args.threads)
    logger.info("CPU threads: %d%s", used, "" if args.threads else ", following the cores other processes leave free")
    experiment = make_experiment(args, snapshot)
    if not args.threads:
        experiment.agent.threads = AdaptiveThreads()
    return experiment.run()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input, 130 on Ctrl-C)."""
    from simple_dqn.arguments import load_arguments
    from simple_dqn.errors import report_usage_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    return report_usage_errors(lambda: run(*load_arguments(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
