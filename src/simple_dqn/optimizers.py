"""RMSProp in the two forms DQN implementations use, written with fused foreach ops.

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
"""

from __future__ import annotations

import torch


def _state_tensors(optimizer: torch.optim.Optimizer, params: list, name: str) -> list[torch.Tensor]:
    """The per-parameter state tensor ``name`` of each param, created as zeros on first use."""
    tensors = []
    for p in params:
        state = optimizer.state[p]
        if name not in state:
            state[name] = torch.zeros_like(p)
        tensors.append(state[name])
    return tensors


class NeonRMSprop(torch.optim.Optimizer):
    """Neon's RMSProp (see module docstring). lr: step size; decay: rho of the running mean."""

    def __init__(self, params, lr: float = 0.00025, decay: float = 0.95, eps: float = 1e-6):
        super().__init__(params, dict(lr=lr, decay=decay, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            squares = _state_tensors(self, params, "square_avg")
            decay, eps, lr = group["decay"], group["eps"], group["lr"]
            torch._foreach_mul_(squares, decay)
            torch._foreach_addcmul_(squares, grads, grads, value=1 - decay)
            denom = torch._foreach_add(squares, eps)
            torch._foreach_sqrt_(denom)
            torch._foreach_add_(denom, eps)
            torch._foreach_addcdiv_(params, grads, denom, value=-lr)


class GravesRMSprop(torch.optim.Optimizer):
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
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = torch._foreach_mul([p.grad for p in params], group["grad_scale"])
            means = _state_tensors(self, params, "grad_avg")
            squares = _state_tensors(self, params, "square_avg")
            decay = group["decay"]
            torch._foreach_mul_(means, decay)
            torch._foreach_add_(means, grads, alpha=1 - decay)
            torch._foreach_mul_(squares, decay)
            torch._foreach_addcmul_(squares, grads, grads, value=1 - decay)
            denom = torch._foreach_addcmul(squares, means, means, value=-1)
            torch._foreach_add_(denom, group["eps"])
            torch._foreach_sqrt_(denom)
            torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])


def make_optimizer(name: str, params, *, learning_rate: float, decay_rate: float,
                   rmsprop_variant: str = "standard", batch_size: int = 32,
                   capturable: bool = False, adam_epsilon: float = 1e-8) -> torch.optim.Optimizer:
    """The optimizer named by --optimizer: rmsprop (in --rmsprop_variant form), adam or adadelta.

    Adam uses learning_rate with PyTorch's defaults otherwise (fused on the CPU); Adadelta, as in the original,
    uses decay_rate as rho and ignores learning_rate (step size 1). capturable: keep Adam's and
    Adadelta's step counts on the device so that a CUDA graph can hold the step (the two
    RMSProps here always can).

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
        # The fused kernel on the CPU: one pass over all parameters, several times faster than the
        # per-parameter loop PyTorch defaults to there (bench/numerics.py).
        fused = not capturable and all(p.device.type == "cpu" for p in params)
        return torch.optim.Adam(params, lr=learning_rate, eps=adam_epsilon, capturable=capturable, fused=fused or None)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=1.0, rho=decay_rate, eps=1e-6, capturable=capturable)
    raise ValueError(f"unknown optimizer {name!r}")
