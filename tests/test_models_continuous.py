"""Continuous AR models: exact NLLs, CDFs and quantiles, causality, AR(p) least squares, forecasts."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arcourse import evaluate, seed_everything, train
from arcourse.data import GarchProcess, series_batches
from arcourse.models import (
    ContinuousAR,
    ContinuousARConfig,
    GaussianHead,
    GaussianOutput,
    LinearAR,
    StudentTHead,
    StudentTOutput,
    forecast,
    gaussian_nll,
    student_t_nll,
)
from arcourse.metrics import chi_square_test

finite = st.floats(-50, 50, allow_nan=False)
positive = st.floats(0.01, 20, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(finite, finite, positive)
def test_gaussian_nll_is_normal_log_prob(x, loc, scale):
    x, loc, scale = (torch.tensor(v, dtype=torch.float64) for v in (x, loc, scale))
    want = -torch.distributions.Normal(loc, scale).log_prob(x)
    torch.testing.assert_close(gaussian_nll(x, loc, scale), want)
    # the formula of the lecture, 0.5 (log 2 pi + log s^2 + (x - m)^2 / s^2)
    by_hand = 0.5 * (math.log(2 * math.pi) + math.log(scale**2) + (x - loc) ** 2 / scale**2)
    torch.testing.assert_close(gaussian_nll(x, loc, scale), by_hand)


@settings(max_examples=80, deadline=None)
@given(finite, finite, positive, st.floats(0.1, 200, allow_nan=False))
def test_student_t_nll_is_student_t_log_prob(x, loc, scale, df):
    x, loc, scale, df = (torch.tensor(v, dtype=torch.float64) for v in (x, loc, scale, df))
    want = -torch.distributions.StudentT(df, loc, scale).log_prob(x)
    torch.testing.assert_close(student_t_nll(x, loc, scale, df), want)


def test_nlls_broadcast_and_reject_bad_parameters():
    x = torch.randn(4, 7)
    assert gaussian_nll(x, torch.zeros(7), torch.ones(1)).shape == (4, 7)
    assert student_t_nll(x, 0.0 * x, torch.ones(4, 1), torch.tensor(3.0)).shape == (4, 7)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="scale must be > 0"):
            gaussian_nll(x, x, torch.full_like(x, bad))
        with pytest.raises(ValueError, match="scale must be > 0"):
            student_t_nll(x, x, torch.full_like(x, bad), torch.ones_like(x))
        with pytest.raises(ValueError, match="df must be > 0"):
            student_t_nll(x, x, torch.ones_like(x), torch.full_like(x, bad))


def test_gaussian_cdf_and_quantile_match_torch():
    loc, scale = torch.randn(50, dtype=torch.float64), torch.rand(50, dtype=torch.float64) + 0.1
    out, normal = GaussianOutput(loc, scale), torch.distributions.Normal(loc, scale)
    x = torch.randn(50, dtype=torch.float64) * 3
    torch.testing.assert_close(out.cdf(x), normal.cdf(x))
    prob = torch.rand(50, dtype=torch.float64) * 0.98 + 0.01
    torch.testing.assert_close(out.quantile(prob), normal.icdf(prob))


def test_student_t_cdf_and_quantile_match_scipy():
    stats = pytest.importorskip("scipy.stats", reason="scipy (installed with scikit-learn) gives reference t CDFs")
    df = torch.tensor([1.0, 2.0, 2.5, 4.0, 7.0, 30.0], dtype=torch.float64)[:, None]  # (6, 1)
    z = torch.linspace(-40, 40, 81, dtype=torch.float64)  # (81,)
    out = StudentTOutput(torch.tensor(0.5, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64), df)
    got = out.cdf(0.5 + 2.0 * z)  # (6, 81)
    torch.testing.assert_close(got, torch.from_numpy(stats.t.cdf(z.numpy(), df.numpy())), atol=1e-8, rtol=0)
    prob = torch.tensor([0.001, 0.05, 0.3, 0.5, 0.8, 0.975, 0.999], dtype=torch.float64)
    want = 0.5 + 2.0 * torch.from_numpy(stats.t.ppf(prob.numpy(), df.numpy()))
    torch.testing.assert_close(out.quantile(prob.expand(6, -1)), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("out", [
    GaussianOutput(torch.tensor([0.0, 1.0, -3.0]), torch.tensor([1.0, 0.5, 4.0])),
    StudentTOutput(torch.tensor([0.0, 1.0, -3.0]), torch.tensor([1.0, 0.5, 4.0]), torch.tensor([2.2, 5.0, 40.0])),
])
def test_quantile_inverts_cdf_intervals_cover_and_samples_follow(out):
    prob = torch.tensor([0.02, 0.5, 0.9])
    torch.testing.assert_close(out.cdf(out.quantile(prob)), prob, atol=1e-5, rtol=0)
    low, high = out.interval(0.8)
    torch.testing.assert_close(out.cdf(high) - out.cdf(low), torch.full((3,), 0.8), atol=1e-5, rtol=0)
    # samples: their CDF values (the probability integral transform) are uniform
    many = type(out)(*(field.expand(10_000, 3) for field in out))
    draws = many.sample(generator=torch.Generator().manual_seed(0))  # (10000, 3)
    torch.testing.assert_close(many.sample(generator=torch.Generator().manual_seed(0)), draws)
    pit = many.cdf(draws)
    for column in range(3):
        counts = torch.histc(pit[:, column], bins=10, min=0, max=1)
        assert chi_square_test(counts, torch.full((10,), 0.1))[1] > 1e-3
    with pytest.raises(ValueError, match="0 < level < 1"):
        out.interval(1.0)
    with pytest.raises(ValueError, match="prob must lie in"):
        out.quantile(torch.tensor([0.0, 0.5, 0.5]))


def test_heads_map_raw_outputs_to_valid_parameters():
    raw = torch.randn(2, 5, 3) * 10
    gauss = GaussianHead(min_scale=0.01)(raw[..., :2])
    assert gauss.loc.shape == (2, 5) and bool((gauss.scale >= 0.01).all())
    torch.testing.assert_close(gauss.scale, torch.nn.functional.softplus(raw[..., 1]) + 0.01)
    student = StudentTHead(min_scale=0.01, min_df=2.0)(raw)
    assert bool((student.df >= 2).all()) and bool((student.scale > 0).all())
    torch.testing.assert_close(student.loc, raw[..., 0])


@pytest.mark.parametrize("head, fields", [("gaussian", 2), ("student_t", 3)])
def test_model_shapes_and_causal_window(head, fields):
    torch.manual_seed(0)
    config = ContinuousARConfig.tiny(head=head)
    model = ContinuousAR(config)
    x = torch.randn(3, 20, requires_grad=True)
    out = model(x)
    assert len(out) == fields and all(f.shape == (3, 20) for f in out)
    assert out.last().loc.shape == (3,)
    # the prediction at step t reads exactly x_{t-p+1..t}: gradient zero elsewhere
    t, p = 12, config.context_len
    grad = torch.autograd.grad(out.loc[1, t] + out.scale[1, t], x)[0]
    assert bool((grad[1, t + 1:] == 0).all()) and bool((grad[1, : t - p + 1] == 0).all())
    assert bool((grad[1, t - p + 1: t + 1] != 0).all()) and bool((grad[[0, 2]] == 0).all())
    # perturbing the future leaves earlier predictions unchanged
    y = x.detach().clone()
    y[:, t + 1:] += 5.0
    torch.testing.assert_close(model(y).loc[:, : t + 1], out.loc[:, : t + 1].detach())
    with pytest.raises(ValueError, match="shape \\(B, T\\)"):
        model(torch.randn(20))


@pytest.mark.parametrize("kwargs, message", [
    (dict(context_len=0), "context_len >= 1"),
    (dict(d_hidden=0), "d_hidden >= 1"),
    (dict(n_layers=-1), "n_layers >= 0"),
    (dict(head="laplace"), "head in"),
    (dict(min_scale=0.0), "min_scale > 0"),
    (dict(min_df=0.0), "min_df > 0"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContinuousARConfig(**kwargs)


def test_config_rejects_wrong_types():
    with pytest.raises(TypeError, match="d_hidden"):
        ContinuousARConfig(d_hidden=2.5)


def _ar2_series(n, seed):
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, generator=gen, dtype=torch.float64) * 0.5
    x = torch.zeros(n, dtype=torch.float64)
    for t in range(2, n):
        x[t] = 0.3 + 0.6 * x[t - 1] - 0.2 * x[t - 2] + noise[t]
    return x


def test_linear_ar_recovers_coefficients_and_matches_least_squares():
    x = _ar2_series(20_000, seed=0)
    model = LinearAR.fit(x, order=2)
    torch.testing.assert_close(model.coef, torch.tensor([0.6, -0.2]), atol=0.02, rtol=0)
    assert float(model.intercept) == pytest.approx(0.3, abs=0.02) and float(model.scale) == pytest.approx(0.5, abs=0.01)
    design = np.column_stack([x[1:-1].numpy(), x[:-2].numpy(), np.ones(len(x) - 2)])
    solution, *_ = np.linalg.lstsq(design, x[2:].numpy(), rcond=None)
    torch.testing.assert_close(model.coef.double(), torch.from_numpy(solution[:2]), atol=1e-5, rtol=0)
    # the forward pass is the same linear prediction, and the MLE noise scale makes the mean
    # training NLL exactly 0.5 (log(2 pi sigma^2) + 1)
    out = model(x[None, :-1].float())  # position t predicts x_{t+1}; full windows from t = 1
    torch.testing.assert_close(out.loc[0, 1:].double(), torch.from_numpy(design @ solution), atol=1e-4, rtol=0)
    mean_nll = float(out.nll(x[None, 1:].float())[0, 1:].double().mean())
    assert mean_nll == pytest.approx(0.5 * (math.log(2 * math.pi * float(model.scale) ** 2) + 1), abs=1e-4)


def test_linear_ar_bad_arguments():
    with pytest.raises(ValueError, match="order must be an int >= 1"):
        LinearAR.fit(torch.randn(100), 0)
    with pytest.raises(ValueError, match="at least 2 \\* order \\+ 2"):
        LinearAR.fit(torch.randn(5), 3)
    with pytest.raises(ValueError, match="scale must be > 0"):
        LinearAR(torch.ones(2), 0.0, 0.0)


def test_forecast_paths_follow_the_ar_model():
    model = LinearAR(torch.tensor([0.8]), 0.5, 0.3)  # x_{t+1} = 0.5 + 0.8 x_t + N(0, 0.09)
    paths = forecast(model, torch.tensor([1.0, 2.0]), horizon=5, n_paths=20_000,
                     generator=torch.Generator().manual_seed(0))
    assert paths.shape == (20_000, 5)
    mean, variance, want_var = 2.0, 0.0, []
    for h in range(5):
        mean, variance = 0.5 + 0.8 * mean, 0.64 * variance + 0.09
        want_var.append(variance)
        assert float(paths[:, h].mean()) == pytest.approx(mean, abs=4 * math.sqrt(variance / 20_000))
    torch.testing.assert_close(paths.var(0), torch.tensor(want_var), rtol=0.05, atol=0)
    again = forecast(model, torch.tensor([1.0, 2.0]), 5, 20_000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, paths)
    with pytest.raises(ValueError, match="horizon >= 1"):
        forecast(model, torch.tensor([1.0]), 0, 3)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        forecast(model, torch.ones(2, 2), 3, 3)


@pytest.fixture
def one_thread():
    """A tiny model: waking a second CPU thread for each op costs more than the work itself
    on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_student_t_model_learns_garch_data_beyond_linear_ar(one_thread):
    """A few hundred CPU steps: the tiny Student-t model beats the AR(p) Gaussian fit."""
    seed_everything(0)
    process = GarchProcess()
    train_x, test_x = process.sample(8_000, seed=0).values, process.sample(8_000, seed=1).values
    model = ContinuousAR(ContinuousARConfig.tiny(head="student_t"))
    skip = model.context_len - 1

    def loss_fn(m, batch):
        nll = m(batch[0]).nll(batch[1])[:, skip:]
        return nll.sum(), torch.tensor(nll.numel())

    test = [(test_x[None, :-1], test_x[None, 1:])]
    train(model, series_batches(train_x, 64, 32, seed=0), 150, lr=3e-3, loss_fn=loss_fn, progress=False)
    baseline = evaluate(LinearAR.fit(train_x, model.context_len), test, loss_fn)
    assert evaluate(model, test, loss_fn) < baseline - 0.05
    paths = forecast(model, test_x[:50], horizon=4, n_paths=8, generator=torch.Generator().manual_seed(1))
    assert paths.shape == (8, 4) and bool(torch.isfinite(paths).all())
