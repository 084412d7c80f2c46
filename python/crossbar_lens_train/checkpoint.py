"""Atomic torch.save (temp file in the same folder, fsync, os.replace) and the resume checkpoint format.

The resume file is OUR OWN dict, readable with torch.load(weights_only=True): torch 1.13's safe
unpickler takes tensors, dicts, lists, strings and ints but no floats, so everything that is not a
tensor (optimizer hyper-parameters, scheduler state, metrics, the config) travels as one JSON string
with the tensors replaced by {"$t": index} into a plain list.
"""
from __future__ import annotations

import collections
import inspect
import json
import os
import tempfile
from typing import Any, Dict, List

import torch

FORMAT = "crossbar-lens-train/1"


class OutputExistsError(FileExistsError):
    pass


def atomic_save(obj: Any, path: str, *, force: bool = True) -> None:
    """torch.save to `path` through a temp file + os.replace, so a reader never sees a partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not force and os.path.exists(path):
        raise OutputExistsError(f"{path} exists; pass --force to replace it")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        # mkstemp makes the file 0600; give it the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _encode(obj: Any, tensors: List[torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors.append(obj.detach().cpu())
        return {"$t": len(tensors) - 1}
    if isinstance(obj, collections.Counter):
        return {"$counter": [[_encode(k, tensors), v] for k, v in obj.items()]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"$d": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a resume checkpoint")


def _decode(obj: Any, tensors: List[torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if set(obj) == {"$t"}:
            return tensors[obj["$t"]]
        if set(obj) == {"$tuple"}:
            return tuple(_decode(v, tensors) for v in obj["$tuple"])
        if set(obj) == {"$counter"}:
            return collections.Counter({_decode(k, tensors): v for k, v in obj["$counter"]})
        if set(obj) == {"$d"}:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["$d"]}
        return {k: _decode(v, tensors) for k, v in obj.items()}
    return obj


def pack(obj: Dict[str, Any]) -> Dict[str, Any]:
    tensors: List[torch.Tensor] = []
    meta = json.dumps(_encode(obj, tensors))
    return {"format": FORMAT, "meta": meta, "tensors": tensors}


def unpack(blob: Dict[str, Any]) -> Dict[str, Any]:
    return _decode(json.loads(blob["meta"]), blob["tensors"])


def load_own_checkpoint(path: str) -> Dict[str, Any]:
    """Our own resume file, read with weights_only=True (tensors, lists, dicts and strings only)."""
    kwargs = {"weights_only": True} if "weights_only" in inspect.signature(torch.load).parameters else {}
    try:
        blob = torch.load(path, map_location="cpu", **kwargs)
    except Exception as ex:
        raise ValueError(f"{path}: cannot read the resume checkpoint ({str(ex).splitlines()[0] if str(ex) else type(ex).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path}: not a crossbar-lens-train resume checkpoint")
    return _current_names(unpack(blob))


def _current_names(state: Dict[str, Any]) -> Dict[str, Any]:
    """Resume files written before the engine took the TypeScript phase names call phase 1 `train`,
    its last-epoch weights `phase1` and `--baseline-start regularized` `phase1`. They are read with
    today's names, so that a run interrupted under the old version still resumes."""
    if state.get("phase") == "train":
        state["phase"] = "regularize"
    if "phase1" in state:
        state["regularized"] = state.pop("phase1")
    results, config = state.get("results"), state.get("config")
    if isinstance(results, dict) and "train" in results:
        results["regularize"] = results.pop("train")
    if isinstance(config, dict) and config.get("baseline_start") == "phase1":
        config["baseline_start"] = "regularized"
    return state


def save_own_checkpoint(obj: Dict[str, Any], path: str) -> None:
    atomic_save(pack(obj), path)
