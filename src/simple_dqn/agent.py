"""The DQN agent over N games: epsilon-greedy play, filling the replay memory, training (Mnih et al. 2015).

One game is N = 1. Per step of all N streams the agent makes at most one batched prediction
(uint8 (N, history_length, H, W) in, (N, num_actions) out), steps the games together, stores
each stream's transition in that stream's segment of the replay memory and counts the
environment steps of the streams that chose their action (at most N). Training keeps the
replay ratio of one game: train_repeat minibatches per train_frequency environment steps
counted over all streams, and a target copy every target_steps of them.

Each episode starts with its start actions: a random number of no-ops (Mnih et al. 2015: up
to 30), then, with fire_action set, FIRE: Breakout's ball waits for it after every new game and
lost life (OpenAI Baselines' FireResetEnv, which Tianshou's Atari examples use). They are not
steps: not of the phase, the exploration schedule, the update period or the statistics (the
original's counting, and Baselines' and Tianshou's, whose environment reset plays them). With
one game they are played at once; with N games they are played as the stream's actions in the
steps of all streams, so that no stream waits for another. For the same reason a phase of N
games ends on the first step of all streams that reaches its number of steps (up to N - 1
steps more).
The start actions are stored in the replay memory as transitions, as the original's
published runs did; with store_start_actions False they are hidden, as DeepMind's and
Baselines' environment wrappers hide them, and the episode the memory and the state see
begins after them.

A step of a phase, top to bottom (Agent._run):

    act(epsilon)             choose the N actions, send them to the games
    [updates]                where the games step in the background (ALE's vector environment)
    observe(epsilon, store)  receive the step: states, replay memory, statistics
    start_episodes(ended)    the streams whose episode ended begin the next, with a random start
    [updates]                elsewhere
"""

from __future__ import annotations

import numpy as np

from simple_dqn.errors import StateMismatch
from simple_dqn.schedules import linear_decay
from simple_dqn.state_buffer import StateBuffer


def epsilon_greedy(q_values, count: int, num_actions: int, exploration_rate: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Epsilon-greedy actions of ``count`` states, int64 (count,) (Mnih et al. 2015, Algorithm 1).

    Draws one uniform number per state and a uniformly random action for those below
    exploration_rate; q_values() -> float (count, num_actions) is called only when some state acts
    greedily (one batched prediction for all of them).
    """
    explore = rng.random(count) < exploration_rate
    num_explore = np.count_nonzero(explore)  # count_nonzero, not sum or any: this runs every step
    if num_explore:
        # One scalar draw is the same number as a draw of size 1, five times faster.
        random_actions = rng.integers(num_actions) if num_explore == 1 else rng.integers(num_actions, size=num_explore)
        if num_explore == count:
            return np.full(count, random_actions, dtype=np.int64) if num_explore == 1 else random_actions
    chosen = np.argmax(q_values(), axis=1)
    if num_explore:
        chosen[explore] = random_actions
    return chosen


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
        fire_action: the index of FIRE in the action set, played as each episode's last start
            action, after its no-ops; None (the default, as DeepMind) leaves the first action to the
            agent.
        store_start_actions: store the start actions in the replay memory as transitions (True, as
            the original's published runs). False hides them, as DeepMind's environment wrapper and
            Baselines' NoopResetEnv / FireResetEnv do: the episode the agent learns from begins
            after its random start, with a start row of the screen it leaves and a zero-padded state.
        total_train_steps: train steps already played (a resumed run).
        rng: numpy Generator for exploration and random starts.

    Attributes:
        num_envs: number of streams N.
        buffer: StateBuffer; buffer.states is uint8 (N, history_length, H, W), each stream's state.
        start_actions_left: int64 (N,), start actions (no-ops, then FIRE with fire_action) each
            stream still has to play before the agent acts.
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
                 target_steps: int = 10_000, random_starts: int = 30, fire_action: int | None = None,
                 store_start_actions: bool = True, total_train_steps: int = 0, rng: np.random.Generator | None = None):
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
        self.fire_action = fire_action
        self.store_start_actions = store_start_actions
        self.total_train_steps = total_train_steps
        self.rng = rng if rng is not None else np.random.default_rng()
        self.start_actions_left = np.zeros(self.num_envs, dtype=np.int64)
        # Streams whose last action was a start action.
        self._start_action_sent = np.zeros(self.num_envs, dtype=np.bool_)
        # Streams that chose the last step's action: its environment steps (start actions are not).
        self.counted_steps = 0
        self._sent = np.zeros(self.num_envs, dtype=np.int64)
        self.callback = None
        self.threads = None  # threads.AdaptiveThreads: torch's threads follow the free cores
        self.stop_requested = False
        self.overlap = True

    def exploration_rate(self) -> float:
        """Epsilon of the train phase at total_train_steps (linear decay, then held)."""
        return linear_decay(self.total_train_steps, self.exploration_rate_start,
                            self.exploration_rate_end, self.exploration_decay_steps)

    def begin(self, store: bool = False) -> None:
        """Start the next episode of every stream (a phase's start), each with a random start."""
        self._start_action_sent[:] = False
        self.start_episodes(np.ones(self.num_envs, dtype=np.bool_), store)

    def start_episodes(self, mask: np.ndarray, store: bool = False) -> None:
        """Start the next episode of the streams in mask (bool (N,)), each with a random start.

        The state is zero-padded around the episode's first screen and, with store, the
        stream's memory segment gets a start row (with store_start_actions False: both once the
        random start is over, see observe). The random start is history_length..
        random_starts no-ops plus one, as the original (when random_starts is smaller than
        history_length: 0..random_starts), then FIRE with fire_action. A stream whose episode
        ended during its start actions (a game shorter than random_starts) starts the next one
        without no-ops rather than loop. One game plays its start actions here, outside the
        phase's step count.
        """
        draw = mask & ~self._start_action_sent
        screens = self._begin(mask, store)
        if draw.any():
            low = min(self.history_length, self.random_starts)
            noops = self.rng.integers(low, self.random_starts + 1, size=int(draw.sum()))
            if self.random_starts >= self.history_length:
                noops += 1
            self.start_actions_left[draw] += noops
        if not self.store_start_actions:
            self._start_learning(mask & (self.start_actions_left == 0), screens, store)  # no random start
        if self.num_envs == 1:
            self._play_start_actions(store)

    def _begin(self, mask: np.ndarray, store: bool) -> np.ndarray:
        """New episodes' first screens into the states and (with store and store_start_actions) start
        rows into the memory; returns the screens, uint8 (N, H, W)."""
        screens = self.env.restart(mask)
        self._start_learning(mask, screens, store and self.store_start_actions)
        self.start_actions_left[mask] = 0 if self.fire_action is None else 1
        return screens

    def _start_learning(self, mask: np.ndarray, screens: np.ndarray, store: bool) -> None:
        """The episode of the streams in mask begins at screens (uint8 (N, H, W)): a zero-padded state
        and (with store) a start row in the stream's memory segment. Called at the restart, and
        with store_start_actions False once more where the random start ends."""
        if not mask.any():
            return
        self.buffer.begin(mask, screens)
        if store:
            for i in np.flatnonzero(mask):
                self.mem.add(0, 0.0, screens[i], False, start=True, stream=i)

    def _start_actions(self) -> np.ndarray:
        """The actions of the streams' start actions, int64 (N,): no-ops, and FIRE as the last."""
        if self.fire_action is None:
            return np.zeros(self.num_envs, dtype=np.int64)
        return np.where(self.start_actions_left == 1, self.fire_action, 0)

    def _play_start_actions(self, store: bool) -> None:
        """One game's start actions, played at once: they are not steps of the phase (the original's counting)."""
        played = False
        while self.start_actions_left[0]:
            action = self._start_actions()
            self.start_actions_left[0] -= 1
            self.env.send(action)
            rewards, screens, terminals = self.env.recv()
            self.buffer.add(screens)
            played = True
            if store and self.store_start_actions:
                self.mem.add(int(action[0]), float(rewards[0]), screens[0], bool(terminals[0]), stream=0)
            if terminals[0]:
                screens = self._begin(terminals, store)  # the game ended within its start actions: no more no-ops
        if played and not self.store_start_actions:
            self._start_learning(np.ones(1, dtype=np.bool_), screens, store)

    def choose_actions(self, exploration_rate: float) -> np.ndarray:
        """Epsilon-greedy actions of all streams, int64 (N,); the start actions where they are due.

        Draws, for the streams that act, one uniform number each and a random action for those
        below exploration_rate; one batched prediction serves the others.
        """
        actions = self._start_actions()
        acting = self.start_actions_left == 0
        count = np.count_nonzero(acting)  # count_nonzero, not sum or any: this runs every step
        if count == 0:
            return actions
        if self.net is None:
            chosen = self.rng.integers(self.num_actions, size=count)
        else:
            chosen = epsilon_greedy(lambda: self.net.predict(self.buffer.states)[acting], count, self.num_actions,
                                    exploration_rate, self.rng)
        if count == self.num_envs:
            actions[:] = chosen
        else:
            actions[acting] = chosen
        return actions

    def act(self, exploration_rate: float, actions: np.ndarray | None = None) -> np.ndarray:
        """The first half of a step: choose every stream's action and send it to the games.

        actions: int (N,) actions chosen elsewhere (play.sh's human player), or None for the
        epsilon-greedy ones. Streams with start actions due play them. On a backend whose
        games step in the background, the caller's work between act() and observe() runs
        beside them. Returns the actions sent, int64 (N,). With self.threads set, torch's threads
        are first matched to the free cores (a clock read, except every few seconds).
        """
        if self.threads is not None:
            self.threads.update()
        if actions is None:
            actions = self.choose_actions(exploration_rate)
        np.greater(self.start_actions_left, 0, out=self._start_action_sent)
        self.start_actions_left -= self._start_action_sent
        self.counted_steps = self.num_envs - int(np.count_nonzero(self._start_action_sent))  # the step's steps
        self.env.send(actions)
        self._sent = actions
        return actions

    def observe(self, exploration_rate: float, store: bool = False,
                active: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The second half: receive the step, add it to the states, store and report it.

        store: each stream's transition goes to its memory segment.
        active: bool (N,), the streams whose steps count for the statistics (default: all).
        exploration_rate: the epsilon the actions were chosen with, for the statistics.
        Returns (rewards float64 (N,), terminals bool (N,)); the terminal streams must be
        started again (start_episodes) before the next act().
        """
        rewards, screens, terminals = self.env.recv()
        actions = self._sent
        self.buffer.add(screens)
        hidden = None if self.store_start_actions or not self._start_action_sent.any() else self._start_action_sent
        if hidden is not None:
            # The start actions are not stored; those that ended a random start begin the episode.
            self._start_learning(hidden & (self.start_actions_left == 0) & ~terminals, screens, store)
        if store:
            # Python scalars: numpy ones make each of the memory's element stores several times slower.
            add, stored = self.mem.add, zip(actions.tolist(), rewards.tolist(), terminals.tolist())
            for i, (action, reward, terminal) in enumerate(stored):
                if hidden is None or not hidden[i]:
                    add(action, reward, screens[i], terminal, stream=i)
        if self.callback is not None:
            if active is None:
                self.callback.on_step(actions, rewards, terminals, exploration_rate, steps=self.counted_steps)
            else:
                self.callback.on_step(actions, rewards * active, terminals & active, exploration_rate,
                                      steps=int(np.count_nonzero(active & ~self._start_action_sent)))
        return rewards, terminals

    def _run(self, steps: int, restart: bool, store: bool, train: bool, rate) -> int:
        """Steps of all streams until at least ``steps`` environment steps are played (start actions not counted)."""
        if restart:
            self.begin(store)
        played = 0
        overlap = train and self.overlap and getattr(self.env, "steps_in_background", False)
        noise = getattr(self.net, "set_acting_noise", None)  # noisy networks explore by their noise in training
        if noise is not None:
            noise(train)
        try:
            while played < steps and not self.stop_requested:
                exploration_rate = rate()
                self.act(exploration_rate)
                counted = self.counted_steps
                if overlap:
                    self._train_due(counted)  # while the games step; the minibatches predate this step
                _, terminals = self.observe(exploration_rate, store)
                if np.count_nonzero(terminals):
                    self.start_episodes(terminals, store)
                if train and not overlap:
                    self._train_due(counted)
                played += counted
        finally:
            if noise is not None:
                noise(False)
        return played

    def _train_due(self, steps: int) -> None:
        """The target copies and minibatches due for the given environment steps of one step (0..N)."""
        for _ in range(steps):
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
            self.act(self.exploration_rate_test)
            rewards, terminals = self.observe(self.exploration_rate_test, active=active)
            score += rewards
            for i in np.flatnonzero(terminals & active):
                scores.append(float(score[i]))
                score[i] = 0.0
                if started < num_games:
                    started += 1
                else:
                    active[i] = False
            if np.count_nonzero(terminals):
                self.start_episodes(terminals)
        return scores

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Counters, the random generator's state and every stream's state, for a checkpoint."""
        arrays = dict(states=self.buffer.states.copy(), start_actions_left=self.start_actions_left.copy())
        return dict(total_train_steps=self.total_train_steps, rng=self.rng.bit_generator.state), arrays

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state().

        Raises:
            StateMismatch: the checkpoint holds another number of streams.
        """
        states = np.asarray(arrays["states"])
        if states.shape != self.buffer.states.shape:
            raise StateMismatch(f"the checkpoint was made with --num_envs {states.shape[0]}; "
                             f"resume with --num_envs {states.shape[0]}")
        self.total_train_steps = int(meta["total_train_steps"])
        self.rng.bit_generator.state = meta["rng"]
        self.buffer.states[...] = states
        self.start_actions_left[...] = np.asarray(arrays["start_actions_left"])
