"""Checkpoints: one schema for every kind, round trips, shipped files, clear errors."""
import pytest
import torch

from arcourse import load_checkpoint, save_checkpoint
from arcourse.checkpoint import KINDS, SHIPPED
from arcourse.models import (
    GPT,
    BigramConfig,
    BigramLM,
    CharRNN,
    CharRNNConfig,
    GatedPixelCNN,
    GatedPixelCNNConfig,
    GPTConfig,
    PixelCNN,
    PixelCNNConfig,
    WaveNet,
    WaveNetConfig,
)

MODELS = {
    "bigram": lambda: BigramLM(BigramConfig(5)),
    "char_rnn": lambda: CharRNN(CharRNNConfig.tiny(vocab_size=5)),
    "gpt": lambda: GPT(GPTConfig.tiny(vocab_size=5, context_len=8, d_model=16)),
    "wavenet": lambda: WaveNet(WaveNetConfig.tiny(vocab_size=5, n_conditions=2)),
    "pixelcnn": lambda: PixelCNN(PixelCNNConfig.tiny(vocab_size=3)),
    "gated": lambda: GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=3, n_conditions=2)),
}


def _inputs(name):
    if name in ("pixelcnn", "gated"):
        return torch.randint(0, 3, (2, 1, 3, 3))
    return torch.randint(0, 5, (2, 6))


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_gives_the_same_model(name, tmp_path):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    path = save_checkpoint(tmp_path / f"{name}.pt", model, steps=3, note="x")
    saved = torch.load(path, weights_only=True)  # plain values only: no pickled objects
    assert set(saved) == {"models", "extras"} and set(saved["models"]["model"]) == {"kind", "config", "state_dict",
                                                                                     "extras"}
    checkpoint = load_checkpoint(path)
    again = checkpoint.model
    assert checkpoint.extras == {"steps": 3, "note": "x"} and not again.training
    x = _inputs(name)
    condition = torch.tensor([0, 1]) if name in ("wavenet", "gated") else None
    args = () if condition is None else (condition,)
    torch.testing.assert_close(again(x, *args), model(x, *args))


def test_several_models_in_one_file(tmp_path):
    models = {"a": MODELS["gpt"](), "b": MODELS["char_rnn"]()}
    save_checkpoint(tmp_path / "two.pt", models, model_extras={"a": {"best_step": 7}}, recipe={"lr": 0.1})
    checkpoint = load_checkpoint(tmp_path / "two.pt")
    assert sorted(checkpoint.models) == ["a", "b"] and checkpoint.model_extras == {"a": {"best_step": 7}, "b": {}}
    assert checkpoint.extras == {"recipe": {"lr": 0.1}}
    with pytest.raises(ValueError, match="holds 2 models"):
        checkpoint.model
    with pytest.raises(ValueError, match="not saved"):
        save_checkpoint(tmp_path / "x.pt", models, model_extras={"c": {}})


def test_registry_covers_every_shipped_file():
    files = sorted(SHIPPED.glob("*.pt"))
    assert files
    for path in files:
        assert path.stat().st_size <= 5 * 2**20, path.name  # the course's 5 MB limit
        saved = torch.load(path, weights_only=True)
        assert {entry["kind"] for entry in saved["models"].values()} <= set(KINDS), path.name
        for model in load_checkpoint(path.stem).models.values():
            assert not model.training


def test_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="shipped ones are"):
        load_checkpoint("no_such_checkpoint")
    torch.save({"config": {}, "state_dict": {}}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="not an arcourse checkpoint"):
        load_checkpoint(tmp_path / "old.pt")
    torch.save({"models": {"model": {"kind": "Nope", "config": {}, "state_dict": {}}}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="kind must be one of"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(TypeError, match="knows the kinds"):
        save_checkpoint(tmp_path / "x.pt", torch.nn.Linear(2, 2))
