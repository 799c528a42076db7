"""Where games come from: ale-py's bundled ROMs, ROM paths, and the game names used in file names."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from simple_dqn.errors import UsageError


def bundled_roms() -> dict[str, str]:
    """Game name -> path of the ROMs that ale-py ships (byte-identical to the original's roms/)."""
    import ale_py

    folder = Path(ale_py.__file__).parent / "roms"
    return {p.stem: str(p) for p in sorted(folder.glob("*.bin"))}


def resolve_rom(game: str) -> str:
    """Find the ROM file for ``game``: an existing path, or the bundled ROM of that name.

    ``roms/space_invaders.bin``, ``space_invaders.bin`` and ``space_invaders`` all resolve
    to ale-py's bundled ROM when the file does not exist.

    Raises:
        UsageError: neither a file nor a bundled game; names the closest bundled games.
    """
    if os.path.isfile(game):
        size = os.path.getsize(game)
        # Atari 2600 cartridges hold 2 KB to 64 KB; ALE would print its own lines for anything else.
        if not 2048 <= size <= 65536:
            raise UsageError(f"{game!r} ({size} bytes) is not an Atari 2600 ROM (2 KB to 64 KB); give a ROM file "
                             "such as roms/breakout.bin or a bundled game name")
        return game
    name = Path(game).name
    stem = name[:-4] if name.endswith(".bin") else name
    roms = bundled_roms()
    if stem in roms:
        return roms[stem]
    close = difflib.get_close_matches(stem, list(roms), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see the names in roms/ or ale-py's bundled ROMs"
    raise UsageError(f"ROM {game!r} is neither a file nor a game that ale-py ships; {hint}")


def game_name(game: str) -> str:
    """File-name friendly game name: ROM stem, 'catch', or the Gymnasium id without 'ALE/' and '/'."""
    if game == "catch":
        return "catch"
    name = Path(game).name
    if name.endswith(".bin"):
        return name[:-4]
    return game.replace("ALE/", "").replace("/", "_")
