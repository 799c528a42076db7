"""The Nature DQN network, the TD target and the update."""

import math

import numpy as np
import pytest
import torch

from conftest import DEVICE, network
from simple_dqn.deepqnetwork import QNetwork, init_weights, td_loss, td_targets
from simple_dqn.replay_memory import Minibatch


def minibatch(rng, batch=32, shape=(84, 84), actions=4, terminal=False):
    states = rng.integers(0, 256, (batch, 5, *shape), dtype=np.uint8)
    return Minibatch(states, rng.integers(0, actions, batch), rng.choice([-1.0, 0.0, 1.0], batch).astype(np.float32),
                     np.full(batch, terminal), np.arange(batch), np.ones(batch, np.float32))


def test_nature_architecture_shapes():
    net = QNetwork(num_actions=6, history_length=4, screen_shape=(84, 84))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (32, (8, 8), (4, 4)), (64, (4, 4), (2, 2)), (64, (3, 3), (1, 1))]
    q = net(torch.zeros(7, 4, 84, 84, dtype=torch.uint8))
    assert q.shape == (7, 6)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(3136, 512), (512, 6)]


def test_predict_accepts_any_batch_size(rng):
    net = network()
    for batch in (1, 3, 32, 50):
        q = net.predict(rng.integers(0, 256, (batch, 4, 84, 84), dtype=np.uint8))
        assert q.shape == (batch, 4) and q.dtype == np.float32


def test_repeated_updates_on_a_fixed_batch_reduce_the_loss(rng):
    torch.manual_seed(0)
    net = network(discount_rate=0)
    batch = minibatch(rng, terminal=True)
    net.train(batch)
    first = net.take_mean_cost()
    for _ in range(30):
        net.train(batch)
    net.take_mean_cost()
    net.train(batch)
    assert net.take_mean_cost() < 0.5 * first
    assert net.weight_updates == 32


def test_target_network_is_copied_only_when_asked(rng):
    net = network()
    states = rng.integers(0, 256, (4, 4, 84, 84), dtype=np.uint8)
    before = net.target(torch.from_numpy(states).to(DEVICE)).detach()
    for _ in range(5):
        net.train(minibatch(rng))
    after_train = net.target(torch.from_numpy(states).to(DEVICE)).detach()
    assert torch.equal(before, after_train)
    net.update_target_network()
    online = net.online.eval()(torch.from_numpy(states).to(DEVICE)).detach()
    assert torch.allclose(net.target(torch.from_numpy(states).to(DEVICE)), online)


def test_td_target_hand_worked():
    rewards = torch.tensor([1.0, 0.0, -1.0])
    terminals = torch.tensor([False, False, True])
    next_q = torch.tensor([[0.5, 2.0], [-1.0, -3.0], [10.0, 10.0]])
    targets = td_targets(rewards, terminals, next_q, 0.9)
    assert torch.allclose(targets, torch.tensor([1.0 + 0.9 * 2.0, 0.9 * -1.0, -1.0]))


def test_huber_gradient_is_the_clipped_error():
    q = torch.tensor([0.0, 0.0, 0.0], requires_grad=True)
    targets = torch.tensor([3.0, 0.5, -2.0])
    td_loss(q, targets, torch.ones(3), "huber", 1.0).backward()
    # d/dq of mean huber = -clip(target - q, -1, 1) / batch
    assert torch.allclose(q.grad, torch.tensor([-1.0, -0.5, 1.0]) / 3)
    q.grad = None
    td_loss(q, targets, torch.ones(3), "mse", 1.0).backward()
    assert torch.allclose(q.grad, torch.tensor([-3.0, -0.5, 2.0]) / 3)


def test_xavier_init_bounds():
    net = QNetwork(num_actions=4, history_length=4, screen_shape=(84, 84))
    init_weights(net, "xavier")
    conv = net.features[0]
    bound = (3 / conv.weight[0].numel()) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert not conv.bias.any()


def test_screen_too_small_for_the_network():
    with pytest.raises(ValueError, match="at least 36x36"):
        QNetwork(num_actions=4, history_length=4, screen_shape=(30, 84))


def test_unscaled_screens_see_pixels_255_times_brighter():
    # With scale_screens off the first layer takes 0-255 (Tianshou's examples); with the same weights it
    # must act as the scaled network on screens 255 times brighter, and not as the scaled one on the same.
    torch.manual_seed(0)
    scaled = QNetwork(num_actions=4, history_length=4, screen_shape=(84, 84))
    raw = QNetwork(num_actions=4, history_length=4, screen_shape=(84, 84), scale_screens=False)
    raw.load_state_dict(scaled.state_dict())
    states = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert torch.allclose(raw(states), scaled(states.float() * 255.0), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(raw(states), scaled(states), rtol=1e-2, atol=1e-2)


def test_fan_in_init_bounds():
    net = QNetwork(num_actions=4, history_length=4, screen_shape=(84, 84))
    init_weights(net, "fan_in")
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            bound = 1 / math.sqrt(module.weight[0].numel())
            assert module.weight.abs().max() <= bound and module.bias.abs().max() <= bound
            assert module.weight.abs().max() > 0.9 * bound, "uniform over the whole range"
            assert module.bias.abs().max() > 0, "biases are drawn too, not zero"


def test_double_q_target_hand_made_batch():
    rewards = torch.tensor([1.0, 0.0])
    terminals = torch.tensor([False, False])
    next_q_target = torch.tensor([[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]])
    next_q_online = torch.tensor([[9.0, 0.0, 0.0], [0.0, 7.0, 1.0]])
    double = td_targets(rewards, terminals, next_q_target, 0.5, next_q_online)
    # online picks actions 0 and 1; the target network evaluates them: 1.0 and -1.0
    assert torch.allclose(double, torch.tensor([1.0 + 0.5 * 1.0, 0.5 * -1.0]))
    plain = td_targets(rewards, terminals, next_q_target, 0.5)
    assert torch.allclose(plain, torch.tensor([1.0 + 0.5 * 5.0, 0.5 * 3.0]))


def test_expected_sarsa_target_hand_made_batch():
    rewards = torch.tensor([1.0, 0.0, 1.0])
    terminals = torch.tensor([False, False, True])
    next_q_target = torch.tensor([[1.0, 5.0, 3.0], [0.0, -1.0, 4.0], [9.0, 9.0, 9.0]])
    # epsilon 0.3: 0.7 * the greedy value + 0.3 * the mean over the 3 actions
    targets = td_targets(rewards, terminals, next_q_target, 0.5, exploration_rate=0.3)
    assert torch.allclose(targets, torch.tensor([1.0 + 0.5 * (0.7 * 5.0 + 0.3 * 3.0), 0.5 * (0.7 * 4.0 + 0.3 * 1.0),
                                                 1.0]))
    next_q_online = torch.tensor([[9.0, 0.0, 0.0], [0.0, 7.0, 1.0], [0.0, 0.0, 0.0]])
    double = td_targets(rewards, terminals, next_q_target, 0.5, next_q_online, exploration_rate=0.3)
    assert torch.allclose(double, torch.tensor([1.0 + 0.5 * (0.7 * 1.0 + 0.3 * 3.0), 0.5 * (0.7 * -1.0 + 0.3 * 1.0),
                                                1.0]))


def test_dueling_shape_and_mean_zero_advantage():
    torch.manual_seed(0)
    net = QNetwork(num_actions=5, history_length=4, screen_shape=(84, 84), dueling=True)
    states = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    q = net(states)
    assert q.shape == (6, 5)
    features = net.features(states.float() / 255)
    value = net.value(features)
    np.testing.assert_allclose((q - value).mean(dim=1).detach().numpy(), 0.0, atol=1e-5)


@pytest.fixture
def exact_cudnn():
    """cuDNN without TF32 and with deterministic kernels: RMSProp and Adam divide by the
    gradient's running size, so rounding noise in a small gradient moves a weight by up to
    a whole step; this keeps two runs of the same updates comparable."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = \
        True, False, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_cuda_graphs_give_the_eager_updates(rng, optimizer, exact_cudnn):
    """Graphed updates and predictions equal eager ones, and the capture's three warm-up
    updates (on the first minibatch) are undone: the graphed network is far closer to the
    eager one than to an eager one that kept those three updates."""
    def network(graphs):
        from simple_dqn.build import make_network

        torch.manual_seed(0)
        return make_network(4, (84, 84), device="cuda:0", optimizer=optimizer, cuda_graphs=graphs)

    batches = [minibatch(rng) for _ in range(5)]
    eager, graphed, kept_warmup = network(False), network(True), network(False)
    for net, plan in ((eager, batches), (graphed, batches), (kept_warmup, batches[:1] * 3 + batches)):
        for batch in plan:
            net.train(batch)

    def distance(a, b):
        wa, wb = a.weights(), b.weights()
        return max(float((wa[k] - wb[k]).abs().max()) for k in wa)

    assert distance(eager, graphed) < 0.1 * distance(eager, kept_warmup)
    assert graphed.weight_updates == 5
    assert eager.take_mean_cost() == pytest.approx(graphed.take_mean_cost(), rel=1e-3)
    states = rng.integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    assert np.allclose(eager.predict(states), graphed.predict(states), rtol=1e-3, atol=1e-4)


def test_make_network_defaults_are_the_command_lines():
    import inspect

    from simple_dqn.arguments import parse_arguments
    from simple_dqn.build import NETWORK_OPTIONS, make_network

    defaults = {name: p.default for name, p in inspect.signature(make_network).parameters.items()
                if p.kind is p.KEYWORD_ONLY and name != "device"}
    assert set(defaults) == set(NETWORK_OPTIONS)
    args = parse_arguments(["catch"])
    assert defaults == {name: getattr(args, name) for name in NETWORK_OPTIONS}
