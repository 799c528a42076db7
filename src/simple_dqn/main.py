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
import sys
import time
from dataclasses import dataclass

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
    """The experiment protocol over the built components: phases, rows, snapshots and checkpoints.

    Args:
        args: the resolved command line (read, never changed).
        snapshot: the --load_weights snapshot, or None.

    Raises:
        UsageError: bad components, or a checkpoint that is damaged or made for another run.
    """

    def __init__(self, args, snapshot):
        self.args = args
        self.prefix = args.save_weights_prefix
        self.env, self.mem, self.net, self.agent = build(args, snapshot)
        self.start_epoch = args.start_epoch
        self.position = None  # (epoch, kind, steps played) of the checkpoint continued from
        self.steps_played = 0  # over all phases and resumes: orders checkpoints
        self.force_restart = False  # the games could not be restored: start new episodes
        self.last_row: list = []  # the CSV values of the last phase
        # Called as reporter(row dict, end-of-epoch checkpoint path or None) after each phase (sweeps).
        self.reporter = None
        checkpoint_file = find_checkpoint(args, snapshot)
        if checkpoint_file is None:
            from simple_dqn.statistics import Statistics

            resuming = args.start_epoch > 0 and args.train_steps > 0
            if not resuming and args.train_steps > 0 and not args.play_games:
                protect_earlier_run(args)
            self.stats = Statistics(args.csv_file, append_after_epoch=args.start_epoch if resuming else None,
                                    tensorboard=self.tensorboard_log())
        else:
            self.resume(checkpoint_file)
        self.agent.callback = self.stats

    def run(self) -> int:
        """Play the games asked for, or run the phases of the plan. Returns the exit status."""
        try:
            if self.args.play_games:
                return self.play()
            if self.args.checkpoint and self.prefix:
                self.stop_on_signals()
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
        logger.info("All done")
        return 0

    def run_phase(self, phase: Phase) -> int:
        """Play a phase, or its rest when resuming; returns its steps (games) played so far.

        A test by games is played whole (after an interruption its statistics are restored).
        """
        resumed = self.position is not None and (phase.epoch, phase.kind) == self.position[:2]
        before = self.position[2] if resumed else 0
        if phase.kind == "train" and before == 0:
            logger.info("Epoch #%d", phase.epoch)
        logger.info(" %s", phase)
        self.env.set_mode("test" if phase.kind == "test" else "train")
        if before == 0:
            self.stats.reset(phase.kind, None if phase.by_games else phase.length)
        if phase.by_games:
            if before < phase.length:
                self.evaluate(phase.epoch, phase.length)
            played = phase.length
        else:
            play = dict(random=self.agent.play_random, train=self.agent.train, test=self.agent.test)[phase.kind]
            played = before + play(phase.length - before, restart=before == 0 or self.force_restart)
        self.steps_played += played - before
        return played

    def end_phase(self, phase: Phase, end_of_epoch: bool) -> None:
        """The phase's CSV row; a snapshot after training; a checkpoint at the end of an epoch."""
        self.last_row = self.stats.write(phase.epoch, phase.kind, total_train_steps=self.agent.total_train_steps,
                                         memory=self.mem, net=self.net)
        if phase.kind == "train" and self.prefix:
            self.save_snapshot(phase.epoch)
        checkpoint = None
        if self.args.checkpoint and self.prefix and phase.epoch > 0 and end_of_epoch:
            checkpoint = self.end_of_epoch_checkpoint(phase.epoch)
        if self.reporter is not None:
            self.reporter(dict(zip(CSV_COLUMNS, self.last_row)), checkpoint)

    def remaining(self, plan: list[Phase]) -> list[Phase]:
        """The part of the plan still to run when resuming from a checkpoint."""
        if self.position is None:
            return plan
        keys = [(phase.epoch, phase.kind) for phase in plan]
        if self.position[:2] in keys:
            return plan[keys.index(self.position[:2]):]
        return [phase for phase in plan if phase.epoch > self.position[0]]

    def components(self) -> dict:
        """What a checkpoint holds, by name, each with save_state() and load_state()."""
        from simple_dqn.checkpoint import ProcessRandomState

        return dict(agent=self.agent, memory=self.mem, network=self.net, statistics=self.stats,
                    rng=ProcessRandomState(), environment=self.env)

    def tensorboard_log(self):
        """The --tensorboard log, or None."""
        if not self.args.tensorboard:
            return None
        from simple_dqn.tensorboard_log import TensorBoardLog

        return TensorBoardLog(self.args.tensorboard, self.args.tensorboard_every)

    def resume(self, path: str) -> None:
        """Restore every component from the checkpoint at path and where the run stood."""
        from simple_dqn.checkpoint import Checkpoint, restore
        from simple_dqn.snapshot import check_compatible
        from simple_dqn.statistics import Statistics

        env = self.env
        with Checkpoint(path) as checkpoint:
            header = checkpoint.header
            try:
                check_compatible(path, header, game=env.name, num_actions=env.num_actions,
                                 screen_shape=env.screen_shape, history_length=self.args.history_length)
                kind = "test" if header["phase"] == "test_games" else str(header["phase"])  # earlier versions
                played = header["played"] if "played" in header else header["done"]  # the earlier name
                self.position = (int(header["epoch"]), kind, int(played))
                self.steps_played = int(header["progress"])
            except (KeyError, TypeError, ValueError):
                raise UsageError(f"checkpoint {path!r} has a damaged header; use an earlier one") from None
            epoch, kind, played = self.position
            self.start_epoch = max(0, epoch - 1) if kind != "random" else 0
            # The saved rows replace the CSV's: rows a killed run wrote after this checkpoint go.
            self.stats = Statistics(None, tensorboard=self.tensorboard_log())
            self.stats.csv_file = self.args.csv_file
            restored = restore(checkpoint, self.components())
        self.force_restart = "environment" not in restored
        logger.info("Resuming from checkpoint %s at epoch %d, phase %s, after %d steps", path, epoch, kind, played)

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

    def write_checkpoint(self, path: str, epoch: int, kind: str, played: int) -> None:
        """A full-state checkpoint saying the run goes on after ``played`` steps of (epoch, kind)."""
        from simple_dqn.checkpoint import capture, save_checkpoint

        started = time.perf_counter()
        env = self.env
        header = dict(game=env.name, num_actions=env.num_actions, action_set=env.action_set,
                      screen_height=env.screen_shape[0], screen_width=env.screen_shape[1],
                      history_length=self.args.history_length, epoch=epoch, phase=kind, played=played,
                      progress=self.steps_played, options=snapshot_options(self.args))
        size = save_checkpoint(path, header, capture(self.components()))
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

    def interrupted_checkpoint(self, phase: Phase, played: int) -> None:
        """After SIGINT or SIGTERM: <prefix>_interrupted.checkpoint.h5 and how to resume."""
        from simple_dqn.checkpoint import interrupted_path

        path = interrupted_path(self.prefix)
        self.write_checkpoint(path, phase.epoch, phase.kind, played)
        print(f"simple_dqn: stopped in epoch {phase.epoch}, phase {phase.kind}, after {played} steps; resume with "
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
    run_options = None
    given = explicit_options(argv)
    if given.get("resume") == "auto" and given.get("save_weights_prefix"):
        from simple_dqn.checkpoint import Checkpoint, find_resumable

        path = find_resumable(given["save_weights_prefix"])
        if path is not None:
            with Checkpoint(path) as checkpoint:
                run_options = checkpoint.header.get("options")
    args = parse_arguments(argv, snapshot.options if snapshot else None, run_options)
    logging.basicConfig(format="%(asctime)s %(message)s", level=getattr(logging, args.log_level), force=True)
    used = args.__dict__.pop("stored_options_used", "")
    if used:
        logger.info("Options taken from the %s: %s", "checkpoint" if run_options else "snapshot", used)
    return args, snapshot


def run(args, snapshot) -> int:
    """Build the components and run the experiment. Returns the exit status."""
    from simple_dqn.threads import configure_threads

    logger.info("CPU threads: %d", configure_threads(args.threads))
    return Experiment(args, snapshot).run()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input, 130 on Ctrl-C)."""
    from simple_dqn.errors import report_usage_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    return report_usage_errors(lambda: run(*load_arguments(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
