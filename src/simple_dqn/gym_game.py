"""One Gymnasium environment with image observations (``ALE/Breakout-v5``, ...) as a game."""

from __future__ import annotations

import difflib

import cv2
import numpy as np

from simple_dqn.environment import Game, resize_screen
from simple_dqn.errors import UsageError
from simple_dqn.roms import game_name


class GymGame(Game):
    """A Gymnasium environment with image observations, e.g. ``ALE/Breakout-v5``.

    Observations are converted to grayscale and resized to screen_shape (INTER_LINEAR).
    A lost life is read from ``info["lives"]`` where the environment reports it.

    Raises:
        UsageError: the id is not registered (names the closest ids).
    """

    def __init__(self, env_id: str, *, screen_shape: tuple[int, int] = (84, 84),
                 random_seed: int | None = None, **make_kwargs):
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
        meanings = getattr(self.env.unwrapped, "get_action_meanings", lambda: [])()  # ALE-backed ids have them
        self.fire_action = meanings.index("FIRE") if "FIRE" in meanings else None
        self.name = game_name(env_id)
        self.screen_shape = tuple(screen_shape)
        self._seed = random_seed
        self._obs = None
        self._lives = 0
        self._done = True

    def reset_game(self) -> None:
        self._obs, info = self.env.reset(seed=self._seed)
        self._seed = None  # seed only the first reset, as Gymnasium recommends
        self._lives = info.get("lives", 0)
        self._done = False

    def game_over(self) -> bool:
        return self._done

    def lives(self) -> int:
        return self._lives

    def episode_frames(self) -> int:
        ale = getattr(self.env.unwrapped, "ale", None)  # the frame cap needs ALE's frame counter
        return 0 if ale is None else ale.getEpisodeFrameNumber()

    def act(self, action: int) -> float:
        if self._obs is None:
            self.reset_game()
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        self._lives = info.get("lives", self._lives)
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
