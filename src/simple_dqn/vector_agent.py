"""The DQN agent over N games played side by side (--num_envs N).

Per step of all N streams the agent makes one batched prediction (uint8 (N, history_length,
H, W) in, (N, num_actions) out), steps the games together, stores each stream's transition
in that stream's segment of the replay memory, and counts N environment steps. Training keeps
the single-game replay ratio: one minibatch (times train_repeat) per train_frequency
environment steps counted over all streams, and the target network is copied every
target_steps of them, so learning per environment step is that of Agent.

Differences from the single-game Agent, both for speed: the random no-ops that start an
episode are played as steps of the phase (they are stored and counted; Agent plays them
outside the count), and a phase ends on the first step of all streams that reaches its
number of steps, so it may run up to N - 1 steps longer.
"""

from __future__ import annotations

import numpy as np

from simple_dqn.agent import Agent


class VectorAgent(Agent):
    """Agent over a VectorEnvironment; takes Agent's arguments (see Agent).

    Attributes (beyond Agent's):
        num_envs: number of streams.
        states: uint8 (num_envs, history_length, H, W), each stream's current state.
        noops_left: int64 (num_envs,), no-op steps still to play in each stream's random start.
        overlap: on an environment that can (ALE's vector environment), train while the games
            step (True, the default on every device); False trains after each step (bench/gpu.py
            compares both).
    """

    def __init__(self, environment, memory, net, **kwargs):
        super().__init__(environment, memory, net, **kwargs)
        self.num_envs = environment.num_envs
        self.states = np.zeros((self.num_envs, self.history_length, *environment.screen_shape), dtype=np.uint8)
        self.noops_left = np.zeros(self.num_envs, dtype=np.int64)
        self.overlap = True

    def _draw_noops(self, mask: np.ndarray) -> None:
        """Random-start lengths for the streams in mask, drawn as Agent.restart_random does."""
        low = min(self.history_length, self.random_starts)
        noops = self.rng.integers(low, self.random_starts + 1, size=int(mask.sum()))
        if self.random_starts >= self.history_length:
            noops += 1
        self.noops_left[mask] = noops

    def _begin_episodes(self, mask: np.ndarray, screens: np.ndarray, store: bool) -> None:
        """Zero-padded states with each new episode's first screen; start rows in the memory."""
        for i in np.flatnonzero(mask):
            self.states[i] = 0
            self.states[i, -1] = screens[i]
            if store:
                self.mem.add(0, 0.0, screens[i], False, start=True, stream=i)
        self._draw_noops(mask)

    def reset_all(self, store: bool = False) -> None:
        """New games in every stream, each beginning with a random start."""
        screens = self.env.reset()
        self._begin_episodes(np.ones(self.num_envs, dtype=np.bool_), screens, store)

    def choose_actions(self, exploration_rate: float) -> np.ndarray:
        """Epsilon-greedy actions of all streams, int64 (N,); no-ops during random starts.

        One batched prediction serves every stream that acts greedily.
        """
        actions = self.rng.integers(self.num_actions, size=self.num_envs)
        if self.net is not None and exploration_rate < 1.0:
            greedy = self.rng.random(self.num_envs) >= exploration_rate
            if greedy.any():
                actions[greedy] = np.argmax(self.net.predict(self.states), axis=1)[greedy]
        noop = self.noops_left > 0
        actions[noop] = 0
        self.noops_left[noop] -= 1
        return actions

    def step_all(self, exploration_rate: float, store: bool = False, active: np.ndarray | None = None,
                 meanwhile=None):
        """One step in every stream; with store, each transition goes to its stream's segment.

        active: bool (N,) streams whose steps count for the statistics (default: all).
        meanwhile: a function called while the games step (on an environment with send and
        recv), else after the step. Terminal streams start their next episode. Returns
        (actions int64 (N,), rewards float64 (N,), terminals bool (N,)).
        """
        actions = self.choose_actions(exploration_rate)
        if meanwhile is not None and self.overlap and hasattr(self.env, "send"):
            self.env.send(actions)
            meanwhile()
            rewards, screens, terminals = self.env.recv()
            meanwhile = None
        else:
            rewards, screens, terminals = self.env.step(actions)
        self.states[:, :-1] = self.states[:, 1:]
        self.states[:, -1] = screens
        if store:
            add = self.mem.add
            for i in range(self.num_envs):
                add(actions[i], rewards[i], screens[i], terminals[i], stream=i)
        if self.callback is not None:
            if active is None:
                self.callback.on_steps(actions, rewards, terminals, exploration_rate)
            else:
                self.callback.on_steps(actions, rewards * active, terminals & active, exploration_rate,
                                       steps=int(active.sum()))
        if terminals.any():
            self._begin_episodes(terminals, self.env.restart(terminals), store)
        if meanwhile is not None:
            meanwhile()
        return actions, rewards, terminals

    def _train_due(self) -> None:
        """The target copies and minibatches due for the N environment steps being played.

        On ALE's vector environment they run while the games step (step_all's meanwhile), so
        their minibatches come from the memory as it was before this joint step; elsewhere
        after it.
        """
        for _ in range(self.num_envs):
            self.count_train_step()

    def _run(self, steps: int, restart: bool, store: bool, train: bool, rate) -> int:
        if restart:
            self.reset_all(store)
        played = 0
        while played < steps:
            if self.stop_requested:
                return played
            self.step_all(rate(), store, meanwhile=self._train_due if train else None)
            played += self.num_envs
        return played

    def play_random(self, random_steps: int, restart: bool = True) -> int:
        """Fill the replay memory with at least random_steps environment steps of random play."""
        return self._run(random_steps, restart, store=True, train=False, rate=lambda: 1.0)

    def train(self, train_steps: int, restart: bool = True) -> int:
        """At least train_steps epsilon-greedy environment steps, storing them and training."""
        return self._run(train_steps, restart, store=True, train=True, rate=self.exploration_rate)

    def test(self, test_steps: int, restart: bool = True) -> int:
        """At least test_steps environment steps with exploration_rate_test, from new games."""
        return self._run(test_steps, restart, store=False, train=False, rate=lambda: self.exploration_rate_test)

    def play(self, num_games: int) -> list[float]:
        """Play num_games whole games over the streams; return their scores in the order they ended.

        A stream starts a new game only while fewer than num_games have been started, so
        that short games are not favoured over long ones.
        """
        self.reset_all()
        started = min(num_games, self.num_envs)
        active = np.arange(self.num_envs) < started
        score = np.zeros(self.num_envs)
        scores: list[float] = []
        while active.any():
            _, rewards, terminals = self.step_all(self.exploration_rate_test, active=active)
            score += rewards
            for i in np.flatnonzero(terminals & active):
                scores.append(float(score[i]))
                score[i] = 0.0
                if started < num_games:
                    started += 1
                else:
                    active[i] = False
        return scores

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Counters, the random generator's state and every stream's state, for a checkpoint."""
        meta, _ = super().save_state()
        return meta, dict(states=self.states.copy(), noops_left=self.noops_left.copy())

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state().

        Raises:
            ValueError: the checkpoint holds another number of streams.
        """
        states = np.asarray(arrays["states"]) if "states" in arrays else None
        if states is None or states.shape != self.states.shape:
            streams = 1 if states is None else states.shape[0]
            raise ValueError(f"the checkpoint was made with --num_envs {streams}; resume with --num_envs {streams}")
        self._load_counters(meta)
        self.states[...] = states
        self.noops_left[...] = np.asarray(arrays["noops_left"])
