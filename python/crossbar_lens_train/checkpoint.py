"""Atomic torch.save (temp file in the same folder, fsync, os.replace) and the resume checkpoint format."""
from __future__ import annotations

import inspect
import os
import tempfile
from typing import Any, Dict

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
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_own_checkpoint(path: str) -> Dict[str, Any]:
    """Our own resume file: plain containers and tensors, so weights_only=True reads it."""
    kwargs = {"weights_only": True} if "weights_only" in inspect.signature(torch.load).parameters else {}
    obj = torch.load(path, map_location="cpu", **kwargs)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path}: not a crossbar-lens-train resume checkpoint")
    return obj
