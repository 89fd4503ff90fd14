"""Image data: scikit-learn digits as levels, quantisation, splits, batches, user arrays."""
import numpy as np
import pytest
import torch

from arcourse.data import ImageBatches, ImageData, load_digits, load_image_array, quantize_intensities, split_images


def test_digits_as_shipped():
    data = load_digits()
    assert data.images.shape == (1797, 1, 8, 8) and data.images.dtype == torch.int64
    assert data.levels == 17 and int(data.images.min()) == 0 and int(data.images.max()) == 16
    assert data.labels.shape == (1797,) and set(data.labels.tolist()) == set(range(10))
    assert data.shape == (1, 8, 8)


def test_digits_quantised_to_fewer_levels():
    full, binary, four = load_digits(), load_digits(2), load_digits(4)
    assert binary.levels == 2 and set(binary.images.unique().tolist()) == {0, 1}
    torch.testing.assert_close(binary.images, (full.images >= 9).long())  # bins 0..8 and 9..16
    assert set(four.images.unique().tolist()) == {0, 1, 2, 3}
    torch.testing.assert_close(four.images, full.images * 4 // 17)


def test_quantize_by_hand():
    values = np.array([0, 63, 64, 127, 128, 255])
    assert quantize_intensities(values, 255, 4).tolist() == [0, 0, 1, 1, 2, 3]
    assert quantize_intensities(values, 255, 256).tolist() == values.tolist()
    assert quantize_intensities(torch.tensor([[0, 1], [2, 3]]), 3, 2).tolist() == [[0, 0], [1, 1]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_value=255, levels=1), "levels must be an int in"),
    (dict(max_value=3, levels=5), "levels must be an int in"),
    (dict(max_value=0, levels=2), "max_value must be an int >= 1"),
])
def test_quantize_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        quantize_intensities(np.array([0, 1]), **kwargs)


def test_quantize_rejects_values_out_of_range():
    with pytest.raises(ValueError, match=r"values must lie in \[0, 3\]"):
        quantize_intensities(np.array([0, 4]), 3, 2)
    with pytest.raises(ValueError, match="values must lie"):
        quantize_intensities(np.array([-1, 2]), 3, 2)


def test_split_is_deterministic_disjoint_and_complete():
    data = load_digits()
    parts = split_images(data, (0.8, 0.1, 0.1), seed=3)
    assert [len(p) for p in parts] == [1438, 179, 180]
    again = split_images(data, (0.8, 0.1, 0.1), seed=3)
    for a, b in zip(parts, again):
        torch.testing.assert_close(a.images, b.images)
        torch.testing.assert_close(a.labels, b.labels)
    other = split_images(data, (0.8, 0.1, 0.1), seed=4)
    assert not torch.equal(parts[2].images, other[2].images)
    # every image lands in exactly one part: compare the multisets of (image, label) rows
    rows = lambda d: sorted(map(tuple, torch.cat([d.images.flatten(1), d.labels[:, None]], 1).tolist()))
    joined = ImageData(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]), 17)
    assert rows(joined) == rows(data)


def test_image_batches_cover_every_image_and_reshuffle():
    data = ImageData(torch.arange(10).view(10, 1, 1, 1) % 4, torch.arange(10), 4)
    batches = ImageBatches(data, 4, seed=1, with_labels=True)
    assert len(batches) == 3
    first = list(batches)
    assert [len(b[0]) for b in first] == [4, 4, 2]
    for images, targets, labels in first:
        torch.testing.assert_close(images, targets)        # the masks shift, not the data
        torch.testing.assert_close(images.view(-1), labels % 4)
    seen = torch.cat([b[2] for b in first])
    assert sorted(seen.tolist()) == list(range(10))
    second = torch.cat([b[2] for b in batches])
    assert sorted(second.tolist()) == list(range(10)) and not torch.equal(seen, second)
    fixed = [b[1] for b in ImageBatches(data, 4, shuffle=False)]
    torch.testing.assert_close(torch.cat(fixed), data.images)


def test_image_batches_reject_bad_arguments():
    data = ImageData(torch.zeros(3, 1, 2, 2, dtype=torch.long), None, 2)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        ImageBatches(data, 0)
    with pytest.raises(ValueError, match="no labels"):
        ImageBatches(data, 2, with_labels=True)
    with pytest.raises(ValueError, match="no images"):
        ImageBatches(data.subset([]), 2)


def test_image_data_validates():
    with pytest.raises(TypeError, match="int64 tensor of shape"):
        ImageData(torch.zeros(3, 2, 2), None, 2)
    with pytest.raises(ValueError, match=r"levels in \[0, 2\)"):
        ImageData(torch.full((1, 1, 2, 2), 2), None, 2)
    with pytest.raises(ValueError, match="levels must be an int >= 2"):
        ImageData(torch.zeros(1, 1, 2, 2, dtype=torch.long), None, 1)
    with pytest.raises(ValueError, match=r"labels must have shape \(1,\)"):
        ImageData(torch.zeros(1, 1, 2, 2, dtype=torch.long), torch.zeros(2, dtype=torch.long), 2)


def test_load_npy_greyscale_and_colour(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, size=(5, 6, 7), dtype=np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    data = load_image_array(tmp_path / "grey.npy", levels=16)
    assert data.images.shape == (5, 1, 6, 7) and data.levels == 16 and data.labels is None
    torch.testing.assert_close(data.images[:, 0], torch.as_tensor(grey.astype(np.int64) // 16))

    colour = np.random.default_rng(1).integers(0, 256, size=(4, 6, 7, 3), dtype=np.uint8)
    np.save(tmp_path / "colour.npy", colour)
    data = load_image_array(tmp_path / "colour.npy")
    assert data.images.shape == (4, 3, 6, 7)
    torch.testing.assert_close(data.images[2, 1], torch.as_tensor(colour[2, :, :, 1].astype(np.int64)))
    np.save(tmp_path / "planar.npy", colour.transpose(0, 3, 1, 2))
    planar = load_image_array(tmp_path / "planar.npy", channels_last=False)
    torch.testing.assert_close(planar.images, data.images)


def test_load_npz_with_keys_and_labels(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, size=(6, 4, 4)).astype(np.int32)
    y = np.arange(6)
    np.savez(tmp_path / "set.npz", x_train=x, y_train=y)
    data = load_image_array(tmp_path / "set.npz", levels=2, max_value=1, key="x_train", labels_key="y_train")
    torch.testing.assert_close(data.images[:, 0], torch.as_tensor(x.astype(np.int64)))
    torch.testing.assert_close(data.labels, torch.arange(6))
    np.savez(tmp_path / "one.npz", images=x)
    assert load_image_array(tmp_path / "one.npz", levels=2, max_value=1).images.shape == (6, 1, 4, 4)


def test_load_image_array_explains_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image array file"):
        load_image_array(tmp_path / "missing.npy")
    (tmp_path / "images.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="must be a .npy or .npz file"):
        load_image_array(tmp_path / "images.txt")
    np.save(tmp_path / "float.npy", np.zeros((2, 3, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="integer intensities"):
        load_image_array(tmp_path / "float.npy")
    np.save(tmp_path / "flat.npy", np.zeros((2, 9), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"shape \(N, H, W\) or \(N, H, W, C\)"):
        load_image_array(tmp_path / "flat.npy")
    np.save(tmp_path / "big.npy", np.full((2, 3, 3), 300, dtype=np.int64))
    with pytest.raises(ValueError, match=r"values must lie in \[0, 255\]"):
        load_image_array(tmp_path / "big.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="empty"):
        load_image_array(tmp_path / "empty.npy")
    with pytest.raises(ValueError, match="only apply to .npz"):
        load_image_array(tmp_path / "big.npy", key="x")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 3, 3), np.uint8), b=np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="holds several arrays"):
        load_image_array(tmp_path / "two.npz")
    with pytest.raises(ValueError, match="has no array 'c'"):
        load_image_array(tmp_path / "two.npz", key="a", labels_key="c")
    np.savez(tmp_path / "badlabels.npz", a=np.zeros((2, 3, 3), np.uint8), b=np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="labels must be 2 integers"):
        load_image_array(tmp_path / "badlabels.npz", key="a", labels_key="b")
