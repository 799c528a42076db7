"""The agent's calls to its environment, network and memory, recorded in order (DQN Zoo's tape).

Fakes stand in for the three parts; each appends what it was asked to one list, the tape, so a
test reads as the sequence of events of a few steps: one game (N = 1) and three (N = 3).
"""

import numpy as np

from simple_dqn.agent import Agent

SHAPE = (2, 2)


class FakeEnvironment:
    """N streams whose step i (from 1) is terminal in the streams listed in terminal_at[i]."""

    name, action_set, screen_shape = "fake", [0, 1, 2], SHAPE

    def __init__(self, tape, num_envs, terminal_at=None):
        self.tape, self.num_envs, self.terminal_at = tape, num_envs, terminal_at or {}
        self.num_actions = len(self.action_set)
        self.steps = 0

    def restart(self, mask=None):
        mask = np.ones(self.num_envs, dtype=bool) if mask is None else mask
        self.tape.append(("env.restart", mask.astype(int).tolist()))
        return np.full((self.num_envs, *SHAPE), 200, dtype=np.uint8)

    def send(self, actions):
        self.steps += 1
        self.tape.append(("env.send", actions.tolist()))

    def recv(self):
        terminals = np.zeros(self.num_envs, dtype=bool)
        terminals[self.terminal_at.get(self.steps, [])] = True
        return np.ones(self.num_envs), np.full((self.num_envs, *SHAPE), self.steps, dtype=np.uint8), terminals


class FakeNetwork:
    """Greedy action 2 everywhere."""

    def __init__(self, tape):
        self.tape = tape

    def predict(self, states):
        self.tape.append(("net.predict", len(states)))
        q = np.zeros((len(states), 3), dtype=np.float32)
        q[:, 2] = 1.0
        return q

    def train(self, minibatch):
        self.tape.append(("net.train",))
        return np.zeros(2)

    def update_target_network(self):
        self.tape.append(("net.update_target_network",))


class FakeMemory:
    count, batch_size = 1000, 2

    def __init__(self, tape):
        self.tape = tape

    def add(self, action, reward, screen, terminal, start=False, stream=0):
        self.tape.append(("mem.add", stream, "start" if start else (int(action), bool(terminal))))

    def sample(self):
        self.tape.append(("mem.sample",))
        return type("Minibatch", (), dict(indexes=np.arange(2)))()

    def update_priorities(self, indexes, td_errors):
        self.tape.append(("mem.update_priorities",))


class FakeStatistics:
    def __init__(self, tape):
        self.tape = tape

    def on_step(self, actions, rewards, terminals, exploration_rate, steps=None):
        self.tape.append(("stats.on_step", len(actions) if steps is None else steps))

    def on_update(self, net):
        self.tape.append(("stats.on_update",))


def make_agent(num_envs, terminal_at=None, **kwargs):
    tape = []
    env = FakeEnvironment(tape, num_envs, terminal_at)
    agent = Agent(env, FakeMemory(tape), FakeNetwork(tape), history_length=1, exploration_rate_start=0.0,
                  exploration_rate_end=0.0, exploration_rate_test=0.0, rng=np.random.default_rng(0),
                  **kwargs)
    agent.callback = FakeStatistics(tape)
    return agent, tape


def test_one_game_train_tape():
    agent, tape = make_agent(1, terminal_at={3: [0]}, random_starts=0, train_frequency=2, target_steps=3)
    assert agent.train(4) == 4
    update = [("mem.sample",), ("net.train",), ("mem.update_priorities",), ("stats.on_update",)]
    act = [("net.predict", 1), ("env.send", [2]), ("mem.add", 0, (2, False)), ("stats.on_step", 1)]
    assert tape == [
        ("env.restart", [1]), ("mem.add", 0, "start"),
        *act, ("net.update_target_network",), *update,  # train step 0: target copy, then a minibatch
        *act,  # 1
        ("net.predict", 1), ("env.send", [2]), ("mem.add", 0, (2, True)), ("stats.on_step", 1),
        ("env.restart", [1]), ("mem.add", 0, "start"), *update,  # 2: the episode ends, the next begins
        *act, ("net.update_target_network",),  # 3
    ]
    assert agent.total_train_steps == 4


def test_one_game_random_start_is_played_at_once_and_not_counted():
    agent, tape = make_agent(1, random_starts=2, train_frequency=100, target_steps=0)
    agent.train(1)
    noops = int(np.random.default_rng(0).integers(1, 3, size=1)[0]) + 1  # history 1 .. 2 no-ops, plus one
    assert tape == [("env.restart", [1]), ("mem.add", 0, "start"),
                    *[("env.send", [0]), ("mem.add", 0, (0, False))] * noops,  # stored, no statistics
                    ("net.predict", 1), ("env.send", [2]), ("mem.add", 0, (2, False)), ("stats.on_step", 1),
                    ("mem.sample",), ("net.train",), ("mem.update_priorities",), ("stats.on_update",)]
    assert agent.total_train_steps == 1


def test_three_games_tape():
    agent, tape = make_agent(3, terminal_at={2: [1]}, random_starts=0, train_frequency=2, target_steps=0)
    assert agent.train(6) == 6
    adds = [("mem.add", i, (2, False)) for i in range(3)]
    update = [("mem.sample",), ("net.train",), ("mem.update_priorities",), ("stats.on_update",)]
    assert tape == [
        ("env.restart", [1, 1, 1]), *[("mem.add", i, "start") for i in range(3)],
        ("net.predict", 3), ("env.send", [2, 2, 2]), *adds, ("stats.on_step", 3),
        *update, *update,  # steps 0 and 2 of the three counted: one minibatch per train_frequency steps
        ("net.predict", 3), ("env.send", [2, 2, 2]), adds[0], ("mem.add", 1, (2, True)), adds[2],
        ("stats.on_step", 3), ("env.restart", [0, 1, 0]), ("mem.add", 1, "start"),
        *update,  # step 4
    ]


class BackgroundEnvironment(FakeEnvironment):
    """Games that step on their own threads between send and recv, as ALE's vector environment."""

    steps_in_background = True

    def send(self, actions):
        self.tape.append(("env.send", actions.tolist()))
        self.sent = actions

    def recv(self):
        self.tape.append(("env.recv",))
        self.steps += 1
        terminals = np.zeros(self.num_envs, dtype=bool)
        return np.ones(self.num_envs), np.full((self.num_envs, *SHAPE), self.steps, dtype=np.uint8), terminals


def test_three_games_train_while_the_games_step():
    """On games that step in the background the minibatches due run between send and recv."""
    tape = []
    agent = Agent(BackgroundEnvironment(tape, 3), FakeMemory(tape), FakeNetwork(tape), history_length=1,
                  exploration_rate_start=0.0, exploration_rate_end=0.0, random_starts=0, train_frequency=2,
                  target_steps=0, rng=np.random.default_rng(0))
    agent.train(3)
    update = [("mem.sample",), ("net.train",), ("mem.update_priorities",)]
    step = tape.index(("env.send", [2, 2, 2]))
    assert tape[step - 1] == ("net.predict", 3)
    assert tape[step + 1:step + 8] == [*update, *update, ("env.recv",)]  # steps 0 and 2 of the three
    assert tape[step + 8:] == [("mem.add", i, (2, False)) for i in range(3)]
    agent.overlap = False
    tape.clear()
    agent.train(3, restart=False)
    send = tape.index(("env.send", [2, 2, 2]))
    assert tape[send + 1:send + 5] == [("env.recv",), *[("mem.add", i, (2, False)) for i in range(3)]]
    assert tape[send + 5] == ("mem.sample",)  # the minibatches come after the step is stored


def test_three_games_random_starts_are_no_op_actions_not_counted_as_steps():
    """Each stream plays its no-ops in the steps of all three; a step counts only the streams
    that chose their action, in the phase, the statistics and the update period."""
    agent, tape = make_agent(3, random_starts=2, train_frequency=1, target_steps=0)
    noops = np.random.default_rng(0).integers(1, 3, size=3) + 1  # history 1 .. 2 no-ops, plus one
    played = agent.train(3)
    sends = [event[1] for event in tape if event[0] == "env.send"]
    for stream in range(3):
        column = [actions[stream] for actions in sends]
        assert column == [0] * noops[stream] + [2] * (len(sends) - noops[stream])
    chosen = [sum(step >= n for n in noops) for step in range(len(sends))]
    assert played == sum(chosen) >= 3 and sum(chosen[:-1]) < 3
    assert [event[1] for event in tape if event[0] == "stats.on_step"] == chosen
    assert tape.count(("net.train",)) == played == agent.total_train_steps


def test_play_counts_whole_games_of_all_streams():
    agent, tape = make_agent(2, terminal_at={1: [0], 2: [0, 1], 3: [1]}, random_starts=0)
    scores = agent.play(3)
    assert scores == [1.0, 1.0, 2.0]  # stream 0 ends games at steps 1 and 2, stream 1 at step 2; no step 3
    assert [event for event in tape if event[0] == "env.restart"][-1] == ("env.restart", [1, 1])


class ReusedArrayEnvironment(FakeEnvironment):
    """One stream that returns the same rewards array every step, as GameEnvironment does; the
    reward is 1 on the terminal step of each game (every third step) and 0 otherwise."""

    def __init__(self, tape):
        super().__init__(tape, 1)
        self.rewards = np.zeros(1)

    def send(self, actions):
        pass

    def recv(self):
        self.steps += 1
        terminal = self.steps % 3 == 0
        self.rewards[0] = 1.0 if terminal else 0.0
        return self.rewards, np.full((1, *SHAPE), self.steps, dtype=np.uint8), np.array([terminal])



def test_fire_reset_stores_fire_and_resumes_mid_start():
    """With one game FIRE is stored as the action of the start's last transition; with three, a
    saved agent in the middle of its streams' start actions goes on as the unbroken one."""
    agent, tape = make_agent(1, random_starts=0, fire_action=1)
    agent.begin(store=True)
    assert [e for e in tape if e[0] == "mem.add"] == [("mem.add", 0, "start"), ("mem.add", 0, (1, False))]
    agent, tape = make_agent(3, random_starts=2, fire_action=1)
    agent.begin()
    agent.act(0.0)
    agent.observe(0.0)
    meta, arrays = agent.save_state()
    resumed, resumed_tape = make_agent(3, random_starts=2, fire_action=1)
    resumed.load_state(meta, arrays)
    for a in (agent, resumed):
        a.env.steps = 1
        for _ in range(4):
            a.act(0.0)
            a.observe(0.0)
    sent = [e[1] for e in tape if e[0] == "env.send"][1:]
    assert sent == [e[1] for e in resumed_tape if e[0] == "env.send"]
    noops = np.random.default_rng(0).integers(1, 3, size=3) + 1  # as the test above: 2 or 3 each
    for stream in range(3):  # one no-op was played before the save
        assert [actions[stream] for actions in sent][:noops[stream] + 1] == [0] * (noops[stream] - 1) + [1, 2]

def test_play_scores_keep_the_last_reward_when_a_random_start_follows():
    """A game's scoring step is the terminal one; the next game's no-ops (played at once with one
    game) reuse the environment's rewards array and must not wipe that reward from the score."""
    tape = []
    agent = Agent(ReusedArrayEnvironment(tape), FakeMemory(tape), FakeNetwork(tape), history_length=1,
                  exploration_rate_test=0.0, random_starts=1, rng=np.random.default_rng(0))
    assert agent.play(2) == [1.0, 1.0]


def test_fire_reset_fires_after_each_random_start():
    agent, tape = make_agent(1, terminal_at={2: [0]}, random_starts=0, fire_action=1)
    agent.test(4)
    # FIRE begins each episode; with one game it is played at once, outside the phase's 4 steps.
    assert [event[1] for event in tape if event[0] == "env.send"] == [[1], [2], [1], [2], [2], [2]]
    agent, tape = make_agent(3, random_starts=2, fire_action=1)
    agent.test(3 * 6)
    sent = [event[1] for event in tape if event[0] == "env.send"]
    noops = np.random.default_rng(0).integers(1, 3, size=3) + 1
    for stream in range(3):
        column = [actions[stream] for actions in sent]
        assert column[:noops[stream] + 2] == [0] * noops[stream] + [1, 2]


def test_hidden_start_actions_are_not_stored_and_the_episode_begins_after_them():
    """store_start_actions=False: one game stores its start row after the no-ops and FIRE, from
    the screen they leave; three games store nothing of a stream's start, then a start row of
    the screen its last start action returned, then its own transitions."""
    agent, tape = make_agent(1, random_starts=2, fire_action=1, store_start_actions=False)
    agent.begin(store=True)
    sent = [e for e in tape if e[0] == "env.send"]
    assert len(sent) >= 3 and sent[-1] == ("env.send", [1])  # no-ops, then FIRE, played at once
    assert [e for e in tape if e[0] == "mem.add"] == [("mem.add", 0, "start")]
    assert agent.buffer.states[0, -1, 0, 0] == len(sent)  # the screen the last start action returned
    agent, tape = make_agent(3, random_starts=2, fire_action=1, store_start_actions=False)
    agent.train(3 * 6)
    steps = sum(e[0] == "env.send" for e in tape)
    noops = np.random.default_rng(0).integers(1, 3, size=3) + 1
    for stream in range(3):
        adds = [e[2] for e in tape if e[0] == "mem.add" and e[1] == stream]
        # The start row comes after the no-ops and FIRE (noops + 1 steps), then one transition a step.
        assert adds == ["start"] + [(2, False)] * (steps - noops[stream] - 1)
