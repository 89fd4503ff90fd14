"""The VAE: shapes, ELBO <= IWAE bound, the bound tightening with k, exactness in a Gaussian case."""
import math

import pytest
import torch

from arcourse.models.vae import VAE, VAEConfig, elbo, iwae_bound


def test_shapes():
    vae = VAE(VAEConfig(data_dim=3, latent_dim=2, hidden=8))
    mean, log_var = vae(torch.randn(5, 3))
    assert mean.shape == log_var.shape == (5, 2)
    assert [t.shape for t in vae.decode(torch.randn(4, 5, 2))] == [(4, 5, 3), (4, 5, 3)]
    assert elbo(vae, torch.randn(5, 3)).shape == iwae_bound(vae, torch.randn(5, 3), 7).shape == (5,)


def test_elbo_is_below_the_iwae_bound_which_rises_with_k():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(data_dim=2, latent_dim=2, hidden=16))
    x = torch.randn(64, 2) * 2
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        e = elbo(vae, x, n_samples=500, generator=gen).mean()
        bounds = [iwae_bound(vae, x, k, generator=gen).mean() for k in (1, 10, 500)]
    assert abs(float(bounds[0] - e)) < 0.1 * abs(float(e))   # k = 1 estimates the ELBO
    assert float(e) < float(bounds[1]) < float(bounds[2])


def test_bounds_are_exact_when_the_posterior_is_the_prior():
    """A decoder that ignores z with zero weights: p(x) = N(x; b_mean, exp(b_log_var)), and an
    encoder that outputs the prior gives q = p(z | x): every bound equals log p(x)."""
    vae = VAE(VAEConfig(data_dim=2, latent_dim=1, hidden=4, n_hidden_layers=1))
    with torch.no_grad():
        for p in vae.parameters():
            p.zero_()
        vae.decoder[-1].bias.copy_(torch.tensor([0.5, -1.0, 0.2, 0.4]))  # means then log-variances
    x = torch.randn(6, 2)
    mean, log_var = torch.tensor([0.5, -1.0]), torch.tensor([0.2, 0.4])
    exact = -0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 / log_var.exp()).sum(-1)
    torch.testing.assert_close(elbo(vae, x, 3), exact)
    torch.testing.assert_close(iwae_bound(vae, x, 9), exact)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="latent_dim"):
        VAEConfig(latent_dim=0)
    with pytest.raises(TypeError, match="hidden"):
        VAEConfig(hidden=64.0)
    vae = VAE(VAEConfig())
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        vae(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="floating"):
        vae(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="n_samples"):
        iwae_bound(vae, torch.zeros(3, 2), 0)
