"""A restricted pickle module for torch.load(..., pickle_module=safe_pickle): tensors, storages,
plain containers, numbers, strings, numpy arrays/scalars, torch dtypes/devices/sizes and
OrderedDict, nothing else (no code from a checkpoint ever runs).

torch 1.13's own weights_only=True cannot read floats at all (no BINFLOAT opcode), so it refuses
almost every real training checkpoint (optimizer learning rates, accuracies); this unpickler supports
every opcode and restricts only the globals. torch's wrapper resolves storage classes itself.
"""
from __future__ import annotations

import io
import pickle
from typing import Any, IO

import torch

_ALLOWED = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.nn.parameter", "Parameter"),
    ("torch", "Tensor"),
    ("torch", "Size"),
    ("torch", "device"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
}


def numpy_core(module: str) -> str:
    """NumPy 2 pickles name numpy._core.* where NumPy 1 wrote numpy.core.*: one spelling for allow-lists."""
    return "numpy.core" + module[len("numpy._core"):] if module == "numpy._core" or module.startswith("numpy._core.") else module


def find_numpy_class(find: Any, module: str, name: str) -> Any:
    """find(module, name), trying the other NumPy spelling when this NumPy has only that one."""
    try:
        return find(module, name)
    except ImportError:
        other = numpy_core(module)
        if other == module and module.startswith("numpy.core"):
            other = "numpy._core" + module[len("numpy.core"):]
        if other == module:
            raise
        return find(other, name)


def _latin1(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError("refused _codecs.encode with other arguments")
    return text.encode("latin1")


class Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (numpy_core(module), name) in _ALLOWED:
            return find_numpy_class(super().find_class, module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def load(file: IO[bytes], **kwargs: Any) -> Any:
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    return Unpickler(io.BytesIO(data), **kwargs).load()


# torch.load reads these attributes of a pickle module.
Pickler = pickle.Pickler
UnpicklingError = pickle.UnpicklingError
HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
