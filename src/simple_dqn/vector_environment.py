"""Several copies of a game played side by side (--num_envs N), behind one small interface.

``step(actions)`` plays one agent step in every stream and returns the rewards, the
preprocessed screens and the terminal flags, under the same rules as Environment (a lost
life is terminal in train mode, game over in both modes); ``restart(mask)`` then starts the
next episode of the streams that ended, exactly as Environment.restart() does for one game.

ALEVectorEnvironment runs the games on C++ threads (ale-py's AtariVectorEnv), which release
the GIL, so N games step in parallel on N cores. ALE does the frame skipping, max pooling
and grayscale conversion; the 210x160 screens are then resized here with cv2.INTER_LINEAR
like ALEEnvironment's, so a stream's screens equal those of ALEEnvironment with the same
frame_pooling ("max" or "none"). SequentialVectorEnvironment steps N Environment objects one
after another (catch, Gymnasium): the same interface without the parallelism.
"""

from __future__ import annotations

import numpy as np

from simple_dqn.environment import Environment, Game, game_name, resize_screen, resolve_rom
from simple_dqn.errors import UsageError

NO_FRAME_CAP = 2**31 - 1  # AtariVectorEnv truncates at its frame cap; 0 would mean "at once"


class VectorEnvironment(Game):
    """The interface the vector agent plays through (see Game for the other attributes).

    Attributes:
        num_envs: number of streams (games).
    """

    num_envs: int

    def reset(self) -> np.ndarray:
        """Start a new game in every stream; returns the first screens, uint8 (N, H, W)."""
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Play actions (int (N,), 0..num_actions-1) for one agent step in every stream.

        Returns (rewards float64 (N,) raw game rewards, screens uint8 (N, H, W), terminals
        bool (N,)). The screens array is reused by the next call. A terminal stream must be
        restarted before the next step.
        """
        raise NotImplementedError

    def restart(self, mask: np.ndarray) -> np.ndarray:
        """Start the next episode of the streams in mask (bool (N,)), as Environment.restart().

        Returns uint8 (N, H, W) whose rows in mask are the new episodes' first screens.
        """
        raise NotImplementedError

    def save_state(self):
        """Vector environments cannot save their games: a resumed run starts new episodes.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def close(self) -> None:
        """Release the emulators."""


class SequentialVectorEnvironment(VectorEnvironment):
    """N Environment objects stepped one after another.

    Args:
        envs: the games, all of one kind and screen shape.
    """

    def __init__(self, envs: list[Environment]):
        self.envs = envs
        self.num_envs = len(envs)
        first = envs[0]
        self.name, self.action_set, self.screen_shape = first.name, first.action_set, first.screen_shape
        self._screens = np.empty((self.num_envs, *self.screen_shape), dtype=np.uint8)
        self._restart_screens = np.empty_like(self._screens)

    def set_mode(self, mode: str) -> None:
        super().set_mode(mode)
        for env in self.envs:
            env.set_mode(mode)

    def reset(self) -> np.ndarray:
        for i, env in enumerate(self.envs):
            env.reset_game()
            env.life_lost = False
            self._restart_screens[i] = env.get_screen()
        return self._restart_screens

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rewards = np.empty(self.num_envs)
        terminals = np.empty(self.num_envs, dtype=np.bool_)
        for i, env in enumerate(self.envs):
            rewards[i] = env.act(int(actions[i]))
            self._screens[i] = env.get_screen()
            terminals[i] = env.is_terminal()
        return rewards, self._screens, terminals

    def restart(self, mask: np.ndarray) -> np.ndarray:
        for i in np.flatnonzero(mask):
            self.envs[i].restart()
            self._restart_screens[i] = self.envs[i].get_screen()
        return self._restart_screens

    def close(self) -> None:
        for env in self.envs:
            env.close()


class ALEVectorEnvironment(VectorEnvironment):
    """N copies of an Atari game on ale-py's AtariVectorEnv (C++ threads).

    Args:
        rom: a bundled game name or the path of a bundled ROM (AtariVectorEnv loads ROMs by name).
        num_envs: number of games.
        frame_skip, repeat_action_probability, minimal_action_set, screen_shape,
        max_episode_frames, life_loss_terminal: as ALEEnvironment's.
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
        self.num_envs = num_envs
        self.action_set = [int(a.value) for a in self.env.ale.get_action_set()]
        self.screen_shape = tuple(screen_shape)
        self.max_episode_frames = max_episode_frames
        self.life_loss_terminal = life_loss_terminal
        self.random_seed = random_seed
        self._screens = np.empty((num_envs, *self.screen_shape), dtype=np.uint8)
        self._restart_screens = np.empty_like(self._screens)
        self._reset_raw = None  # raw first screens of the games ALE reset in the last step
        self._game_over = np.zeros(num_envs, dtype=np.bool_)  # ended by ALE (it has reset them)
        self._capped = np.zeros(num_envs, dtype=np.bool_)  # ended by the test-mode frame cap
        self._lives = np.zeros(num_envs, dtype=np.int64)

    def _resize_into(self, raw: np.ndarray, out: np.ndarray, rows=None) -> None:
        for i in (range(len(raw)) if rows is None else rows):
            out[i] = resize_screen(raw[i, 0], self.screen_shape)

    def reset(self) -> np.ndarray:
        seed = None if self.random_seed is None else int(self.random_seed) % 2**31
        raw, info = self.env.reset(seed=seed)
        self.random_seed = None  # later games go on with each stream's own generator
        self._lives[:] = info["lives"]
        self._game_over[:] = False
        self._resize_into(raw, self._restart_screens)
        return self._restart_screens

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.send(actions)
        return self.recv()

    def send(self, actions: np.ndarray) -> None:
        """Start step(actions) on ALE's threads and return at once; recv() ends it.

        Between the two the caller's own work (the network's updates) runs beside the games.
        """
        self.env.send(np.asarray(actions, dtype=np.int64))

    def recv(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wait for the step that send() started; returns what step() returns."""
        raw, rewards, terminated, truncated, info = self.env.recv()
        game_over = terminated | truncated
        lives = info["lives"]
        life_lost = (lives < self._lives) & ~game_over
        self._lives[:] = lives
        self._capped[:] = False
        if self.mode == "test" and self.max_episode_frames:
            self._capped[:] = ~game_over & (info["episode_frame_number"] >= self.max_episode_frames)
        self._game_over[:] = game_over
        if game_over.any():
            # SameStep autoreset: ALE has already started the next game; the last screen of
            # the finished one comes in final_obs.
            self._reset_raw = raw.copy()
            raw = np.where(game_over[:, None, None, None], info["final_obs"], raw)
        self._resize_into(raw, self._screens)
        terminals = game_over | self._capped
        if self.mode == "train" and self.life_loss_terminal:
            terminals |= life_lost
        return rewards.astype(np.float64), self._screens, terminals

    def restart(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, dtype=np.bool_)
        continued = mask & ~self._game_over & ~self._capped
        self._restart_screens[continued] = self._screens[continued]  # a lost life: the game goes on
        reset = mask & self._game_over
        if reset.any():
            self._resize_into(self._reset_raw, self._restart_screens, np.flatnonzero(reset))
        capped = mask & self._capped
        if capped.any():
            raw, info = self.env.reset(options=dict(reset_mask=capped))
            self._lives[capped] = info["lives"][capped]
            self._resize_into(raw, self._restart_screens, np.flatnonzero(capped))
        self._game_over &= ~mask
        self._capped &= ~mask
        return self._restart_screens

    def close(self) -> None:
        self.env.close()
