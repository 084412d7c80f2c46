"""The JSON-lines protocol on stdout: one object per line, only on rank 0, flushed at once.

Events: start, epoch, prune, checkpoint, stopped, done, error (see README.md in this folder).
Non-finite numbers are written as null (strict JSON).
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, IO, Optional


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


class Emitter:
    """Writes events as JSON lines; disabled on ranks other than 0."""

    def __init__(self, enabled: bool = True, stream: Optional[IO[str]] = None) -> None:
        self.enabled = enabled
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        stream = self.stream or sys.stdout
        stream.write(json.dumps(_clean({"event": event, **fields}), allow_nan=False, separators=(",", ":")) + "\n")
        stream.flush()


def log(message: str, enabled: bool = True) -> None:
    """Human-readable progress goes to stderr, so stdout stays pure JSON lines."""
    if enabled:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
