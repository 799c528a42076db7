"""The DQN agent over N games: epsilon-greedy play, filling the replay memory, training (Mnih et al. 2015).

One game is N = 1. Per step of all N streams the agent makes at most one batched prediction
(uint8 (N, history_length, H, W) in, (N, num_actions) out), steps the games together, stores
each stream's transition in that stream's segment of the replay memory and counts N
environment steps. Training keeps the replay ratio of one game: train_repeat minibatches per
train_frequency environment steps counted over all streams, and a target copy every
target_steps of them.

Each episode starts with a random number of no-op actions (Mnih et al. 2015: up to 30). With
one game they are played at once and are not steps of the phase (the original's counting);
with N games they are played as the stream's actions in the steps of all streams, and count,
so that no stream waits for another. For the same reason a phase of N games ends on the first
step of all streams that reaches its number of steps (up to N - 1 steps more).
"""

from __future__ import annotations

import numpy as np

from simple_dqn.errors import StateMismatch
from simple_dqn.schedules import linear_decay
from simple_dqn.state_buffer import StateBuffer


class Agent:
    """Plays the environment's N games, stores transitions and trains the network.

    Args:
        environment: the games (environment.Environment).
        memory: replay memory the transitions go to, one stream per game.
        net: the Q-networks, or None to play at random.
        history_length: screens per state.
        exploration_rate_start, exploration_rate_end, exploration_decay_steps: linear epsilon
            schedule over total_train_steps (environment steps).
        exploration_rate_test: epsilon in the test and play phases.
        train_frequency: train every this many environment steps.
        train_repeat: minibatches per training.
        target_steps: copy the online network to the target network every this many train
            steps (0: never).
        random_starts: at most this many no-op steps at the start of each episode.
        total_train_steps: train steps already played (a resumed run).
        rng: numpy Generator for exploration and random starts.

    Attributes:
        num_envs: number of streams N.
        buffer: StateBuffer; buffer.states is uint8 (N, history_length, H, W), each stream's state.
        noops_left: int64 (N,), no-op steps still to play in each stream's random start.
        total_train_steps: train-phase steps so far (drives the exploration rate).
        callback: an object with on_step(actions, rewards, terminals, exploration_rate, steps)
            and on_update(net) (after each weight update), or None.
        stop_requested: set it (from a signal handler) to end the running phase after the
            current step; the phase methods return the number of steps they played.
        overlap: on an environment whose games step in the background (ALE's vector
            environment), run the updates due on a train step while its games step (True, the
            default); their minibatches then come from the memory as it was before that step.
            bench/gpu.py measures both (1.26x with 16 games on an H100).
    """

    def __init__(self, environment, memory, net, *, history_length: int = 4, exploration_rate_start: float = 1.0,
                 exploration_rate_end: float = 0.1, exploration_decay_steps: int = 1_000_000,
                 exploration_rate_test: float = 0.05, train_frequency: int = 4, train_repeat: int = 1,
                 target_steps: int = 10_000, random_starts: int = 30, total_train_steps: int = 0,
                 rng: np.random.Generator | None = None):
        self.env = environment
        self.mem = memory
        self.net = net
        self.num_envs = environment.num_envs
        self.num_actions = environment.num_actions
        self.buffer = StateBuffer(num_envs=self.num_envs, history_length=history_length,
                                  screen_shape=environment.screen_shape)
        self.history_length = history_length
        self.exploration_rate_start = exploration_rate_start
        self.exploration_rate_end = exploration_rate_end
        self.exploration_decay_steps = exploration_decay_steps
        self.exploration_rate_test = exploration_rate_test
        self.train_frequency = train_frequency
        self.train_repeat = train_repeat
        self.target_steps = target_steps
        self.random_starts = random_starts
        self.total_train_steps = total_train_steps
        self.rng = rng if rng is not None else np.random.default_rng()
        self.noops_left = np.zeros(self.num_envs, dtype=np.int64)
        self.callback = None
        self.stop_requested = False
        self.overlap = True

    def exploration_rate(self) -> float:
        """Epsilon of the train phase at total_train_steps (linear decay, then held)."""
        return linear_decay(self.total_train_steps, self.exploration_rate_start,
                            self.exploration_rate_end, self.exploration_decay_steps)

    def begin(self, store: bool = False) -> None:
        """Start the next episode of every stream (a phase's start), each with a random start."""
        self._begin_episodes(np.ones(self.num_envs, dtype=np.bool_), self.env.restart(), store)

    def _begin_episodes(self, mask: np.ndarray, screens: np.ndarray, store: bool, in_random_start=None) -> None:
        """Zero-padded states with the new episodes' first screens, start rows in the memory, no-ops.

        The random start is history_length..random_starts no-ops plus one, as the original
        (when random_starts is smaller than history_length: 0..random_starts). A stream whose
        episode ended during its random start (a game shorter than random_starts) starts the
        next one without no-ops rather than loop.
        """
        self.buffer.begin(mask, screens)
        if store:
            for i in np.flatnonzero(mask):
                self.mem.add(0, 0.0, screens[i], False, start=True, stream=i)
        self.noops_left[mask] = 0
        draw = mask if in_random_start is None else mask & ~in_random_start
        if draw.any():
            low = min(self.history_length, self.random_starts)
            noops = self.rng.integers(low, self.random_starts + 1, size=int(draw.sum()))
            if self.random_starts >= self.history_length:
                noops += 1
            self.noops_left[draw] = noops
        if self.num_envs == 1:
            while self.noops_left[0]:
                self.step(0.0, store, counted=False)

    def choose_actions(self, exploration_rate: float) -> np.ndarray:
        """Epsilon-greedy actions of all streams, int64 (N,); no-ops (0) during random starts.

        Draws, for the streams that act, one uniform number each and a random action for those
        below exploration_rate; one batched prediction serves the others.
        """
        actions = np.zeros(self.num_envs, dtype=np.int64)
        acting = self.noops_left == 0
        count = np.count_nonzero(acting)  # count_nonzero, not sum or any: this runs every step
        if count == 0:
            return actions
        explore = None if self.net is None else self.rng.random(count) < exploration_rate
        num_explore = count if explore is None else np.count_nonzero(explore)
        if num_explore:
            # One scalar draw is the same number as a draw of size 1, five times faster.
            random_actions = (self.rng.integers(self.num_actions) if num_explore == 1
                              else self.rng.integers(self.num_actions, size=num_explore))
        if num_explore == count:
            chosen = random_actions
        else:
            chosen = np.argmax(self.net.predict(self.buffer.states), axis=1)[acting]
            if num_explore:
                chosen[explore] = random_actions
        if count == self.num_envs:
            actions[:] = chosen
        else:
            actions[acting] = chosen
        return actions

    def step(self, exploration_rate: float, store: bool = False, active: np.ndarray | None = None,
             counted: bool = True, meanwhile=None):
        """One step in every stream; with store, each transition goes to its stream's memory segment.

        active: bool (N,) streams whose steps count for the statistics (default: all).
        counted: False for the no-ops of one game's random start (not steps of the phase).
        meanwhile: a function run while the games step (between the environment's send and recv).
        Terminal streams start their next episode. Returns (rewards float64 (N,), terminals
        bool (N,)).
        """
        in_random_start = self.noops_left > 0
        actions = self.choose_actions(exploration_rate)
        self.noops_left -= in_random_start
        if meanwhile is None:
            rewards, screens, terminals = self.env.step(actions)
        else:
            self.env.send(actions)
            meanwhile()
            rewards, screens, terminals = self.env.recv()
        # A copy: a restart below may play no-ops at once, which reuse the environment's array.
        rewards = rewards.copy()
        self.buffer.add(screens)
        if store:
            # Python scalars: numpy ones make each of the memory's element stores several times slower.
            add, stored = self.mem.add, zip(actions.tolist(), rewards.tolist(), terminals.tolist())
            for i, (action, reward, terminal) in enumerate(stored):
                add(action, reward, screens[i], terminal, stream=i)
        if counted and self.callback is not None:
            if active is None:
                self.callback.on_step(actions, rewards, terminals, exploration_rate)
            else:
                self.callback.on_step(actions, rewards * active, terminals & active, exploration_rate,
                                      steps=int(active.sum()))
        if np.count_nonzero(terminals):
            self._begin_episodes(terminals, self.env.restart(terminals), store, in_random_start)
        return rewards, terminals

    def _run(self, steps: int, restart: bool, store: bool, train: bool, rate) -> int:
        """Steps of all streams until at least ``steps`` environment steps are played."""
        if restart:
            self.begin(store)
        played = 0
        overlap = train and self.overlap and getattr(self.env, "steps_in_background", False)
        noise = getattr(self.net, "set_acting_noise", None)  # noisy networks explore by their noise in training
        if noise is not None:
            noise(train)
        try:
            while played < steps:
                if self.stop_requested:
                    return played
                self.step(rate(), store, meanwhile=self._train_due if overlap else None)
                if train and not overlap:
                    self._train_due()
                played += self.num_envs
        finally:
            if noise is not None:
                noise(False)
        return played

    def _train_due(self) -> None:
        """The target copies and minibatches due for the N environment steps of one step."""
        for _ in range(self.num_envs):
            self.count_train_step()

    def play_random(self, random_steps: int, restart: bool = True) -> int:
        """Fill the replay memory with at least random_steps steps of uniformly random play.

        restart=False continues the current episodes (resuming mid-phase). Returns steps played.
        """
        return self._run(random_steps, restart, store=True, train=False, rate=lambda: 1.0)

    def train(self, train_steps: int, restart: bool = True) -> int:
        """At least train_steps epsilon-greedy steps, storing them and training every train_frequency.

        Starts new episodes (the memory must not join this phase's screens to the last
        phase's), unlike the original, which continued the test phase's game; restart=False
        continues the current ones (resuming mid-phase). Returns steps played.
        """
        return self._run(train_steps, restart, store=True, train=True, rate=self.exploration_rate)

    def test(self, test_steps: int, restart: bool = True) -> int:
        """At least test_steps steps with exploration_rate_test, from new episodes. Returns steps played."""
        return self._run(test_steps, restart, store=False, train=False, rate=lambda: self.exploration_rate_test)

    def count_train_step(self) -> None:
        """Count one train-phase environment step and do what falls due on it.

        The target network is copied every target_steps steps and train_repeat minibatches
        are trained every train_frequency steps, once the memory can fill a minibatch
        (Mnih et al. 2015, Algorithm 1, with the Nature paper's update frequency C and 4).
        """
        if self.target_steps and self.total_train_steps % self.target_steps == 0:
            self.net.update_target_network()
        if (self.total_train_steps % self.train_frequency == 0
                and self.mem.count > self.mem.batch_size + self.history_length):
            for _ in range(self.train_repeat):
                minibatch = self.mem.sample()
                td_errors = self.net.train(minibatch)
                self.mem.update_priorities(minibatch.indexes, td_errors)
                if self.callback is not None:
                    self.callback.on_update(self.net)
        self.total_train_steps += 1

    def play(self, num_games: int) -> list[float]:
        """Play num_games whole games with exploration_rate_test; return their scores in the order they ended.

        A stream starts a new game only while fewer than num_games have been started, so
        that short games are not favoured over long ones.
        """
        self.begin()
        started = min(num_games, self.num_envs)
        active = np.arange(self.num_envs) < started
        score = np.zeros(self.num_envs)
        scores: list[float] = []
        while active.any():
            rewards, terminals = self.step(self.exploration_rate_test, active=active)
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
        return (dict(total_train_steps=self.total_train_steps, rng=self.rng.bit_generator.state),
                dict(states=self.buffer.states.copy(), noops_left=self.noops_left.copy()))

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state() (also the single-game checkpoints of earlier versions).

        Raises:
            StateMismatch: the checkpoint holds another number of streams.
        """
        states = np.asarray(arrays["states"] if "states" in arrays else arrays["state_buffer"])
        if states.shape != self.buffer.states.shape:
            raise StateMismatch(f"the checkpoint was made with --num_envs {states.shape[0]}; "
                             f"resume with --num_envs {states.shape[0]}")
        self.total_train_steps = int(meta["total_train_steps"])
        self.rng.bit_generator.state = meta["rng"]
        self.buffer.states[...] = states
        self.noops_left[...] = np.asarray(arrays["noops_left"]) if "noops_left" in arrays else 0
