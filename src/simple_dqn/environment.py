"""The one interface the agent plays through: N streams of one game, and the rules of an episode.

``step(actions)`` plays one agent step in every stream and returns the raw rewards, the
preprocessed screens and the terminal flags; ``restart(mask)`` then starts the next episode
of the streams that ended. One game is N = 1. The rules are written here once, for every
game and every backend:

* a lost life is terminal in train mode (the game then goes on from the same state on
  restart), only game over is terminal in test mode (as the original simple_dqn);
* in test mode a game also ends after max_episode_frames emulator frames (Mnih et al. 2015:
  18,000 frames, 5 minutes at 60 Hz).

Backends: GameEnvironment steps N single-game emulators (Game: ALE, Gymnasium, catch) one
after another; ALEVectorEnvironment (ale_vector_environment.py) runs N ALE games on C++
threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from simple_dqn.errors import StateMismatch

MODES = ("train", "test")


ALE_FIRE = 1  # ale_py.Action.FIRE.value


def ale_fire_action(action_set: list[int]) -> int | None:
    """The agent's action behind ALE's FIRE in an action set of ALE ids, None where it is missing."""
    return action_set.index(ALE_FIRE) if ALE_FIRE in action_set else None


def resize_screen(gray: np.ndarray, screen_shape: tuple[int, int]) -> np.ndarray:
    """Resize a grayscale frame to (height, width) with cv2.INTER_LINEAR, as the original did."""
    height, width = screen_shape
    if gray.shape == (height, width):
        return gray.copy()
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)


def _as_list(values):
    """A Python list of an array's (or a list's) items."""
    return values.tolist() if isinstance(values, np.ndarray) else values


class Environment(ABC):
    """N streams of one game behind the episode rules (see the module docstring).

    Args:
        num_envs: number of streams N.
        life_loss_terminal: a lost life ends the episode in train mode.
        max_episode_frames: in test mode, end a game after this many emulator frames (0: no cap).

    Attributes:
        name: game name used in file names and snapshot metadata ("breakout", "catch", ...).
        action_set: the emulator's action ids behind the agent's actions 0..num_actions-1.
        fire_action: the agent's action that presses FIRE (--fire_reset plays it), None where the
            game has no FIRE.
        screen_shape: (screen_height, screen_width) of a screen, in pixels.
        mode: "train" (a lost life is terminal) or "test" (only game over is).
    """

    name: str
    action_set: list[int]
    fire_action: int | None = None
    screen_shape: tuple[int, int]

    def __init__(self, num_envs: int, *, life_loss_terminal: bool = True, max_episode_frames: int = 0):
        self.num_envs = num_envs
        self.mode = "train"
        self.life_loss_terminal = life_loss_terminal
        self.max_episode_frames = max_episode_frames
        self._lives = np.zeros(num_envs, dtype=np.int64)
        self.life_lost = np.zeros(num_envs, dtype=np.bool_)  # in the stream's last step
        self.ended = np.zeros(num_envs, dtype=np.bool_)  # game over or capped: restart starts a new game
        self._all = np.ones(num_envs, dtype=np.bool_)

    @property
    def num_actions(self) -> int:
        """Number of actions the agent chooses from."""
        return len(self.action_set)

    def set_mode(self, mode: str) -> None:
        """Switch between "train" and "test" terminal rules.

        Raises:
            ValueError: mode is not "train" or "test".
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play actions (int (N,), 0..num_actions-1) for one agent step in every stream.

        Returns (rewards float64 (N,) raw game rewards, screens uint8 (N, H, W), terminals
        bool (N,)). The rewards and screens arrays are reused by the next call. A terminal stream must be
        restarted before the next step.
        """
        self.send(actions)
        return self.recv()

    def send(self, actions: np.ndarray) -> None:
        """step() in two halves: send starts the step, recv() ends it and returns what step() returns.

        On a backend whose games step on their own threads (steps_in_background, ALE's
        vector environment) send returns at once, so the caller's work (the updates) runs
        beside the games; elsewhere the step is played in recv().
        """
        self._send(actions)

    def recv(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """End the step that send() started; see step()."""
        rewards = self._recv()
        # The rules on Python scalars, stream by stream: with few streams, numpy's per-call cost
        # on tiny arrays is most of an environment step's overhead.
        game_over, lives = _as_list(self._game_over()), _as_list(self._get_lives())
        capped = self._capped(self._episode_frames)
        capped = [False] * self.num_envs if capped is False else _as_list(capped)
        life_loss_ends = self.mode == "train" and self.life_loss_terminal
        previous = self._lives.tolist()
        terminals = np.empty(self.num_envs, dtype=np.bool_)
        for i, over in enumerate(game_over):
            lost = lives[i] < previous[i] and not over
            ended = bool(over or capped[i])
            self.life_lost[i], self.ended[i] = lost, ended
            terminals[i] = ended or (lost and life_loss_ends)
        self._lives[:] = lives
        return rewards, self._screens(), terminals

    def _capped(self, episode_frames):
        """The frame cap: in test mode a game ends after max_episode_frames emulator frames.

        episode_frames: a function returning the frames played (int, or int (N,)), called only
        where the cap applies. Returns False where it does not, else bool (or bool (N,)).
        """
        if self.mode != "test" or self.max_episode_frames <= 0:
            return False
        return episode_frames() >= self.max_episode_frames

    def restart(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Start the next episode of the streams in mask (bool (N,); default all).

        In train mode after a lost life (not game over) the game goes on from the current
        state; otherwise a new game starts. Returns the current screens, uint8 (N, H, W),
        whose rows in mask are the new episodes' first screens.
        """
        mask = self._all if mask is None else mask
        new_game = mask & ~(self.life_lost & ~self.ended) if self.mode == "train" else mask
        if new_game.any():
            self._new_games(new_game)
            self._lives[new_game] = np.asarray(self._get_lives())[new_game]
        self.life_lost &= ~mask
        self.ended &= ~mask
        return self._screens()

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Every stream's game for a checkpoint: (JSON-able meta, arrays).

        Raises:
            NotImplementedError: the backend cannot save its games (Gymnasium, ALE's vector).
        """
        meta, arrays = self._save_games()
        return dict(meta, mode=self.mode, life_lost=self.life_lost.tolist()), arrays

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore from save_state()."""
        self._load_games(meta, arrays)
        self.mode = meta["mode"]
        self.life_lost[:] = meta["life_lost"]
        self.ended[:] = False  # checkpoints are written after terminal streams restarted
        self._lives[:] = self._get_lives()

    def close(self) -> None:
        """Release the emulators."""

    steps_in_background = False  # whether send() returns before the games have stepped

    # What a backend implements, over all N streams.

    @abstractmethod
    def _send(self, actions: np.ndarray) -> None:
        """Start one agent step in every stream with actions, int64 (N,)."""

    @abstractmethod
    def _recv(self) -> np.ndarray:
        """End the step that _send started; the raw rewards, float64 (N,)."""

    @abstractmethod
    def _new_games(self, mask: np.ndarray) -> None:
        """Start a new game in the streams in mask."""

    @abstractmethod
    def _screens(self) -> np.ndarray:
        """The current preprocessed screens, uint8 (N, H, W)."""

    @abstractmethod
    def _game_over(self) -> np.ndarray | list[bool]:
        """bool (N,), an array or a list: the game has ended (all lives lost) in the last step."""

    @abstractmethod
    def _get_lives(self) -> np.ndarray | list[int]:
        """int (N,), an array or a list: lives left (0 where the game has none)."""

    @abstractmethod
    def _episode_frames(self) -> np.ndarray:
        """int (N,): emulator frames since the game started (0 where unknown: no cap)."""

    def _save_games(self) -> tuple[dict, dict[str, np.ndarray]]:
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def _load_games(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot restore its state")


class Game(ABC):
    """One game's emulator, without the episode rules (Environment applies them).

    Attributes:
        name, action_set, fire_action, screen_shape: as Environment's.
    """

    name: str
    action_set: list[int]
    fire_action: int | None = None
    screen_shape: tuple[int, int]

    @property
    def num_actions(self) -> int:
        """Number of actions the agent chooses from."""
        return len(self.action_set)

    @abstractmethod
    def reset_game(self) -> None:
        """Start a new game."""

    @abstractmethod
    def act(self, action: int) -> float:
        """Play ``action`` (0..num_actions-1) for one agent step; return the raw game reward."""

    @abstractmethod
    def get_screen(self) -> np.ndarray:
        """The current screen: uint8, shape screen_shape, grayscale."""

    @abstractmethod
    def game_over(self) -> bool:
        """True when the game has ended (all lives lost)."""

    def lives(self) -> int:
        """Lives left (0 for games without lives)."""
        return 0

    def episode_frames(self) -> int:
        """Emulator frames since the game started (0 where unknown: the frame cap never ends it)."""
        return 0

    def rgb_screen(self) -> np.ndarray:
        """The current frame in colour, uint8 (height, width, 3), for play and record."""
        raise NotImplementedError

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The game's full state: (JSON-able meta, arrays).

        Raises:
            NotImplementedError: the game cannot save its state (Gymnasium).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore a state from save_state()."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore its state")

    def close(self) -> None:
        """Release the emulator."""


class GameEnvironment(Environment):
    """N single-game emulators stepped one after another (one game: N = 1).

    Args:
        games: the emulators, all of one game and screen shape.
        life_loss_terminal, max_episode_frames: as Environment's.
    """

    def __init__(self, games: list[Game], *, life_loss_terminal: bool = True, max_episode_frames: int = 0):
        super().__init__(len(games), life_loss_terminal=life_loss_terminal, max_episode_frames=max_episode_frames)
        self.games = games
        first = games[0]
        self.name, self.action_set, self.screen_shape = first.name, first.action_set, first.screen_shape
        self.fire_action = first.fire_action
        self._screen_buffer = np.empty((len(games), *self.screen_shape), dtype=np.uint8)
        self._rewards = np.empty(len(games))

    def game_ended(self, stream: int = 0) -> bool:
        """Whether the game of a stream is over or capped right now, between steps too (record.sh
        stops at the emulator frame where it ends)."""
        game = self.games[stream]
        return bool(game.game_over() or self._capped(game.episode_frames))

    def _new_games(self, mask: np.ndarray) -> None:
        for i in np.flatnonzero(mask):
            self.games[i].reset_game()

    def _send(self, actions: np.ndarray) -> None:
        self._sent = actions  # the games step one after another in _recv

    def _recv(self) -> np.ndarray:
        for i, game in enumerate(self.games):
            self._rewards[i] = game.act(int(self._sent[i]))
        return self._rewards

    def _screens(self) -> np.ndarray:
        for i, game in enumerate(self.games):
            self._screen_buffer[i] = game.get_screen()
        return self._screen_buffer

    def _game_over(self) -> list[bool]:
        return [game.game_over() for game in self.games]

    def _get_lives(self) -> list[int]:
        return [game.lives() for game in self.games]

    def _episode_frames(self) -> np.ndarray:
        return np.array([game.episode_frames() for game in self.games])

    def _save_games(self) -> tuple[dict, dict[str, np.ndarray]]:
        states = [game.save_state() for game in self.games]
        return (dict(games=[meta for meta, _ in states]),
                {f"stream{i}_{key}": value for i, (_, arrays) in enumerate(states) for key, value in arrays.items()})

    def _load_games(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        if len(meta["games"]) != len(self.games):
            streams = len(meta["games"])
            raise StateMismatch(f"the checkpoint was made with --num_envs {streams}; resume with --num_envs {streams}")
        for i, game in enumerate(self.games):
            prefix = f"stream{i}_"
            game.load_state(meta["games"][i], {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})

    def close(self) -> None:
        for game in self.games:
            game.close()
