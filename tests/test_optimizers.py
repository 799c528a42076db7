"""The optimizers: hand-computed steps, torch.optim's Adam and Adadelta as references, the saved state."""

import math

import numpy as np
import pytest
import torch

from simple_dqn.optimizers import Adadelta, Adam, GravesRMSprop, NeonRMSprop


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


def test_adam_hand_computed_step_and_torch_adam_over_steps():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = Adam([w], lr=0.1, eps=1e-8)
    w.grad = torch.tensor([0.5, -4.0])
    opt.step()
    # Step 1: the bias-corrected moments are g and g^2, so each weight moves by lr * sign(g).
    np.testing.assert_allclose(w.detach().numpy(), [0.9, -1.9], rtol=1e-6)
    # Several steps on a channels-last convolution weight agree with torch.optim.Adam's.
    torch.manual_seed(0)
    ours = torch.randn(8, 4, 3, 3).to(memory_format=torch.channels_last).requires_grad_()
    theirs = ours.detach().clone().requires_grad_()
    mine, reference = Adam([ours], lr=0.01, eps=1e-4), torch.optim.Adam([theirs], lr=0.01, eps=1e-4)
    for _ in range(3):
        grad = torch.randn(8, 4, 3, 3)
        ours.grad, theirs.grad = grad.clone().to(memory_format=torch.channels_last), grad.clone()
        mine.step()
        reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-5, atol=1e-6)
    assert float(mine.state[ours]["step"]) == 3.0


def test_adadelta_agrees_with_torch_adadelta():
    torch.manual_seed(1)
    ours = torch.randn(5, requires_grad=True)
    theirs = ours.detach().clone().requires_grad_()
    mine, reference = Adadelta([ours], rho=0.9, eps=1e-6), torch.optim.Adadelta([theirs], rho=0.9, eps=1e-6)
    for _ in range(3):
        grad = torch.randn(5)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        mine.step()
        reference.step()
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=1e-5, atol=1e-7)


def test_state_dict_round_trip_and_refusals():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = Adam([w], lr=0.01)
    w.grad = torch.tensor([1.0, -1.0])
    opt.step()
    saved = opt.state_dict()
    assert saved["param_groups"] == [dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, params=[0])]
    fresh = Adam([torch.tensor([1.0, 2.0], requires_grad=True)], lr=0.5)
    fresh.load_state_dict(dict(state=saved["state"], param_groups=[dict(saved["param_groups"][0], betas=[0.9, 0.999])]))
    assert fresh.param_groups[0]["lr"] == 0.01 and fresh.param_groups[0]["betas"] == (0.9, 0.999)
    assert float(next(iter(fresh.state.values()))["step"]) == 1.0
    with pytest.raises(ValueError, match="number of parameters"):
        Adam([w, torch.zeros(1, requires_grad=True)]).load_state_dict(saved)
    with pytest.raises(ValueError, match="another optimizer"):
        NeonRMSprop([w]).load_state_dict(saved)
