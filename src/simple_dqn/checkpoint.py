"""Full-state checkpoints in HDF5: everything needed to continue a run as if it never stopped.

A checkpoint ``<prefix>_<epoch>.checkpoint.h5`` (or ``<prefix>_interrupted.checkpoint.h5``
after Ctrl-C or SIGTERM) holds one group per component, each with a JSON ``meta`` attribute
and numeric datasets: the agent (counters, random generator, state buffer), the replay
memory (the filled rows; gzip level 1 in chunks of 256 screens, about 48x smaller on
Breakout), the networks (online, target, optimizer state), the statistics (running counts,
rows written, validation states), the environment (ALE's serialised state with its random
generator) and the process's random generators (Python, torch). The file's ``header``
attribute says where the run stands: the next phase to run and the steps already played in it.

Every dataset carries a Fletcher-32 checksum, so flipped bytes are detected on reading.
Files are data: loading never unpickles anything. Files are written to a temporary name and
renamed into place, so a kill at any moment leaves the previous checkpoint whole.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import random
import re
from dataclasses import dataclass

import numpy as np

from simple_dqn import __version__
from simple_dqn.atomic import atomic_path
from simple_dqn.errors import StateMismatch, UsageError

FORMAT = "simple_dqn.checkpoint"
FORMAT_VERSION = "3"
SUFFIX = ".checkpoint.h5"
KEEP_EPOCH_CHECKPOINTS = 2  # older epoch checkpoints are deleted: the newest may be damaged
SCREEN_CHUNK = 256  # screens per compressed chunk

logger = logging.getLogger("simple_dqn")


def checkpoint_path(prefix: str, epoch: int) -> str:
    """Path of the checkpoint written at the end of ``epoch`` (beside its snapshot)."""
    return f"{prefix}_{epoch}{SUFFIX}"


def interrupted_path(prefix: str) -> str:
    """Path of the checkpoint written when a run is interrupted mid-epoch."""
    return f"{prefix}_interrupted{SUFFIX}"


def save_checkpoint(path: str, header: dict, components: dict[str, tuple[dict, dict[str, np.ndarray]]]) -> int:
    """Write a checkpoint atomically; returns its size in bytes.

    components: name -> (JSON-able meta, {dataset name: array}); dataset names may hold '/'.

    Raises:
        UsageError: the folder cannot be written.
    """
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["header"] = json.dumps(dict(header, simple_dqn_version=__version__))
            for name, (meta, arrays) in components.items():
                group = f.create_group(name)
                group.attrs["meta"] = json.dumps(meta)
                for key, array in arrays.items():
                    array = np.ascontiguousarray(array)
                    if array.size == 0:
                        group.create_dataset(key, data=array)
                    elif array.nbytes > 1 << 20:
                        chunks = (min(SCREEN_CHUNK, array.shape[0]), *array.shape[1:])
                        group.create_dataset(key, data=array, chunks=chunks, compression="gzip",
                                             compression_opts=1, fletcher32=True)
                    else:
                        group.create_dataset(key, data=array, fletcher32=True)
    return os.path.getsize(path)


class FormatVersionError(UsageError):
    """A checkpoint of another format version: not damaged, so never skipped or replaced."""


class Checkpoint:
    """An open checkpoint file. Use as a context manager; read components with component().

    Raises (on opening):
        UsageError: missing, unreadable, not a checkpoint, or of another format version.
    """

    def __init__(self, path: str):
        import h5py

        self.path = path
        if not os.path.isfile(path):
            raise UsageError(f"checkpoint {path!r} does not exist")
        try:
            self.file = h5py.File(path, "r")
        except Exception as e:
            raise UsageError(f"{path!r} is not a readable checkpoint ({_reason(e)}); it may be truncated: "
                             "use an earlier checkpoint") from None
        try:
            if self.file.attrs.get("format") != FORMAT:
                raise UsageError(f"{path!r} is an HDF5 file but not a simple_dqn checkpoint")
            if self.file.attrs.get("format_version") != FORMAT_VERSION:
                raise FormatVersionError(f"{path!r} is a checkpoint of format version "
                                         f"{self.file.attrs.get('format_version')!r}; this simple_dqn reads "
                                         f"{FORMAT_VERSION!r}: continue it with the simple_dqn that wrote it, "
                                         "or from its snapshot's weights with ./resume.sh")
            self.header = json.loads(self.file.attrs["header"])
            if not isinstance(self.header, dict):
                raise ValueError("header is not an object")
        except UsageError:
            self.file.close()
            raise
        except Exception as e:
            self.file.close()
            raise UsageError(f"checkpoint {path!r} is damaged ({_reason(e)}); use an earlier checkpoint") from None

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()

    def component(self, name: str) -> tuple[dict, dict]:
        """(meta, {dataset name: h5py dataset}) of one component; datasets are read lazily.

        Raises:
            UsageError: the component is missing or damaged.
        """
        import h5py

        try:
            group = self.file[name]
            meta = json.loads(group.attrs["meta"])
            datasets: dict = {}
            group.visititems(lambda key, item: datasets.__setitem__(key, item)
                             if isinstance(item, h5py.Dataset) else None)
            return meta, datasets
        except Exception as e:
            raise UsageError(f"checkpoint {self.path!r} is damaged in {name!r} ({_reason(e)}); "
                             "use an earlier checkpoint") from None

    def verify(self) -> None:
        """Read every dataset once, checking its checksum.

        Raises:
            UsageError: a damaged dataset.
        """
        import h5py

        def check(key, item):
            if isinstance(item, h5py.Dataset):
                for start in range(0, max(1, item.shape[0] if item.shape else 1), 4096):
                    item[start:start + 4096] if item.shape else item[()]

        try:
            self.file.visititems(check)
        except Exception as e:
            raise UsageError(f"checkpoint {self.path!r} is damaged ({_reason(e)}); use an earlier checkpoint") from None


class ProcessRandomState:
    """The process-wide generators a run draws from besides its own: Python's random and torch's CPU one."""

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(Python's state as JSON, torch's state as uint8 bytes)."""
        import torch

        version, internal, gauss = random.getstate()
        return dict(python=[version, list(internal), gauss]), dict(torch=torch.get_rng_state().numpy())

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state()."""
        import torch

        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(torch.from_numpy(np.asarray(arrays["torch"], dtype=np.uint8)))


def capture(components: dict) -> dict[str, tuple[dict, dict[str, np.ndarray]]]:
    """save_state() of every component (name -> object), for save_checkpoint.

    A component that cannot save its state (NotImplementedError: the games of Gymnasium and of
    ALE's vector environment) is left out with a warning; restoring then starts new episodes.
    """
    states = {}
    for name, component in components.items():
        try:
            states[name] = component.save_state()
        except NotImplementedError as e:
            logger.warning("%s: a resumed run starts a new episode", e)
    return states


def restore(checkpoint: Checkpoint, components: dict) -> set[str]:
    """load_state() of every component the checkpoint holds; returns the names restored.

    Raises:
        UsageError: the checkpoint was made for another configuration (StateMismatch: names
            the option), or it is damaged.
    """
    restored = set()
    try:
        for name, component in components.items():
            if name in checkpoint.file:
                component.load_state(*checkpoint.component(name))
                restored.add(name)
    except UsageError:
        raise
    except StateMismatch as e:
        raise UsageError(f"checkpoint {checkpoint.path!r} does not fit this run: {e}") from None
    except Exception as e:
        raise UsageError(f"checkpoint {checkpoint.path!r} is damaged or does not fit this run ({_reason(e)}); "
                         "use an earlier checkpoint") from None
    return restored


def _reason(e: Exception) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def checkpoint_beside(snapshot_path: str) -> str | None:
    """The epoch checkpoint written with a snapshot (same prefix and epoch), if it exists."""
    base = snapshot_path[:-len(".safetensors")] if snapshot_path.endswith(".safetensors") else snapshot_path
    path = base + SUFFIX
    return path if os.path.isfile(path) else None


def find_resumable(prefix: str) -> str | None:
    """The newest valid checkpoint of a run (by steps played); damaged ones are skipped with a warning.

    Raises:
        FormatVersionError: a checkpoint of the run is of another format version.
    """
    candidates = []
    for path in glob.glob(glob.escape(prefix) + "_*" + SUFFIX):
        middle = path[len(prefix) + 1:-len(SUFFIX)]
        if not (middle.isdigit() or middle == "interrupted"):
            continue
        try:
            with Checkpoint(path) as checkpoint:
                checkpoint.verify()
                candidates.append((int(checkpoint.header["progress"]), path))
        except FormatVersionError:
            raise
        except (UsageError, KeyError, ValueError, TypeError) as e:
            logger.warning("Skipping checkpoint %s: %s", path, e)
    if not candidates:
        return None
    return max(candidates)[1]


def prune_epoch_checkpoints(prefix: str, keep: int = KEEP_EPOCH_CHECKPOINTS) -> None:
    """Delete all but the newest ``keep`` epoch checkpoints of a run."""
    paths = [p for p in glob.glob(glob.escape(prefix) + "_*" + SUFFIX)
             if re.fullmatch(r"\d+", p[len(prefix) + 1:-len(SUFFIX)])]
    paths.sort(key=lambda p: int(p[len(prefix) + 1:-len(SUFFIX)]))
    for path in paths[:-keep]:
        os.unlink(path)


@dataclass(frozen=True)
class Position:
    """Where a checkpointed run stands.

    epoch, kind: the phase to run next (kind "random", "train" or "test"); played: its steps
    (or games, for a test by games) already played; progress: environment steps played over
    the whole run, which orders a run's checkpoints.
    """

    epoch: int
    kind: str
    played: int
    progress: int


class Checkpointer:
    """A run's checkpoints: restores the components from one, writes the end-of-epoch and
    interrupted ones and prunes the old.

    Args:
        prefix: the run's --save_weights_prefix (checkpoints are written beside its snapshots),
            or None where the run writes none.
        components: name -> object with save_state() and load_state() (capture, restore).
        header: the run's own fields, written into every checkpoint and compared on restoring:
            game, num_actions, action_set, screen_height, screen_width, history_length, options.
    """

    def __init__(self, prefix: str | None, components: dict, header: dict):
        self.prefix, self.components, self.header = prefix, components, header

    def restore(self, path: str) -> tuple[Position, set[str]]:
        """Load every component from the checkpoint at path; returns (its position, the names restored).

        Raises:
            UsageError: the file is not a checkpoint, is damaged, or was made for another game,
                action set, screen size or history length, or another configuration.
        """
        from simple_dqn.snapshot import check_compatible

        with Checkpoint(path) as checkpoint:
            saved = checkpoint.header
            try:
                check_compatible(path, saved, game=self.header["game"], num_actions=self.header["num_actions"],
                                 screen_shape=(self.header["screen_height"], self.header["screen_width"]),
                                 history_length=self.header["history_length"])
                position = Position(int(saved["epoch"]), str(saved["phase"]), int(saved["played"]),
                                    int(saved["progress"]))
            except (KeyError, TypeError, ValueError):
                raise UsageError(f"checkpoint {path!r} has a damaged header; use an earlier one") from None
            return position, restore(checkpoint, self.components)

    def write(self, path: str, position: Position) -> None:
        """A checkpoint at path saying the run goes on from position."""
        import time

        started = time.perf_counter()
        header = dict(self.header, epoch=position.epoch, phase=position.kind, played=position.played,
                      progress=position.progress)
        size = save_checkpoint(path, header, capture(self.components))
        logger.info("Checkpoint %s written: %.1f MB in %.1f s", path, size / 1e6, time.perf_counter() - started)

    def end_of_epoch(self, epoch: int, progress: int) -> str:
        """<prefix>_<epoch>.checkpoint.h5, pointing at the next epoch's training; the older ones
        and an interrupted one pruned. Returns its path."""
        path = checkpoint_path(self.prefix, epoch)
        self.write(path, Position(epoch + 1, "train", 0, progress))
        prune_epoch_checkpoints(self.prefix)
        if os.path.exists(interrupted_path(self.prefix)):
            os.unlink(interrupted_path(self.prefix))
        return path

    def interrupted(self, position: Position) -> str:
        """<prefix>_interrupted.checkpoint.h5 at position (after SIGINT or SIGTERM). Returns its path."""
        path = interrupted_path(self.prefix)
        self.write(path, position)
        return path


def checkpoint_to_continue(args, snapshot) -> str | None:
    """The checkpoint a run continues from: with --resume auto the run's newest, with a resumed
    snapshot (--load_weights and --start_epoch, resume.sh) the one beside it; else None.

    Raises:
        UsageError: --resume auto without --save_weights_prefix.
    """
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
