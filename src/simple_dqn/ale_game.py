"""One Atari 2600 game on ale-py's ALEInterface: frame skipping, frame pooling, grayscale screens."""

from __future__ import annotations

import os

import numpy as np

from simple_dqn.environment import Game, ale_fire_action, resize_screen
from simple_dqn.errors import UsageError
from simple_dqn.roms import game_name, resolve_rom

FRAME_POOLINGS = ("average", "max", "none")


class ALEGame(Game):
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
                 screen_shape: tuple[int, int] = (84, 84), random_seed: int | None = None,
                 display_screen: bool = False, sound: bool = False, record_screen_path: str | None = None,
                 record_sound_filename: str | None = None, frame_callback=None):
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
        self.fire_action = ale_fire_action(self.action_set)
        self.name = game_name(rom_path)
        self.rom_path = rom_path
        self.screen_shape = tuple(screen_shape)
        raw_h, raw_w = self.ale.getScreenDims()
        self._gray = np.empty((raw_h, raw_w), dtype=np.uint8)
        self._gray_prev = np.empty((raw_h, raw_w), dtype=np.uint8)
        self._pooled = False  # True while self._gray holds the max-pooled screen of the last step

    def reset_game(self) -> None:
        self.ale.reset_game()
        self._pooled = False

    def game_over(self) -> bool:
        return self.ale.game_over()

    def lives(self) -> int:
        return self.ale.lives()

    def episode_frames(self) -> int:
        return self.ale.getEpisodeFrameNumber()

    def act(self, action: int) -> float:
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
        return {}, dict(ale_state=np.frombuffer(ale_state, dtype=np.uint8))

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        from ale_py import ALEState

        self.ale.restoreState(ALEState(np.asarray(arrays["ale_state"], dtype=np.uint8).tobytes()))
        self._pooled = False
