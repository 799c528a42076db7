"""simple_dqn: a fast, simple and faithful Deep Q-learning toolkit for Atari games.

A modern reimplementation of tambetm/simple_dqn (2016) on ale-py, PyTorch and Gymnasium.
"""

__version__ = "2.0.0"
