"""simple_dqn: a fast, simple and faithful Deep Q-learning toolkit for Atari games.

A modern reimplementation of tambetm/simple_dqn (2016) on ale-py, PyTorch and Gymnasium.
"""

__version__ = "2.0.0"

API = ("load_policy", "train", "Policy", "AtariPreprocessing", "RunResult")


def __getattr__(name):
    # The Python API (api.py), imported on first use: `import simple_dqn` stays light.
    if name in API:
        from simple_dqn import api

        return getattr(api, name)
    raise AttributeError(f"module 'simple_dqn' has no attribute {name!r}")
