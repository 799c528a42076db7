"""The DQN agent: epsilon-greedy play, filling the replay memory, and training (Mnih et al. 2015)."""

from __future__ import annotations

import numpy as np

from simple_dqn.deepqnetwork import DeepQNetwork
from simple_dqn.environment import Environment
from simple_dqn.replay_memory import ReplayMemory
from simple_dqn.schedules import linear_decay
from simple_dqn.state_buffer import StateBuffer


class Agent:
    """Plays the environment, stores transitions and trains the network.

    Args:
        environment: the game.
        memory: replay memory the transitions go to.
        net: the Q-networks.
        history_length: screens per state.
        exploration_rate_start, exploration_rate_end, exploration_decay_steps: linear epsilon
            schedule over total_train_steps (agent steps).
        exploration_rate_test: epsilon in the test and play phases.
        train_frequency: train every this many agent steps.
        train_repeat: minibatches per training.
        target_steps: copy the online network to the target network every this many train steps
            (0: never).
        random_starts: at most this many no-op steps at the start of each episode.
        rng: numpy Generator for exploration and random starts.

    Attributes:
        total_train_steps: train-phase steps so far (drives the exploration rate).
        callback: an object with on_step(action, reward, terminal, exploration_rate) and
            on_update(net) (after each weight update), or None.
        stop_requested: set it (from a signal handler) to end the running phase after the
            current step; the phase methods return the number of steps they played.
    """

    def __init__(self, environment: Environment, memory: ReplayMemory, net: DeepQNetwork | None, *,
                 history_length: int = 4, exploration_rate_start: float = 1.0,
                 exploration_rate_end: float = 0.1, exploration_decay_steps: int = 1_000_000,
                 exploration_rate_test: float = 0.05, train_frequency: int = 4, train_repeat: int = 1,
                 target_steps: int = 10_000, random_starts: int = 30, total_train_steps: int = 0,
                 rng: np.random.Generator | None = None):
        self.env = environment
        self.mem = memory
        self.net = net
        self.num_actions = environment.num_actions
        self.buf = StateBuffer(history_length=history_length, screen_shape=environment.screen_shape)
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
        self.callback = None
        self.stop_requested = False

    def exploration_rate(self) -> float:
        """Epsilon of the train phase at total_train_steps (linear decay, then held)."""
        return linear_decay(self.total_train_steps, self.exploration_rate_start,
                            self.exploration_rate_end, self.exploration_decay_steps)

    def restart_random(self, store: bool = False) -> None:
        """Start an episode with a random number of no-op steps.

        The state buffer starts as zeros plus the first screen (DeepMind's zero padding), then
        history_length..random_starts no-ops plus one are played, as the original did (when
        random_starts is smaller than history_length: 0..random_starts), so that starts differ.
        With store, the first screen goes to the replay memory as a start row and the no-ops
        as transitions, as the original's published runs did; they are not counted as steps.
        """
        self._restart(store)
        low = min(self.history_length, self.random_starts)
        noops = int(self.rng.integers(low, self.random_starts + 1))
        if self.random_starts >= self.history_length:
            noops += 1
        for _ in range(noops):
            reward = self.env.act(0)
            screen = self.env.get_screen()
            terminal = self.env.is_terminal()
            self.buf.add(screen)
            if store:
                self.mem.add(0, reward, screen, terminal)
            if terminal:
                # The no-ops ended the episode (a game shorter than random_starts): start
                # again without no-ops rather than loop.
                self._restart(store)
                return

    def _restart(self, store: bool) -> None:
        self.env.restart()
        screen = self.env.get_screen()
        self.buf.reset()
        self.buf.add(screen)
        if store:
            self.mem.add(0, 0.0, screen, False, start=True)

    def choose_action(self, exploration_rate: float) -> int:
        """Epsilon-greedy action for the current state."""
        if self.net is None or self.rng.random() < exploration_rate:
            return int(self.rng.integers(self.num_actions))
        return int(np.argmax(self.net.predict(self.buf.get_state())[0]))

    def step(self, exploration_rate: float, store: bool = False) -> tuple[int, float, np.ndarray, bool]:
        """Play one agent step; with store, add the transition to the replay memory.

        After a terminal the next episode starts with random no-ops (restart_random).
        Returns (action, reward, screen uint8 (H, W), terminal).
        """
        action = self.choose_action(exploration_rate)
        reward = self.env.act(action)
        screen = self.env.get_screen()
        terminal = self.env.is_terminal()
        self.buf.add(screen)
        if store:
            self.mem.add(action, reward, screen, terminal)
        if self.callback is not None:
            self.callback.on_step(action, reward, terminal, exploration_rate)
        if terminal:
            self.restart_random(store)
        return action, reward, screen, terminal

    def play_random(self, random_steps: int, restart: bool = True) -> int:
        """Fill the replay memory with up to random_steps steps of uniformly random play.

        restart=False continues the current episode (resuming mid-phase). Returns steps played.
        """
        if restart:
            self.restart_random(store=True)
        for played in range(random_steps):
            if self.stop_requested:
                return played
            self.step(1.0, store=True)
        return random_steps

    def train(self, train_steps: int, restart: bool = True) -> int:
        """Play up to train_steps epsilon-greedy steps, storing them and training every train_frequency.

        Starts a new episode (the memory must not join this phase's screens to the last
        phase's), unlike the original, which continued the test phase's game; restart=False
        continues the current one (resuming mid-phase). Returns steps played.
        """
        if restart:
            self.restart_random(store=True)
        for played in range(train_steps):
            if self.stop_requested:
                return played
            self.step(self.exploration_rate(), store=True)
            self.count_train_step()
        return train_steps

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
                minibatch = self.mem.sample(self.total_train_steps)
                td_errors = self.net.train(minibatch)
                self.mem.update_priorities(minibatch.indexes, td_errors)
                if self.callback is not None:
                    self.callback.on_update(self.net)
        self.total_train_steps += 1

    def test(self, test_steps: int, restart: bool = True) -> int:
        """Play up to test_steps steps with exploration_rate_test, from a fresh random start.

        Returns steps played.
        """
        if restart:
            self.restart_random()
        for played in range(test_steps):
            if self.stop_requested:
                return played
            self.step(self.exploration_rate_test)
        return test_steps

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Counters, the random generator's state and the current state buffer, for a checkpoint."""
        return (dict(total_train_steps=self.total_train_steps, rng=self.rng.bit_generator.state),
                dict(state_buffer=self.buf.buffer.copy()))

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state().

        Raises:
            ValueError: the checkpoint was made by a VectorAgent (--num_envs above 1).
        """
        if "state_buffer" not in arrays:
            streams = np.asarray(arrays["states"]).shape[0]
            raise ValueError(f"the checkpoint was made with --num_envs {streams}; resume with --num_envs {streams}")
        self._load_counters(meta)
        self.buf.buffer[...] = np.asarray(arrays["state_buffer"])

    def _load_counters(self, meta: dict) -> None:
        self.total_train_steps = int(meta["total_train_steps"])
        self.rng.bit_generator.state = meta["rng"]

    def play(self, num_games: int) -> list[float]:
        """Play num_games whole games with exploration_rate_test; return each game's score."""
        scores = []
        self.restart_random()
        for _ in range(num_games):
            score, terminal = 0.0, False
            while not terminal:
                _, reward, _, terminal = self.step(self.exploration_rate_test)
                score += reward
            scores.append(score)
        return scores
