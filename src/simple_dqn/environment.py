"""Game environments behind one small interface: ALE (ale-py), Gymnasium and the `catch` game.

Every environment gives the agent the same thing: ``act(action) -> reward`` for a step of
frame_skip emulator frames, ``get_screen()`` for the preprocessed screen (uint8, shape
(screen_height, screen_width)) and ``is_terminal()``. As in the original simple_dqn, a lost
life is terminal in train mode (the game then continues from the same state on restart()),
and only game over is terminal in test mode.
"""

from __future__ import annotations

import difflib
import os
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from simple_dqn.errors import UsageError

MODES = ("train", "test")
FRAME_POOLINGS = ("average", "max", "none")


class Game:
    """What every game interface has, one game (Environment) or several (VectorEnvironment).

    Attributes:
        name: game name used in file names and snapshot metadata ("breakout", "catch", ...).
        action_set: the emulator's action ids behind the agent's actions 0..num_actions-1.
        screen_shape: (screen_height, screen_width) of a screen, in pixels.
        mode: "train" (a lost life is terminal) or "test" (only game over is).
    """

    name: str
    action_set: list[int]
    screen_shape: tuple[int, int]
    mode: str = "train"

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


class Environment(Game, ABC):
    """The interface the agent plays one game through (see Game for the attributes)."""

    def __init__(self, life_loss_terminal: bool = True):
        self.mode = "train"
        self.life_loss_terminal = life_loss_terminal
        self.life_lost = False

    def restart(self) -> None:
        """Start the next episode.

        In train mode after a lost life (but not game over) the game goes on from the
        current state and only the life-lost flag is cleared; otherwise the game is reset.
        """
        if self.mode == "test" or not self.life_lost or self.game_over():
            self.reset_game()
        self.life_lost = False

    def is_terminal(self) -> bool:
        """True when the episode has ended: game over, or in train mode a lost life."""
        if self.mode == "train" and self.life_loss_terminal and self.life_lost:
            return True
        return self.game_over()

    @abstractmethod
    def reset_game(self) -> None:
        """Start a new game."""

    @abstractmethod
    def game_over(self) -> bool:
        """True when the game has ended (all lives lost, or the frame cap was reached)."""

    @abstractmethod
    def act(self, action: int) -> float:
        """Play ``action`` (0..num_actions-1) for one agent step; return the raw game reward."""

    @abstractmethod
    def get_screen(self) -> np.ndarray:
        """The current screen: uint8, shape screen_shape, grayscale."""

    def close(self) -> None:
        """Release the emulator."""

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The game's full state for a checkpoint: (JSON-able meta, uint8 arrays).

        Raises:
            NotImplementedError: the environment cannot save its state (Gymnasium).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore a state from save_state()."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore its state")


def resize_screen(gray: np.ndarray, screen_shape: tuple[int, int]) -> np.ndarray:
    """Resize a grayscale frame to (height, width) with cv2.INTER_LINEAR, as the original did."""
    height, width = screen_shape
    if gray.shape == (height, width):
        return gray.copy()
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)


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


class ALEEnvironment(Environment):
    """An Atari 2600 game through the Arcade Learning Environment (ale-py).

    Args:
        rom: ROM path or bundled game name (see resolve_rom).
        frame_skip: emulator frames per agent step (Nature DQN: 4).
        repeat_action_probability: sticky-action probability per frame (Machado et al. 2018: 0.25).
        minimal_action_set: use the game's minimal action set, else all 18 actions.
        frame_pooling: how the frames of one step make the screen: "average" is ALE's colour
            averaging of the last two frames (the original's default), "max" the pixel-wise
            maximum of the last two frames (Nature DQN), "none" the last frame only.
        screen_shape: (height, width) of the preprocessed screen in pixels.
        max_episode_frames: in test mode, end a game after this many emulator frames (0: no cap;
            18000 is the Nature paper's 5 minutes at 60 Hz).
        random_seed: ALE's seed for sticky actions; None keeps ALE's default.
        display_screen, record_screen_path, record_sound_filename: ALE's SDL display and recording.
        sound: with display_screen, play the game's sound; with frame_callback, pass each frame's
            audio samples (uint8, 512 per frame = 30,720 Hz) to it.
        frame_callback: called as frame_callback(rgb (210, 160, 3) uint8, audio or None) after
            every emulator frame (frames are then skipped here, not inside ALE; the agent's
            screens are the same).

    Raises:
        UsageError: unknown ROM, or the ROM cannot be loaded.
    """

    def __init__(self, rom: str, *, frame_skip: int = 4, repeat_action_probability: float = 0.0,
                 minimal_action_set: bool = True, frame_pooling: str = "average",
                 screen_shape: tuple[int, int] = (84, 84), max_episode_frames: int = 0,
                 life_loss_terminal: bool = True, random_seed: int | None = None,
                 display_screen: bool = False, sound: bool = False, record_screen_path: str | None = None,
                 record_sound_filename: str | None = None, frame_callback=None):
        super().__init__(life_loss_terminal)
        from ale_py import ALEInterface, LoggerMode

        if frame_pooling not in FRAME_POOLINGS:
            raise UsageError(f"--frame_pooling must be one of {', '.join(FRAME_POOLINGS)}, not {frame_pooling!r}")
        rom_path = resolve_rom(rom)
        ALEInterface.setLoggerMode(LoggerMode.Error)
        self.ale = ALEInterface()
        self.frame_skip = frame_skip
        self.frame_pooling = frame_pooling
        self.frame_callback = frame_callback
        self.sound = sound
        # Max pooling and frame callbacks need every frame of a step, so we skip frames
        # ourselves; otherwise ALE skips frames (and colour-averages) internally, faster.
        self.skip_in_python = frame_pooling == "max" or frame_callback is not None
        self.ale.setInt("frame_skip", 1 if self.skip_in_python else frame_skip)
        if frame_callback is not None and sound:
            self.ale.setBool("sound_obs", True)
        self.ale.setBool("color_averaging", frame_pooling == "average")
        self.ale.setFloat("repeat_action_probability", repeat_action_probability)
        if random_seed is not None:
            self.ale.setInt("random_seed", int(random_seed) % (2**31))
        if display_screen:
            self.ale.setBool("display_screen", True)
            self.ale.setBool("sound", sound)
        if record_screen_path:
            os.makedirs(record_screen_path, exist_ok=True)
            self.ale.setString("record_screen_dir", record_screen_path)
        if record_sound_filename:
            self.ale.setBool("sound", True)
            self.ale.setString("record_sound_filename", record_sound_filename)
        try:
            self.ale.loadROM(rom_path)
        except RuntimeError as e:
            raise UsageError(f"ALE cannot load ROM {rom_path!r} ({e}); use one of the bundled ROMs") from None
        actions = self.ale.getMinimalActionSet() if minimal_action_set else self.ale.getLegalActionSet()
        self._actions = list(actions)
        self.action_set = [int(a.value) for a in actions]
        self.name = game_name(rom_path)
        self.rom_path = rom_path
        self.screen_shape = tuple(screen_shape)
        self.max_episode_frames = max_episode_frames
        raw_h, raw_w = self.ale.getScreenDims()
        self._gray = np.empty((raw_h, raw_w), dtype=np.uint8)
        self._gray_prev = np.empty((raw_h, raw_w), dtype=np.uint8)
        self._pooled = False  # True while self._gray holds the max-pooled screen of the last step

    def reset_game(self) -> None:
        self.ale.reset_game()
        self._pooled = False

    def game_over(self) -> bool:
        if self.ale.game_over():
            return True
        return bool(self.mode == "test" and self.max_episode_frames
                    and self.ale.getEpisodeFrameNumber() >= self.max_episode_frames)

    def act(self, action: int) -> float:
        lives = self.ale.lives()
        ale_action = self._actions[action]
        if not self.skip_in_python:
            reward = self.ale.act(ale_action)
        elif self.frame_pooling == "max":
            reward = self._act_max_pooled(ale_action)
        else:
            reward = 0
            for _ in range(self.frame_skip):
                reward += self._act_frame(ale_action)
                if self.ale.game_over():
                    break
        self.life_lost = lives != self.ale.lives()
        return float(reward)

    def _act_max_pooled(self, ale_action) -> int:
        """Play frame_skip frames; leave max(last frame, frame before) in self._gray (Nature DQN)."""
        reward = 0
        self.ale.getScreenGrayscale(self._gray_prev)  # a step that ends after one frame pools with this
        for frame in range(self.frame_skip):
            if frame == self.frame_skip - 1 and frame > 0:
                self.ale.getScreenGrayscale(self._gray_prev)
            reward += self._act_frame(ale_action)
            if self.ale.game_over():
                break
        self.ale.getScreenGrayscale(self._gray)
        np.maximum(self._gray, self._gray_prev, out=self._gray)
        self._pooled = True
        return reward

    def _act_frame(self, ale_action) -> int:
        """One emulator frame, reported to frame_callback."""
        reward = self.ale.act(ale_action)
        if self.frame_callback is not None:
            audio = self.ale.getAudio() if self.sound else None
            self.frame_callback(self.ale.getScreenRGB(), audio)
        return reward

    def get_screen(self) -> np.ndarray:
        if not self._pooled:
            self.ale.getScreenGrayscale(self._gray)
        return resize_screen(self._gray, self.screen_shape)

    def rgb_screen(self) -> np.ndarray:
        """The current raw emulator frame in colour: uint8, shape (210, 160, 3)."""
        return self.ale.getScreenRGB()

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        # ALE's own serialisation, with its random generator (sticky actions).
        ale_state = self.ale.cloneState(include_rng=True).__getstate__()
        return (dict(mode=self.mode, life_lost=self.life_lost),
                dict(ale_state=np.frombuffer(ale_state, dtype=np.uint8)))

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        from ale_py import ALEState

        self.ale.restoreState(ALEState(np.asarray(arrays["ale_state"], dtype=np.uint8).tobytes()))
        self.mode, self.life_lost = meta["mode"], bool(meta["life_lost"])
        self._pooled = False


class GymEnvironment(Environment):
    """A Gymnasium environment with image observations, e.g. ``ALE/Breakout-v5``.

    Observations are converted to grayscale and resized to screen_shape (INTER_LINEAR).
    A lost life is read from ``info["lives"]`` where the environment reports it.

    Raises:
        UsageError: the id is not registered (names the closest ids).
    """

    def __init__(self, env_id: str, *, screen_shape: tuple[int, int] = (84, 84),
                 random_seed: int | None = None, life_loss_terminal: bool = True,
                 max_episode_frames: int = 0, **make_kwargs):
        super().__init__(life_loss_terminal)
        import gymnasium as gym

        try:
            import ale_py

            gym.register_envs(ale_py)
        except ImportError:  # ALE ids are then simply unknown
            pass
        if env_id not in gym.envs.registry:
            close = difflib.get_close_matches(env_id, list(gym.envs.registry), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else "see gymnasium.envs.registry for the ids"
            raise UsageError(f"unknown Gymnasium environment id {env_id!r}; {hint}")
        self.env = gym.make(env_id, **make_kwargs)
        space = self.env.action_space
        if not hasattr(space, "n"):
            raise UsageError(f"Gymnasium environment {env_id!r} has no discrete action space; DQN needs one")
        self.action_set = list(range(int(space.n)))
        self.name = game_name(env_id)
        self.screen_shape = tuple(screen_shape)
        self.max_episode_frames = max_episode_frames
        self._seed = random_seed
        self._obs = None
        self._lives = 0
        self._done = True

    def reset_game(self) -> None:
        self._obs, info = self.env.reset(seed=self._seed)
        self._seed = None  # seed only the first reset, as Gymnasium recommends
        self._lives = info.get("lives", 0)
        self._done = False
        self._steps = 0

    def game_over(self) -> bool:
        if self._done:
            return True
        ale = getattr(self.env.unwrapped, "ale", None)  # the frame cap needs ALE's frame counter
        return bool(self.mode == "test" and self.max_episode_frames and ale is not None
                    and ale.getEpisodeFrameNumber() >= self.max_episode_frames)

    def act(self, action: int) -> float:
        if self._obs is None:
            self.reset_game()
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        lives = info.get("lives", self._lives)
        self.life_lost = lives < self._lives
        self._lives = lives
        self._steps += 1
        self._done = bool(terminated or truncated)
        return float(reward)

    def get_screen(self) -> np.ndarray:
        if self._obs is None:
            self.reset_game()
        obs = np.asarray(self._obs)
        if obs.ndim == 3 and obs.shape[2] == 3:
            obs = cv2.cvtColor(obs, cv2.COLOR_RGB2GRAY)
        elif obs.ndim == 3:
            obs = obs[..., 0]
        if obs.dtype != np.uint8:
            obs = np.clip(obs, 0, 255).astype(np.uint8)
        return resize_screen(obs, self.screen_shape)

    def rgb_screen(self) -> np.ndarray:
        """The latest observation as given by the environment."""
        return np.asarray(self._obs)

    def close(self) -> None:
        self.env.close()
