"""A restricted pickle module for torch.load(..., pickle_module=safe_pickle): tensors, storages,
plain containers, numbers, strings, numpy arrays/scalars, torch dtypes/devices/sizes and
OrderedDict, nothing else (no code from a checkpoint ever runs).

torch 1.13's own weights_only=True cannot read floats at all (no BINFLOAT opcode), so it refuses
almost every real training checkpoint (optimizer learning rates, accuracies); this unpickler supports
every opcode and restricts only the globals. torch's wrapper resolves storage classes itself.

A whole pickled model (torch.save(model)) is read as data: every other global becomes an inert
stand-in class (nothing is imported). Instantiating it (NEWOBJ, how objects are pickled) gives a
Record holding its BUILD state; calling it (REDUCE, how a hostile pickle runs code) is refused.
module_state_dict() then takes a module Record's weights from its _parameters/_buffers/_modules.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
from typing import Any, Dict, IO, List, Optional, Tuple

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


class Record:
    """An instance of a class that was not imported: its qualified name and BUILD state, nothing else.

    It has no methods a caller could reach (no __getattr__, no __reduce__), and its state is kept
    in one slot rather than set as attributes, so a pickle cannot give it behaviour."""

    __slots__ = ("qualname", "state")

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<record {self.qualname}>"


class _InertMeta(type):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # REDUCE: the pickle asks to call the class. That is how a hostile pickle runs code.
        raise pickle.UnpicklingError(f"refused global {cls.qualname}")


def _inert_class(module: str, name: str) -> type:
    def new(cls: Any, *args: Any, **kwargs: Any) -> Record:
        return Record(cls.qualname)
    return _InertMeta(name, (), {"qualname": f"{module}.{name}", "__new__": new, "__module__": "crossbar_lens_train.safe_pickle"})


class Unpickler(pickle.Unpickler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inert: Dict[Tuple[str, str], type] = {}

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles keep Python 2 names (__builtin__.set); map them as pickle's own find_class
        # does (it checks the protocol, which the C unpickler does not expose; no Python 3 module has these names).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (numpy_core(module), name) in _ALLOWED:
            return find_numpy_class(super().find_class, module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        key = (module, name)
        if key not in self._inert:
            self._inert[key] = _inert_class(module, name)
        return self._inert[key]


def is_module_record(obj: Any) -> bool:
    """A Record built from a pickled torch.nn.Module: BUILD gave it _parameters and _modules."""
    return isinstance(obj, Record) and isinstance(obj.state, dict) and isinstance(obj.state.get("_parameters"), dict) \
        and isinstance(obj.state.get("_modules"), dict)


def module_state_dict(record: Record, prefix: str = "", out: Optional[Dict[str, torch.Tensor]] = None,
                      depth: int = 0) -> Dict[str, torch.Tensor]:
    """The state_dict() a pickled module would give: its parameters, persistent buffers, then its children's."""
    out = collections.OrderedDict() if out is None else out
    state = record.state
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for key, value in (state.get(group) or {}).items():
            if isinstance(value, torch.Tensor) and not (group == "_buffers" and key in skip):
                out[prefix + str(key)] = value.detach()
    if depth < 64:
        for key, child in state["_modules"].items():
            if is_module_record(child):
                module_state_dict(child, f"{prefix}{key}.", out, depth + 1)
    return out


def fold_prune_masks(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """torch.nn.utils.prune's X_orig and X_mask as the X = X_orig * X_mask the model's forward uses.

    Returns the new state (X at the place of X_orig, the masks dropped) and the names folded."""
    pairs = {key[:-len("_orig")] for key, value in state.items()
             if key.endswith("_orig") and key[:-len("_orig")] not in state
             and isinstance(state.get(key[:-len("_orig")] + "_mask"), torch.Tensor)
             and state[key[:-len("_orig")] + "_mask"].shape == value.shape}
    out: Dict[str, torch.Tensor] = collections.OrderedDict()
    for key, value in state.items():
        if key.endswith("_orig") and key[:-len("_orig")] in pairs:
            base = key[:-len("_orig")]
            out[base] = value * state[base + "_mask"]
        elif not (key.endswith("_mask") and key[:-len("_mask")] in pairs):
            out[key] = value
    return out, [key for key in out if key in pairs]


def load(file: IO[bytes], **kwargs: Any) -> Any:
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    return Unpickler(io.BytesIO(data), **kwargs).load()


# torch.load reads these attributes of a pickle module.
Pickler = pickle.Pickler
UnpicklingError = pickle.UnpicklingError
HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
