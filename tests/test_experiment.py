"""The experiment protocol's calls to its components, recorded in order (the agent's tape, one level up)."""

from simple_dqn.arguments import parse_arguments
from simple_dqn.checkpoint import Position
from simple_dqn.main import Experiment


class Recorder:
    """Stands in for one component: every method called appends (name.method, *args) to the tape."""

    def __init__(self, tape, name, **returns):
        self._tape, self._name, self._returns = tape, name, returns

    def __getattr__(self, method):
        def record(*args, **kwargs):
            self._tape.append((f"{self._name}.{method}", *args, *kwargs.values()))
            value = self._returns.get(method)
            return value(*args, **kwargs) if callable(value) else value
        return record


def make(tape, position=None, *flags):
    args = parse_arguments(["catch", "--random_steps", "5", "--train_steps", "10", "--test_steps", "4",
                            "--epochs", "2", *flags])
    agent = Recorder(tape, "agent", play_random=lambda steps, restart: steps, train=lambda steps, restart: steps,
                     test=lambda steps, restart: steps)
    agent.stop_requested, agent.total_train_steps = False, 0
    stats = Recorder(tape, "stats", write=lambda *a, **k: [0] * 16)
    checkpointer = Recorder(tape, "checkpointer", end_of_epoch=lambda epoch, progress: f"c{epoch}")
    return Experiment(args, Recorder(tape, "env"), None, None, agent, stats, checkpointer, position)


def phase(epoch, kind, steps, restart=True):
    mode = "test" if kind == "test" else "train"
    call = dict(random="play_random", train="train", test="test")[kind]
    desc = kind if kind == "random" else f"epoch {epoch}/2 {kind}"
    return [("env.set_mode", mode), ("stats.reset", kind, steps, False, desc), (f"agent.{call}", steps, restart),
            ("stats.write", epoch, kind, 0, None, None)]


def test_a_run_plays_the_phases_in_order_with_a_checkpoint_per_epoch():
    tape = []
    assert make(tape).run() == 0
    assert tape == [
        *phase(0, "random", 5),
        *phase(1, "train", 10), *phase(1, "test", 4), ("checkpointer.end_of_epoch", 1, 5 + 14),
        *phase(2, "train", 10), *phase(2, "test", 4), ("checkpointer.end_of_epoch", 2, 5 + 28),
        ("stats.close",), ("env.close",),
    ]


def test_a_resumed_run_plays_the_rest_of_its_phase_without_a_new_start():
    tape = []
    make(tape, Position(2, "train", 6, 25)).run()
    assert tape == [
        ("env.set_mode", "train"), ("agent.train", 4, False), ("stats.write", 2, "train", 0, None, None),
        *phase(2, "test", 4), ("checkpointer.end_of_epoch", 2, 25 + 4 + 4),
        ("stats.close",), ("env.close",),
    ]


def test_a_stop_request_ends_the_phase_with_an_interrupted_checkpoint():
    tape = []
    experiment = make(tape)
    experiment.agent.stop_requested = True
    experiment.stop_on_signals = lambda: {}
    experiment.run()
    assert tape[-3:] == [("checkpointer.interrupted", Position(0, "random", 5, 5)), ("stats.close",),
                         ("env.close",)]
