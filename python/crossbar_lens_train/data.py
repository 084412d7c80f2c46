"""Datasets for the fine-tune engine: scikit-learn digits, CIFAR-10 (binary or python-pickle layout),
a folder of IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST), an image folder (one subfolder per
class) and `.npz` files with `x` and `y`.

Images are held in memory as uint8 (or float32) N x C x H x W tensors and turned into float batches
on the fly, with the paper's CIFAR augmentation (random crop 32 with padding 4, horizontal flip) and
per-image standardization (docs/method.md §4.4) as options. User files are never unpickled with
plain pickle.load: CIFAR's python layout goes through a restricted unpickler that reconstructs only
dicts, lists, bytes and numpy arrays.
"""
from __future__ import annotations

import gzip
import importlib.util
import io
import os
import pickle
import re
import zlib
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .safe_pickle import find_numpy_class, numpy_core

DEBIAN_DIGITS_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
# Debian's dataset-fashion-mnist (the four official IDX files, gzipped); `--data fashion-mnist` names it.
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
NAMED_FOLDERS = {"fashion-mnist": (DEBIAN_FASHION_MNIST, "apt install dataset-fashion-mnist")}


def digits_csv() -> str:
    """scikit-learn's digits.csv.gz: Debian's python3-sklearn, else wherever this Python's sklearn is
    installed (found without importing it)."""
    if os.path.exists(DEBIAN_DIGITS_CSV):
        return DEBIAN_DIGITS_CSV
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = os.path.join(folder, "datasets", "data", "digits.csv.gz")
        if os.path.exists(candidate):
            return candidate
    return DEBIAN_DIGITS_CSV


class DatasetError(ValueError):
    """A dataset that cannot be read or does not fit (one line, names the file)."""


@dataclass
class ArrayDataset:
    """Images x (N, C, H, W; uint8 scaled by 1/255, or float32 as is) and int64 labels y."""

    x: torch.Tensor
    y: torch.Tensor
    name: str = ""

    def __post_init__(self) -> None:
        if self.x.dim() != 4:
            raise DatasetError(f"{self.name}: images must be N x C x H x W, got shape {tuple(self.x.shape)}")
        if self.x.shape[0] != self.y.shape[0]:
            raise DatasetError(f"{self.name}: {self.x.shape[0]} images but {self.y.shape[0]} labels")
        if self.x.shape[0] == 0:
            raise DatasetError(f"{self.name}: no images")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return int(self.y.max()) + 1

    def subset(self, index: np.ndarray, name: str) -> "ArrayDataset":
        idx = torch.as_tensor(index, dtype=torch.long)
        return ArrayDataset(self.x[idx], self.y[idx], name)


@dataclass
class Splits:
    train: ArrayDataset
    test: ArrayDataset
    source: str
    split: str  # 'official' or 'held-out <fraction>, seed <s>'


# ---- transforms ------------------------------------------------------------------------------------

@dataclass
class Transform:
    """Batch transform: scale to [0, 1], optional random crop + flip (train only), optional per-image standardization."""

    augment: bool = False
    crop_padding: int = 4
    standardize: bool = False

    def __call__(self, x: torch.Tensor, train: bool, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if train and self.augment:
            x = random_crop_flip(x, self.crop_padding, generator)
        if self.standardize:
            x = per_image_standardize(x)
        return x


def random_crop_flip(x: torch.Tensor, padding: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random crop of the original size from the zero-padded image, then a horizontal flip with p = 0.5."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :])  # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None, :])  # (n, w)
    flip = torch.rand(n, generator=generator) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n)[:, None, None, None]
    chan = torch.arange(c)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def per_image_standardize(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / max(std, 1/sqrt(N)), mean and std over all N = C*H*W values of each image (§4.4).

    The std is torch's default (unbiased), as REPO:custom_normalization_functions.py computes it."""
    n = x[0].numel()
    flat = x.reshape(x.shape[0], -1)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, keepdim=True).clamp(min=1.0 / np.sqrt(n))
    return ((flat - mean) / std).view_as(x)


# ---- split ------------------------------------------------------------------------------------------

def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split: per class, a seeded permutation; round(fraction * n_c) go to test."""
    if not 0 < test_fraction < 1:
        raise DatasetError(f"the held-out fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        if len(idx) > 1:
            n_test = min(max(n_test, 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# ---- readers ----------------------------------------------------------------------------------------

def load_digits(path: Optional[str] = None) -> ArrayDataset:
    """scikit-learn's 8x8 digits: 1797 rows of 64 pixels (0..16) then the label; images 1x8x8 scaled to [0, 1]."""
    path = path or digits_csv()
    try:
        with gzip.open(path, "rt") as f:
            data = np.loadtxt(f, delimiter=",", dtype=np.float64)
    except OSError as ex:
        raise DatasetError(f"{path}: cannot read the digits data ({ex})") from None
    if data.ndim != 2 or data.shape[1] != 65:
        raise DatasetError(f"{path}: expected rows of 64 pixels and a label, got shape {data.shape}")
    x = torch.from_numpy((data[:, :64] / 16.0).astype(np.float32)).view(-1, 1, 8, 8)
    y = torch.from_numpy(data[:, 64].astype(np.int64))
    return ArrayDataset(x, y, "digits")


_CIFAR_RECORD = 1 + 3072


def _cifar_binary(path: str) -> Tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise DatasetError(f"{path}: not a CIFAR-10 binary batch (size {raw.size} is not a multiple of {_CIFAR_RECORD})")
    rec = raw.reshape(-1, _CIFAR_RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DatasetError(f"{path}: label {labels.max()} > 9, not CIFAR-10")
    return rec[:, 1:].reshape(-1, 3, 32, 32), labels


class RestrictedUnpickler(pickle.Unpickler):
    """Only plain containers, bytes and numpy array reconstruction: anything else is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (numpy_core(module), name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        return find_numpy_class(super().find_class, module, name)



def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles of bytes made by Python 3 call _codecs.encode(str, 'latin1'); nothing else is allowed.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError("refused _codecs.encode with other arguments")
    return text.encode("latin1")


def restricted_load(path: str) -> Any:
    """Unpickles a user file with RestrictedUnpickler (encoding='bytes' for Python 2 CIFAR pickles)."""
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as ex:
            raise DatasetError(f"{path}: not a plain data pickle ({ex})") from None


def _cifar_pickle(path: str) -> Tuple[np.ndarray, np.ndarray]:
    obj = restricted_load(path)
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a dict with data and labels")
    get = lambda key: obj.get(key.encode(), obj.get(key))  # noqa: E731
    data, labels = get("data"), get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise DatasetError(f"{path}: expected 'data' (a numpy array) and 'labels'")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(f"{path}: 'data' must be uint8 N x 3072, got {data.dtype} {data.shape}")
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (data.shape[0],):
        raise DatasetError(f"{path}: {data.shape[0]} images but {y.size} labels")
    return data.reshape(-1, 3, 32, 32), y


def load_cifar10(root: str) -> Tuple[ArrayDataset, ArrayDataset]:
    """CIFAR-10 from a folder holding data_batch_1..5 + test_batch, as .bin (binary) or python pickles.

    `root` may also be the archive's top folder (cifar-10-batches-bin / -py inside).
    """
    for sub in ("", "cifar-10-batches-bin", "cifar-10-batches-py"):
        base = os.path.join(root, sub)
        if os.path.isfile(os.path.join(base, "data_batch_1.bin")):
            reader, suffix = _cifar_binary, ".bin"
            break
        if os.path.isfile(os.path.join(base, "data_batch_1")):
            reader, suffix = _cifar_pickle, ""
            break
    else:
        raise DatasetError(f"{root}: no CIFAR-10 data_batch_1(.bin) found (binary or python layout)")
    train_files = sorted(f for f in os.listdir(base) if f.startswith("data_batch_") and f.endswith(suffix)
                         and (suffix or "." not in f))
    parts = [reader(os.path.join(base, f)) for f in train_files]
    test_path = os.path.join(base, "test_batch" + suffix)
    if not os.path.isfile(test_path):
        raise DatasetError(f"{base}: test_batch{suffix} missing")
    tx, ty = reader(test_path)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return (ArrayDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y), "cifar10-train"),
            ArrayDataset(torch.from_numpy(np.ascontiguousarray(tx)), torch.from_numpy(ty), "cifar10-test"))


# ---- IDX (the MNIST format) ---------------------------------------------------------------------------

IDX_ROLES = ("train-images", "train-labels", "t10k-images", "t10k-labels")
# The official names, any prefix (EMNIST: emnist-letters-train-images-idx3-ubyte.gz), the dotted
# spelling of some MNIST mirrors (train-images.idx3-ubyte), plain or gzipped.
_IDX_NAME = re.compile(r"(?:^|[-_.])(train|t10k|test)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$")
_IDX_UBYTE = 0x08


def _idx_file_name(role: str) -> str:
    return f"{role}-idx{3 if role.endswith('images') else 1}-ubyte[.gz]"


def find_idx_files(root: str) -> Optional[Dict[str, str]]:
    """The four IDX files of a folder by role, or None when it holds none; one missing or two files
    for one role is an error naming them."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    found: Dict[str, List[str]] = {}
    for name in names:
        m = _IDX_NAME.search(name)
        if m and m.group(3) == ("3" if m.group(2) == "images" else "1") and os.path.isfile(os.path.join(root, name)):
            found.setdefault(("train" if m.group(1) == "train" else "t10k") + "-" + m.group(2), []).append(name)
    if not found:
        return None
    missing = [r for r in IDX_ROLES if r not in found]
    if missing:
        raise DatasetError(f"{root}: an IDX dataset needs four files; {' and '.join(map(_idx_file_name, missing))} "
                           f"{'is' if len(missing) == 1 else 'are'} missing")
    for role in IDX_ROLES:
        if len(found[role]) > 1:
            raise DatasetError(f"{root}: more than one {role} file ({', '.join(found[role])})")
    return {r: os.path.join(root, found[r][0]) for r in IDX_ROLES}


def read_idx(path: str, rank: int) -> np.ndarray:
    """One IDX file of unsigned bytes (plain or .gz) as a uint8 array of its dimensions.

    Header: two zero bytes, the type (0x08 = unsigned byte), the number of dimensions, then each
    dimension as a big-endian uint32; then exactly prod(dims) bytes. Every way a file can break this
    is one DatasetError naming the file."""
    compressed = False
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        if compressed:
            # gzip.decompress checks the CRC and the length trailer: a cut file is an EOFError.
            with open(path, "rb") as f:
                raw = gzip.decompress(f.read())
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except EOFError:
        raise DatasetError(f"{path}: truncated gzip (the compressed data ends before its end marker)") from None
    except (OSError, zlib.error) as ex:
        what = "not a valid gzip file" if isinstance(ex, (gzip.BadGzipFile, zlib.error)) else "cannot be read"
        raise DatasetError(f"{path}: {what} ({ex})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path}: not an IDX file (wrong magic {raw[:4].hex(' ') or 'empty'}; an IDX file starts 00 00 08 0N)")
    if raw[2] != _IDX_UBYTE:
        raise DatasetError(f"{path}: IDX data type 0x{raw[2]:02x}; image and label files hold unsigned bytes (0x08)")
    if raw[3] != rank:
        kind = "images (N x rows x columns)" if rank == 3 else "labels (N)"
        raise DatasetError(f"{path}: {raw[3]} dimensions in the IDX header; {kind} have {rank}")
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DatasetError(f"{path}: the IDX header is cut short ({len(raw)} bytes)")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    need, has = int(np.prod(dims, dtype=np.int64)), len(raw) - header
    if need != has:
        raise DatasetError(f"{path}: the dimensions {' x '.join(map(str, dims))} need {need} bytes of data but the "
                           f"file has {has}{' once decompressed' if compressed else ''}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_idx(root: str) -> Tuple[ArrayDataset, ArrayDataset]:
    """An IDX folder: train-images/-labels for training, t10k-images/-labels (the official test set) held out."""
    files = find_idx_files(root)
    if files is None:
        raise DatasetError(f"{root}: no IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                           "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])")
    sets = []
    shape = None
    for part in ("train", "t10k"):
        images = read_idx(files[f"{part}-images"], 3)
        labels = read_idx(files[f"{part}-labels"], 1)
        if labels.shape[0] != images.shape[0]:
            raise DatasetError(f"{files[f'{part}-labels']}: {labels.shape[0]} labels for the {images.shape[0]} "
                               f"images of {os.path.basename(files[f'{part}-images'])}")
        if images.shape[0] == 0:
            raise DatasetError(f"{files[f'{part}-images']}: no images")
        if shape is not None and images.shape[1:] != shape:
            raise DatasetError(f"{files[f'{part}-images']}: {images.shape[1]}x{images.shape[2]} images, but the "
                               f"training images are {shape[0]}x{shape[1]}")
        shape = images.shape[1:]
        name = os.path.basename(os.path.normpath(root)) + ("-train" if part == "train" else "-test")
        # uint8 N x 1 x H x W: a quarter of the float32 memory; batches are scaled by 1/255 as they are made.
        sets.append(ArrayDataset(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)), name))
    return sets[0], sets[1]


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _pil() -> Any:
    try:
        from PIL import Image  # type: ignore[import-not-found]
    except ImportError:
        raise DatasetError("image folders need Pillow (PIL), which this Python does not have; "
                           "use CIFAR-10 files or an .npz with x and y instead") from None
    return Image


def load_image_folder(root: str, channels: int = 3, size: Optional[Tuple[int, int]] = None,
                      classes: Optional[List[str]] = None) -> ArrayDataset:
    """One subfolder of PNG/JPEG images per class (sorted names = labels 0..). All images one size, or `size`."""
    image_mod = _pil()
    if classes is None:
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    if len(classes) < 2:
        raise DatasetError(f"{root}: an image folder needs one subfolder per class (found {len(classes)})")
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise DatasetError(f"{root}: image folders give 1 or 3 channels, the model wants {channels}")
    images, labels = [], []
    for label, cls in enumerate(classes):
        folder = os.path.join(root, cls)
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(_IMAGE_SUFFIXES)) if os.path.isdir(folder) else []
        for f in files:
            path = os.path.join(folder, f)
            try:
                with image_mod.open(path) as im:
                    im = im.convert(mode)
                    if size is not None:
                        im = im.resize((size[1], size[0]))
                    arr = np.asarray(im, dtype=np.uint8)
            except (OSError, ValueError) as ex:
                raise DatasetError(f"{path}: cannot read the image ({ex})") from None
            if images and arr.shape != images[0].shape:
                raise DatasetError(f"{path}: size {arr.shape[:2]} differs from {images[0].shape[:2]}; pass --image-size HxW")
            images.append(arr)
            labels.append(label)
    if not images:
        raise DatasetError(f"{root}: no .png/.jpg images in the class folders")
    x = np.stack(images)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return ArrayDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.array(labels, dtype=np.int64)),
                        os.path.basename(os.path.normpath(root)))


def _npz_arrays(path: str, xkey: str, ykey: str) -> Optional[ArrayDataset]:
    with np.load(path, allow_pickle=False) as z:
        if xkey not in z.files:
            return None
        if ykey not in z.files:
            raise DatasetError(f"{path}: has '{xkey}' but no '{ykey}'")
        x, y = z[xkey], z[ykey]
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise DatasetError(f"{path}: '{xkey}' must be N x C x H x W (or N x H x W), got shape {x.shape}")
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise DatasetError(f"{path}: '{ykey}' must hold integer class labels, got {y.dtype}")
    if y.ndim != 1 or (y.size and y.min() < 0):
        raise DatasetError(f"{path}: '{ykey}' must be a vector of labels >= 0")
    return ArrayDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)), f"{os.path.basename(path)}:{xkey}")


def load_npz(path: str) -> Tuple[ArrayDataset, Optional[ArrayDataset]]:
    """`.npz` with x (N x C x H x W, uint8 = 0..255 or float) and y (labels); optional x_test / y_test."""
    try:
        train = _npz_arrays(path, "x", "y")
        test = _npz_arrays(path, "x_test", "y_test")
    except (OSError, ValueError) as ex:
        if isinstance(ex, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read as .npz ({ex})") from None
    if train is None:
        raise DatasetError(f"{path}: an .npz dataset needs arrays 'x' and 'y'")
    return train, test


def open_dataset(spec: str, *, channels: int = 3, image_size: Optional[Tuple[int, int]] = None,
                 test_fraction: float = 0.2, split_seed: int = 0) -> Splits:
    """`digits`, `fashion-mnist` (Debian's dataset-fashion-mnist), a CIFAR-10 folder, a folder of IDX files, an
    image folder, or an .npz file; held-out split when there is no official test set."""
    test: Optional[ArrayDataset] = None
    if spec in NAMED_FOLDERS:
        folder, install = NAMED_FOLDERS[spec]
        if not os.path.isdir(folder):
            raise DatasetError(f"{spec}: not installed ({folder} does not exist; {install}, or give the folder of its IDX files)")
        train, test = load_idx(folder)
    elif spec == "digits":
        train = load_digits()
    elif spec.endswith(".npz") and os.path.isfile(spec):
        train, test = load_npz(spec)
    elif os.path.isdir(spec):
        if any(os.path.isfile(os.path.join(spec, s, f)) for s in ("", "cifar-10-batches-bin", "cifar-10-batches-py")
               for f in ("data_batch_1", "data_batch_1.bin")):
            train, test = load_cifar10(spec)
        elif find_idx_files(spec) is not None:
            train, test = load_idx(spec)
        elif os.path.isdir(os.path.join(spec, "train")) and os.path.isdir(os.path.join(spec, "test")):
            train = load_image_folder(os.path.join(spec, "train"), channels, image_size)
            classes = sorted(d for d in os.listdir(os.path.join(spec, "train")) if os.path.isdir(os.path.join(spec, "train", d)))
            test = load_image_folder(os.path.join(spec, "test"), channels, image_size, classes=classes)
        else:
            train = load_image_folder(spec, channels, image_size)
    elif not os.path.exists(spec):
        raise DatasetError(f"{spec}: no such dataset (use digits, fashion-mnist, a CIFAR-10 folder, a folder of IDX files, an image folder or an .npz)")
    else:
        raise DatasetError(f"{spec}: not a dataset this engine reads (digits, fashion-mnist, a CIFAR-10 folder, a folder of IDX files, an image folder or an .npz)")
    if test is not None:
        return Splits(train, test, spec, "official")
    tr, te = stratified_split(train.y.numpy(), test_fraction, split_seed)
    return Splits(train.subset(tr, train.name + "-train"), train.subset(te, train.name + "-heldout"), spec,
                  f"held-out {test_fraction:g} (stratified, seed {split_seed})")


# ---- batching -----------------------------------------------------------------------------------------

def epoch_order(n: int, *, train: bool, seed: int, epoch: int, rank: int = 0, world: int = 1) -> List[int]:
    """This rank's sample order for one epoch. Train: torch's DistributedSampler (shuffled by seed + epoch,
    padded to a multiple of `world` by wrapping), the same on 1 or N processes. Eval: a plain, unpadded
    rank::world shard, so every test image counts exactly once."""
    if not train:
        return list(range(rank, n, world))
    sampler = torch.utils.data.DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


def batches(ds: ArrayDataset, batch_size: int, transform: Transform, *, train: bool, seed: int = 0, epoch: int = 0,
            rank: int = 0, world: int = 1) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Batches of (float images, labels) in epoch_order; train batches augmented by a generator seeded per (seed, epoch, rank)."""
    order = torch.as_tensor(epoch_order(len(ds), train=train, seed=seed, epoch=epoch, rank=rank, world=world), dtype=torch.long)
    aug = torch.Generator().manual_seed(seed * 7_919 + epoch * 31 + rank + 1)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield transform(ds.x[idx], train, aug), ds.y[idx]
