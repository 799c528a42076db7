"""Progress bars where a person waits: drawn on a terminal, quiet in a pipe or a log file."""

from __future__ import annotations

import sys


def progress_bar(total: int | None = None, desc: str = "", unit: str = "step", enabled: bool | None = None):
    """A tqdm bar on stderr (total None: a count with its rate), inactive where it would not be seen.

    enabled: draw it (default: when stderr is a terminal). An inactive bar's update() costs
    next to nothing, so callers update it unconditionally.
    """
    from tqdm import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, leave=False, mininterval=0.5, disable=not enabled)
