"""The checkpoint lecture 08 loads: plain data, models that rebuild, and what its script makes."""
import importlib.util
from dataclasses import asdict
from pathlib import Path

import torch

import arcourse
from arcourse.data import CharTokenizer, load_names

ROOT = Path(arcourse.__file__).parents[1]
CHECKPOINT = Path(arcourse.__file__).parent / "checkpoints" / "lecture08_models.pt"


def _script():
    spec = importlib.util.spec_from_file_location("make_lecture08", ROOT / "scripts" / "make_lecture08_checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checkpoint_is_small_plain_data_and_rebuilds_every_model():
    assert CHECKPOINT.stat().st_size < 5e6
    checkpoint = torch.load(CHECKPOINT, weights_only=True)  # no pickled objects
    script = _script()
    vocab_size = CharTokenizer.from_texts(load_names()).vocab_size
    configs = {**script.family_configs(vocab_size), **script.scaling_configs(vocab_size)}
    assert set(checkpoint["models"]) == set(configs)
    assert checkpoint["recipe"]["window"] == script.WINDOW
    for name, entry in checkpoint["models"].items():
        assert entry["config"] == asdict(configs[name]) and entry["kind"] == type(configs[name]).__name__
        model = script.build(configs[name])
        model.load_state_dict(entry["state_dict"])  # strict: every weight present, none extra
        assert 1 <= entry["best_step"] <= checkpoint["recipe"]["steps"]


def test_snapshotting_keeps_a_copy_per_evaluation():
    script = _script()
    model, snapshots = torch.nn.Linear(2, 1), []
    eval_batches = script.snapshotting(model, ["batch"], snapshots)
    assert eval_batches() == ["batch"]
    with torch.no_grad():
        model.weight.add_(1.0)
    eval_batches()
    assert len(snapshots) == 2
    torch.testing.assert_close(snapshots[1]["weight"], snapshots[0]["weight"] + 1)
