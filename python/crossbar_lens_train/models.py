"""Models: the user's own factory (`module:function` or `path/to/file.py:function`), a torchvision
architecture, or the package's own CNNs (digits, Fashion-MNIST); and starting weights from a checkpoint.

Trust model: `--model` imports and runs the user's Python code in the user's own interpreter, as the
user asked. Checkpoints are read with torch.load through a restricted unpickler (safe_pickle.py:
tensors, plain containers, numbers, numpy arrays; torch 1.13's weights_only=True cannot read floats,
so it refuses most real checkpoints); `--trust-checkpoint` falls back to full unpickling of the user's
own file when it holds other objects. (The TypeScript side never calls torch.load on anything.)
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pickle
import sys
import warnings
from typing import Any, Dict, List, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn


class ModelError(ValueError):
    """A model or checkpoint problem, reported as one line."""


class DigitsCNN(nn.Module):
    """Three 3x3 convolutions (1 -> 16 -> 32 -> 32) and a linear classifier: examples/train_digits.py's model."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)   # 8x8, matrix 16 x 9
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)  # 8x8 -> 4x4 after pooling, matrix 32 x 144
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)  # 4x4 -> 2x2 after pooling, matrix 32 x 288
        self.fc = nn.Linear(32 * 2 * 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return self.fc(torch.flatten(x, 1))


def digits_cnn(num_classes: int = 10) -> nn.Module:
    return DigitsCNN(num_classes)


class FashionCNN(nn.Module):
    """A VGG-style CNN for 28x28x1 images (Fashion-MNIST, MNIST, KMNIST): blocks of 3x3 convolutions
    (no bias) with BatchNorm and ReLU, a 2x2 max-pool after each block, global average pooling and one
    linear classifier.

    Like VGG11 on CIFAR-10 in the paper, most crossbars sit in the wide, late convolutions that run on
    few pixels (here 3x3): they are cheap to train on a CPU and hold the redundancy D.U.B. removes."""

    WIDTHS = ((16,), (32, 32), (64, 64), (128, 128))

    def __init__(self, num_classes: int = 10, in_channels: int = 1, widths: Any = None) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        c = in_channels
        blocks = widths if widths is not None else self.WIDTHS
        for i, block in enumerate(blocks):
            for w in block:
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
            if i < len(blocks) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def fashion_cnn(num_classes: int = 10) -> nn.Module:
    return FashionCNN(num_classes)


def vgg11_cifar(num_classes: int = 10) -> nn.Module:
    """The paper's VGG11 for CIFAR-10 (REPO:custom_models_cifar_vgg.py): 8 convs 3x3 with bias, no BN, FC 512-512-classes."""
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers: List[nn.Module] = []
    c = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            c = int(v)
    return nn.Sequential(nn.Sequential(*layers), nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512),
                         nn.ReLU(), nn.Linear(512, num_classes))


def resnet18_cifar(num_classes: int = 10) -> nn.Module:
    """torchvision's ResNet18 with the CIFAR stem: a 3x3 first conv, no max-pool."""
    import torchvision
    m = torchvision.models.resnet18(num_classes=num_classes)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m


# The package's own architectures, chosen like torchvision's by name (`--torchvision fashion-cnn`).
PACKAGE_MODELS = {"digits-cnn": digits_cnn, "fashion-cnn": fashion_cnn}


def _import_target(spec: str) -> Any:
    if ":" not in spec:
        raise ModelError(f"--model '{spec}': expected module:function or path/to/file.py:function")
    target, func = spec.rsplit(":", 1)
    if target.endswith(".py") or os.sep in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise ModelError(f"--model: {target} does not exist")
        name = "crossbar_lens_user_" + os.path.splitext(os.path.basename(path))[0]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ModelError(f"--model: cannot import {target}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        sys.path.insert(0, os.path.dirname(path))
        try:
            loader_spec.loader.exec_module(module)
        finally:
            sys.path.remove(os.path.dirname(path))
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as ex:
            raise ModelError(f"--model: cannot import {target} ({ex})") from None
    factory = getattr(module, func, None)
    if factory is None or not callable(factory):
        raise ModelError(f"--model: {target} has no callable '{func}'")
    return factory


def build_model(model_spec: Optional[str] = None, torchvision_name: Optional[str] = None,
                num_classes: Optional[int] = None) -> nn.Module:
    """The user's factory (called with num_classes= when it takes that argument), a torchvision model, or one of
    PACKAGE_MODELS (digits-cnn, fashion-cnn)."""
    if (model_spec is None) == (torchvision_name is None):
        raise ModelError("give exactly one of --model module:function and --torchvision NAME")
    if torchvision_name is not None:
        if torchvision_name in PACKAGE_MODELS:
            return PACKAGE_MODELS[torchvision_name](num_classes or 10)
        import torchvision.models as tvm
        factory = getattr(tvm, torchvision_name, None)
        if factory is None or not callable(factory) or torchvision_name.startswith("_"):
            raise ModelError(f"--torchvision: torchvision has no model '{torchvision_name}'")
        kwargs = {"num_classes": num_classes} if num_classes else {}
        model = factory(**kwargs)
    else:
        assert model_spec is not None
        factory = _import_target(model_spec)
        try:
            takes = "num_classes" in inspect.signature(factory).parameters
        except (TypeError, ValueError):
            takes = False
        model = factory(num_classes=num_classes) if (takes and num_classes) else factory()
    if not isinstance(model, nn.Module):
        raise ModelError(f"the model factory returned {type(model).__name__}, not a torch.nn.Module")
    return model


_STATE_KEYS = ("model", "state_dict", "model_state_dict", "model_state", "net", "weights")


def extract_state_dict(obj: Any, path: str) -> Dict[str, torch.Tensor]:
    """A state dict from a checkpoint: the dict itself, or under model/state_dict/...; 'module.' prefixes dropped.

    A whole pickled model (torch.save(model), read as data by safe_pickle) gives its module tree's
    state_dict; torch.nn.utils.prune's X_orig/X_mask pairs become X = X_orig * X_mask."""
    from .safe_pickle import fold_prune_masks, is_module_record, module_state_dict
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    elif is_module_record(obj):
        obj = module_state_dict(obj)
    if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in _STATE_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
            if is_module_record(obj.get(key)):
                obj = module_state_dict(obj[key])
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path}: no state dict of tensors found (looked at the top level and {', '.join(_STATE_KEYS)})")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}
    state, folded = fold_prune_masks(state)
    if folded:
        sys.stderr.write(f"crossbar_lens_train: {path}: {', '.join(folded[:4])}{' …' if len(folded) > 4 else ''} "
                         "pruned with torch.nn.utils.prune: loaded as X_orig * X_mask\n")
    return state


def _restricted_torch_load(path: str) -> Any:
    """torch.load's own zip/legacy readers driven by safe_pickle's restricted Unpickler.

    torch.load(pickle_module=...) cannot be used: Debian's torch 1.13 replaces any pickle_module by
    the stock `pickle` unless weights_only=True, and weights_only=True cannot read floats. So the
    loader calls torch.serialization's internal readers directly (present from 1.6 to 2.x) and
    falls back to weights_only=True on a torch without them.
    """
    from . import safe_pickle
    ser = torch.serialization
    zip_reader = getattr(ser, "_open_zipfile_reader", None)
    load_zip = getattr(ser, "_load", None)
    load_legacy = getattr(ser, "_legacy_load", None)
    if zip_reader is None or load_zip is None or load_legacy is None or not hasattr(ser, "_is_zipfile"):
        return torch.load(path, map_location="cpu", weights_only=True)
    with open(path, "rb") as f:
        if ser._is_zipfile(f):
            with zip_reader(f) as zf:
                if "constants.pkl" in zf.get_all_records():
                    raise ModelError(f"{path}: a TorchScript archive, not a checkpoint with a state dict")
                return load_zip(zf, "cpu", safe_pickle, encoding="utf-8")
        with warnings.catch_warnings():
            # A legacy whole model names its classes with their source, which torch compares with the
            # class it would import; safe_pickle imports nothing, so there is nothing to compare.
            warnings.filterwarnings("ignore", message="Couldn't retrieve source code for container")
            return load_legacy(f, "cpu", safe_pickle, encoding="utf-8")


def load_checkpoint(path: str, trust: bool = False) -> Any:
    """A checkpoint read with a restricted unpickler (safe_pickle); `trust` = plain torch.load of the user's own file."""
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such file")
    if trust:
        return torch.load(path, map_location="cpu")
    try:
        return _restricted_torch_load(path)
    except ModelError:
        raise
    except pickle.UnpicklingError as ex:
        raise ModelError(f"{path}: holds objects other than tensors and plain data ({str(ex).splitlines()[-1]}); "
                         "if it is your own file, --trust-checkpoint loads it with full unpickling") from None
    except Exception as ex:  # truncated / not a checkpoint: torch raises RuntimeError, EOFError, ...
        first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        raise ModelError(f"{path}: cannot be read as a PyTorch checkpoint ({first})") from None


def load_weights(model: nn.Module, path: str, trust: bool = False) -> None:
    """Loads a checkpoint's state dict into the model, strictly; mismatches are one line."""
    state = extract_state_dict(load_checkpoint(path, trust), path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}{' …' if len(unexpected) > 3 else ''}")
        if wrong:
            k = wrong[0]
            parts.append(f"{k} is {tuple(state[k].shape)}, the model has {tuple(own[k].shape)}")
        raise ModelError(f"{path}: does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state, strict=True)
