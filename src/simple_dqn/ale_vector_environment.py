"""N copies of an Atari game on ale-py's AtariVectorEnv (--num_envs N): the games step in parallel.

ALEVectorEnvironment runs the games on C++ threads, which release the GIL, so N games step in
parallel on N cores. ALE does the frame skipping, max pooling and grayscale conversion; the
210x160 screens are then resized here with cv2.INTER_LINEAR like ALEGame's, so a stream's
screens equal those of ALEGame with the same frame_pooling ("max" or "none"). The episode
rules are Environment's.
"""

from __future__ import annotations

import numpy as np

from simple_dqn.environment import Environment, ale_fire_action, resize_screen
from simple_dqn.errors import UsageError
from simple_dqn.roms import game_name, resolve_rom

NO_FRAME_CAP = 2**31 - 1  # AtariVectorEnv truncates at its frame cap; 0 would mean "at once"


class ALEVectorEnvironment(Environment):
    """N copies of an Atari game on ale-py's AtariVectorEnv (C++ threads).

    Args:
        rom: a bundled game name or the path of a bundled ROM (AtariVectorEnv loads ROMs by name).
        num_envs: number of games.
        frame_skip, repeat_action_probability, minimal_action_set, screen_shape: as ALEGame's;
        max_episode_frames, life_loss_terminal: as Environment's.
        frame_pooling: "max" (Nature DQN) or "none"; ALE's colour averaging ("average") is
            not available in AtariVectorEnv.
        random_seed: seeds stream i with random_seed + i; None leaves ALE's seeding.
        num_threads: C++ threads (0: one per game).

    Raises:
        UsageError: frame_pooling "average", or a ROM that ale-py does not ship.
    """

    def __init__(self, rom: str, num_envs: int, *, frame_skip: int = 4, repeat_action_probability: float = 0.0,
                 minimal_action_set: bool = True, frame_pooling: str = "max",
                 screen_shape: tuple[int, int] = (84, 84), max_episode_frames: int = 0,
                 life_loss_terminal: bool = True, random_seed: int | None = None, num_threads: int = 0):
        super().__init__(num_envs, life_loss_terminal=life_loss_terminal, max_episode_frames=max_episode_frames)
        from ale_py import ALEInterface, LoggerMode
        from ale_py.vector_env import AtariVectorEnv

        if frame_pooling not in ("max", "none"):
            raise UsageError(f"--num_envs {num_envs} plays on ALE's vector environment, which cannot colour-average "
                             "frames; add --frame_pooling max (Nature DQN) or --frame_pooling none")
        rom_path = resolve_rom(rom)
        self.name = game_name(rom_path)
        ALEInterface.setLoggerMode(LoggerMode.Error)
        self.env = AtariVectorEnv(
            self.name, num_envs, num_threads=num_threads, frameskip=frame_skip, maxpool=frame_pooling == "max",
            stack_num=1, grayscale=True, img_height=210, img_width=160, noop_max=0, use_fire_reset=False,
            episodic_life=False, reward_clipping=False, repeat_action_probability=repeat_action_probability,
            full_action_space=not minimal_action_set, max_num_frames_per_episode=NO_FRAME_CAP,
            autoreset_mode="SameStep")
        self.action_set = [int(a.value) for a in self.env.ale.get_action_set()]
        self.fire_action = ale_fire_action(self.action_set)
        self.screen_shape = tuple(screen_shape)
        self.random_seed = random_seed
        self._screen_buffer = np.empty((num_envs, *self.screen_shape), dtype=np.uint8)
        self._reset_raw = None  # raw first screens of the games ALE reset in the last step
        self._over = np.zeros(num_envs, dtype=np.bool_)  # game over in the last step (ALE has reset them)
        self._lives_now = np.zeros(num_envs, dtype=np.int64)
        self._frames = np.zeros(num_envs, dtype=np.int64)
        self._started = False

    def _resize_into(self, raw: np.ndarray, rows) -> None:
        for i in rows:
            self._screen_buffer[i] = resize_screen(raw[i, 0], self.screen_shape)

    def _new_games(self, mask: np.ndarray) -> None:
        if not self._started or mask.all():
            seed = None if self.random_seed is None else int(self.random_seed) % 2**31
            raw, info = self.env.reset(seed=seed)
            self.random_seed = None  # later games go on with each stream's own generator
            self._started = True
            self._lives_now[:] = info["lives"]
            self._frames[:] = info["episode_frame_number"]
            self._over[:] = False
            self._resize_into(raw, range(self.num_envs))
            return
        # SameStep autoreset: ALE has already started the next game of a stream whose game ended.
        self._resize_into(self._reset_raw, np.flatnonzero(mask & self._over))
        others = mask & ~self._over
        if others.any():
            raw, info = self.env.reset(options=dict(reset_mask=others))
            self._lives_now[others] = info["lives"][others]
            self._frames[others] = info["episode_frame_number"][others]
            self._resize_into(raw, np.flatnonzero(others))
        self._over &= ~mask

    steps_in_background = True  # the games step on ALE's C++ threads between send and recv

    def _send(self, actions: np.ndarray) -> None:
        self.env.send(np.asarray(actions, dtype=np.int64))

    def _recv(self) -> np.ndarray:
        return self._received(*self.env.recv())

    def _received(self, raw, rewards, terminated, truncated, info) -> np.ndarray:
        """Take in one step's results from AtariVectorEnv; the raw rewards, float64 (N,)."""
        np.logical_or(terminated, truncated, out=self._over)
        self._lives_now[:] = info["lives"]
        self._frames[:] = info["episode_frame_number"]
        if self._over.any():
            # The last screen of a finished game comes in final_obs; raw holds the next game's first.
            self._reset_raw = raw.copy()
            raw = np.where(self._over[:, None, None, None], info["final_obs"], raw)
        self._resize_into(raw, range(self.num_envs))
        return rewards.astype(np.float64)

    def _screens(self) -> np.ndarray:
        return self._screen_buffer

    def _game_over(self) -> np.ndarray:
        return self._over

    def _get_lives(self) -> np.ndarray:
        return self._lives_now

    def _episode_frames(self) -> np.ndarray:
        return self._frames

    def close(self) -> None:
        self.env.close()
