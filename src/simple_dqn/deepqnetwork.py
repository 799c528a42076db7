"""The Nature DQN network, its target network, the TD target and the update step.

Architecture (Mnih et al. 2015, "Human-level control through deep reinforcement learning",
Methods): 32 8x8 filters stride 4, 64 4x4 stride 2, 64 3x3 stride 1, 512 fully connected,
one linear output per action, ReLU between. Input: uint8 states scaled to [0, 1] on the device (or,
with scale_screens off, fed as 0-255 values as Tianshou's Atari examples do).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from simple_dqn.cuda_graphs import predict_graphed, train_graphed
from simple_dqn.distributional import cross_entropy, make_support, project_distribution
from simple_dqn.noisy import NoisyLinear, set_sampling
from simple_dqn.replay_memory import Minibatch

DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}
AUTOCAST = {"none": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
INITS = ("xavier", "fan_in")
LOSSES = ("huber", "mse")
MIN_SCREEN = 36  # smallest screen side the three Nature conv layers accept, in pixels


def conv_output_side(side: int) -> int:
    """Side of the last Nature conv layer's output for an input side in pixels."""
    for kernel, stride in ((8, 4), (4, 2), (3, 1)):
        side = (side - kernel) // stride + 1
    return side


class QNetwork(nn.Module):
    """Nature DQN convolutional network; optionally batch-normalised or dueling.

    Args:
        num_actions: outputs, one Q-value per action.
        history_length: input channels (screens per state).
        screen_shape: (height, width) of a screen, each at least 36 pixels.
        batch_norm: batch normalisation after each hidden layer (the original's --batch_norm).
        dueling: value and advantage streams, Q = V + A - mean(A) (Wang et al. 2016, eq. 9); with
            atoms, per atom before the softmax (Hessel et al. 2018, eq. 5).
        num_atoms, v_min, v_max: num_atoms >= 2 makes it C51's network (Bellemare et al. 2017): per
            action a categorical distribution over num_atoms atoms evenly spaced in [v_min, v_max]
            (distributional.make_support); 0 is the Q-network.
        noisy: the fully connected layers are noisy (noisy.NoisyLinear, Fortunato et al. 2018).
        scale_screens: divide the pixels by 255 (Nature DQN, the original); False feeds them as
            0-255, as Tianshou's Atari examples do (their networks take the uint8 frames as floats
            unscaled): every activation grows 255-fold, and with it the size of an Adam step in the
            network's outputs.

    forward(states): uint8 or float (B, history_length, H, W) -> Q-values (B, num_actions), for C51
    the expected values sum_i p_i z_i. log_distribution(states): C51 only, log-probabilities
    (B, num_actions, num_atoms).

    Raises:
        ValueError: a screen below 36 pixels, or a support with fewer than 2 atoms or v_min >= v_max.
    """

    def __init__(self, num_actions: int, history_length: int, screen_shape: tuple[int, int],
                 batch_norm: bool = False, dueling: bool = False, channels_last: bool = False,
                 num_atoms: int = 0, v_min: float = -10.0, v_max: float = 10.0, noisy: bool = False,
                 scale_screens: bool = True):
        super().__init__()
        self.input_scale = 1.0 / 255.0 if scale_screens else 1.0
        self.channels_last = channels_last
        self.num_actions = num_actions
        self.num_atoms = num_atoms
        if num_atoms:
            # Not persistent: snapshots record the support in their options, not as a tensor.
            self.register_buffer("support", make_support(v_min, v_max, num_atoms), persistent=False)
        outputs = num_actions * max(num_atoms, 1)
        value_outputs = max(num_atoms, 1)
        if min(screen_shape) < MIN_SCREEN:
            raise ValueError(f"the Nature network needs screens of at least {MIN_SCREEN}x{MIN_SCREEN} "
                             f"pixels, not {screen_shape[0]}x{screen_shape[1]}")

        linear = NoisyLinear if noisy else nn.Linear
        self.noisy = noisy

        def hidden(layer: nn.Module, width: int, conv: bool) -> list[nn.Module]:
            norm = [nn.BatchNorm2d(width) if conv else nn.BatchNorm1d(width)] if batch_norm else []
            return [layer, *norm, nn.ReLU()]

        flat = 64 * conv_output_side(screen_shape[0]) * conv_output_side(screen_shape[1])
        self.features = nn.Sequential(
            *hidden(nn.Conv2d(history_length, 32, 8, stride=4), 32, True),
            *hidden(nn.Conv2d(32, 64, 4, stride=2), 64, True),
            *hidden(nn.Conv2d(64, 64, 3, stride=1), 64, True),
            nn.Flatten(),
        )
        self.dueling = dueling
        if dueling:
            self.value = nn.Sequential(*hidden(linear(flat, 512), 512, False), linear(512, value_outputs))
            self.advantage = nn.Sequential(*hidden(linear(flat, 512), 512, False), linear(512, outputs))
        else:
            self.head = nn.Sequential(*hidden(linear(flat, 512), 512, False), linear(512, outputs))

    def output_layers(self) -> list[nn.Module]:
        """The last linear layer of each stream: the one head, or the value and advantage streams'."""
        return [self.value[-1], self.advantage[-1]] if self.dueling else [self.head[-1]]

    def keep_outputs_float32(self) -> "QNetwork":
        """Put the output layers in float32 after the rest went to a lower dtype; returns self.

        Their inputs are cast up, so Q-values and logits carry float32's 24-bit mantissa instead of
        bfloat16's 8 bits (about 0.004 at a Q-value of 1, the size of the TD errors between rare
        rewards). The layers hold 512 x outputs weights: the cost is small.
        """
        for layer in self.output_layers():
            layer.float()
        return self

    @staticmethod
    def _stream(stream: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        hidden = stream[:-1](x)
        out = stream[-1]
        return out(hidden.to(next(out.parameters()).dtype))

    def _outputs(self, states: torch.Tensor) -> torch.Tensor:
        """Q-values (B, A), or for C51 the logits (B, A, N), in the output layers' dtype."""
        dtype = next(self.features.parameters()).dtype
        x = states.to(dtype) * self.input_scale
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.features(x)
        shape = (x.shape[0], self.num_actions, self.num_atoms) if self.num_atoms else (x.shape[0], self.num_actions)
        if not self.dueling:
            return self._stream(self.head, x).view(shape)
        advantage = self._stream(self.advantage, x).view(shape)
        value = self._stream(self.value, x).view(shape[0], 1, *shape[2:])
        return value + advantage - advantage.mean(dim=1, keepdim=True)

    def log_distribution(self, states: torch.Tensor) -> torch.Tensor:
        """C51's log-probabilities over the atoms, (B, num_actions, num_atoms)."""
        logits = self._outputs(states)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the softmax's sums in at least float32
        return F.log_softmax(logits, dim=2)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        if not self.num_atoms:
            return self._outputs(states)
        log_probs = self.log_distribution(states)
        return (log_probs.exp() * self.support.to(log_probs.dtype)).sum(dim=2)


def init_weights(network: nn.Module, scheme: str) -> None:
    """Initialise conv and linear layers in place.

    "xavier": the original's neon Xavier, uniform in +-sqrt(3 / fan_in) for weights, zero biases
    (neon's layers had no biases). "fan_in": DeepMind's Torch7 default, uniform in
    +-1 / sqrt(fan_in) for weights and biases.

    Raises:
        ValueError: unknown scheme.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}")
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            bound = math.sqrt(3.0 / fan_in) if scheme == "xavier" else 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                module.weight.uniform_(-bound, bound)
                if scheme == "xavier":
                    module.bias.zero_()
                else:
                    module.bias.uniform_(-bound, bound)


def td_targets(rewards: torch.Tensor, terminals: torch.Tensor, next_q_target: torch.Tensor,
               discount_rate: float, next_q_online: torch.Tensor | None = None,
               exploration_rate: float = 0.0) -> torch.Tensor:
    """TD targets r + discount * Q_target(s', a*) (just r where s' is terminal).

    a* = argmax_a' Q_target(s', a') (Mnih et al. 2015, eq. 3), or with next_q_online given,
    argmax_a' Q_online(s', a') (double Q-learning, van Hasselt et al. 2016, eq. 4).
    With exploration_rate e > 0 the next state's value is that of the e-greedy policy instead,
    (1 - e) * Q_target(s', a*) + e * mean_a' Q_target(s', a') (Expected Sarsa, Sutton and Barto
    2018, eq. 6.9, with the greedy action as above).

    Shapes: rewards, terminals (B,); next_q_* (B, num_actions). Returns (B,).
    """
    if next_q_online is None:
        best = next_q_target.max(dim=1).values
    else:
        best = next_q_target.gather(1, next_q_online.argmax(dim=1, keepdim=True)).squeeze(1)
    if exploration_rate:
        best = (1.0 - exploration_rate) * best + exploration_rate * next_q_target.mean(dim=1)
    return rewards + discount_rate * (~terminals).to(best.dtype) * best


def n_step_returns(rewards: torch.Tensor, discount_rate: float) -> torch.Tensor:
    """Discounted sums of n rewards, sum_k discount^k * r_k for k = 0 .. n-1.

    The truncated n-step return of Sutton 1988 (Hessel et al. 2018, "Rainbow", eq. 2): the
    TD target adds discount^n * max_a Q_target(s_{t+n}, a) to it (td_targets with
    discount_rate ** n). rewards: (B, n), zero after a terminal. Returns (B,).
    """
    n = rewards.shape[1]
    powers = discount_rate ** torch.arange(n, device=rewards.device, dtype=torch.float64)
    return rewards @ powers.to(rewards.dtype)


def td_loss(q_taken: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
            loss: str, clip_error: float) -> torch.Tensor:
    """Mean over the minibatch of weights * loss(Q(s, a) - TD target).

    "huber" with delta = clip_error (> 0): its gradient is the TD error clipped to
    [-clip_error, clip_error], with delta 1 exactly the original's error clipping. "mse":
    0.5 * error^2, never clipped (the original's clip_error 0). Shapes: (B,) each; returns 0-d.
    """
    if loss == "huber":
        per_sample = F.huber_loss(q_taken, targets, reduction="none", delta=clip_error)
    else:
        per_sample = 0.5 * (q_taken - targets) ** 2
    return (per_sample * weights).mean()


class DeepQNetwork:
    """Online and target Q-networks with the DQN update, from parts made outside (as DQN Zoo's agents
    get theirs; build.make_network makes them from the command line).

    Args:
        online: the Q-network trained: uint8 states (B, history_length, H, W) -> (B, num_actions),
            already on its device, dtype and memory format (QNetwork).
        target: a network of the same architecture; its weights become online's.
        optimizer: an optimizer over online's parameters (optimizers.make_optimizer).
        loss: the TD loss, loss(q_taken (B,), targets (B,), weights (B,)) -> 0-d tensor (td_loss).
        discount_rate: gamma of the TD target.
        min_reward, max_reward: rewards are clipped to this range in the TD target.
        double_q: double Q-learning TD target.
        target_exploration_rate: bootstrap on the value of the epsilon-greedy policy with this
            exploration rate (Expected Sarsa; td_targets); 0: the greedy policy's (Q-learning).
        bootstrap_next_state: with n-step minibatches, bootstrap from the state one step ahead
            (still discounted by discount_rate ** n_step) instead of the state n_step steps ahead,
            as Tianshou's C51 and Rainbow do (thu-ml/tianshou, policy/modelfree/c51.py,
            _target_dist: the n-step return's support is applied to the distribution of
            batch.obs_next). Each of the next n_step - 1 rewards is then counted again inside
            the bootstrapped value: larger values over a horizon of about 1 / (1 - gamma ** n_step)
            steps. False: the n-step TD target of Sutton (1988) and Hessel et al. (2018).
        autocast: "none" (compute in the parameters' dtype), "bfloat16" or "float16": mixed
            precision for the forward and backward passes (weights, optimizer and loss stay).
        cuda_graphs: replay the update and the prediction as CUDA graphs (CUDA devices only):
            one launch instead of about a hundred kernel launches each, the same arithmetic.
            Captured at the first update (and for each new prediction batch size); the three
            warm-up updates that capture needs are undone (every optimizer of optimizers.py
            can be captured).
        compute: mixed precision with master weights (Micikevicius et al. 2018, "Mixed Precision
            Training"): a copy of online's architecture in a lower dtype (bfloat16) that runs every
            forward and backward pass and the predictions, while online keeps the float32 master
            weights that the optimizer updates; after each step the master weights are copied
            into it. None: online computes itself.

    Raises:
        ValueError: cuda_graphs with a network that is not on a CUDA device, or with compute.

    Attributes:
        weight_updates: number of weight updates done (the CSV's weight_updates).
        last_cost: the last update's loss (0-d tensor on the device), or None before any.
        last_q_taken: the last update's Q(s, a) of the minibatch, (B,) on the device, or None.
    """

    def __init__(self, online: nn.Module, target: nn.Module, optimizer, loss, *,
                 discount_rate: float = 0.99, min_reward: float = -1.0, max_reward: float = 1.0,
                 double_q: bool = False, target_exploration_rate: float = 0.0, bootstrap_next_state: bool = False,
                 autocast: str = "none",
                 cuda_graphs: bool = False, compute: nn.Module | None = None):
        parameter = next(online.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        if cuda_graphs and self.device.type != "cuda":
            raise ValueError("cuda_graphs needs a network on a CUDA device")
        if cuda_graphs and compute is not None:
            raise ValueError("cuda_graphs does not capture the master-weights copies; use one or the other")
        self.cuda_graphs = cuda_graphs
        self.online, self.target = online, target
        # The network that runs the passes: online itself, or its low-precision copy.
        self.compute = online if compute is None else compute
        self.numerics = "float32" if compute is None else str(next(compute.parameters()).dtype).replace("torch.", "")
        self._master = list(online.parameters())
        self._copies = list(self.compute.parameters())
        self._master_buffers = list(online.buffers())
        self._copy_buffers = list(self.compute.buffers())
        self._sync_compute()
        self.optimizer, self.loss = optimizer, loss
        self.discount_rate = discount_rate
        self.min_reward, self.max_reward = min_reward, max_reward
        self.double_q = double_q
        self.target_exploration_rate = target_exploration_rate
        self.bootstrap_next_state = bootstrap_next_state
        self.autocast_dtype = AUTOCAST[autocast]
        self.target.requires_grad_(False)
        self.noisy = bool(getattr(online, "noisy", False))
        set_sampling(self.target, True)  # the target network's values with noise of their own (Fortunato et al.)
        self.update_target_network()
        self.weight_updates = 0
        self.last_cost: torch.Tensor | None = None  # the last update's loss and Q(s, a), for logging
        self.last_q_taken: torch.Tensor | None = None
        # Summed on the device so that an update needs no host synchronisation.
        self._cost_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        self._cost_count = 0
        self._update_graphs: dict = {}  # (input shapes, n_step) -> (graph, static inputs, static outputs)
        self._predict_graphs: dict = {}  # batch size -> (graph, static input, static output)

    def _sync_compute(self) -> None:
        """Copy the master weights into the compute network (nothing when they are one)."""
        if self.compute is not self.online:
            with torch.no_grad():
                torch._foreach_copy_(self._copies, self._master)
                if self._copy_buffers:
                    torch._foreach_copy_(self._copy_buffers, self._master_buffers)

    def _step_optimizer(self) -> None:
        """The optimizer's step on the master weights, from the compute network's gradients."""
        if self.compute is not self.online:
            if self._master[0].grad is None:
                for master in self._master:
                    master.grad = torch.zeros_like(master)
            with torch.no_grad():
                torch._foreach_copy_([m.grad for m in self._master], [c.grad for c in self._copies])
            if self._copy_buffers:  # batch norm's running statistics live in the compute network
                with torch.no_grad():
                    torch._foreach_copy_(self._master_buffers, self._copy_buffers)
        self.optimizer.step()
        self._sync_compute()

    def update_target_network(self) -> None:
        """Copy the online network's weights to the target network."""
        self.target.load_state_dict(self.online.state_dict())
        self.target.eval()

    def _to_device(self, array: np.ndarray | torch.Tensor) -> torch.Tensor:
        if torch.is_tensor(array):
            return array.to(self.device)  # already there with a GPU replay memory
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=True)

    def _autocast(self):
        """Mixed-precision context for the network passes (a no-op without --autocast)."""
        # A graph cannot keep autocast's cache of cast weights: it would hold stale copies.
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None,
                              cache_enabled=not self.cuda_graphs)

    def set_acting_noise(self, on: bool) -> None:
        """Noisy networks: draw noise in the predictions that choose actions (a train phase) or not (test, play)."""
        if self.noisy:
            set_sampling(self.compute, on)

    @torch.inference_mode()
    def predict(self, states: np.ndarray) -> np.ndarray:
        """Q-values of any number of states.

        states: uint8 (B, history_length, H, W). Returns float32 (B, num_actions); with noisy
        layers drawn afresh while set_acting_noise(True).
        """
        self.compute.eval()
        if self.cuda_graphs:
            return predict_graphed(self, states)
        with self._autocast():
            q = self.compute(self._to_device(states))
        return q.float().cpu().numpy()

    def train(self, minibatch: Minibatch) -> torch.Tensor:
        """One gradient step on a minibatch; returns the per-sample TD errors (B,) on the device
        (with cuda_graphs a static tensor that the next update overwrites: read it, or copy it, first).

        The TD target uses rewards clipped to [min_reward, max_reward] and the target network
        (Mnih et al. 2015, Algorithm 1); with minibatch.n_step > 1 each reward is clipped, then
        the n rewards are discounted and summed and the target network's value is discounted
        by discount_rate ** n_step (n_step_returns). A C51 network (num_atoms >= 2) learns its
        distribution instead (_update_distributional) and returns the per-sample cross-entropy.
        """
        n = minibatch.n_step
        inputs = (self._to_device(minibatch.states), self._to_device(minibatch.actions),
                  self._to_device(minibatch.rewards), self._to_device(minibatch.terminals),
                  self._to_device(minibatch.weights))
        if self.cuda_graphs:
            cost, q_taken, td_errors = train_graphed(self, inputs, n)
        else:
            cost, q_taken, td_errors = self._update(inputs, n)
        self.weight_updates += 1
        self._cost_count += 1
        # Kept on the device, read only when logged (--tensorboard): no synchronisation here.
        self.last_cost, self.last_q_taken = cost, q_taken
        return td_errors

    def _update(self, inputs: tuple, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The update's arithmetic on device tensors; returns (cost, Q(s, a), TD errors), detached."""
        states, actions, rewards, terminals, weights = inputs
        rewards = rewards.to(self.dtype).clamp(self.min_reward, self.max_reward)
        weights = weights.to(self.dtype)
        if n > 1:
            rewards = n_step_returns(rewards, self.discount_rate)
        history_length = states.shape[1] - n
        prestates = states[:, :history_length]
        poststates = states[:, 1:history_length + 1] if self.bootstrap_next_state else states[:, n:]
        if self.online.num_atoms:
            return self._update_distributional(prestates, poststates, actions, rewards, terminals, weights, n)
        with torch.no_grad(), self._autocast():
            next_q_target = self.target(poststates).to(self.dtype)
            next_q_online = None
            if self.double_q:
                self.compute.eval()
                next_q_online = self.compute(poststates).to(self.dtype)
        targets = td_targets(rewards, terminals, next_q_target, self.discount_rate ** n, next_q_online,
                             self.target_exploration_rate)
        self.compute.train()
        with self._autocast():
            q_all = self.compute(prestates)
        q_taken = q_all.to(self.dtype).gather(1, actions[:, None]).squeeze(1)
        cost = self.loss(q_taken, targets, weights)
        self.compute.zero_grad(set_to_none=True)
        cost.backward()
        self._step_optimizer()
        self._cost_sum += cost.detach()
        return cost.detach(), q_taken.detach(), (targets - q_taken).detach()

    def _update_distributional(self, prestates, poststates, actions, rewards, terminals, weights, n):
        """C51's update (Bellemare et al. 2017, Algorithm 1): the target network's distribution of the
        next state's best action (by expected value; with double_q chosen by the online network's),
        moved by the rewards and projected onto the support; the loss is the cross-entropy to the
        online network's distribution of the action taken, weighted. The per-sample cross-entropy
        is what is returned as the TD errors, the priority Rainbow uses (Hessel et al. 2018)."""
        support = self.online.support.to(self.dtype)
        rows = torch.arange(actions.shape[0], device=actions.device)
        with torch.no_grad(), self._autocast():
            next_probs = self.target.log_distribution(poststates).to(self.dtype).exp()  # (B, A, N)
            next_q = (next_probs * support).sum(dim=2)
            if self.double_q:
                self.compute.eval()
                next_q = self.compute(poststates).to(self.dtype)
            best = next_q.argmax(dim=1)
            next_dist = next_probs[rows, best]
            if self.target_exploration_rate:
                e = self.target_exploration_rate
                next_dist = (1.0 - e) * next_dist + e * next_probs.mean(dim=1)
            targets = project_distribution(next_dist, rewards, terminals, self.discount_rate ** n,
                                           support)
        self.compute.train()
        with self._autocast():
            log_probs = self.compute.log_distribution(prestates)
        log_taken = log_probs.to(self.dtype)[rows, actions]  # (B, N)
        per_sample = cross_entropy(targets, log_taken)
        cost = (per_sample * weights).mean()
        self.compute.zero_grad(set_to_none=True)
        cost.backward()
        self._step_optimizer()
        self._cost_sum += cost.detach()
        q_taken = (log_taken.detach().exp() * support).sum(dim=1)
        return cost.detach(), q_taken, per_sample.detach()

    def take_mean_cost(self) -> float:
        """Mean training cost since the last call (0 when there was no update); resets the sum."""
        if self._cost_count == 0:
            return 0.0
        mean = float(self._cost_sum) / self._cost_count
        self._cost_sum.zero_()
        self._cost_count = 0
        return mean

    def weights(self) -> dict[str, torch.Tensor]:
        """A copy of the online network's parameters and buffers, on the CPU, float32."""
        return {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype, copy=True).contiguous()
                for k, v in self.online.state_dict().items()}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load online weights (as from weights()) and copy them to the target network.

        Raises:
            ValueError: names or shapes do not match this network.
        """
        own = self.online.state_dict()
        if set(own) != set(tensors):
            missing = sorted(set(own) - set(tensors))
            extra = sorted(set(tensors) - set(own))
            raise ValueError(f"the weights do not fit this network (missing {missing[:3]}, unexpected {extra[:3]})")
        for name, value in tensors.items():
            if tuple(value.shape) != tuple(own[name].shape):
                raise ValueError(f"weight {name} has shape {tuple(value.shape)}, the network needs "
                                 f"{tuple(own[name].shape)}")
            if value.is_floating_point() != own[name].is_floating_point():
                raise ValueError(f"weight {name} has dtype {value.dtype}, the network needs {own[name].dtype}")
        self.online.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})
        self._sync_compute()
        self.update_target_network()

    def save_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Online and target weights, optimizer state and counters, for a checkpoint."""
        def host(v: torch.Tensor) -> np.ndarray:  # numpy has no bfloat16: such a target is saved as float32
            return v.detach().cpu().float().numpy() if v.dtype == torch.bfloat16 else v.detach().cpu().numpy()

        arrays = {f"online/{k}": host(v) for k, v in self.online.state_dict().items()}
        arrays.update({f"target/{k}": host(v) for k, v in self.target.state_dict().items()})
        optimizer = self.optimizer.state_dict()
        numbers = {}
        for index, values in optimizer["state"].items():
            for key, value in values.items():
                if torch.is_tensor(value):
                    arrays[f"optimizer/{index}/{key}"] = value.detach().cpu().numpy()
                else:
                    numbers[f"{index}/{key}"] = value
        meta = dict(weight_updates=self.weight_updates, cost_sum=float(self._cost_sum),
                    cost_count=self._cost_count, param_groups=optimizer["param_groups"], optimizer_numbers=numbers)
        return meta, arrays

    def load_state(self, meta: dict, arrays: dict) -> None:
        """Restore from save_state().

        Raises:
            ValueError: the saved networks or optimizer do not fit this network.
        """
        for name, module in (("online", self.online), ("target", self.target)):
            own = module.state_dict()
            saved = {k[len(name) + 1:]: v for k, v in arrays.items() if k.startswith(name + "/")}
            if set(saved) != set(own) or any(tuple(saved[k].shape) != tuple(own[k].shape) for k in own):
                raise ValueError(f"the saved {name} network does not fit this network")
            module.load_state_dict({k: torch.as_tensor(np.asarray(v)).to(own[k].dtype) for k, v in saved.items()})
        state: dict = {}
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        for key, value in arrays.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                tensor = torch.as_tensor(np.asarray(value)).to(self.device)
                param = params[int(index)]
                if tensor.shape == param.shape:
                    # In the parameter's memory format (channels-last): the fused Adam kernel walks
                    # both in storage order.
                    tensor = torch.empty_like(param, dtype=tensor.dtype).copy_(tensor)
                state.setdefault(int(index), {})[name] = tensor
        for key, value in meta["optimizer_numbers"].items():
            index, name = key.split("/", 1)
            state.setdefault(int(index), {})[name] = value
        self.optimizer.load_state_dict(dict(state=state, param_groups=meta["param_groups"]))
        self._update_graphs.clear()  # the optimizer's state tensors were replaced: capture anew
        self.weight_updates = int(meta["weight_updates"])
        self._cost_sum.fill_(float(meta["cost_sum"]))
        self._cost_count = int(meta["cost_count"])
        self._sync_compute()
        self.target.eval()
