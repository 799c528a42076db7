"""`catch`: a 10x10 game in which learning can be checked in seconds.

A one-pixel fruit falls one row per step from a random column of the top row; a
three-pixel basket on the bottom row moves left, stays or moves right. Reward +1 when
the fruit lands in the basket, -1 when it misses; the game ends when the fruit reaches
the bottom row (9 steps). A random policy scores about -0.6; a good one +1.
"""

from __future__ import annotations

import numpy as np

from simple_dqn.environment import Game

GRID = 10
BASKET_HALF_WIDTH = 1  # the basket covers its centre column and one column either side


class CatchGame(Game):
    """The catch game, drawn as a (screen_height, screen_width) uint8 screen.

    Each grid cell becomes a block of pixels (nearest neighbour), so the Nature network,
    which needs at least 36x36 screens, sees the game at any screen size.

    Actions: 0 stays (the no-op used by random starts), 1 moves left, 2 moves right.

    Args:
        screen_shape: (height, width) of get_screen() in pixels.
        random_seed: seed of the fruit's column and the basket's start; None for entropy.
    """

    def __init__(self, *, screen_shape: tuple[int, int] = (84, 84), random_seed: int | None = None):
        self.name = "catch"
        self.action_set = [0, 1, 2]
        self.screen_shape = tuple(screen_shape)
        self.rng = np.random.default_rng(random_seed)
        height, width = self.screen_shape
        # Which grid row/column each screen pixel shows.
        self._rows = (np.arange(height) * GRID) // height
        self._cols = (np.arange(width) * GRID) // width
        self.reset_game()

    def reset_game(self) -> None:
        self.fruit_row = 0
        self.fruit_col = int(self.rng.integers(GRID))
        self.basket = int(self.rng.integers(BASKET_HALF_WIDTH, GRID - BASKET_HALF_WIDTH))
        self._over = False

    def game_over(self) -> bool:
        return self._over

    def act(self, action: int) -> float:
        move = (0, -1, 1)[action]
        self.basket = min(max(self.basket + move, BASKET_HALF_WIDTH), GRID - 1 - BASKET_HALF_WIDTH)
        self.fruit_row += 1
        if self.fruit_row < GRID - 1:
            return 0.0
        self._over = True
        return 1.0 if abs(self.fruit_col - self.basket) <= BASKET_HALF_WIDTH else -1.0

    def grid(self) -> np.ndarray:
        """The game as a (10, 10) uint8 grid: 255 where the fruit or the basket is, else 0."""
        grid = np.zeros((GRID, GRID), dtype=np.uint8)
        grid[self.fruit_row, self.fruit_col] = 255
        grid[GRID - 1, self.basket - BASKET_HALF_WIDTH:self.basket + BASKET_HALF_WIDTH + 1] = 255
        return grid

    def get_screen(self) -> np.ndarray:
        return self.grid()[np.ix_(self._rows, self._cols)]

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        return (dict(fruit_row=self.fruit_row, fruit_col=self.fruit_col, basket=self.basket, over=self._over,
                     rng=self.rng.bit_generator.state), {})

    def load_state(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.fruit_row, self.fruit_col = int(meta["fruit_row"]), int(meta["fruit_col"])
        self.basket, self._over = int(meta["basket"]), bool(meta["over"])
        self.rng.bit_generator.state = meta["rng"]

    def rgb_screen(self) -> np.ndarray:
        """The grid in colour, (10, 10, 3) uint8, for play and record."""
        return np.repeat(self.grid()[:, :, None], 3, axis=2)
