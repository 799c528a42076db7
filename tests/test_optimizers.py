"""The two RMSProp forms, one hand-computed step each."""

import math

import numpy as np

import torch

from simple_dqn.optimizers import GravesRMSprop, NeonRMSprop


def test_graves_rmsprop_hand_computed_step():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = GravesRMSprop([w], lr=0.1, decay=0.95, eps=0.01, grad_scale=2.0)
    w.grad = torch.tensor([0.5, -1.0])
    opt.step()
    g = np.array([1.0, -2.0])  # scaled by grad_scale
    m = 0.05 * g
    v = 0.05 * g ** 2
    expected = np.array([1.0, -2.0]) - 0.1 * g / np.sqrt(v - m ** 2 + 0.01)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)
    # A second step uses the running means.
    w.grad = torch.tensor([0.25, 0.0])
    opt.step()
    g2 = np.array([0.5, 0.0])
    m = 0.95 * m + 0.05 * g2
    v = 0.95 * v + 0.05 * g2 ** 2
    expected = expected - 0.1 * g2 / np.sqrt(v - m ** 2 + 0.01)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)


def test_neon_rmsprop_hand_computed_step():
    w = torch.tensor([1.0], requires_grad=True)
    opt = NeonRMSprop([w], lr=0.01, decay=0.9, eps=1e-6)
    w.grad = torch.tensor([2.0])
    opt.step()
    v = 0.1 * 4.0
    assert math.isclose(w.item(), 1.0 - 0.01 * 2.0 / (math.sqrt(v + 1e-6) + 1e-6), rel_tol=1e-6)
