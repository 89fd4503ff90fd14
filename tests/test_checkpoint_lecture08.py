"""The checkpoint lecture 08 loads: plain data, models that rebuild, and what its script makes."""
import importlib.util
from pathlib import Path

import torch

import arcourse
from arcourse import load_checkpoint
from arcourse.checkpoint import SHIPPED, model_for
from arcourse.data import CharTokenizer, load_names

ROOT = Path(arcourse.__file__).parents[1]
CHECKPOINT = SHIPPED / "lecture08_models.pt"


def _script():
    spec = importlib.util.spec_from_file_location("make_lecture08", ROOT / "scripts" / "make_lecture08_checkpoints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checkpoint_is_small_plain_data_and_rebuilds_every_model():
    assert CHECKPOINT.stat().st_size < 5e6
    torch.load(CHECKPOINT, weights_only=True)  # no pickled objects
    checkpoint = load_checkpoint(CHECKPOINT)  # strict load_state_dict: every weight present, none extra
    script = _script()
    vocab_size = CharTokenizer.from_texts(load_names()).vocab_size
    configs = {**script.family_configs(vocab_size), **script.scaling_configs(vocab_size)}
    assert set(checkpoint.models) == set(configs)
    assert checkpoint.extras["recipe"]["window"] == script.WINDOW
    for name, model in checkpoint.models.items():
        assert model.config == configs[name] and type(model) is type(model_for(configs[name]))
        assert 1 <= checkpoint.model_extras[name]["best_step"] <= checkpoint.extras["recipe"]["steps"]


def test_keep_best_remembers_the_weights_of_the_lowest_loss():
    script = _script()
    model, best = torch.nn.Linear(2, 1), script.KeepBest()
    best(0, 2.0, model)
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    best(1, 3.0, model)  # worse: the copy stays
    assert best.step == 0 and best.loss == 2.0
    torch.testing.assert_close(best.state_dict["weight"], kept["weight"])
    best(2, 1.0, model)
    assert best.step == 2
    torch.testing.assert_close(best.state_dict["weight"], kept["weight"] + 1)
