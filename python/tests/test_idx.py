"""IDX datasets (MNIST, Fashion-MNIST): the four files plain or gzipped, the official test set held out,
and one DatasetError line naming the file for every way a file can be malformed. The fixtures are
written by idx_fixtures.py; the Debian package is not needed."""
import gzip
import os

import numpy as np
import pytest
import torch
from idx_fixtures import idx_bytes, images_and_labels, write_idx_folder

from crossbar_lens_train import data as data_module
from crossbar_lens_train.data import DatasetError, Transform, batches, find_idx_files, load_idx, open_dataset, read_idx


def rejects(folder, path, problem):
    with pytest.raises(DatasetError) as info:
        load_idx(str(folder))
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    assert problem in message, message


@pytest.mark.parametrize("gz", [False, True])
def test_reads_plain_and_gzipped_with_the_official_test_set(tmp_path, gz):
    write_idx_folder(tmp_path, gz=gz)
    train, test = load_idx(str(tmp_path))
    assert tuple(train.x.shape) == (30, 1, 4, 3) and train.x.dtype == torch.uint8
    assert int(train.x[5, 0, 0, 2]) == (7 * 5 + 2) % 256
    assert test.y.tolist() == [i % 10 for i in range(10)]
    s = open_dataset(str(tmp_path), test_fraction=0.5)
    assert s.split == "official" and len(s.train) == 30 and len(s.test) == 10
    x, y = next(batches(s.train, 4, Transform(), train=False))
    assert x.dtype == torch.float32 and abs(float(x[1, 0, 0, 1]) - ((7 * 1 + 1) % 256) / 255) < 1e-7


def test_prefixed_and_dotted_names(tmp_path):
    paths = write_idx_folder(tmp_path)
    os.rename(paths["train-images"], tmp_path / "emnist-letters-train-images-idx3-ubyte")
    os.rename(paths["t10k-labels"], tmp_path / "t10k-labels.idx1-ubyte")
    assert find_idx_files(str(tmp_path))["train-images"] == str(tmp_path / "emnist-letters-train-images-idx3-ubyte")
    assert len(load_idx(str(tmp_path))[1]) == 10
    other = tmp_path / "other"
    other.mkdir()
    assert find_idx_files(str(other)) is None


def test_a_missing_file_is_named(tmp_path):
    paths = write_idx_folder(tmp_path)
    os.unlink(paths["t10k-labels"])
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\[\.gz\] is missing"):
        open_dataset(str(tmp_path))


def test_wrong_magic(tmp_path):
    a = tmp_path / "a"
    rejects(a, write_idx_folder(a, replace={"train-images": b"PK\x03\x04 not an IDX file"})["train-images"],
            "not an IDX file (wrong magic 50 4b 03 04")
    b = tmp_path / "b"
    rejects(b, write_idx_folder(b, gz=True, replace={"t10k-labels": idx_bytes([10], np.zeros(40), dtype_code=0x0D)})["t10k-labels"],
            "IDX data type 0x0d")
    c = tmp_path / "c"
    rejects(c, write_idx_folder(c, replace={"train-labels": images_and_labels(30)[0]})["train-labels"],
            "3 dimensions in the IDX header; labels (N) have 1")


@pytest.mark.parametrize("gz", [False, True])
def test_dimensions_that_disagree_with_the_file_size(tmp_path, gz):
    full = images_and_labels(30)[0]
    short, long = tmp_path / "short", tmp_path / "long"
    unzipped = " once decompressed" if gz else ""
    rejects(short, write_idx_folder(short, gz=gz, replace={"train-images": full[:-1]})["train-images"],
            f"the dimensions 30 x 4 x 3 need 360 bytes of data but the file has 359{unzipped}")
    rejects(long, write_idx_folder(long, gz=gz, replace={"train-images": full + b"\x01\x02"})["train-images"],
            f"need 360 bytes of data but the file has 362{unzipped}")


def test_a_header_claiming_billions_of_images(tmp_path):
    rejects(tmp_path, write_idx_folder(tmp_path, replace={"t10k-images": idx_bytes([0xFFFFFFFF, 28, 28], np.zeros(10))})["t10k-images"],
            "4294967295 x 28 x 28 need")


def test_a_label_count_that_differs_from_the_image_count(tmp_path):
    rejects(tmp_path, write_idx_folder(tmp_path, gz=True, replace={"train-labels": images_and_labels(29)[1]})["train-labels"],
            "29 labels for the 30 images of train-images-idx3-ubyte.gz")


def test_truncated_and_corrupt_gzip(tmp_path):
    paths = write_idx_folder(tmp_path, gz=True, train=300, rows=28, columns=28)
    whole = open(paths["train-images"], "rb").read()
    with open(paths["train-images"], "wb") as f:
        f.write(whole[:len(whole) // 2])
    rejects(tmp_path, paths["train-images"], "truncated gzip")
    bad = bytearray(gzip.compress(images_and_labels(30)[0]))
    bad[-6] ^= 0xFF  # the CRC no longer matches
    with open(paths["train-images"], "wb") as f:
        f.write(bytes(bad))
    rejects(tmp_path, paths["train-images"], "not a valid gzip file")


def test_test_images_of_another_size(tmp_path):
    rejects(tmp_path, write_idx_folder(tmp_path, replace={"t10k-images": images_and_labels(10, 5, 3)[0]})["t10k-images"],
            "5x3 images, but the training images are 4x3")


def test_the_named_fashion_mnist(tmp_path, monkeypatch):
    write_idx_folder(tmp_path / "fm", gz=True)
    monkeypatch.setitem(data_module.NAMED_FOLDERS, "fashion-mnist", (str(tmp_path / "fm"), "apt install dataset-fashion-mnist"))
    s = open_dataset("fashion-mnist")
    assert s.split == "official" and len(s.train) == 30
    monkeypatch.setitem(data_module.NAMED_FOLDERS, "fashion-mnist", (str(tmp_path / "absent"), "apt install dataset-fashion-mnist"))
    with pytest.raises(DatasetError, match="fashion-mnist: not installed .*apt install dataset-fashion-mnist"):
        open_dataset("fashion-mnist")


def test_read_idx_of_a_plain_label_file(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(idx_bytes([3], [1, 2, 3]))
    assert read_idx(str(path), 1).tolist() == [1, 2, 3]
