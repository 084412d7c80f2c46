"""The JSON-lines protocol on stdout: one object per line, only on rank 0, flushed at once.

Events: start, epoch, prune, checkpoint, stopped, done, error (see README.md in this folder).
Non-finite numbers are written as null (strict JSON). `--events-file PATH` appends the same lines to a
file as well, flushed per line: the extension runs the engine as a VS Code task whose stdout goes to a
terminal, and tails that file for the events.
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, IO, Optional

_events_file: Optional[IO[str]] = None


def open_events_file(path: str) -> None:
    """Also append every event line to `path` (line-buffered: a reader tailing it sees whole lines)."""
    global _events_file
    close_events_file()
    _events_file = open(path, "a", encoding="utf-8", buffering=1)


def close_events_file() -> None:
    global _events_file
    if _events_file is not None:
        _events_file.close()
        _events_file = None


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
        line = json.dumps(_clean({"event": event, **fields}), allow_nan=False, separators=(",", ":")) + "\n"
        stream = self.stream or sys.stdout
        stream.write(line)
        stream.flush()
        if _events_file is not None and self.stream is None:
            _events_file.write(line)
            _events_file.flush()


def log(message: str, enabled: bool = True) -> None:
    """Human-readable progress goes to stderr, so stdout stays pure JSON lines."""
    if enabled:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
