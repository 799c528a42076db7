"""Distributional DQN, C51: the support, the projected target distribution and the cross-entropy loss.

Bellemare, Dabney and Munos 2017, "A Distributional Perspective on Reinforcement Learning",
Algorithm 1. The network gives, per action, a categorical distribution over a fixed support of
num_atoms values z_i = v_min + i * delta_z, delta_z = (v_max - v_min) / (num_atoms - 1); its Q-value
is the expectation sum_i p_i z_i. The target of a transition is the distribution of
r + gamma^n * z (each atom of the target network's next-state distribution moved and shrunk),
projected back onto the support; the loss is the cross-entropy between it and the online
network's distribution for the action taken.
"""

from __future__ import annotations

import torch


def make_support(v_min: float, v_max: float, num_atoms: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The atoms z_i = v_min + i * (v_max - v_min) / (num_atoms - 1), shape (num_atoms,).

    Raises:
        ValueError: num_atoms < 2 or v_min >= v_max.
    """
    if num_atoms < 2:
        raise ValueError(f"a support needs at least 2 atoms, not {num_atoms}")
    if not v_min < v_max:
        raise ValueError(f"v_min ({v_min}) must be below v_max ({v_max})")
    return torch.linspace(v_min, v_max, num_atoms, device=device, dtype=dtype)


def project_distribution(next_probs: torch.Tensor, rewards: torch.Tensor, terminals: torch.Tensor,
                         discount: float, support: torch.Tensor) -> torch.Tensor:
    """The distribution of r + discount * Z' projected onto the support (Bellemare et al. 2017, Algorithm 1).

    Each atom z_j of the next state's distribution moves to Tz_j = r + discount * z_j (just r
    where the transition is terminal), clipped to [v_min, v_max]; its probability is split between
    the two atoms around Tz_j in proportion to closeness (all of it to an atom that Tz_j hits).

    Shapes: next_probs (B, N), the target network's distribution of the next state's chosen
    action; rewards (B,) (the n-step return for n > 1, with discount = gamma^n); terminals bool
    (B,); support (N,), evenly spaced. Returns (B, N), each row summing to 1.
    """
    num_atoms = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta_z = (v_max - v_min) / (num_atoms - 1)
    alive = (~terminals).to(next_probs.dtype)
    moved = rewards[:, None] + discount * alive[:, None] * support[None, :]
    position = (moved.clamp(v_min, v_max) - v_min) / delta_z  # in [0, N - 1]
    lower = position.floor().clamp(0, num_atoms - 1)
    upper_share = position - lower  # 0 where Tz_j falls on an atom
    lower = lower.long()
    upper = (lower + 1).clamp(max=num_atoms - 1)  # at v_max the share above is 0
    target = torch.zeros_like(next_probs)
    target.scatter_add_(1, lower, next_probs * (1.0 - upper_share))
    target.scatter_add_(1, upper, next_probs * upper_share)
    return target


def cross_entropy(target: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy -sum_i target_i * log p_i (Bellemare et al. 2017, Algorithm 1's loss).

    Shapes: target, log_probs (B, N). Returns (B,). Rainbow (Hessel et al. 2018) uses it as the
    transition's priority in prioritized replay.
    """
    return -(target * log_probs).sum(dim=1)
