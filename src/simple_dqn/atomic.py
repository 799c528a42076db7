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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; rename it onto ``path`` on success.

    On an exception (KeyboardInterrupt included) the temporary file is removed and
    ``path`` is left as it was.

    Raises:
        UsageError: the folder of ``path`` cannot be written.
    """
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
