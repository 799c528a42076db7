"""Noisy networks: a linear layer with learned, factorised Gaussian noise on its weights (Fortunato et al. 2018,
"Noisy Networks for Exploration", section 3, factorised Gaussian noise).

y = (mu_w + sigma_w * eps_w) x + mu_b + sigma_b * eps_b, with eps_w = f(eps_out) f(eps_in)^T and eps_b = f(eps_out),
f(x) = sgn(x) sqrt(|x|), eps_in (p,) and eps_out (q,) standard normal, drawn afresh at every forward pass
that samples. Initialisation (section 3.2): mu uniform in +-1/sqrt(p), sigma = sigma_0 / sqrt(p), sigma_0 = 0.5.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SIGMA_0 = 0.5  # Fortunato et al. 2018, section 3.2, for factorised noise


def _scaled_noise(size: int, like: torch.Tensor) -> torch.Tensor:
    noise = torch.randn(size, device=like.device, dtype=like.dtype)
    return noise.sign() * noise.abs().sqrt()


class NoisyLinear(nn.Module):
    """A linear layer (in_features -> out_features) with factorised Gaussian noise.

    The noise is drawn at every forward pass in training mode, or in evaluation mode while
    ``sample`` is True (acting in a train phase); otherwise the layer is the mean weights' linear map.
    Input (..., in_features), output (..., out_features), in the parameters' dtype.
    """

    def __init__(self, in_features: int, out_features: int, sigma_0: float = SIGMA_0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma_0 * bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma_0 * bound))
        self.sample = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training or self.sample):
            return F.linear(x, self.weight_mu, self.bias_mu)
        eps_in = _scaled_noise(self.in_features, self.weight_mu)
        eps_out = _scaled_noise(self.out_features, self.weight_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(eps_out, eps_in)
        bias = self.bias_mu + self.bias_sigma * eps_out
        return F.linear(x, weight, bias)


def set_sampling(network: nn.Module, sample: bool) -> None:
    """Turn noise on or off for the network's noisy layers outside training mode (acting)."""
    for module in network.modules():
        if isinstance(module, NoisyLinear):
            module.sample = sample
