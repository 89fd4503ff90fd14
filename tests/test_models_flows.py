"""MADE masks, autoregressive flows (MAF, IAF): causality, inverses, log-determinants, normalisation."""
import math

import pytest
import torch

from arcourse.models.flows import MADE, AutoregressiveFlow, FlowConfig, MADEConfig, made_masks


def test_made_output_i_depends_only_on_inputs_before_i():
    torch.manual_seed(0)
    made = MADE(MADEConfig(n_inputs=5, n_params=3, hidden=16, n_hidden_layers=2))
    x = torch.randn(1, 5, requires_grad=True)
    out = made(x)
    assert out.shape == (1, 5, 3)
    for i in range(5):
        (grad,) = torch.autograd.grad(out[0, i].sum(), x, retain_graph=True)
        assert (grad[0, i:] == 0).all()                       # never itself or later inputs
        if i > 0:
            assert (grad[0, :i] != 0).any()                   # and it does use the past


def test_made_masks_connect_every_output_but_the_first():
    masks = made_masks(4, (8, 8), n_params=2)
    path = masks[2] @ masks[1] @ masks[0]                      # (D*P, D): number of paths
    path = path.view(4, 2, 4)
    assert (path[0] == 0).all()
    for i in range(1, 4):
        assert (path[i, :, i:] == 0).all() and (path[i, :, :i] > 0).all()


@pytest.mark.parametrize("direction", ["maf", "iaf"])
def test_flow_inverts_and_log_dets_cancel(direction):
    torch.manual_seed(1)
    flow = AutoregressiveFlow(FlowConfig(n_inputs=3, n_layers=3, hidden=16, direction=direction)).double()
    x = torch.randn(7, 3, dtype=torch.float64)
    z, ld_forward = flow.to_noise(x)
    x_back, ld_back = flow.to_data(z)
    torch.testing.assert_close(x_back, x, atol=1e-10, rtol=0)
    torch.testing.assert_close(ld_forward, -ld_back, atol=1e-10, rtol=0)


@pytest.mark.parametrize("direction", ["maf", "iaf"])
def test_log_det_is_the_log_det_of_the_jacobian(direction):
    torch.manual_seed(2)
    flow = AutoregressiveFlow(FlowConfig(n_inputs=3, n_layers=1, hidden=16, direction=direction)).double()
    x = torch.randn(1, 3, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: flow.to_noise(v[None])[0][0], x[0])  # (3, 3)
    assert (jac.triu(1).abs() < 1e-12).all()                  # one layer: triangular
    _, log_det = flow.to_noise(x)
    torch.testing.assert_close(log_det[0], jac.det().abs().log(), atol=1e-10, rtol=0)
    torch.testing.assert_close(log_det[0], jac.diagonal().abs().log().sum(), atol=1e-10, rtol=0)


def test_density_integrates_to_one_on_a_grid():
    torch.manual_seed(3)
    flow = AutoregressiveFlow(FlowConfig(n_inputs=2, n_layers=2, hidden=8)).double()
    with torch.no_grad():  # keep the random flow close to the identity, so the grid holds its mass
        for p in flow.parameters():
            p.mul_(0.3)
    edge = torch.linspace(-7, 7, 351, dtype=torch.float64)
    grid = torch.cartesian_prod(edge, edge)
    cell = float(edge[1] - edge[0]) ** 2
    with torch.no_grad():
        total = flow.log_prob(grid).exp().sum() * cell
    assert abs(float(total) - 1) < 1e-3


def test_a_flow_with_zero_weights_is_the_standard_normal():
    flow = AutoregressiveFlow(FlowConfig(n_inputs=2, n_layers=2, hidden=8))
    with torch.no_grad():
        for p in flow.parameters():
            p.zero_()
    x = torch.randn(4, 2)
    expected = -0.5 * (x**2).sum(-1) - math.log(2 * math.pi)
    torch.testing.assert_close(flow.log_prob(x), expected)


def test_tiny_overfit():
    torch.manual_seed(4)
    x = torch.randn(256, 2) * torch.tensor([0.1, 2.0]) + torch.tensor([1.0, -1.0])
    flow = AutoregressiveFlow(FlowConfig(n_inputs=2, n_layers=2, hidden=16))
    opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
    with torch.no_grad():
        start = float(-flow.log_prob(x).mean())
    for _ in range(150):
        loss = -flow.log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    true_nll = 0.5 * 2 * (1 + math.log(2 * math.pi)) + math.log(0.1 * 2.0)  # entropy of the Gaussian
    assert float(loss) < start - 1 and float(loss) < true_nll + 0.2


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="direction"):
        FlowConfig(direction="forward")
    with pytest.raises(ValueError, match="n_inputs"):
        MADEConfig(n_inputs=0)
    with pytest.raises(TypeError, match="n_layers"):
        FlowConfig(n_layers=2.0)
    with pytest.raises(TypeError, match="MADEConfig"):
        MADE(FlowConfig())
    made = MADE(MADEConfig(n_inputs=3))
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        made(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="floating"):
        made(torch.zeros(2, 3, dtype=torch.long))
    flow = AutoregressiveFlow(FlowConfig(n_inputs=2))
    with pytest.raises(ValueError, match="z must"):
        flow.to_data(torch.zeros(2, 3))


def test_every_family_config_has_the_one_preset_signature():
    from arcourse.models.diffusion import DiffusionConfig
    from arcourse.models.vae import VAEConfig

    for config in (MADEConfig, FlowConfig, VAEConfig, DiffusionConfig):
        assert config.small() == config()                       # the lecture's size is the default
        tiny = config.tiny(hidden=8)
        assert tiny.hidden == 8 and tiny.n_hidden_layers == 1   # overrides win, the rest is tiny
        with pytest.raises(TypeError):
            config.tiny(hidden=1.5)
