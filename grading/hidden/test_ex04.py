"""Hidden checks for exercise 04: rectangular kernels' neighbours (7 and 9 with colour
groups), many levels for bits per dimension, and one-level-certain models for sampling."""
import itertools
import math

import torch

from arcourse.grading.api import check_close, points, question
from arcourse.metrics import nll
from arcourse.models import GatedPixelCNN, GatedPixelCNNConfig, pixelcnn_mask


@question("make_mask")
class TestMakeMaskHidden:
    @points(1)
    def test_large_kernels_with_colour_groups(self, student):
        for k, kind in itertools.product((7, 9), "AB"):
            args = (k, kind, 6, 9, 3)
            got = torch.as_tensor(student.make_mask(*args)).float()
            check_close(got, pixelcnn_mask(*args), f"make_mask{args}")


@question("image_bits_per_dim")
class TestBitsPerDimHidden:
    @points(1)
    def test_many_levels(self, student):
        gen = torch.Generator().manual_seed(41)
        logits = torch.randn(3, 1, 2, 2, 256, generator=gen)
        images = torch.randint(0, 256, (3, 1, 2, 2), generator=gen)
        want = nll(logits, images, reduction="none").sum((1, 2, 3)) / (4 * math.log(2))
        check_close(student.image_bits_per_dim(logits, images), want, "image_bits_per_dim with 256 levels", atol=1e-5)


@question("sample_pixels")
class TestSamplePixelsHidden:
    @points(1)
    def test_certain_model_gives_its_level(self, student):
        torch.manual_seed(0)
        model = GatedPixelCNN(GatedPixelCNNConfig.tiny(vocab_size=3)).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
            model.head[-1].bias.copy_(torch.tensor([-30.0, 30.0, -30.0]))     # one colour, 3 levels
        images = torch.zeros(4, 1, 3, 3, dtype=torch.long)
        out = torch.as_tensor(student.sample_pixels(model, images, torch.zeros_like(images, dtype=torch.bool),
                                                    1.0, 0))
        assert (out == 1).all(), f"a model certain of level 1 should give all ones, got {out[0].tolist()}"
