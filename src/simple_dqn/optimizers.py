"""The optimizers of --optimizer: RMSProp in the two forms DQN implementations use, Adam and Adadelta.

* ``NeonRMSprop`` ("standard"): the original simple_dqn's optimizer, Nervana neon's RMSProp:
      v <- decay * v + (1 - decay) * g^2
      w <- w - lr * g / (sqrt(v + eps) + eps)            eps = 1e-6
* ``GravesRMSprop`` ("graves"): DeepMind's form (Graves 2013, "Generating Sequences With
  Recurrent Neural Networks", eq. 40; the Nature DQN's released NeuralQLearner.lua):
      m <- decay * m + (1 - decay) * g
      v <- decay * v + (1 - decay) * g^2
      w <- w - lr * g / sqrt(v - m^2 + 0.01)
  DeepMind's g is the gradient summed over the minibatch, not averaged, so the optimizer
  takes ``grad_scale`` (the batch size) to turn our mean-loss gradient into theirs.
* ``Adam`` (Kingma and Ba 2015, Algorithm 1) in torch's fused kernel, the one
  ``torch.optim.Adam(fused=True)`` runs.
* ``Adadelta`` (Zeiler 2012, Algorithm 1), as ``torch.optim.Adadelta``.

They share a small base class instead of ``torch.optim.Optimizer``, whose constructor imports
``torch._dynamo``, a second or more at the start of every command (docs/speed.md). Every step is
a few foreach or fused ops with no host synchronisation, so a CUDA graph can hold it.
"""

from __future__ import annotations

import torch


class Optimizer:
    """One group of parameters with per-parameter state, in torch.optim's state_dict layout.

    Attributes:
        param_groups: [dict(hyperparameters, params=[parameters])], one group.
        state: {parameter: {name: tensor}}, created on a parameter's first step.
    """

    def __init__(self, params, defaults: dict):
        self.param_groups = [dict(defaults, params=list(params))]
        self.state: dict[torch.Tensor, dict] = {}

    def zero_grad(self) -> None:
        """Drop every parameter's gradient."""
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def state_dict(self) -> dict:
        """{"state": {index: {name: tensor}}, "param_groups": [hyperparameters and "params": indexes]}."""
        group = self.param_groups[0]
        params = group["params"]
        state = {i: dict(self.state[p]) for i, p in enumerate(params) if p in self.state}
        hyper = {k: v for k, v in group.items() if k != "params"}
        return dict(state=state, param_groups=[dict(hyper, params=list(range(len(params))))])

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from state_dict(); the tensors are used as given (device and memory format).

        Raises:
            ValueError: the saved state is of another number of parameters or another optimizer.
        """
        group = self.param_groups[0]
        params = group["params"]
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != 1 or len(saved_groups[0]["params"]) != len(params):
            raise ValueError("the saved optimizer state is of another number of parameters")
        saved_hyper = {k: v for k, v in saved_groups[0].items() if k != "params"}
        if set(saved_hyper) != set(group) - {"params"}:
            raise ValueError("the saved optimizer state is of another optimizer")
        group.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved_hyper.items()})
        self.state = {params[int(i)]: dict(values) for i, values in state_dict["state"].items()}

    def _state(self, params: list, name: str, like=torch.zeros_like) -> list[torch.Tensor]:
        """The per-parameter state tensor ``name`` of each param, created by like(param) on first use."""
        tensors = []
        for p in params:
            state = self.state.setdefault(p, {})
            if name not in state:
                state[name] = like(p)
            tensors.append(state[name])
        return tensors

    def _with_grads(self) -> tuple[dict, list, list]:
        """(the group, its parameters that have gradients, their gradients)."""
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        return group, params, [p.grad for p in params]


def _decay_squares_(averages: list, values: list, decay: float) -> None:
    """averages <- decay * averages + (1 - decay) * values^2, in place (the running mean of squares)."""
    torch._foreach_mul_(averages, decay)
    torch._foreach_addcmul_(averages, values, values, value=1 - decay)


def _sqrt_plus(tensors: list, eps: float) -> list:
    """sqrt(tensors + eps), new tensors."""
    out = torch._foreach_add(tensors, eps)
    torch._foreach_sqrt_(out)
    return out


class NeonRMSprop(Optimizer):
    """Neon's RMSProp (see module docstring). lr: step size; decay: rho of the running mean."""

    def __init__(self, params, lr: float = 0.00025, decay: float = 0.95, eps: float = 1e-6):
        super().__init__(params, dict(lr=lr, decay=decay, eps=eps))

    @torch.no_grad()
    def step(self) -> None:
        group, params, grads = self._with_grads()
        if not params:
            return
        squares = self._state(params, "square_avg")
        decay, eps, lr = group["decay"], group["eps"], group["lr"]
        _decay_squares_(squares, grads, decay)
        denom = _sqrt_plus(squares, eps)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)


class GravesRMSprop(Optimizer):
    """DeepMind's centred RMSProp (see module docstring).

    Args:
        lr: step size (Nature DQN: 0.00025).
        decay: rho of both running means (Nature DQN: 0.95).
        eps: added inside the square root (Nature DQN: 0.01).
        grad_scale: multiplies the gradient first; the batch size turns a mean loss into
            DeepMind's summed one.
    """

    def __init__(self, params, lr: float = 0.00025, decay: float = 0.95, eps: float = 0.01,
                 grad_scale: float = 1.0):
        super().__init__(params, dict(lr=lr, decay=decay, eps=eps, grad_scale=grad_scale))

    @torch.no_grad()
    def step(self) -> None:
        group, params, grads = self._with_grads()
        if not params:
            return
        grads = torch._foreach_mul(grads, group["grad_scale"])
        means = self._state(params, "grad_avg")
        squares = self._state(params, "square_avg")
        decay = group["decay"]
        torch._foreach_mul_(means, decay)
        torch._foreach_add_(means, grads, alpha=1 - decay)
        _decay_squares_(squares, grads, decay)
        denom = torch._foreach_addcmul(squares, means, means, value=-1)
        torch._foreach_add_(denom, group["eps"])
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])


def _zero_step(p: torch.Tensor) -> torch.Tensor:
    """A step count on the parameter's device, float32 as the fused kernel wants it."""
    return torch.zeros((), dtype=torch.float32, device=p.device)


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015, Algorithm 1) in torch's fused kernel; no weight decay, no AMSGrad.

    lr: step size; betas: the decay rates of the first and second moment estimates; eps: added
    to the second moment's square root. State per parameter as torch.optim.Adam's: step (float32
    scalar on the parameter's device), exp_avg, exp_avg_sq (the parameter's shape, dtype and
    memory format: the kernel walks them in storage order).
    """

    def __init__(self, params, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps))

    @torch.no_grad()
    def step(self) -> None:
        group, params, grads = self._with_grads()
        if not params:
            return
        steps = self._state(params, "step", _zero_step)
        exp_avgs = self._state(params, "exp_avg")
        exp_avg_sqs = self._state(params, "exp_avg_sq")
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=group["lr"],
                           beta1=beta1, beta2=beta2, weight_decay=0.0, eps=group["eps"], maximize=False)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012, Algorithm 1) as torch.optim.Adadelta, without weight decay:
        v <- rho * v + (1 - rho) * g^2
        d <- g * sqrt(u + eps) / sqrt(v + eps)
        u <- rho * u + (1 - rho) * d^2
        w <- w - lr * d
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    @torch.no_grad()
    def step(self) -> None:
        group, params, grads = self._with_grads()
        if not params:
            return
        squares = self._state(params, "square_avg")
        deltas = self._state(params, "acc_delta")
        rho, eps = group["rho"], group["eps"]
        _decay_squares_(squares, grads, rho)
        delta = _sqrt_plus(deltas, eps)
        torch._foreach_div_(delta, _sqrt_plus(squares, eps))
        torch._foreach_mul_(delta, grads)
        _decay_squares_(deltas, delta, rho)
        torch._foreach_add_(params, delta, alpha=-group["lr"])


def make_optimizer(name: str, params, *, learning_rate: float, decay_rate: float,
                   rmsprop_variant: str = "standard", batch_size: int = 32, adam_epsilon: float = 1e-8) -> Optimizer:
    """The optimizer named by --optimizer: rmsprop (in --rmsprop_variant form), adam or adadelta.

    Adam uses learning_rate and adam_epsilon with the usual betas (0.9, 0.999); Adadelta, as in the
    original, uses decay_rate as rho and ignores learning_rate (step size 1).

    Raises:
        ValueError: unknown name or variant.
    """
    params = list(params)
    if name == "rmsprop":
        if rmsprop_variant == "standard":
            return NeonRMSprop(params, lr=learning_rate, decay=decay_rate)
        if rmsprop_variant == "graves":
            return GravesRMSprop(params, lr=learning_rate, decay=decay_rate, grad_scale=batch_size)
        raise ValueError(f"unknown rmsprop variant {rmsprop_variant!r}")
    if name == "adam":
        return Adam(params, lr=learning_rate, eps=adam_epsilon)
    if name == "adadelta":
        return Adadelta(params, lr=1.0, rho=decay_rate, eps=1e-6)
    raise ValueError(f"unknown optimizer {name!r}")
