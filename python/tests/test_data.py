"""Datasets: digits, CIFAR-10 (binary and pickle layouts, restricted unpickler), image folders, .npz,
the held-out split, augmentation and per-image standardization."""
import os
import pickle

import numpy as np
import pytest
import torch

from crossbar_lens_train.data import (DatasetError, Transform, batches, epoch_order, load_cifar10, load_digits,
                                      load_image_folder, load_npz, open_dataset, per_image_standardize,
                                      random_crop_flip, restricted_load, stratified_split)


def test_digits():
    ds = load_digits()
    assert tuple(ds.x.shape) == (1797, 1, 8, 8)
    assert float(ds.x.min()) == 0.0 and float(ds.x.max()) == 1.0
    assert ds.num_classes == 10
    assert torch.bincount(ds.y).tolist()[:3] == [178, 182, 177]


def test_stratified_split_is_deterministic_and_stratified():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    tr1, te1 = stratified_split(y, 0.2, 7)
    tr2, te2 = stratified_split(y, 0.2, 7)
    assert np.array_equal(te1, te2) and np.array_equal(tr1, tr2)
    assert np.bincount(y[te1]).tolist() == [2, 4, 6, 8]
    assert len(np.intersect1d(tr1, te1)) == 0 and len(tr1) + len(te1) == len(y)
    _, te3 = stratified_split(y, 0.2, 8)
    assert not np.array_equal(te1, te3)


def test_open_digits_held_out():
    s = open_dataset("digits", test_fraction=0.2, split_seed=0)
    assert len(s.train) + len(s.test) == 1797 and abs(len(s.test) - 359) <= 2
    assert "held-out" in s.split


def _cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return labels, pixels


def test_cifar_binary(tmp_path):
    for name, n in [("data_batch_1.bin", 5), ("data_batch_2.bin", 4), ("test_batch.bin", 3)]:
        labels, pixels = _cifar_records(n, n)
        np.concatenate([labels[:, None], pixels], axis=1).tofile(tmp_path / name)
    train, test = load_cifar10(str(tmp_path))
    assert tuple(train.x.shape) == (9, 3, 32, 32) and train.x.dtype == torch.uint8
    labels, pixels = _cifar_records(3, 3)
    assert test.y.tolist() == labels.tolist()
    assert np.array_equal(test.x.numpy().reshape(3, -1), pixels)
    s = open_dataset(str(tmp_path))
    assert s.split == "official" and len(s.test) == 3


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_pickle_layout(tmp_path, protocol):
    for name, n in [("data_batch_1", 6), ("test_batch", 2)]:
        labels, pixels = _cifar_records(n, n)
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"batch_label": b"x", b"labels": labels.tolist(), b"data": pixels}, f, protocol=protocol)
    train, test = load_cifar10(str(tmp_path))
    assert tuple(train.x.shape) == (6, 3, 32, 32) and len(test) == 2


def test_cifar_pickle_from_numpy_2(tmp_path):
    # NumPy 2 names numpy._core.multiarray where NumPy 1 wrote numpy.core.multiarray; both must load.
    for name, n in [("data_batch_1", 4), ("test_batch", 2)]:
        labels, pixels = _cifar_records(n, n)
        blob = pickle.dumps({b"batch_label": b"x", b"labels": labels.tolist(), b"data": pixels}, protocol=2)
        other = blob.replace(b"numpy._core.", b"numpy.core.") if b"numpy._core." in blob else blob.replace(b"numpy.core.", b"numpy._core.")
        assert other != blob
        (tmp_path / name).write_bytes(other)
    train, test = load_cifar10(str(tmp_path))
    assert tuple(train.x.shape) == (4, 3, 32, 32) and len(test) == 2


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": _Evil(), b"labels": [1]}, f)
    with pytest.raises(DatasetError, match="refused global"):
        restricted_load(str(path))
    assert not (tmp_path / "PWNED").exists() and not os.path.exists("PWNED")
    (tmp_path / "test_batch").write_bytes(path.read_bytes())
    with pytest.raises(DatasetError, match="not a plain data pickle"):
        load_cifar10(str(tmp_path))


def test_npz(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (12, 3, 5, 5)).astype(np.uint8)
    y = np.arange(12) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    train, test = load_npz(str(tmp_path / "d.npz"))
    assert test is None and tuple(train.x.shape) == (12, 3, 5, 5)
    s = open_dataset(str(tmp_path / "d.npz"), test_fraction=0.25)
    assert len(s.test) == 3
    np.savez(tmp_path / "bad.npz", images=x)
    with pytest.raises(DatasetError, match="'x' and 'y'"):
        load_npz(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "obj.npz", x=np.array([object()], dtype=object), y=y)
    with pytest.raises(DatasetError):
        load_npz(str(tmp_path / "obj.npz"))


def test_image_folder(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(1)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (6, 7, 3)).astype(np.uint8)).save(tmp_path / cls / f"{i}.png")
    ds = load_image_folder(str(tmp_path), channels=3)
    assert tuple(ds.x.shape) == (6, 3, 6, 7) and ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    gray = load_image_folder(str(tmp_path), channels=1, size=(4, 4))
    assert tuple(gray.x.shape) == (6, 1, 4, 4)
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "dog" / "big.png")
    with pytest.raises(DatasetError, match="image-size"):
        load_image_folder(str(tmp_path))


def test_random_crop_flip_moves_pixels_only():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    g = torch.Generator().manual_seed(0)
    out = random_crop_flip(x, 2, g)
    assert out.shape == x.shape
    for i in range(2):
        vals = set(out[i].flatten().tolist()) - {0.0}
        assert vals <= set(x[i].flatten().tolist())  # crop of the zero-padded original
    # With padding 0 the only change is a possible horizontal flip.
    out0 = random_crop_flip(x, 0, torch.Generator().manual_seed(3))
    for i in range(2):
        assert torch.equal(out0[i], x[i]) or torch.equal(out0[i], x[i].flip(-1))


def test_per_image_standardization():
    x = torch.rand(4, 3, 32, 32)
    x[3] = 0.5  # constant image: std floored at 1/sqrt(3072)
    out = per_image_standardize(x)
    flat = out.view(4, -1)
    assert torch.allclose(flat[:3].mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(flat[:3].std(1), torch.ones(3), atol=1e-4)
    assert torch.count_nonzero(flat[3]) == 0
    y = torch.zeros(1, 1, 2, 2)
    y[0, 0, 0, 0] = 1.0
    got = per_image_standardize(y).flatten()
    mean, std = 0.25, 0.5  # unbiased std 0.5 = the floor 1/sqrt(4)
    assert torch.allclose(got, (torch.tensor([1.0, 0, 0, 0]) - mean) / std)
    z = torch.zeros(1, 1, 3, 3)
    z[0, 0, 0, 0] = 1.0  # unbiased std 1/3 < floor 1/sqrt(9): floored
    assert torch.allclose(per_image_standardize(z).flatten()[0], torch.tensor((1 - 1 / 9) / (1 / 3)))


def test_transform_scales_uint8_and_batches_cover_data():
    from crossbar_lens_train.data import ArrayDataset
    ds = ArrayDataset(torch.full((10, 1, 2, 2), 255, dtype=torch.uint8), torch.arange(10) % 2, "t")
    seen = []
    for x, y in batches(ds, 4, Transform(), train=True, seed=1, epoch=0):
        assert float(x.max()) == 1.0
        seen += y.tolist()
    assert len(seen) == 10
    a = epoch_order(10, train=True, seed=1, epoch=0, rank=0, world=2)
    b = epoch_order(10, train=True, seed=1, epoch=0, rank=1, world=2)
    assert sorted(a + b) == list(range(10))
    assert epoch_order(10, train=True, seed=1, epoch=1) != epoch_order(10, train=True, seed=1, epoch=0)
    assert epoch_order(5, train=False, seed=0, epoch=0, rank=1, world=2) == [1, 3]


def test_missing_dataset():
    with pytest.raises(DatasetError, match="no such dataset"):
        open_dataset("/nonexistent/folder")
