"""Lecture 10's shipped checkpoints: small, in the one schema, and every model loads with its recipe."""
import pytest
import torch

from arcourse import load_checkpoint
from arcourse.checkpoint import SHIPPED


@pytest.mark.parametrize("name, expected, figure", [
    ("lecture10_delay", {"lstm d=4", "cnn d=4", "gpt d=4", "lstm d=40", "cnn d=40", "gpt d=40"}, "validation_nll"),
    ("lecture10_shapes", {"plain", "gated", "gated_conditional"}, "test_bpd"),
])
def test_checkpoint_is_small_and_every_model_loads(name, expected, figure):
    path = SHIPPED / f"{name}.pt"
    assert path.stat().st_size < 5e6
    checkpoint = load_checkpoint(name)  # the schema's plain tensors and dicts only
    assert set(checkpoint.models) == expected and "steps" in checkpoint.extras["recipe"]
    for key, model in checkpoint.models.items():
        assert not model.training
        assert {figure, "seconds"} <= set(checkpoint.model_extras[key])


def test_the_conditional_shapes_model_reads_its_condition():
    models = load_checkpoint("lecture10_shapes").models
    assert models["gated_conditional"].config.n_conditions == 3 and models["gated"].config.n_conditions == 0
    images = torch.zeros(2, 1, 12, 12, dtype=torch.long)
    with torch.no_grad():
        a = models["gated_conditional"](images, condition=torch.tensor([0, 0]))
        b = models["gated_conditional"](images, condition=torch.tensor([1, 2]))
    assert not torch.allclose(a, b)
