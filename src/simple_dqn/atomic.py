"""Crash-safe file writes: write to a temporary name in the same folder, then rename.

A rename within one file system is atomic on POSIX, so a reader, a crash, Ctrl-C or
kill -9 at any moment sees either the old whole file or the new whole file, never a
half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from simple_dqn.errors import UsageError

NAME_MAX = 255 - 24  # a file name's limit on Linux file systems, less the temporary file's prefix and suffix


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create the folder that will hold ``path`` and check that files can be written there.

    Raises:
        UsageError: the folder cannot be created or is not writable.
    """
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create folder {str(folder)!r} for {str(path)!r}: {e.strerror}; "
                         "choose another output path") from None
    try:
        # A real write, not os.access: root passes access checks on read-only mounts and /proc.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        raise UsageError(f"folder {str(folder)!r} is not writable; choose another output path "
                         "or fix its permissions") from None
    return folder


def regular_file_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` should replace: ``path`` itself, or the file a symbolic link
    points to (so that the link stays and its target gets the data).

    Raises:
        UsageError: the path (or the link's target) is a directory, a device, a FIFO or a socket.
    """
    if len(os.fsencode(Path(path).name)) > NAME_MAX:
        raise UsageError(f"output file name {Path(path).name[:40]!r}... is {len(Path(path).name)} characters long; "
                         f"file systems take {NAME_MAX} at most (with the temporary name's prefix): choose a "
                         "shorter label or path")
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    if target.exists() and not target.is_file():
        kind = ("a directory" if target.is_dir() else "a FIFO" if target.is_fifo() else
                "a device" if target.is_char_device() or target.is_block_device() else "not a regular file")
        shown = f"{str(path)!r}" + (f" (a link to {str(target)!r})" if target != Path(path) else "")
        raise UsageError(f"output path {shown} is {kind}, not a file; give the path of a file to write")
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; rename it onto ``path`` on success.

    A symbolic link is written through: the temporary file goes beside the link's target and
    replaces it, and the link stays. On an exception (KeyboardInterrupt included) the temporary
    file is removed and ``path`` is left as it was.

    Raises:
        UsageError: the folder of ``path`` cannot be written, or ``path`` is not a regular file
            (a directory, device or FIFO).
    """
    path = regular_file_target(path)
    folder = ensure_writable_dir(path)
    fd, tmp = tempfile.mkstemp(prefix="." + Path(path).name + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_dicts_csv_atomic(path: str | os.PathLike, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Write rows (dicts keyed by columns) as a CSV with a header, atomically."""
    import csv
    import io

    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())
