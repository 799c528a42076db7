"""The tools behind the shell scripts, apart from the DQN core: play, record, nvis, plot, aggregate, sweep.

They need the optional dependency groups ``[tools]`` (pygame, imageio, matplotlib, captum, rliable, scipy)
and ``[sweep]`` (Ray Tune); the core imports none of them.
"""
