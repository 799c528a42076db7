"""Snapshot files: the online network's weights in safetensors, described by its metadata.

A snapshot ``<save_weights_prefix>_<epoch>.safetensors`` holds float32 tensors (the online
network's state_dict) and string metadata: the format and its version, the game, the
environment kind, the epoch, total_train_steps, weight_updates, the action set, the screen size, the
history length, the architecture and the options the run used. safetensors files are data:
loading one never executes code from it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import torch

from simple_dqn import __version__
from simple_dqn.atomic import atomic_path
from simple_dqn.errors import UsageError

FORMAT = "simple_dqn.snapshot"
FORMAT_VERSION = "1"
SNAPSHOT_SUFFIX = ".safetensors"
_EPOCH_RE = re.compile(r"^(?P<prefix>.+)_(?P<epoch>\d+)$")


@dataclass
class Snapshot:
    """A loaded snapshot: tensors (name -> float32 CPU tensor) and its parsed metadata."""

    path: str
    tensors: dict[str, torch.Tensor]
    game: str
    environment: str
    epoch: int
    total_train_steps: int
    action_set: list[int]
    screen_shape: tuple[int, int]
    history_length: int
    architecture: dict
    options: dict
    weight_updates: int = 0

    @property
    def num_actions(self) -> int:
        return len(self.action_set)


def split_snapshot_name(path: str) -> tuple[str, int]:
    """``snapshots/space_invaders_126.safetensors`` -> (``space_invaders``, 126).

    The prefix is everything before the last ``_<epoch>`` (the original broke on
    ``space_invaders_126``).

    Raises:
        UsageError: the name does not end in ``_<epoch>.safetensors``.
    """
    base = os.path.basename(path)
    if base.endswith(SNAPSHOT_SUFFIX):
        base = base[:-len(SNAPSHOT_SUFFIX)]
    match = _EPOCH_RE.match(base)
    if not match:
        raise UsageError(f"snapshot name {os.path.basename(path)!r} does not end in _<epoch>.safetensors; "
                         "rename it like breakout_12.safetensors")
    return match["prefix"], int(match["epoch"])


def save_snapshot(path: str, tensors: dict[str, torch.Tensor], *, game: str, environment: str, epoch: int,
                  total_train_steps: int, action_set: list[int], screen_shape: tuple[int, int],
                  history_length: int, architecture: dict, options: dict, weight_updates: int = 0) -> None:
    """Write a snapshot atomically (temporary file, then rename).

    Raises:
        UsageError: the folder cannot be written.
    """
    from safetensors.torch import save_file

    metadata = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "simple_dqn_version": __version__,
        "game": game, "environment": environment, "epoch": str(epoch),
        "total_train_steps": str(total_train_steps), "weight_updates": str(weight_updates),
        "action_set": json.dumps(list(action_set)),
        "screen_height": str(screen_shape[0]), "screen_width": str(screen_shape[1]),
        "history_length": str(history_length), "architecture": json.dumps(architecture),
        "options": json.dumps(options, sort_keys=True),
    }
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)


def read_metadata(path: str) -> dict[str, str]:
    """The raw metadata of a snapshot file, checked to be a simple_dqn snapshot.

    Raises:
        UsageError: missing, unreadable, truncated or not a simple_dqn snapshot.
    """
    from safetensors import safe_open

    if not os.path.isfile(path):
        raise UsageError(f"snapshot {path!r} does not exist; give the path of a .safetensors file "
                         "written by train.sh (see snapshots/)")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as e:  # safetensors raises several types for damaged files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"{path!r} is not a readable snapshot ({reason}); it may be truncated or "
                         "another kind of file: use a .safetensors snapshot written by train.sh") from None
    if metadata.get("format") != FORMAT:
        raise UsageError(f"{path!r} is a safetensors file but not a simple_dqn snapshot (no simple_dqn "
                         "metadata); use a snapshot written by train.sh")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path!r} is a snapshot of format version {metadata.get('format_version')!r}, "
                         f"this simple_dqn reads version {FORMAT_VERSION}; use the simple_dqn that wrote it")
    return metadata


def load_snapshot(path: str) -> Snapshot:
    """Read and check a snapshot.

    Raises:
        UsageError: missing, damaged, not a snapshot, or inconsistent metadata.
    """
    from safetensors.torch import load_file

    metadata = read_metadata(path)
    try:
        tensors = load_file(path)
        snapshot = Snapshot(
            path=path, tensors=tensors, game=metadata["game"], environment=metadata["environment"],
            epoch=int(metadata["epoch"]), total_train_steps=int(metadata["total_train_steps"]),
            action_set=[int(a) for a in json.loads(metadata["action_set"])],
            screen_shape=(int(metadata["screen_height"]), int(metadata["screen_width"])),
            history_length=int(metadata["history_length"]),
            architecture=dict(json.loads(metadata["architecture"])),
            options=dict(json.loads(metadata["options"])),
            weight_updates=int(metadata.get("weight_updates", 0)),
        )
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"snapshot {path!r} is damaged ({type(e).__name__}: {reason}); "
                         "use another snapshot") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise UsageError(f"snapshot {path!r} holds non-finite values in {name}; use another snapshot")
    return snapshot


def check_compatible(source: str, saved: dict, *, game: str, num_actions: int, screen_shape: tuple[int, int],
                     history_length: int, support: tuple[int, float, float] | None = None,
                     scale_screens: bool | None = None) -> None:
    """Refuse a snapshot or checkpoint made for another game, action set, screen size, history, C51 support
    or input scale.

    saved: the file's game, num_actions, screen_height, screen_width and history_length, and with
        support given its num_atoms (0: a Q-network), v_min and v_max (snapshot_fields() fills them in).
    support: the options' (num_atoms, v_min, v_max) (Bellemare et al. 2017); None skips that check
        (a checkpoint's support is one of the options fixed in a run).
    scale_screens: the options' --scale_screens, against the file's (true where it has none); None
        skips that check.

    Raises:
        UsageError: naming what differs and the fix.
    """
    problems = []
    if saved["game"] != game:
        problems.append(f"game {saved['game']!r}, not {game!r}")
    if int(saved["num_actions"]) != num_actions:
        problems.append(f"{saved['num_actions']} actions, not {num_actions}")
    saved_shape = (int(saved["screen_height"]), int(saved["screen_width"]))
    if saved_shape != tuple(screen_shape):
        problems.append(f"{saved_shape[0]}x{saved_shape[1]} screens, not {screen_shape[0]}x{screen_shape[1]}")
    if int(saved["history_length"]) != history_length:
        problems.append(f"history_length {saved['history_length']}, not {history_length}")
    if problems:
        raise UsageError(f"{source!r} was made for {'; '.join(problems)}; use one made for this game and "
                         "these settings")
    if scale_screens is not None and bool(saved.get("scale_screens", True)) != bool(scale_screens):
        raise UsageError(f"{source!r} was trained on {'scaled' if saved.get('scale_screens', True) else '0-255'} "
                         "pixels, but the options ask otherwise; drop --scale_screens to use the snapshot's")
    if support is None:
        return
    saved_support = (int(saved["num_atoms"]), float(saved["v_min"]), float(saved["v_max"]))
    wanted = (int(support[0]), float(support[1]), float(support[2]))
    if saved_support[0] == wanted[0] == 0 or saved_support == wanted:
        return
    raise UsageError(f"{source!r} holds {describe_support(*saved_support)}, but the options ask for "
                     f"{describe_support(*wanted)}; drop --num_atoms/--v_min/--v_max to use the snapshot's")


def snapshot_fields(snapshot: Snapshot) -> dict:
    """The fields check_compatible() compares, from a loaded snapshot (one without num_atoms is a Q-network)."""
    options = snapshot.options
    return dict(game=snapshot.game, num_actions=snapshot.num_actions, screen_height=snapshot.screen_shape[0],
                screen_width=snapshot.screen_shape[1], history_length=snapshot.history_length,
                num_atoms=options.get("num_atoms", 0), v_min=options.get("v_min", -10.0),
                v_max=options.get("v_max", 10.0), scale_screens=options.get("scale_screens", True))


def describe_support(num_atoms: int, v_min: float, v_max: float) -> str:
    """'a Q-network' or 'a C51 network of 51 atoms in [-10, 10]', for messages."""
    if not num_atoms:
        return "a Q-network"
    return f"a C51 network of {num_atoms} atoms in [{v_min:g}, {v_max:g}]"
