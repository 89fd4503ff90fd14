"""The tiny diffusion model: schedule, forward-noising identity, reverse step, validation."""
import pytest
import torch

from arcourse.models.diffusion import DiffusionConfig, Denoiser, denoising_loss, noise_schedule, reverse_parameters


def test_schedule_ends_in_noise():
    sched = noise_schedule(DiffusionConfig(n_steps=50))
    assert sched["alpha_bars"].shape == (50,)
    assert (sched["alpha_bars"][1:] < sched["alpha_bars"][:-1]).all()
    assert float(sched["alpha_bars"][-1]) < 0.01               # x_T is (nearly) pure noise
    torch.testing.assert_close(sched["alphas"], 1 - sched["betas"])


def test_reverse_mean_recovers_x0_from_the_true_noise():
    """If the network returned the true eps, the DDPM mean at t = 0 is x0 exactly."""
    config = DiffusionConfig(data_dim=2, n_steps=10)
    model = Denoiser(config)
    x0, eps = torch.randn(4, 2), torch.randn(4, 2)
    abar = model.alpha_bars[0]
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    model.forward = lambda x, t: eps  # noqa: E731 — an oracle in place of the network
    mean, std = reverse_parameters(model, x_t, 0)
    torch.testing.assert_close(mean, x0)
    assert std == 0.0
    _, std = reverse_parameters(model, x_t, 5)
    assert abs(std - float(model.betas[5].sqrt())) < 1e-7


def test_loss_falls_on_a_point_mass():
    torch.manual_seed(0)
    model = Denoiser(DiffusionConfig(data_dim=2, n_steps=20, hidden=32, n_hidden_layers=2))
    x0 = torch.tensor([[1.0, -1.0]]).expand(128, 2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(200):
        loss = denoising_loss(model, x0, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert sum(losses[:10]) / 10 > 0.8 and sum(losses[-20:]) / 20 < 0.3


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="beta_start"):
        DiffusionConfig(beta_start=0.3, beta_end=0.2)
    model = Denoiser(DiffusionConfig(n_steps=10))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        model(torch.zeros(2, 2), torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="x_t"):
        model(torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="n_steps"):
        reverse_parameters(model, torch.zeros(2, 2), 10)
    with pytest.raises(TypeError, match="x_t"):
        model(torch.zeros(2, 2, dtype=torch.long), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(2, 2), torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="beta_end"):
        DiffusionConfig(beta_end="0.2")
