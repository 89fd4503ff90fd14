"""The GARCH(1,1) series: its recursion, its tails and clustering, its exact conditional NLL."""
import math

import pytest
import torch

from arcourse.data import GarchProcess, SeriesSample, series_batches
from arcourse.models.continuous import student_t_nll


def test_sample_is_seeded_and_follows_the_recursion():
    process = GarchProcess(omega=0.1, alpha=0.1, beta=0.85, df=6.0, mean=0.2)
    sample = process.sample(2_000, seed=3)
    assert isinstance(sample, SeriesSample)
    assert sample.values.shape == sample.volatility.shape == (2_000,) and sample.values.dtype == torch.float32
    torch.testing.assert_close(process.sample(2_000, seed=3).values, sample.values)
    assert not torch.equal(process.sample(2_000, seed=4).values, sample.values)
    x, sigma = sample.values.double(), sample.volatility.double()
    variance = process.omega + process.alpha * (x[:-1] - process.mean) ** 2 + process.beta * sigma[:-1] ** 2
    torch.testing.assert_close(sigma[1:] ** 2, variance, rtol=1e-5, atol=1e-6)


def test_heavy_tails_and_volatility_clustering():
    process = GarchProcess()
    x = process.sample(100_000, seed=0)
    values, eps = x.values.double(), (x.values / x.volatility).double()
    assert float(eps.var()) == pytest.approx(1.0, abs=0.05)  # innovations of unit variance
    assert float(values.var()) == pytest.approx(process.stationary_variance, rel=0.15)
    kurtosis = float(((values - values.mean()) ** 4).mean() / values.var() ** 2)
    assert kurtosis > 5  # a Gaussian has 3
    # returns are uncorrelated, but their squares are not: calm and wild days cluster
    def autocorrelation(series, lag):
        centred = series - series.mean()
        return float((centred[:-lag] * centred[lag:]).mean() / centred.var())
    assert abs(autocorrelation(values, 1)) < 0.02
    assert autocorrelation(values**2, 1) > 0.1 and autocorrelation(values**2, 10) > 0.05
    # Student-t innovations: more 4-sigma events than Gaussian ones (6e-5 of them)
    gaussian_like = GarchProcess(df=200.0).sample(100_000, seed=0)
    tails = lambda s: float(((s.values / s.volatility).abs() > 4).double().mean())  # noqa: E731
    assert tails(x) > 5 * tails(gaussian_like)


def test_conditional_nll_is_the_student_t_density_and_the_best_on_average():
    process = GarchProcess(mean=0.1)
    sample = process.sample(20_000, seed=1)
    nll = process.conditional_nll(sample)
    scale = sample.volatility * math.sqrt((process.df - 2) / process.df)
    torch.testing.assert_close(nll, student_t_nll(sample.values, torch.tensor(0.1), scale,
                                                  torch.tensor(process.df)), rtol=1e-5, atol=1e-5)
    # a Gaussian with the true sigma_t, or one constant Gaussian, does worse on average
    gaussian = torch.distributions.Normal(0.1, sample.volatility)
    assert float(nll.mean()) < float(-gaussian.log_prob(sample.values).mean()) - 0.02
    constant = torch.distributions.Normal(sample.values.mean(), sample.values.std())
    assert float(nll.mean()) < float(-constant.log_prob(sample.values).mean()) - 0.05


@pytest.mark.parametrize("kwargs, message", [
    (dict(omega=0.0), "omega > 0"),
    (dict(alpha=-0.1), "alpha >= 0"),
    (dict(alpha=0.5, beta=0.5), "alpha \\+ beta < 1"),
    (dict(df=2.0), "df > 2"),
    (dict(mean=float("nan")), "finite number mean"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GarchProcess(**kwargs)


def test_a_parameter_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="beta='0.9'"):
        GarchProcess(beta="0.9")


def test_bad_sample_arguments_are_named():
    with pytest.raises(ValueError, match="length"):
        GarchProcess().sample(0)
    with pytest.raises(ValueError, match="burn_in"):
        GarchProcess().sample(10, burn_in=-1)


def test_series_batches_are_shifted_seeded_windows():
    values = torch.arange(100, dtype=torch.float32) / 10
    inputs, targets = series_batches(values, 16, 8, seed=2)()
    assert inputs.shape == targets.shape == (8, 16) and inputs.dtype == torch.float32
    torch.testing.assert_close(targets[:, :-1], inputs[:, 1:])
    torch.testing.assert_close(targets - inputs, torch.full_like(inputs, 0.1))
    torch.testing.assert_close(series_batches(values, 16, 8, seed=2)()[0], inputs)
    with pytest.raises(ValueError, match="1-D float"):
        series_batches(torch.arange(100), 16, 8)
    with pytest.raises(ValueError, match="longer than context_len"):
        series_batches(values, 100, 8)
